//! The node's TURN2 relay (draft §3.3, PROTOCOL.md §8): clients that cannot receive UDP
//! directly hold a TLS-over-TCP connection to the node and get every datagram that reaches
//! their allocation's inbound UDP address as a Relayed frame, with its source address.
//!
//! - [`Relay`] is the shared state: the fingerprints the controller registered (admin API
//!   `PUT/DELETE /v1/relay/fingerprints/{hex}`), one `client` entry per fingerprint with its
//!   open connections and its allocation, the quota and the counters.
//! - `serve` accepts TCP connections on `turn2_listen`, runs TLS 1.3 with the node's
//!   certificate (client certificate required) and one `connection` task per client.
//! - Each allocation owns one UDP socket bound to an ephemeral port of `turn2_inbound_ip`
//!   and one task (`allocation`) that relays what arrives and expires the allocation.
//!
//! Buffering is bounded: each connection has a queue of [`RelayConfig::queue_frames`] Relayed
//! frames; when it is full the datagram is dropped for that connection and counted, and the
//! inbound socket is never blocked. The relay never sends UDP: "the client can not send from
//! the TURN2 server".
//!
//! What it does not do: relay for fingerprints nobody registered, send through an allocation,
//! or persist allocations across restarts.

mod allocation;
mod client;
mod connection;
mod stats;

pub use stats::{RelayStats, RelayStatsSnapshot};

use crate::admission::tls::{Identity, TlsError, tcp_server_config};
use client::Client;
use dashmap::{DashMap, DashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::net::TcpListener;

/// Why the relay could not start.
#[derive(Debug, Error)]
pub enum RelayError {
    /// Binding the TCP listener.
    #[error("cannot listen for TURN2 on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS configuration.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Settings of the relay. `Default` relays on loopback; every setter documents its default
/// and unit.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    inbound_ip: IpAddr,
    public_ip: Option<IpAddr>,
    max_allocations: usize,
    default_lifetime: u32,
    max_lifetime: u32,
    queue_frames: usize,
    handshake_timeout: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            inbound_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            public_ip: None,
            max_allocations: 1000,
            default_lifetime: newmedia_proto::turn2::DEFAULT_LIFETIME_SECS,
            max_lifetime: 3600,
            queue_frames: 512,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

impl RelayConfig {
    /// The IP the allocations' inbound UDP sockets bind to, each on an ephemeral port.
    /// Default 127.0.0.1.
    pub fn inbound_ip(&mut self, ip: IpAddr) -> &mut Self {
        self.inbound_ip = ip;
        self
    }

    /// The IP written into Allocation frames for both the inbound and the outbound address,
    /// when the node is reached through another address than it binds (NAT, a Kubernetes
    /// service). Default: none, the bound addresses are used.
    pub fn public_ip(&mut self, ip: Option<IpAddr>) -> &mut Self {
        self.public_ip = ip;
        self
    }

    /// Live allocations at most, over all clients; a Register beyond it gets Error 4
    /// (quota exceeded). Default 1000.
    pub fn max_allocations(&mut self, allocations: usize) -> &mut Self {
        self.max_allocations = allocations;
        self
    }

    /// Lifetime granted when a client asks for none, seconds. Default 600.
    pub fn default_lifetime(&mut self, secs: u32) -> &mut Self {
        self.default_lifetime = secs.max(1);
        self
    }

    /// Longest lifetime granted, seconds; longer requests get this. Default 3600.
    pub fn max_lifetime(&mut self, secs: u32) -> &mut Self {
        self.max_lifetime = secs.max(1);
        self
    }

    /// Relayed frames queued per connection before new ones are dropped. Default 512.
    pub fn queue_frames(&mut self, frames: usize) -> &mut Self {
        self.queue_frames = frames.max(1);
        self
    }

    /// Time a new TCP connection has for its TLS handshake. Default 10 s.
    pub fn handshake_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The lifetime granted for a request of `requested` seconds (`None`: the default).
    fn grant(&self, requested: Option<u32>) -> u32 {
        requested
            .unwrap_or(self.default_lifetime)
            .min(self.max_lifetime)
    }
}

/// The relay's shared state; a cheap handle (clones share it).
#[derive(Debug, Clone)]
pub struct Relay {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: RelayConfig,
    /// The service address written as outbound into Allocation frames.
    outbound: SocketAddr,
    /// Fingerprints that may allocate.
    allowed: DashSet<[u8; 32]>,
    /// Clients with an open connection or a live allocation.
    clients: DashMap<[u8; 32], Arc<Client>>,
    stats: RelayStats,
}

impl Relay {
    /// A relay whose Allocation frames name `outbound` (its TLS service address, or the
    /// configured public IP with that port).
    fn new(config: RelayConfig, listening: SocketAddr) -> Self {
        let outbound =
            SocketAddr::new(config.public_ip.unwrap_or(listening.ip()), listening.port());
        Self {
            inner: Arc::new(Inner {
                config,
                outbound,
                allowed: DashSet::new(),
                clients: DashMap::new(),
                stats: RelayStats::default(),
            }),
        }
    }

    /// The outbound (service) address clients are told to connect to.
    pub fn outbound(&self) -> SocketAddr {
        self.inner.outbound
    }

    /// Lets the client certificate with `fingerprint` allocate. Returns `false` if it could
    /// already.
    pub fn allow(&self, fingerprint: [u8; 32]) -> bool {
        self.inner.allowed.insert(fingerprint)
    }

    /// Withdraws `fingerprint`: its allocation is released and its connections are closed.
    /// Returns `false` if it was not registered.
    pub fn revoke(&self, fingerprint: &[u8; 32]) -> bool {
        let known = self.inner.allowed.remove(fingerprint).is_some();
        if let Some(client) = self.client(fingerprint) {
            client.release(&self.inner.stats);
            client.close_connections();
        }
        known
    }

    /// Whether `fingerprint` may allocate.
    pub fn is_allowed(&self, fingerprint: &[u8; 32]) -> bool {
        self.inner.allowed.contains(fingerprint)
    }

    /// The inbound address of `fingerprint`'s live allocation, if any.
    pub fn allocation_of(&self, fingerprint: &[u8; 32]) -> Option<SocketAddr> {
        self.client(fingerprint).and_then(|c| c.inbound())
    }

    /// The relay's counters.
    pub fn stats(&self) -> RelayStatsSnapshot {
        self.inner.stats.snapshot()
    }

    fn client(&self, fingerprint: &[u8; 32]) -> Option<Arc<Client>> {
        self.inner.clients.get(fingerprint).map(|c| c.clone())
    }

    /// The client entry of `fingerprint`, created if needed.
    fn client_entry(&self, fingerprint: [u8; 32]) -> Arc<Client> {
        self.inner
            .clients
            .entry(fingerprint)
            .or_insert_with(|| Arc::new(Client::new(fingerprint, self.inner.outbound)))
            .clone()
    }

    /// Forgets a client entry that has neither connections nor an allocation.
    fn tidy(&self, fingerprint: &[u8; 32]) {
        self.inner
            .clients
            .remove_if(fingerprint, |_, client| client.is_idle());
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it: every critical
/// section here leaves its data consistent.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running relay: its state and its listening address.
#[derive(Debug)]
pub struct RunningRelay {
    /// The shared state (for the admin API).
    pub relay: Relay,
    /// The TCP address it listens on (with the real port when 0 was asked).
    pub local_addr: SocketAddr,
    /// The accept loop.
    pub task: tokio::task::JoinHandle<()>,
}

/// Binds `listen` and serves TURN2 with the node's `identity` until the task is aborted.
pub async fn start(
    listen: SocketAddr,
    config: RelayConfig,
    identity: &Identity,
) -> Result<RunningRelay, RelayError> {
    let tls = tokio_rustls::TlsAcceptor::from(tcp_server_config(identity)?);
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| RelayError::Listen {
            addr: listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| RelayError::Listen {
        addr: listen,
        source,
    })?;
    let relay = Relay::new(config, local_addr);
    let task = tokio::spawn(serve(relay.clone(), listener, tls));
    Ok(RunningRelay {
        relay,
        local_addr,
        task,
    })
}

/// Accepts TCP connections and runs each one's TLS handshake and session on its own task.
async fn serve(relay: Relay, listener: TcpListener, tls: tokio_rustls::TlsAcceptor) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // EMFILE and friends: keep serving the connections we have.
                tracing::warn!(%error, "TURN2 accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(connection::run(relay.clone(), tls.clone(), tcp, peer));
    }
}
