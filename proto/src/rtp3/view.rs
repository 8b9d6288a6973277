//! Parsing an RTP3 message: a borrowed, allocation-free view of its headers.

use super::headers::Headers;
use super::value::Value;
use super::walk::walk;
use super::{Rtp3Error, tag};
use crate::crypto::SALT_LEN;
use crate::ids::{GlobalEncodingId, GlobalMessageId};

/// A parsed RTP3 message that borrows the datagram it came in.
///
/// [`HeaderView::parse`] checks the whole structure (TLV framing, the §5 order rule, value
/// ranges, the payload field last) and keeps the fields that forwarding and opening need,
/// without allocating or copying the payload. [`HeaderView::headers`] decodes every header.
#[derive(Debug, Clone, Copy)]
pub struct HeaderView<'a> {
    bytes: &'a [u8],
    payload_start: usize,
    global_encoding_id: GlobalEncodingId,
    sequence_id: u64,
    global_message_id: Option<u64>,
    capture_time: Option<u64>,
    layer_id: Option<u64>,
    salt: Option<[u8; SALT_LEN]>,
    active_level: Option<u8>,
    dscp: Option<u8>,
    reference_frame: bool,
    unknown_fields: u16,
}

impl<'a> HeaderView<'a> {
    /// Parses a message. Unknown header tags (above 16) are skipped; they remain covered by
    /// the AEAD and an SFU forwards them untouched.
    #[inline]
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Rtp3Error> {
        let mut view = HeaderView {
            bytes,
            payload_start: 0,
            global_encoding_id: GlobalEncodingId(0),
            sequence_id: 0,
            global_message_id: None,
            capture_time: None,
            layer_id: None,
            salt: None,
            active_level: None,
            dscp: None,
            reference_frame: false,
            unknown_fields: 0,
        };
        let outline = walk(bytes, |t, value| match (t, value) {
            (tag::SEQUENCE_ID, Value::Uint(v)) => view.sequence_id = v,
            (tag::GLOBAL_MESSAGE_ID, Value::Hash(v)) => view.global_message_id = Some(v),
            (tag::CAPTURE_TIME, Value::Uint(v)) => view.capture_time = Some(v),
            (tag::LAYER_ID, Value::Uint(v)) => view.layer_id = Some(v),
            (tag::SALT, Value::Salt(s)) => view.salt = Some(s),
            (tag::ACTIVE_LEVEL, Value::Small(v)) => view.active_level = Some(v),
            (tag::DSCP, Value::Small(v)) => view.dscp = Some(v),
            (tag::REFERENCE_FRAME, Value::Bool(b)) => view.reference_frame = b,
            _ => {}
        })?;
        view.payload_start = outline.payload_start;
        view.global_encoding_id = outline.global_encoding_id;
        view.unknown_fields = u16::try_from(outline.unknown_fields).unwrap_or(u16::MAX);
        Ok(view)
    }

    /// Decodes every header of the message.
    pub fn headers(&self) -> Headers {
        let mut h = Headers::new(self.global_encoding_id, self.sequence_id);
        // The message was fully checked by `parse`; a second walk cannot fail.
        let _ = walk(self.bytes, |t, value| h.set(t, value));
        h
    }

    /// The GlobalEncodingID the SFU routes by.
    #[inline]
    pub fn global_encoding_id(&self) -> GlobalEncodingId {
        self.global_encoding_id
    }

    /// The sequence ID.
    #[inline]
    pub fn sequence_id(&self) -> u64 {
        self.sequence_id
    }

    /// The GlobalMessageID: the header if present, else computed from the GlobalEncodingID and
    /// sequence ID (the two agree for a well-behaved sender).
    #[inline]
    pub fn global_message_id(&self) -> GlobalMessageId {
        self.global_message_id.map_or_else(
            || self.global_encoding_id.message_id(self.sequence_id),
            GlobalMessageId,
        )
    }

    /// The active level, if the message carries one.
    #[inline]
    pub fn active_level(&self) -> Option<u8> {
        self.active_level
    }

    /// Whether the message is part of a reference frame (an absent header counts as no).
    #[inline]
    pub fn is_reference_frame(&self) -> bool {
        self.reference_frame
    }

    /// The layer ID, if any.
    #[inline]
    pub fn layer_id(&self) -> Option<u64> {
        self.layer_id
    }

    /// The DSCP, if any.
    #[inline]
    pub fn dscp(&self) -> Option<u8> {
        self.dscp
    }

    /// The capture time, if any.
    #[inline]
    pub fn capture_time(&self) -> Option<u64> {
        self.capture_time
    }

    /// The salt header, if the message carries one.
    #[inline]
    pub fn salt(&self) -> Option<&[u8; SALT_LEN]> {
        self.salt.as_ref()
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
        usize::from(self.unknown_fields)
    }
}
