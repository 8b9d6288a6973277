//! The publisher's side: sealed source messages in, repair payloads out (PROTOCOL.md §16.4).

use super::FecError;
use super::code::{Codecs, encode_block_with};
use super::wire::{
    MAX_REPAIR_OVERHEAD, MAX_SOURCE_COUNT, MAX_SOURCE_LEN, MAX_SYMBOLS, RepairHeader,
};
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::HeaderView;
use std::time::{Duration, Instant};

/// Settings of a [`FecEncoder`]: the block rule of PROTOCOL.md §16.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FecEncoderConfig {
    max_source_messages: usize,
    window: Duration,
    overhead_percent: u32,
    min_repair_messages: usize,
    max_repair_payload: usize,
}

impl Default for FecEncoderConfig {
    fn default() -> Self {
        Self {
            max_source_messages: 20,
            window: Duration::from_millis(200),
            overhead_percent: 20,
            min_repair_messages: 1,
            max_repair_payload: MAX_SOURCE_LEN + MAX_REPAIR_OVERHEAD,
        }
    }
}

impl FecEncoderConfig {
    /// `k`, the most source messages in one block: a block closes when it has this many.
    /// Default 20; 1 to 255 (with the repairs at most 256 symbols).
    pub fn max_source_messages(mut self, count: usize) -> Self {
        self.max_source_messages = count;
        self
    }

    /// The FEC time window: a block closes this long after its first message at the latest
    /// (when the next message is pushed or at [`FecEncoder::handle_timeout`]), so repairs
    /// never lag their first source by more. Default 200 ms; the proposal's
    /// `fecRepairWindow` sets it ([`FecEncoderConfig::window_ms`]).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// [`FecEncoderConfig::window`] in milliseconds, as `fecRepairWindow` gives it.
    pub fn window_ms(self, ms: u32) -> Self {
        self.window(Duration::from_millis(ms.into()))
    }

    /// Repair messages per block as a percentage of its source messages, rounded up:
    /// `m = max(min_repair_messages, ceil(k × percent / 100))`. Default 20 (a block of 20
    /// gets 4 repairs and survives any 4 losses among its 24 messages).
    pub fn overhead_percent(mut self, percent: u32) -> Self {
        self.overhead_percent = percent;
        self
    }

    /// The fewest repair messages per block, whatever its size. Default 1.
    pub fn min_repair_messages(mut self, count: usize) -> Self {
        self.min_repair_messages = count;
        self
    }

    /// The longest repair payload in bytes (what fits one message of the FEC encoding): a
    /// source message longer than this minus [`MAX_REPAIR_OVERHEAD`] is refused
    /// ([`FecError::TooLarge`]), so no repair payload is longer. Default 65 560 (room for
    /// the longest source message a symbol can carry).
    pub fn max_repair_payload(mut self, bytes: usize) -> Self {
        self.max_repair_payload = bytes;
        self
    }

    /// The repair messages a block of `source_count` messages gets.
    pub fn repair_count(&self, source_count: usize) -> usize {
        let percent = self.overhead_percent as usize;
        let m = (source_count * percent).div_ceil(100);
        m.max(self.min_repair_messages)
    }

    /// The longest source message this configuration protects.
    pub fn max_source_len(&self) -> usize {
        self.max_repair_payload
            .saturating_sub(MAX_REPAIR_OVERHEAD)
            .min(MAX_SOURCE_LEN)
    }

    fn validate(&self) -> Result<(), FecError> {
        let bad = |what| Err(FecError::Config(what));
        if self.max_source_messages == 0 || self.max_source_messages > MAX_SOURCE_COUNT {
            return bad("max_source_messages must be 1 to 255");
        }
        if self.window.is_zero() {
            return bad("the window must be longer than 0");
        }
        if self.min_repair_messages == 0 {
            return bad("min_repair_messages must be at least 1");
        }
        // The largest block has the most repairs; smaller blocks have at most as many.
        let k = self.max_source_messages;
        if k + self.repair_count(k) > MAX_SYMBOLS {
            return bad("a full block with its repairs exceeds 256 symbols");
        }
        if self.max_source_len() == 0 {
            return bad("max_repair_payload leaves no room for a source message");
        }
        Ok(())
    }
}

/// One repair payload, to be sealed as the next message of the FEC encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// Its header (also the payload's first bytes).
    pub header: RepairHeader,
    /// The capture time of the block's last source message that carried one: the capture
    /// time to give the repair message.
    pub capture_time: Option<u64>,
    /// The plaintext payload: `header | repair symbol`.
    pub payload: Vec<u8>,
}

/// Counters of a [`FecEncoder`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FecEncoderStats {
    /// Source messages taken into blocks.
    pub source_messages: u64,
    /// Source bytes taken into blocks.
    pub source_bytes: u64,
    /// Blocks closed (each with its repairs emitted).
    pub blocks: u64,
    /// Repair payloads emitted.
    pub repair_messages: u64,
    /// Repair payload bytes emitted.
    pub repair_bytes: u64,
    /// Source messages refused (too large, out of order); they go unprotected.
    pub refused: u64,
}

#[derive(Debug)]
struct OpenBlock {
    first_sequence: u64,
    opened: Instant,
    messages: Vec<Vec<u8>>,
    capture_time: Option<u64>,
}

#[derive(Debug)]
struct Stream {
    protected: GlobalEncodingId,
    next_sequence: Option<u64>,
    block: Option<OpenBlock>,
}

/// Builds the repair messages of one FEC stream (PROTOCOL.md §16) for the encodings it
/// protects: fed every sealed source message as it is sent, it closes blocks by the block
/// rule ([`FecEncoderConfig`]) and hands out each block's repair payloads.
///
/// Sans-IO: it never reads a clock; the caller passes `now` and seals what it gets. Memory:
/// one open block per protected encoding, at most `max_source_messages` messages of at most
/// [`FecEncoderConfig::max_source_len`] bytes each.
#[derive(Debug)]
pub struct FecEncoder {
    config: FecEncoderConfig,
    streams: Vec<Stream>,
    codecs: Codecs,
    scratch: Vec<u8>,
    stats: FecEncoderStats,
}

impl FecEncoder {
    /// An encoder protecting the encodings `protected` (the GlobalEncodingIDs of the
    /// proposal's `fecRepairEncodingIDs`). Fails on an invalid configuration or an empty list.
    pub fn new(
        config: FecEncoderConfig,
        protected: impl IntoIterator<Item = GlobalEncodingId>,
    ) -> Result<Self, FecError> {
        config.validate()?;
        let mut streams: Vec<Stream> = Vec::new();
        for geid in protected {
            if streams.iter().all(|s| s.protected != geid) {
                streams.push(Stream {
                    protected: geid,
                    next_sequence: None,
                    block: None,
                });
            }
        }
        if streams.is_empty() {
            return Err(FecError::Config("no protected encoding"));
        }
        Ok(Self {
            config,
            streams,
            codecs: Codecs::default(),
            scratch: Vec::new(),
            stats: FecEncoderStats::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &FecEncoderConfig {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> FecEncoderStats {
        self.stats
    }

    /// Takes one sealed source message, exactly the bytes sent, at the time it is sent, and
    /// hands `emit` the repairs of every block that closes (this one's, and any whose window
    /// has passed).
    ///
    /// A message whose sequence ID is not the next one of its encoding's open block closes
    /// that block first and starts a new one (blocks cover consecutive sequence IDs). Errors
    /// ([`FecError::Rtp3`], [`FecError::NotProtected`], [`FecError::TooLarge`],
    /// [`FecError::OutOfOrder`]) leave the message unprotected and the encoder unchanged
    /// apart from closing blocks that were due.
    pub fn push(
        &mut self,
        message: &[u8],
        now: Instant,
        emit: &mut impl FnMut(Repair),
    ) -> Result<(), FecError> {
        self.handle_timeout(now, emit)?;
        let view = HeaderView::parse(message)?;
        let geid = view.global_encoding_id();
        let sequence = view.sequence_id();
        let max_len = self.config.max_source_len();
        let index = self
            .streams
            .iter()
            .position(|s| s.protected == geid)
            .ok_or(FecError::NotProtected(geid))?;
        let refuse = |stats: &mut FecEncoderStats, e| {
            stats.refused += 1;
            Err(e)
        };
        if message.len() > max_len {
            return refuse(
                &mut self.stats,
                FecError::TooLarge {
                    len: message.len(),
                    max: max_len,
                },
            );
        }
        let next = self.streams.get(index).and_then(|s| s.next_sequence);
        if let Some(next) = next.filter(|n| sequence < *n) {
            return refuse(
                &mut self.stats,
                FecError::OutOfOrder {
                    sequence_id: sequence,
                    next,
                },
            );
        }
        // A gap in the sequence IDs closes the open block.
        let gap = self
            .streams
            .get(index)
            .and_then(|s| s.block.as_ref())
            .is_some_and(|b| b.first_sequence + b.messages.len() as u64 != sequence);
        if gap {
            self.close(index, emit)?;
        }
        let Some(stream) = self.streams.get_mut(index) else {
            return Err(FecError::NotProtected(geid));
        };
        stream.next_sequence = Some(sequence + 1);
        let block = stream.block.get_or_insert_with(|| OpenBlock {
            first_sequence: sequence,
            opened: now,
            messages: Vec::with_capacity(self.config.max_source_messages),
            capture_time: None,
        });
        block.messages.push(message.to_vec());
        block.capture_time = view.capture_time().or(block.capture_time);
        self.stats.source_messages += 1;
        self.stats.source_bytes += message.len() as u64;
        if block.messages.len() >= self.config.max_source_messages {
            self.close(index, emit)?;
        }
        Ok(())
    }

    /// When the earliest open block's window ends, if any block is open.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.streams
            .iter()
            .filter_map(|s| s.block.as_ref())
            .map(|b| b.opened + self.config.window)
            .min()
    }

    /// Closes every block whose window has ended by `now` and hands `emit` its repairs.
    pub fn handle_timeout(
        &mut self,
        now: Instant,
        emit: &mut impl FnMut(Repair),
    ) -> Result<(), FecError> {
        let window = self.config.window;
        for index in 0..self.streams.len() {
            let due = self
                .streams
                .get(index)
                .and_then(|s| s.block.as_ref())
                .is_some_and(|b| now >= b.opened + window);
            if due {
                self.close(index, emit)?;
            }
        }
        Ok(())
    }

    /// Closes every open block now (the stream stops, or the caller wants the repairs out).
    pub fn flush(&mut self, emit: &mut impl FnMut(Repair)) -> Result<(), FecError> {
        for index in 0..self.streams.len() {
            self.close(index, emit)?;
        }
        Ok(())
    }

    /// The protected encoding restarted (a new packetizer with a fresh salt numbers its
    /// messages from 0 again, PROTOCOL.md §5.3): closes its open block, emitting the repairs,
    /// and accepts any sequence ID next. Fails for an encoding not protected here.
    pub fn restart(
        &mut self,
        protected: GlobalEncodingId,
        emit: &mut impl FnMut(Repair),
    ) -> Result<(), FecError> {
        let index = self
            .streams
            .iter()
            .position(|s| s.protected == protected)
            .ok_or(FecError::NotProtected(protected))?;
        self.close(index, emit)?;
        if let Some(stream) = self.streams.get_mut(index) {
            stream.next_sequence = None;
        }
        Ok(())
    }

    /// Closes stream `index`'s open block, if any, and emits its repairs.
    fn close(&mut self, index: usize, emit: &mut impl FnMut(Repair)) -> Result<(), FecError> {
        let Some(stream) = self.streams.get_mut(index) else {
            return Ok(());
        };
        let Some(block) = stream.block.take() else {
            return Ok(());
        };
        let protected = stream.protected;
        let m = self.config.repair_count(block.messages.len());
        let payloads = encode_block_with(
            &mut self.codecs,
            &mut self.scratch,
            protected,
            block.first_sequence,
            &block.messages,
            m,
        )?;
        self.stats.blocks += 1;
        for (repair_index, payload) in payloads.into_iter().enumerate() {
            self.stats.repair_messages += 1;
            self.stats.repair_bytes += payload.len() as u64;
            emit(Repair {
                header: RepairHeader {
                    protected,
                    first_sequence: block.first_sequence,
                    source_count: block.messages.len(),
                    repair_count: m,
                    repair_index,
                },
                capture_time: block.capture_time,
                payload,
            });
        }
        Ok(())
    }
}
