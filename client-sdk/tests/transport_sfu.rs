//! The SDK transport against a real SFU on loopback: admission with pinned fingerprints,
//! datagrams both ways, STUN2 on the shared socket, relay injection, and migration.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use bytes::Bytes;
use newmedia_client::identity::{Fingerprint, Identity};
use newmedia_client::transport::{
    ClientEndpoint, ConnectivityState, EndpointConfig, Flow, FlowOptions, SubscriptionEvent,
    TransportError,
};
use newmedia_proto::control::{Capabilities, ControlMessage, Hello, Subscribe, SubscribeTarget};
use newmedia_proto::crypto::{Algorithm, MessageKey};
use newmedia_proto::grant::MediaKind;
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::{Headers, Sealer};
use newmedia_proto::stun2::{SenderSecret, Stun2Keys, Stun2Request, TransactionId};
use std::net::SocketAddr;
use support::*;
use tokio::sync::mpsc;

const CONF: u64 = 41;

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn connect(
    sfu: &newmedia_sfu::app::RunningSfu,
    identity: Identity,
    endpoint_id: u64,
) -> Result<(ClientEndpoint, Flow), TransportError> {
    let (endpoint, _checks) =
        ClientEndpoint::bind(loopback(), identity, EndpointConfig::default())?;
    let flow = within(
        "connect",
        endpoint.connect(
            sfu.media_addr,
            Fingerprint(sfu.fingerprint),
            Hello::new(endpoint_id, Capabilities::NONE),
            FlowOptions::default(),
        ),
    )
    .await?;
    Ok((endpoint, flow))
}

fn message(geid: GlobalEncodingId, seq: u64) -> Bytes {
    let sealer = Sealer::new(
        MessageKey::derive(Algorithm::Null, b"", 0, 0, geid),
        [0; 12],
    );
    let mut out = Vec::new();
    sealer
        .seal(
            &Headers::new(geid, seq),
            format!("payload {seq}").as_bytes(),
            &mut out,
        )
        .unwrap();
    Bytes::from(out)
}

async fn subscribe(flow: &Flow, geid: GlobalEncodingId) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel(1024);
    flow.route_datagrams(geid, tx);
    let (etx, mut erx) = mpsc::channel(8);
    flow.watch_subscription(1, etx);
    flow.send_control(ControlMessage::Subscribe(Subscribe {
        request_id: 1,
        target: SubscribeTarget::Encoding(geid),
        max_layer: None,
    }))
    .await
    .unwrap();
    match within("SubscribeResult", erx.recv()).await.unwrap() {
        SubscriptionEvent::Result(r) => assert_eq!(r.encoding, Some(geid)),
        other => panic!("unexpected {other:?}"),
    }
    rx
}

/// Sends message `seq` until the subscriber has it (the first datagrams of a fresh path may
/// race the subscription), then returns.
async fn deliver(
    publisher: &Flow,
    rx: &mut mpsc::Receiver<Bytes>,
    geid: GlobalEncodingId,
    seq: u64,
) {
    let want = message(geid, seq);
    within("delivery", async {
        loop {
            publisher.send_datagram(want.clone()).unwrap();
            match tokio::time::timeout(std::time::Duration::from_millis(50), rx.recv()).await {
                Ok(Some(got)) if got == want => return,
                Ok(Some(_)) | Err(_) => {}
                Ok(None) => panic!("route closed"),
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admitted_flows_exchange_datagrams_and_report_metrics() {
    let sfu = sfu().await;
    let p = publication(1, 1, MediaKind::Video);
    let geid = p.global_encoding_id(CONF, 1);
    let (_pe, publisher) = connect(&sfu, admit(&sfu, CONF, 1, vec![p]), 1)
        .await
        .unwrap();
    let (_se, subscriber) = connect(&sfu, admit(&sfu, CONF, 2, vec![]), 2)
        .await
        .unwrap();
    assert_eq!(publisher.endpoint_id(), 1);
    let mut rx = subscribe(&subscriber, geid).await;
    for seq in 0..20 {
        deliver(&publisher, &mut rx, geid, seq).await;
    }
    let m = subscriber.metrics();
    assert_eq!(m.state, ConnectivityState::Connected);
    assert_eq!(m.far_fingerprint, Some(Fingerprint(sfu.fingerprint)));
    assert_eq!(m.five_tuple.remote, sfu.media_addr);
    assert_eq!(m.five_tuple.protocol, "udp");
    // The counter is bumped just after the hand-over, so the last datagram may not be in yet.
    assert!(m.datagrams_routed >= 19, "{m:?}");
    assert!(publisher.metrics().bits_sent > 0);
    assert!(m.max_datagram.unwrap() >= 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistered_certificate_is_refused_with_the_reason() {
    let sfu = sfu().await;
    let stranger = Identity::self_signed().unwrap();
    let err = connect(&sfu, stranger, 9).await.unwrap_err();
    assert!(matches!(err, TransportError::Refused(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_pin_fails_the_handshake() {
    let sfu = sfu().await;
    let identity = admit(&sfu, CONF, 3, vec![]);
    let (endpoint, _) =
        ClientEndpoint::bind(loopback(), identity, EndpointConfig::default()).unwrap();
    let err = within(
        "connect",
        endpoint.connect(
            sfu.media_addr,
            Fingerprint([7; 32]),
            Hello::new(3, Capabilities::NONE),
            FlowOptions::default(),
        ),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, TransportError::Connection(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stun2_shares_the_quic_socket() {
    let sfu = sfu().await;
    let (endpoint, flow) = connect(&sfu, admit(&sfu, CONF, 4, vec![]), 4)
        .await
        .unwrap();
    let outcome = within("reflexive", endpoint.reflexive_address(sfu.media_addr, b""))
        .await
        .unwrap();
    assert_eq!(outcome.observed, endpoint.local_addr().unwrap());
    // The QUIC flow on the same socket is unaffected.
    assert_eq!(flow.metrics().state, ConnectivityState::Connected);
    assert_eq!(endpoint.stats().stun_responses, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayed_checks_are_answered_and_reported_with_the_relay_address() {
    let mut config = EndpointConfig::default();
    config.stun_secret(b"client secret".to_vec());
    let (endpoint, mut checks) =
        ClientEndpoint::bind(loopback(), Identity::self_signed().unwrap(), config).unwrap();
    // Someone (an SFU doing a downlink check) sent this to our relay allocation.
    let responder = tokio::net::UdpSocket::bind(loopback()).await.unwrap();
    let source = responder.local_addr().unwrap();
    let via: SocketAddr = "198.51.100.7:40000".parse().unwrap();
    let request = Stun2Request {
        transaction_id: TransactionId([3; 12]),
        sender_secret: Some(SenderSecret::new(b"proof").unwrap()),
    };
    let mut datagram = Vec::new();
    request.encode(&Stun2Keys::new(b"client secret"), &mut datagram);
    assert!(
        endpoint
            .injector()
            .inject(source, via, Bytes::from(datagram))
    );
    let check = within("check report", checks.recv()).await.unwrap();
    assert_eq!(check.from, source);
    assert_eq!(check.to, via);
    assert!(check.relayed);
    assert_eq!(check.sender_secret.as_bytes(), b"proof");
    // The answer goes straight back to the source.
    let mut buf = [0u8; 128];
    let (n, from) = within("response", responder.recv_from(&mut buf))
        .await
        .unwrap();
    assert_eq!(from, endpoint.local_addr().unwrap());
    assert!(n > 0);
    // A request under another secret is not answered or reported.
    let mut bad = Vec::new();
    request.encode(&Stun2Keys::new(b"other"), &mut bad);
    endpoint.injector().inject(source, via, Bytes::from(bad));
    within("bad counted", async {
        while endpoint.stats().stun_requests_bad == 0 {
            tokio::task::yield_now().await;
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    })
    .await;
    assert!(checks.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebound_endpoint_migrates_its_flow_and_media_continues() {
    let sfu = sfu().await;
    let p = publication(1, 1, MediaKind::Video);
    let geid = p.global_encoding_id(CONF, 5);
    let (pe, publisher) = connect(&sfu, admit(&sfu, CONF, 5, vec![p]), 5)
        .await
        .unwrap();
    let (_se, subscriber) = connect(&sfu, admit(&sfu, CONF, 6, vec![]), 6)
        .await
        .unwrap();
    let mut rx = subscribe(&subscriber, geid).await;
    deliver(&publisher, &mut rx, geid, 0).await;
    let before = pe.local_addr().unwrap();
    let after = pe.rebind(loopback()).unwrap();
    assert_ne!(before.port(), after.port());
    for seq in 1..10 {
        deliver(&publisher, &mut rx, geid, seq).await;
    }
    assert_eq!(publisher.metrics().five_tuple.local.port(), after.port());
    assert_eq!(publisher.metrics().state, ConnectivityState::Connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_can_prefer_a_cipher_suite() {
    let sfu = sfu().await;
    for cipher in [
        newmedia_client::tls::FlowCipher::Aes256Gcm,
        newmedia_client::tls::FlowCipher::ChaCha20Poly1305,
    ] {
        let identity = admit(&sfu, CONF, 7, vec![]);
        let (endpoint, _) =
            ClientEndpoint::bind(loopback(), identity, EndpointConfig::default()).unwrap();
        let options = FlowOptions {
            cipher: Some(cipher),
            ..FlowOptions::default()
        };
        let flow = within(
            "connect",
            endpoint.connect(
                sfu.media_addr,
                Fingerprint(sfu.fingerprint),
                Hello::new(7, Capabilities::NONE),
                options,
            ),
        )
        .await
        .unwrap();
        assert_eq!(flow.metrics().state, ConnectivityState::Connected);
    }
}
