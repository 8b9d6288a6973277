//! The subscriber's side: received source messages and repair payloads in, restored source
//! messages out (PROTOCOL.md §16.5).

use super::FecError;
use super::code::{BlockSymbols, Codecs, read_symbol, restore_symbols};
use super::wire::{LENGTH_PREFIX, RepairHeader};
use bytes::Bytes;
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::HeaderView;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Limits and timing of a [`FecDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FecDecoderConfig {
    horizon: Duration,
    max_bytes: usize,
    max_messages: usize,
    max_blocks: usize,
}

impl Default for FecDecoderConfig {
    fn default() -> Self {
        Self {
            horizon: Duration::from_secs(1),
            max_bytes: 4 << 20,
            max_messages: 2048,
            max_blocks: 256,
        }
    }
}

impl FecDecoderConfig {
    /// How long a received source message waits for its block's repairs, and how long a block
    /// is remembered after its first repair arrived (to restore from later symbols, then to
    /// recognise late copies). Default 1 s; it should exceed the sender's FEC window plus the
    /// path's jitter, and need not exceed the reassembler's frame deadline by much.
    pub fn horizon(mut self, horizon: Duration) -> Self {
        self.horizon = horizon;
        self
    }

    /// Most bytes buffered (source messages and repair symbols); beyond it the oldest are
    /// forgotten. Default 4 MiB.
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Most source messages buffered; beyond it the oldest are forgotten. Default 2048.
    pub fn max_messages(mut self, count: usize) -> Self {
        self.max_messages = count;
        self
    }

    /// Most blocks remembered (waiting for symbols, or settled); beyond it the oldest are
    /// forgotten. Default 256.
    pub fn max_blocks(mut self, count: usize) -> Self {
        self.max_blocks = count;
        self
    }

    fn validate(&self) -> Result<(), FecError> {
        if self.horizon.is_zero() {
            return Err(FecError::Config("the horizon must be longer than 0"));
        }
        if self.max_bytes == 0 || self.max_messages == 0 || self.max_blocks == 0 {
            return Err(FecError::Config("the decoder's limits must be at least 1"));
        }
        Ok(())
    }
}

/// A source message restored from its block's symbols: the exact sealed bytes that were
/// sent, to be opened and reassembled as if it had arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// Its encoding (the protected one).
    pub global_encoding_id: GlobalEncodingId,
    /// Its sequence ID.
    pub sequence_id: u64,
    /// The sealed RTP3 message.
    pub message: Bytes,
}

/// Counters of a [`FecDecoder`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FecDecoderStats {
    /// Source messages taken (first copies).
    pub source_messages: u64,
    /// Repair payloads taken (first copies, consistent with their block).
    pub repair_messages: u64,
    /// Copies of source messages or repairs already held, or for a settled block.
    pub duplicates: u64,
    /// Source messages restored.
    pub restored: u64,
    /// Blocks all of whose source messages arrived (their repairs went unused).
    pub blocks_complete: u64,
    /// Blocks from which at least one source message was restored.
    pub blocks_restored: u64,
    /// Blocks forgotten (horizon or limits) while source messages were missing and too few
    /// symbols had arrived to restore them: the losses FEC could not repair.
    pub blocks_unrecoverable: u64,
    /// The source messages missing from those blocks.
    pub messages_unrecovered: u64,
    /// Blocks given up because their symbols disagreed ([`FecError::Inconsistent`],
    /// [`FecError::Corrupt`]).
    pub blocks_failed: u64,
    /// Source messages and unsettled blocks forgotten early for the memory limits.
    pub evicted: u64,
}

#[derive(Debug)]
struct Source {
    message: Bytes,
    at: Instant,
}

#[derive(Debug)]
struct Block {
    source_count: usize,
    repair_count: usize,
    symbol_len: usize,
    /// `repair_count` entries; emptied when the block settles.
    repairs: Vec<Option<Vec<u8>>>,
    /// When its first repair arrived.
    at: Instant,
    settled: bool,
    /// Which source messages arrived, bit `j` for sequence ID `first + j` (k <= 255), so
    /// the losses are counted right even after the sources themselves were forgotten.
    seen: [u64; 4],
}

impl Block {
    fn repair_bytes(&self) -> usize {
        self.repairs.iter().flatten().map(Vec::len).sum()
    }

    fn see(&mut self, index: usize) {
        if let Some(word) = self.seen.get_mut(index / 64) {
            *word |= 1 << (index % 64);
        }
    }

    fn seen_count(&self) -> usize {
        self.seen.iter().map(|w| w.count_ones() as usize).sum()
    }
}

#[derive(Debug, Default)]
struct Stream {
    sources: BTreeMap<u64, Source>,
    blocks: BTreeMap<u64, Block>,
}

#[derive(Debug, Clone, Copy)]
enum Item {
    Source(u64),
    Block(u64),
}

/// One thing held, in arrival order: the order of forgetting.
#[derive(Debug, Clone, Copy)]
struct Entry {
    at: Instant,
    stream: usize,
    item: Item,
}

/// Restores lost source messages of the encodings one FEC stream protects (PROTOCOL.md
/// §16): fed every received source message and every opened repair payload, it hands out a
/// restored message as soon as its block has enough symbols.
///
/// Sans-IO: it never reads a clock. It never panics on any input: a malformed repair is an
/// error, and restoration only hands out a message whose symbol decodes cleanly to an RTP3
/// message of the right encoding and sequence ID (the caller's AEAD open then authenticates
/// it). Memory is bounded by [`FecDecoderConfig`]'s limits.
#[derive(Debug)]
pub struct FecDecoder {
    config: FecDecoderConfig,
    protected: Vec<GlobalEncodingId>,
    streams: Vec<Stream>,
    timeline: VecDeque<Entry>,
    bytes: usize,
    messages: usize,
    blocks: usize,
    codecs: Codecs,
    scratch: Vec<u8>,
    stats: FecDecoderStats,
}

impl FecDecoder {
    /// A decoder for a FEC stream protecting the encodings `protected`. Fails on an invalid
    /// configuration or an empty list.
    pub fn new(
        config: FecDecoderConfig,
        protected: impl IntoIterator<Item = GlobalEncodingId>,
    ) -> Result<Self, FecError> {
        config.validate()?;
        let mut list: Vec<GlobalEncodingId> = Vec::new();
        for geid in protected {
            if !list.contains(&geid) {
                list.push(geid);
            }
        }
        if list.is_empty() {
            return Err(FecError::Config("no protected encoding"));
        }
        Ok(Self {
            config,
            streams: list.iter().map(|_| Stream::default()).collect(),
            protected: list,
            timeline: VecDeque::new(),
            bytes: 0,
            messages: 0,
            blocks: 0,
            codecs: Codecs::default(),
            scratch: Vec::new(),
            stats: FecDecoderStats::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &FecDecoderConfig {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> FecDecoderStats {
        self.stats
    }

    /// Bytes held (source messages and repair symbols).
    pub fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    /// Source messages held.
    pub fn buffered_messages(&self) -> usize {
        self.messages
    }

    /// Blocks remembered (waiting or settled).
    pub fn blocks(&self) -> usize {
        self.blocks
    }

    /// Takes one received source message of a protected encoding (the sealed bytes as they
    /// arrived, opened or not yet: see the run-loop contract), and hands `emit` what this
    /// completes.
    pub fn push_source(
        &mut self,
        message: Bytes,
        now: Instant,
        emit: &mut impl FnMut(Restored),
    ) -> Result<(), FecError> {
        let view = HeaderView::parse(&message)?;
        let geid = view.global_encoding_id();
        let sequence = view.sequence_id();
        let index = self.stream_index(geid)?;
        let Some(stream) = self.streams.get_mut(index) else {
            return Err(FecError::NotProtected(geid));
        };
        let block = covering(stream, sequence);
        let settled = block.is_some_and(|(_, b)| b.settled);
        if settled || stream.sources.contains_key(&sequence) {
            self.stats.duplicates += 1;
            return Ok(());
        }
        let first = block.map(|(first, _)| first);
        if let Some(f) = first
            && let Some(b) = stream.blocks.get_mut(&f)
        {
            b.see((sequence - f) as usize);
        }
        self.bytes += message.len();
        self.messages += 1;
        stream.sources.insert(sequence, Source { message, at: now });
        self.timeline.push_back(Entry {
            at: now,
            stream: index,
            item: Item::Source(sequence),
        });
        self.stats.source_messages += 1;
        let restored = match first {
            Some(first) => self.try_restore(index, first, emit),
            None => Ok(()),
        };
        self.enforce_limits();
        restored
    }

    /// Takes one repair payload (the plaintext of a FEC-encoding message, after it opened),
    /// and hands `emit` the source messages it restores.
    ///
    /// Errors: a malformed header ([`FecError::Varint`], [`FecError::Version`],
    /// [`FecError::BadHeader`]), an encoding not protected here, or a repair that disagrees
    /// with its block or overlaps another block ([`FecError::Inconsistent`]); a restoration
    /// that yields an invalid message ([`FecError::Corrupt`]) gives the block up.
    pub fn push_repair(
        &mut self,
        payload: &[u8],
        now: Instant,
        emit: &mut impl FnMut(Restored),
    ) -> Result<(), FecError> {
        let (header, symbol) = RepairHeader::parse(payload)?;
        let index = self.stream_index(header.protected)?;
        let first = header.first_sequence;
        let Some(stream) = self.streams.get_mut(index) else {
            return Err(FecError::NotProtected(header.protected));
        };
        let inconsistent = |what| FecError::Inconsistent {
            first_sequence: first,
            what,
        };
        if let Some(block) = stream.blocks.get_mut(&first) {
            if block.settled {
                self.stats.duplicates += 1;
                return Ok(());
            }
            if block.source_count != header.source_count
                || block.repair_count != header.repair_count
            {
                self.fail(index, first);
                return Err(inconsistent("source or repair count differs"));
            }
            if block.symbol_len != symbol.len() {
                self.fail(index, first);
                return Err(inconsistent("symbol length differs"));
            }
            match block.repairs.get_mut(header.repair_index) {
                Some(slot @ None) => *slot = Some(symbol.to_vec()),
                _ => {
                    self.stats.duplicates += 1;
                    return Ok(());
                }
            }
        } else {
            let end = first + header.source_count as u64;
            let overlaps = stream
                .blocks
                .range(..end)
                .next_back()
                .is_some_and(|(f, b)| f + b.source_count as u64 > first);
            if overlaps {
                return Err(inconsistent("it overlaps another block"));
            }
            let mut repairs = vec![None; header.repair_count];
            if let Some(slot) = repairs.get_mut(header.repair_index) {
                *slot = Some(symbol.to_vec());
            }
            let mut block = Block {
                source_count: header.source_count,
                repair_count: header.repair_count,
                symbol_len: symbol.len(),
                repairs,
                at: now,
                settled: false,
                seen: [0; 4],
            };
            for seq in stream.sources.range(first..end).map(|(s, _)| *s) {
                block.see((seq - first) as usize);
            }
            stream.blocks.insert(first, block);
            self.blocks += 1;
            self.timeline.push_back(Entry {
                at: now,
                stream: index,
                item: Item::Block(first),
            });
        }
        self.bytes += symbol.len();
        self.stats.repair_messages += 1;
        let restored = self.try_restore(index, first, emit);
        self.enforce_limits();
        restored
    }

    /// When the oldest thing held is to be forgotten (possibly early, never late).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timeline.front().map(|e| e.at + self.config.horizon)
    }

    /// Forgets what is older than the horizon at `now`, counting the blocks that could not be
    /// restored.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(entry) = self.timeline.front().copied() {
            if entry.at + self.config.horizon > now {
                break;
            }
            self.timeline.pop_front();
            self.forget(entry, false);
        }
    }

    /// The protected encoding restarted (its messages open under a new salt and number
    /// from 0 again): forgets its source messages and blocks, which would otherwise make the
    /// new ones look like copies. Fails for an encoding not protected here.
    pub fn restart(&mut self, protected: GlobalEncodingId) -> Result<(), FecError> {
        let index = self.stream_index(protected)?;
        if let Some(stream) = self.streams.get_mut(index) {
            let old = std::mem::take(stream);
            for source in old.sources.values() {
                self.bytes = self.bytes.saturating_sub(source.message.len());
                self.messages = self.messages.saturating_sub(1);
            }
            for block in old.blocks.values() {
                self.bytes = self.bytes.saturating_sub(block.repair_bytes());
                self.blocks = self.blocks.saturating_sub(1);
            }
        }
        Ok(())
    }

    fn stream_index(&self, geid: GlobalEncodingId) -> Result<usize, FecError> {
        self.protected
            .iter()
            .position(|g| *g == geid)
            .ok_or(FecError::NotProtected(geid))
    }

    /// Restores what block `first` of stream `index` can restore, if anything, and settles it
    /// when it is complete or restored.
    fn try_restore(
        &mut self,
        index: usize,
        first: u64,
        emit: &mut impl FnMut(Restored),
    ) -> Result<(), FecError> {
        let Self {
            streams,
            protected,
            codecs,
            scratch,
            ..
        } = self;
        let (Some(stream), Some(geid)) = (streams.get(index), protected.get(index).copied()) else {
            return Ok(());
        };
        let Some(block) = stream.blocks.get(&first).filter(|b| !b.settled) else {
            return Ok(());
        };
        let k = block.source_count;
        let sources: Vec<Option<&[u8]>> = (first..first + k as u64)
            .map(|seq| stream.sources.get(&seq).map(|s| s.message.as_ref()))
            .collect();
        let present = sources.iter().flatten().count();
        let repairs: Vec<Option<&[u8]>> = block.repairs.iter().map(|r| r.as_deref()).collect();
        if present == k {
            self.stats.blocks_complete += 1;
            self.settle(index, first);
            return Ok(());
        }
        if present + repairs.iter().flatten().count() < k {
            return Ok(());
        }
        let result = (|| {
            if sources
                .iter()
                .flatten()
                .any(|s| s.len() + LENGTH_PREFIX > block.symbol_len)
            {
                return Err(FecError::Inconsistent {
                    first_sequence: first,
                    what: "a source message is longer than the symbols allow",
                });
            }
            let symbols = BlockSymbols {
                sources: &sources,
                repairs: &repairs,
                symbol_len: block.symbol_len,
            };
            let mut out = Vec::new();
            for (j, symbol) in restore_symbols(codecs, scratch, &symbols)? {
                let sequence_id = first + j as u64;
                let corrupt = |what| FecError::Corrupt { sequence_id, what };
                let message = read_symbol(&symbol).map_err(corrupt)?;
                let view = HeaderView::parse(message)
                    .map_err(|_| corrupt("the symbol is not an RTP3 message"))?;
                if view.global_encoding_id() != geid || view.sequence_id() != sequence_id {
                    return Err(corrupt("the message has another encoding or sequence ID"));
                }
                out.push(Restored {
                    global_encoding_id: geid,
                    sequence_id,
                    message: Bytes::copy_from_slice(message),
                });
            }
            Ok(out)
        })();
        match result {
            Ok(restored) => {
                self.stats.blocks_restored += 1;
                self.stats.restored += restored.len() as u64;
                self.settle(index, first);
                restored.into_iter().for_each(emit);
                Ok(())
            }
            Err(e) => {
                self.fail(index, first);
                Err(e)
            }
        }
    }

    /// Gives block `first` up after an inconsistency: settled, nothing restored.
    fn fail(&mut self, index: usize, first: u64) {
        self.stats.blocks_failed += 1;
        self.settle(index, first);
    }

    /// Marks block `first` settled: its repairs and its source messages are dropped; the
    /// block stays until its horizon to recognise late copies.
    fn settle(&mut self, index: usize, first: u64) {
        let Some(stream) = self.streams.get_mut(index) else {
            return;
        };
        let Some(block) = stream.blocks.get_mut(&first) else {
            return;
        };
        self.bytes = self.bytes.saturating_sub(block.repair_bytes());
        block.repairs = Vec::new();
        block.settled = true;
        let end = first + block.source_count as u64;
        let covered: Vec<u64> = stream.sources.range(first..end).map(|(s, _)| *s).collect();
        for seq in covered {
            if let Some(source) = stream.sources.remove(&seq) {
                self.bytes = self.bytes.saturating_sub(source.message.len());
                self.messages = self.messages.saturating_sub(1);
            }
        }
    }

    /// Forgets what `entry` stands for, if it is still held (it may have been settled or
    /// replaced since).
    fn forget(&mut self, entry: Entry, evicted: bool) {
        let Some(stream) = self.streams.get_mut(entry.stream) else {
            return;
        };
        match entry.item {
            Item::Source(seq) => {
                if stream.sources.get(&seq).is_some_and(|s| s.at == entry.at)
                    && let Some(source) = stream.sources.remove(&seq)
                {
                    self.bytes = self.bytes.saturating_sub(source.message.len());
                    self.messages = self.messages.saturating_sub(1);
                    self.stats.evicted += u64::from(evicted);
                }
            }
            Item::Block(first) => {
                if stream.blocks.get(&first).is_none_or(|b| b.at != entry.at) {
                    return;
                }
                let Some(block) = stream.blocks.remove(&first) else {
                    return;
                };
                self.blocks = self.blocks.saturating_sub(1);
                if !block.settled {
                    self.bytes = self.bytes.saturating_sub(block.repair_bytes());
                    let missing = block.source_count.saturating_sub(block.seen_count());
                    self.stats.blocks_unrecoverable += 1;
                    self.stats.messages_unrecovered += missing as u64;
                    self.stats.evicted += u64::from(evicted);
                }
            }
        }
    }

    /// Whether `entry` still stands for something held.
    fn is_live(&self, entry: &Entry) -> bool {
        self.streams
            .get(entry.stream)
            .is_some_and(|s| match entry.item {
                Item::Source(seq) => s.sources.get(&seq).is_some_and(|x| x.at == entry.at),
                Item::Block(first) => s.blocks.get(&first).is_some_and(|b| b.at == entry.at),
            })
    }

    /// Forgets the oldest things until the limits hold, and drops stale timeline entries when
    /// they outnumber what is held.
    fn enforce_limits(&mut self) {
        let c = self.config;
        while self.bytes > c.max_bytes
            || self.messages > c.max_messages
            || self.blocks > c.max_blocks
        {
            let Some(entry) = self.timeline.pop_front() else {
                break;
            };
            self.forget(entry, true);
        }
        let bound = 2 * (c.max_messages + c.max_blocks) + 64;
        if self.timeline.len() > bound {
            let timeline = std::mem::take(&mut self.timeline);
            self.timeline = timeline.into_iter().filter(|e| self.is_live(e)).collect();
        }
    }
}

/// The block of `stream` whose range holds `sequence`, if one is known.
fn covering(stream: &Stream, sequence: u64) -> Option<(u64, &Block)> {
    stream
        .blocks
        .range(..=sequence)
        .next_back()
        .filter(|(first, b)| sequence < *first + b.source_count as u64)
        .map(|(first, b)| (*first, b))
}
