//! The relay client against the SFU node's real TURN2 relay, on loopback.

use super::*;
use newmedia_proto::turn2::ErrorCode;
use newmedia_sfu::app::{self, RunningSfu};
use newmedia_sfu::ops::config::SfuConfig;
use std::future::Future;
use std::sync::atomic::AtomicUsize;

const PATIENCE: Duration = Duration::from_secs(10);

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

async fn eventually(what: &str, condition: impl Fn() -> bool) {
    within(what, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

async fn relay_node(max_allocations: usize) -> RunningSfu {
    let c = SfuConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        workers: 1,
        admin_token: Some("t".into()),
        turn2_listen: Some("127.0.0.1:0".parse().unwrap()),
        turn2_max_allocations: max_allocations,
        ..SfuConfig::default()
    };
    app::start(c).await.unwrap()
}

fn allowed(sfu: &RunningSfu) -> Identity {
    let identity = Identity::self_signed().unwrap();
    sfu.relay.as_ref().unwrap().allow(identity.fingerprint().0);
    identity
}

async fn connect(
    sfu: &RunningSfu,
    identity: &Identity,
    config: &RelayConfig,
) -> Result<(RelayClient, mpsc::Receiver<RelayedPacket>), RelayError> {
    within(
        "relay connect",
        RelayClient::connect(
            identity,
            sfu.turn2_addr.unwrap(),
            Fingerprint(sfu.fingerprint),
            config,
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocates_relays_refreshes_and_releases() {
    let sfu = relay_node(10).await;
    let relay = sfu.relay.clone().unwrap();
    let identity = allowed(&sfu);
    let (client, mut packets) =
        connect(&sfu, &identity, RelayConfig::default().lifetime(Some(300)))
            .await
            .unwrap();
    let allocation = client.allocation().unwrap();
    assert_eq!(allocation.outbound, sfu.turn2_addr.unwrap());
    assert_eq!(allocation.lifetime, 300);
    assert_eq!(
        relay.allocation_of(&identity.fingerprint().0),
        Some(allocation.inbound)
    );

    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    peer.send_to(b"a QUIC packet, say", allocation.inbound)
        .await
        .unwrap();
    let (source, packet) = within("relayed", packets.recv()).await.unwrap();
    assert_eq!(source, peer.local_addr().unwrap());
    assert_eq!(&packet[..], b"a QUIC packet, say");

    let refreshed = within("refresh", client.refresh()).await.unwrap();
    assert_eq!(refreshed, allocation);
    within("close", client.close(PATIENCE)).await.unwrap();
    eventually("released", || relay.stats().allocations == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_by_itself_and_dropping_releases() {
    let sfu = relay_node(10).await;
    let relay = sfu.relay.clone().unwrap();
    let identity = allowed(&sfu);
    // A 2 s lifetime: refreshed every second, so it outlives its first lifetime.
    let (client, mut packets) = connect(&sfu, &identity, RelayConfig::default().lifetime(Some(2)))
        .await
        .unwrap();
    let inbound = client.allocation().unwrap().inbound;
    eventually("three automatic refreshes", || {
        client.automatic_refreshes() >= 3
    })
    .await;
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    peer.send_to(b"still allocated", inbound).await.unwrap();
    assert_eq!(
        &within("relayed", packets.recv()).await.unwrap().1[..],
        b"still allocated"
    );
    assert_eq!(client.allocation().unwrap().lifetime, 2);
    drop(client);
    eventually("released on drop", || relay.stats().allocations == 0).await;
    // The receiver ends once the driver is gone.
    assert!(within("channel end", packets.recv()).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_errors_are_typed() {
    let sfu = relay_node(1).await;
    let stranger = Identity::self_signed().unwrap();
    let error = connect(&sfu, &stranger, &RelayConfig::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, RelayError::UnknownFingerprint { .. }),
        "{error}"
    );
    assert!(error.is_bad_credential());
    assert_eq!(error.code(), Some(ErrorCode::UNKNOWN_FINGERPRINT));

    let first = allowed(&sfu);
    let (_kept, _rx) = connect(&sfu, &first, &RelayConfig::default())
        .await
        .unwrap();
    let second = allowed(&sfu);
    let error = connect(&sfu, &second, &RelayConfig::default())
        .await
        .unwrap_err();
    assert!(matches!(error, RelayError::QuotaExceeded { .. }), "{error}");
    assert!(!error.is_bad_credential());

    // A relay with another certificate than the pinned one.
    let error = within(
        "connect",
        RelayClient::connect(
            &first,
            sfu.turn2_addr.unwrap(),
            Fingerprint([0; 32]),
            &RelayConfig::default(),
        ),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, RelayError::Handshake { .. }), "{error}");

    for (code, expected) in [
        (1, "MalformedFrame"),
        (3, "FingerprintMismatch"),
        (5, "NoAllocation"),
        (6, "Internal"),
        (99, "Internal"),
    ] {
        let e = RelayError::from_code(ErrorCode(code), "r");
        assert!(format!("{e:?}").starts_with(expected));
        assert_eq!(e.code(), Some(ErrorCode(code)));
    }
    assert!(RelayError::from_code(ErrorCode(3), "").is_bad_credential());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_ends_the_client() {
    let sfu = relay_node(10).await;
    let identity = allowed(&sfu);
    let (client, _packets) = connect(&sfu, &identity, &RelayConfig::default())
        .await
        .unwrap();
    assert!(
        sfu.relay
            .as_ref()
            .unwrap()
            .revoke(&identity.fingerprint().0)
    );
    let reason = within("end", client.closed()).await;
    assert!(matches!(reason, RelayError::Released), "{reason}");
    assert!(client.allocation().is_none());
    assert!(matches!(client.refresh().await, Err(RelayError::Released)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_to_the_outbound_address_when_it_differs() {
    let sfu = relay_node(10).await;
    let relay_addr = sfu.turn2_addr.unwrap();
    // A TCP forwarder in front of the relay: the client connects through it, and the relay's
    // Allocation names its own address as outbound, so the client must move there.
    let front = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front_addr = front.local_addr().unwrap();
    let open = Arc::new(AtomicUsize::new(0));
    let forwarded = Arc::new(AtomicUsize::new(0));
    {
        let (open, forwarded) = (open.clone(), forwarded.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = front.accept().await {
                let (open, forwarded) = (open.clone(), forwarded.clone());
                open.fetch_add(1, Relaxed);
                forwarded.fetch_add(1, Relaxed);
                tokio::spawn(async move {
                    let mut outbound = tokio::net::TcpStream::connect(relay_addr).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    open.fetch_sub(1, Relaxed);
                });
            }
        });
    }
    let identity = allowed(&sfu);
    let (client, mut packets) = within(
        "connect through the front",
        RelayClient::connect(
            &identity,
            front_addr,
            Fingerprint(sfu.fingerprint),
            &RelayConfig::default(),
        ),
    )
    .await
    .unwrap();
    let allocation = client.allocation().unwrap();
    assert_eq!(allocation.outbound, relay_addr);
    // The first connection is closed; datagrams come on the direct one.
    eventually("the forwarded connection closed", || {
        open.load(Relaxed) == 0
    })
    .await;
    assert_eq!(forwarded.load(Relaxed), 1);
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    peer.send_to(b"direct", allocation.inbound).await.unwrap();
    assert_eq!(
        &within("relayed", packets.recv()).await.unwrap().1[..],
        b"direct"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_receiver_drops_and_counts() {
    let sfu = relay_node(10).await;
    let relay = sfu.relay.clone().unwrap();
    let identity = allowed(&sfu);
    let (client, mut packets) = connect(&sfu, &identity, RelayConfig::default().queue_packets(2))
        .await
        .unwrap();
    let inbound = client.allocation().unwrap().inbound;
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for i in 0..5u8 {
        let before = relay.stats().relayed_packets;
        peer.send_to(&[i], inbound).await.unwrap();
        eventually("relayed", || relay.stats().relayed_packets > before).await;
    }
    eventually("three dropped", || client.dropped_packets() == 3).await;
    assert_eq!(&within("first", packets.recv()).await.unwrap().1[..], &[0]);
    assert_eq!(&within("second", packets.recv()).await.unwrap().1[..], &[1]);
    // Room again: the next one arrives.
    peer.send_to(&[9], inbound).await.unwrap();
    assert_eq!(&within("next", packets.recv()).await.unwrap().1[..], &[9]);
}
