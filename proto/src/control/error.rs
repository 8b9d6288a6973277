//! The one error type of the control module.

use crate::frame::FrameError;
use crate::tlv::TlvError;
use thiserror::Error;

/// Why a control message could not be read or written.
///
/// Errors name the message (`"Subscribe"`, ...) and, where there is one, the field
/// (`"source.endpoint_id"`, dotted for fields inside a nested TLV).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ControlError {
    /// The stream's framing is broken (bad version byte, malformed header, body too long).
    /// The stream cannot be resynchronised and must be closed.
    #[error("control stream framing: {0}")]
    Frame(#[from] FrameError),
    /// A message body is not a well-formed TLV list.
    #[error("{message}: malformed body: {source}")]
    Body {
        /// The message type's name.
        message: &'static str,
        /// What was wrong.
        source: TlvError,
    },
    /// A field's value has the wrong shape (not a canonical varint, wrong length, ...).
    #[error("{message}.{field}: {source}")]
    Field {
        /// The message type's name.
        message: &'static str,
        /// The field's name.
        field: &'static str,
        /// What was wrong.
        source: TlvError,
    },
    /// A required field is absent.
    #[error("{message}: missing required field {field}")]
    Missing {
        /// The message type's name.
        message: &'static str,
        /// The field's name.
        field: &'static str,
    },
    /// A field that may appear once appears twice.
    #[error("{message}: field {field} appears more than once")]
    Duplicate {
        /// The message type's name.
        message: &'static str,
        /// The field's name.
        field: &'static str,
    },
    /// A field's value is outside what the field allows.
    #[error("{message}.{field}: {reason}")]
    BadValue {
        /// The message type's name.
        message: &'static str,
        /// The field's name.
        field: &'static str,
        /// The rule the value breaks.
        reason: &'static str,
    },
    /// An integer to encode is above the varint maximum 2^62-1.
    #[error("{message}.{field}: value {value} exceeds the varint maximum 2^62-1")]
    TooLarge {
        /// The message type's name.
        message: &'static str,
        /// The field's name.
        field: &'static str,
        /// The value.
        value: u64,
    },
    /// The first message on a stream was not a Hello.
    #[error("the first control message must be Hello, got type {kind}")]
    HelloNotFirst {
        /// Type of the frame received instead.
        kind: u64,
    },
    /// A second Hello arrived on a stream.
    #[error("Hello received twice on one control stream")]
    DuplicateHello,
    /// The bytes given to [`ControlMessage::from_bytes`](super::ControlMessage::from_bytes)
    /// end inside a frame.
    #[error("control frame is incomplete")]
    Incomplete,
    /// The bytes given to [`ControlMessage::from_bytes`](super::ControlMessage::from_bytes)
    /// continue after the frame.
    #[error("{len} bytes follow the control frame")]
    TrailingBytes {
        /// How many.
        len: usize,
    },
    /// A size budget cannot hold even the fixed part of a receiver report plus one block.
    #[error("report budget of {max_size} bytes is too small: {needed} bytes needed")]
    BudgetTooSmall {
        /// The budget given.
        max_size: usize,
        /// The smallest frame that makes progress.
        needed: usize,
    },
}

impl ControlError {
    /// True when the stream can no longer be read and should be closed: broken framing or a
    /// broken Hello rule. Other errors concern one frame, which the reader has already
    /// skipped; the peer may be told with an [`Error`](super::ErrorMessage) message and the
    /// stream read on.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::Frame(_) | Self::HelloNotFirst { .. } | Self::DuplicateHello
        )
    }
}
