//! The symbol layout and the Reed-Solomon code of PROTOCOL.md §16.3, over the
//! `reed-solomon-erasure` crate's GF(2^8) systematic Vandermonde code.
//!
//! That crate builds the generator matrix as `V · V_top⁻¹` with `V[i][j] = i^j` (i as a field
//! element, 0^0 = 1) and the field GF(2^8) mod x^8 + x^4 + x^3 + x^2 + 1: exactly the code
//! PROTOCOL.md states (equivalently, repair `r` is the block's interpolating polynomial at
//! the point `k + r`), so the crate is the implementation and the vectors pin it.

use super::FecError;
use super::wire::{LENGTH_PREFIX, MAX_SOURCE_LEN, RepairHeader};
use newmedia_proto::ids::GlobalEncodingId;
use reed_solomon_erasure::galois_8::ReedSolomon;
use std::collections::VecDeque;

/// Codecs kept per encoder or decoder: building one inverts a k × k matrix, and the decoder's
/// (k, m) pairs come from the network, so the cache is small and least-recently-used.
const CODEC_CACHE: usize = 4;

/// A small LRU cache of Reed-Solomon codecs by (k, m).
#[derive(Debug, Default)]
pub(super) struct Codecs {
    entries: VecDeque<(usize, usize, ReedSolomon)>,
}

impl Codecs {
    /// The codec for `k` source and `m` repair symbols (checked by the caller's header).
    pub(super) fn get(&mut self, k: usize, m: usize) -> Result<&ReedSolomon, FecError> {
        if let Some(pos) = self.entries.iter().position(|e| e.0 == k && e.1 == m) {
            if let Some(entry) = self.entries.remove(pos) {
                self.entries.push_back(entry);
            }
        } else {
            let codec = ReedSolomon::new(k, m).map_err(FecError::code)?;
            if self.entries.len() >= CODEC_CACHE {
                self.entries.pop_front();
            }
            self.entries.push_back((k, m, codec));
        }
        self.entries
            .back()
            .map(|e| &e.2)
            .ok_or(FecError::Code("codec cache"))
    }
}

/// Writes the symbol of `message` into `out` (the symbol length): the message's length as
/// 16 bits big-endian, the message, zeros. `out` must hold at least the prefix and message.
fn write_symbol(message: &[u8], out: &mut [u8]) {
    let len = u16::try_from(message.len()).unwrap_or(u16::MAX);
    let (prefix, rest) = out.split_at_mut(LENGTH_PREFIX.min(out.len()));
    prefix.copy_from_slice(len.to_be_bytes().get(..prefix.len()).unwrap_or_default());
    let (body, padding) = rest.split_at_mut(message.len().min(rest.len()));
    body.copy_from_slice(message.get(..body.len()).unwrap_or_default());
    padding.fill(0);
}

/// The message a restored symbol carries: its length prefix must fit the symbol and every
/// padding byte must be zero.
pub(super) fn read_symbol(symbol: &[u8]) -> Result<&[u8], &'static str> {
    let (prefix, rest) = symbol
        .split_first_chunk::<LENGTH_PREFIX>()
        .ok_or("the symbol is shorter than its length prefix")?;
    let len = usize::from(u16::from_be_bytes(*prefix));
    if len == 0 {
        return Err("the length prefix is 0");
    }
    let (message, padding) = rest
        .split_at_checked(len)
        .ok_or("the length prefix exceeds the symbol")?;
    if padding.iter().any(|b| *b != 0) {
        return Err("the padding is not zero");
    }
    Ok(message)
}

/// Builds the repair payloads of one block: `sources` are the block's source messages (the
/// sealed RTP3 messages with sequence IDs `first_sequence ..`, as sent), `repair_count` is
/// `m`. Returns the `m` payloads, repair index 0 first, each `header | repair symbol`
/// (PROTOCOL.md §16.2-16.3).
pub fn encode_block(
    protected: GlobalEncodingId,
    first_sequence: u64,
    sources: &[&[u8]],
    repair_count: usize,
) -> Result<Vec<Vec<u8>>, FecError> {
    let mut codecs = Codecs::default();
    let mut scratch = Vec::new();
    encode_block_with(
        &mut codecs,
        &mut scratch,
        protected,
        first_sequence,
        sources,
        repair_count,
    )
}

/// [`encode_block`] with a reused codec cache and symbol buffer.
pub(super) fn encode_block_with<S: AsRef<[u8]>>(
    codecs: &mut Codecs,
    scratch: &mut Vec<u8>,
    protected: GlobalEncodingId,
    first_sequence: u64,
    sources: &[S],
    repair_count: usize,
) -> Result<Vec<Vec<u8>>, FecError> {
    let header = |repair_index| RepairHeader {
        protected,
        first_sequence,
        source_count: sources.len(),
        repair_count,
        repair_index,
    };
    header(0).validate()?;
    let longest = sources.iter().map(|s| s.as_ref().len()).max().unwrap_or(0);
    if longest > MAX_SOURCE_LEN {
        return Err(FecError::TooLarge {
            len: longest,
            max: MAX_SOURCE_LEN,
        });
    }
    if sources.iter().any(|s| s.as_ref().is_empty()) {
        return Err(FecError::Code("an empty source message"));
    }
    let symbol_len = LENGTH_PREFIX + longest;
    scratch.clear();
    scratch.resize(sources.len() * symbol_len, 0);
    for (symbol, source) in scratch.chunks_exact_mut(symbol_len).zip(sources) {
        write_symbol(source.as_ref(), symbol);
    }
    let mut payloads = Vec::with_capacity(repair_count);
    let mut starts = Vec::with_capacity(repair_count);
    for r in 0..repair_count {
        let h = header(r);
        let mut payload = Vec::with_capacity(h.encoded_len() + symbol_len);
        h.write(&mut payload)?;
        starts.push(payload.len());
        payload.resize(payload.len() + symbol_len, 0);
        payloads.push(payload);
    }
    let data: Vec<&[u8]> = scratch.chunks_exact(symbol_len).collect();
    let mut parity: Vec<&mut [u8]> = payloads
        .iter_mut()
        .zip(&starts)
        .map(|(p, start)| p.get_mut(*start..).unwrap_or_default())
        .collect();
    codecs
        .get(sources.len(), repair_count)?
        .encode_sep(&data, &mut parity)
        .map_err(FecError::code)?;
    Ok(payloads)
}

/// What a block holds when it is restored: its source messages and repair symbols by index,
/// `None` where missing.
pub(super) struct BlockSymbols<'a> {
    /// `k` entries: the received (or already restored) source messages.
    pub(super) sources: &'a [Option<&'a [u8]>],
    /// `m` entries: the received repair symbols, all `symbol_len` long.
    pub(super) repairs: &'a [Option<&'a [u8]>],
    /// The symbol length `S` (from the repairs).
    pub(super) symbol_len: usize,
}

/// Restores the missing source symbols of a block that has at least `k` symbols and returns
/// them as `(source index, symbol)`, lowest index first. The caller checks each symbol with
/// [`read_symbol`].
pub(super) fn restore_symbols(
    codecs: &mut Codecs,
    scratch: &mut Vec<u8>,
    block: &BlockSymbols<'_>,
) -> Result<Vec<(usize, Vec<u8>)>, FecError> {
    let k = block.sources.len();
    let m = block.repairs.len();
    let s = block.symbol_len;
    scratch.clear();
    scratch.resize((k + m) * s, 0);
    let mut present = Vec::with_capacity(k + m);
    for (slot, source) in scratch.chunks_exact_mut(s).zip(block.sources) {
        if let Some(message) = source {
            write_symbol(message, slot);
        }
        present.push(source.is_some());
    }
    for (slot, repair) in scratch.chunks_exact_mut(s).skip(k).zip(block.repairs) {
        if let Some(symbol) = repair {
            // The decoder keeps only repairs of the block's symbol length; copy what fits.
            let n = symbol.len().min(s);
            if let (Some(dst), Some(src)) = (slot.get_mut(..n), symbol.get(..n)) {
                dst.copy_from_slice(src);
            }
        }
        present.push(repair.is_some());
    }
    let mut shards: Vec<(&mut [u8], bool)> = scratch.chunks_exact_mut(s).zip(present).collect();
    codecs
        .get(k, m)?
        .reconstruct_data(&mut shards)
        .map_err(FecError::code)?;
    let restored = block
        .sources
        .iter()
        .zip(&shards)
        .enumerate()
        .filter(|(_, (source, _))| source.is_none())
        .map(|(j, (_, (symbol, _)))| (j, symbol.to_vec()))
        .collect();
    Ok(restored)
}
