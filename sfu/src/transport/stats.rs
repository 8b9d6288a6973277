//! Counters of the shared sockets, read by the metrics layer.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters shared by every [`SharedUdpSocket`](super::SharedUdpSocket) of a node (one
/// `Arc<TransportStats>` for all its endpoints). Plain atomics, so this module does not depend on
/// a metrics library; [`snapshot`](Self::snapshot) reads them all.
///
/// Per-datagram counters are added once per received batch, not once per datagram, so sockets
/// on different cores do not fight over the cache line on every packet.
#[derive(Debug, Default)]
pub struct TransportStats {
    quic_datagrams_in: AtomicU64,
    stun_requests_answered: AtomicU64,
    stun_bad: AtomicU64,
    stun_response_send_dropped: AtomicU64,
    stun_checks_observed: AtomicU64,
    stun_checks_observer_dropped: AtomicU64,
    stun_responses_dropped: AtomicU64,
    unknown_dropped: AtomicU64,
    dscp_transmits: AtomicU64,
    send_errors: AtomicU64,
}

/// The values of [`TransportStats`] at one moment. All counters only grow.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TransportStatsSnapshot {
    /// QUIC datagrams handed to quinn (each GRO segment counts once).
    pub quic_datagrams_in: u64,
    /// STUN2 requests that decoded and were answered (the answer may still have been dropped,
    /// see `stun_response_send_dropped`).
    pub stun_requests_answered: u64,
    /// STUN2 requests that did not decode under any configured key: wrong secret, corrupted,
    /// malformed. Dropped silently, as the protocol requires.
    pub stun_bad: u64,
    /// STUN2 responses not sent because the socket was full (`WouldBlock`) or the send failed.
    pub stun_response_send_dropped: u64,
    /// Requests with a sender secret handed to the [`StunObserver`](super::StunObserver).
    pub stun_checks_observed: u64,
    /// Requests with a sender secret the observer refused (for a channel: full or closed).
    pub stun_checks_observer_dropped: u64,
    /// STUN2 responses received: a server never sends requests, so these are dropped.
    pub stun_responses_dropped: u64,
    /// Datagrams that are neither STUN2 nor QUIC, dropped.
    pub unknown_dropped: u64,
    /// Transmits sent with a DSCP from the [`DscpTable`](super::DscpTable) (one per
    /// `try_send`, which may carry several GSO segments).
    pub dscp_transmits: u64,
    /// Sends that failed with an error other than `WouldBlock` on the DSCP path (logged at
    /// debug level and otherwise ignored, as quinn-udp does: UDP is unreliable anyway).
    pub send_errors: u64,
}

impl TransportStats {
    /// All counters at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads every counter (each one atomically; the set is not one atomic snapshot).
    pub fn snapshot(&self) -> TransportStatsSnapshot {
        TransportStatsSnapshot {
            quic_datagrams_in: self.quic_datagrams_in.load(Relaxed),
            stun_requests_answered: self.stun_requests_answered.load(Relaxed),
            stun_bad: self.stun_bad.load(Relaxed),
            stun_response_send_dropped: self.stun_response_send_dropped.load(Relaxed),
            stun_checks_observed: self.stun_checks_observed.load(Relaxed),
            stun_checks_observer_dropped: self.stun_checks_observer_dropped.load(Relaxed),
            stun_responses_dropped: self.stun_responses_dropped.load(Relaxed),
            unknown_dropped: self.unknown_dropped.load(Relaxed),
            dscp_transmits: self.dscp_transmits.load(Relaxed),
            send_errors: self.send_errors.load(Relaxed),
        }
    }

    pub(crate) fn add_batch(&self, batch: &BatchCounts) {
        add(&self.quic_datagrams_in, batch.quic);
        add(&self.stun_requests_answered, batch.stun_answered);
        add(&self.stun_bad, batch.stun_bad);
        add(&self.stun_response_send_dropped, batch.stun_send_dropped);
        add(&self.stun_checks_observed, batch.checks_observed);
        add(
            &self.stun_checks_observer_dropped,
            batch.checks_observer_dropped,
        );
        add(&self.stun_responses_dropped, batch.stun_responses);
        add(&self.unknown_dropped, batch.unknown);
    }

    pub(crate) fn count_dscp_transmit(&self) {
        self.dscp_transmits.fetch_add(1, Relaxed);
    }

    pub(crate) fn count_send_error(&self) {
        self.send_errors.fetch_add(1, Relaxed);
    }
}

fn add(counter: &AtomicU64, n: u64) {
    if n != 0 {
        counter.fetch_add(n, Relaxed);
    }
}

/// Counts of one received batch, kept on the stack and added to [`TransportStats`] once.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchCounts {
    pub(crate) quic: u64,
    pub(crate) stun_answered: u64,
    pub(crate) stun_bad: u64,
    pub(crate) stun_send_dropped: u64,
    pub(crate) checks_observed: u64,
    pub(crate) checks_observer_dropped: u64,
    pub(crate) stun_responses: u64,
    pub(crate) unknown: u64,
}
