//! `bind_reuseport`: several sockets on one loopback port, and the kernel spreading clients.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use newmedia_sfu::transport::bind_reuseport;
use std::{collections::HashSet, io::ErrorKind, net::SocketAddr, time::Duration};

/// Safety net against a hang; no test asserts on how long anything takes.
const GIVE_UP: Duration = Duration::from_secs(20);

#[test]
fn n_nonblocking_sockets_share_one_port() {
    let sockets = bind_reuseport("127.0.0.1:0".parse().unwrap(), 4).unwrap();
    assert_eq!(sockets.len(), 4);
    let addrs: HashSet<SocketAddr> = sockets.iter().map(|s| s.local_addr().unwrap()).collect();
    assert_eq!(addrs.len(), 1, "all on one address: {addrs:?}");
    let addr = *addrs.iter().next().unwrap();
    assert_ne!(addr.port(), 0);
    let mut buf = [0u8; 16];
    for socket in &sockets {
        let error = socket.recv_from(&mut buf).unwrap_err();
        assert_eq!(
            error.kind(),
            ErrorKind::WouldBlock,
            "sockets are non-blocking"
        );
    }
    // The group can grow on the now-known port.
    let more = bind_reuseport(addr, 2).unwrap();
    assert_eq!(more[1].local_addr().unwrap(), addr);
}

#[test]
fn zero_sockets_is_an_error_and_a_taken_port_is_refused() {
    let error = bind_reuseport("127.0.0.1:0".parse().unwrap(), 0).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    // A socket bound without SO_REUSEPORT keeps the port to itself.
    let plain = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let error = bind_reuseport(plain.local_addr().unwrap(), 1).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AddrInUse);
}

#[tokio::test]
async fn the_kernel_spreads_clients_over_the_sockets() {
    const SOCKETS: usize = 4;
    const CLIENTS: usize = 64;
    let sockets = bind_reuseport("127.0.0.1:0".parse().unwrap(), SOCKETS).unwrap();
    let server = sockets[0].local_addr().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for (index, socket) in sockets.into_iter().enumerate() {
        let socket = tokio::net::UdpSocket::from_std(socket).unwrap();
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 16];
            while let Ok((_, from)) = socket.recv_from(&mut buf).await {
                let _ = tx.send((index, from));
            }
        });
    }
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.send_to(b"hi", server).await.unwrap();
        clients.push(client);
    }
    let mut per_socket = [0usize; SOCKETS];
    let mut senders = HashSet::new();
    while senders.len() < CLIENTS {
        let (index, from) = tokio::time::timeout(GIVE_UP, rx.recv())
            .await
            .expect("datagrams lost")
            .unwrap();
        per_socket[index] += 1;
        senders.insert(from);
    }
    // By 4-tuple hash: all 64 clients on one socket has probability 4^-63.
    let used = per_socket.iter().filter(|&&n| n > 0).count();
    assert!(used >= 2, "one socket took every client: {per_socket:?}");
}
