//! Loss recovery scheduling: when to ask for missing messages again (draft §5.2,
//! PROTOCOL.md §9 "RetransmissionRequest").
//!
//! [`Recovery`] watches one encoding's [`Reassembler`]: the sequence IDs it reports
//! [`missing`](Reassembler::missing), when each became known and when it will be given up.
//! It asks for a missing ID:
//!
//! - first after a **reorder window** from when it became overdue (a message merely
//!   overtaken by a later one is not worth asking for): `max(min_reorder_window,
//!   jitter_factor × jitter)`, by default `max(5 ms, 2 × jitter)`, with the jitter the caller
//!   reports ([`Recovery::set_jitter`], e.g. the stream's RFC 3550 interarrival jitter). An
//!   ID is overdue once a higher sequence ID arrived; an ID above every one received (the
//!   rest of a frame its chunk count announced, which the sender's pacer may not even have
//!   sent yet) is overdue only a reorder window after the encoding's last arrival, so a
//!   lost tail is still found when nothing follows it;
//! - again when a request went unanswered for a **retry interval** of
//!   `max(min_retry_interval, 1.25 × RTT)` (default minimum 10 ms), up to `max_attempts`
//!   requests per ID (default 4);
//! - never once its deadline ([`Reassembler::deadline_of`]) has passed.
//!
//! Everything due at one poll is coalesced into one [`RetransmissionRequest`] for the
//! encoding: consecutive IDs become one range, oldest first, at most `max_ranges` ranges per
//! request (the rest stays due for the next poll).
//!
//! ## Run-loop contract
//!
//! 1. For every message pushed to the reassembler (first copy or retransmission), call
//!    [`Recovery::handle_message`] with its sequence ID (this is how recoveries are counted).
//! 2. After pushing a batch of messages, after `Reassembler::handle_timeout`, and at
//!    [`Recovery::poll_timeout`]: `while let Some(req) = recovery.poll_request(&reassembler,
//!    now)`, send `req` on the control stream (to the SFU, which answers from its cache).
//! 3. Update [`Recovery::set_rtt`] (the QUIC path's smoothed RTT) and
//!    [`Recovery::set_jitter`] as estimates change.
//!
//! It never reads a clock and sends nothing itself.

use super::reassembler::Reassembler;
use newmedia_proto::control::{RetransmissionRequest, SequenceRange};
use newmedia_proto::ids::GlobalEncodingId;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Settings of a [`Recovery`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecoveryConfig {
    min_reorder_window: Duration,
    jitter_factor: f64,
    min_retry_interval: Duration,
    max_attempts: u32,
    max_ranges: usize,
    max_tracked: usize,
    initial_rtt: Duration,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            min_reorder_window: Duration::from_millis(5),
            jitter_factor: 2.0,
            min_retry_interval: Duration::from_millis(10),
            max_attempts: 4,
            max_ranges: 32,
            max_tracked: 4096,
            initial_rtt: Duration::from_millis(100),
        }
    }
}

impl RecoveryConfig {
    /// Shortest wait between a gap appearing and the first request for it. Default 5 ms.
    pub fn min_reorder_window(mut self, window: Duration) -> Self {
        self.min_reorder_window = window;
        self
    }

    /// The reorder window is at least this multiple of the reported jitter. Default 2.
    pub fn jitter_factor(mut self, factor: f64) -> Self {
        self.jitter_factor = factor;
        self
    }

    /// Shortest wait before asking again for an unanswered ID (the wait is otherwise
    /// 1.25 × RTT). Default 10 ms.
    pub fn min_retry_interval(mut self, interval: Duration) -> Self {
        self.min_retry_interval = interval;
        self
    }

    /// Most requests for one sequence ID. Default 4 (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Most ranges in one request. Default 32 (at least 1; a range is at most 22 bytes on
    /// the wire, so a request stays well inside one packet).
    pub fn max_ranges(mut self, ranges: usize) -> Self {
        self.max_ranges = ranges;
        self
    }

    /// Most missing sequence IDs tracked at once, oldest first; newer ones wait until older
    /// ones settle. Default 4096 (at least 1).
    pub fn max_tracked(mut self, ids: usize) -> Self {
        self.max_tracked = ids;
        self
    }

    /// The RTT assumed until [`Recovery::set_rtt`] is called. Default 100 ms.
    pub fn initial_rtt(mut self, rtt: Duration) -> Self {
        self.initial_rtt = rtt;
        self
    }
}

/// Counters of a [`Recovery`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryStats {
    /// RetransmissionRequests produced.
    pub requests_sent: u64,
    /// Sequence IDs asked for, counting every attempt.
    pub sequences_requested: u64,
    /// Distinct sequence IDs that arrived after being asked for.
    pub recovered: u64,
    /// Distinct sequence IDs that were asked for and settled (given up by the reassembler)
    /// without arriving.
    pub given_up: u64,
    /// Sequence IDs that settled without arriving and without ever being asked for (their
    /// deadline came before the reorder window ended).
    pub lost_unrequested: u64,
    /// Sequence IDs the SFU said it held back on purpose ([`Recovery::forget`] with
    /// `withheld`): not lost, never asked for again.
    pub withheld: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    known_since: Instant,
    deadline: Option<Instant>,
    attempts: u32,
    last_request: Option<Instant>,
}

/// The loss recovery scheduler of one encoding. See the module docs.
#[derive(Debug, Clone)]
pub struct Recovery {
    encoding: GlobalEncodingId,
    config: RecoveryConfig,
    rtt: Option<Duration>,
    jitter: Duration,
    entries: BTreeMap<u64, Entry>,
    /// (highest sequence ID received so far, when it arrived), strictly increasing: an ID is
    /// overdue from the first arrival above it.
    overtakes: VecDeque<(u64, Instant)>,
    last_arrival: Option<Instant>,
    stats: RecoveryStats,
}

/// Most overtake marks kept (older ones are of settled IDs in practice).
const MAX_OVERTAKES: usize = 1 << 16;

impl Recovery {
    /// A scheduler for the encoding `encoding`.
    pub fn new(encoding: GlobalEncodingId, config: RecoveryConfig) -> Self {
        let config = RecoveryConfig {
            jitter_factor: if config.jitter_factor.is_finite() {
                config.jitter_factor.max(0.0)
            } else {
                0.0
            },
            max_attempts: config.max_attempts.max(1),
            max_ranges: config.max_ranges.max(1),
            max_tracked: config.max_tracked.max(1),
            ..config
        };
        Self {
            encoding,
            config,
            rtt: None,
            jitter: Duration::ZERO,
            entries: BTreeMap::new(),
            overtakes: VecDeque::new(),
            last_arrival: None,
            stats: RecoveryStats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> RecoveryStats {
        self.stats
    }

    /// The encoding this scheduler asks for.
    pub fn encoding(&self) -> GlobalEncodingId {
        self.encoding
    }

    /// Sets the round-trip time to the one who answers requests (the SFU).
    pub fn set_rtt(&mut self, rtt: Duration) {
        self.rtt = Some(rtt);
    }

    /// Sets the stream's current jitter estimate (it widens the reorder window).
    pub fn set_jitter(&mut self, jitter: Duration) {
        self.jitter = jitter;
    }

    /// How long a gap is left alone before the first request.
    pub fn reorder_window(&self) -> Duration {
        self.config
            .min_reorder_window
            .max(self.jitter.mul_f64(self.config.jitter_factor))
    }

    /// How long a request is left unanswered before the next one.
    pub fn retry_interval(&self) -> Duration {
        let rtt = self.rtt.unwrap_or(self.config.initial_rtt);
        self.config.min_retry_interval.max(rtt.mul_f64(1.25))
    }

    /// Sequence IDs asked for at least once that have neither arrived nor settled.
    pub fn outstanding(&self) -> usize {
        self.entries.values().filter(|e| e.attempts > 0).count()
    }

    /// Notes that the message `sequence_id` arrived (call it for every message handed to the
    /// reassembler).
    pub fn handle_message(&mut self, sequence_id: u64, now: Instant) {
        if let Some(e) = self.entries.remove(&sequence_id)
            && e.attempts > 0
        {
            self.stats.recovered += 1;
        }
        self.last_arrival = Some(now);
        if self.overtakes.back().is_none_or(|(h, _)| sequence_id > *h) {
            self.overtakes.push_back((sequence_id, now));
            if self.overtakes.len() > MAX_OVERTAKES {
                self.overtakes.pop_front();
            }
        }
    }

    /// Stops asking for the sequence IDs of `range`: the SFU said they will not be sent
    /// (PROTOCOL.md §9, RetransmissionUnavailable), `withheld` when it held them back on
    /// purpose (counted in [`RecoveryStats::withheld`]), otherwise because it no longer has
    /// them (counted as given up, or lost unrequested). Settle them in the reassembler too
    /// ([`Reassembler::settle_unavailable`]), or the next poll tracks them again.
    pub fn forget(&mut self, first: u64, count: u64, withheld: bool) {
        let end = first.saturating_add(count);
        let ids: Vec<u64> = self.entries.range(first..end).map(|(s, _)| *s).collect();
        for seq in ids {
            let Some(e) = self.entries.remove(&seq) else {
                continue;
            };
            if withheld {
                self.stats.withheld += 1;
            } else if e.attempts > 0 {
                self.stats.given_up += 1;
            } else {
                self.stats.lost_unrequested += 1;
            }
        }
    }

    /// The request to send now, if any sequence ID of `reassembler` is due for one.
    pub fn poll_request(
        &mut self,
        reassembler: &Reassembler,
        now: Instant,
    ) -> Option<RetransmissionRequest> {
        self.reconcile(reassembler, now);
        let (window, retry) = (self.reorder_window(), self.retry_interval());
        let mut ranges: Vec<SequenceRange> = Vec::new();
        let (overtakes, last_arrival) = (&self.overtakes, self.last_arrival);
        for (&seq, e) in self.entries.iter_mut() {
            let overdue = overdue_since(overtakes, last_arrival, seq, e);
            if !Self::due(e, overdue, window, retry, self.config.max_attempts, now) {
                continue;
            }
            let full = ranges.len() == self.config.max_ranges;
            match ranges.last_mut() {
                Some(r) if r.first + r.count == seq => r.count += 1,
                _ if full => break,
                _ => ranges.push(SequenceRange::single(seq)),
            }
            e.attempts += 1;
            e.last_request = Some(now);
            self.stats.sequences_requested += 1;
        }
        if ranges.is_empty() {
            return None;
        }
        self.stats.requests_sent += 1;
        Some(RetransmissionRequest {
            encoding: self.encoding,
            ranges,
            capture_time: None,
            message_ids: Vec::new(),
        })
    }

    /// When [`poll_request`](Self::poll_request) next has something to ask for, as far as
    /// the gaps seen at the last poll go.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let (window, retry) = (self.reorder_window(), self.retry_interval());
        self.entries
            .iter()
            .filter(|(_, e)| e.attempts < self.config.max_attempts)
            .map(|(&seq, e)| {
                let overdue = overdue_since(&self.overtakes, self.last_arrival, seq, e);
                (Self::next_due(e, overdue, window, retry), e.deadline)
            })
            .filter(|(t, deadline)| deadline.is_none_or(|d| *t < d))
            .map(|(t, _)| t)
            .min()
    }

    fn next_due(e: &Entry, overdue: Instant, window: Duration, retry: Duration) -> Instant {
        match e.last_request {
            None => overdue + window,
            Some(t) => t + retry,
        }
    }

    fn due(
        e: &Entry,
        overdue: Instant,
        window: Duration,
        retry: Duration,
        max: u32,
        now: Instant,
    ) -> bool {
        e.attempts < max
            && e.deadline.is_none_or(|d| now < d)
            && Self::next_due(e, overdue, window, retry) <= now
    }

    /// Brings the tracked IDs in line with what the reassembler misses: settled ones are
    /// dropped (and counted), new gaps are added, oldest first, up to `max_tracked`.
    fn reconcile(&mut self, reassembler: &Reassembler, now: Instant) {
        let mut missing: Vec<SequenceRange> = Vec::new();
        let mut total = 0u64;
        for r in reassembler.missing() {
            let take = r.count.min(self.config.max_tracked as u64 - total);
            missing.push(SequenceRange {
                first: r.first,
                count: take,
            });
            total += take;
            if total >= self.config.max_tracked as u64 {
                break;
            }
        }
        let settled = reassembler.settled_below();
        while self.overtakes.front().is_some_and(|(h, _)| *h < settled) {
            self.overtakes.pop_front();
        }
        let stats = &mut self.stats;
        self.entries.retain(|&seq, e| {
            // The last range starting at or before `seq`.
            let i = missing.partition_point(|r| r.first <= seq);
            let inside = i > 0
                && missing
                    .get(i - 1)
                    .is_some_and(|r| seq < r.first.saturating_add(r.count));
            if !inside {
                if e.attempts > 0 {
                    stats.given_up += 1;
                } else {
                    stats.lost_unrequested += 1;
                }
            }
            inside
        });
        for r in &missing {
            for seq in r.first..r.first.saturating_add(r.count) {
                self.entries.entry(seq).or_insert_with(|| Entry {
                    known_since: reassembler.known_since(seq).unwrap_or(now),
                    deadline: reassembler.deadline_of(seq),
                    attempts: 0,
                    last_request: None,
                });
            }
        }
    }
}

/// When `seq` became overdue: at the first arrival of a higher ID; for an ID above all
/// received, at the last arrival; without any arrival noted, when the reassembler learnt of
/// it.
fn overdue_since(
    overtakes: &VecDeque<(u64, Instant)>,
    last_arrival: Option<Instant>,
    seq: u64,
    e: &Entry,
) -> Instant {
    let i = overtakes.partition_point(|(h, _)| *h <= seq);
    overtakes
        .get(i)
        .map(|(_, t)| *t)
        .or(last_arrival)
        .unwrap_or(e.known_since)
        .max(e.known_since)
}

#[cfg(test)]
mod tests;
