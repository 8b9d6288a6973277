//! Arbitrary input through the flex-fec-rs decoder (PROTOCOL.md §16), in virtual time. Never
//! panics; the limits hold; whatever is restored parses as a message of the encoding and
//! sequence ID it claims; and while only genuine symbols were fed, every restored message is
//! exactly the one the encoder saw.
//!
//! Three blocks of six NULL-sealed messages (three repairs each) are encoded once. The input is
//! a list of operations, each starting with one byte:
//! - `0`: a raw repair payload: a length byte and that many bytes;
//! - `1`: a raw source message: a length byte and that many bytes;
//! - `2`: genuine source message `next byte % 18`;
//! - `3`: genuine repair `next byte % 9`;
//! - `4`: genuine repair `next byte % 9` with the byte at `(next byte)` XORed with the one
//!   after;
//! - other: time passes by the next byte in ms; timeouts run.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use newmedia_client::media::{FecDecoder, FecDecoderConfig, FecEncoder, FecEncoderConfig};
use newmedia_proto::crypto::{Algorithm, MessageKey};
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::{HeaderView, Headers, Sealer};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const MAX_BYTES: usize = 6000;
const MAX_MESSAGES: usize = 12;
const MAX_BLOCKS: usize = 4;

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

struct Fixture {
    geid: GlobalEncodingId,
    sources: Vec<Bytes>,
    repairs: Vec<Vec<u8>>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let geid = GlobalEncodingId::derive(1, 2, 3, 4);
        let sealer = Sealer::new(
            MessageKey::derive(Algorithm::Null, b"", 1, 2, geid),
            [0; 12],
        );
        let sources: Vec<Bytes> = (0..18u64)
            .map(|seq| {
                let mut h = Headers::new(geid, seq);
                h.capture_time = Some(seq * 33);
                let mut out = Vec::new();
                let len = (seq as usize * 53) % 300;
                sealer
                    .seal(&h, &vec![seq as u8; len], &mut out)
                    .expect("seal");
                Bytes::from(out)
            })
            .collect();
        let config = FecEncoderConfig::default()
            .max_source_messages(6)
            .overhead_percent(50);
        let mut encoder = FecEncoder::new(config, [geid]).expect("encoder");
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let mut repairs = Vec::new();
        for s in &sources {
            encoder
                .push(s, now, &mut |r| repairs.push(r.payload))
                .expect("push");
        }
        assert_eq!(repairs.len(), 9);
        Fixture {
            geid,
            sources,
            repairs,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let fx = fixture();
    #[allow(clippy::disallowed_methods)]
    let mut now = Instant::now();
    let config = FecDecoderConfig::default()
        .horizon(Duration::from_millis(300))
        .max_bytes(MAX_BYTES)
        .max_messages(MAX_MESSAGES)
        .max_blocks(MAX_BLOCKS);
    let mut decoder = FecDecoder::new(config, [fx.geid]).expect("decoder");
    let mut genuine = true;
    let mut input = Input(data);
    while let Some(op) = input.byte() {
        let mut restored = Vec::new();
        let mut emit = |r| restored.push(r);
        match op {
            0 | 1 => {
                let Some(n) = input.byte() else { break };
                let Some(raw) = input.take(usize::from(n)) else {
                    break;
                };
                genuine = false;
                let _ = if op == 0 {
                    decoder.push_repair(raw, now, &mut emit)
                } else {
                    decoder.push_source(Bytes::copy_from_slice(raw), now, &mut emit)
                };
            }
            2 => {
                let Some(i) = input.byte() else { break };
                let s = &fx.sources[usize::from(i) % fx.sources.len()];
                let _ = decoder.push_source(s.clone(), now, &mut emit);
            }
            3 | 4 => {
                let Some(i) = input.byte() else { break };
                let mut r = fx.repairs[usize::from(i) % fx.repairs.len()].clone();
                if op == 4 {
                    let (Some(at), Some(x)) = (input.byte(), input.byte()) else {
                        break;
                    };
                    let at = usize::from(at) % r.len();
                    r[at] ^= x;
                    genuine &= x == 0;
                }
                let _ = decoder.push_repair(&r, now, &mut emit);
            }
            _ => {
                let Some(ms) = input.byte() else { break };
                now += Duration::from_millis(u64::from(ms));
                decoder.handle_timeout(now);
            }
        }
        for r in &restored {
            let view = HeaderView::parse(&r.message).expect("a restored message parses");
            assert_eq!(view.global_encoding_id(), r.global_encoding_id);
            assert_eq!(view.sequence_id(), r.sequence_id);
            if genuine {
                assert_eq!(r.message, fx.sources[r.sequence_id as usize]);
            }
        }
        assert!(decoder.buffered_bytes() <= MAX_BYTES);
        assert!(decoder.buffered_messages() <= MAX_MESSAGES);
        assert!(decoder.blocks() <= MAX_BLOCKS);
    }
});
