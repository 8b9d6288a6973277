//! Forwarding counters: atomics the metrics sampler reads, fed in batches by the hot path.
//!
//! A publisher's datagram loop counts into a plain `LocalCounts` and flushes it every few
//! dozen datagrams, so the per-datagram cost is a few register increments, not contended
//! atomic writes on shared cache lines.

pub use crate::ops::metrics::DropReason;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Number of drop reasons.
const REASONS: usize = DropReason::ALL.len();

fn index(reason: DropReason) -> usize {
    reason as usize
}

/// Node-wide forwarding counters (monotonic).
#[derive(Debug, Default)]
pub struct ForwardStats {
    /// Datagrams received from publishers.
    pub datagrams_in: AtomicU64,
    /// Bytes received from publishers.
    pub bytes_in: AtomicU64,
    /// Copies handed to quinn for subscribers (calls, not wire sends: those come from quinn's
    /// connection stats).
    pub copies_queued: AtomicU64,
    /// DATAGRAM frames quinn actually sent to clients (from connection stats, not calls).
    pub datagrams_out: AtomicU64,
    /// UDP bytes quinn sent to clients (all packets, from connection stats).
    pub bytes_out: AtomicU64,
    /// Drops, indexed like [`DropReason::ALL`].
    pub drops: [AtomicU64; REASONS],
    /// Active-speaker set changes.
    pub speaker_switches: AtomicU64,
    /// Messages resent from the retransmission cache.
    pub retransmissions_served: AtomicU64,
    /// Requested messages not resent because the requester was held back from them
    /// (speaker gate, layer filter), reported to it as `withheld`.
    pub retransmissions_withheld: AtomicU64,
    /// Requested messages the cache no longer had, reported as `not_cached`.
    pub retransmissions_not_cached: AtomicU64,
    /// Intra-frame requests sent to publishers.
    pub keyframe_requests: AtomicU64,
    /// Full-header-set requests sent to audio publishers for new receivers.
    pub full_set_requests: AtomicU64,
    /// Simulcast encoding switches completed at a reference frame.
    pub layer_switches: AtomicU64,
    /// Data-stream messages (frames) received from publishers (PROTOCOL.md §13).
    pub stream_messages_in: AtomicU64,
    /// Bytes of those messages.
    pub stream_bytes_in: AtomicU64,
    /// Data-stream messages written to subscribers' streams.
    pub stream_messages_out: AtomicU64,
    /// Subscriber data streams reset because the subscriber fell too far behind.
    pub stream_resets: AtomicU64,
    /// Data-stream messages dropped, indexed like [`DropReason::ALL`].
    pub stream_drops: [AtomicU64; REASONS],
}

impl ForwardStats {
    /// The count of one drop reason.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops.get(index(reason)).map_or(0, |c| c.load(Relaxed))
    }

    /// Adds one drop.
    pub fn drop_one(&self, reason: DropReason) {
        if let Some(c) = self.drops.get(index(reason)) {
            c.fetch_add(1, Relaxed);
        }
    }

    /// The count of data-stream messages dropped for one reason.
    pub fn stream_dropped(&self, reason: DropReason) -> u64 {
        self.stream_drops
            .get(index(reason))
            .map_or(0, |c| c.load(Relaxed))
    }

    /// Adds one dropped data-stream message.
    pub fn stream_drop(&self, reason: DropReason) {
        if let Some(c) = self.stream_drops.get(index(reason)) {
            c.fetch_add(1, Relaxed);
        }
    }
}

/// Counts a datagram loop accumulates between flushes.
#[derive(Debug, Default)]
pub(crate) struct LocalCounts {
    pub(crate) datagrams_in: u64,
    pub(crate) bytes_in: u64,
    pub(crate) copies_queued: u64,
    pub(crate) drops: [u64; REASONS],
    pub(crate) layer_switches: u64,
}

impl LocalCounts {
    /// Flush after this many datagrams.
    pub(crate) const FLUSH_EVERY: u64 = 32;

    #[inline]
    pub(crate) fn drop_one(&mut self, reason: DropReason) {
        if let Some(c) = self.drops.get_mut(index(reason)) {
            *c += 1;
        }
    }

    /// Adds the local counts to `stats` and resets them.
    pub(crate) fn flush(&mut self, stats: &ForwardStats) {
        stats.datagrams_in.fetch_add(self.datagrams_in, Relaxed);
        stats.bytes_in.fetch_add(self.bytes_in, Relaxed);
        stats.copies_queued.fetch_add(self.copies_queued, Relaxed);
        for (shared, local) in stats.drops.iter().zip(self.drops.iter_mut()) {
            if *local != 0 {
                shared.fetch_add(*local, Relaxed);
                *local = 0;
            }
        }
        if self.layer_switches != 0 {
            stats.layer_switches.fetch_add(self.layer_switches, Relaxed);
            self.layer_switches = 0;
        }
        self.datagrams_in = 0;
        self.bytes_in = 0;
        self.copies_queued = 0;
    }
}
