//! An adaptive jitter buffer for the complete frames of one stream.
//!
//! Frames come in from the [`Reassembler`](super::Reassembler) in the order they complete;
//! they go out in sequence order at their playout time:
//!
//! ```text
//! playout(frame) = anchor.map(capture time) + target delay
//! ```
//!
//! - The **anchor** places the sender's capture clock on the local clock: the transit of a
//!   frame is (local arrival - capture time), and the smallest transit seen is taken as the
//!   clock offset (the fastest path the network offered).
//! - The **target delay** covers the jitter measured above that fastest transit: the larger of
//!   a high percentile ([`JitterConfig::quantile`], default 95 %) of the recent frames'
//!   transit above the smallest one, and a multiple ([`JitterConfig::jitter_factor`]) of the
//!   RFC 3550 §6.4.1 interarrival jitter estimate. It is clamped to
//!   [`JitterConfig::min_delay`]..[`JitterConfig::max_delay`], grows at once when a frame
//!   needs more and shrinks by at most [`JitterConfig::shrink_rate`] per second.
//! - Playout times never go backwards: a frame never plays before the one before it.
//! - A [`SyncGroup`](super::SyncGroup) may replace the buffer's own clock by the group's
//!   ([`JitterBuffer::set_sync`]) so that several streams play in lip sync.
//!
//! **Gaps.** Sequence order is kept: when frames are missing before the next frame to play
//! (its first sequence ID is not the one after the last frame played), the buffer holds the
//! later frames while the missing sequence IDs may still arrive, i.e. until the reassembler
//! settles them ([`JitterBuffer::handle_settled`]: they arrived, or they were given up at
//! their deadline), and at most [`JitterConfig::max_gap_wait`] past the waiting frame's
//! playout time. Then the gap is skipped. A frame that arrives after a later frame was
//! played is counted [`late`](JitterStats::late) and dropped.
//!
//! ## Run-loop contract
//!
//! 1. For every frame the reassembler emits: `push(frame.try_into()?, now)`; then (also after
//!    `Reassembler::handle_timeout`) `handle_settled(reassembler.settled_below())`.
//! 2. If the stream is in a lip-sync group, align the group (see [`super::lipsync`]).
//! 3. `while let Some(f) = poll_frame(now)`: hand `f` to the decoder / renderer. Its
//!    [`PlayoutFrame::playout_at`] is the instant it is meant for; it may lie before `now`
//!    when the frame came late or was held for a gap.
//! 4. Wake up at [`JitterBuffer::poll_timeout`] and go to 3.
//!
//! The buffer never reads a clock and never panics on any input.

use super::lipsync::{ClockAnchor, PlayoutClock, capture_diff_ms, shift_us, signed_us};
use super::reassembler::ReassembledFrame;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Why a frame was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum JitterError {
    /// No chunk of the frame carried a capture time, so it cannot be scheduled.
    #[error("frame at sequence ID {first_sequence} has no capture time")]
    NoCaptureTime {
        /// The frame's first sequence ID.
        first_sequence: u64,
    },
}

/// Settings of a [`JitterBuffer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JitterConfig {
    min_delay: Duration,
    max_delay: Duration,
    quantile: f64,
    jitter_factor: f64,
    window: usize,
    shrink_rate: Duration,
    max_frames: usize,
    max_gap_wait: Duration,
}

impl Default for JitterConfig {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(500),
            quantile: 0.95,
            jitter_factor: 2.0,
            window: 128,
            shrink_rate: Duration::from_millis(20),
            max_frames: 512,
            max_gap_wait: Duration::from_millis(500),
        }
    }
}

impl JitterConfig {
    /// Smallest target delay above the fastest transit. Default 10 ms.
    pub fn min_delay(mut self, delay: Duration) -> Self {
        self.min_delay = delay;
        self
    }

    /// Largest target delay above the fastest transit. Default 500 ms.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Fraction (0..=1) of recent frames whose transit the target delay covers. Default 0.95.
    pub fn quantile(mut self, q: f64) -> Self {
        self.quantile = q;
        self
    }

    /// Multiple of the RFC 3550 jitter estimate the target delay covers at least. Default 2
    /// (for normally distributed transit, 2 J is about 2.3 standard deviations).
    pub fn jitter_factor(mut self, factor: f64) -> Self {
        self.jitter_factor = factor;
        self
    }

    /// How many recent frames the percentile is taken over. Default 128 (at least 1).
    pub fn window(mut self, frames: usize) -> Self {
        self.window = frames;
        self
    }

    /// How much the target delay may shrink per second of (local) time. Default 20 ms.
    pub fn shrink_rate(mut self, per_second: Duration) -> Self {
        self.shrink_rate = per_second;
        self
    }

    /// Most frames buffered; beyond it gaps are skipped, then the oldest frames dropped.
    /// Default 512 (at least 1).
    pub fn max_frames(mut self, frames: usize) -> Self {
        self.max_frames = frames;
        self
    }

    /// Longest a frame waits past its playout time for missing frames before it. Default
    /// 500 ms (the reassembler's default frame deadline).
    pub fn max_gap_wait(mut self, wait: Duration) -> Self {
        self.max_gap_wait = wait;
        self
    }
}

/// A complete frame as the jitter buffer takes it (a [`ReassembledFrame`] with a capture time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitterFrame {
    /// The frame's payload.
    pub payload: Vec<u8>,
    /// Capture time, NTP ms (high bits discarded).
    pub capture_time: u64,
    /// Whether it is a reference frame.
    pub reference: bool,
    /// Sequence ID of its first message.
    pub first_sequence: u64,
    /// Messages it took (1 for a frame in one message).
    pub chunk_count: u64,
    /// Layer ID, if any.
    pub layer_id: Option<u64>,
}

impl TryFrom<ReassembledFrame> for JitterFrame {
    type Error = JitterError;

    fn try_from(f: ReassembledFrame) -> Result<Self, JitterError> {
        let capture_time = f.capture_time.ok_or(JitterError::NoCaptureTime {
            first_sequence: f.first_sequence,
        })?;
        Ok(Self {
            payload: f.payload,
            capture_time,
            reference: f.reference,
            first_sequence: f.first_sequence,
            chunk_count: f.chunk_count.max(1),
            layer_id: f.layer_id,
        })
    }
}

/// A frame due for playout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayoutFrame {
    /// The frame.
    pub frame: JitterFrame,
    /// The instant it is meant to be played (may be before the `now` it was polled at).
    pub playout_at: Instant,
    /// Whether frames before it were skipped (the decoder may need a reference frame).
    pub after_gap: bool,
}

/// Counters of a [`JitterBuffer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Frames accepted by [`JitterBuffer::push`].
    pub frames_pushed: u64,
    /// Frames handed out by [`JitterBuffer::poll_frame`].
    pub frames_played: u64,
    /// Frames that arrived behind the playout point (after a later frame was played) and
    /// were dropped.
    pub late: u64,
    /// Frames dropped for other reasons: a second copy of a buffered frame, or the oldest
    /// frame when the buffer was full.
    pub discarded: u64,
    /// Gaps skipped (missing frames never played).
    pub gaps_skipped: u64,
}

/// The adaptive jitter buffer of one stream. See the module docs.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    config: JitterConfig,
    /// The first arrival: local instant and capture time; transits are relative to it.
    epoch: Option<(Instant, u64)>,
    /// Smallest transit seen, µs relative to the epoch's.
    base_us: i64,
    /// Transit of the previous arrival (RFC 3550's S_i-1 / R_i-1 pair), µs.
    last_transit_us: Option<i64>,
    /// RFC 3550 interarrival jitter estimate, µs.
    jitter_us: f64,
    /// Recent transits, µs relative to the epoch's.
    window: VecDeque<i64>,
    target: Duration,
    target_updated: Option<Instant>,
    frames: BTreeMap<u64, JitterFrame>,
    /// First sequence ID after the last frame played.
    next_sequence: Option<u64>,
    last_playout: Option<Instant>,
    settled_below: u64,
    sync: Option<PlayoutClock>,
    stats: JitterStats,
}

impl Default for JitterBuffer {
    fn default() -> Self {
        Self::new(JitterConfig::default())
    }
}

impl JitterBuffer {
    /// An empty buffer.
    pub fn new(config: JitterConfig) -> Self {
        let config = JitterConfig {
            max_delay: config.max_delay.max(config.min_delay),
            quantile: if config.quantile.is_finite() {
                config.quantile.clamp(0.0, 1.0)
            } else {
                1.0
            },
            jitter_factor: if config.jitter_factor.is_finite() {
                config.jitter_factor.max(0.0)
            } else {
                0.0
            },
            window: config.window.max(1),
            max_frames: config.max_frames.max(1),
            ..config
        };
        Self {
            target: config.min_delay,
            config,
            epoch: None,
            base_us: 0,
            last_transit_us: None,
            jitter_us: 0.0,
            window: VecDeque::new(),
            target_updated: None,
            frames: BTreeMap::new(),
            next_sequence: None,
            last_playout: None,
            settled_below: 0,
            sync: None,
            stats: JitterStats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// The current target delay above the fastest transit (this stream's own need; a sync
    /// group may play it later).
    pub fn target_delay(&self) -> Duration {
        self.target
    }

    /// The RFC 3550 §6.4.1 interarrival jitter estimate over frame transits.
    pub fn jitter(&self) -> Duration {
        Duration::from_micros(self.jitter_us as u64)
    }

    /// Frames buffered.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether no frame is buffered.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// This stream's own clock (what it needs), once a frame arrived.
    pub fn own_clock(&self) -> Option<PlayoutClock> {
        let (local, capture_ms) = self.epoch?;
        Some(PlayoutClock {
            anchor: ClockAnchor {
                capture_ms,
                local: shift_us(local, self.base_us),
            },
            delay: self.target,
        })
    }

    /// Plays by `clock` (a sync group's) instead of the buffer's own clock; `None` returns to
    /// the own clock. The buffer keeps measuring its own need either way.
    pub fn set_sync(&mut self, clock: Option<PlayoutClock>) {
        self.sync = clock;
    }

    /// The sync group's clock in use, if any.
    pub fn sync(&self) -> Option<PlayoutClock> {
        self.sync
    }

    /// The clock frames are scheduled by: the sync group's, else the own one.
    pub fn clock(&self) -> Option<PlayoutClock> {
        self.sync.or_else(|| self.own_clock())
    }

    /// Tells the buffer that every sequence ID below `below` is settled (arrived or given
    /// up): it no longer waits for missing frames there. Pass
    /// [`Reassembler::settled_below`](super::Reassembler::settled_below).
    pub fn handle_settled(&mut self, below: u64) {
        self.settled_below = self.settled_below.max(below);
    }

    /// Takes a complete frame that arrived (completed) at `now`.
    pub fn push(&mut self, frame: JitterFrame, now: Instant) {
        if self.frames.contains_key(&frame.first_sequence) {
            self.stats.discarded += 1;
            return;
        }
        // A late frame still tells how much delay the path needs.
        self.measure(frame.capture_time, now);
        if self
            .next_sequence
            .is_some_and(|next| frame.first_sequence < next)
        {
            self.stats.late += 1;
            return;
        }
        self.stats.frames_pushed += 1;
        self.frames.insert(frame.first_sequence, frame);
        if self.frames.len() > self.config.max_frames {
            // Drop the oldest, and stop waiting for anything before what is kept.
            while self.frames.len() > self.config.max_frames {
                self.frames.pop_first();
                self.stats.discarded += 1;
            }
            if let Some(&first) = self.frames.keys().next() {
                self.settled_below = self.settled_below.max(first);
            }
        }
    }

    /// The next frame in sequence order if its playout time has come (or it waited for a
    /// gap as long as allowed).
    pub fn poll_frame(&mut self, now: Instant) -> Option<PlayoutFrame> {
        let (&first, head) = self.frames.first_key_value()?;
        let at = self.scheduled(head.capture_time, now);
        let waiting = self.waits_for_gap(first);
        let due = if waiting {
            at + self.config.max_gap_wait <= now
        } else {
            at <= now
        };
        if !due {
            return None;
        }
        let frame = self.frames.remove(&first)?;
        let after_gap = self.next_sequence.is_some_and(|next| first > next);
        if after_gap {
            self.stats.gaps_skipped += 1;
        }
        let next = first.saturating_add(frame.chunk_count.max(1));
        self.next_sequence = Some(next);
        // Frames that overlap the one played are behind the playout point now.
        while self
            .frames
            .first_key_value()
            .is_some_and(|(&s, _)| s < next)
        {
            self.frames.pop_first();
            self.stats.late += 1;
        }
        self.last_playout = Some(at);
        self.stats.frames_played += 1;
        Some(PlayoutFrame {
            frame,
            playout_at: at,
            after_gap,
        })
    }

    /// When [`poll_frame`](Self::poll_frame) next has a frame, if a frame is buffered.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let (&first, head) = self.frames.first_key_value()?;
        let clock = self.clock()?;
        let mut at = clock.playout_at(head.capture_time);
        if let Some(last) = self.last_playout {
            at = at.max(last);
        }
        if self.waits_for_gap(first) {
            at += self.config.max_gap_wait;
        }
        Some(at)
    }

    /// Whether sequence IDs before `first` that were not played may still arrive.
    fn waits_for_gap(&self, first: u64) -> bool {
        let done = self.next_sequence.unwrap_or(0).max(self.settled_below);
        first > done
    }

    /// The playout instant of a frame captured at `capture_time`, never before the last one.
    fn scheduled(&self, capture_time: u64, now: Instant) -> Instant {
        let at = self
            .clock()
            .map_or(now, |clock| clock.playout_at(capture_time));
        self.last_playout.map_or(at, |last| at.max(last))
    }

    /// Updates the clock offset, jitter and target delay with one arrival.
    fn measure(&mut self, capture_time: u64, now: Instant) {
        let (epoch, epoch_capture) = *self.epoch.get_or_insert((now, capture_time));
        let capture_us = capture_diff_ms(epoch_capture, capture_time).saturating_mul(1000);
        let transit = signed_us(epoch, now).saturating_sub(capture_us);
        if let Some(last) = self.last_transit_us {
            // RFC 3550 §6.4.1: J += (|D| - J) / 16.
            let d = transit.saturating_sub(last).unsigned_abs() as f64;
            self.jitter_us += (d - self.jitter_us) / 16.0;
        }
        self.last_transit_us = Some(transit);
        if self.window.is_empty() || transit < self.base_us {
            self.base_us = transit;
        }
        self.window.push_back(transit);
        while self.window.len() > self.config.window {
            self.window.pop_front();
        }

        let need = self.need();
        let shrink = self.target_updated.map_or(Duration::ZERO, |t| {
            self.config
                .shrink_rate
                .mul_f64(now.saturating_duration_since(t).as_secs_f64())
        });
        self.target = if need >= self.target {
            need
        } else {
            need.max(self.target.saturating_sub(shrink))
        };
        self.target_updated = Some(now);
    }

    /// The delay the recent frames need: the larger of the transit percentile above the
    /// fastest transit and the jitter multiple, within the configured bounds.
    fn need(&self) -> Duration {
        let mut excess: Vec<u64> = self
            .window
            .iter()
            .map(|t| t.saturating_sub(self.base_us).max(0).unsigned_abs())
            .collect();
        excess.sort_unstable();
        let n = excess.len();
        let rank = ((self.config.quantile * n as f64).ceil() as usize).clamp(1, n.max(1));
        let percentile = excess.get(rank - 1).copied().unwrap_or(0);
        let from_jitter = (self.config.jitter_factor * self.jitter_us) as u64;
        Duration::from_micros(percentile.max(from_jitter))
            .clamp(self.config.min_delay, self.config.max_delay)
    }
}

#[cfg(test)]
mod tests;
