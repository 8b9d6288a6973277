//! A UDP proxy that drops a seeded random share of datagrams in each direction: the "lossy
//! path" of the end-to-end tests (this machine's kernel has no netem). Clients send to the
//! proxy's address; each client source gets its own upstream socket to the target, so the
//! target sees one address per client and QUIC works unchanged through it.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;

/// Counters of a running proxy.
#[derive(Debug, Default)]
pub struct ProxyStats {
    pub forwarded: AtomicU64,
    pub dropped: AtomicU64,
}

/// A running proxy; stops when dropped.
pub struct LossyProxy {
    pub addr: SocketAddr,
    pub stats: Arc<ProxyStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LossyProxy {
    /// Proxies to `target`, dropping each datagram with probability `loss`.
    pub async fn start(target: SocketAddr, loss: f64, seed: u64) -> Self {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = socket.local_addr().unwrap();
        let stats = Arc::new(ProxyStats::default());
        let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(seed)));
        let task = tokio::spawn(run(socket, target, loss, rng, stats.clone()));
        Self { addr, stats, task }
    }
}

fn keep(rng: &Mutex<StdRng>, loss: f64, stats: &ProxyStats) -> bool {
    let drop = rng.lock().unwrap().gen_bool(loss);
    if drop {
        stats.dropped.fetch_add(1, Relaxed);
    } else {
        stats.forwarded.fetch_add(1, Relaxed);
    }
    !drop
}

async fn run(
    front: Arc<UdpSocket>,
    target: SocketAddr,
    loss: f64,
    rng: Arc<Mutex<StdRng>>,
    stats: Arc<ProxyStats>,
) {
    let mut upstreams: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, client)) = front.recv_from(&mut buf).await else {
            return;
        };
        let upstream = match upstreams.get(&client) {
            Some(u) => u.clone(),
            None => {
                let u = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
                u.connect(target).await.unwrap();
                upstreams.insert(client, u.clone());
                // Replies for this client.
                let (front, u2, rng, stats) =
                    (front.clone(), u.clone(), rng.clone(), stats.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65_536];
                    while let Ok(n) = u2.recv(&mut buf).await {
                        if keep(&rng, loss, &stats) {
                            let _ = front.send_to(&buf[..n], client).await;
                        }
                    }
                });
                u
            }
        };
        if keep(&rng, loss, &stats) {
            let _ = upstream.send(&buf[..n]).await;
        }
    }
}
