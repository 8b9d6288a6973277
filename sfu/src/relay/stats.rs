//! Counters of the TURN2 relay, read by the metrics sampler.

use newmedia_proto::turn2::ErrorCode;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The relay's counters (atomics; the gauges go up and down).
#[derive(Debug, Default)]
pub struct RelayStats {
    connections: AtomicU64,
    allocations: AtomicU64,
    relayed_packets: AtomicU64,
    relayed_bytes: AtomicU64,
    dropped_queue_full: AtomicU64,
    dropped_no_connection: AtomicU64,
    errors: [AtomicU64; 6],
}

/// The values of [`RelayStats`] at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayStatsSnapshot {
    /// Open TLS connections (after the handshake).
    pub connections: u64,
    /// Live allocations.
    pub allocations: u64,
    /// Relayed frames queued to connections (one datagram to two connections counts twice).
    pub relayed_packets: u64,
    /// UDP payload bytes of those frames.
    pub relayed_bytes: u64,
    /// Datagrams not relayed to a connection because its queue was full.
    pub dropped_queue_full: u64,
    /// Datagrams that arrived while the allocation had no connection.
    pub dropped_no_connection: u64,
    /// Error frames sent, by code 1-6 (index 0 = code 1).
    pub errors: [u64; 6],
}

impl RelayStats {
    /// Reads every counter.
    pub fn snapshot(&self) -> RelayStatsSnapshot {
        RelayStatsSnapshot {
            connections: self.connections.load(Relaxed),
            allocations: self.allocations.load(Relaxed),
            relayed_packets: self.relayed_packets.load(Relaxed),
            relayed_bytes: self.relayed_bytes.load(Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Relaxed),
            dropped_no_connection: self.dropped_no_connection.load(Relaxed),
            errors: std::array::from_fn(|i| self.errors.get(i).map_or(0, |c| c.load(Relaxed))),
        }
    }

    pub(super) fn connection_opened(&self) {
        self.connections.fetch_add(1, Relaxed);
    }

    pub(super) fn connection_closed(&self) {
        self.connections.fetch_sub(1, Relaxed);
    }

    /// Takes one allocation from the quota; `false` if it is used up.
    pub(super) fn try_allocate(&self, max: usize) -> bool {
        self.allocations
            .fetch_update(Relaxed, Relaxed, |n| (n < max as u64).then_some(n + 1))
            .is_ok()
    }

    pub(super) fn released(&self) {
        self.allocations.fetch_sub(1, Relaxed);
    }

    pub(super) fn relayed(&self, copies: u64, bytes: u64) {
        self.relayed_packets.fetch_add(copies, Relaxed);
        self.relayed_bytes.fetch_add(copies * bytes, Relaxed);
    }

    pub(super) fn queue_full(&self, n: u64) {
        self.dropped_queue_full.fetch_add(n, Relaxed);
    }

    pub(super) fn no_connection(&self) {
        self.dropped_no_connection.fetch_add(1, Relaxed);
    }

    pub(super) fn error_sent(&self, code: ErrorCode) {
        let index = usize::try_from(code.0.saturating_sub(1))
            .unwrap_or(5)
            .min(5);
        if let Some(c) = self.errors.get(index) {
            c.fetch_add(1, Relaxed);
        }
    }
}
