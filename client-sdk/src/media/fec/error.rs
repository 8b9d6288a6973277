//! The one error type of the FEC module.

use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::Rtp3Error;
use newmedia_proto::varint::VarintError;
use thiserror::Error;

/// Why a FEC operation failed. Every error leaves the encoder or decoder usable: the input
/// that caused it is ignored (and, for the decoder, the block it concerned is given up when the
/// error says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FecError {
    /// A configuration value is out of range (the text says which).
    #[error("invalid FEC configuration: {0}")]
    Config(&'static str),
    /// A source message is not a valid RTP3 message.
    #[error("not an RTP3 message: {0}")]
    Rtp3(#[from] Rtp3Error),
    /// A source message or repair is for an encoding this FEC stream does not protect.
    #[error("encoding {0} is not protected by this FEC stream")]
    NotProtected(GlobalEncodingId),
    /// A source message is too long to be protected within the configured repair payload
    /// size. It is not protected (it was sent all the same).
    #[error("a source message of {len} bytes is longer than the {max} bytes a repair can protect")]
    TooLarge {
        /// The message's length.
        len: usize,
        /// The longest message the configuration protects.
        max: usize,
    },
    /// A source message was pushed to the encoder after a later one of its encoding.
    #[error("sequence ID {sequence_id} comes after {next} was expected; not protected")]
    OutOfOrder {
        /// The message's sequence ID.
        sequence_id: u64,
        /// The lowest sequence ID the encoder accepts next.
        next: u64,
    },
    /// A repair payload ends inside its header, or a header varint is not canonical.
    #[error("repair header: {0}")]
    Varint(VarintError),
    /// A repair payload of a version this implementation does not know.
    #[error("unknown flex-fec-rs version {0}")]
    Version(u8),
    /// A repair header field is out of range (the text says which).
    #[error("invalid repair header: {0}")]
    BadHeader(&'static str),
    /// A repair disagrees with earlier repairs or with received source messages of the same
    /// block (source count, repair count, symbol length, or a source longer than the
    /// symbol). The decoder gives the block up.
    #[error("block at sequence ID {first_sequence} is inconsistent: {what}")]
    Inconsistent {
        /// The block's first sequence ID.
        first_sequence: u64,
        /// What disagreed.
        what: &'static str,
    },
    /// A restored symbol does not decode to the message it stands for (bad length prefix,
    /// non-zero padding, not an RTP3 message of the expected encoding and sequence ID). The
    /// decoder gives the block up and restores nothing from it.
    #[error("restoring sequence ID {sequence_id} gave an invalid message: {what}")]
    Corrupt {
        /// The sequence ID being restored.
        sequence_id: u64,
        /// What was wrong.
        what: &'static str,
    },
    /// The Reed-Solomon code refused its input (the text says why). Cannot happen with
    /// checked headers; reported rather than trusted.
    #[error("Reed-Solomon: {0}")]
    Code(&'static str),
}

impl FecError {
    /// Maps the Reed-Solomon crate's error to ours.
    pub(super) fn code(e: reed_solomon_erasure::Error) -> Self {
        use reed_solomon_erasure::Error as E;
        Self::Code(match e {
            E::TooFewShards => "too few shards",
            E::TooManyShards => "too many shards",
            E::TooFewDataShards => "too few data shards",
            E::TooManyDataShards => "too many data shards",
            E::TooFewParityShards => "too few parity shards",
            E::TooManyParityShards => "too many parity shards",
            E::TooFewBufferShards => "too few buffer shards",
            E::TooManyBufferShards => "too many buffer shards",
            E::IncorrectShardSize => "shards of different sizes",
            E::TooFewShardsPresent => "too few shards present",
            E::EmptyShard => "empty shard",
            E::InvalidShardFlags => "invalid shard flags",
            E::InvalidIndex => "invalid index",
        })
    }
}
