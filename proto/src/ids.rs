//! GlobalEncodingID and GlobalMessageID: the 64-bit hashes the SFU routes and caches by.
//!
//! Both are XXH3-64 (seed 0) over a fixed byte layout of big-endian `u64`s behind an 8-byte
//! ASCII label (see PROTOCOL.md, "Identifiers"):
//!
//! - GlobalEncodingID = XXH3-64(`"NM-GEID1"` | conferenceID | endpointID | sourceID | encodingID)
//! - GlobalMessageID  = XXH3-64(`"NM-GMID1"` | GlobalEncodingID | sequenceID)
//!
//! The message ID hashes the encoding ID's hash rather than the four IDs again so that an SFU,
//! which sees only GlobalEncodingID and sequence ID in most messages, can compute it too.

use std::fmt;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Label in front of the GlobalEncodingID hash input.
pub const GEID_LABEL: &[u8; 8] = b"NM-GEID1";
/// Label in front of the GlobalMessageID hash input.
pub const GMID_LABEL: &[u8; 8] = b"NM-GMID1";
/// XXH3 seed for both hashes.
pub const HASH_SEED: u64 = 0;

/// 64-bit identifier of one encoding of one source of one endpoint in one conference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GlobalEncodingId(pub u64);

/// 64-bit identifier of one message (one sequence ID) of one encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GlobalMessageId(pub u64);

impl GlobalEncodingId {
    /// Hashes the four IDs that name an encoding.
    pub fn derive(conference_id: u64, endpoint_id: u64, source_id: u64, encoding_id: u64) -> Self {
        let mut input = [0u8; 40];
        let parts = [conference_id, endpoint_id, source_id, encoding_id];
        input[..8].copy_from_slice(GEID_LABEL);
        for (chunk, part) in input[8..].chunks_exact_mut(8).zip(parts) {
            chunk.copy_from_slice(&part.to_be_bytes());
        }
        Self(xxh3_64_with_seed(&input, HASH_SEED))
    }

    /// The big-endian bytes as carried on the wire.
    pub fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// From the big-endian bytes carried on the wire.
    pub fn from_bytes(bytes: [u8; 8]) -> Self {
        Self(u64::from_be_bytes(bytes))
    }

    /// The ID of message `sequence_id` of this encoding.
    pub fn message_id(self, sequence_id: u64) -> GlobalMessageId {
        GlobalMessageId::derive(self, sequence_id)
    }
}

impl GlobalMessageId {
    /// Hashes an encoding's ID with a sequence ID.
    pub fn derive(encoding: GlobalEncodingId, sequence_id: u64) -> Self {
        let mut input = [0u8; 24];
        input[..8].copy_from_slice(GMID_LABEL);
        input[8..16].copy_from_slice(&encoding.0.to_be_bytes());
        input[16..].copy_from_slice(&sequence_id.to_be_bytes());
        Self(xxh3_64_with_seed(&input, HASH_SEED))
    }

    /// The big-endian bytes as carried on the wire.
    pub fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// From the big-endian bytes carried on the wire.
    pub fn from_bytes(bytes: [u8; 8]) -> Self {
        Self(u64::from_be_bytes(bytes))
    }
}

impl fmt::Display for GlobalEncodingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Display for GlobalMessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_differ_by_every_component() {
        let base = GlobalEncodingId::derive(1, 2, 3, 4);
        assert_ne!(base, GlobalEncodingId::derive(2, 2, 3, 4));
        assert_ne!(base, GlobalEncodingId::derive(1, 3, 3, 4));
        assert_ne!(base, GlobalEncodingId::derive(1, 2, 4, 4));
        assert_ne!(base, GlobalEncodingId::derive(1, 2, 3, 5));
        assert_ne!(base.message_id(0), base.message_id(1));
        assert_eq!(GlobalEncodingId::from_bytes(base.to_bytes()), base);
    }
}
