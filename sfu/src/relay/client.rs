//! One relay client, named by its certificate fingerprint: its open connections and its
//! allocation. Control path only, apart from [`Client::relay`], which the allocation's task
//! calls per inbound datagram.

use super::lock;
use super::stats::RelayStats;
use super::{Relay, allocation};
use bytes::Bytes;
use newmedia_proto::turn2::{ErrorCode, Turn2Frame};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

/// How the relay reaches one connection's writer.
#[derive(Debug, Clone)]
pub(super) struct ConnHandle {
    pub(super) id: u64,
    /// Allocation and Error frames (the connection's reader awaits room here).
    pub(super) control: mpsc::Sender<Bytes>,
    /// Relayed frames (never awaited: full means dropped).
    pub(super) relayed: mpsc::Sender<Bytes>,
    /// Asks the connection to close (its fingerprint was revoked).
    pub(super) close: Arc<Notify>,
}

/// An allocation's expiry, shared by the client and the allocation's task.
#[derive(Debug)]
pub(super) struct Expiry {
    deadline: Mutex<Instant>,
    /// Wakes the task to re-read the deadline after a refresh.
    pub(super) changed: Notify,
}

impl Expiry {
    pub(super) fn deadline(&self) -> Instant {
        *lock(&self.deadline)
    }
}

#[derive(Debug)]
struct Allocation {
    id: u64,
    /// The advertised inbound address.
    inbound: SocketAddr,
    expiry: Arc<Expiry>,
    task: tokio::task::JoinHandle<()>,
}

/// One fingerprint's connections and allocation.
#[derive(Debug)]
pub(super) struct Client {
    pub(super) fingerprint: [u8; 32],
    /// The relay's outbound address, for the Allocation frames sent on release.
    outbound: SocketAddr,
    connections: Mutex<Vec<ConnHandle>>,
    allocation: Mutex<Option<Allocation>>,
}

static NEXT_ALLOCATION: AtomicU64 = AtomicU64::new(1);

fn seconds(lifetime: u32) -> std::time::Duration {
    std::time::Duration::from_secs(u64::from(lifetime))
}

impl Client {
    pub(super) fn new(fingerprint: [u8; 32], outbound: SocketAddr) -> Self {
        Self {
            fingerprint,
            outbound,
            connections: Mutex::new(Vec::new()),
            allocation: Mutex::new(None),
        }
    }

    /// Adds a connection (once).
    pub(super) fn join(&self, handle: &ConnHandle) {
        let mut connections = lock(&self.connections);
        if !connections.iter().any(|c| c.id == handle.id) {
            connections.push(handle.clone());
        }
    }

    /// Removes a connection.
    pub(super) fn leave(&self, id: u64) {
        lock(&self.connections).retain(|c| c.id != id);
    }

    /// No connection and no allocation: the entry can go.
    pub(super) fn is_idle(&self) -> bool {
        lock(&self.connections).is_empty() && lock(&self.allocation).is_none()
    }

    /// The live allocation's advertised inbound address.
    pub(super) fn inbound(&self) -> Option<SocketAddr> {
        lock(&self.allocation).as_ref().map(|a| a.inbound)
    }

    /// The allocation for a Register: the existing one with a renewed lifetime, or a new one
    /// (quota, a fresh inbound socket). Returns its inbound address and lifetime.
    pub(super) async fn allocate(
        self: &Arc<Self>,
        relay: &Relay,
        requested: Option<u32>,
    ) -> Result<(SocketAddr, u32), ErrorCode> {
        let config = &relay.inner.config;
        let lifetime = config.grant(requested);
        if let Some(renewed) = self.renew(lifetime) {
            return Ok((renewed, lifetime));
        }
        if lifetime == 0 {
            // A Register asking for nothing: nothing to keep.
            return Err(ErrorCode::NO_ALLOCATION);
        }
        if !relay.inner.stats.try_allocate(config.max_allocations) {
            return Err(ErrorCode::QUOTA_EXCEEDED);
        }
        let socket = match tokio::net::UdpSocket::bind(SocketAddr::new(config.inbound_ip, 0)).await
        {
            Ok(socket) => socket,
            Err(error) => {
                tracing::warn!(%error, "cannot bind a TURN2 inbound socket");
                relay.inner.stats.released();
                return Err(ErrorCode::INTERNAL);
            }
        };
        let bound = socket.local_addr().map_err(|_| ErrorCode::INTERNAL)?;
        let inbound = SocketAddr::new(config.public_ip.unwrap_or(bound.ip()), bound.port());
        let expiry = Arc::new(Expiry {
            deadline: Mutex::new(Instant::now() + seconds(lifetime)),
            changed: Notify::new(),
        });
        let id = NEXT_ALLOCATION.fetch_add(1, Relaxed);
        let mut slot = lock(&self.allocation);
        if let Some(existing) = slot.as_ref() {
            // A concurrent Register of another connection won: use its allocation.
            let inbound = existing.inbound;
            drop(slot);
            relay.inner.stats.released();
            let _ = self.renew(lifetime);
            return Ok((inbound, lifetime));
        }
        let task = tokio::spawn(allocation::run(
            relay.clone(),
            self.clone(),
            id,
            socket,
            expiry.clone(),
        ));
        *slot = Some(Allocation {
            id,
            inbound,
            expiry,
            task,
        });
        tracing::info!(%inbound, lifetime, "TURN2 allocation");
        Ok((inbound, lifetime))
    }

    /// Sets the live allocation's lifetime from now; its inbound address, or `None` if there
    /// is no allocation.
    pub(super) fn renew(&self, lifetime: u32) -> Option<SocketAddr> {
        let slot = lock(&self.allocation);
        let allocation = slot.as_ref()?;
        *lock(&allocation.expiry.deadline) = Instant::now() + seconds(lifetime);
        allocation.expiry.changed.notify_one();
        Some(allocation.inbound)
    }

    /// Releases the allocation (Refresh 0, expiry, revocation): stops relaying, frees the
    /// quota, and tells every connection with an Allocation of lifetime 0. Returns whether
    /// there was one.
    pub(super) fn release(&self, stats: &RelayStats) -> bool {
        let Some(allocation) = lock(&self.allocation).take() else {
            return false;
        };
        self.finish_release(allocation, stats);
        true
    }

    /// Releases the allocation only if it is still `id` (an expiring task must not release
    /// its successor).
    pub(super) fn release_if(&self, id: u64, stats: &RelayStats) {
        let allocation = {
            let mut slot = lock(&self.allocation);
            if slot.as_ref().is_none_or(|a| a.id != id) {
                return;
            }
            slot.take()
        };
        if let Some(allocation) = allocation {
            self.finish_release(allocation, stats);
        }
    }

    fn finish_release(&self, allocation: Allocation, stats: &RelayStats) {
        allocation.task.abort();
        stats.released();
        tracing::info!(inbound = %allocation.inbound, "TURN2 allocation released");
        let released = encode(&Turn2Frame::Allocation {
            inbound: allocation.inbound,
            outbound: self.outbound,
            lifetime: 0,
        });
        for connection in lock(&self.connections).iter() {
            let _ = connection.control.try_send(released.clone());
        }
    }

    /// Asks every connection to close.
    pub(super) fn close_connections(&self) {
        for connection in lock(&self.connections).iter() {
            connection.close.notify_one();
        }
    }

    /// Queues one inbound datagram as a Relayed frame on every connection. Never waits.
    pub(super) fn relay(&self, source: SocketAddr, packet: &[u8], stats: &RelayStats) {
        let frame = encode(&Turn2Frame::Relayed { source, packet });
        let connections = lock(&self.connections);
        if connections.is_empty() {
            stats.no_connection();
            return;
        }
        let mut queued = 0;
        let mut full = 0;
        for connection in connections.iter() {
            match connection.relayed.try_send(frame.clone()) {
                Ok(()) => queued += 1,
                Err(_) => full += 1,
            }
        }
        drop(connections);
        stats.relayed(queued, packet.len() as u64);
        if full > 0 {
            stats.queue_full(full);
        }
    }
}

/// A frame's bytes. Frames built here always encode (addresses and lifetimes are in range,
/// packets are at most one UDP payload).
pub(super) fn encode(frame: &Turn2Frame<'_>) -> Bytes {
    let mut out = Vec::new();
    let _ = frame.encode(&mut out);
    Bytes::from(out)
}
