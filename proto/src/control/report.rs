//! ReceiverReport: one compound reception report per endpoint (seed 003).
//!
//! An endpoint has one designated reporter: instead of one report per (local source, remote
//! source) pair, it sends one ReceiverReport that carries a block for every encoding it
//! receives, audio and video mixed, and that fits in one path MTU. When the blocks do not all
//! fit, [`ReceiverReport::encode_bounded`] writes as many as fit and the caller carries the rest
//! in the next report.

use super::codec::{Enc, Slot, bad, for_each_field};
use super::{Body, ControlError, kind, serde_ids};
use crate::frame;
use crate::ids::GlobalEncodingId;
use crate::varint;
use serde::{Deserialize, Serialize};

/// ECN marks counted on received packets since the session started (RFC 3168 codepoints).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EcnCounts {
    /// Packets marked ECT(0).
    #[serde(default)]
    pub ect0: u64,
    /// Packets marked ECT(1) (L4S).
    #[serde(default)]
    pub ect1: u64,
    /// Packets marked CE (congestion experienced).
    #[serde(default)]
    pub ce: u64,
}

/// Reception statistics for one encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReportBlock {
    /// The encoding reported on.
    #[serde(with = "serde_ids::geid")]
    pub encoding: GlobalEncodingId,
    /// The highest sequence ID received.
    pub highest_sequence: u64,
    /// Messages lost since reception started: expected minus received, floored at 0.
    #[serde(default)]
    pub cumulative_lost: u64,
    /// Fraction of messages lost since the previous report, in 1/256 units (RFC 3550 style).
    #[serde(default)]
    pub fraction_lost: u8,
    /// Interarrival jitter (RFC 3550 §6.4.1 estimator), in microseconds.
    #[serde(default)]
    pub jitter_us: u64,
    /// Bytes of RTP3 messages received since reception started.
    #[serde(default)]
    pub bytes_received: u64,
}

/// One compound reception report from an endpoint's designated reporter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReceiverReport {
    /// Endpoint ID of the reporting endpoint.
    pub reporter: u64,
    /// The reporter's current round-trip time estimate, in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_us: Option<u64>,
    /// ECN counters, when the reporter can read ECN marks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecn: Option<EcnCounts>,
    /// One block per received encoding, audio and video mixed.
    #[serde(default)]
    pub blocks: Vec<ReportBlock>,
}

// ReceiverReport body tags.
const REPORTER: u64 = 1;
const RTT_US: u64 = 2;
const ECN: u64 = 3;
const BLOCK: u64 = 4;
// Tags inside the `ecn` value.
const E_ECT0: u64 = 1;
const E_ECT1: u64 = 2;
const E_CE: u64 = 3;
// Tags inside a `block` value.
const B_ENCODING: u64 = 1;
const B_HIGHEST_SEQUENCE: u64 = 2;
const B_CUMULATIVE_LOST: u64 = 3;
const B_FRACTION_LOST: u64 = 4;
const B_JITTER_US: u64 = 5;
const B_BYTES_RECEIVED: u64 = 6;

/// Bytes of a frame header (`version | type | length`) for a body of `body_len` bytes.
fn frame_overhead(body_len: usize) -> usize {
    1 + varint::encoded_len(kind::RECEIVER_REPORT).unwrap_or(8)
        + varint::encoded_len(body_len as u64).unwrap_or(8)
}

impl ReceiverReport {
    fn encode_head(&self, enc: &mut Enc<'_>) -> Result<(), ControlError> {
        enc.uint(REPORTER, "reporter", self.reporter)?;
        enc.opt_uint(RTT_US, "rtt_us", self.rtt_us)?;
        if let Some(ecn) = &self.ecn {
            enc.nested(ECN, "ecn", |enc| {
                enc.uint_or(E_ECT0, "ecn.ect0", ecn.ect0, 0)?;
                enc.uint_or(E_ECT1, "ecn.ect1", ecn.ect1, 0)?;
                enc.uint_or(E_CE, "ecn.ce", ecn.ce, 0)
            })?;
        }
        Ok(())
    }

    fn encode_block(b: &ReportBlock, enc: &mut Enc<'_>) -> Result<(), ControlError> {
        enc.nested(BLOCK, "block", |enc| {
            enc.geid(B_ENCODING, "block.encoding", b.encoding)?;
            enc.uint(
                B_HIGHEST_SEQUENCE,
                "block.highest_sequence",
                b.highest_sequence,
            )?;
            enc.uint_or(
                B_CUMULATIVE_LOST,
                "block.cumulative_lost",
                b.cumulative_lost,
                0,
            )?;
            enc.uint_or(
                B_FRACTION_LOST,
                "block.fraction_lost",
                u64::from(b.fraction_lost),
                0,
            )?;
            enc.uint_or(B_JITTER_US, "block.jitter_us", b.jitter_us, 0)?;
            enc.uint_or(
                B_BYTES_RECEIVED,
                "block.bytes_received",
                b.bytes_received,
                0,
            )
        })
    }

    /// Appends to `out` one ReceiverReport frame of at most `max_size` bytes (frame header
    /// included) that carries this report's reporter, RTT and ECN fields and the longest
    /// prefix of `self.blocks` that fits. Returns how many blocks it wrote; the caller carries
    /// `self.blocks[n..]` in the next report.
    ///
    /// Fails with [`ControlError::BudgetTooSmall`] (writing nothing) when not even one block
    /// fits, or, for a report without blocks, when the fixed fields do not fit.
    pub fn encode_bounded(
        &self,
        max_size: usize,
        out: &mut Vec<u8>,
    ) -> Result<usize, ControlError> {
        self.encode_blocks_bounded(&self.blocks, max_size, out)
    }

    /// Splits this report into frames of at most `max_size` bytes each, every frame carrying
    /// the reporter, RTT and ECN fields and the next blocks in order. A report without blocks
    /// gives one frame.
    pub fn encode_split(&self, max_size: usize) -> Result<Vec<Vec<u8>>, ControlError> {
        let mut frames = Vec::new();
        let mut rest = self.blocks.as_slice();
        loop {
            let mut out = Vec::new();
            let n = self.encode_blocks_bounded(rest, max_size, &mut out)?;
            frames.push(out);
            rest = rest.get(n..).unwrap_or_default();
            if rest.is_empty() {
                return Ok(frames);
            }
        }
    }

    fn encode_blocks_bounded(
        &self,
        blocks: &[ReportBlock],
        max_size: usize,
        out: &mut Vec<u8>,
    ) -> Result<usize, ControlError> {
        let budget = max_size.min(frame_overhead(frame::MAX_BODY) + frame::MAX_BODY);
        let mut body = Vec::with_capacity(budget.min(1500));
        self.encode_head(&mut Enc::new(Self::NAME, &mut body))?;
        let mut written = 0;
        for b in blocks {
            let before = body.len();
            Self::encode_block(b, &mut Enc::new(Self::NAME, &mut body))?;
            if body.len() > frame::MAX_BODY || frame_overhead(body.len()) + body.len() > budget {
                if written == 0 {
                    return Err(ControlError::BudgetTooSmall {
                        max_size,
                        needed: frame_overhead(body.len()) + body.len(),
                    });
                }
                body.truncate(before);
                break;
            }
            written += 1;
        }
        let size = frame_overhead(body.len()) + body.len();
        if size > budget {
            return Err(ControlError::BudgetTooSmall {
                max_size,
                needed: size,
            });
        }
        frame::encode(Self::KIND, &body, out)?;
        Ok(written)
    }
}

fn decode_ecn(value: &[u8]) -> Result<EcnCounts, ControlError> {
    const M: &str = ReceiverReport::NAME;
    let mut ect0 = Slot::<u64>::new(M, "ecn.ect0");
    let mut ect1 = Slot::<u64>::new(M, "ecn.ect1");
    let mut ce = Slot::<u64>::new(M, "ecn.ce");
    for_each_field(M, value, |f| match f.tag {
        E_ECT0 => ect0.take(&f),
        E_ECT1 => ect1.take(&f),
        E_CE => ce.take(&f),
        _ => Ok(()),
    })?;
    Ok(EcnCounts {
        ect0: ect0.optional().unwrap_or(0),
        ect1: ect1.optional().unwrap_or(0),
        ce: ce.optional().unwrap_or(0),
    })
}

fn decode_block(value: &[u8]) -> Result<ReportBlock, ControlError> {
    const M: &str = ReceiverReport::NAME;
    let mut encoding = Slot::<GlobalEncodingId>::new(M, "block.encoding");
    let mut highest = Slot::<u64>::new(M, "block.highest_sequence");
    let mut lost = Slot::<u64>::new(M, "block.cumulative_lost");
    let mut fraction = Slot::<u64>::new(M, "block.fraction_lost");
    let mut jitter = Slot::<u64>::new(M, "block.jitter_us");
    let mut bytes = Slot::<u64>::new(M, "block.bytes_received");
    for_each_field(M, value, |f| match f.tag {
        B_ENCODING => encoding.take(&f),
        B_HIGHEST_SEQUENCE => highest.take(&f),
        B_CUMULATIVE_LOST => lost.take(&f),
        B_FRACTION_LOST => fraction.take(&f),
        B_JITTER_US => jitter.take(&f),
        B_BYTES_RECEIVED => bytes.take(&f),
        _ => Ok(()),
    })?;
    let fraction_lost = u8::try_from(fraction.optional().unwrap_or(0))
        .map_err(|_| bad(M, "block.fraction_lost", "must be 0..=255"))?;
    Ok(ReportBlock {
        encoding: encoding.required()?,
        highest_sequence: highest.required()?,
        cumulative_lost: lost.optional().unwrap_or(0),
        fraction_lost,
        jitter_us: jitter.optional().unwrap_or(0),
        bytes_received: bytes.optional().unwrap_or(0),
    })
}

impl Body for ReceiverReport {
    const KIND: u64 = kind::RECEIVER_REPORT;
    const NAME: &'static str = "ReceiverReport";

    fn encode_body(&self, enc: &mut Enc<'_>) -> Result<(), ControlError> {
        self.encode_head(enc)?;
        for b in &self.blocks {
            Self::encode_block(b, enc)?;
        }
        Ok(())
    }

    fn decode_body(body: &[u8]) -> Result<Self, ControlError> {
        const M: &str = ReceiverReport::NAME;
        let mut reporter = Slot::<u64>::new(M, "reporter");
        let mut rtt_us = Slot::<u64>::new(M, "rtt_us");
        let mut ecn = None;
        let mut blocks = Vec::new();
        for_each_field(M, body, |f| {
            match f.tag {
                REPORTER => reporter.take(&f)?,
                RTT_US => rtt_us.take(&f)?,
                ECN if ecn.is_some() => {
                    return Err(ControlError::Duplicate {
                        message: M,
                        field: "ecn",
                    });
                }
                ECN => ecn = Some(decode_ecn(f.value)?),
                BLOCK => blocks.push(decode_block(f.value)?),
                _ => {}
            }
            Ok(())
        })?;
        Ok(Self {
            reporter: reporter.required()?,
            rtt_us: rtt_us.optional(),
            ecn,
            blocks,
        })
    }
}
