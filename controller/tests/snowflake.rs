//! Snowflake: check → report → consent, through a fake node's admin API and a fake client
//! that answers the commands; relay paths (downlink check, downlink install before consent);
//! new candidates → new checks and a new consent; history recorded per client network.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use newmedia_client::signaling::SignalingEvent;
use newmedia_proto::signaling::rest::{CreateConference, KeyMode};
use newmedia_proto::signaling::{
    Address, CandidateKind, CheckCommand, CheckReceived, HexSecret, HexTransactionId,
};

async fn conference(c: &newmedia_controller::RunningController, parties: &[&str]) -> u64 {
    app(c)
        .create_conference(&CreateConference {
            parties: parties.iter().map(|s| s.to_string()).collect(),
            simulcast: false,
            keys: KeyMode::Value,
            aead: None,
            wait: false,
        })
        .await
        .unwrap()
        .conference_id
}

async fn next_check(tc: &mut TestClient) -> CheckCommand {
    next_where(&mut tc.ws, |e| match e {
        SignalingEvent::Check(c) => Some(c),
        _ => None,
    })
    .await
}

/// The node reports an uplink check (as the real SFU does after opening it).
async fn node_reports(
    c: &newmedia_controller::RunningController,
    node: &str,
    check: &CheckCommand,
    observed: &str,
    secret: &HexSecret,
) {
    let body = serde_json::json!({"checks": [{
        "from": observed,
        "to": check.to.as_str(),
        "transactionID": check.transaction_id.to_string(),
        "senderSecret": secret.to_string(),
    }]});
    let r = reqwest::Client::new()
        .post(format!("{}/v1/nodes/{node}/checks", c.url()))
        .bearer_auth(API_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn uplink_check_report_consent() {
    let c = controller().await;
    let node = FakeNode::start("sfu-1", "127.0.0.1:4433").await;
    register(&c, &node.registration(10, None)).await;
    let mut alice = client(&c, "alice", 1).await;
    let id = conference(&c, &["alice"]).await;
    let p = next_proposal(&mut alice.ws).await;
    alice.ws.accept(&p.proposal_id).unwrap();

    let check = next_check(&mut alice).await;
    assert_eq!(check.conference_id, id);
    assert_eq!(check.from.as_str(), "127.0.0.1:40001");
    assert_eq!(check.to.as_str(), "127.0.0.1:4433");
    assert_eq!(check.stun_secret, "node-stun-secret");

    // A report with another transaction ID is ignored; the right one consents.
    let secret = HexSecret(vec![7; 16]);
    let wrong = CheckCommand {
        transaction_id: HexTransactionId([9; 12]),
        ..check.clone()
    };
    node_reports(&c, "sfu-1", &wrong, "127.0.0.1:40001", &secret).await;
    node_reports(&c, "sfu-1", &check, "127.0.0.1:40001", &secret).await;
    let consent = next_where(&mut alice.ws, |e| match e {
        SignalingEvent::Consent(c) => Some(c),
        _ => None,
    })
    .await;
    assert_eq!(consent.check_id, check.check_id);
    assert!(consent.sender_secret.constant_time_eq(&secret));
    assert_eq!(consent.observed.as_str(), "127.0.0.1:40001");

    let state = app(&c).conference(id).await.unwrap();
    assert_eq!(
        state.parties[0].consented.as_deref(),
        Some("127.0.0.1:40001 -> 127.0.0.1:4433")
    );
    // The success is in the client network's history, under its candidate-type pair.
    let history = c.service.store.history("v4:127.0.0.0/24").await.unwrap();
    assert_eq!(history["local>local"].successes, 1);

    // A network switch: new candidates, new check, new consent (the SDK migrates).
    alice
        .ws
        .advertise(
            Some("alice"),
            &fingerprint(1),
            advertisement(&[candidate(CandidateKind::Local, "127.0.0.2:41000", "cs1")]),
        )
        .unwrap();
    let check2 = next_check(&mut alice).await;
    assert_eq!(check2.from.as_str(), "127.0.0.2:41000");
    assert_ne!(check2.transaction_id, check.transaction_id);
    let secret2 = HexSecret(vec![8; 16]);
    node_reports(&c, "sfu-1", &check2, "127.0.0.2:41000", &secret2).await;
    let consent2 = next_where(&mut alice.ws, |e| match e {
        SignalingEvent::Consent(c) => Some(c),
        _ => None,
    })
    .await;
    assert_eq!(consent2.check_id, check2.check_id);
    assert!(consent2.sender_secret.constant_time_eq(&secret2));
    c.shutdown().await;
}

#[tokio::test]
async fn relay_path_installs_the_downlink_before_consent() {
    let c = controller().await;
    let mut node = FakeNode::start("sfu-1", "127.0.0.1:4433").await;
    register(&c, &node.registration(10, Some("127.0.0.1:4434"))).await;
    // Only a relay and a reflexive candidate.
    let mut alice = client_at(
        &c,
        "alice",
        1,
        &[
            candidate(CandidateKind::Relay, "127.0.0.9:50000", "relay-secret"),
            candidate(CandidateKind::Stun, "127.0.0.1:40001", "cs1"),
        ],
    )
    .await;
    // Hello registered the fingerprint with the node's relay, and welcome names it.
    let fp = node
        .next_call(|c| match c {
            NodeCall::RelayFingerprint(fp) => Some(fp),
            _ => None,
        })
        .await;
    assert_eq!(fp, fingerprint(1));
    assert_eq!(alice.welcome.relays.len(), 1);
    assert_eq!(alice.welcome.relays[0].service.as_str(), "127.0.0.1:4434");

    conference(&c, &["alice"]).await;
    let p = next_proposal(&mut alice.ws).await;
    alice.ws.accept(&p.proposal_id).unwrap();

    // Two paths: the reflexive one and the relay one (uplink from the reflexive base). A
    // client with a relay gets a downlink check on its direct path too (below).
    let downlink = node
        .next_call(|c| match c {
            NodeCall::Check(cmd) if cmd.to.as_str() == "127.0.0.9:50000" => Some(cmd),
            _ => None,
        })
        .await;
    assert_eq!(downlink.to.as_str(), "127.0.0.9:50000");
    assert_eq!(downlink.stun_secret, "relay-secret");
    let checks = [next_check(&mut alice).await, next_check(&mut alice).await];
    let path = downlink.check_id.trim_end_matches(".d");
    let relay_uplink = checks
        .into_iter()
        .find(|c| c.check_id == format!("{path}.u"))
        .expect("the relay path's uplink check");
    assert_eq!(relay_uplink.from.as_str(), "127.0.0.1:40001");

    // The uplink of the relay path is reported first: no consent yet (downlink pending).
    let up_secret = HexSecret(vec![1; 16]);
    node_reports(&c, "sfu-1", &relay_uplink, "127.0.0.1:40001", &up_secret).await;
    // The client reports the downlink check relayed to it.
    let down_secret = HexSecret(vec![2; 16]);
    alice
        .ws
        .check_received(CheckReceived {
            from: Address::parse("127.0.0.1:4433").unwrap(),
            to: Address::parse("127.0.0.9:50000").unwrap(),
            transaction_id: HexTransactionId([3; 12]),
            sender_secret: down_secret.clone(),
        })
        .unwrap();
    let installed = node
        .next_call(|c| match c {
            NodeCall::Downlink(d) => Some(d),
            _ => None,
        })
        .await;
    assert_eq!(installed.check_id, downlink.check_id);
    assert!(installed.sender_secret.constant_time_eq(&down_secret));
    assert_eq!(installed.observed.as_str(), "127.0.0.1:40001");
    let consent = next_where(&mut alice.ws, |e| match e {
        SignalingEvent::Consent(c) => Some(c),
        _ => None,
    })
    .await;
    assert_eq!(consent.check_id, relay_uplink.check_id);
    assert!(consent.sender_secret.constant_time_eq(&up_secret));

    // A report matching no check is an error the client hears of.
    alice
        .ws
        .check_received(CheckReceived {
            from: Address::parse("127.0.0.1:9").unwrap(),
            to: Address::parse("127.0.0.9:50000").unwrap(),
            transaction_id: HexTransactionId([3; 12]),
            sender_secret: down_secret,
        })
        .unwrap();
    let err = next_where(&mut alice.ws, |e| match e {
        SignalingEvent::Error(e) => Some(e),
        _ => None,
    })
    .await;
    assert_eq!(err.code, "unknown_check");
    c.shutdown().await;
}

/// A conference of `alice` alone, her proposal accepted; returns the checks the controller
/// ordered of her (uplinks) and of the node (downlinks), `paths` of each.
async fn relay_client_round(
    c: &newmedia_controller::RunningController,
    node: &mut FakeNode,
    alice: &mut TestClient,
    paths: usize,
) -> (
    u64,
    Vec<CheckCommand>,
    Vec<newmedia_proto::signaling::rest::NodeCheckCommand>,
) {
    let id = conference(c, &["alice"]).await;
    let p = next_proposal(&mut alice.ws).await;
    alice.ws.accept(&p.proposal_id).unwrap();
    let mut downlinks = Vec::new();
    while downlinks.len() < paths {
        downlinks.push(
            node.next_call(|c| match c {
                NodeCall::Check(cmd) => Some(cmd),
                _ => None,
            })
            .await,
        );
    }
    let mut uplinks = Vec::new();
    while uplinks.len() < paths {
        uplinks.push(next_check(alice).await);
    }
    (id, uplinks, downlinks)
}

/// The client reports a downlink check it received.
fn client_reports(alice: &TestClient, from: &str, to: &str, secret: &HexSecret) {
    alice
        .ws
        .check_received(CheckReceived {
            from: Address::parse(from).unwrap(),
            to: Address::parse(to).unwrap(),
            transaction_id: HexTransactionId([5; 12]),
            sender_secret: secret.clone(),
        })
        .unwrap();
}

/// The node calls up to the next `DeleteConference` (ending the conference is the barrier
/// that shows what the node was asked before).
async fn calls_until_end(
    c: &newmedia_controller::RunningController,
    node: &mut FakeNode,
    id: u64,
) -> Vec<NodeCall> {
    app(c).end(id).await.unwrap();
    let mut calls = Vec::new();
    node.next_call(|call| match call {
        NodeCall::DeleteConference(_) => Some(()),
        other => {
            calls.push(other);
            None
        }
    })
    .await;
    calls
}

#[tokio::test]
async fn a_relay_clients_direct_path_is_consented_only_after_its_downlink_check() {
    let c = controller().await;
    let mut node = FakeNode::start("sfu-1", "127.0.0.1:4433").await;
    register(&c, &node.registration(10, Some("127.0.0.1:4434"))).await;
    let mut alice = client_at(
        &c,
        "alice",
        1,
        &[
            candidate(CandidateKind::Local, "127.0.0.1:40001", "cs1"),
            candidate(CandidateKind::Relay, "127.0.0.9:50000", "relay-secret"),
        ],
    )
    .await;
    let (id, uplinks, downlinks) = relay_client_round(&c, &mut node, &mut alice, 2).await;
    // The direct path's downlink check goes to the client's own candidate, under its secret.
    let direct = downlinks
        .iter()
        .find(|d| d.to.as_str() == "127.0.0.1:40001")
        .expect("a downlink check on the direct path");
    assert_eq!(direct.stun_secret, "cs1");
    let direct_path = direct.check_id.trim_end_matches(".d");
    let direct_up = uplinks
        .iter()
        .find(|u| u.check_id == format!("{direct_path}.u"))
        .unwrap();

    // The node saw the uplink check, but the client never received the node's: no consent.
    let up_secret = HexSecret(vec![1; 16]);
    node_reports(&c, "sfu-1", direct_up, "127.0.0.1:40001", &up_secret).await;
    // Once the client reports the direct downlink check, the direct path is consented, and
    // the node is not asked to redirect anything.
    client_reports(
        &alice,
        "127.0.0.1:4433",
        "127.0.0.1:40001",
        &HexSecret(vec![2; 16]),
    );
    let consent = next_where(&mut alice.ws, |e| match e {
        SignalingEvent::Consent(c) => Some(c),
        _ => None,
    })
    .await;
    assert_eq!(consent.check_id, direct_up.check_id);
    assert!(consent.sender_secret.constant_time_eq(&up_secret));
    let calls = calls_until_end(&c, &mut node, id).await;
    assert!(
        !calls.iter().any(|c| matches!(c, NodeCall::Downlink(_))),
        "{calls:?}"
    );
    c.shutdown().await;
}

#[tokio::test]
async fn a_relay_path_completing_after_consent_installs_no_downlink() {
    let c = controller().await;
    let mut node = FakeNode::start("sfu-1", "127.0.0.1:4433").await;
    register(&c, &node.registration(10, Some("127.0.0.1:4434"))).await;
    let mut alice = client_at(
        &c,
        "alice",
        1,
        &[
            candidate(CandidateKind::Local, "127.0.0.1:40001", "cs1"),
            candidate(CandidateKind::Relay, "127.0.0.9:50000", "relay-secret"),
        ],
    )
    .await;
    let (id, uplinks, downlinks) = relay_client_round(&c, &mut node, &mut alice, 2).await;
    let path_of = |to: &str| {
        let d = downlinks.iter().find(|d| d.to.as_str() == to).unwrap();
        let path = d.check_id.trim_end_matches(".d").to_owned();
        uplinks
            .iter()
            .find(|u| u.check_id == format!("{path}.u"))
            .unwrap()
            .clone()
    };
    let (direct_up, relay_up) = (path_of("127.0.0.1:40001"), path_of("127.0.0.9:50000"));

    // The direct path completes first and wins.
    let secret = HexSecret(vec![1; 16]);
    node_reports(&c, "sfu-1", &direct_up, "127.0.0.1:40001", &secret).await;
    client_reports(
        &alice,
        "127.0.0.1:4433",
        "127.0.0.1:40001",
        &HexSecret(vec![2; 16]),
    );
    let consent = next_where(&mut alice.ws, |e| match e {
        SignalingEvent::Consent(c) => Some(c),
        _ => None,
    })
    .await;
    assert_eq!(consent.check_id, direct_up.check_id);
    // Then the relay path completes: it worked (history), but it lost the round, so the node
    // must not send the client's packets through the relay.
    node_reports(
        &c,
        "sfu-1",
        &relay_up,
        "127.0.0.1:40001",
        &HexSecret(vec![3; 16]),
    )
    .await;
    client_reports(
        &alice,
        "127.0.0.1:4433",
        "127.0.0.9:50000",
        &HexSecret(vec![4; 16]),
    );
    // The WebSocket is handled in order: the pong comes after the report was.
    alice
        .ws
        .send(newmedia_proto::signaling::ClientMessage::Ping(
            newmedia_proto::signaling::Ping { nonce: None },
        ))
        .unwrap();
    next_where(&mut alice.ws, |e| {
        matches!(e, SignalingEvent::Pong(_)).then_some(())
    })
    .await;
    let history = c.service.store.history("v4:127.0.0.0/24").await.unwrap();
    assert_eq!(history["relay>local"].successes, 1, "the relay path worked");
    assert_eq!(history["local>local"].successes, 1);
    let calls = calls_until_end(&c, &mut node, id).await;
    assert!(
        !calls.iter().any(|c| matches!(c, NodeCall::Downlink(_))),
        "{calls:?}"
    );
    c.shutdown().await;
}

#[tokio::test]
async fn unanswered_checks_fail_into_history() {
    let mut cfg = config();
    cfg.check_timeout_ms = 50;
    let c = newmedia_controller::start(cfg).await.unwrap();
    let node = FakeNode::start("sfu-1", "127.0.0.1:4433").await;
    register(&c, &node.registration(10, None)).await;
    let mut alice = client(&c, "alice", 1).await;
    conference(&c, &["alice"]).await;
    let p = next_proposal(&mut alice.ws).await;
    let mut changes = c.service.hub.subscribe_changes();
    alice.ws.accept(&p.proposal_id).unwrap();
    next_check(&mut alice).await;
    // Nobody reports: the path fails once its timeout passes, which tells waiters.
    loop {
        let h = c.service.store.history("v4:127.0.0.0/24").await.unwrap();
        if let Some(o) = h.get("local>local").filter(|o| o.failures > 0) {
            assert_eq!((o.failures, o.successes), (1, 0));
            break;
        }
        tokio::time::timeout(WAIT, changes.recv())
            .await
            .expect("failure never recorded")
            .unwrap();
    }
    c.shutdown().await;
}
