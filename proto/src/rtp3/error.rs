//! Errors of RTP3 message parsing, building, sealing and opening.

use crate::crypto::CryptoError;
use crate::tlv::TlvError;
use crate::varint::VarintError;
use thiserror::Error;

/// Why an RTP3 message could not be parsed, built, sealed or opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Rtp3Error {
    /// The TLV structure is malformed.
    #[error("malformed field: {0}")]
    Tlv(#[from] TlvError),
    /// The first field is not a GlobalEncodingID.
    #[error("the first field must be the GlobalEncodingID (tag 1), found tag {0}")]
    MissingGlobalEncodingId(u64),
    /// A header of the ordered group came after a later one (draft §5 order rule).
    #[error("header {} (tag {tag}) is out of order: it must come before {}", super::tag::name(*tag), super::tag::name(*after))]
    OutOfOrder {
        /// The misplaced tag.
        tag: u64,
        /// The tag it came after.
        after: u64,
    },
    /// A known header appears twice.
    #[error("header {name} (tag {0}) appears twice", name = super::tag::name(*.0))]
    Duplicate(u64),
    /// A value is outside its range.
    #[error("header {} (tag {tag}) has value {value}, above the maximum {max}", super::tag::name(*tag))]
    OutOfRange {
        /// The header's tag.
        tag: u64,
        /// The value found.
        value: u64,
        /// The largest allowed value.
        max: u64,
    },
    /// A frame chunk header whose index is not below its count.
    #[error("frame chunk {index} of {count} is invalid")]
    BadChunk {
        /// The chunk index.
        index: u64,
        /// The chunk count.
        count: u64,
    },
    /// The message has no sequence ID.
    #[error("the sequence ID header (tag 6) is required")]
    MissingSequenceId,
    /// The message ended without a payload field.
    #[error("the message has no payload field (tag 0)")]
    MissingPayload,
    /// Bytes follow the payload field.
    #[error("{0} bytes follow the payload field")]
    TrailingBytes(usize),
    /// A value could not be encoded.
    #[error("cannot encode: {0}")]
    Encode(#[from] VarintError),
    /// The key belongs to another encoding than the message.
    #[error("the key is for another GlobalEncodingID than the message")]
    WrongKey,
    /// The message carries a salt other than the sealer's.
    #[error("the message's salt header differs from the salt it is sealed with")]
    SaltMismatch,
    /// No salt is known yet for this encoding (none of its messages carried one).
    #[error("no salt known yet for this encoding")]
    SaltUnknown,
    /// Sealing or opening failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}
