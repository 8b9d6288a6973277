//! Client<->SFU control messages, carried on one reliable bidirectional QUIC stream.
//!
//! Each message is one [`frame`] (`version | type | length | body`) whose body is
//! a [`tlv`](crate::tlv) list with tag numbers defined per message type. The first message each
//! side sends is a [`Hello`]; it fixes the control protocol version for the stream.
//!
//! Reader rules (PROTOCOL.md, "Control messages"):
//!
//! - unknown tags inside a body are ignored, so fields can be added later;
//! - a frame of an unknown type is skipped and reported as [`Decoded::Unknown`], so a stream
//!   can carry newer messages;
//! - a missing required field, a field that appears twice where it may appear once, or a value
//!   out of range is a [`ControlError`] naming the message and the field. The frame is
//!   consumed and the stream stays usable; broken framing is fatal
//!   ([`ControlError::is_fatal`]).
//!
//! ```
//! use newmedia_proto::control::{ControlMessage, ControlReader, Decoded, Hello, Capabilities,
//!     IntraFrameRequest};
//! use newmedia_proto::ids::GlobalEncodingId;
//!
//! let mut wire = Vec::new();
//! ControlMessage::Hello(Hello::new(7, Capabilities::NONE)).encode(&mut wire)?;
//! let encoding = GlobalEncodingId::derive(1, 2, 3, 4);
//! ControlMessage::IntraFrameRequest(IntraFrameRequest { encoding }).encode(&mut wire)?;
//!
//! let mut reader = ControlReader::new();
//! reader.push(&wire);
//! assert!(matches!(reader.next_message()?, Some(Decoded::Message(ControlMessage::Hello(_)))));
//! assert_eq!(
//!     reader.next_message()?,
//!     Some(Decoded::Message(ControlMessage::IntraFrameRequest(IntraFrameRequest { encoding })))
//! );
//! assert_eq!(reader.next_message()?, None);
//! # Ok::<(), newmedia_proto::control::ControlError>(())
//! ```

mod codec;
mod error;
mod error_msg;
mod hello;
mod reader;
mod report;
mod requests;
mod serde_ids;
mod speakers;
mod subscribe;
#[cfg(test)]
mod tests;

pub use error::ControlError;
pub use error_msg::{ErrorCode, ErrorMessage, MAX_ERROR_TEXT};
pub use hello::{CONTROL_VERSION, Capabilities, Hello, negotiate_version};
pub use reader::ControlReader;
pub use report::{EcnCounts, ReceiverReport, ReportBlock};
pub use requests::{
    IntraFrameRequest, MaxRateRequest, RetransmissionRequest, RetransmissionUnavailable,
    SequenceRange, UnavailableReason,
};
pub use speakers::{ActiveSpeakers, MAX_LEVEL, Speaker};
pub use subscribe::{Constraints, Subscribe, SubscribeResult, SubscribeTarget, Unsubscribe};

use crate::frame::{self, Frame};
use codec::Enc;
use serde::{Deserialize, Serialize};

/// Frame type numbers of the control messages. Stable: a number is never reused.
pub mod kind {
    /// [`Hello`](super::Hello).
    pub const HELLO: u64 = 1;
    /// [`Error`](super::ErrorMessage).
    pub const ERROR: u64 = 2;
    /// [`Subscribe`](super::Subscribe).
    pub const SUBSCRIBE: u64 = 3;
    /// [`Unsubscribe`](super::Unsubscribe).
    pub const UNSUBSCRIBE: u64 = 4;
    /// [`SubscribeResult`](super::SubscribeResult).
    pub const SUBSCRIBE_RESULT: u64 = 5;
    /// [`RetransmissionRequest`](super::RetransmissionRequest).
    pub const RETRANSMISSION_REQUEST: u64 = 6;
    /// [`MaxRateRequest`](super::MaxRateRequest).
    pub const MAX_RATE_REQUEST: u64 = 7;
    /// [`IntraFrameRequest`](super::IntraFrameRequest).
    pub const INTRA_FRAME_REQUEST: u64 = 8;
    /// [`ReceiverReport`](super::ReceiverReport).
    pub const RECEIVER_REPORT: u64 = 9;
    /// [`ActiveSpeakers`](super::ActiveSpeakers).
    pub const ACTIVE_SPEAKERS: u64 = 10;
    /// [`RetransmissionUnavailable`](super::RetransmissionUnavailable).
    pub const RETRANSMISSION_UNAVAILABLE: u64 = 11;
}

/// A message body: its frame type, its name in errors, and its TLV coding.
trait Body: Sized {
    /// The frame type.
    const KIND: u64;
    /// The message's name in errors.
    const NAME: &'static str;
    /// Appends the body's fields. Checks the value rules the decoder checks, so whatever
    /// encodes also decodes.
    fn encode_body(&self, enc: &mut Enc<'_>) -> Result<(), ControlError>;
    /// Reads a body.
    fn decode_body(body: &[u8]) -> Result<Self, ControlError>;
}

/// One control message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlMessage {
    /// The first message on a stream, from each side.
    Hello(Hello),
    /// A request failed, or the session is ending.
    Error(ErrorMessage),
    /// Client to SFU: forward this to me.
    Subscribe(Subscribe),
    /// Client to SFU: stop a subscription.
    Unsubscribe(Unsubscribe),
    /// SFU to client: what a subscription currently delivers.
    SubscribeResult(SubscribeResult),
    /// Resend messages of an encoding.
    RetransmissionRequest(RetransmissionRequest),
    /// Keep an encoding under a bitrate.
    MaxRateRequest(MaxRateRequest),
    /// Send an intra frame on an encoding.
    IntraFrameRequest(IntraFrameRequest),
    /// An endpoint's compound reception report.
    ReceiverReport(ReceiverReport),
    /// SFU to client: the conference's speakers, loudest first.
    ActiveSpeakers(ActiveSpeakers),
    /// SFU to client: requested messages that will not be sent, and why.
    RetransmissionUnavailable(RetransmissionUnavailable),
}

/// What one frame on a control stream held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A message this implementation knows.
    Message(ControlMessage),
    /// A frame of a type this implementation does not know; its body was skipped.
    Unknown {
        /// The frame type.
        kind: u64,
    },
}

macro_rules! from_body {
    ($($variant:ident($ty:ty)),* $(,)?) => {$(
        impl From<$ty> for ControlMessage {
            fn from(m: $ty) -> Self {
                Self::$variant(m)
            }
        }
    )*};
}

from_body!(
    Hello(Hello),
    Error(ErrorMessage),
    Subscribe(Subscribe),
    Unsubscribe(Unsubscribe),
    SubscribeResult(SubscribeResult),
    RetransmissionRequest(RetransmissionRequest),
    MaxRateRequest(MaxRateRequest),
    IntraFrameRequest(IntraFrameRequest),
    ReceiverReport(ReceiverReport),
    ActiveSpeakers(ActiveSpeakers),
    RetransmissionUnavailable(RetransmissionUnavailable),
);

fn encode_as<T: Body>(msg: &T, out: &mut Vec<u8>) -> Result<(), ControlError> {
    let mut body = Vec::new();
    msg.encode_body(&mut Enc::new(T::NAME, &mut body))?;
    frame::encode(T::KIND, &body, out)?;
    Ok(())
}

impl ControlMessage {
    /// The frame type (one of the [`kind`] constants).
    pub fn kind(&self) -> u64 {
        match self {
            Self::Hello(_) => Hello::KIND,
            Self::Error(_) => ErrorMessage::KIND,
            Self::Subscribe(_) => Subscribe::KIND,
            Self::Unsubscribe(_) => Unsubscribe::KIND,
            Self::SubscribeResult(_) => SubscribeResult::KIND,
            Self::RetransmissionRequest(_) => RetransmissionRequest::KIND,
            Self::MaxRateRequest(_) => MaxRateRequest::KIND,
            Self::IntraFrameRequest(_) => IntraFrameRequest::KIND,
            Self::ReceiverReport(_) => ReceiverReport::KIND,
            Self::ActiveSpeakers(_) => ActiveSpeakers::KIND,
            Self::RetransmissionUnavailable(_) => RetransmissionUnavailable::KIND,
        }
    }

    /// The message's name, as used in errors.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Hello(_) => Hello::NAME,
            Self::Error(_) => ErrorMessage::NAME,
            Self::Subscribe(_) => Subscribe::NAME,
            Self::Unsubscribe(_) => Unsubscribe::NAME,
            Self::SubscribeResult(_) => SubscribeResult::NAME,
            Self::RetransmissionRequest(_) => RetransmissionRequest::NAME,
            Self::MaxRateRequest(_) => MaxRateRequest::NAME,
            Self::IntraFrameRequest(_) => IntraFrameRequest::NAME,
            Self::ReceiverReport(_) => ReceiverReport::NAME,
            Self::ActiveSpeakers(_) => ActiveSpeakers::NAME,
            Self::RetransmissionUnavailable(_) => RetransmissionUnavailable::NAME,
        }
    }

    /// Appends the message as one frame to `out`. On error `out` is left as it was.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), ControlError> {
        match self {
            Self::Hello(m) => encode_as(m, out),
            Self::Error(m) => encode_as(m, out),
            Self::Subscribe(m) => encode_as(m, out),
            Self::Unsubscribe(m) => encode_as(m, out),
            Self::SubscribeResult(m) => encode_as(m, out),
            Self::RetransmissionRequest(m) => encode_as(m, out),
            Self::MaxRateRequest(m) => encode_as(m, out),
            Self::IntraFrameRequest(m) => encode_as(m, out),
            Self::ReceiverReport(m) => encode_as(m, out),
            Self::ActiveSpeakers(m) => encode_as(m, out),
            Self::RetransmissionUnavailable(m) => encode_as(m, out),
        }
    }

    /// The message as one frame.
    pub fn to_vec(&self) -> Result<Vec<u8>, ControlError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }

    /// Reads the message in a frame. A frame of an unknown type gives [`Decoded::Unknown`].
    pub fn decode(frame: &Frame<'_>) -> Result<Decoded, ControlError> {
        let body = frame.body;
        let msg = match frame.kind {
            kind::HELLO => Self::Hello(Hello::decode_body(body)?),
            kind::ERROR => Self::Error(ErrorMessage::decode_body(body)?),
            kind::SUBSCRIBE => Self::Subscribe(Subscribe::decode_body(body)?),
            kind::UNSUBSCRIBE => Self::Unsubscribe(Unsubscribe::decode_body(body)?),
            kind::SUBSCRIBE_RESULT => Self::SubscribeResult(SubscribeResult::decode_body(body)?),
            kind::RETRANSMISSION_REQUEST => {
                Self::RetransmissionRequest(RetransmissionRequest::decode_body(body)?)
            }
            kind::MAX_RATE_REQUEST => Self::MaxRateRequest(MaxRateRequest::decode_body(body)?),
            kind::INTRA_FRAME_REQUEST => {
                Self::IntraFrameRequest(IntraFrameRequest::decode_body(body)?)
            }
            kind::RECEIVER_REPORT => Self::ReceiverReport(ReceiverReport::decode_body(body)?),
            kind::ACTIVE_SPEAKERS => Self::ActiveSpeakers(ActiveSpeakers::decode_body(body)?),
            kind::RETRANSMISSION_UNAVAILABLE => {
                Self::RetransmissionUnavailable(RetransmissionUnavailable::decode_body(body)?)
            }
            kind => return Ok(Decoded::Unknown { kind }),
        };
        Ok(Decoded::Message(msg))
    }

    /// Reads `buf`, which must hold exactly one whole frame.
    pub fn from_bytes(buf: &[u8]) -> Result<Decoded, ControlError> {
        let (frame, used) = frame::decode(buf)?.ok_or(ControlError::Incomplete)?;
        if used != buf.len() {
            return Err(ControlError::TrailingBytes {
                len: buf.len() - used,
            });
        }
        Self::decode(&frame)
    }
}
