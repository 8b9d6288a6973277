//! The repair payload header (PROTOCOL.md §16.2) and the constants of the scheme.

use super::FecError;
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::varint::{self, Reader};
use std::ops::Range;

/// The `codecName` of a FEC stream in signaling (draft §8.4).
pub const CODEC_NAME: &str = "flex-fec-rs";
/// The version byte that starts every repair payload.
pub const VERSION: u8 = 1;
/// Most symbols (source plus repair) in one block: the size of GF(2^8).
pub const MAX_SYMBOLS: usize = 256;
/// Most source messages in one block (a block has at least one repair).
pub const MAX_SOURCE_COUNT: usize = MAX_SYMBOLS - 1;
/// Bytes of the length prefix in front of each source message in its symbol.
pub const LENGTH_PREFIX: usize = 2;
/// The longest source message a symbol can carry (the length prefix is 16 bits).
pub const MAX_SOURCE_LEN: usize = u16::MAX as usize;
/// The longest repair header: version, GlobalEncodingID, an 8-byte first sequence ID and
/// three 2-byte counts.
pub const MAX_REPAIR_HEADER_LEN: usize = 1 + 8 + 8 + 2 + 2 + 2;
/// Bytes a repair payload adds to the longest source message of its block, at most: the
/// header and the length prefix.
pub const MAX_REPAIR_OVERHEAD: usize = MAX_REPAIR_HEADER_LEN + LENGTH_PREFIX;
/// The shortest symbol: the length prefix and one byte.
pub const MIN_SYMBOL_LEN: usize = LENGTH_PREFIX + 1;
/// The longest symbol: the length prefix and the longest source message.
pub const MAX_SYMBOL_LEN: usize = LENGTH_PREFIX + MAX_SOURCE_LEN;

/// The header at the start of every repair payload (PROTOCOL.md §16.2). The repair symbol
/// follows it and runs to the end of the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RepairHeader {
    /// The GlobalEncodingID of the encoding whose messages the block protects.
    pub protected: GlobalEncodingId,
    /// The sequence ID of the block's first source message.
    pub first_sequence: u64,
    /// `k`: the block's source messages, sequence IDs `first_sequence ..
    /// first_sequence + k`, 1 to 255.
    pub source_count: usize,
    /// `m`: the block's repair messages, at least 1, `k + m <= 256`.
    pub repair_count: usize,
    /// `r`: which of the `m` repairs this is, `r < m`.
    pub repair_index: usize,
}

impl RepairHeader {
    /// The sequence IDs the block protects.
    pub fn sequences(&self) -> Range<u64> {
        self.first_sequence..self.first_sequence + self.source_count as u64
    }

    /// Checks the ranges of PROTOCOL.md §16.2.
    pub fn validate(&self) -> Result<(), FecError> {
        let bad = |what| Err(FecError::BadHeader(what));
        if self.source_count == 0 {
            return bad("the source count is 0");
        }
        if self.repair_count == 0 {
            return bad("the repair count is 0");
        }
        if self.source_count + self.repair_count > MAX_SYMBOLS {
            return bad("source count + repair count exceeds 256");
        }
        if self.repair_index >= self.repair_count {
            return bad("the repair index is not below the repair count");
        }
        if self.first_sequence > varint::MAX - (self.source_count as u64 - 1) {
            return bad("the block's last sequence ID exceeds 2^62-1");
        }
        Ok(())
    }

    /// Bytes the header takes on the wire.
    pub fn encoded_len(&self) -> usize {
        let len = |v: u64| varint::encoded_len(v).unwrap_or(8);
        1 + 8
            + len(self.first_sequence)
            + len(self.source_count as u64)
            + len(self.repair_count as u64)
            + len(self.repair_index as u64)
    }

    /// Appends the header to `out` after checking it.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), FecError> {
        self.validate()?;
        out.push(VERSION);
        out.extend_from_slice(&self.protected.to_bytes());
        for v in [
            self.first_sequence,
            self.source_count as u64,
            self.repair_count as u64,
            self.repair_index as u64,
        ] {
            varint::write(v, out).map_err(|_| FecError::BadHeader("value above 2^62-1"))?;
        }
        Ok(())
    }

    /// Parses a repair payload into its header and its repair symbol, checking every rule of
    /// PROTOCOL.md §16.2 (version, canonical varints, ranges, symbol length).
    pub fn parse(payload: &[u8]) -> Result<(Self, &[u8]), FecError> {
        let mut r = Reader::new(payload);
        let version = r.bytes(1).map_err(FecError::Varint)?;
        if version != [VERSION] {
            return Err(FecError::Version(version.first().copied().unwrap_or(0)));
        }
        let geid: [u8; 8] = r
            .bytes(8)
            .map_err(FecError::Varint)?
            .try_into()
            .map_err(|_| FecError::BadHeader("GlobalEncodingID"))?;
        let first_sequence = r.varint().map_err(FecError::Varint)?;
        let mut count = |max: u64| -> Result<usize, FecError> {
            let v = r.varint().map_err(FecError::Varint)?;
            if v > max {
                return Err(FecError::BadHeader("a count exceeds 256"));
            }
            usize::try_from(v).map_err(|_| FecError::BadHeader("a count exceeds 256"))
        };
        let source_count = count(MAX_SYMBOLS as u64)?;
        let repair_count = count(MAX_SYMBOLS as u64)?;
        let repair_index = count(MAX_SYMBOLS as u64)?;
        let header = Self {
            protected: GlobalEncodingId::from_bytes(geid),
            first_sequence,
            source_count,
            repair_count,
            repair_index,
        };
        header.validate()?;
        let symbol = r.remaining();
        if symbol.len() < MIN_SYMBOL_LEN {
            return Err(FecError::BadHeader(
                "the repair symbol is shorter than 3 bytes",
            ));
        }
        if symbol.len() > MAX_SYMBOL_LEN {
            return Err(FecError::BadHeader(
                "the repair symbol is longer than 65537 bytes",
            ));
        }
        Ok((header, symbol))
    }
}
