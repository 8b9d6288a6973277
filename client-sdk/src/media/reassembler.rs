//! Putting frames back together from opened RTP3 messages of one encoding.
//!
//! [`Reassembler`] is sans-IO (str0m style): feed it opened messages with
//! [`Reassembler::push`], call [`Reassembler::handle_timeout`] when
//! [`Reassembler::poll_timeout`] says so, and ask [`Reassembler::missing`] which sequence IDs
//! to request again.
//!
//! A frame is emitted as soon as all its chunks are there, so frames come out in the order
//! they complete, not in capture order; the jitter buffer orders them for playout.

use newmedia_proto::rtp3::{Chunk, HeaderView};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Why a message was refused. Refused messages change no state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ReassembleError {
    /// The frame chunk header claims a chunk before sequence ID 0.
    #[error("chunk {index} cannot have sequence ID {sequence_id}")]
    BadChunk {
        /// The message's sequence ID.
        sequence_id: u64,
        /// The chunk index.
        index: u64,
    },
    /// The frame has more chunks than the reassembly window holds.
    #[error("a frame of {count} chunks exceeds the window of {window} sequence IDs")]
    FrameTooLong {
        /// The chunk count.
        count: u64,
        /// The configured window.
        window: u64,
    },
    /// Another chunk of the same frame gave a different chunk count.
    #[error("chunk count {count} differs from {expected} given by another chunk of the frame")]
    Inconsistent {
        /// The count in this message.
        count: u64,
        /// The count already known for the frame.
        expected: u64,
    },
}

/// Limits and timing of a [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblerConfig {
    /// How long after a sequence ID is first known to exist (it arrived, or a later one did)
    /// the receiver waits for it before giving it, and the frame it belongs to, up.
    /// Default 500 ms.
    pub frame_deadline: Duration,
    /// Most frames in progress at once; beyond it the oldest is given up. Default 64.
    pub max_frames: usize,
    /// Most payload bytes buffered in frames in progress; beyond it the oldest frames are
    /// given up. Default 16 MiB.
    pub max_bytes: usize,
    /// Most sequence IDs tracked between the oldest unsettled one and the newest known one;
    /// older ones are given up when newer ones push the window. Default 65 536.
    pub window: u64,
    /// Whether reception may start in the middle of the stream (a subscription through an
    /// SFU to an encoding that is already running): the first message's frame start is then
    /// taken as where the stream begins, so the sequence IDs before it are neither missing
    /// nor waited for. When false, the stream is expected from sequence ID 0. Default false.
    pub join_mid_stream: bool,
}

impl Default for ReassemblerConfig {
    fn default() -> Self {
        Self {
            frame_deadline: Duration::from_millis(500),
            max_frames: 64,
            max_bytes: 16 << 20,
            window: 1 << 16,
            join_mid_stream: false,
        }
    }
}

/// A complete frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReassembledFrame {
    /// Capture time (NTP ms, high bits discarded), from the first chunk that carried one.
    pub capture_time: Option<u64>,
    /// Whether any chunk flagged the frame as a reference frame.
    pub reference: bool,
    /// Layer ID, from the first chunk that carried one.
    pub layer_id: Option<u64>,
    /// Sequence ID of the frame's first chunk.
    pub first_sequence: u64,
    /// How many messages (chunks) the frame took: its sequence IDs are
    /// `first_sequence .. first_sequence + chunk_count`.
    pub chunk_count: u64,
    /// The frame's payload: the chunks' plaintexts in index order.
    pub payload: Vec<u8>,
}

/// Consecutive sequence IDs `first .. first + count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SequenceRange {
    /// First sequence ID.
    pub first: u64,
    /// Number of sequence IDs (at least 1).
    pub count: u64,
}

/// Counters of a [`Reassembler`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReassemblerStats {
    /// Frames emitted.
    pub frames_completed: u64,
    /// Frames of which some chunks arrived but that were given up (deadline or limits).
    pub frames_lost: u64,
    /// Sequence IDs given up without ever arriving.
    pub messages_lost: u64,
    /// Sequence IDs the SFU said it held back on purpose (active-speaker selection, layer
    /// filtering) and that were settled without counting as lost
    /// ([`Reassembler::settle_unavailable`]).
    pub messages_withheld: u64,
    /// Messages that arrived again, or after their sequence ID was settled.
    pub duplicates: u64,
    /// Chunks of frames that were already given up.
    pub orphans: u64,
}

#[derive(Debug)]
struct Partial {
    count: u64,
    chunks: BTreeMap<u64, Vec<u8>>,
    bytes: usize,
    capture_time: Option<u64>,
    reference: bool,
    layer_id: Option<u64>,
}

/// Reassembles the frames of one encoding from opened messages that arrive in any order,
/// duplicated or not at all.
///
/// Sequence IDs below `base` are settled (received, or given up); `horizon` is one past the
/// highest sequence ID known to exist (received, or announced by a chunk count).
#[derive(Debug)]
pub struct Reassembler {
    config: ReassemblerConfig,
    base: u64,
    horizon: u64,
    received: BTreeSet<u64>,
    partials: BTreeMap<u64, Partial>,
    bytes: usize,
    /// (horizon, when it was reached), oldest first.
    reveals: VecDeque<(u64, Instant)>,
    /// Whether a message was accepted yet (for `join_mid_stream`).
    started: bool,
    stats: ReassemblerStats,
}

impl Default for Reassembler {
    fn default() -> Self {
        Self::new(ReassemblerConfig::default())
    }
}

impl Reassembler {
    /// A reassembler with the given limits.
    pub fn new(config: ReassemblerConfig) -> Self {
        Self {
            config: ReassemblerConfig {
                window: config.window.max(1),
                max_frames: config.max_frames.max(1),
                ..config
            },
            base: 0,
            horizon: 0,
            received: BTreeSet::new(),
            partials: BTreeMap::new(),
            bytes: 0,
            reveals: VecDeque::new(),
            started: false,
            stats: ReassemblerStats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> ReassemblerStats {
        self.stats
    }

    /// The limits and timing in use.
    pub fn config(&self) -> &ReassemblerConfig {
        &self.config
    }

    /// Every sequence ID below this one is settled: it arrived (and its frame was emitted or
    /// is in progress past it) or it was given up. The jitter buffer stops waiting for a gap
    /// once this passes it ([`JitterBuffer::handle_settled`](super::JitterBuffer::handle_settled)).
    pub fn settled_below(&self) -> u64 {
        self.base
    }

    /// When the not yet settled sequence ID `sequence_id` became known to exist (it, or a
    /// later one, arrived, or a chunk count announced it), or `None` if it is settled or not
    /// known yet.
    pub fn known_since(&self, sequence_id: u64) -> Option<Instant> {
        if sequence_id < self.base || sequence_id >= self.horizon {
            return None;
        }
        // Horizons in `reveals` strictly increase; the first one above the ID revealed it.
        let i = self.reveals.partition_point(|(h, _)| *h <= sequence_id);
        self.reveals.get(i).map(|(_, t)| *t)
    }

    /// When `sequence_id` (not yet settled) will be given up if it has not arrived by then:
    /// [`known_since`](Self::known_since) plus the frame deadline.
    pub fn deadline_of(&self, sequence_id: u64) -> Option<Instant> {
        self.known_since(sequence_id)
            .map(|t| t + self.config.frame_deadline)
    }

    /// Frames in progress.
    pub fn frames_in_progress(&self) -> usize {
        self.partials.len()
    }

    /// Payload bytes buffered in frames in progress.
    pub fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    /// Takes one opened message: its parsed headers and its plaintext. Returns the frame it
    /// completes, if any.
    pub fn push(
        &mut self,
        message: &HeaderView<'_>,
        plaintext: &[u8],
        now: Instant,
    ) -> Result<Option<ReassembledFrame>, ReassembleError> {
        let seq = message.sequence_id();
        if seq < self.base || self.received.contains(&seq) {
            self.stats.duplicates += 1;
            return Ok(None);
        }
        let chunk = message
            .headers()
            .chunk
            .unwrap_or(Chunk { index: 0, count: 1 });
        if chunk.count > self.config.window {
            return Err(ReassembleError::FrameTooLong {
                count: chunk.count,
                window: self.config.window,
            });
        }
        let first = seq
            .checked_sub(chunk.index)
            .ok_or(ReassembleError::BadChunk {
                sequence_id: seq,
                index: chunk.index,
            })?;
        // `first + count` cannot overflow: seq < 2^62 and count <= window.
        let end = first.saturating_add(chunk.count);
        if let Some(p) = self.partials.get(&first)
            && p.count != chunk.count
        {
            return Err(ReassembleError::Inconsistent {
                count: chunk.count,
                expected: p.count,
            });
        }

        if !self.started {
            self.started = true;
            if self.config.join_mid_stream {
                self.base = first;
                self.horizon = first;
            }
        }
        // Keep the tracked span within the window.
        if end > self.base.saturating_add(self.config.window) {
            self.give_up_below(end - self.config.window);
        }
        self.received.insert(seq);
        if end > self.horizon {
            self.horizon = end;
            match self.reveals.back_mut() {
                Some((h, t)) if *t == now => *h = end,
                _ => self.reveals.push_back((end, now)),
            }
        }
        if first < self.base && !self.partials.contains_key(&first) {
            // The frame's start was already given up.
            self.stats.orphans += 1;
            self.settle_front();
            return Ok(None);
        }

        if chunk.count == 1 {
            self.settle_front();
            self.stats.frames_completed += 1;
            return Ok(Some(ReassembledFrame {
                capture_time: message.capture_time(),
                reference: message.is_reference_frame(),
                layer_id: message.layer_id(),
                first_sequence: seq,
                chunk_count: 1,
                payload: plaintext.to_vec(),
            }));
        }

        let partial = self.partials.entry(first).or_insert_with(|| Partial {
            count: chunk.count,
            chunks: BTreeMap::new(),
            bytes: 0,
            capture_time: None,
            reference: false,
            layer_id: None,
        });
        partial.chunks.insert(chunk.index, plaintext.to_vec());
        partial.bytes += plaintext.len();
        partial.capture_time = partial.capture_time.or(message.capture_time());
        partial.reference |= message.is_reference_frame();
        partial.layer_id = partial.layer_id.or(message.layer_id());
        self.bytes += plaintext.len();

        let done = partial.chunks.len() as u64 == partial.count;
        let frame = if done {
            self.partials.remove(&first).map(|p| {
                self.bytes -= p.bytes;
                self.stats.frames_completed += 1;
                let mut payload = Vec::with_capacity(p.bytes);
                for c in p.chunks.values() {
                    payload.extend_from_slice(c);
                }
                ReassembledFrame {
                    capture_time: p.capture_time,
                    reference: p.reference,
                    layer_id: p.layer_id,
                    first_sequence: first,
                    chunk_count: p.count,
                    payload,
                }
            })
        } else {
            self.enforce_limits();
            None
        };
        self.settle_front();
        Ok(frame)
    }

    /// The sequence IDs known to exist that have not arrived and are not given up yet, as
    /// ranges in increasing order: what to ask the SFU to retransmit. Reordering also shows
    /// here for a moment; the caller decides how long to wait before asking.
    pub fn missing(&self) -> Missing<'_> {
        Missing {
            received: self.received.range(self.base..),
            cursor: self.base,
            end: self.horizon,
        }
    }

    /// When [`Reassembler::handle_timeout`] next has work to do, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.reveals
            .front()
            .map(|(_, t)| *t + self.config.frame_deadline)
    }

    /// Gives up every sequence ID, and the frames they belong to, that has been known to
    /// exist for `frame_deadline` or longer without arriving.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut below = self.base;
        while let Some(&(h, t)) = self.reveals.front() {
            if t + self.config.frame_deadline > now {
                break;
            }
            below = below.max(h);
            self.reveals.pop_front();
        }
        if below > self.base {
            self.give_up_below(below);
        }
    }

    /// The SFU says the sequence IDs of `range` will not come (PROTOCOL.md §9,
    /// RetransmissionUnavailable): `withheld` when it held them back on purpose, otherwise
    /// they are lost. Each of them known to exist and not received yet is settled now (counted
    /// in [`ReassemblerStats::messages_withheld`] or [`ReassemblerStats::messages_lost`]), and
    /// a frame in progress that needs one is given up whole (counted lost only when the
    /// messages were). IDs not known yet are left alone. Returns how many IDs it settled.
    pub fn settle_unavailable(&mut self, range: SequenceRange, withheld: bool) -> u64 {
        let start = range.first.max(self.base);
        // IDs past the horizon are not known to exist; the span is at most `window` long.
        let end = range.first.saturating_add(range.count).min(self.horizon);
        let mut settled = 0;
        for seq in start..end {
            if self.received.contains(&seq) {
                continue;
            }
            settled += self.settle_missing(seq, withheld);
            // The frame in progress that needed it can no longer complete.
            let holder = self
                .partials
                .range(..=seq)
                .next_back()
                .filter(|(first, p)| seq < first.saturating_add(p.count))
                .map(|(first, _)| *first);
            let Some(first) = holder else { continue };
            if let Some(p) = self.partials.remove(&first) {
                self.bytes -= p.bytes;
                if !withheld {
                    self.stats.frames_lost += 1;
                }
                for other in first..first.saturating_add(p.count) {
                    if other >= self.base && !self.received.contains(&other) {
                        settled += self.settle_missing(other, withheld);
                    }
                }
            }
        }
        self.settle_front();
        settled
    }

    /// Marks one missing ID as settled without its message. Returns 1.
    fn settle_missing(&mut self, seq: u64, withheld: bool) -> u64 {
        self.received.insert(seq);
        if withheld {
            self.stats.messages_withheld += 1;
        } else {
            self.stats.messages_lost += 1;
        }
        1
    }

    /// Settles every sequence ID below `new_base`: frames in progress that start below it
    /// are lost (and settle their whole range), IDs that never arrived are lost. Frames in
    /// progress can start below `base` (their first chunks arrived), so callers pass a
    /// `new_base` above `base` unless they mean to drop such frames.
    fn give_up_below(&mut self, mut new_base: u64) {
        // Frames in progress can start below `base` (their first chunks arrived), so they
        // are checked even when `base` does not move.
        while let Some((&first, _)) = self.partials.first_key_value() {
            if first >= new_base {
                break;
            }
            if let Some(p) = self.partials.remove(&first) {
                self.bytes -= p.bytes;
                self.stats.frames_lost += 1;
                new_base = new_base.max(first.saturating_add(p.count));
            }
        }
        if new_base <= self.base {
            return;
        }
        let arrived = self.received.range(self.base..new_base).count() as u64;
        self.stats.messages_lost += (new_base - self.base).saturating_sub(arrived);
        self.received = self.received.split_off(&new_base);
        self.base = new_base;
        self.horizon = self.horizon.max(new_base);
        self.settle_front();
    }

    /// Moves `base` past sequence IDs that arrived, and forgets the reveals whose IDs are all
    /// settled (they would only schedule wake-ups with nothing to give up: a stream without
    /// losses needs no timer at all).
    fn settle_front(&mut self) {
        while self.received.first() == Some(&self.base) {
            self.received.pop_first();
            self.base += 1;
        }
        while self.reveals.front().is_some_and(|(h, _)| *h <= self.base) {
            self.reveals.pop_front();
        }
    }

    /// Gives up the oldest frames while over the frame or byte limit.
    fn enforce_limits(&mut self) {
        while self.partials.len() > self.config.max_frames || self.bytes > self.config.max_bytes {
            match self.partials.first_key_value() {
                Some((&first, _)) => self.give_up_below(first + 1),
                None => break,
            }
        }
    }
}

/// Iterator over missing sequence ranges, from [`Reassembler::missing`].
#[derive(Debug, Clone)]
pub struct Missing<'a> {
    received: std::collections::btree_set::Range<'a, u64>,
    cursor: u64,
    end: u64,
}

impl Iterator for Missing<'_> {
    type Item = SequenceRange;

    fn next(&mut self) -> Option<SequenceRange> {
        for &r in self.received.by_ref() {
            if r >= self.end {
                break;
            }
            let gap_first = self.cursor;
            self.cursor = r + 1;
            if r > gap_first {
                return Some(SequenceRange {
                    first: gap_first,
                    count: r - gap_first,
                });
            }
        }
        if self.cursor < self.end {
            let first = self.cursor;
            self.cursor = self.end;
            return Some(SequenceRange {
                first,
                count: self.end - first,
            });
        }
        None
    }
}
