//! Arbitrary message sequences through the receive pipeline: Reassembler + Recovery +
//! JitterBuffer, in virtual time. Never panics, and the invariants hold: the reassembler's
//! limits, retransmission requests only for what is missing and within their bounds, frames
//! played in sequence order with non-decreasing playout times.
//!
//! The input is a list of operations, each starting with one byte:
//! - `0`: a well-formed message (NULL AEAD) from the next 6 bytes: sequence ID (2), chunk
//!   index (1), chunk count (1), payload length (1), flags (1: capture time, reference);
//! - `1`: a raw datagram: a length byte and that many bytes, parsed as an RTP3 message;
//! - `2`: time passes by the next byte in ms; timeouts run;
//! - `3`: requests and playout are polled;
//! - `4`: the SFU says a range will not come (next 4 bytes: first (2), count (1), withheld
//!   (1, low bit)): the reassembler settles it and recovery forgets it;
//! - other: the RTT (next byte, ms) and jitter change.

#![no_main]

use libfuzzer_sys::fuzz_target;
use newmedia_client::media::{
    JitterBuffer, JitterConfig, Reassembler, ReassemblerConfig, Recovery, RecoveryConfig,
};
use newmedia_proto::crypto::{Algorithm, MessageKey};
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::{Chunk, HeaderView, Headers, Sealer};
use std::time::{Duration, Instant};

const MAX_FRAMES: usize = 8;
const MAX_BYTES: usize = 4096;
const MAX_RANGES: usize = 4;
const MAX_ATTEMPTS: u32 = 3;

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }

    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
}

fuzz_target!(|data: &[u8]| {
    #[allow(clippy::disallowed_methods)]
    let mut now = Instant::now();
    let geid = GlobalEncodingId::derive(1, 2, 3, 4);
    let sealer = Sealer::new(MessageKey::derive(Algorithm::Null, b"", 1, 2, geid), [0; 12]);
    let mut reassembler = Reassembler::new(ReassemblerConfig {
        frame_deadline: Duration::from_millis(200),
        max_frames: MAX_FRAMES,
        max_bytes: MAX_BYTES,
        window: 1024,
        join_mid_stream: data.first().is_some_and(|b| b & 1 == 1),
    });
    let mut recovery = Recovery::new(
        geid,
        RecoveryConfig::default()
            .max_ranges(MAX_RANGES)
            .max_attempts(MAX_ATTEMPTS)
            .max_tracked(256),
    );
    let mut jitter = JitterBuffer::new(JitterConfig::default().max_frames(16));
    let mut last_played: Option<(u64, Instant)> = None;
    let mut input = Input(data);

    while let Some(op) = input.byte() {
        match op {
            0 | 1 => {
                let mut buf = Vec::new();
                let bytes = if op == 0 {
                    let Some(f) = input.take(6) else { break };
                    let seq = u64::from(u16::from_be_bytes([f[0], f[1]]));
                    let count = u64::from(f[3]).max(1);
                    let mut h = Headers::new(geid, seq);
                    h.chunk = (count > 1).then_some(Chunk {
                        index: u64::from(f[2]) % count,
                        count,
                    });
                    h.capture_time = (f[5] & 1 == 1).then_some(seq * 10);
                    h.reference_frame = (f[5] & 2 == 2).then_some(true);
                    if sealer.seal(&h, &vec![f[4]; usize::from(f[4])], &mut buf).is_err() {
                        continue;
                    }
                    buf.as_slice()
                } else {
                    let Some(n) = input.byte() else { break };
                    let Some(raw) = input.take(usize::from(n)) else { break };
                    raw
                };
                let Ok(view) = HeaderView::parse(bytes) else {
                    continue;
                };
                recovery.handle_message(view.sequence_id(), now);
                if let Ok(Some(frame)) = reassembler.push(&view, view.sealed_payload(), now)
                    && let Ok(frame) = frame.try_into()
                {
                    jitter.push(frame, now);
                }
                jitter.handle_settled(reassembler.settled_below());
            }
            2 => {
                let Some(ms) = input.byte() else { break };
                now += Duration::from_millis(u64::from(ms));
                reassembler.handle_timeout(now);
                jitter.handle_settled(reassembler.settled_below());
            }
            3 => {
                let missing: Vec<_> = reassembler.missing().collect();
                let mut polls = 0;
                while let Some(req) = recovery.poll_request(&reassembler, now) {
                    polls += 1;
                    assert!(polls < 10_000, "poll_request must run dry");
                    assert!(!req.ranges.is_empty() && req.ranges.len() <= MAX_RANGES);
                    assert_eq!(req.encoding, geid);
                    for r in &req.ranges {
                        assert!(r.count >= 1);
                        let inside = missing
                            .iter()
                            .any(|m| m.first <= r.first && r.first + r.count <= m.first + m.count);
                        assert!(inside, "{r:?} not in {missing:?}");
                    }
                }
                while let Some(f) = jitter.poll_frame(now) {
                    if let Some((seq, at)) = last_played {
                        assert!(f.frame.first_sequence > seq);
                        assert!(f.playout_at >= at);
                    }
                    last_played = Some((f.frame.first_sequence, f.playout_at));
                }
            }
            4 => {
                let Some(f) = input.take(4) else { break };
                let first = u64::from(u16::from_be_bytes([f[0], f[1]]));
                let count = u64::from(f[2]).max(1);
                let withheld = f[3] & 1 == 1;
                let before = reassembler.stats();
                let settled = reassembler.settle_unavailable(
                    newmedia_client::media::SequenceRange { first, count },
                    withheld,
                );
                recovery.forget(first, count, withheld);
                let after = reassembler.stats();
                let counted = (after.messages_withheld - before.messages_withheld)
                    + (after.messages_lost - before.messages_lost);
                assert_eq!(counted, settled);
                assert!(
                    reassembler
                        .missing()
                        .all(|m| m.first + m.count <= first || m.first >= first + count),
                    "a settled ID is still missing"
                );
                jitter.handle_settled(reassembler.settled_below());
            }
            _ => {
                let Some(ms) = input.byte() else { break };
                recovery.set_rtt(Duration::from_millis(u64::from(ms)));
                recovery.set_jitter(Duration::from_millis(u64::from(ms / 4)));
            }
        }
        assert!(reassembler.frames_in_progress() <= MAX_FRAMES);
        assert!(reassembler.buffered_bytes() <= MAX_BYTES);
        assert!(jitter.len() <= 16);
        let s = recovery.stats();
        assert!(s.recovered + s.given_up <= s.sequences_requested);
    }
});
