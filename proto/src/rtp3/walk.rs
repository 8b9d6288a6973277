//! The one place that checks an RTP3 message's structure (PROTOCOL.md "RTP3 message").
//!
//! This is the SFU's per-datagram work, so it reads with a plain cursor and a one-byte fast
//! path for tags and lengths (every tag we define, and every header length, is below 64).

use super::value::{self, Value};
use super::{Rtp3Error, tag};
use crate::ids::GlobalEncodingId;
use crate::tlv::{Field, TlvError};
use crate::varint;

/// What every walk learns about the message as a whole.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outline {
    pub(crate) global_encoding_id: GlobalEncodingId,
    pub(crate) payload_start: usize,
    pub(crate) unknown_fields: usize,
}

/// Reads the field starting at `offset`.
#[inline(always)]
fn field_at(bytes: &[u8], offset: usize) -> Result<Field<'_>, TlvError> {
    let (tag, tag_len) = varint_at(bytes, offset)?;
    let (len, len_len) = varint_at(bytes, offset + tag_len)?;
    let start = offset + tag_len + len_len;
    let available = bytes.len().saturating_sub(start);
    let value = usize::try_from(len)
        .ok()
        .filter(|l| *l <= available)
        .and_then(|l| bytes.get(start..start + l))
        .ok_or(TlvError::ValueTruncated {
            tag,
            offset,
            len,
            available,
        })?;
    Ok(Field {
        tag,
        value,
        offset,
        end: start + value.len(),
    })
}

#[inline(always)]
fn varint_at(bytes: &[u8], offset: usize) -> Result<(u64, usize), TlvError> {
    match bytes.get(offset) {
        Some(&b) if b < 0x40 => Ok((u64::from(b), 1)),
        _ => varint::read(bytes.get(offset..).unwrap_or_default())
            .map_err(|source| TlvError::Varint { offset, source }),
    }
}

/// Walks the header fields of `bytes`, checking the framing, the order rule (tags 1..=8 in
/// increasing order before any other header), duplicates, value ranges, the required sequence
/// ID and the payload field at the very end; hands each decoded header (not the
/// GlobalEncodingID) to `visit`.
#[inline]
pub(crate) fn walk(bytes: &[u8], mut visit: impl FnMut(u64, Value)) -> Result<Outline, Rtp3Error> {
    if bytes.is_empty() {
        return Err(Rtp3Error::MissingPayload);
    }
    let first = field_at(bytes, 0)?;
    if first.tag != tag::GLOBAL_ENCODING_ID {
        return Err(Rtp3Error::MissingGlobalEncodingId(first.tag));
    }
    let global_encoding_id = GlobalEncodingId::from_bytes(first.array()?);
    // Known tags seen so far, as a bit set (bit n = tag n).
    let mut seen: u32 = 1 << tag::GLOBAL_ENCODING_ID;
    // The highest tag read so far (unknown tags count as "after the ordered group").
    let mut last = tag::GLOBAL_ENCODING_ID;
    let mut unknown_fields = 0;
    let mut pos = first.end;
    loop {
        if pos >= bytes.len() {
            return Err(Rtp3Error::MissingPayload);
        }
        let field = field_at(bytes, pos)?;
        pos = field.end;
        if field.tag == tag::PAYLOAD {
            let trailing = bytes.len() - field.end;
            if trailing != 0 {
                return Err(Rtp3Error::TrailingBytes(trailing));
            }
            if seen & (1 << tag::SEQUENCE_ID) == 0 {
                return Err(Rtp3Error::MissingSequenceId);
            }
            return Ok(Outline {
                global_encoding_id,
                payload_start: field.end - field.value.len(),
                unknown_fields,
            });
        }
        if field.tag <= tag::LAST_ORDERED && field.tag <= last {
            return Err(if field.tag == last {
                Rtp3Error::Duplicate(field.tag)
            } else {
                Rtp3Error::OutOfOrder {
                    tag: field.tag,
                    after: last,
                }
            });
        }
        if field.tag > tag::MAX_KNOWN {
            unknown_fields += 1;
            last = last.max(tag::LAST_ORDERED + 1);
            continue;
        }
        let bit = 1u32 << field.tag;
        if seen & bit != 0 {
            return Err(Rtp3Error::Duplicate(field.tag));
        }
        seen |= bit;
        last = last.max(field.tag);
        visit(field.tag, value::decode(&field)?);
    }
}
