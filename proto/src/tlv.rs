//! Tag-length-value fields, the building block of every binary format in this crate.
//!
//! A field is `tag (varint) | length (varint) | value (length bytes)`. An integer value is one
//! canonical varint that fills the value exactly (so `length` is 1, 2, 4 or 8). Opaque values
//! (hashes, salts, addresses, byte strings) are raw bytes.

use crate::varint::{self, VarintError};
use thiserror::Error;

/// Why a TLV field could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TlvError {
    /// A tag or length varint was malformed.
    #[error("bad varint at byte {offset}: {source}")]
    Varint {
        /// Offset of the varint in the buffer.
        offset: usize,
        /// What was wrong with it.
        source: VarintError,
    },
    /// The length runs past the end of the buffer.
    #[error("field with tag {tag} at byte {offset} announces {len} bytes, {available} available")]
    ValueTruncated {
        /// The field's tag.
        tag: u64,
        /// Offset of the field's tag.
        offset: usize,
        /// The announced length.
        len: u64,
        /// Bytes left in the buffer.
        available: usize,
    },
    /// An integer value was not exactly one canonical varint.
    #[error("field with tag {tag}: integer value must be one canonical varint filling the value")]
    BadInteger {
        /// The field's tag.
        tag: u64,
    },
    /// A fixed-size value had the wrong length.
    #[error("field with tag {tag}: expected {expected} bytes, got {got}")]
    BadLength {
        /// The field's tag.
        tag: u64,
        /// The size the format requires.
        expected: usize,
        /// The size found.
        got: usize,
    },
}

/// One field borrowed from a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The field's tag.
    pub tag: u64,
    /// The field's value bytes.
    pub value: &'a [u8],
    /// Offset of the field's first byte (its tag) in the buffer being read.
    pub offset: usize,
    /// Offset one past the field's last byte.
    pub end: usize,
}

impl<'a> Field<'a> {
    /// The value as an integer: one canonical varint filling the value.
    pub fn uint(&self) -> Result<u64, TlvError> {
        match varint::read(self.value) {
            Ok((v, n)) if n == self.value.len() => Ok(v),
            _ => Err(TlvError::BadInteger { tag: self.tag }),
        }
    }

    /// The value as a fixed-size array.
    pub fn array<const N: usize>(&self) -> Result<[u8; N], TlvError> {
        self.value.try_into().map_err(|_| TlvError::BadLength {
            tag: self.tag,
            expected: N,
            got: self.value.len(),
        })
    }

    /// The value as a boolean: an integer that must be 0 or 1.
    pub fn boolean(&self) -> Result<bool, TlvError> {
        match self.uint()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(TlvError::BadInteger { tag: self.tag }),
        }
    }
}

/// Iterates over the fields of a buffer. Stops with an error at the first malformed field;
/// after an error it yields nothing more.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Fields<'a> {
    /// Fields of `buf`, starting at its first byte.
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            failed: false,
        }
    }

    /// Offset of the next field.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Reads the next field, or `None` at the end of the buffer.
    #[inline]
    pub fn next_field(&mut self) -> Result<Option<Field<'a>>, TlvError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            return Ok(None);
        }
        let offset = self.pos;
        let (tag, tag_len) =
            varint::read(rest).map_err(|source| TlvError::Varint { offset, source })?;
        let rest = rest.get(tag_len..).unwrap_or_default();
        let (len, len_len) = varint::read(rest).map_err(|source| TlvError::Varint {
            offset: offset + tag_len,
            source,
        })?;
        let rest = rest.get(len_len..).unwrap_or_default();
        let value = usize::try_from(len)
            .ok()
            .and_then(|l| rest.get(..l))
            .ok_or(TlvError::ValueTruncated {
                tag,
                offset,
                len,
                available: rest.len(),
            })?;
        let end = offset + tag_len + len_len + value.len();
        self.pos = end;
        Ok(Some(Field {
            tag,
            value,
            offset,
            end,
        }))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, TlvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.next_field().transpose();
        if matches!(item, Some(Err(_))) {
            self.failed = true;
        }
        item
    }
}

/// Appends a field with an opaque value.
pub fn put_bytes(tag: u64, value: &[u8], out: &mut Vec<u8>) -> Result<(), VarintError> {
    varint::write(tag, out)?;
    varint::write(value.len() as u64, out)?;
    out.extend_from_slice(value);
    Ok(())
}

/// Appends a field whose value is the integer `value`.
pub fn put_uint(tag: u64, value: u64, out: &mut Vec<u8>) -> Result<(), VarintError> {
    let len = varint::encoded_len(value)?;
    varint::write(tag, out)?;
    varint::write(len as u64, out)?;
    varint::write(value, out)
}

/// Appends a boolean field (integer 0 or 1).
pub fn put_bool(tag: u64, value: bool, out: &mut Vec<u8>) -> Result<(), VarintError> {
    put_uint(tag, u64::from(value), out)
}

/// Appends a field whose value is written by `body`, patching in the length afterwards.
/// Used for nested TLV lists.
pub fn put_nested(
    tag: u64,
    out: &mut Vec<u8>,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), VarintError>,
) -> Result<(), VarintError> {
    let mut inner = Vec::new();
    body(&mut inner)?;
    put_bytes(tag, &inner, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_fields_in_order() {
        let mut buf = Vec::new();
        put_uint(1, 300, &mut buf).unwrap();
        put_bytes(7, b"abc", &mut buf).unwrap();
        assert_eq!(hex::encode(&buf), "0102412c0703616263");
        let fields: Vec<_> = Fields::new(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0].uint(), Ok(300));
        assert_eq!(fields[1].value, b"abc");
        assert_eq!(fields[1].offset, 4);
        assert_eq!(fields[1].end, buf.len());
    }

    #[test]
    fn truncated_value_is_an_error() {
        let err = Fields::new(&[0x07, 0x05, 0x61])
            .next()
            .unwrap()
            .unwrap_err();
        assert!(matches!(
            err,
            TlvError::ValueTruncated { tag: 7, len: 5, .. }
        ));
    }

    #[test]
    fn integer_must_fill_value() {
        let buf = [0x01, 0x02, 0x05, 0x00];
        let f = Fields::new(&buf).next().unwrap().unwrap();
        assert_eq!(f.uint(), Err(TlvError::BadInteger { tag: 1 }));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            for f in Fields::new(&bytes).flatten() {
                let _ = f.uint();
                let _ = f.boolean();
            }
        }

        #[test]
        fn roundtrip(items in proptest::collection::vec((0..=varint::MAX, proptest::collection::vec(any::<u8>(), 0..40)), 0..8)) {
            let mut buf = Vec::new();
            for (tag, value) in &items { put_bytes(*tag, value, &mut buf).unwrap(); }
            let back: Vec<_> = Fields::new(&buf).map(|f| f.map(|f| (f.tag, f.value.to_vec()))).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(back, items);
        }
    }
}
