//! Two controllers on one real Redis serve one conference: clients connected to different
//! controllers get their proposals, answers reach the other controller's state, and a token
//! from one controller is good at the other (shared generated secrets).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use newmedia_client::signaling::RestClient;
use newmedia_proto::signaling::rest::{CreateConference, KeyMode, ProposalStatus};

#[tokio::test]
async fn two_controllers_one_redis_one_conference() {
    let redis = Redis::start();
    let shared = |id: &str| {
        let mut cfg = config();
        cfg.redis_url = Some(redis.url.clone());
        cfg.controller_id = Some(id.to_owned());
        // Generated and shared through Redis.
        cfg.api_keys.clear();
        cfg.token_secret = None;
        cfg
    };
    let one = newmedia_controller::start(shared("one")).await.unwrap();
    let two = newmedia_controller::start(shared("two")).await.unwrap();
    assert_eq!(one.api_key, two.api_key, "one generated key for both");

    let node = FakeNode::start("sfu-1", "127.0.0.1:4433").await;
    let key = one.api_key.clone();
    let api_one = RestClient::new(&one.url(), &key);
    let api_two = RestClient::new(&two.url(), &key);
    // The node registers at controller two; placement at controller one sees it.
    let r = reqwest::Client::new()
        .post(format!("{}/v1/nodes", two.url()))
        .bearer_auth(&key)
        .json(&node.registration(10, None))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // alice's token comes from controller one but she connects to controller two.
    let token = api_one.token("alice", None).await.unwrap().token;
    let mut alice = newmedia_client::signaling::SignalingClient::connect(
        &newmedia_client::signaling::ws_url(&two.url()),
        &token,
    )
    .await
    .unwrap();
    alice
        .advertise(
            Some("alice"),
            &fingerprint(1),
            advertisement(&[candidate(
                newmedia_proto::signaling::CandidateKind::Local,
                "127.0.0.1:40001",
                "cs1",
            )]),
        )
        .unwrap();
    next_where(&mut alice, |e| {
        matches!(e, newmedia_client::signaling::SignalingEvent::Welcome(_)).then_some(())
    })
    .await;
    let token = api_two.token("bob", None).await.unwrap().token;
    let mut bob = newmedia_client::signaling::SignalingClient::connect(
        &newmedia_client::signaling::ws_url(&one.url()),
        &token,
    )
    .await
    .unwrap();
    bob.advertise(Some("bob"), &fingerprint(2), advertisement(&[]))
        .unwrap();
    next_where(&mut bob, |e| {
        matches!(e, newmedia_client::signaling::SignalingEvent::Welcome(_)).then_some(())
    })
    .await;

    // Controller one creates the conference; alice (on two) and bob (on one) get proposals.
    let state = api_one
        .create_conference(&CreateConference {
            parties: vec!["alice".into(), "bob".into()],
            simulcast: false,
            keys: KeyMode::Value,
            aead: None,
            wait: false,
        })
        .await
        .unwrap();
    let pa = next_proposal(&mut alice).await;
    let pb = next_proposal(&mut bob).await;
    assert_eq!(
        (pa.conference_id, pb.conference_id),
        (state.conference_id, state.conference_id)
    );

    // alice answers at controller two, bob at one; controller one sees both.
    alice.accept(&pa.proposal_id).unwrap();
    bob.reject(&pb.proposal_id, "declined").unwrap();
    let view = loop {
        let s = api_one.conference(state.conference_id).await.unwrap();
        if s.parties
            .iter()
            .all(|p| p.proposal != ProposalStatus::Pending)
        {
            break s;
        }
        let mut changes = one.service.hub.subscribe_changes();
        let s = api_one.conference(state.conference_id).await.unwrap();
        if s.parties
            .iter()
            .all(|p| p.proposal != ProposalStatus::Pending)
        {
            break s;
        }
        tokio::time::timeout(WAIT, changes.recv())
            .await
            .expect("no change")
            .unwrap();
    };
    let by = |id: &str| {
        view.parties
            .iter()
            .find(|p| p.client_id == id)
            .unwrap()
            .proposal
    };
    assert_eq!(by("alice"), ProposalStatus::Accepted);
    assert_eq!(by("bob"), ProposalStatus::Rejected);

    // alice's Snowflake check reaches her at controller two, ordered by whichever got her answer.
    next_where(&mut alice, |e| {
        matches!(e, newmedia_client::signaling::SignalingEvent::Check(_)).then_some(())
    })
    .await;
    // Both controllers list the same endpoints, with presence.
    let listed = api_two.endpoints().await.unwrap();
    assert_eq!(listed.endpoints.len(), 2);
    assert!(listed.endpoints.iter().all(|e| e.connected));

    one.shutdown().await;
    two.shutdown().await;
    drop(redis);
}
