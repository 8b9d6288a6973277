//! The header values of an RTP3 message and how a sender writes them.

use super::value::Value;
use super::{Rtp3Error, tag};
use crate::crypto::SALT_LEN;
use crate::ids::{GlobalEncodingId, GlobalMessageId};
use crate::{tlv, varint};

/// Highest allowed active level.
pub const MAX_ACTIVE_LEVEL: u8 = 100;
/// Highest DSCP value (6 bits).
pub const MAX_DSCP: u8 = 63;

/// Position of a message's payload within a frame that was split into several messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Chunk {
    /// 0-based index of this chunk.
    pub index: u64,
    /// Number of chunks of the frame (at least 1).
    pub count: u64,
}

/// Every header of an RTP3 message (draft §5). `None` means the header is absent.
///
/// This struct is also the sender's builder: [`Headers::write`] always emits the headers in
/// the order PROTOCOL.md prescribes, so a sender cannot produce a message that breaks the §5
/// order rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headers {
    /// GlobalEncodingID (required).
    pub global_encoding_id: GlobalEncodingId,
    /// GlobalMessageID.
    pub global_message_id: Option<GlobalMessageId>,
    /// Conference ID.
    pub conference_id: Option<u64>,
    /// Endpoint ID.
    pub endpoint_id: Option<u64>,
    /// Encoding ID.
    pub encoding_id: Option<u64>,
    /// Sequence ID (required): the message's number within its encoding, from 0.
    pub sequence_id: u64,
    /// Active level, 0-100.
    pub active_level: Option<u8>,
    /// DSCP for this and later messages of the encoding, 0-63.
    pub dscp: Option<u8>,
    /// Source ID.
    pub source_id: Option<u64>,
    /// Sink ID.
    pub sink_id: Option<u64>,
    /// The AEAD salt of the encoding.
    pub salt: Option<[u8; SALT_LEN]>,
    /// Capture time of the first sample: NTP time in ms, high bits discarded.
    pub capture_time: Option<u64>,
    /// Location in room, counted clockwise from front left.
    pub location_in_room: Option<u64>,
    /// Whether the message is part of a reference frame.
    pub reference_frame: Option<bool>,
    /// Layer ID of a scalable codec.
    pub layer_id: Option<u64>,
    /// Position within a frame split over several messages.
    pub chunk: Option<Chunk>,
}

impl Headers {
    /// Headers with only the two required fields.
    pub fn new(global_encoding_id: GlobalEncodingId, sequence_id: u64) -> Self {
        Self {
            global_encoding_id,
            global_message_id: None,
            conference_id: None,
            endpoint_id: None,
            encoding_id: None,
            sequence_id,
            active_level: None,
            dscp: None,
            source_id: None,
            sink_id: None,
            salt: None,
            capture_time: None,
            location_in_room: None,
            reference_frame: None,
            layer_id: None,
            chunk: None,
        }
    }

    /// Whether the message is part of a reference frame (absent counts as no).
    pub fn is_reference_frame(&self) -> bool {
        self.reference_frame.unwrap_or(false)
    }

    /// Stores one decoded header value.
    pub(crate) fn set(&mut self, t: u64, value: Value) {
        match (t, value) {
            (tag::GLOBAL_MESSAGE_ID, Value::Hash(v)) => {
                self.global_message_id = Some(GlobalMessageId(v))
            }
            (tag::CONFERENCE_ID, Value::Uint(v)) => self.conference_id = Some(v),
            (tag::ENDPOINT_ID, Value::Uint(v)) => self.endpoint_id = Some(v),
            (tag::ENCODING_ID, Value::Uint(v)) => self.encoding_id = Some(v),
            (tag::SEQUENCE_ID, Value::Uint(v)) => self.sequence_id = v,
            (tag::ACTIVE_LEVEL, Value::Small(v)) => self.active_level = Some(v),
            (tag::DSCP, Value::Small(v)) => self.dscp = Some(v),
            (tag::SOURCE_ID, Value::Uint(v)) => self.source_id = Some(v),
            (tag::SINK_ID, Value::Uint(v)) => self.sink_id = Some(v),
            (tag::SALT, Value::Salt(s)) => self.salt = Some(s),
            (tag::CAPTURE_TIME, Value::Uint(v)) => self.capture_time = Some(v),
            (tag::LOCATION_IN_ROOM, Value::Uint(v)) => self.location_in_room = Some(v),
            (tag::REFERENCE_FRAME, Value::Bool(b)) => self.reference_frame = Some(b),
            (tag::LAYER_ID, Value::Uint(v)) => self.layer_id = Some(v),
            (tag::FRAME_CHUNK, Value::Chunk(c)) => self.chunk = Some(c),
            _ => {}
        }
    }

    /// Appends the header fields (everything but the payload field) in canonical order.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), Rtp3Error> {
        if let Some(level) = self.active_level.filter(|l| *l > MAX_ACTIVE_LEVEL) {
            return Err(out_of_range(tag::ACTIVE_LEVEL, level, MAX_ACTIVE_LEVEL));
        }
        if let Some(dscp) = self.dscp.filter(|d| *d > MAX_DSCP) {
            return Err(out_of_range(tag::DSCP, dscp, MAX_DSCP));
        }
        if let Some(c) = self.chunk.filter(|c| c.index >= c.count) {
            return Err(Rtp3Error::BadChunk {
                index: c.index,
                count: c.count,
            });
        }
        tlv::put_bytes(
            tag::GLOBAL_ENCODING_ID,
            &self.global_encoding_id.to_bytes(),
            out,
        )?;
        if let Some(id) = self.global_message_id {
            tlv::put_bytes(tag::GLOBAL_MESSAGE_ID, &id.to_bytes(), out)?;
        }
        put_opt(tag::CONFERENCE_ID, self.conference_id, out)?;
        put_opt(tag::ENDPOINT_ID, self.endpoint_id, out)?;
        put_opt(tag::ENCODING_ID, self.encoding_id, out)?;
        tlv::put_uint(tag::SEQUENCE_ID, self.sequence_id, out)?;
        put_opt(tag::ACTIVE_LEVEL, self.active_level.map(u64::from), out)?;
        put_opt(tag::DSCP, self.dscp.map(u64::from), out)?;
        put_opt(tag::SOURCE_ID, self.source_id, out)?;
        put_opt(tag::SINK_ID, self.sink_id, out)?;
        if let Some(salt) = &self.salt {
            tlv::put_bytes(tag::SALT, salt, out)?;
        }
        put_opt(tag::CAPTURE_TIME, self.capture_time, out)?;
        put_opt(tag::LOCATION_IN_ROOM, self.location_in_room, out)?;
        put_opt(
            tag::REFERENCE_FRAME,
            self.reference_frame.map(u64::from),
            out,
        )?;
        put_opt(tag::LAYER_ID, self.layer_id, out)?;
        if let Some(c) = self.chunk {
            let len = varint::encoded_len(c.index)? + varint::encoded_len(c.count)?;
            varint::write(tag::FRAME_CHUNK, out)?;
            varint::write(len as u64, out)?;
            varint::write(c.index, out)?;
            varint::write(c.count, out)?;
        }
        Ok(())
    }
}

fn put_opt(tag: u64, value: Option<u64>, out: &mut Vec<u8>) -> Result<(), Rtp3Error> {
    if let Some(v) = value {
        tlv::put_uint(tag, v, out)?;
    }
    Ok(())
}

fn out_of_range(tag: u64, value: u8, max: u8) -> Rtp3Error {
    Rtp3Error::OutOfRange {
        tag,
        value: value.into(),
        max: max.into(),
    }
}
