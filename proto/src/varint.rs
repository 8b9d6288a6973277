//! Variable-length integers: QUIC's encoding (RFC 9000 §16), canonical form only.
//!
//! The two most significant bits of the first byte give the length (`00` = 1, `01` = 2,
//! `10` = 4, `11` = 8 bytes); the remaining bits hold the value, big-endian. Values go up to
//! 2^62 - 1. Unlike QUIC, a decoder here rejects a value written with more bytes than it needs
//! ("overlong"): every value has exactly one encoding, so a re-encoded message is byte-identical
//! to the one received and a signature over headers cannot be malleated by re-padding.

use thiserror::Error;

/// The largest value a varint can carry: 2^62 - 1.
pub const MAX: u64 = (1 << 62) - 1;

/// Why a varint could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum VarintError {
    /// The input ended before the varint did.
    #[error("truncated varint: need {needed} bytes, {available} available")]
    Truncated {
        /// Bytes the first byte announced.
        needed: usize,
        /// Bytes that were there.
        available: usize,
    },
    /// The value was written with more bytes than its canonical encoding.
    #[error("overlong varint: {value} written in {len} bytes")]
    Overlong {
        /// The decoded value.
        value: u64,
        /// The length used.
        len: usize,
    },
    /// The value does not fit in 62 bits.
    #[error("value {0} exceeds the varint maximum 2^62-1")]
    TooLarge(u64),
    /// The output buffer is too small.
    #[error("buffer too small for varint: need {needed} bytes, {available} available")]
    BufferTooSmall {
        /// Bytes the encoding needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
}

/// Number of bytes the canonical encoding of `value` takes, or an error above [`MAX`].
#[inline]
pub fn encoded_len(value: u64) -> Result<usize, VarintError> {
    match value {
        0..=63 => Ok(1),
        64..=16_383 => Ok(2),
        16_384..=1_073_741_823 => Ok(4),
        1_073_741_824..=MAX => Ok(8),
        _ => Err(VarintError::TooLarge(value)),
    }
}

/// Appends the canonical encoding of `value` to `out`.
#[inline]
pub fn write(value: u64, out: &mut Vec<u8>) -> Result<(), VarintError> {
    match encoded_len(value)? {
        1 => out.push(value as u8),
        2 => out.extend_from_slice(&((value as u16) | 0x4000).to_be_bytes()),
        4 => out.extend_from_slice(&((value as u32) | 0x8000_0000).to_be_bytes()),
        _ => out.extend_from_slice(&(value | 0xC000_0000_0000_0000).to_be_bytes()),
    }
    Ok(())
}

/// Reads one varint from the start of `buf`, returning the value and the bytes consumed.
#[inline]
pub fn read(buf: &[u8]) -> Result<(u64, usize), VarintError> {
    let truncated = |needed| VarintError::Truncated {
        needed,
        available: buf.len(),
    };
    let Some(&first) = buf.first() else {
        return Err(truncated(1));
    };
    // One fixed-size load per length; the masks clear the two length bits.
    let (value, len, min) = match first >> 6 {
        0 => return Ok((u64::from(first), 1)),
        1 => {
            let b: [u8; 2] = buf
                .get(..2)
                .and_then(|b| b.try_into().ok())
                .ok_or(truncated(2))?;
            (u64::from(u16::from_be_bytes(b) & 0x3FFF), 2, 64)
        }
        2 => {
            let b: [u8; 4] = buf
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .ok_or(truncated(4))?;
            (u64::from(u32::from_be_bytes(b) & 0x3FFF_FFFF), 4, 16_384)
        }
        _ => {
            let b: [u8; 8] = buf
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .ok_or(truncated(8))?;
            (u64::from_be_bytes(b) & MAX, 8, 1_073_741_824)
        }
    };
    // Canonical form: the value must need exactly this many bytes.
    if value < min {
        return Err(VarintError::Overlong { value, len });
    }
    Ok((value, len))
}

/// A cursor that reads varints and byte strings from a borrowed buffer.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader positioned at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The bytes not yet read.
    pub fn remaining(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Reads one varint.
    pub fn varint(&mut self) -> Result<u64, VarintError> {
        let (v, n) = read(self.remaining())?;
        self.pos += n;
        Ok(v)
    }

    /// Reads exactly `len` bytes.
    pub fn bytes(&mut self, len: usize) -> Result<&'a [u8], VarintError> {
        let rest = self.remaining();
        let out = rest.get(..len).ok_or(VarintError::Truncated {
            needed: len,
            available: rest.len(),
        })?;
        self.pos += len;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc9000_examples() {
        // RFC 9000 §A.1 sample encodings (the 8-byte one is canonical there too).
        let cases: [(&[u8], u64); 4] = [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
        ];
        for (bytes, value) in cases {
            assert_eq!(read(bytes), Ok((value, bytes.len())));
            let mut out = Vec::new();
            write(value, &mut out).unwrap();
            assert_eq!(out, bytes);
        }
    }

    #[test]
    fn overlong_is_rejected() {
        // RFC 9000 shows 37 as 0x4025 too; we accept only the canonical 0x25.
        assert_eq!(
            read(&[0x40, 0x25]),
            Err(VarintError::Overlong { value: 37, len: 2 })
        );
    }

    #[test]
    fn truncated_and_too_large() {
        assert!(matches!(read(&[]), Err(VarintError::Truncated { .. })));
        assert!(matches!(
            read(&[0x9d, 0x7f]),
            Err(VarintError::Truncated { .. })
        ));
        assert_eq!(
            write(MAX + 1, &mut Vec::new()),
            Err(VarintError::TooLarge(MAX + 1))
        );
    }

    proptest! {
        #[test]
        fn roundtrip(value in 0..=MAX) {
            let mut out = Vec::new();
            write(value, &mut out).unwrap();
            prop_assert_eq!(out.len(), encoded_len(value).unwrap());
            prop_assert_eq!(read(&out), Ok((value, out.len())));
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            let _ = read(&bytes);
        }
    }
}
