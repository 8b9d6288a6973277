//! Splitting encoded frames into sealed RTP3 messages (PROTOCOL.md "RTP3 message").
//!
//! [`Packetizer`] is sans-IO: it takes a frame and the current time and hands back datagrams,
//! it never reads a clock or touches a socket.

use bytes::Bytes;
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::{Chunk, Headers, Rtp3Error, Sealer};
use std::time::{Duration, Instant};
use thiserror::Error;

/// How often the full identifying set (conference, endpoint, encoding and source IDs, salt)
/// is sent at least (draft §5: "at least once a second").
pub const FULL_SET_INTERVAL: Duration = Duration::from_secs(1);

/// Why a frame could not be packetized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PacketizeError {
    /// The datagram size leaves no room for even one payload byte next to the headers.
    #[error(
        "a datagram of {max_datagram} bytes cannot hold a message of {needed} bytes (headers and one payload byte)"
    )]
    DatagramTooSmall {
        /// The configured maximum datagram size.
        max_datagram: usize,
        /// The smallest message size that would have been needed.
        needed: usize,
    },
    /// A header could not be written or the message could not be sealed (active level or
    /// DSCP out of range, a sealer for another encoding, sequence IDs exhausted).
    #[error(transparent)]
    Rtp3(#[from] Rtp3Error),
}

/// The IDs of one encoding, as the proposal's `sendStreams` entry gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncodingIds {
    /// Conference ID.
    pub conference_id: u64,
    /// Endpoint ID (the sender's).
    pub endpoint_id: u64,
    /// Source ID.
    pub source_id: u64,
    /// Encoding ID.
    pub encoding_id: u64,
}

impl EncodingIds {
    /// The GlobalEncodingID these IDs hash to.
    pub fn global_encoding_id(&self) -> GlobalEncodingId {
        GlobalEncodingId::derive(
            self.conference_id,
            self.endpoint_id,
            self.source_id,
            self.encoding_id,
        )
    }
}

/// One encoded frame as the app hands it to the SDK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The encoded frame (may be empty: it is then sent as one message with an empty payload).
    pub payload: &'a [u8],
    /// Capture time of the first sample: NTP time in ms (high bits discarded).
    pub capture_time: u64,
    /// Whether this is a reference frame (flagged on every chunk).
    pub reference: bool,
    /// Layer ID of a scalable codec, if any.
    pub layer_id: Option<u64>,
    /// Active level 0-100, if any.
    pub active_level: Option<u8>,
}

/// Splits the frames of one encoding into sealed RTP3 messages that each fit one datagram.
///
/// - Sequence IDs count messages from 0 for the packetizer's life (one salt, one
///   [`Sealer`]); never build two packetizers on the same sealer's salt.
/// - A frame goes into as few messages as fit `max_datagram` (headers, payload field and AEAD
///   tag counted exactly). A frame that needs several messages carries the frame chunk header
///   (index, count) on each; a single-message frame carries none.
/// - Every message carries the capture time, the reference flag (reference frames only), the
///   layer ID and active level when given.
/// - The first message of every frame in the encoding's first [`FULL_SET_INTERVAL`] (and of
///   every reference frame with [`Packetizer::set_full_set_on_reference`]), and otherwise the
///   first message at least [`FULL_SET_INTERVAL`] after the last one that did, carry the full
///   set: conference ID, endpoint ID, encoding ID, source
///   ID, salt, and the DSCP when one is configured.
/// - The GlobalMessageID header is never sent: receivers compute it from the sequence ID.
#[derive(Debug)]
pub struct Packetizer {
    sealer: Sealer,
    ids: EncodingIds,
    global_encoding_id: GlobalEncodingId,
    max_datagram: usize,
    dscp: Option<u8>,
    next_sequence_id: u64,
    last_full_set: Option<Instant>,
    started: Option<Instant>,
    full_set_on_reference: bool,
    scratch: Vec<u8>,
    caps: Vec<usize>,
}

impl Packetizer {
    /// A packetizer for the encoding `ids` sealed by `sealer` (whose key must belong to
    /// `ids.global_encoding_id()`), for datagrams of at most `max_datagram` bytes (the path's
    /// maximum QUIC datagram payload), with an optional DSCP (0-63).
    ///
    /// Fails if `max_datagram` cannot hold a first message (full set, chunk header) with one
    /// payload byte, or if `dscp` is out of range.
    pub fn new(
        sealer: Sealer,
        ids: EncodingIds,
        max_datagram: usize,
        dscp: Option<u8>,
    ) -> Result<Self, PacketizeError> {
        let mut p = Self {
            sealer,
            ids,
            global_encoding_id: ids.global_encoding_id(),
            max_datagram,
            dscp,
            next_sequence_id: 0,
            last_full_set: None,
            started: None,
            full_set_on_reference: false,
            scratch: Vec::with_capacity(64),
            caps: Vec::new(),
        };
        p.check_datagram_size()?;
        Ok(p)
    }

    /// The sequence ID the next message will carry (equals the number of messages sent).
    pub fn next_sequence_id(&self) -> u64 {
        self.next_sequence_id
    }

    /// The maximum datagram size in bytes.
    pub fn max_datagram(&self) -> usize {
        self.max_datagram
    }

    /// The GlobalEncodingID of the encoding.
    pub fn global_encoding_id(&self) -> GlobalEncodingId {
        self.global_encoding_id
    }

    /// Changes the maximum datagram size (e.g. after path MTU discovery or migration). On
    /// error the previous size stays.
    pub fn set_max_datagram(&mut self, max_datagram: usize) -> Result<(), PacketizeError> {
        let old = std::mem::replace(&mut self.max_datagram, max_datagram);
        let checked = self.check_datagram_size();
        if checked.is_err() {
            self.max_datagram = old;
        }
        checked
    }

    /// Also send the full set on the first message of every reference frame (video: a late
    /// joiner starts at a key frame and can open it at once). Default `false`.
    pub fn set_full_set_on_reference(&mut self, on: bool) {
        self.full_set_on_reference = on;
    }

    /// The next frame's first message carries the full set, whenever the last one did: an
    /// audio publisher's answer to an SFU's request on behalf of a subscriber that just
    /// started receiving it and cannot open a message before it has the salt.
    pub fn send_full_set_next(&mut self) {
        self.last_full_set = None;
    }

    /// Changes the DSCP. The next message carries the full set, DSCP included. On error the
    /// previous DSCP stays.
    pub fn set_dscp(&mut self, dscp: Option<u8>) -> Result<(), PacketizeError> {
        let old = std::mem::replace(&mut self.dscp, dscp);
        let checked = self.check_datagram_size();
        if checked.is_err() {
            self.dscp = old;
        } else {
            self.last_full_set = None;
        }
        checked
    }

    /// Splits `frame` into messages and hands each sealed datagram to `out`, in sequence
    /// order. Returns how many messages were produced.
    ///
    /// All checks (header values, datagram size) happen before the first message is handed
    /// out, so on error nothing was sent and no sequence ID was used.
    pub fn packetize(
        &mut self,
        frame: &Frame<'_>,
        now: Instant,
        out: &mut impl FnMut(Bytes),
    ) -> Result<usize, PacketizeError> {
        let started = *self.started.get_or_insert(now);
        // During the encoding's first FULL_SET_INTERVAL every frame carries the full set, and
        // later every reference frame does: a receiver (or an SFU gating speakers) that missed
        // the very first message can open the stream at once instead of waiting up to a
        // second, and a late joiner starts at a reference frame anyway.
        let full = self
            .last_full_set
            .is_none_or(|t| now.saturating_duration_since(t) >= FULL_SET_INTERVAL)
            || now.saturating_duration_since(started) < FULL_SET_INTERVAL
            || (frame.reference && self.full_set_on_reference);
        let len = frame.payload.len();
        let seq0 = self.next_sequence_id;

        // One message without a chunk header?
        let single = self.measure(seq0, full, frame, None)?;
        let single_cap = self.capacity(single);
        let count = match single_cap {
            Some(cap) if cap >= len => 1,
            None if len == 0 => return Err(self.too_small(single)),
            _ => self.plan(seq0, full, frame)?,
        };

        let mut rest = frame.payload;
        for i in 0..count {
            let chunk = (count > 1).then_some(Chunk {
                index: i as u64,
                count: count as u64,
            });
            let cap = if count == 1 {
                len
            } else {
                self.caps.get(i).copied().unwrap_or(0)
            };
            let (part, tail) = rest.split_at(cap.min(rest.len()));
            rest = tail;
            let headers = self.headers(seq0 + i as u64, full && i == 0, frame, chunk);
            let mut buf = Vec::with_capacity(self.max_datagram);
            self.sealer.seal(&headers, part, &mut buf)?;
            debug_assert!(buf.len() <= self.max_datagram);
            self.next_sequence_id += 1;
            out(Bytes::from(buf));
        }
        if full {
            self.last_full_set = Some(now);
        }
        Ok(count)
    }

    /// Finds the fewest chunks (at least 2) whose capacities hold the frame and leaves the
    /// capacities in `self.caps`.
    fn plan(&mut self, seq0: u64, full: bool, frame: &Frame<'_>) -> Result<usize, PacketizeError> {
        let len = frame.payload.len();
        // The smallest header any chunk can have: no full set, the first sequence ID, a
        // 2-chunk header. Its capacity bounds every chunk's, so fewer chunks cannot do.
        let min_header = self.measure(seq0, false, frame, Some(Chunk { index: 0, count: 2 }))?;
        let max_cap = self
            .capacity(min_header)
            .filter(|c| *c > 0)
            .ok_or_else(|| self.too_small(min_header))?;
        let mut count = len.div_ceil(max_cap).max(2);
        loop {
            self.caps.clear();
            let mut total = 0usize;
            for i in 0..count {
                let chunk = Chunk {
                    index: i as u64,
                    count: count as u64,
                };
                let h = self.measure(seq0 + i as u64, full && i == 0, frame, Some(chunk))?;
                let cap = self
                    .capacity(h)
                    .filter(|c| *c > 0)
                    .ok_or_else(|| self.too_small(h))?;
                self.caps.push(cap);
                total += cap;
            }
            if total >= len {
                return Ok(count);
            }
            count += 1;
        }
    }

    /// The headers of one message.
    fn headers(&self, seq: u64, full: bool, frame: &Frame<'_>, chunk: Option<Chunk>) -> Headers {
        let mut h = Headers::new(self.global_encoding_id, seq);
        if full {
            h.conference_id = Some(self.ids.conference_id);
            h.endpoint_id = Some(self.ids.endpoint_id);
            h.encoding_id = Some(self.ids.encoding_id);
            h.source_id = Some(self.ids.source_id);
            h.salt = Some(*self.sealer.salt());
            h.dscp = self.dscp;
        }
        h.active_level = frame.active_level;
        h.capture_time = Some(frame.capture_time);
        h.reference_frame = frame.reference.then_some(true);
        h.layer_id = frame.layer_id;
        h.chunk = chunk;
        h
    }

    /// The exact length of the header fields of one message.
    fn measure(
        &mut self,
        seq: u64,
        full: bool,
        frame: &Frame<'_>,
        chunk: Option<Chunk>,
    ) -> Result<usize, PacketizeError> {
        let headers = self.headers(seq, full, frame, chunk);
        self.scratch.clear();
        headers.write(&mut self.scratch)?;
        Ok(self.scratch.len())
    }

    /// The largest payload that fits next to `header_len` bytes of headers, or `None` when
    /// not even an empty payload does.
    fn capacity(&self, header_len: usize) -> Option<usize> {
        let avail = self.max_datagram.checked_sub(header_len)?;
        let fits = |p: usize| p + self.sealer.payload_overhead(p) <= avail;
        if !fits(0) {
            return None;
        }
        let (mut lo, mut hi) = (0usize, avail);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if fits(mid) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Some(lo)
    }

    fn too_small(&self, header_len: usize) -> PacketizeError {
        PacketizeError::DatagramTooSmall {
            max_datagram: self.max_datagram,
            needed: header_len + 1 + self.sealer.payload_overhead(1),
        }
    }

    /// Checks that a first message (full set, chunk header) with one payload byte fits.
    fn check_datagram_size(&mut self) -> Result<(), PacketizeError> {
        let probe = Frame {
            payload: &[],
            capture_time: 0,
            reference: false,
            layer_id: None,
            active_level: None,
        };
        let h = self.measure(
            self.next_sequence_id,
            true,
            &probe,
            Some(Chunk { index: 0, count: 2 }),
        )?;
        match self.capacity(h) {
            Some(c) if c > 0 => Ok(()),
            _ => Err(self.too_small(h)),
        }
    }
}
