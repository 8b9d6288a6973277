//! The byte format of reliable data streams (PROTOCOL.md §13), sans-IO: a QUIC
//! unidirectional stream that starts with one kind byte and then carries frames
//! `length (QUIC varint) | one sealed RTP3 message`.
//!
//! [`DataStreamReader`] reads a stream incrementally, without copying: bytes are appended to
//! its buffer (a [`BytesMut`] a socket read can fill directly) and each complete frame is split
//! off as one refcounted [`Bytes`] holding the length prefix and the message, so the SFU
//! forwards the frame's exact bytes and a subscriber's stream is byte-identical to the
//! publisher's. [`encode_frame`] writes a frame.
//!
//! ```
//! use bytes::Bytes;
//! use newmedia_proto::data_stream::{DataStreamReader, StreamKind, encode_frame};
//!
//! let mut stream = vec![StreamKind::Ordered.byte()];
//! encode_frame(b"message one", &mut stream).unwrap();
//! encode_frame(b"message two", &mut stream).unwrap();
//! let mut reader = DataStreamReader::new();
//! reader.push(&stream);
//! let first = reader.next_frame().unwrap().unwrap();
//! assert_eq!(reader.kind(), Some(StreamKind::Ordered));
//! assert_eq!(first.message(), Bytes::from_static(b"message one"));
//! assert_eq!(reader.next_frame().unwrap().unwrap().message(), &b"message two"[..]);
//! assert!(reader.next_frame().unwrap().is_none());
//! reader.finish().unwrap();
//! ```

use crate::varint::{self, VarintError};
use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;

/// Largest message a frame may carry, in bytes (64 KiB).
pub const MAX_MESSAGE: usize = 65_536;

/// The kind of a data stream, its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// `0x10`: one long-lived stream per encoding carrying many messages, delivered in order.
    Ordered,
    /// `0x11`: one stream per message: exactly one frame, then FIN.
    Single,
}

impl StreamKind {
    /// The kind byte of an ordered stream.
    pub const ORDERED: u8 = 0x10;
    /// The kind byte of a single-message stream.
    pub const SINGLE: u8 = 0x11;

    /// The kind for a first byte, if it is one.
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            Self::ORDERED => Some(Self::Ordered),
            Self::SINGLE => Some(Self::Single),
            _ => None,
        }
    }

    /// The kind byte.
    pub fn byte(self) -> u8 {
        match self {
            Self::Ordered => Self::ORDERED,
            Self::Single => Self::SINGLE,
        }
    }
}

/// Why a data stream is unusable. Each of these ends the stream (the SFU sends STOP_SENDING
/// with code 3); a frame whose message does not parse as RTP3 is not an error here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum DataStreamError {
    /// The first byte is not a known kind.
    #[error("unknown data stream kind 0x{0:02x}")]
    UnknownKind(u8),
    /// A length varint is overlong (not canonical).
    #[error("bad frame length: {0}")]
    Length(VarintError),
    /// A frame announces a message longer than [`MAX_MESSAGE`].
    #[error("data frame of {0} bytes exceeds the maximum {MAX_MESSAGE}")]
    TooLong(u64),
    /// A single-message stream carries a second frame.
    #[error("a single-message stream carries more than one frame")]
    SecondMessage,
    /// The stream ended inside a frame, before its kind byte, or (single-message) without
    /// its frame.
    #[error("data stream ended early")]
    Truncated,
}

/// One frame split off a stream: its length prefix and its message, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFrame {
    frame: Bytes,
    header_len: usize,
}

impl DataFrame {
    /// The whole frame, `length | message`, exactly as on the wire.
    pub fn frame(&self) -> &Bytes {
        &self.frame
    }

    /// The message (a sealed RTP3 message), sharing the frame's buffer.
    pub fn message(&self) -> Bytes {
        self.frame.slice(self.header_len..)
    }

    /// The message's length in bytes.
    pub fn message_len(&self) -> usize {
        self.frame.len() - self.header_len
    }
}

/// Reads one data stream incrementally. Feed it bytes ([`push`](Self::push), or read straight
/// into [`buffer_mut`](Self::buffer_mut)), take frames with
/// [`next_frame`](Self::next_frame) until it returns `Ok(None)`, and call
/// [`finish`](Self::finish) at the end of the stream.
#[derive(Debug, Default)]
pub struct DataStreamReader {
    kind: Option<StreamKind>,
    buf: BytesMut,
    frames: u64,
}

impl DataStreamReader {
    /// A reader at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stream's kind, once its first byte has been read.
    pub fn kind(&self) -> Option<StreamKind> {
        self.kind
    }

    /// Frames returned so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The receive buffer, to read into without an intermediate copy (e.g.
    /// `AsyncReadExt::read_buf`).
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed, or an error that ends
    /// the stream.
    pub fn next_frame(&mut self) -> Result<Option<DataFrame>, DataStreamError> {
        let kind = match self.kind {
            Some(kind) => kind,
            None => {
                let Some(&first) = self.buf.first() else {
                    return Ok(None);
                };
                let kind =
                    StreamKind::from_byte(first).ok_or(DataStreamError::UnknownKind(first))?;
                self.buf.advance(1);
                self.kind = Some(kind);
                kind
            }
        };
        if self.buf.is_empty() {
            return Ok(None);
        }
        if kind == StreamKind::Single && self.frames > 0 {
            return Err(DataStreamError::SecondMessage);
        }
        let (len, header_len) = match varint::read(&self.buf) {
            Ok(v) => v,
            Err(VarintError::Truncated { .. }) => return Ok(None),
            Err(e) => return Err(DataStreamError::Length(e)),
        };
        if len > MAX_MESSAGE as u64 {
            return Err(DataStreamError::TooLong(len));
        }
        // len <= 65536, so the sum cannot overflow.
        let total = header_len + len as usize;
        if self.buf.len() < total {
            // Make room for the rest of the frame in one allocation.
            self.buf.reserve(total - self.buf.len());
            return Ok(None);
        }
        self.frames += 1;
        Ok(Some(DataFrame {
            frame: self.buf.split_to(total).freeze(),
            header_len,
        }))
    }

    /// Checks the end of the stream (FIN): no partial frame left, the kind byte read, and a
    /// single-message stream's one frame received.
    pub fn finish(&self) -> Result<(), DataStreamError> {
        match self.kind {
            _ if !self.buf.is_empty() => Err(DataStreamError::Truncated),
            None => Err(DataStreamError::Truncated),
            Some(StreamKind::Single) if self.frames != 1 => Err(DataStreamError::Truncated),
            Some(_) => Ok(()),
        }
    }
}

/// Appends one frame, `length | message`, to `out`. Fails for a message longer than
/// [`MAX_MESSAGE`], leaving `out` as it was.
pub fn encode_frame(message: &[u8], out: &mut Vec<u8>) -> Result<(), DataStreamError> {
    if message.len() > MAX_MESSAGE {
        return Err(DataStreamError::TooLong(message.len() as u64));
    }
    varint::write(message.len() as u64, out).map_err(DataStreamError::Length)?;
    out.extend_from_slice(message);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stream(kind: u8, messages: &[&[u8]]) -> Vec<u8> {
        let mut out = vec![kind];
        for m in messages {
            encode_frame(m, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn example_bytes() {
        // PROTOCOL.md §13 example: an ordered stream with a 3-byte and a 70-byte message.
        let long = [0xAB; 70];
        let bytes = stream(0x10, &[b"abc", &long]);
        assert_eq!(&bytes[..5], &[0x10, 0x03, b'a', b'b', b'c']);
        assert_eq!(&bytes[5..7], &[0x40, 0x46]);
        assert_eq!(bytes.len(), 1 + 4 + 2 + 70);
    }

    #[test]
    fn every_split_point_reads_the_same() {
        let bytes = stream(0x10, &[b"one", &[7; 300], b""]);
        for cut in 0..=bytes.len() {
            let mut r = DataStreamReader::new();
            let mut got = Vec::new();
            r.push(&bytes[..cut]);
            while let Some(f) = r.next_frame().unwrap() {
                got.push(f.message());
            }
            r.push(&bytes[cut..]);
            while let Some(f) = r.next_frame().unwrap() {
                got.push(f.message());
            }
            assert_eq!(got.len(), 3, "cut {cut}");
            assert_eq!(&got[1][..], &[7; 300][..]);
            assert!(got[2].is_empty());
            r.finish().unwrap();
        }
    }

    #[test]
    fn frame_bytes_are_the_wire_bytes() {
        let bytes = stream(0x11, &[b"hello"]);
        let mut r = DataStreamReader::new();
        r.push(&bytes);
        let f = r.next_frame().unwrap().unwrap();
        assert_eq!(&f.frame()[..], &bytes[1..]);
        assert_eq!(f.message_len(), 5);
        assert_eq!(r.kind(), Some(StreamKind::Single));
        r.finish().unwrap();
    }

    #[test]
    fn errors() {
        let mut r = DataStreamReader::new();
        r.push(&[0x12]);
        assert_eq!(r.next_frame(), Err(DataStreamError::UnknownKind(0x12)));

        let mut r = DataStreamReader::new();
        r.push(&[0x10, 0x40, 0x01]); // overlong varint for 1
        assert!(matches!(r.next_frame(), Err(DataStreamError::Length(_))));

        let mut r = DataStreamReader::new();
        r.push(&[0x10, 0x80, 0x01, 0x00, 0x01]); // 65537
        assert_eq!(r.next_frame(), Err(DataStreamError::TooLong(65_537)));

        let mut r = DataStreamReader::new();
        r.push(&stream(0x11, &[b"a", b"b"]));
        assert!(r.next_frame().unwrap().is_some());
        assert_eq!(r.next_frame(), Err(DataStreamError::SecondMessage));

        let mut r = DataStreamReader::new();
        assert_eq!(r.finish(), Err(DataStreamError::Truncated));
        r.push(&[0x11]);
        assert_eq!(r.next_frame(), Ok(None));
        assert_eq!(r.finish(), Err(DataStreamError::Truncated));
        r.push(&[0x05, b'a']);
        assert_eq!(r.next_frame(), Ok(None));
        assert_eq!(r.finish(), Err(DataStreamError::Truncated));

        assert!(encode_frame(&vec![0; MAX_MESSAGE + 1], &mut Vec::new()).is_err());
        let mut ok = Vec::new();
        encode_frame(&vec![0; MAX_MESSAGE], &mut ok).unwrap();
        assert_eq!(&ok[..4], &[0x80, 0x01, 0x00, 0x00]);
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), cut in 0usize..512) {
            let mut r = DataStreamReader::new();
            let cut = cut.min(bytes.len());
            r.push(&bytes[..cut]);
            while let Ok(Some(_)) = r.next_frame() {}
            r.push(&bytes[cut..]);
            while let Ok(Some(_)) = r.next_frame() {}
            let _ = r.finish();
        }

        #[test]
        fn round_trip(messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..8)) {
            let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
            let bytes = stream(0x10, &refs);
            let mut r = DataStreamReader::new();
            r.push(&bytes);
            let mut got = Vec::new();
            while let Some(f) = r.next_frame().unwrap() {
                got.push(f.message().to_vec());
            }
            prop_assert_eq!(got, messages);
            prop_assert!(r.finish().is_ok());
        }
    }
}
