//! The retransmission cache: recent messages per encoding, to answer retransmission requests
//! (draft §5.2) without bothering the publisher.
//!
//! The publisher is one more path away than the SFU, and would otherwise see every viewer's
//! losses. So the SFU keeps the last [`RetransmitConfig::capacity_per_encoding`] messages of
//! each encoding in a ring indexed by `sequence ID % capacity` and answers a
//! [`RetransmissionRequest`] by sequence ranges, GlobalMessageIDs and capture time. The buffer
//! type is generic; the SFU stores `bytes::Bytes`, so caching a message is a reference-count
//! increment and answering a request hands out clones of the same buffers.
//!
//! **Bounds.** Each encoding's ring is allocated once (when its first message arrives) and
//! never grows; inserting never allocates. At most [`RetransmitConfig::max_encodings`]
//! encodings are cached; a new one beyond that evicts the one that received nothing for the
//! longest, reusing its ring. So the cache holds at most `max_encodings × capacity` buffers:
//! with the defaults, 1024 × 512 = 524 288 messages, which at a 1 200-byte maximum datagram is
//! 600 MiB of payload plus about 100 bytes of bookkeeping per slot. Size `max_encodings` to
//! the memory you give the node (for example 100 publishers × 3 encodings = 300 encodings,
//! ≈ 180 MiB). Caveat for `Bytes`: a cached buffer keeps its whole underlying allocation
//! alive; quinn's datagrams are slices of the received packet (and, with GRO, of a batch of
//! packets), so the real bound is `max_encodings × capacity × retained allocation`.
//!
//! **Age.** Entries older than [`RetransmitConfig::max_age`] (default 2 s) are not served: a
//! message that late is useless to a real-time receiver, and resending it wastes its path.
//!
//! **Capture time.** PROTOCOL.md asks for the capture time in every message that starts a
//! frame and lets the later chunks of a frame omit it. A message without a capture time
//! therefore inherits the capture time of the message just before it (and a late first
//! chunk passes its capture time on to the chunks already cached after it), so a request by
//! capture time returns every chunk of the frame.

use newmedia_proto::control::{RetransmissionRequest, SequenceRange};
use newmedia_proto::ids::{GlobalEncodingId, GlobalMessageId};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How far a late frame start passes its capture time on to chunks cached after it.
const MAX_CAPTURE_TIME_PROPAGATION: u64 = 256;
/// Up to this many message IDs in a request are searched linearly.
const LINEAR_ID_SEARCH: usize = 16;

/// Settings of the retransmission cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetransmitConfig {
    capacity: usize,
    max_age: Duration,
    max_encodings: usize,
}

impl Default for RetransmitConfig {
    fn default() -> Self {
        Self {
            capacity: 512,
            max_age: Duration::from_secs(2),
            max_encodings: 1024,
        }
    }
}

impl RetransmitConfig {
    /// How many recent messages are kept per encoding. Default 512; at least 1.
    pub fn capacity_per_encoding(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Oldest a cached message may be and still be served. Default 2 s.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// How many encodings are cached at most. Default 1024; at least 1.
    pub fn max_encodings(mut self, max: usize) -> Self {
        self.max_encodings = max.max(1);
        self
    }

    /// The most messages the whole cache holds: `max_encodings × capacity_per_encoding`.
    pub fn max_messages(&self) -> usize {
        self.max_encodings.saturating_mul(self.capacity)
    }
}

/// What happened to an inserted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InsertOutcome {
    /// Cached.
    Stored,
    /// Cached after clearing the encoding's ring: its sequence ID was so far behind the
    /// newest that the ring cannot hold both, so the publisher must have started numbering
    /// again (a message that late, typically a second or more, would be useless anyway).
    Restarted,
    /// Cached after evicting the given encoding (the cache was at `max_encodings`).
    Evicted(GlobalEncodingId),
}

#[derive(Debug, Clone)]
struct Slot<T> {
    sequence_id: u64,
    /// Own or inherited capture time.
    capture_time: Option<u64>,
    /// Whether `capture_time` came with the message itself.
    own_capture_time: bool,
    stored_at: Instant,
    /// The serve call that last sent this slot, to send each message once per request.
    served_mark: u64,
    data: T,
}

/// The ring of recent messages of one encoding. Usable on its own (for example kept next to
/// the encoding's routing entry, saving a map lookup per message) or through
/// [`RetransmitCache`].
#[derive(Debug, Clone)]
pub struct EncodingCache<T> {
    geid: GlobalEncodingId,
    slots: Vec<Option<Slot<T>>>,
    max_age: Duration,
    newest: Option<u64>,
    last_insert: Option<Instant>,
    mark: u64,
}

impl<T> EncodingCache<T> {
    /// An empty ring for `geid` with the capacity and age limit of `config`. Allocates the
    /// ring now, once.
    pub fn new(geid: GlobalEncodingId, config: &RetransmitConfig) -> Self {
        let mut slots = Vec::with_capacity(config.capacity);
        slots.resize_with(config.capacity, || None);
        Self {
            geid,
            slots,
            max_age: config.max_age,
            newest: None,
            last_insert: None,
            mark: 0,
        }
    }

    /// The encoding cached.
    pub fn geid(&self) -> GlobalEncodingId {
        self.geid
    }

    /// How many messages the ring holds at most.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// When the last message was inserted.
    pub fn last_insert(&self) -> Option<Instant> {
        self.last_insert
    }

    /// Empties the ring and gives it to `geid`, keeping the allocation.
    pub fn reset(&mut self, geid: GlobalEncodingId) {
        self.geid = geid;
        self.slots.iter_mut().for_each(|s| *s = None);
        self.newest = None;
        self.last_insert = None;
    }

    fn capacity_u64(&self) -> u64 {
        self.slots.len() as u64
    }

    fn index(&self, sequence_id: u64) -> usize {
        // The ring is not empty (capacity >= 1) and the remainder is below its length.
        (sequence_id % self.capacity_u64().max(1)) as usize
    }

    /// The oldest sequence ID the ring can hold given the newest.
    fn window_start(&self) -> u64 {
        self.newest.map_or(0, |n| {
            n.saturating_sub(self.capacity_u64().saturating_sub(1))
        })
    }

    fn slot(&self, sequence_id: u64) -> Option<&Slot<T>> {
        self.slots
            .get(self.index(sequence_id))?
            .as_ref()
            .filter(|s| s.sequence_id == sequence_id)
    }

    fn slot_mut(&mut self, sequence_id: u64) -> Option<&mut Slot<T>> {
        let i = self.index(sequence_id);
        self.slots
            .get_mut(i)?
            .as_mut()
            .filter(|s| s.sequence_id == sequence_id)
    }

    fn servable(&self, slot: &Slot<T>, now: Instant) -> bool {
        slot.sequence_id >= self.window_start()
            && now.saturating_duration_since(slot.stored_at) <= self.max_age
    }

    /// Caches message `sequence_id` with its capture time header (if any). O(1) and
    /// allocation-free, except that a late frame start may update up to 256 chunks after it.
    pub fn insert(
        &mut self,
        sequence_id: u64,
        capture_time: Option<u64>,
        data: T,
        now: Instant,
    ) -> InsertOutcome {
        let mut outcome = InsertOutcome::Stored;
        if self
            .newest
            .is_some_and(|newest| sequence_id.saturating_add(self.capacity_u64()) <= newest)
        {
            // Further behind than the ring reaches: either a message seconds late, which is
            // useless, or a publisher that restarted its numbering. Assume the latter: the
            // worst a wrong guess does is empty this publisher's own ring. (Within the reach,
            // a slot never holds a newer message than the one that maps to it, so a late
            // message there simply fills its slot.)
            let geid = self.geid;
            self.reset(geid);
            outcome = InsertOutcome::Restarted;
        }
        let (effective, own) = match capture_time {
            Some(t) => (Some(t), true),
            None => (
                sequence_id
                    .checked_sub(1)
                    .and_then(|prev| self.slot(prev))
                    .and_then(|s| s.capture_time),
                false,
            ),
        };
        let index = self.index(sequence_id);
        if let Some(slot) = self.slots.get_mut(index) {
            *slot = Some(Slot {
                sequence_id,
                capture_time: effective,
                own_capture_time: own,
                stored_at: now,
                served_mark: 0,
                data,
            });
        }
        self.newest = Some(self.newest.map_or(sequence_id, |n| n.max(sequence_id)));
        self.last_insert = Some(now);
        if own && self.newest != Some(sequence_id) {
            self.propagate_capture_time(sequence_id, effective);
        }
        outcome
    }

    /// A frame start arrived after some of its chunks: hand its capture time on.
    fn propagate_capture_time(&mut self, sequence_id: u64, capture_time: Option<u64>) {
        for next in (1..=MAX_CAPTURE_TIME_PROPAGATION).filter_map(|k| sequence_id.checked_add(k)) {
            match self.slot_mut(next) {
                Some(s) if !s.own_capture_time => s.capture_time = capture_time,
                _ => break,
            }
        }
    }

    /// Calls `f` on every cached message stored at or after `since`, newest first (it stops
    /// at the first older one, so the work is bounded by what arrived since).
    pub fn update_since(&mut self, since: Instant, mut f: impl FnMut(&mut T)) {
        let Some(newest) = self.newest else {
            return;
        };
        let start = self.window_start();
        for seq in (start..=newest).rev() {
            match self.slot_mut(seq) {
                Some(s) if s.stored_at >= since => f(&mut s.data),
                // A hole (not received, or overwritten) does not end the run; an older
                // message does.
                Some(_) => return,
                None => {}
            }
        }
    }

    /// The cached message `sequence_id`, if it is there and not older than the max age.
    pub fn get(&self, sequence_id: u64, now: Instant) -> Option<&T> {
        self.slot(sequence_id)
            .filter(|s| self.servable(s, now))
            .map(|s| &s.data)
    }

    /// Answers `request` (whose encoding the caller matched to this ring): calls `emit` with
    /// the sequence ID and buffer of every cached message it asks for, each once: first the
    /// ranges in the order given (each ascending), then the message IDs and the capture time
    /// (ascending sequence). Returns how many were emitted. Work is O(capacity) per range
    /// plus O(capacity × log IDs) for IDs and capture time (one hash per cached message when
    /// IDs are asked for), whatever the counts in the request; no allocation, except one
    /// sorted copy of the IDs when a request carries more than 16.
    pub fn serve(
        &mut self,
        request: &RetransmissionRequest,
        now: Instant,
        mut emit: impl FnMut(u64, &T),
    ) -> usize {
        let Some(newest) = self.newest else {
            return 0;
        };
        self.mark = self.mark.wrapping_add(1).max(1);
        let start = self.window_start();
        let mut sent = 0;
        for range in &request.ranges {
            let Some(last) = range.last() else {
                continue;
            };
            let (from, to) = (range.first.max(start), last.min(newest));
            for seq in from..=to {
                sent += usize::from(self.serve_one(seq, now, &mut emit));
            }
        }
        if !request.message_ids.is_empty() || request.capture_time.is_some() {
            // Many IDs: sort a copy once (control path, one allocation) so that each cached
            // message costs one hash and a binary search instead of a scan of every ID.
            let sorted: Option<Vec<GlobalMessageId>> =
                (request.message_ids.len() > LINEAR_ID_SEARCH).then(|| {
                    let mut ids = request.message_ids.clone();
                    ids.sort_unstable();
                    ids
                });
            let asked = |id: GlobalMessageId| match &sorted {
                Some(ids) => ids.binary_search(&id).is_ok(),
                None => request.message_ids.contains(&id),
            };
            for seq in start..=newest {
                let wanted = self.slot(seq).is_some_and(|s| {
                    request
                        .capture_time
                        .is_some_and(|t| s.capture_time == Some(t))
                        || (!request.message_ids.is_empty()
                            && asked(self.geid.message_id(s.sequence_id)))
                });
                if wanted {
                    sent += usize::from(self.serve_one(seq, now, &mut emit));
                }
            }
        }
        sent
    }

    /// The sequence IDs that `request`'s ranges ask for and that this ring cannot serve:
    /// below what it still reaches, or missing or too old in it. IDs above the newest
    /// message inserted are left out (they may still be on their way). Ascending within each
    /// requested range, consecutive IDs merged, at most `max_ranges` ranges (the rest is
    /// left out). O(capacity) per requested range; allocates only the answer.
    pub fn unavailable(
        &self,
        request: &RetransmissionRequest,
        now: Instant,
        max_ranges: usize,
    ) -> Vec<SequenceRange> {
        let mut out = RangeList::new(max_ranges);
        for range in &request.ranges {
            let Some(last) = range.last() else {
                continue;
            };
            let newest = match self.newest {
                Some(n) => n,
                // Nothing ever cached: everything asked for is unavailable.
                None => {
                    out.push_range(range.first, last);
                    continue;
                }
            };
            let last = last.min(newest);
            if range.first > last {
                continue;
            }
            let start = self.window_start();
            if range.first < start {
                out.push_range(range.first, last.min(start - 1));
            }
            for seq in range.first.max(start)..=last {
                let cached = self.slot(seq).is_some_and(|s| self.servable(s, now));
                if !cached {
                    out.push_range(seq, seq);
                }
            }
        }
        out.ranges
    }

    fn serve_one(
        &mut self,
        sequence_id: u64,
        now: Instant,
        emit: &mut impl FnMut(u64, &T),
    ) -> bool {
        let (mark, start, max_age) = (self.mark, self.window_start(), self.max_age);
        match self.slot_mut(sequence_id) {
            Some(s)
                if s.served_mark != mark
                    && s.sequence_id >= start
                    && now.saturating_duration_since(s.stored_at) <= max_age =>
            {
                s.served_mark = mark;
                emit(sequence_id, &s.data);
                true
            }
            _ => false,
        }
    }
}

/// Ascending sequence ranges, consecutive IDs merged, at most `max` ranges.
#[derive(Debug)]
pub struct RangeList {
    ranges: Vec<SequenceRange>,
    max: usize,
}

impl RangeList {
    /// An empty list that keeps at most `max` ranges.
    pub fn new(max: usize) -> Self {
        Self {
            ranges: Vec::new(),
            max,
        }
    }

    /// Adds `first ..= last` (`first <= last`), merged with the last range when it follows
    /// on; dropped when the list is full.
    pub fn push_range(&mut self, first: u64, last: u64) {
        if let Some(r) = self.ranges.last_mut()
            && r.first.saturating_add(r.count) == first
        {
            r.count = r.count.saturating_add(last - first + 1);
            return;
        }
        if self.ranges.len() < self.max {
            self.ranges.push(SequenceRange {
                first,
                count: last - first + 1,
            });
        }
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The ranges.
    pub fn into_ranges(self) -> Vec<SequenceRange> {
        self.ranges
    }
}

/// Retransmission caches of every encoding, bounded in count (see the module docs).
#[derive(Debug, Clone)]
pub struct RetransmitCache<T> {
    config: RetransmitConfig,
    encodings: HashMap<GlobalEncodingId, EncodingCache<T>>,
}

impl<T> RetransmitCache<T> {
    /// An empty cache.
    pub fn new(config: RetransmitConfig) -> Self {
        Self {
            config,
            encodings: HashMap::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &RetransmitConfig {
        &self.config
    }

    /// Caches one message. O(1), allocation-free once the encoding has its ring; the first
    /// message of an encoding allocates its ring (or reuses an evicted one's).
    pub fn insert(
        &mut self,
        geid: GlobalEncodingId,
        sequence_id: u64,
        capture_time: Option<u64>,
        data: T,
        now: Instant,
    ) -> InsertOutcome {
        if let Some(ring) = self.encodings.get_mut(&geid) {
            return ring.insert(sequence_id, capture_time, data, now);
        }
        let mut evicted = None;
        let ring = if self.encodings.len() >= self.config.max_encodings {
            let oldest = self
                .encodings
                .values()
                .min_by_key(|r| r.last_insert)
                .map(EncodingCache::geid);
            oldest.and_then(|g| {
                evicted = Some(g);
                self.encodings.remove(&g)
            })
        } else {
            None
        };
        let mut ring = match ring {
            Some(mut r) => {
                r.reset(geid);
                r
            }
            None => EncodingCache::new(geid, &self.config),
        };
        let outcome = ring.insert(sequence_id, capture_time, data, now);
        self.encodings.insert(geid, ring);
        evicted.map_or(outcome, InsertOutcome::Evicted)
    }

    /// The cached message, if there and young enough.
    pub fn get(&self, geid: GlobalEncodingId, sequence_id: u64, now: Instant) -> Option<&T> {
        self.encodings.get(&geid)?.get(sequence_id, now)
    }

    /// Answers a retransmission request: see [`EncodingCache::serve`]. 0 for an encoding not
    /// cached.
    pub fn serve(
        &mut self,
        request: &RetransmissionRequest,
        now: Instant,
        emit: impl FnMut(u64, &T),
    ) -> usize {
        self.encodings
            .get_mut(&request.encoding)
            .map_or(0, |ring| ring.serve(request, now, emit))
    }

    /// What a retransmission request's ranges ask for that cannot be served: see
    /// [`EncodingCache::unavailable`]. Everything asked for, for an encoding not cached.
    pub fn unavailable(
        &self,
        request: &RetransmissionRequest,
        now: Instant,
        max_ranges: usize,
    ) -> Vec<SequenceRange> {
        match self.encodings.get(&request.encoding) {
            Some(ring) => ring.unavailable(request, now, max_ranges),
            None => {
                let mut out = RangeList::new(max_ranges);
                for r in &request.ranges {
                    if let Some(last) = r.last() {
                        out.push_range(r.first, last);
                    }
                }
                out.into_ranges()
            }
        }
    }

    /// Drops an encoding's ring (it stopped being published).
    pub fn remove(&mut self, geid: GlobalEncodingId) {
        self.encodings.remove(&geid);
    }

    /// How many encodings have a ring.
    pub fn len(&self) -> usize {
        self.encodings.len()
    }

    /// Whether no encoding has a ring.
    pub fn is_empty(&self) -> bool {
        self.encodings.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_epoch;
    use newmedia_proto::control::SequenceRange;
    use proptest::prelude::*;

    const E: GlobalEncodingId = GlobalEncodingId(0xabc);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn request() -> RetransmissionRequest {
        RetransmissionRequest {
            encoding: E,
            ranges: Vec::new(),
            capture_time: None,
            message_ids: Vec::new(),
        }
    }

    fn ranges(r: &[(u64, u64)]) -> RetransmissionRequest {
        RetransmissionRequest {
            ranges: r
                .iter()
                .map(|&(first, count)| SequenceRange { first, count })
                .collect(),
            ..request()
        }
    }

    fn served(
        cache: &mut RetransmitCache<u64>,
        req: &RetransmissionRequest,
        now: Instant,
    ) -> Vec<u64> {
        let mut out = Vec::new();
        let n = cache.serve(req, now, |seq, &data| {
            assert_eq!(data, seq * 10);
            out.push(seq)
        });
        assert_eq!(n, out.len());
        out
    }

    /// A cache of `capacity` holding messages `0..n` of `E` (data = seq * 10), one per ms.
    fn filled(capacity: usize, n: u64, t0: Instant) -> RetransmitCache<u64> {
        let mut c =
            RetransmitCache::new(RetransmitConfig::default().capacity_per_encoding(capacity));
        for seq in 0..n {
            assert_eq!(
                c.insert(E, seq, None, seq * 10, t0 + ms(seq)),
                InsertOutcome::Stored
            );
        }
        c
    }

    #[test]
    fn serves_ranges_in_the_order_asked() {
        let t0 = test_epoch();
        let mut c = filled(512, 100, t0);
        let got = served(&mut c, &ranges(&[(50, 3), (10, 2), (98, 5)]), t0 + ms(100));
        assert_eq!(got, vec![50, 51, 52, 10, 11, 98, 99]);
        assert_eq!(c.get(E, 99, t0 + ms(100)), Some(&990));
        assert_eq!(c.get(E, 100, t0 + ms(100)), None);
    }

    #[test]
    fn each_message_is_sent_once_per_request() {
        let t0 = test_epoch();
        let mut c = filled(512, 100, t0);
        let req = RetransmissionRequest {
            message_ids: vec![E.message_id(5), E.message_id(6)],
            ..ranges(&[(4, 3), (5, 1)])
        };
        assert_eq!(served(&mut c, &req, t0), vec![4, 5, 6]);
        // The next request serves them again.
        assert_eq!(served(&mut c, &req, t0), vec![4, 5, 6]);
    }

    #[test]
    fn serves_by_message_id() {
        let t0 = test_epoch();
        let mut c = filled(512, 100, t0);
        let req = RetransmissionRequest {
            message_ids: vec![
                E.message_id(70),
                GlobalEncodingId(1).message_id(71),
                E.message_id(3),
            ],
            ..request()
        };
        assert_eq!(served(&mut c, &req, t0), vec![3, 70]);
    }

    #[test]
    fn serves_many_message_ids() {
        let t0 = test_epoch();
        let mut c = filled(512, 100, t0);
        let mut ids: Vec<_> = (0..200).rev().map(|s| E.message_id(s * 2)).collect();
        ids.push(GlobalEncodingId(1).message_id(1));
        let req = RetransmissionRequest {
            message_ids: ids,
            ..request()
        };
        assert_eq!(
            served(&mut c, &req, t0),
            (0..50).map(|s| s * 2).collect::<Vec<_>>()
        );
    }

    #[test]
    fn serves_every_chunk_of_a_frame_by_capture_time() {
        let t0 = test_epoch();
        let mut c = RetransmitCache::new(RetransmitConfig::default());
        // Frame 1000: seq 0-2 (only the first carries the capture time); frame 1033: seq 3-4.
        for (seq, ct) in [
            (0, Some(1000)),
            (1, None),
            (2, None),
            (3, Some(1033)),
            (4, None),
        ] {
            c.insert(E, seq, ct, seq * 10, t0);
        }
        let req = RetransmissionRequest {
            capture_time: Some(1000),
            ..request()
        };
        assert_eq!(served(&mut c, &req, t0), vec![0, 1, 2]);
        let req = RetransmissionRequest {
            capture_time: Some(1033),
            ..request()
        };
        assert_eq!(served(&mut c, &req, t0), vec![3, 4]);
    }

    #[test]
    fn late_frame_start_hands_its_capture_time_on() {
        let t0 = test_epoch();
        let mut c = RetransmitCache::new(RetransmitConfig::default());
        c.insert(E, 4, Some(900), 40, t0);
        // Chunks 6 and 7 arrive before the frame start 5; 8 starts the next frame.
        c.insert(E, 6, None, 60, t0);
        c.insert(E, 7, None, 70, t0);
        c.insert(E, 8, Some(1000), 80, t0);
        c.insert(E, 5, Some(950), 50, t0);
        let req = RetransmissionRequest {
            capture_time: Some(950),
            ..request()
        };
        assert_eq!(served(&mut c, &req, t0), vec![5, 6, 7]);
    }

    #[test]
    fn old_entries_are_not_served() {
        let t0 = test_epoch();
        let mut c = filled(512, 100, t0);
        // Message n was stored at n ms; max age 2 s.
        let now = t0 + ms(2050);
        assert_eq!(
            served(&mut c, &ranges(&[(0, 100)]), now),
            (50..100).collect::<Vec<_>>()
        );
        assert_eq!(c.get(E, 49, now), None);
        assert_eq!(c.get(E, 50, now), Some(&500));
    }

    fn unavailable(
        cache: &RetransmitCache<u64>,
        req: &RetransmissionRequest,
        now: Instant,
        max: usize,
    ) -> Vec<(u64, u64)> {
        cache
            .unavailable(req, now, max)
            .into_iter()
            .map(|r| (r.first, r.count))
            .collect()
    }

    #[test]
    fn unavailable_names_what_the_ring_no_longer_has() {
        let t0 = test_epoch();
        // Capacity 8, messages 0..20: the ring holds 12..20; 15 was never received.
        let mut c = RetransmitCache::new(RetransmitConfig::default().capacity_per_encoding(8));
        for seq in (0..20).filter(|s| *s != 15) {
            c.insert(E, seq, None, seq * 10, t0);
        }
        let req = ranges(&[(5, 12), (30, 2)]);
        // 5..12 is below the ring, 15 is missing, 30-31 are above the newest (not answered).
        assert_eq!(unavailable(&c, &req, t0, 32), vec![(5, 7), (15, 1)]);
        // Adjacent results merge; the count of ranges is capped.
        assert_eq!(
            unavailable(&c, &ranges(&[(0, 3), (3, 2), (15, 1)]), t0, 1),
            vec![(0, 5)]
        );
        // Too old to serve is unavailable too (max age 2 s).
        assert_eq!(
            unavailable(&c, &ranges(&[(12, 8)]), t0 + ms(2001), 32),
            vec![(12, 8)]
        );
        // A huge range is answered with one range below the ring, not iterated.
        let huge = ranges(&[(0, (1 << 62) - 1)]);
        assert_eq!(unavailable(&c, &huge, t0, 32), vec![(0, 12), (15, 1)]);
        // An encoding never cached: all of it.
        let other = RetransmissionRequest {
            encoding: GlobalEncodingId(1),
            ..ranges(&[(0, 4)])
        };
        assert_eq!(unavailable(&c, &other, t0, 32), vec![(0, 4)]);
    }

    #[test]
    fn recent_messages_can_be_updated() {
        let t0 = test_epoch();
        let mut ring = EncodingCache::new(E, &RetransmitConfig::default().capacity_per_encoding(8));
        for seq in (0..20).filter(|s| *s != 17) {
            ring.insert(seq, None, seq, t0 + ms(seq));
        }
        let mut seen = Vec::new();
        ring.update_since(t0 + ms(15), |v| {
            seen.push(*v);
            *v += 1000;
        });
        assert_eq!(seen, vec![19, 18, 16, 15]);
        assert_eq!(ring.get(15, t0), Some(&1015));
        assert_eq!(ring.get(14, t0), Some(&14));
    }

    #[test]
    fn ring_keeps_only_the_last_capacity_messages() {
        let t0 = test_epoch();
        let mut c = filled(8, 20, t0);
        assert_eq!(
            served(&mut c, &ranges(&[(0, 20)]), t0),
            (12..20).collect::<Vec<_>>()
        );
        // A huge range is clipped to the ring, not iterated.
        let huge = ranges(&[(0, (1 << 62) - 1)]);
        assert_eq!(served(&mut c, &huge, t0), (12..20).collect::<Vec<_>>());
    }

    #[test]
    fn reordered_message_within_reach_is_stored() {
        let t0 = test_epoch();
        let mut c = filled(8, 20, t0);
        c.insert(E, 22, None, 220, t0);
        assert_eq!(c.insert(E, 20, None, 200, t0), InsertOutcome::Stored);
        assert_eq!(c.insert(E, 21, None, 210, t0), InsertOutcome::Stored);
        assert_eq!(
            served(&mut c, &ranges(&[(0, 30)]), t0),
            (15..23).collect::<Vec<_>>()
        );
    }

    #[test]
    fn restarted_numbering_clears_the_ring() {
        let t0 = test_epoch();
        let mut c = filled(8, 100, t0);
        assert_eq!(c.insert(E, 0, None, 0, t0), InsertOutcome::Restarted);
        assert_eq!(c.get(E, 99, t0), None);
        assert_eq!(c.insert(E, 1, None, 10, t0), InsertOutcome::Stored);
        assert_eq!(served(&mut c, &ranges(&[(0, 2)]), t0), vec![0, 1]);
    }

    #[test]
    fn encoding_count_is_bounded() {
        let t0 = test_epoch();
        let config = RetransmitConfig::default()
            .max_encodings(2)
            .capacity_per_encoding(4);
        assert_eq!(config.max_messages(), 8);
        let mut c = RetransmitCache::new(config);
        let (a, b, d) = (
            GlobalEncodingId(1),
            GlobalEncodingId(2),
            GlobalEncodingId(3),
        );
        c.insert(a, 0, None, 1, t0);
        c.insert(b, 0, None, 2, t0 + ms(1));
        c.insert(a, 1, None, 3, t0 + ms(2));
        // b received nothing for the longest: it goes.
        assert_eq!(
            c.insert(d, 0, None, 4, t0 + ms(3)),
            InsertOutcome::Evicted(b)
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(b, 0, t0), None);
        assert_eq!(c.get(a, 1, t0), Some(&3));
        assert_eq!(c.get(d, 0, t0), Some(&4));
        c.remove(a);
        c.remove(d);
        assert!(c.is_empty());
        assert_eq!(c.config().max_messages(), 8);
    }

    #[test]
    fn unknown_encoding_serves_nothing() {
        let t0 = test_epoch();
        let mut c: RetransmitCache<u64> = RetransmitCache::new(RetransmitConfig::default());
        assert_eq!(served(&mut c, &ranges(&[(0, 10)]), t0), Vec::<u64>::new());
        let mut ring: EncodingCache<u64> = EncodingCache::new(E, &RetransmitConfig::default());
        assert_eq!(ring.serve(&ranges(&[(0, 10)]), t0, |_, _| ()), 0);
        assert_eq!(
            (ring.geid(), ring.capacity(), ring.last_insert()),
            (E, 512, None)
        );
    }

    #[test]
    fn bytes_buffers_are_shared_not_copied() {
        let t0 = test_epoch();
        let mut c = RetransmitCache::new(RetransmitConfig::default());
        let msg = bytes::Bytes::from_static(b"rtp3 message");
        c.insert(E, 0, None, msg.clone(), t0);
        let mut out = Vec::new();
        c.serve(&ranges(&[(0, 1)]), t0, |_, b| out.push(b.clone()));
        assert_eq!(out[0].as_ptr(), msg.as_ptr());
    }

    proptest! {
        /// Against a model (a map of everything ever inserted): whatever arrives in whatever
        /// order, a range request returns exactly the requested messages that are in the
        /// ring's window, were not overwritten by a newer message, and are young enough.
        #[test]
        fn ring_matches_a_model(
            seqs in proptest::collection::vec(0u64..200, 1..300),
            first in 0u64..200,
            count in 1u64..100,
        ) {
            let t0 = test_epoch();
            let cap = 16u64;
            let mut c = RetransmitCache::new(RetransmitConfig::default().capacity_per_encoding(cap as usize));
            let mut model: HashMap<u64, u64> = HashMap::new(); // slot -> seq
            let mut newest: Option<u64> = None;
            for (i, &seq) in seqs.iter().enumerate() {
                let outcome = c.insert(E, seq, None, seq * 10, t0 + ms(i as u64));
                if outcome == InsertOutcome::Restarted {
                    model.clear();
                    newest = None;
                }
                model.insert(seq % cap, seq);
                newest = Some(newest.map_or(seq, |n: u64| n.max(seq)));
            }
            let now = t0 + ms(seqs.len() as u64);
            let got = served(&mut c, &ranges(&[(first, count)]), now);
            let n = newest.unwrap();
            let expected: Vec<u64> = (first..first + count)
                .filter(|s| *s + cap > n && model.get(&(s % cap)) == Some(s))
                .collect();
            prop_assert_eq!(got, expected);
        }
    }
}
