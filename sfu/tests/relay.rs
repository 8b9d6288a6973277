//! The node's TURN2 relay (PROTOCOL.md §8) on loopback: real TLS over TCP, real UDP.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use newmedia_proto::turn2::{ErrorCode, Turn2Frame};
use newmedia_sfu::admission::tls::Identity;
use newmedia_sfu::app::RunningSfu;
use newmedia_sfu::ops::config::SfuConfig;
use newmedia_sfu::testing::{RelayFrame, Turn2TestClient};
use std::net::SocketAddr;

fn relay_config() -> SfuConfig {
    let mut c = config();
    c.turn2_listen = Some("127.0.0.1:0".parse().unwrap());
    c
}

async fn allow(sfu: &RunningSfu, identity: &Identity) -> reqwest::StatusCode {
    reqwest::Client::new()
        .put(format!(
            "http://{}/v1/relay/fingerprints/{}",
            sfu.http_addr,
            hex::encode(identity.fingerprint())
        ))
        .bearer_auth(&sfu.admin_token)
        .send()
        .await
        .unwrap()
        .status()
}

async fn revoke(sfu: &RunningSfu, identity: &Identity) -> reqwest::StatusCode {
    reqwest::Client::new()
        .delete(format!(
            "http://{}/v1/relay/fingerprints/{}",
            sfu.http_addr,
            hex::encode(identity.fingerprint())
        ))
        .bearer_auth(&sfu.admin_token)
        .send()
        .await
        .unwrap()
        .status()
}

async fn connect(sfu: &RunningSfu, identity: &Identity) -> Turn2TestClient {
    within(
        "TURN2 connect",
        Turn2TestClient::connect(sfu.turn2_addr.unwrap(), sfu.fingerprint, identity),
    )
    .await
    .unwrap()
}

async fn next(client: &mut Turn2TestClient) -> RelayFrame {
    within("a TURN2 frame", client.next_frame())
        .await
        .unwrap()
        .expect("connection open")
}

/// Registers and returns (inbound, outbound, lifetime).
async fn register(
    client: &mut Turn2TestClient,
    lifetime: Option<u32>,
) -> (SocketAddr, SocketAddr, u32) {
    client.register(lifetime).await.unwrap();
    match next(client).await {
        RelayFrame::Allocation {
            inbound,
            outbound,
            lifetime,
        } => (inbound, outbound, lifetime),
        other => panic!("expected Allocation, got {other:?}"),
    }
}

async fn expect_error(client: &mut Turn2TestClient, code: ErrorCode) {
    match next(client).await {
        RelayFrame::Error { code: got, .. } => assert_eq!(got, code),
        other => panic!("expected Error {code}, got {other:?}"),
    }
}

async fn udp() -> tokio::net::UdpSocket {
    tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap()
}

async fn expect_relayed(client: &mut Turn2TestClient) -> (SocketAddr, Vec<u8>) {
    match next(client).await {
        RelayFrame::Relayed { source, packet } => (source, packet),
        other => panic!("expected Relayed, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_client_gets_inbound_datagrams_with_their_source() {
    let sfu = start_with(relay_config()).await;
    let identity = Identity::self_signed(vec!["client".into()]).unwrap();
    assert_eq!(allow(&sfu, &identity).await, 204);
    let mut client = connect(&sfu, &identity).await;
    let (inbound, outbound, lifetime) = register(&mut client, Some(120)).await;
    assert_eq!(outbound, sfu.turn2_addr.unwrap());
    assert_eq!(lifetime, 120);
    assert_eq!(inbound.ip(), outbound.ip());
    assert_ne!(inbound.port(), outbound.port());

    let sender = udp().await;
    sender
        .send_to(b"hello through the relay", inbound)
        .await
        .unwrap();
    let (source, packet) = expect_relayed(&mut client).await;
    assert_eq!(source, sender.local_addr().unwrap());
    assert_eq!(packet, b"hello through the relay");
    // An empty datagram is relayed as an empty packet.
    sender.send_to(b"", inbound).await.unwrap();
    assert_eq!(expect_relayed(&mut client).await.1, b"");

    // Register again: the same allocation, renewed; the lifetime is capped.
    let (again, _, lifetime) = register(&mut client, Some(1_000_000)).await;
    assert_eq!(again, inbound);
    assert_eq!(lifetime, 3600);
    assert_eq!(
        sfu.relay
            .as_ref()
            .unwrap()
            .allocation_of(&identity.fingerprint()),
        Some(inbound)
    );
    eventually("metrics", || {
        let text = sfu.metrics.encode_text();
        text.contains("newmedia_sfu_turn2_allocations 1")
            && text.contains("newmedia_sfu_turn2_relayed_packets_total 2")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_registrations_get_the_right_error_codes() {
    let mut c = relay_config();
    c.turn2_max_allocations = 1;
    let sfu = start_with(c).await;
    let stranger = Identity::self_signed(vec!["stranger".into()]).unwrap();
    let first = Identity::self_signed(vec!["first".into()]).unwrap();
    let second = Identity::self_signed(vec!["second".into()]).unwrap();
    assert_eq!(allow(&sfu, &first).await, 204);
    assert_eq!(allow(&sfu, &second).await, 204);

    // Unknown fingerprint.
    let mut client = connect(&sfu, &stranger).await;
    client.register(None).await.unwrap();
    expect_error(&mut client, ErrorCode::UNKNOWN_FINGERPRINT).await;
    // A fingerprint that is not the TLS certificate's (even a registered one).
    client
        .send(&Turn2Frame::Register {
            fingerprint: first.fingerprint(),
            lifetime: None,
        })
        .await
        .unwrap();
    expect_error(&mut client, ErrorCode::FINGERPRINT_MISMATCH).await;
    // Refresh without an allocation.
    client
        .send(&Turn2Frame::Refresh { lifetime: None })
        .await
        .unwrap();
    expect_error(&mut client, ErrorCode::NO_ALLOCATION).await;

    // Quota: one allocation on this node.
    let mut a = connect(&sfu, &first).await;
    register(&mut a, None).await;
    let mut b = connect(&sfu, &second).await;
    b.register(None).await.unwrap();
    expect_error(&mut b, ErrorCode::QUOTA_EXCEEDED).await;

    // A frame type only the relay sends, then garbage: Error 1 and the connection closes.
    b.send(&Turn2Frame::Refresh { lifetime: Some(5) })
        .await
        .unwrap();
    expect_error(&mut b, ErrorCode::NO_ALLOCATION).await;
    b.send_raw(&[0x02, 0x00, 0x00]).await.unwrap();
    expect_error(&mut b, ErrorCode::MALFORMED_FRAME).await;
    assert_eq!(within("close", b.next_frame()).await.unwrap(), None);
    let mut c = connect(&sfu, &stranger).await;
    c.send(&Turn2Frame::Error {
        code: ErrorCode::INTERNAL,
        reason: "",
    })
    .await
    .unwrap();
    expect_error(&mut c, ErrorCode::MALFORMED_FRAME).await;
    assert_eq!(within("close", c.next_frame()).await.unwrap(), None);

    // Unknown frame types are skipped.
    a.send(&Turn2Frame::Unknown {
        kind: 200,
        body: b"xx",
    })
    .await
    .unwrap();
    a.send(&Turn2Frame::Refresh { lifetime: Some(30) })
        .await
        .unwrap();
    assert!(matches!(
        next(&mut a).await,
        RelayFrame::Allocation { lifetime: 30, .. }
    ));
    let errors = sfu.relay.as_ref().unwrap().stats().errors;
    assert_eq!(errors, [2, 1, 1, 1, 2, 0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_release_and_expiry() {
    let sfu = start_with(relay_config()).await;
    let relay = sfu.relay.clone().unwrap();
    let identity = Identity::self_signed(vec!["client".into()]).unwrap();
    allow(&sfu, &identity).await;
    let mut client = connect(&sfu, &identity).await;
    let (inbound, _, _) = register(&mut client, None).await;
    assert_eq!(relay.stats().allocations, 1);

    client
        .send(&Turn2Frame::Refresh { lifetime: Some(45) })
        .await
        .unwrap();
    assert_eq!(
        next(&mut client).await,
        RelayFrame::Allocation {
            inbound,
            outbound: sfu.turn2_addr.unwrap(),
            lifetime: 45
        }
    );
    // Release.
    client
        .send(&Turn2Frame::Refresh { lifetime: Some(0) })
        .await
        .unwrap();
    assert!(
        matches!(next(&mut client).await, RelayFrame::Allocation { lifetime: 0, inbound: i, .. } if i == inbound)
    );
    assert_eq!(relay.stats().allocations, 0);
    assert_eq!(relay.allocation_of(&identity.fingerprint()), None);
    client
        .send(&Turn2Frame::Refresh { lifetime: None })
        .await
        .unwrap();
    expect_error(&mut client, ErrorCode::NO_ALLOCATION).await;

    // A new allocation that expires: the relay says so with lifetime 0 and stops relaying.
    let (inbound, _, lifetime) = register(&mut client, Some(1)).await;
    assert_eq!(lifetime, 1);
    assert!(
        matches!(next(&mut client).await, RelayFrame::Allocation { lifetime: 0, inbound: i, .. } if i == inbound)
    );
    assert_eq!(relay.stats().allocations, 0);

    // Revoking the fingerprint closes its connections and releases the allocation.
    let (_, _, _) = register(&mut client, None).await;
    assert_eq!(revoke(&sfu, &identity).await, 204);
    assert!(matches!(
        next(&mut client).await,
        RelayFrame::Allocation { lifetime: 0, .. }
    ));
    assert_eq!(within("close", client.next_frame()).await.unwrap(), None);
    assert_eq!(relay.stats().allocations, 0);
    assert_eq!(revoke(&sfu, &identity).await, 404);
    let mut again = connect(&sfu, &identity).await;
    again.register(None).await.unwrap();
    expect_error(&mut again, ErrorCode::UNKNOWN_FINGERPRINT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_allocation_serves_many_senders_and_every_connection() {
    let sfu = start_with(relay_config()).await;
    let identity = Identity::self_signed(vec!["client".into()]).unwrap();
    allow(&sfu, &identity).await;
    let mut first = connect(&sfu, &identity).await;
    let (inbound, _, _) = register(&mut first, None).await;
    // A second connection of the same certificate receives without registering.
    let mut second = connect(&sfu, &identity).await;
    eventually("second connection counted", || {
        sfu.relay.as_ref().unwrap().stats().connections == 2
    })
    .await;

    // Two calls' peers send to the same inbound address.
    let alice = udp().await;
    let bob = udp().await;
    alice.send_to(b"from alice", inbound).await.unwrap();
    for client in [&mut first, &mut second] {
        let (source, packet) = expect_relayed(client).await;
        assert_eq!(
            (source, packet.as_slice()),
            (alice.local_addr().unwrap(), &b"from alice"[..])
        );
    }
    bob.send_to(b"from bob", inbound).await.unwrap();
    for client in [&mut first, &mut second] {
        let (source, packet) = expect_relayed(client).await;
        assert_eq!(
            (source, packet.as_slice()),
            (bob.local_addr().unwrap(), &b"from bob"[..])
        );
    }
    // The second connection's Register confirms the same allocation.
    let (same, _, _) = register(&mut second, None).await;
    assert_eq!(same, inbound);

    // The allocation outlives a connection.
    drop(first);
    eventually("first connection gone", || {
        sfu.relay.as_ref().unwrap().stats().connections == 1
    })
    .await;
    alice.send_to(b"still here", inbound).await.unwrap();
    assert_eq!(expect_relayed(&mut second).await.1, b"still here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_does_not_read_loses_datagrams_not_the_socket() {
    let mut c = relay_config();
    c.turn2_queue_frames = 4;
    let sfu = start_with(c).await;
    let relay = sfu.relay.clone().unwrap();
    let identity = Identity::self_signed(vec!["client".into()]).unwrap();
    allow(&sfu, &identity).await;
    let mut stuck = connect(&sfu, &identity).await;
    let (inbound, _, _) = register(&mut stuck, None).await;
    let sender = udp().await;
    let big = vec![7u8; 60_000];
    // Up to 30 MB, one datagram at a time (each one handled before the next is sent, so the
    // kernel's UDP buffer never overflows): more than TCP and TLS buffers hold while the
    // client reads nothing.
    let handled = || {
        let s = relay.stats();
        s.relayed_packets + s.dropped_queue_full
    };
    for _ in 0..500 {
        let before = handled();
        sender.send_to(&big, inbound).await.unwrap();
        eventually("the datagram handled", || handled() > before).await;
        if relay.stats().dropped_queue_full > 0 {
            break;
        }
    }
    assert!(relay.stats().dropped_queue_full > 0);
    // The relay still answers this connection's requests.
    stuck
        .send(&Turn2Frame::Refresh { lifetime: Some(60) })
        .await
        .unwrap();
    within("Allocation after the backlog", async {
        loop {
            if let RelayFrame::Allocation { lifetime: 60, .. } = next(&mut stuck).await {
                return;
            }
        }
    })
    .await;
}
