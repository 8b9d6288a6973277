//! The incremental reader of a control stream.

use super::{ControlError, ControlMessage, Decoded, Hello, kind};
use crate::frame;

/// Compact the buffer once this many consumed bytes sit in front of it.
const COMPACT_AT: usize = 4096;

/// Turns the bytes of one control stream, as they arrive, into whole messages, and checks the
/// Hello rule: the first frame must be a Hello, and only the first.
///
/// Push received bytes with [`push`](Self::push), then call
/// [`next_message`](Self::next_message) until it returns `Ok(None)`. An error that
/// [`is_fatal`](ControlError::is_fatal) is returned again on every later call (close the
/// stream); any other error concerns one frame, which has been consumed, and reading may go
/// on (a malformed first Hello still leaves the reader waiting for a Hello).
#[derive(Debug, Default, Clone)]
pub struct ControlReader {
    buf: Vec<u8>,
    start: usize,
    hello: Option<Hello>,
    failed: Option<ControlError>,
}

impl ControlReader {
    /// A reader at the start of a stream, waiting for the peer's Hello.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start >= COMPACT_AT || self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes received but not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The peer's Hello, once received.
    pub fn peer_hello(&self) -> Option<&Hello> {
        self.hello.as_ref()
    }

    fn fail(&mut self, err: ControlError) -> Result<Option<Decoded>, ControlError> {
        self.failed = Some(err);
        Err(err)
    }

    /// The next whole message, or `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Decoded>, ControlError> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        let pending = self.buf.get(self.start..).unwrap_or_default();
        let (frame_kind, result, used) = match frame::decode(pending) {
            Err(e) => return self.fail(e.into()),
            Ok(None) => return Ok(None),
            Ok(Some((frame, used))) => (frame.kind, ControlMessage::decode(&frame), used),
        };
        self.start += used;
        match (&self.hello, frame_kind) {
            (None, kind::HELLO) => {
                if let Ok(Decoded::Message(ControlMessage::Hello(hello))) = &result {
                    self.hello = Some(hello.clone());
                }
            }
            (None, other) => return self.fail(ControlError::HelloNotFirst { kind: other }),
            (Some(_), kind::HELLO) => return self.fail(ControlError::DuplicateHello),
            (Some(_), _) => {}
        }
        result.map(Some)
    }
}
