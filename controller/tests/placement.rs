//! Placement across two real `newmedia-sfu` nodes started in-process: conferences go to the
//! least-loaded node, admission shows in the node's own admin API, and a node that stops
//! heart-beating has its conferences placed again with new proposals.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use newmedia_proto::signaling::rest::{CreateConference, KeyMode, NodeRegistration};
use newmedia_proto::signaling::{Address, Candidate, CandidateKind, to_hex};
use newmedia_sfu::app::RunningSfu;
use newmedia_sfu::ops::SfuConfig;
use std::time::Duration;

async fn sfu() -> RunningSfu {
    let config = SfuConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        workers: 1,
        admin_token: Some("sfu-admin".to_owned()),
        stun_secret: "sfu-stun".to_owned(),
        ..SfuConfig::default()
    };
    newmedia_sfu::app::start(config).await.unwrap()
}

fn registration(id: &str, node: &RunningSfu, capacity: u64) -> NodeRegistration {
    NodeRegistration {
        node_id: id.to_owned(),
        candidates: vec![Candidate::new(
            CandidateKind::Local,
            Address::new(node.media_addr),
            "sfu-stun",
        )],
        tls_fingerprint_sha256: to_hex(&node.fingerprint),
        admin_url: format!("http://{}", node.http_addr),
        admin_token: node.admin_token.clone(),
        capacity,
        turn2: None,
    }
}

/// The node's own view: conference ID → endpoint count.
async fn node_conferences(node: &RunningSfu) -> Vec<(u64, u64)> {
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{}/v1/conferences", node.http_addr))
        .bearer_auth(&node.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out: Vec<(u64, u64)> = v["conferences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["conferenceID"].as_u64().unwrap(),
                c["endpointCount"].as_u64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn create(parties: &[&str]) -> CreateConference {
    CreateConference {
        parties: parties.iter().map(|s| s.to_string()).collect(),
        simulcast: true,
        keys: KeyMode::Value,
        aead: None,
        wait: false,
    }
}

#[tokio::test]
async fn least_loaded_node_gets_the_conference_and_admits_its_endpoints() {
    let c = controller().await;
    let (a, b) = (sfu().await, sfu().await);
    register(&c, &registration("sfu-a", &a, 10)).await;
    register(&c, &registration("sfu-b", &b, 10)).await;
    let mut alice = client(&c, "alice", 1).await;
    let _bob = client(&c, "bob", 2).await;
    let _carol = client(&c, "carol", 3).await;

    let first = app(&c)
        .create_conference(&create(&["alice", "bob"]))
        .await
        .unwrap();
    let second = app(&c)
        .create_conference(&create(&["carol"]))
        .await
        .unwrap();
    assert_ne!(
        first.node_id, second.node_id,
        "the second goes to the emptier node"
    );
    let (on_first, on_second) = if first.node_id == "sfu-a" {
        (&a, &b)
    } else {
        (&b, &a)
    };
    assert_eq!(
        node_conferences(on_first).await,
        vec![(first.conference_id, 2)]
    );
    assert_eq!(
        node_conferences(on_second).await,
        vec![(second.conference_id, 1)]
    );

    // The proposal's sendTo is that node, pinned by its real fingerprint.
    let p = next_proposal(&mut alice.ws).await;
    assert_eq!(
        p.proposal.send_to()[0]
            .local
            .as_ref()
            .unwrap()
            .socket_addr(),
        on_first.media_addr
    );
    assert_eq!(
        p.proposal.send_to()[0].tls_fingerprint(),
        Some(on_first.fingerprint)
    );

    // Full nodes: no capacity for 11 parties.
    let many: Vec<String> = (0..11).map(|i| format!("p{i}")).collect();
    for (i, id) in many.iter().enumerate() {
        let _ = client(&c, id, 10 + i as u8).await;
    }
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    match app(&c).create_conference(&create(&refs)).await {
        Err(newmedia_client::signaling::SignalingClientError::Api { status, code, .. }) => {
            assert_eq!(status, 503);
            assert_eq!(
                code,
                newmedia_proto::signaling::rest::ErrorCode::NoNodeCapacity
            );
        }
        other => panic!("{other:?}"),
    }
    c.shutdown().await;
}

#[tokio::test]
async fn dead_node_conferences_move_with_new_proposals() {
    let mut cfg = config();
    cfg.heartbeat_interval_ms = 100;
    let c = newmedia_controller::start(cfg).await.unwrap();
    let (a, b) = (sfu().await, sfu().await);
    register(&c, &registration("sfu-a", &a, 10)).await;
    let beat_a = heartbeat_forever(&c, "sfu-a", Duration::from_millis(50));
    let mut alice = client(&c, "alice", 1).await;
    let mut bob = client(&c, "bob", 2).await;
    let state = app(&c)
        .create_conference(&create(&["alice", "bob"]))
        .await
        .unwrap();
    assert_eq!(state.node_id, "sfu-a");
    let first = next_proposal(&mut alice.ws).await;
    alice.ws.accept(&first.proposal_id).unwrap();
    next_proposal(&mut bob.ws).await;

    register(&c, &registration("sfu-b", &b, 10)).await;
    let _beat_b = heartbeat_forever(&c, "sfu-b", Duration::from_millis(50));
    beat_a.abort();

    // sfu-a misses 3 heartbeats: both parties get a proposal for sfu-b.
    for tc in [&mut alice, &mut bob] {
        let p = next_proposal(&mut tc.ws).await;
        assert_eq!(p.conference_id, state.conference_id);
        assert_eq!(
            p.proposal.send_to()[0]
                .local
                .as_ref()
                .unwrap()
                .socket_addr(),
            b.media_addr
        );
        assert_ne!(p.proposal_id, first.proposal_id);
    }
    assert_eq!(node_conferences(&b).await, vec![(state.conference_id, 2)]);
    let moved = app(&c).conference(state.conference_id).await.unwrap();
    assert_eq!((moved.node_id.as_str(), moved.placements), ("sfu-b", 2));
    let nodes: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/v1/nodes", c.url()))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let alive: Vec<(String, bool)> = nodes["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["nodeID"].as_str().unwrap().to_owned(),
                n["alive"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        alive,
        [("sfu-a".to_owned(), false), ("sfu-b".to_owned(), true)]
    );
    // A dead node's heartbeat is unknown: it must register again.
    let r = reqwest::Client::new()
        .put(format!("{}/v1/nodes/sfu-a/heartbeat", c.url()))
        .bearer_auth(API_KEY)
        .json(&serde_json::json!({"endpoints": 0, "conferences": 0, "cpu": 0.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    c.shutdown().await;
}
