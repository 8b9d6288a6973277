//! Framing for the reliable byte streams (the client<->SFU control stream and the TURN2 TLS
//! stream): `version (1 byte) | type (varint) | length (varint) | body (length bytes)`.
//!
//! The decoder is incremental: given the bytes received so far it returns a whole frame, or
//! `Ok(None)` when more bytes are needed, or an error that should close the stream.

use crate::varint::{self, VarintError};
use thiserror::Error;

/// The only framing version this crate speaks.
pub const VERSION: u8 = 1;

/// Largest body accepted: a relayed 64 KiB UDP payload plus room for its headers.
pub const MAX_BODY: usize = 65_536 + 256;

/// Why a frame could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FrameError {
    /// The first byte was not a version we speak.
    #[error("unsupported frame version {0} (this implementation speaks {VERSION})")]
    UnsupportedVersion(u8),
    /// The type or length varint was malformed (overlong or too large).
    #[error("bad frame header: {0}")]
    Header(VarintError),
    /// The body is longer than [`MAX_BODY`].
    #[error("frame body of {0} bytes exceeds the maximum {MAX_BODY}")]
    TooLong(u64),
}

/// One frame borrowed from a receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The frame type; its meaning depends on the stream (control or TURN2).
    pub kind: u64,
    /// The body, a list of TLV fields for every frame type defined so far.
    pub body: &'a [u8],
}

/// Reads one frame from the front of `buf`. Returns the frame and the bytes it took, or
/// `Ok(None)` if `buf` holds only part of a frame.
pub fn decode(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, FrameError> {
    let Some(&version) = buf.first() else {
        return Ok(None);
    };
    if version != VERSION {
        return Err(FrameError::UnsupportedVersion(version));
    }
    let mut r = varint::Reader::new(buf.get(1..).unwrap_or_default());
    let header = (|| Ok::<_, VarintError>((r.varint()?, r.varint()?)))();
    let (kind, len) = match header {
        Ok(h) => h,
        Err(VarintError::Truncated { .. }) => return Ok(None),
        Err(e) => return Err(FrameError::Header(e)),
    };
    if len > MAX_BODY as u64 {
        return Err(FrameError::TooLong(len));
    }
    let start = 1 + r.position();
    let end = start + len as usize;
    Ok(buf.get(start..end).map(|body| (Frame { kind, body }, end)))
}

/// Appends a frame with the given type and body.
pub fn encode(kind: u64, body: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    if body.len() > MAX_BODY {
        return Err(FrameError::TooLong(body.len() as u64));
    }
    out.push(VERSION);
    varint::write(kind, out).map_err(FrameError::Header)?;
    varint::write(body.len() as u64, out).map_err(FrameError::Header)?;
    out.extend_from_slice(body);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn incremental_decode() {
        let mut buf = Vec::new();
        encode(3, b"hello", &mut buf).unwrap();
        assert_eq!(buf, [1, 3, 5, b'h', b'e', b'l', b'l', b'o']);
        for cut in 0..buf.len() {
            assert_eq!(decode(&buf[..cut]), Ok(None));
        }
        let (frame, used) = decode(&buf).unwrap().unwrap();
        assert_eq!(
            (frame.kind, frame.body, used),
            (3, &b"hello"[..], buf.len())
        );
    }

    #[test]
    fn bad_version_and_length() {
        assert_eq!(decode(&[2, 0, 0]), Err(FrameError::UnsupportedVersion(2)));
        let mut buf = vec![1, 0];
        varint::write(MAX_BODY as u64 + 1, &mut buf).unwrap();
        assert!(matches!(decode(&buf), Err(FrameError::TooLong(_))));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            let _ = decode(&bytes);
        }
    }
}
