//! Parsing an RTP3 message: a borrowed, allocation-free view of its headers.

use super::headers::{Chunk, Headers, MAX_ACTIVE_LEVEL, MAX_DSCP};
use super::{Rtp3Error, tag};
use crate::ids::{GlobalEncodingId, GlobalMessageId};
use crate::tlv::{Field, Fields};
use crate::varint;

/// A parsed RTP3 message that borrows the datagram it came in.
///
/// [`HeaderView::parse`] checks the whole structure (TLV framing, the §5 order rule, value
/// ranges, the payload field last) and decodes every header into plain integers, without
/// allocating or copying the payload. The SFU routes on it; a receiver opens the payload with
/// [`super::Opener`].
#[derive(Debug, Clone)]
pub struct HeaderView<'a> {
    bytes: &'a [u8],
    headers: Headers,
    payload_start: usize,
    unknown_fields: usize,
}

impl<'a> HeaderView<'a> {
    /// Parses a message. Unknown header tags (above 16) are skipped; they remain covered by
    /// the AEAD and an SFU forwards them untouched.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Rtp3Error> {
        let mut fields = Fields::new(bytes);
        let first = fields.next_field()?.ok_or(Rtp3Error::MissingPayload)?;
        if first.tag != tag::GLOBAL_ENCODING_ID {
            return Err(Rtp3Error::MissingGlobalEncodingId(first.tag));
        }
        let mut headers = Headers::new(GlobalEncodingId::from_bytes(first.array()?), 0);
        // Tags 1..=16 seen so far, as a bit set (bit n = tag n).
        let mut seen: u32 = 1 << tag::GLOBAL_ENCODING_ID;
        // The last tag read, for the order rule: ordered tags (1..=8) must increase and come
        // before every other header.
        let mut last = tag::GLOBAL_ENCODING_ID;
        let mut unknown_fields = 0;
        let payload_start = loop {
            let field = fields.next_field()?.ok_or(Rtp3Error::MissingPayload)?;
            if field.tag == tag::PAYLOAD {
                let trailing = bytes.len() - field.end;
                if trailing != 0 {
                    return Err(Rtp3Error::TrailingBytes(trailing));
                }
                break field.end - field.value.len();
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
            read_header(&field, &mut headers)?;
        };
        if seen & (1 << tag::SEQUENCE_ID) == 0 {
            return Err(Rtp3Error::MissingSequenceId);
        }
        Ok(Self {
            bytes,
            headers,
            payload_start,
            unknown_fields,
        })
    }

    /// Every header value.
    #[inline]
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The GlobalEncodingID the SFU routes by.
    #[inline]
    pub fn global_encoding_id(&self) -> GlobalEncodingId {
        self.headers.global_encoding_id
    }

    /// The sequence ID.
    #[inline]
    pub fn sequence_id(&self) -> u64 {
        self.headers.sequence_id
    }

    /// The GlobalMessageID: the header if present, else computed from the GlobalEncodingID and
    /// sequence ID (the two agree for a well-behaved sender).
    #[inline]
    pub fn global_message_id(&self) -> GlobalMessageId {
        self.headers.global_message_id.unwrap_or_else(|| {
            self.headers
                .global_encoding_id
                .message_id(self.headers.sequence_id)
        })
    }

    /// The active level, if the message carries one.
    #[inline]
    pub fn active_level(&self) -> Option<u8> {
        self.headers.active_level
    }

    /// Whether the message is part of a reference frame.
    #[inline]
    pub fn is_reference_frame(&self) -> bool {
        self.headers.is_reference_frame()
    }

    /// The layer ID, if any.
    #[inline]
    pub fn layer_id(&self) -> Option<u64> {
        self.headers.layer_id
    }

    /// The DSCP, if any.
    #[inline]
    pub fn dscp(&self) -> Option<u8> {
        self.headers.dscp
    }

    /// The capture time, if any.
    #[inline]
    pub fn capture_time(&self) -> Option<u64> {
        self.headers.capture_time
    }

    /// The whole message, exactly as received.
    #[inline]
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The authenticated data: every byte before the payload value.
    #[inline]
    pub fn aad(&self) -> &'a [u8] {
        self.bytes.get(..self.payload_start).unwrap_or_default()
    }

    /// The payload value as sent: ciphertext followed by the tag (plaintext for NULL).
    #[inline]
    pub fn sealed_payload(&self) -> &'a [u8] {
        self.bytes.get(self.payload_start..).unwrap_or_default()
    }

    /// How many header fields with unknown tags were skipped.
    #[inline]
    pub fn unknown_fields(&self) -> usize {
        self.unknown_fields
    }
}

fn read_header(field: &Field<'_>, h: &mut Headers) -> Result<(), Rtp3Error> {
    match field.tag {
        tag::GLOBAL_MESSAGE_ID => {
            h.global_message_id = Some(GlobalMessageId::from_bytes(field.array()?));
        }
        tag::CONFERENCE_ID => h.conference_id = Some(field.uint()?),
        tag::ENDPOINT_ID => h.endpoint_id = Some(field.uint()?),
        tag::ENCODING_ID => h.encoding_id = Some(field.uint()?),
        tag::SEQUENCE_ID => h.sequence_id = field.uint()?,
        tag::ACTIVE_LEVEL => h.active_level = Some(small(field, MAX_ACTIVE_LEVEL)?),
        tag::DSCP => h.dscp = Some(small(field, MAX_DSCP)?),
        tag::SOURCE_ID => h.source_id = Some(field.uint()?),
        tag::SINK_ID => h.sink_id = Some(field.uint()?),
        tag::SALT => h.salt = Some(field.array()?),
        tag::CAPTURE_TIME => h.capture_time = Some(field.uint()?),
        tag::LOCATION_IN_ROOM => h.location_in_room = Some(field.uint()?),
        tag::REFERENCE_FRAME => h.reference_frame = Some(field.boolean()?),
        tag::LAYER_ID => h.layer_id = Some(field.uint()?),
        tag::FRAME_CHUNK => h.chunk = Some(chunk(field)?),
        // GlobalEncodingID is handled by the caller, payload too; unknown tags never get here.
        _ => {}
    }
    Ok(())
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
    let bad = crate::tlv::TlvError::BadInteger { tag: field.tag };
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
