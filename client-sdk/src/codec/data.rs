//! The data codec (draft §5.3): raw bytes sent just like media, with a codec parameter saying
//! whether reliable and/or in-order delivery is needed.
//!
//! # How the SDK maps the flags onto QUIC
//!
//! | `reliable` | `ordered` | [`DataTransport`]                   | on the wire                       |
//! |------------|-----------|-------------------------------------|-----------------------------------|
//! | yes        | yes       | [`DataTransport::OrderedStream`]    | one QUIC stream for the encoding  |
//! | yes        | no        | [`DataTransport::StreamPerMessage`] | a new QUIC stream per message     |
//! | no         | either    | [`DataTransport::Datagram`]         | QUIC datagrams (RTP3 messages)    |
//!
//! Unreliable data travels as RTP3 messages in datagrams exactly like audio; with `ordered`
//! set the receiver delivers in sequence order and drops a message that arrives after a later
//! one was delivered (no retransmission is requested).
//!
//! # In signaling
//!
//! The codec appears as `data` with parameters: `data;reliable=1;ordered=1`. [`DataCodec`]'s
//! [`Display`](std::fmt::Display) always writes both parameters; [`FromStr`] accepts them in
//! any order, each optional (absent means `0`), values `0` or `1`, the codec name
//! case-insensitively, and ignores parameters it does not know (forward compatibility).
//!
//! ```
//! use newmedia_client::codec::data::{DataCodec, DataTransport};
//! let codec: DataCodec = "data;reliable=1".parse().unwrap();
//! assert_eq!(codec, DataCodec { reliable: true, ordered: false });
//! assert_eq!(codec.transport(), DataTransport::StreamPerMessage);
//! assert_eq!(codec.to_string(), "data;reliable=1;ordered=0");
//! let msg = codec.message(bytes::Bytes::from_static(b"hello"));
//! assert!(msg.reliable && !msg.ordered);
//! ```

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;

/// The codec name of the data codec in signaling.
pub const CODEC_NAME: &str = "data";

/// Errors from parsing a data codec string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataCodecError {
    /// The codec name is not `data`.
    #[error("codec name {0:?} is not \"data\"")]
    WrongCodec(String),
    /// A parameter has no `=value`.
    #[error("parameter {0:?} has no value")]
    MissingValue(String),
    /// `reliable` or `ordered` has a value other than `0` or `1`.
    #[error("parameter {name} has value {value:?}, expected 0 or 1")]
    BadValue {
        /// The parameter name.
        name: String,
        /// The value found.
        value: String,
    },
    /// `reliable` or `ordered` appears more than once.
    #[error("parameter {0} given more than once")]
    Duplicate(String),
}

/// The data codec's parameters: which delivery guarantees the application needs.
///
/// The default is unreliable and unordered (datagrams, like media).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DataCodec {
    /// Every message must arrive (retransmitted as needed).
    pub reliable: bool,
    /// Messages are delivered in the order they were sent.
    pub ordered: bool,
}

/// How the SDK carries the messages of a data encoding (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataTransport {
    /// Unreliable: RTP3 messages in QUIC datagrams.
    Datagram,
    /// Reliable, unordered: a new QUIC stream per message, so one loss blocks only its message.
    StreamPerMessage,
    /// Reliable and ordered: all messages on one QUIC stream.
    OrderedStream,
}

impl DataCodec {
    /// Unreliable, unordered (the default).
    pub const UNRELIABLE: Self = Self {
        reliable: false,
        ordered: false,
    };
    /// Reliable and in order.
    pub const RELIABLE_ORDERED: Self = Self {
        reliable: true,
        ordered: true,
    };

    /// The transport the SDK uses for these flags.
    pub fn transport(self) -> DataTransport {
        match (self.reliable, self.ordered) {
            (true, true) => DataTransport::OrderedStream,
            (true, false) => DataTransport::StreamPerMessage,
            (false, _) => DataTransport::Datagram,
        }
    }

    /// A message carrying `bytes` with this codec's flags.
    pub fn message(self, bytes: Bytes) -> DataMessage {
        DataMessage::new(bytes, self)
    }
}

impl fmt::Display for DataCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{CODEC_NAME};reliable={};ordered={}",
            u8::from(self.reliable),
            u8::from(self.ordered)
        )
    }
}

fn parse_flag(name: &str, value: &str) -> Result<bool, DataCodecError> {
    match value.trim() {
        "0" => Ok(false),
        "1" => Ok(true),
        other => Err(DataCodecError::BadValue {
            name: name.to_owned(),
            value: other.to_owned(),
        }),
    }
}

impl FromStr for DataCodec {
    type Err = DataCodecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split(';');
        let name = parts.next().unwrap_or_default().trim();
        if !name.eq_ignore_ascii_case(CODEC_NAME) {
            return Err(DataCodecError::WrongCodec(name.to_owned()));
        }
        let mut reliable = None;
        let mut ordered = None;
        for part in parts {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let Some((key, value)) = part.split_once('=') else {
                return Err(DataCodecError::MissingValue(part.to_owned()));
            };
            let key = key.trim();
            let slot = if key.eq_ignore_ascii_case("reliable") {
                &mut reliable
            } else if key.eq_ignore_ascii_case("ordered") {
                &mut ordered
            } else {
                continue;
            };
            if slot.is_some() {
                return Err(DataCodecError::Duplicate(key.to_owned()));
            }
            *slot = Some(parse_flag(key, value)?);
        }
        Ok(Self {
            reliable: reliable.unwrap_or(false),
            ordered: ordered.unwrap_or(false),
        })
    }
}

/// One data message: raw bytes and the delivery they need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataMessage {
    /// The payload.
    pub bytes: Bytes,
    /// Must arrive.
    pub reliable: bool,
    /// Delivered in send order.
    pub ordered: bool,
}

impl DataMessage {
    /// A message with `codec`'s flags.
    pub fn new(bytes: Bytes, codec: DataCodec) -> Self {
        Self {
            bytes,
            reliable: codec.reliable,
            ordered: codec.ordered,
        }
    }

    /// The flags as a codec.
    pub fn codec(&self) -> DataCodec {
        DataCodec {
            reliable: self.reliable,
            ordered: self.ordered,
        }
    }

    /// The transport the SDK uses for this message.
    pub fn transport(&self) -> DataTransport {
        self.codec().transport()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn default_is_unreliable_unordered_datagram() {
        let c = DataCodec::default();
        assert_eq!(c, DataCodec::UNRELIABLE);
        assert_eq!(c.transport(), DataTransport::Datagram);
    }

    #[test]
    fn transport_mapping() {
        let t = |reliable, ordered| DataCodec { reliable, ordered }.transport();
        assert_eq!(t(true, true), DataTransport::OrderedStream);
        assert_eq!(t(true, false), DataTransport::StreamPerMessage);
        assert_eq!(t(false, true), DataTransport::Datagram);
        assert_eq!(t(false, false), DataTransport::Datagram);
        assert_eq!(
            DataCodec::RELIABLE_ORDERED.transport(),
            DataTransport::OrderedStream
        );
    }

    #[test]
    fn message_carries_flags() {
        let m = DataCodec::RELIABLE_ORDERED.message(Bytes::from_static(b"x"));
        assert_eq!(&m.bytes[..], b"x");
        assert!(m.reliable && m.ordered);
        assert_eq!(m.codec(), DataCodec::RELIABLE_ORDERED);
        assert_eq!(m.transport(), DataTransport::OrderedStream);
    }

    #[test]
    fn display_and_parse() {
        assert_eq!(
            DataCodec::RELIABLE_ORDERED.to_string(),
            "data;reliable=1;ordered=1"
        );
        assert_eq!(
            DataCodec::default().to_string(),
            "data;reliable=0;ordered=0"
        );
        assert_eq!("data".parse(), Ok(DataCodec::default()));
        assert_eq!(
            " DATA ; ordered=1 ; reliable = 1 ;".parse(),
            Ok(DataCodec::RELIABLE_ORDERED)
        );
        assert_eq!(
            "data;future=x;ordered=1".parse(),
            Ok(DataCodec {
                reliable: false,
                ordered: true
            })
        );
    }

    #[test]
    fn parse_errors() {
        let e = |s: &str| s.parse::<DataCodec>().unwrap_err();
        assert!(matches!(e("opus"), DataCodecError::WrongCodec(_)));
        assert!(matches!(e(""), DataCodecError::WrongCodec(_)));
        assert!(matches!(
            e("data;reliable"),
            DataCodecError::MissingValue(_)
        ));
        assert!(matches!(
            e("data;reliable=yes"),
            DataCodecError::BadValue { .. }
        ));
        assert!(matches!(
            e("data;ordered=1;ordered=0"),
            DataCodecError::Duplicate(_)
        ));
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(reliable: bool, ordered: bool) {
            let c = DataCodec { reliable, ordered };
            prop_assert_eq!(c.to_string().parse::<DataCodec>(), Ok(c));
        }

        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = s.parse::<DataCodec>();
        }
    }
}
