//! Helpers shared by the message bodies: a field writer that names the message in its errors,
//! and the once-only slots the decoders collect fields into.

use super::ControlError;
use crate::ids::{GlobalEncodingId, GlobalMessageId};
use crate::tlv::{Field, Fields, TlvError};
use crate::varint;

/// Appends the TLV fields of one message body to a buffer.
pub(super) struct Enc<'a> {
    msg: &'static str,
    out: &'a mut Vec<u8>,
}

impl<'a> Enc<'a> {
    /// A writer for a body of message `msg`, appending to `out`.
    pub(super) fn new(msg: &'static str, out: &'a mut Vec<u8>) -> Self {
        Self { msg, out }
    }

    fn too_large(&self, field: &'static str, value: u64) -> ControlError {
        ControlError::TooLarge {
            message: self.msg,
            field,
            value,
        }
    }

    fn header(&mut self, tag: u64, field: &'static str, len: usize) -> Result<(), ControlError> {
        varint::write(tag, self.out).map_err(|_| self.too_large(field, tag))?;
        varint::write(len as u64, self.out).map_err(|_| self.too_large(field, len as u64))
    }

    /// An integer field.
    pub(super) fn uint(
        &mut self,
        tag: u64,
        field: &'static str,
        v: u64,
    ) -> Result<(), ControlError> {
        let len = varint::encoded_len(v).map_err(|_| self.too_large(field, v))?;
        self.header(tag, field, len)?;
        varint::write(v, self.out).map_err(|_| self.too_large(field, v))
    }

    /// An integer field that is written only when present.
    pub(super) fn opt_uint(
        &mut self,
        tag: u64,
        field: &'static str,
        v: Option<u64>,
    ) -> Result<(), ControlError> {
        v.map_or(Ok(()), |v| self.uint(tag, field, v))
    }

    /// An integer field with a default: written only when it differs from `default`.
    pub(super) fn uint_or(
        &mut self,
        tag: u64,
        field: &'static str,
        v: u64,
        default: u64,
    ) -> Result<(), ControlError> {
        if v == default {
            Ok(())
        } else {
            self.uint(tag, field, v)
        }
    }

    /// An opaque field.
    pub(super) fn bytes(
        &mut self,
        tag: u64,
        field: &'static str,
        v: &[u8],
    ) -> Result<(), ControlError> {
        self.header(tag, field, v.len())?;
        self.out.extend_from_slice(v);
        Ok(())
    }

    /// A GlobalEncodingID field (8 bytes big-endian).
    pub(super) fn geid(
        &mut self,
        tag: u64,
        field: &'static str,
        id: GlobalEncodingId,
    ) -> Result<(), ControlError> {
        self.bytes(tag, field, &id.to_bytes())
    }

    /// A GlobalMessageID field (8 bytes big-endian).
    pub(super) fn gmid(
        &mut self,
        tag: u64,
        field: &'static str,
        id: GlobalMessageId,
    ) -> Result<(), ControlError> {
        self.bytes(tag, field, &id.to_bytes())
    }

    /// A field whose value is a nested TLV list written by `body`. The inner fields are
    /// written in place and the header is inserted in front of them afterwards, so no
    /// scratch buffer is allocated.
    pub(super) fn nested(
        &mut self,
        tag: u64,
        field: &'static str,
        body: impl FnOnce(&mut Enc<'_>) -> Result<(), ControlError>,
    ) -> Result<(), ControlError> {
        let start = self.out.len();
        body(&mut Enc::new(self.msg, self.out))?;
        let len = self.out.len() - start;
        let mut header = Vec::with_capacity(16);
        Enc::new(self.msg, &mut header).header(tag, field, len)?;
        self.out.splice(start..start, header);
        Ok(())
    }
}

/// Calls `each` for every field of `body` in order. A malformed TLV list is an error naming
/// `msg`.
pub(super) fn for_each_field<'a>(
    msg: &'static str,
    body: &'a [u8],
    mut each: impl FnMut(Field<'a>) -> Result<(), ControlError>,
) -> Result<(), ControlError> {
    let mut fields = Fields::new(body);
    while let Some(field) = fields.next_field().map_err(|source| ControlError::Body {
        message: msg,
        source,
    })? {
        each(field)?;
    }
    Ok(())
}

/// A value type a field can hold.
pub(super) trait FieldValue<'a>: Sized {
    /// Reads the value from a field.
    fn read(field: &Field<'a>) -> Result<Self, TlvError>;
}

impl FieldValue<'_> for u64 {
    fn read(field: &Field<'_>) -> Result<Self, TlvError> {
        field.uint()
    }
}

impl FieldValue<'_> for GlobalEncodingId {
    fn read(field: &Field<'_>) -> Result<Self, TlvError> {
        field.array::<8>().map(GlobalEncodingId::from_bytes)
    }
}

impl FieldValue<'_> for GlobalMessageId {
    fn read(field: &Field<'_>) -> Result<Self, TlvError> {
        field.array::<8>().map(GlobalMessageId::from_bytes)
    }
}

impl<'a> FieldValue<'a> for &'a [u8] {
    fn read(field: &Field<'a>) -> Result<Self, TlvError> {
        Ok(field.value)
    }
}

/// Reads one value of a repeated field.
pub(super) fn read<'a, T: FieldValue<'a>>(
    msg: &'static str,
    name: &'static str,
    field: &Field<'a>,
) -> Result<T, ControlError> {
    T::read(field).map_err(|source| ControlError::Field {
        message: msg,
        field: name,
        source,
    })
}

/// A field that may appear at most once.
pub(super) struct Slot<T> {
    msg: &'static str,
    name: &'static str,
    value: Option<T>,
}

impl<'a, T: FieldValue<'a>> Slot<T> {
    /// An empty slot for field `name` of message `msg`.
    pub(super) fn new(msg: &'static str, name: &'static str) -> Self {
        Self {
            msg,
            name,
            value: None,
        }
    }

    /// Reads `field` into the slot; a second occurrence is an error.
    pub(super) fn take(&mut self, field: &Field<'a>) -> Result<(), ControlError> {
        if self.value.is_some() {
            return Err(ControlError::Duplicate {
                message: self.msg,
                field: self.name,
            });
        }
        self.value = Some(read(self.msg, self.name, field)?);
        Ok(())
    }

    /// The value, or an error naming the missing field.
    pub(super) fn required(self) -> Result<T, ControlError> {
        self.value.ok_or(ControlError::Missing {
            message: self.msg,
            field: self.name,
        })
    }

    /// The value if the field was present.
    pub(super) fn optional(self) -> Option<T> {
        self.value
    }
}

/// A [`ControlError::BadValue`].
pub(super) fn bad(msg: &'static str, field: &'static str, reason: &'static str) -> ControlError {
    ControlError::BadValue {
        message: msg,
        field,
        reason,
    }
}
