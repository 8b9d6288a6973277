//! Requests toward the sender of an encoding (draft §5.2 and §6.4): retransmission, maximum
//! rate, intra frame. A client sends them to the SFU, which answers retransmissions from its
//! cache and aggregates the others toward the publisher.

use super::codec::{Enc, Slot, bad, for_each_field, read};
use super::{Body, ControlError, kind, serde_ids};
use crate::ids::{GlobalEncodingId, GlobalMessageId};
use crate::varint;
use serde::{Deserialize, Serialize};

/// Sequence IDs `first ..= first + count - 1` of one encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SequenceRange {
    /// The first sequence ID.
    pub first: u64,
    /// How many consecutive sequence IDs, at least 1; the last one must not exceed 2^62-1.
    pub count: u64,
}

impl SequenceRange {
    /// The range holding the single sequence ID `id`.
    pub fn single(id: u64) -> Self {
        Self {
            first: id,
            count: 1,
        }
    }

    /// The last sequence ID of the range, or `None` if the range is empty or runs past 2^62-1.
    pub fn last(&self) -> Option<u64> {
        let last = self.first.checked_add(self.count.checked_sub(1)?)?;
        (last <= varint::MAX).then_some(last)
    }
}

/// Asks for messages of one encoding to be sent again (draft §5.2: "identified by IDs and
/// capture time"). The messages asked for are the union of every range, every message ID and,
/// when present, every message with that capture time. At least one of the three is present.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RetransmissionRequest {
    /// The encoding.
    #[serde(with = "serde_ids::geid")]
    pub encoding: GlobalEncodingId,
    /// Ranges of sequence IDs, in the order the requester wants them resent.
    #[serde(default)]
    pub ranges: Vec<SequenceRange>,
    /// A capture time (ms, NTP time with the high bits dropped, exactly as in the RTP3 capture
    /// time header): every message of that frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_time: Option<u64>,
    /// Individual messages by GlobalMessageID.
    #[serde(default, with = "serde_ids::gmids")]
    pub message_ids: Vec<GlobalMessageId>,
}

/// Asks the sender of an encoding to keep it at or below a bitrate (draft §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MaxRateRequest {
    /// The encoding.
    #[serde(with = "serde_ids::geid")]
    pub encoding: GlobalEncodingId,
    /// The maximum, in bit/s.
    pub max_bitrate: u64,
}

/// Asks the sender of a video encoding to encode its next frame as an intra frame (draft §6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IntraFrameRequest {
    /// The encoding.
    #[serde(with = "serde_ids::geid")]
    pub encoding: GlobalEncodingId,
}

// RetransmissionRequest body tags.
const ENCODING: u64 = 1;
const RANGE: u64 = 2;
const CAPTURE_TIME: u64 = 3;
const MESSAGE_ID: u64 = 4;
// Tags inside a `range` value.
const R_FIRST: u64 = 1;
const R_COUNT: u64 = 2;

/// Checks a range of the message named `m`.
fn check_range(m: &'static str, r: &SequenceRange) -> Result<(), ControlError> {
    if r.count == 0 {
        return Err(bad(m, "range.count", "must be at least 1"));
    }
    if r.last().is_none() {
        return Err(bad(m, "range.count", "range runs past sequence ID 2^62-1"));
    }
    Ok(())
}

/// Reads a `range` value of the message named `m`.
fn decode_range(m: &'static str, value: &[u8]) -> Result<SequenceRange, ControlError> {
    let mut first = Slot::<u64>::new(m, "range.first");
    let mut count = Slot::<u64>::new(m, "range.count");
    for_each_field(m, value, |f| match f.tag {
        R_FIRST => first.take(&f),
        R_COUNT => count.take(&f),
        _ => Ok(()),
    })?;
    let range = SequenceRange {
        first: first.required()?,
        count: count.optional().unwrap_or(1),
    };
    check_range(m, &range)?;
    Ok(range)
}

const NO_SELECTOR: &str = "needs at least one range, message_id or capture_time";

impl Body for RetransmissionRequest {
    const KIND: u64 = kind::RETRANSMISSION_REQUEST;
    const NAME: &'static str = "RetransmissionRequest";

    fn encode_body(&self, enc: &mut Enc<'_>) -> Result<(), ControlError> {
        if self.ranges.is_empty() && self.message_ids.is_empty() && self.capture_time.is_none() {
            return Err(bad(Self::NAME, "range", NO_SELECTOR));
        }
        enc.geid(ENCODING, "encoding", self.encoding)?;
        for r in &self.ranges {
            check_range(Self::NAME, r)?;
            enc.nested(RANGE, "range", |enc| {
                enc.uint(R_FIRST, "range.first", r.first)?;
                enc.uint_or(R_COUNT, "range.count", r.count, 1)
            })?;
        }
        enc.opt_uint(CAPTURE_TIME, "capture_time", self.capture_time)?;
        for id in &self.message_ids {
            enc.gmid(MESSAGE_ID, "message_id", *id)?;
        }
        Ok(())
    }

    fn decode_body(body: &[u8]) -> Result<Self, ControlError> {
        const M: &str = RetransmissionRequest::NAME;
        let mut encoding = Slot::<GlobalEncodingId>::new(M, "encoding");
        let mut capture_time = Slot::<u64>::new(M, "capture_time");
        let mut ranges = Vec::new();
        let mut message_ids = Vec::new();
        for_each_field(M, body, |f| {
            match f.tag {
                ENCODING => encoding.take(&f)?,
                RANGE => ranges.push(decode_range(M, f.value)?),
                CAPTURE_TIME => capture_time.take(&f)?,
                MESSAGE_ID => message_ids.push(read(M, "message_id", &f)?),
                _ => {}
            }
            Ok(())
        })?;
        let encoding = encoding.required()?;
        let capture_time = capture_time.optional();
        if ranges.is_empty() && message_ids.is_empty() && capture_time.is_none() {
            return Err(bad(M, "range", NO_SELECTOR));
        }
        Ok(Self {
            encoding,
            ranges,
            capture_time,
            message_ids,
        })
    }
}

// MaxRateRequest body tags.
const M_ENCODING: u64 = 1;
const M_MAX_BITRATE: u64 = 2;

impl Body for MaxRateRequest {
    const KIND: u64 = kind::MAX_RATE_REQUEST;
    const NAME: &'static str = "MaxRateRequest";

    fn encode_body(&self, enc: &mut Enc<'_>) -> Result<(), ControlError> {
        enc.geid(M_ENCODING, "encoding", self.encoding)?;
        enc.uint(M_MAX_BITRATE, "max_bitrate", self.max_bitrate)
    }

    fn decode_body(body: &[u8]) -> Result<Self, ControlError> {
        let mut encoding = Slot::<GlobalEncodingId>::new(Self::NAME, "encoding");
        let mut max_bitrate = Slot::<u64>::new(Self::NAME, "max_bitrate");
        for_each_field(Self::NAME, body, |f| match f.tag {
            M_ENCODING => encoding.take(&f),
            M_MAX_BITRATE => max_bitrate.take(&f),
            _ => Ok(()),
        })?;
        Ok(Self {
            encoding: encoding.required()?,
            max_bitrate: max_bitrate.required()?,
        })
    }
}

// IntraFrameRequest body tags.
const I_ENCODING: u64 = 1;

impl Body for IntraFrameRequest {
    const KIND: u64 = kind::INTRA_FRAME_REQUEST;
    const NAME: &'static str = "IntraFrameRequest";

    fn encode_body(&self, enc: &mut Enc<'_>) -> Result<(), ControlError> {
        enc.geid(I_ENCODING, "encoding", self.encoding)
    }

    fn decode_body(body: &[u8]) -> Result<Self, ControlError> {
        let mut encoding = Slot::<GlobalEncodingId>::new(Self::NAME, "encoding");
        for_each_field(Self::NAME, body, |f| match f.tag {
            I_ENCODING => encoding.take(&f),
            _ => Ok(()),
        })?;
        Ok(Self {
            encoding: encoding.required()?,
        })
    }
}

/// Why messages asked for are not coming (a [`RetransmissionUnavailable`]). Values this
/// implementation does not know are kept as they are; a receiver treats them like
/// [`UnavailableReason::NOT_CACHED`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnavailableReason(pub u64);

impl UnavailableReason {
    /// The SFU chose not to forward these messages to the requester (active-speaker
    /// selection held the publisher's audio back): nothing was lost, and the gap is part of
    /// the stream as this receiver gets it.
    pub const WITHHELD: Self = Self(1);
    /// The SFU no longer has these messages (older than its cache holds) or never received
    /// them: they are lost for this receiver.
    pub const NOT_CACHED: Self = Self(2);

    /// Whether the messages were held back on purpose rather than lost.
    pub fn is_withheld(self) -> bool {
        self == Self::WITHHELD
    }
}

/// SFU to client: messages of one encoding that a [`RetransmissionRequest`] asked for by
/// sequence range and that will not be sent, so the receiver stops waiting and asking for
/// them. At least one range.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RetransmissionUnavailable {
    /// The encoding.
    #[serde(with = "serde_ids::geid")]
    pub encoding: GlobalEncodingId,
    /// The sequence IDs, ascending.
    pub ranges: Vec<SequenceRange>,
    /// Why they are not coming.
    pub reason: UnavailableReason,
}

// RetransmissionUnavailable body tags.
const U_ENCODING: u64 = 1;
const U_RANGE: u64 = 2;
const U_REASON: u64 = 3;

const NO_RANGE: &str = "needs at least one range";

impl Body for RetransmissionUnavailable {
    const KIND: u64 = kind::RETRANSMISSION_UNAVAILABLE;
    const NAME: &'static str = "RetransmissionUnavailable";

    fn encode_body(&self, enc: &mut Enc<'_>) -> Result<(), ControlError> {
        if self.ranges.is_empty() {
            return Err(bad(Self::NAME, "range", NO_RANGE));
        }
        enc.geid(U_ENCODING, "encoding", self.encoding)?;
        for r in &self.ranges {
            check_range(Self::NAME, r)?;
            enc.nested(U_RANGE, "range", |enc| {
                enc.uint(R_FIRST, "range.first", r.first)?;
                enc.uint_or(R_COUNT, "range.count", r.count, 1)
            })?;
        }
        enc.uint(U_REASON, "reason", self.reason.0)
    }

    fn decode_body(body: &[u8]) -> Result<Self, ControlError> {
        const M: &str = RetransmissionUnavailable::NAME;
        let mut encoding = Slot::<GlobalEncodingId>::new(M, "encoding");
        let mut reason = Slot::<u64>::new(M, "reason");
        let mut ranges = Vec::new();
        for_each_field(M, body, |f| {
            match f.tag {
                U_ENCODING => encoding.take(&f)?,
                U_RANGE => ranges.push(decode_range(M, f.value)?),
                U_REASON => reason.take(&f)?,
                _ => {}
            }
            Ok(())
        })?;
        let encoding = encoding.required()?;
        let reason = UnavailableReason(reason.required()?);
        if ranges.is_empty() {
            return Err(bad(M, "range", NO_RANGE));
        }
        Ok(Self {
            encoding,
            ranges,
            reason,
        })
    }
}
