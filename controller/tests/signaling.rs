//! Conference creation sends well-formed proposals to 3 WebSocket clients (the SDK's
//! signaling client), which the SDK's control model accepts; answers are recorded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use newmedia_client::control::{MediaConfiguration, StaticKeys};
use newmedia_client::signaling::SignalingClientError;
use newmedia_client::signaling::SignalingEvent;
use newmedia_proto::signaling::ClientMessage;
use newmedia_proto::signaling::rest::{CreateConference, ErrorCode, KeyMode, ProposalStatus};

#[tokio::test]
async fn three_parties_get_proposals_and_answers_are_recorded() {
    let c = controller().await;
    let node = FakeNode::start("sfu-1", "127.0.0.1:4433").await;
    register(&c, &node.registration(100, None)).await;
    let mut alice = client(&c, "alice", 1).await;
    let mut bob = client(&c, "bob", 2).await;
    let mut carol = client(&c, "carol", 3).await;

    let state = app(&c)
        .create_conference(&CreateConference {
            parties: vec!["alice".into(), "bob".into(), "carol".into()],
            simulcast: true,
            keys: KeyMode::Value,
            aead: None,
            wait: false,
        })
        .await
        .unwrap();
    assert_eq!(state.node_id, "sfu-1");
    assert!(state.conference_id < 1 << 62);
    assert_eq!(state.parties.len(), 3);

    let caps = capabilities();
    let mut proposals = Vec::new();
    for tc in [&mut alice, &mut bob, &mut carol] {
        let msg = next_proposal(&mut tc.ws).await;
        assert_eq!(msg.conference_id, state.conference_id);
        let p = &msg.proposal;
        p.validate().unwrap();
        // sendTo is the node, pinned by a real fingerprint.
        assert_eq!(
            p.send_to()[0].local.as_ref().unwrap().as_str(),
            "127.0.0.1:4433"
        );
        assert_eq!(p.send_to()[0].tls_fingerprint(), Some([0xee; 32]));
        // Audio one encoding, video simulcast (maxWidth 1920 >= 1280): 3 send streams.
        assert_eq!(p.send_streams().len(), 3);
        assert!(
            p.send_streams()
                .iter()
                .all(|s| s.endpoint_id == Some(msg.endpoint_id))
        );
        // Receive: each of 2 others' audio (with encodingID) and video (without).
        assert_eq!(p.receive_streams().len(), 4);
        for r in p.receive_streams() {
            assert_ne!(r.endpoint_id, Some(msg.endpoint_id));
            assert_eq!(r.conference_id, Some(state.conference_id));
            match r.codec_name.as_deref() {
                Some("opus") => assert_eq!((r.sink_id, r.encoding_id), (Some(1), Some(1))),
                Some("av1") => assert_eq!((r.sink_id, r.encoding_id), (Some(2), None)),
                other => panic!("unexpected codec {other:?}"),
            }
            assert!(r.secret.as_deref().is_some_and(|s| !s.is_empty()));
        }
        // The SDK's own model accepts it whole.
        MediaConfiguration::new()
            .apply(p, &caps, &StaticKeys::new())
            .unwrap();
        proposals.push(msg);
    }
    // The receiver's secret for a publisher is the publisher's send secret.
    let alice_secret = proposals[0].proposal.send_streams()[0].secret.clone();
    assert!(
        proposals[1]
            .proposal
            .receive_streams()
            .iter()
            .filter(|r| r.endpoint_id == Some(proposals[0].endpoint_id))
            .all(|r| r.secret == alice_secret)
    );

    alice.ws.accept(&proposals[0].proposal_id).unwrap();
    bob.ws
        .reject(&proposals[1].proposal_id, "no camera today")
        .unwrap();
    carol.ws.accept(&proposals[2].proposal_id).unwrap();

    // Each accepting client gets its Snowflake check: the answer was processed.
    for tc in [&mut alice, &mut carol] {
        next_where(&mut tc.ws, |e| {
            matches!(e, SignalingEvent::Check(_)).then_some(())
        })
        .await;
    }
    // Bob's rejection is processed before his ping's pong (one connection, in order).
    bob.ws
        .send(ClientMessage::Ping(Default::default()))
        .unwrap();
    next_where(&mut bob.ws, |e| {
        matches!(e, SignalingEvent::Pong(_)).then_some(())
    })
    .await;

    let state = app(&c).conference(state.conference_id).await.unwrap();
    let status = |id: &str| {
        state
            .parties
            .iter()
            .find(|p| p.client_id == id)
            .unwrap()
            .clone()
    };
    assert_eq!(status("alice").proposal, ProposalStatus::Accepted);
    assert_eq!(status("carol").proposal, ProposalStatus::Accepted);
    assert_eq!(status("bob").proposal, ProposalStatus::Rejected);
    assert_eq!(status("bob").reason.as_deref(), Some("no camera today"));
    c.shutdown().await;
}

#[tokio::test]
async fn waiting_creation_reports_rejection_and_reference_keys_have_no_secret() {
    let c = controller().await;
    let node = FakeNode::start("sfu-1", "127.0.0.1:4433").await;
    register(&c, &node.registration(100, None)).await;
    let mut alice = client(&c, "alice", 1).await;
    let mut bob = client(&c, "bob", 2).await;

    let api = app(&c);
    let create = tokio::spawn(async move {
        api.create_conference(&CreateConference {
            parties: vec!["alice".into(), "bob".into()],
            simulcast: false,
            keys: KeyMode::Reference,
            aead: None,
            wait: true,
        })
        .await
    });
    let pa = next_proposal(&mut alice.ws).await;
    let pb = next_proposal(&mut bob.ws).await;
    for p in [&pa, &pb] {
        let all = p
            .proposal
            .send_streams()
            .iter()
            .chain(p.proposal.receive_streams());
        for s in all {
            assert!(s.secret.is_none());
            let publisher = s.endpoint_id.unwrap();
            assert_eq!(
                s.secret_ref.as_deref(),
                Some(format!("newmedia:{}:{publisher}", p.conference_id).as_str())
            );
        }
        // No simulcast asked for: one video encoding, so receive streams name it.
        assert_eq!(p.proposal.send_streams().len(), 2);
        assert!(
            p.proposal
                .receive_streams()
                .iter()
                .all(|r| r.encoding_id == Some(1))
        );
    }
    alice.ws.accept(&pa.proposal_id).unwrap();
    bob.ws.reject(&pb.proposal_id, "busy").unwrap();
    match create.await.unwrap() {
        Err(SignalingClientError::Api {
            status,
            code,
            message,
        }) => {
            assert_eq!((status, code), (409, ErrorCode::ProposalRejected));
            assert!(
                message.contains("bob") && message.contains("busy"),
                "{message}"
            );
        }
        other => panic!("expected proposal_rejected, got {other:?}"),
    }
    c.shutdown().await;
}

#[tokio::test]
async fn join_leave_end_send_new_proposals_and_endings() {
    let c = controller().await;
    let mut node = FakeNode::start("sfu-1", "127.0.0.1:4433").await;
    register(&c, &node.registration(100, None)).await;
    let mut alice = client(&c, "alice", 1).await;
    let mut bob = client(&c, "bob", 2).await;
    let state = app(&c)
        .create_conference(&CreateConference {
            parties: vec!["alice".into()],
            simulcast: false,
            keys: KeyMode::Value,
            aead: None,
            wait: false,
        })
        .await
        .unwrap();
    let id = state.conference_id;
    let first = next_proposal(&mut alice.ws).await;
    assert!(first.proposal.receive_streams().is_empty());
    node.next_call(|c| matches!(c, NodeCall::CreateConference(x) if x == id).then_some(()))
        .await;

    // Bob joins with his own token; alice gets a new proposal with bob's streams.
    let bob_token = app(&c).token("bob", None).await.unwrap().token;
    let bob_rest = newmedia_client::signaling::RestClient::new(&c.url(), &bob_token);
    bob_rest.join(id, "bob", false).await.unwrap();
    let second = next_proposal(&mut alice.ws).await;
    assert_ne!(second.proposal_id, first.proposal_id);
    assert_eq!(second.proposal.receive_streams().len(), 2);
    next_proposal(&mut bob.ws).await;
    let admitted = node
        .next_call(|c| match c {
            NodeCall::Admit {
                endpoint: 2, body, ..
            } => Some(body),
            _ => None,
        })
        .await;
    assert_eq!(admitted["fingerprint"], fingerprint(2));
    assert_eq!(admitted["publications"].as_array().unwrap().len(), 2);

    // A client token cannot join someone else.
    match bob_rest.join(id, "alice", false).await {
        Err(SignalingClientError::Api { code, .. }) => assert_eq!(code, ErrorCode::Forbidden),
        other => panic!("{other:?}"),
    }

    bob_rest.leave(id, "bob").await.unwrap();
    let ended = next_where(&mut bob.ws, |e| match e {
        SignalingEvent::ConferenceEnded(e) => Some((e.conference_id, e.reason)),
        _ => None,
    })
    .await;
    assert_eq!(ended, (id, "left".to_owned()));
    let third = next_proposal(&mut alice.ws).await;
    assert!(third.proposal.receive_streams().is_empty());
    node.next_call(|c| matches!(c, NodeCall::RemoveEndpoint(x, 2) if x == id).then_some(()))
        .await;

    app(&c).end(id).await.unwrap();
    let ended = next_where(&mut alice.ws, |e| match e {
        SignalingEvent::ConferenceEnded(e) => Some(e.reason),
        _ => None,
    })
    .await;
    assert_eq!(ended, "ended");
    node.next_call(|c| matches!(c, NodeCall::DeleteConference(x) if x == id).then_some(()))
        .await;
    match app(&c).conference(id).await {
        Err(SignalingClientError::Api { code, .. }) => {
            assert_eq!(code, ErrorCode::UnknownConference)
        }
        other => panic!("{other:?}"),
    }
    c.shutdown().await;
}

#[tokio::test]
async fn a_join_proposes_again_only_to_parties_whose_plan_it_changes() {
    let c = controller().await;
    let mut node = FakeNode::start("sfu-1", "127.0.0.1:4433").await;
    register(&c, &node.registration(100, None)).await;
    let mut alice = client(&c, "alice", 1).await;
    let mut bob = client_advertising(&c, "bob", 2, viewer_advertisement(2)).await;
    let mut carol = client_advertising(&c, "carol", 3, viewer_advertisement(3)).await;
    let mut dave = client(&c, "dave", 4).await;
    let id = app(&c)
        .create_conference(&CreateConference {
            parties: vec!["alice".into(), "bob".into()],
            simulcast: false,
            keys: KeyMode::Value,
            aead: None,
            wait: false,
        })
        .await
        .unwrap()
        .conference_id;
    let alice_first = next_proposal(&mut alice.ws).await;
    let bob_first = next_proposal(&mut bob.ws).await;
    assert_eq!(bob_first.proposal.receive_streams().len(), 2);

    // Carol, a second viewer, changes nothing for alice (who sends to the node either way) or
    // bob: only she is admitted and gets a proposal.
    app(&c).join(id, "carol", false).await.unwrap();
    let carol_first = next_proposal(&mut carol.ws).await;
    assert_eq!(carol_first.proposal.receive_streams().len(), 2);
    // Dave publishes: alice and bob now receive him, so they get new proposals, and the next
    // proposal each sees is that one (none came for carol's join).
    app(&c).join(id, "dave", false).await.unwrap();
    next_proposal(&mut dave.ws).await;
    let alice_second = next_proposal(&mut alice.ws).await;
    assert_ne!(alice_second.proposal_id, alice_first.proposal_id);
    assert_eq!(alice_second.proposal.receive_streams().len(), 2);
    let bob_second = next_proposal(&mut bob.ws).await;
    assert_eq!(bob_second.proposal.receive_streams().len(), 4);
    let carol_second = next_proposal(&mut carol.ws).await;
    assert_eq!(carol_second.proposal.receive_streams().len(), 4);

    // The node admitted alice and bob once, then carol, then dave: no one twice.
    let mut admitted = Vec::new();
    while admitted.last() != Some(&4) {
        admitted.push(
            node.next_call(|c| match c {
                NodeCall::Admit { endpoint, .. } => Some(endpoint),
                _ => None,
            })
            .await,
        );
    }
    admitted[..2].sort_unstable();
    assert_eq!(admitted, [1, 2, 3, 4]);
    let state = app(&c).conference(id).await.unwrap();
    let bob_state = state.parties.iter().find(|p| p.client_id == "bob").unwrap();
    assert_eq!(bob_state.proposal_id, bob_second.proposal_id);
    c.shutdown().await;
}

#[tokio::test]
async fn pending_proposal_is_delivered_when_the_client_connects_again() {
    let c = controller().await;
    let node = FakeNode::start("sfu-1", "127.0.0.1:4433").await;
    register(&c, &node.registration(100, None)).await;
    let alice = client(&c, "alice", 1).await;
    alice.ws.close().await;
    let state = app(&c)
        .create_conference(&CreateConference {
            parties: vec!["alice".into()],
            simulcast: false,
            keys: KeyMode::Value,
            aead: None,
            wait: false,
        })
        .await
        .unwrap();
    let mut alice = client(&c, "alice", 1).await;
    let p = next_proposal(&mut alice.ws).await;
    assert_eq!(p.proposal_id, state.parties[0].proposal_id);
    c.shutdown().await;
}
