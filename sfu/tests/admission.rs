//! Admission end to end: registered fingerprints, join grants, refusals, revocation.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use ed25519_dalek::SigningKey;
use newmedia_proto::grant::JoinGrant;
use newmedia_sfu::admission::tls::Identity;
use newmedia_sfu::forward::close;
use newmedia_sfu::ops::grant_key::GrantKey;
use newmedia_sfu::testing::ClientError;

fn controller_key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

async fn sfu_trusting_the_controller() -> newmedia_sfu::app::RunningSfu {
    let mut config = config();
    config.grant_keys = vec![GrantKey {
        key_id: 7,
        key: controller_key().verifying_key(),
    }];
    start_with(config).await
}

fn grant(expires_at: u64, key_id: u64) -> JoinGrant {
    JoinGrant {
        conference_id: 900,
        endpoint_id: 4,
        expires_at,
        key_id,
        publications: vec![video(1, 1, 640, 360, 500_000)],
    }
}

/// The SFU said no: its Error message arrived, or it closed the connection first.
fn refused_by_sfu(result: &Result<Peer, ClientError>) -> bool {
    matches!(
        result,
        Err(ClientError::Refused(_) | ClientError::Connection(_) | ClientError::Read(_))
    )
}

fn far_future() -> u64 {
    4_000_000_000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_certificate_without_grant_is_refused() {
    let sfu = start().await;
    let stranger = Identity::self_signed(vec!["stranger".into()]).unwrap();
    let result = connect(&sfu, &stranger, 1, None).await;
    assert!(refused_by_sfu(&result), "{:?}", result.err());
    assert_eq!(sfu.node.connection_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_grant_admits_and_its_encodings_flow() {
    let sfu = sfu_trusting_the_controller().await;
    let signed = grant(far_future(), 7).sign(&controller_key()).unwrap();
    let identity = Identity::self_signed(vec!["granted".into()]).unwrap();
    let publisher = connect(&sfu, &identity, 4, Some(signed))
        .await
        .expect("admitted by grant");
    assert_eq!(publisher.client.sfu_hello.endpoint_id, 4);

    // A listener admitted by its own grant (no publications) receives the granted encoding.
    let mut listener_grant = grant(far_future(), 7);
    listener_grant.endpoint_id = 5;
    listener_grant.publications.clear();
    let other = Identity::self_signed(vec!["listener".into()]).unwrap();
    let mut listener = connect(
        &sfu,
        &other,
        5,
        Some(listener_grant.sign(&controller_key()).unwrap()),
    )
    .await
    .unwrap();
    let geid = video(1, 1, 640, 360, 500_000).global_encoding_id(900, 4);
    listener
        .send(newmedia_proto::control::ControlMessage::Subscribe(
            newmedia_proto::control::Subscribe {
                request_id: 1,
                target: newmedia_proto::control::SubscribeTarget::Encoding(geid),
                max_layer: None,
            },
        ))
        .await;
    listener
        .expect_control("SubscribeResult", |m| match m {
            newmedia_proto::control::ControlMessage::SubscribeResult(r) => Some(r),
            _ => None,
        })
        .await;
    let message = Encoder::new(geid).message(b"granted media", |h| h.reference_frame = Some(true));
    publisher.client.send_datagram(message.clone()).unwrap();
    assert_eq!(listener.recv().await, message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_or_foreign_grants_are_refused() {
    let sfu = sfu_trusting_the_controller().await;
    let identity = Identity::self_signed(vec!["late".into()]).unwrap();
    let expired = grant(1_000, 7).sign(&controller_key()).unwrap();
    let refused = connect(&sfu, &identity, 4, Some(expired)).await;
    assert!(refused_by_sfu(&refused), "{:?}", refused.err());

    let impostor = SigningKey::from_bytes(&[1; 32]);
    let forged = grant(far_future(), 7).sign(&impostor).unwrap();
    let refused = connect(&sfu, &identity, 4, Some(forged)).await;
    assert!(refused.is_err());

    let unknown_key = grant(far_future(), 8).sign(&controller_key()).unwrap();
    assert!(
        connect(&sfu, &identity, 4, Some(unknown_key))
            .await
            .is_err()
    );
    assert_eq!(sfu.node.connection_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_endpoint_closes_its_connection() {
    let sfu = start().await;
    let peer = join(&sfu, 31, 1, vec![]).await;
    sfu.registry.remove_endpoint(31, 1).unwrap();
    let reason = within("close", peer.client.conn.closed()).await;
    match reason {
        quinn::ConnectionError::ApplicationClosed(c) => assert_eq!(c.error_code, close::REVOKED),
        other => panic!("closed by {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_replaces_the_old_connection_and_keeps_routing() {
    use newmedia_proto::control::{ControlMessage, Subscribe, SubscribeTarget};
    let sfu = start().await;
    let v = video(1, 1, 640, 360, 500_000);
    let identity = Identity::self_signed(vec!["phone".into()]).unwrap();
    let _ = sfu.registry.create_conference(33);
    sfu.registry
        .admit_endpoint(
            33,
            newmedia_sfu::admission::registry::EndpointAdmission {
                endpoint_id: 1,
                fingerprint: identity.fingerprint(),
                publications: vec![v.clone()],
            },
        )
        .unwrap();
    let first = connect(&sfu, &identity, 1, None).await.unwrap();
    let mut viewer = join(&sfu, 33, 2, vec![]).await;
    let geid = v.global_encoding_id(33, 1);
    viewer
        .send(ControlMessage::Subscribe(Subscribe {
            request_id: 1,
            target: SubscribeTarget::Encoding(geid),
            max_layer: None,
        }))
        .await;
    viewer
        .expect_control("SubscribeResult", |m| match m {
            ControlMessage::SubscribeResult(r) => Some(r),
            _ => None,
        })
        .await;

    // The publisher's network changes: it connects again with the same certificate.
    let second = connect(&sfu, &identity, 1, None).await.unwrap();
    match within("old connection closed", first.client.conn.closed()).await {
        quinn::ConnectionError::ApplicationClosed(c) => assert_eq!(c.error_code, close::REPLACED),
        other => panic!("closed by {other:?}"),
    }
    let message =
        Encoder::new(geid).message(b"after reconnect", |h| h.reference_frame = Some(true));
    second.client.send_datagram(message.clone()).unwrap();
    assert_eq!(viewer.recv().await, message);
    eventually("old session gone", || sfu.node.connection_count() == 2).await;
}
