//! Decoding one header field's value, shared by the routing view and the full header decode.

use super::headers::{Chunk, MAX_ACTIVE_LEVEL, MAX_DSCP};
use super::{Rtp3Error, tag};
use crate::crypto::SALT_LEN;
use crate::tlv::{Field, TlvError};
use crate::varint;

/// A decoded header value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value {
    /// GlobalMessageID: an 8-byte hash.
    Hash(u64),
    /// An integer header.
    Uint(u64),
    /// Active level or DSCP, range-checked.
    Small(u8),
    /// The salt.
    Salt([u8; SALT_LEN]),
    /// Reference frame.
    Bool(bool),
    /// Frame chunk.
    Chunk(Chunk),
    /// A tag this implementation does not know.
    Unknown,
}

/// Decodes and range-checks the value of a header field (not GlobalEncodingID or payload).
#[inline]
pub(crate) fn decode(field: &Field<'_>) -> Result<Value, Rtp3Error> {
    Ok(match field.tag {
        tag::GLOBAL_MESSAGE_ID => Value::Hash(u64::from_be_bytes(field.array()?)),
        tag::ACTIVE_LEVEL => Value::Small(small(field, MAX_ACTIVE_LEVEL)?),
        tag::DSCP => Value::Small(small(field, MAX_DSCP)?),
        tag::SALT => Value::Salt(field.array()?),
        tag::REFERENCE_FRAME => Value::Bool(field.boolean()?),
        tag::FRAME_CHUNK => Value::Chunk(chunk(field)?),
        t if t > tag::MAX_KNOWN => Value::Unknown,
        _ => Value::Uint(field.uint()?),
    })
}

fn small(field: &Field<'_>, max: u8) -> Result<u8, Rtp3Error> {
    let value = field.uint()?;
    u8::try_from(value)
        .ok()
        .filter(|v| *v <= max)
        .ok_or(Rtp3Error::OutOfRange {
            tag: field.tag,
            value,
            max: max.into(),
        })
}

fn chunk(field: &Field<'_>) -> Result<Chunk, Rtp3Error> {
    let bad = TlvError::BadInteger { tag: field.tag };
    let mut r = varint::Reader::new(field.value);
    let index = r.varint().map_err(|_| bad)?;
    let count = r.varint().map_err(|_| bad)?;
    if !r.is_empty() {
        return Err(bad.into());
    }
    if index >= count {
        return Err(Rtp3Error::BadChunk { index, count });
    }
    Ok(Chunk { index, count })
}
