//! The shared QUIC/STUN2 socket on real loopback sockets: QUIC through it, the STUN2 responder,
//! DSCP marking on egress, several SO_REUSEPORT endpoints.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use bytes::Bytes;
use newmedia_proto::stun2::{SenderSecret, Stun2Keys, Stun2Request, Stun2Response, TransactionId};
use newmedia_sfu::transport::{
    DSCP_EF, DscpTable, ReceivedStunCheck, SharedUdpSocket, Stun2Responder, Stun2ResponderConfig,
    TransportEndpoints, TransportStats, bind_endpoints,
};
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};
use quinn::{
    AsyncUdpSocket,
    udp::{EcnCodepoint, Transmit},
};
use std::{
    io::IoSliceMut,
    net::{SocketAddr, UdpSocket},
    os::fd::AsRawFd,
    sync::Arc,
    time::Duration,
};

/// Safety net against a hang; no test asserts on how long anything takes.
const GIVE_UP: Duration = Duration::from_secs(20);
const SECRET: &[u8] = b"node secret";

// ---- TLS and QUIC helpers -------------------------------------------------------------------

/// A server config with a fresh self-signed certificate for "localhost", and a client config
/// that trusts exactly that certificate.
fn tls() -> (quinn::ServerConfig, quinn::ClientConfig) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let server = quinn::ServerConfig::with_single_cert(vec![cert.clone()], key.into()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = quinn::ClientConfig::with_root_certificates(Arc::new(roots)).unwrap();
    (server, client)
}

fn stun_config() -> Stun2ResponderConfig {
    let mut config = Stun2ResponderConfig::default();
    config.secret(SECRET);
    config
}

/// A node with `count` endpoints on 127.0.0.1, each echoing every datagram back on every
/// connection it accepts.
fn echo_node(
    count: usize,
    stun: &Stun2ResponderConfig,
) -> (TransportEndpoints, quinn::ClientConfig) {
    let (server, client) = tls();
    let node = bind_endpoints("127.0.0.1:0".parse().unwrap(), count, server, stun).unwrap();
    for endpoint in &node.endpoints {
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            while let Some(incoming) = endpoint.accept().await {
                tokio::spawn(async move {
                    let Ok(connection) = incoming.await else {
                        return;
                    };
                    while let Ok(datagram) = connection.read_datagram().await {
                        let _ = connection.send_datagram(datagram);
                    }
                });
            }
        });
    }
    (node, client)
}

async fn connect(server: SocketAddr, config: &quinn::ClientConfig) -> quinn::Connection {
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    endpoint.set_default_client_config(config.clone());
    endpoint
        .connect(server, "localhost")
        .unwrap()
        .await
        .unwrap()
}

/// Sends `payload` as a datagram and waits for the echo.
async fn echo(connection: &quinn::Connection, payload: &'static [u8]) {
    connection
        .send_datagram(Bytes::from_static(payload))
        .unwrap();
    let back = tokio::time::timeout(GIVE_UP, connection.read_datagram())
        .await
        .expect("echo never came")
        .unwrap();
    assert_eq!(&back[..], payload);
}

// ---- STUN2 helpers --------------------------------------------------------------------------

fn request(secret: &[u8], id: u8, sender_secret: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    Stun2Request {
        transaction_id: TransactionId([id; 12]),
        sender_secret: sender_secret.map(|s| SenderSecret::new(s).unwrap()),
    }
    .encode(&Stun2Keys::new(secret), &mut out);
    out
}

async fn recv_response(client: &tokio::net::UdpSocket) -> Stun2Response {
    let mut buf = [0u8; 1500];
    let (len, _) = tokio::time::timeout(GIVE_UP, client.recv_from(&mut buf))
        .await
        .expect("no STUN2 response")
        .unwrap();
    Stun2Response::decode(&Stun2Keys::new(SECRET), &buf[..len]).unwrap()
}

/// One request/response under the node's secret; returns the response.
async fn round_trip(client: &tokio::net::UdpSocket, server: SocketAddr, id: u8) -> Stun2Response {
    client
        .send_to(&request(SECRET, id, None), server)
        .await
        .unwrap();
    let response = recv_response(client).await;
    assert_eq!(response.transaction_id, TransactionId([id; 12]));
    response
}

/// Two sequential round trips. Everything the client sent before them is then processed *and
/// counted*: the second request is only sent after the first response, so it is read in a
/// later batch than anything sent earlier, and a batch is counted before the next one is read.
/// (The second request's own batch may not be counted yet when its response arrives.)
async fn settle(client: &tokio::net::UdpSocket, server: SocketAddr) {
    round_trip(client, server, 0xF1).await;
    round_trip(client, server, 0xF2).await;
}

// ---- QUIC through the shared socket ---------------------------------------------------------

#[tokio::test]
async fn quic_connection_and_datagrams_flow() {
    let (node, client) = echo_node(1, &stun_config());
    let connection = connect(node.local_addr, &client).await;
    for payload in [&b"first"[..], b"second", &[0x0E; 40], &[0x0F; 40]] {
        // Payloads that look like STUN2 are inside QUIC packets: never taken for STUN2.
        echo(&connection, payload).await;
    }
    let stats = node.stats.snapshot();
    assert!(stats.quic_datagrams_in >= 4, "{stats:?}");
    assert_eq!(stats.stun_requests_answered, 0);
    assert_eq!(stats.unknown_dropped, 0);
}

#[tokio::test]
async fn stun2_request_is_answered_with_the_observed_address() {
    let (tx, mut checks) = tokio::sync::mpsc::channel::<ReceivedStunCheck>(8);
    let mut stun = stun_config();
    stun.observer(Arc::new(tx));
    let (node, client_config) = echo_node(1, &stun);
    let server = node.local_addr;

    // QUIC first, so the STUN2 traffic lands on a socket with a live connection.
    let connection = connect(server, &client_config).await;
    echo(&connection, b"before").await;

    let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let client_addr = client.local_addr().unwrap();
    client
        .send_to(&request(SECRET, 7, Some(b"consent proof")), server)
        .await
        .unwrap();
    let response = recv_response(&client).await;
    assert_eq!(response.transaction_id, TransactionId([7; 12]));
    assert_eq!(response.observed, client_addr);

    let check = checks.recv().await.unwrap();
    assert_eq!(check.from, client_addr);
    assert_eq!(check.transaction_id, TransactionId([7; 12]));
    assert_eq!(check.sender_secret.as_bytes(), b"consent proof");
    assert!(check.authenticated);
    assert_eq!(check.local_ip, Some("127.0.0.1".parse().unwrap()));

    // A wrong secret, a public-secret request (not a public server), a STUN2 response, junk
    // and an empty datagram: no answers (the next datagram the client gets is the settle
    // round trip's response), all counted.
    for datagram in [
        request(b"wrong secret", 8, None),
        request(b"", 9, None),
        {
            let mut out = Vec::new();
            Stun2Response {
                transaction_id: TransactionId([10; 12]),
                observed: client_addr,
            }
            .encode(&Stun2Keys::new(SECRET), &mut out);
            out
        },
        vec![0x00, 0x01, 0x00, 0x00],
        vec![0x16, 0xFE, 0xFD],
        Vec::new(),
    ] {
        client.send_to(&datagram, server).await.unwrap();
    }
    settle(&client, server).await;

    let stats = node.stats.snapshot();
    // Request 7 and the first settle request are counted; the last one's batch may not be
    // yet.
    assert!(matches!(stats.stun_requests_answered, 2 | 3), "{stats:?}");
    assert_eq!(stats.stun_bad, 2);
    assert_eq!(stats.stun_responses_dropped, 1);
    assert_eq!(stats.unknown_dropped, 3);
    assert_eq!(stats.stun_checks_observed, 1);
    assert_eq!(stats.stun_response_send_dropped, 0);
    assert!(
        checks.try_recv().is_err(),
        "only the request with a secret is reported"
    );

    // QUIC carries on, on the same connection and on a new one.
    echo(&connection, b"after").await;
    let second = connect(server, &client_config).await;
    echo(&second, b"new connection").await;
}

#[tokio::test]
async fn public_server_answers_the_empty_secret() {
    let mut stun = stun_config();
    stun.public_server(true);
    let (node, _) = echo_node(1, &stun);
    let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client
        .send_to(&request(b"", 3, None), node.local_addr)
        .await
        .unwrap();
    let mut buf = [0u8; 1500];
    let (len, from) = client.recv_from(&mut buf).await.unwrap();
    assert_eq!(from, node.local_addr);
    let response = Stun2Response::decode(&Stun2Keys::public(), &buf[..len]).unwrap();
    assert_eq!(response.transaction_id, TransactionId([3; 12]));
    assert_eq!(response.observed, client.local_addr().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_reuseport_endpoints_serve_clients() {
    let (node, client_config) = echo_node(3, &stun_config());
    assert_eq!(node.endpoints.len(), 3);
    for endpoint in &node.endpoints {
        assert_eq!(endpoint.local_addr().unwrap(), node.local_addr);
    }
    let mut clients = Vec::new();
    for _ in 0..8 {
        let config = client_config.clone();
        let server = node.local_addr;
        clients.push(tokio::spawn(async move {
            let connection = connect(server, &config).await;
            echo(&connection, b"hello").await;
            connection
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    // STUN2 works on whichever socket a client hashes to.
    let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let response = round_trip(&client, node.local_addr, 1).await;
    assert_eq!(response.observed, client.local_addr().unwrap());
}

// ---- DSCP -----------------------------------------------------------------------------------

/// A blocking loopback receiver that reports the TOS / traffic-class byte of each datagram.
struct TosReceiver(UdpSocket);

impl TosReceiver {
    fn bind(addr: &str) -> Option<Self> {
        let socket = UdpSocket::bind(addr).ok()?;
        if socket.local_addr().ok()?.is_ipv6() {
            setsockopt(&socket, sockopt::Ipv6RecvTClass, &true).unwrap();
        } else {
            setsockopt(&socket, sockopt::IpRecvTos, &true).unwrap();
        }
        socket.set_read_timeout(Some(GIVE_UP)).unwrap();
        Some(Self(socket))
    }

    fn addr(&self) -> SocketAddr {
        self.0.local_addr().unwrap()
    }

    /// The next datagram and its TOS byte.
    fn recv(&self) -> (Vec<u8>, u8) {
        let mut buf = [0u8; 2048];
        let mut cmsg = nix::cmsg_space!(i32, i32);
        let (len, tos) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = recvmsg::<SockaddrStorage>(
                self.0.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::empty(),
            )
            .expect("no datagram");
            let tos = msg.cmsgs().unwrap().find_map(|c| match c {
                ControlMessageOwned::Ipv4Tos(tos) => Some(tos),
                ControlMessageOwned::Ipv6TClass(class) => Some(class as u8),
                _ => None,
            });
            (msg.bytes, tos.expect("no TOS control message"))
        };
        (buf[..len].to_vec(), tos)
    }
}

fn shared_socket(addr: &str) -> Option<(Arc<SharedUdpSocket>, DscpTable, Arc<TransportStats>)> {
    let socket = UdpSocket::bind(addr).ok()?;
    let dscp = DscpTable::new();
    let stats = Arc::new(TransportStats::new());
    let responder = Arc::new(Stun2Responder::new(&stun_config()));
    let shared = SharedUdpSocket::new(socket, responder, dscp.clone(), stats.clone()).unwrap();
    Some((Arc::new(shared), dscp, stats))
}

/// `try_send`, waiting on the socket's `UdpPoller` when it says `WouldBlock` (as quinn does;
/// tokio learns a new socket is writable on its first reactor turn).
async fn send(socket: &Arc<SharedUdpSocket>, transmit: &Transmit<'_>) {
    let mut poller = socket.clone().create_io_poller();
    loop {
        match socket.try_send(transmit) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::future::poll_fn(|cx| poller.as_mut().poll_writable(cx))
                    .await
                    .unwrap();
            }
            Err(e) => panic!("send failed: {e}"),
        }
    }
}

fn transmit(to: SocketAddr, ecn: Option<EcnCodepoint>, contents: &[u8]) -> Transmit<'_> {
    Transmit {
        destination: to,
        ecn,
        contents,
        segment_size: None,
        src_ip: None,
    }
}

/// Marks, ECN, GSO and clearing, from a shared socket bound to `server_addr` to `receiver`,
/// which the socket addresses as `to` (its own address, or an IPv4-mapped spelling of it).
async fn check_marking(server_addr: &str, receiver: TosReceiver, to: SocketAddr) {
    let Some((socket, dscp, stats)) = shared_socket(server_addr) else {
        eprintln!("skipping: cannot bind {server_addr} here");
        return;
    };

    // No DSCP: quinn-udp's own send, ECN only.
    send(&socket, &transmit(to, Some(EcnCodepoint::Ect0), b"plain")).await;
    assert_eq!(receiver.recv(), (b"plain".to_vec(), 0b10));

    // EF without and with ECN. The table is keyed by the receiver's canonical address.
    dscp.set(receiver.addr(), DSCP_EF);
    send(&socket, &transmit(to, None, b"ef")).await;
    assert_eq!(receiver.recv(), (b"ef".to_vec(), 0xB8));
    send(&socket, &transmit(to, Some(EcnCodepoint::Ect0), b"ef+ect0")).await;
    assert_eq!(receiver.recv(), (b"ef+ect0".to_vec(), 0xBA));

    // A GSO transmit: three segments, each arrives marked.
    if socket.max_transmit_segments() > 1 {
        let contents: Vec<u8> = [[1u8; 100], [2; 100]]
            .concat()
            .into_iter()
            .chain([3; 40])
            .collect();
        let mut batch = transmit(to, Some(EcnCodepoint::Ect1), &contents);
        batch.segment_size = Some(100);
        send(&socket, &batch).await;
        for (fill, len) in [(1u8, 100), (2, 100), (3, 40)] {
            assert_eq!(receiver.recv(), (vec![fill; len], 0xB9));
        }
    }
    assert!(stats.snapshot().dscp_transmits >= 2);

    // AF41 (34) replaces EF; clearing goes back to ECN only.
    dscp.set(to, 34);
    send(&socket, &transmit(to, None, b"af41")).await;
    assert_eq!(receiver.recv(), (b"af41".to_vec(), 34 << 2));
    dscp.clear(receiver.addr());
    send(&socket, &transmit(to, Some(EcnCodepoint::Ce), b"cleared")).await;
    assert_eq!(receiver.recv(), (b"cleared".to_vec(), 0b11));
    assert_eq!(stats.snapshot().send_errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dscp_is_written_on_ipv4() {
    let receiver = TosReceiver::bind("127.0.0.1:0").unwrap();
    let to = receiver.addr();
    check_marking("127.0.0.1:0", receiver, to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dscp_is_written_on_ipv6() {
    let Some(receiver) = TosReceiver::bind("[::1]:0") else {
        eprintln!("skipping: no IPv6 loopback here");
        return;
    };
    let to = receiver.addr();
    check_marking("[::1]:0", receiver, to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dscp_is_written_from_an_ipv6_socket_to_an_ipv4_mapped_peer() {
    // An IPv6 socket on the IPv4-mapped loopback address talking to a plain IPv4 peer: the
    // kernel takes IP_TOS there (not IPV6_TCLASS), as quinn-udp assumes.
    let receiver = TosReceiver::bind("127.0.0.1:0").unwrap();
    let to: SocketAddr = format!("[::ffff:127.0.0.1]:{}", receiver.addr().port())
        .parse()
        .unwrap();
    check_marking("[::ffff:127.0.0.1]:0", receiver, to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stun2_responses_carry_the_destination_dscp() {
    let (node, _) = echo_node(1, &stun_config());
    let receiver = TosReceiver::bind("127.0.0.1:0").unwrap();
    node.dscp.set(receiver.addr(), DSCP_EF);
    receiver
        .0
        .send_to(&request(SECRET, 5, None), node.local_addr)
        .unwrap();
    let (datagram, tos) = tokio::task::spawn_blocking(move || receiver.recv())
        .await
        .unwrap();
    assert_eq!(tos, 0xB8);
    let response = Stun2Response::decode(&Stun2Keys::new(SECRET), &datagram).unwrap();
    assert_eq!(response.transaction_id, TransactionId([5; 12]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_with_dscp_set_still_works() {
    // Once the client's address is marked, all the server's packets to it take the DSCP path.
    let (node, client_config) = echo_node(1, &stun_config());
    let mut client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    client.set_default_client_config(client_config);
    node.dscp.set(client.local_addr().unwrap(), DSCP_EF);
    let connection = client
        .connect(node.local_addr, "localhost")
        .unwrap()
        .await
        .unwrap();
    for _ in 0..5 {
        echo(&connection, b"marked").await;
    }
    let stats = node.stats.snapshot();
    assert!(stats.dscp_transmits >= 5, "{stats:?}");
    assert_eq!(stats.send_errors, 0);
}

// ---- GRO on a real socket -------------------------------------------------------------------

/// Linux hands a GSO send over loopback to a UDP_GRO socket as one coalesced buffer, so a
/// STUN2 request in the middle of a real GRO batch can be produced here: the socket must
/// answer it and give quinn the two QUIC segments around it, with a uniform stride.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stun2_request_inside_a_gro_batch_is_answered_and_removed() {
    use nix::sys::socket::{ControlMessage, sendmsg};
    use quinn::udp::RecvMeta;

    let (socket, _, stats) = shared_socket("127.0.0.1:0").unwrap();
    let socket_addr = socket.local_addr().unwrap();
    let client = TosReceiver::bind("127.0.0.1:0").unwrap();

    let stun = request(SECRET, 0x42, None);
    let stride = stun.len();
    let first_quic = vec![0x41; stride];
    let last_quic = vec![0x42; stride - 3];
    let batch = [first_quic.clone(), stun, last_quic.clone()].concat();
    let segment = u16::try_from(stride).unwrap();
    sendmsg(
        client.0.as_raw_fd(),
        &[std::io::IoSlice::new(&batch)],
        &[ControlMessage::UdpGsoSegments(&segment)],
        MsgFlags::empty(),
        Some(&SockaddrStorage::from(socket_addr)),
    )
    .unwrap();

    // Read until both QUIC datagrams are in (one GRO batch, or three plain datagrams where the
    // kernel does not coalesce).
    let mut storage = vec![0u8; 2 * 65536];
    let (a, b) = storage.split_at_mut(65536);
    let mut bufs = [IoSliceMut::new(a), IoSliceMut::new(b)];
    let mut metas = [RecvMeta::default(); 2];
    let mut quic = Vec::new();
    let mut saw_gro = false;
    while quic.len() < 2 {
        let n = tokio::time::timeout(
            GIVE_UP,
            std::future::poll_fn(|cx| socket.poll_recv(cx, &mut bufs, &mut metas)),
        )
        .await
        .expect("QUIC segments never came")
        .unwrap();
        for (buf, meta) in bufs.iter().zip(&metas).take(n) {
            saw_gro |= meta.len > meta.stride;
            assert_eq!(meta.addr, client.addr());
            quic.extend(buf[..meta.len].chunks(meta.stride).map(<[u8]>::to_vec));
        }
    }
    assert_eq!(quic, [first_quic, last_quic]);
    if socket.max_receive_segments() > 1 {
        assert!(
            saw_gro,
            "the kernel did not coalesce; the test checked the plain path only"
        );
    }

    // The request was answered to the client.
    let (response, _) = tokio::task::spawn_blocking(move || client.recv())
        .await
        .unwrap();
    let response = Stun2Response::decode(&Stun2Keys::new(SECRET), &response).unwrap();
    assert_eq!(response.transaction_id, TransactionId([0x42; 12]));
    let stats = stats.snapshot();
    assert_eq!(
        (stats.quic_datagrams_in, stats.stun_requests_answered),
        (2, 1)
    );
}
