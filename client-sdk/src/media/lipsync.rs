//! Lip sync across the receive streams of one sending endpoint (draft §6.4: "For any streams
//! that have the lip sync flag set to true, the render attempts to synchronize their play
//! back").
//!
//! All streams of one sender stamp their frames from the sender's one capture clock (the
//! RTP3 capture time, NTP ms), so a frame of audio and a frame of video with the same capture
//! time were captured together and must be played together. Each stream's
//! [`JitterBuffer`] maps capture time to the local clock with its own [`PlayoutClock`]: an
//! [`ClockAnchor`] (where the sender's clock sits on ours, from the fastest transit seen)
//! plus the delay that stream needs for its jitter. A [`SyncGroup`] merges the clocks of its
//! members into one: the earliest anchor and the largest delay any member needs relative to
//! it. Every member then plays capture time `c` at the same instant
//! `group.anchor.map(c) + group.delay`, so the stream with the least jitter waits for the one
//! with the most.
//!
//! ## Run-loop contract
//!
//! Keep one [`SyncGroup`] per sending endpoint for the streams whose lip-sync flag is set.
//! Whenever a member's jitter buffer took frames, and before polling any member for frames,
//! [`SyncGroup::align`] them (or, when the buffers live apart, feed
//! [`JitterBuffer::own_clock`] to [`SyncGroup::update`] and hand [`SyncGroup::clock`] to each
//! member's [`JitterBuffer::set_sync`]). Poll all members at the same `now` after aligning, so
//! frames of equal capture time come out at the same step. Streams without the flag are
//! simply not members: their buffers play on their own clock (`set_sync(None)`).
//!
//! What this does not do: correct a sender whose audio and video capture clocks differ (the
//! draft has one capture time per sender), or resample audio to hide delay changes.

use super::jitter::JitterBuffer;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Moves `t` by a signed number of microseconds (saturating at what `Instant` can hold).
pub(crate) fn shift_us(t: Instant, us: i64) -> Instant {
    let d = Duration::from_micros(us.unsigned_abs());
    if us >= 0 {
        t.checked_add(d).unwrap_or(t)
    } else {
        t.checked_sub(d).unwrap_or(t)
    }
}

/// Signed microseconds from `from` to `to`.
pub(crate) fn signed_us(from: Instant, to: Instant) -> i64 {
    if to >= from {
        i64::try_from((to - from).as_micros()).unwrap_or(i64::MAX)
    } else {
        i64::try_from((from - to).as_micros()).map_or(i64::MIN, |v| -v)
    }
}

/// Signed milliseconds from capture time `from` to capture time `to` (capture times are
/// modular: NTP ms with the high bits dropped).
pub(crate) fn capture_diff_ms(from: u64, to: u64) -> i64 {
    to.wrapping_sub(from) as i64
}

/// Where the sender's capture clock sits on the local clock: a frame captured at
/// `capture_ms` (sender time) reaches us at `local` over the fastest path seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockAnchor {
    /// A capture time, NTP ms (high bits discarded), as in the RTP3 capture time header.
    pub capture_ms: u64,
    /// The local instant that capture time corresponds to at the smallest transit seen.
    pub local: Instant,
}

impl ClockAnchor {
    /// The local instant capture time `capture_ms` corresponds to (at the smallest transit).
    pub fn map(&self, capture_ms: u64) -> Instant {
        let ms = capture_diff_ms(self.capture_ms, capture_ms);
        shift_us(self.local, ms.saturating_mul(1000))
    }
}

/// Maps capture times to playout instants: `anchor.map(capture) + delay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayoutClock {
    /// The sender's clock on ours.
    pub anchor: ClockAnchor,
    /// The delay added on top of the fastest transit (the jitter buffer's target delay).
    pub delay: Duration,
}

impl PlayoutClock {
    /// When the frame captured at `capture_ms` should be played.
    pub fn playout_at(&self, capture_ms: u64) -> Instant {
        self.anchor.map(capture_ms) + self.delay
    }
}

/// The streams of one sending endpoint that play in sync. Members are named by a key the
/// caller chooses (e.g. the GlobalEncodingID's value). See the module docs for the run loop.
#[derive(Debug, Clone, Default)]
pub struct SyncGroup {
    members: BTreeMap<u64, Option<PlayoutClock>>,
}

impl SyncGroup {
    /// An empty group.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records what member `key` needs: its own clock ([`JitterBuffer::own_clock`]), or
    /// `None` while it has no frames yet. Adds the member if it is new.
    pub fn update(&mut self, key: u64, need: Option<PlayoutClock>) {
        self.members.insert(key, need);
    }

    /// Takes member `key` out of the group (its stream ended or lost the lip-sync flag).
    pub fn remove(&mut self, key: u64) {
        self.members.remove(&key);
    }

    /// How many members the group has.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the group has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The group's clock: the earliest member anchor, and the largest delay any member needs
    /// measured from it. `None` until some member has a clock.
    pub fn clock(&self) -> Option<PlayoutClock> {
        let mut needs = self.members.values().flatten();
        let first = needs.next()?;
        // Compare every anchor at one capture time.
        let at = first.anchor.capture_ms;
        let mut earliest = first.anchor.map(at);
        for n in needs.clone() {
            earliest = earliest.min(n.anchor.map(at));
        }
        let mut delay = Duration::ZERO;
        for n in std::iter::once(first).chain(needs) {
            let lead = n.anchor.map(at).saturating_duration_since(earliest);
            delay = delay.max(lead + n.delay);
        }
        Some(PlayoutClock {
            anchor: ClockAnchor {
                capture_ms: at,
                local: earliest,
            },
            delay,
        })
    }

    /// Updates the group from every member buffer and gives each the group's clock. Returns
    /// that clock. Members of the group not in `members` keep their last reported need.
    pub fn align(&mut self, members: &mut [(u64, &mut JitterBuffer)]) -> Option<PlayoutClock> {
        for (key, buffer) in members.iter() {
            self.update(*key, buffer.own_clock());
        }
        let clock = self.clock();
        for (_, buffer) in members.iter_mut() {
            buffer.set_sync(clock);
        }
        clock
    }
}

#[cfg(test)]
mod tests;
