//! Media pipeline throughput on one thread, 1080p-sized frames (a 20 KB delta frame and a
//! 150 KB key frame), AES-128-GCM, 1200-byte datagrams:
//!
//! - `packetize_seal`: a frame -> sealed RTP3 messages (the publisher's per-frame work);
//! - `open_reassemble`: those messages -> parsed, opened, reassembled frame (the
//!   subscriber's per-frame work).
//!
//! - `fec_encode`: that frame's sealed messages -> flex-fec-rs repair payloads at the default
//!   rule (blocks of 20, 20 % overhead: 4 repairs per full block), the publisher's FEC work
//!   per frame (messages sized so that each repair fits a 1200-byte datagram);
//! - `fec_decode`: the same messages with the first `m` of every block lost (4 of a full
//!   block: the most each block restores) and all repairs -> the restored sealed messages,
//!   the subscriber's FEC work per frame at the worst recoverable loss.
//!
//! Throughput is reported in frames per second.

// A benchmark aborts on a broken setup; unwrapping is the clearest way to say so.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use newmedia_client::media::fec::MAX_REPAIR_OVERHEAD;
use newmedia_client::media::{
    EncodingIds, FecDecoder, FecDecoderConfig, FecEncoder, FecEncoderConfig, Frame, Packetizer,
    Reassembler,
};
use newmedia_proto::crypto::{Algorithm, MessageKey};
use newmedia_proto::rtp3::{HeaderView, Opener, Sealer};
use std::hint::black_box;
use std::time::{Duration, Instant};

const IDS: EncodingIds = EncodingIds {
    conference_id: 4_638_572_387,
    endpoint_id: 23,
    source_id: 1,
    encoding_id: 1,
};
const DATAGRAM: usize = 1200;
const SIZES: [(&str, usize, bool); 2] =
    [("delta_20KB", 20_000, false), ("key_150KB", 150_000, true)];

fn key() -> MessageKey {
    MessageKey::derive(
        Algorithm::Aes128Gcm,
        b"bench secret",
        IDS.conference_id,
        IDS.endpoint_id,
        IDS.global_encoding_id(),
    )
}

fn packetizer() -> Packetizer {
    Packetizer::new(Sealer::new(key(), [7; 12]), IDS, DATAGRAM, None).unwrap()
}

fn frame(payload: &[u8], reference: bool) -> Frame<'_> {
    Frame {
        payload,
        capture_time: 3_913_056_000_123,
        reference,
        layer_id: Some(0),
        active_level: None,
    }
}

// The benchmark's one instant: packetizing takes it as a parameter, nothing waits on it.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

fn packetize_seal(c: &mut Criterion) {
    let mut g = c.benchmark_group("packetize_seal");
    g.throughput(Throughput::Elements(1));
    for (name, len, reference) in SIZES {
        let payload = vec![0xa5u8; len];
        let mut p = packetizer();
        let t = now();
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let mut n = 0usize;
                p.packetize(
                    &frame(black_box(&payload), reference),
                    t,
                    &mut |d: Bytes| {
                        n += d.len();
                        black_box(d);
                    },
                )
                .unwrap();
                n
            })
        });
    }
    g.finish();
}

fn open_reassemble(c: &mut Criterion) {
    let mut g = c.benchmark_group("open_reassemble");
    g.throughput(Throughput::Elements(1));
    for (name, len, reference) in SIZES {
        let payload = vec![0xa5u8; len];
        let mut msgs = Vec::new();
        packetizer()
            .packetize(&frame(&payload, reference), now(), &mut |d| msgs.push(d))
            .unwrap();
        // The first message carries the salt; open it once so the opener knows it.
        let mut opener = Opener::new(key());
        let mut plain = Vec::with_capacity(DATAGRAM);
        opener
            .open(&HeaderView::parse(&msgs[0]).unwrap(), &mut plain)
            .unwrap();
        let t = now();
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let mut r = Reassembler::default();
                let mut out = None;
                for m in &msgs {
                    let view = HeaderView::parse(black_box(m)).unwrap();
                    let pt = opener.open(&view, &mut plain).unwrap();
                    out = out.or(r.push(&view, pt, t).unwrap());
                }
                let f = out.unwrap();
                assert_eq!(f.payload.len(), len);
                f
            })
        });
    }
    g.finish();
}

/// The frame's sealed messages, sized so that a repair message fits a 1200-byte datagram
/// (128 bytes for the FEC message's own headers and tag).
fn fec_sources(len: usize, reference: bool) -> (FecEncoderConfig, Vec<Bytes>) {
    let config = FecEncoderConfig::default().max_repair_payload(DATAGRAM - 128);
    assert_eq!(
        config.max_source_len(),
        DATAGRAM - 128 - MAX_REPAIR_OVERHEAD
    );
    let mut p = Packetizer::new(
        Sealer::new(key(), [7; 12]),
        IDS,
        config.max_source_len(),
        None,
    )
    .unwrap();
    let payload = vec![0xa5u8; len];
    let mut msgs = Vec::new();
    p.packetize(&frame(&payload, reference), now(), &mut |d| msgs.push(d))
        .unwrap();
    (config, msgs)
}

fn fec_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("fec_encode");
    g.throughput(Throughput::Elements(1));
    for (name, len, reference) in SIZES {
        let (config, msgs) = fec_sources(len, reference);
        let geid = IDS.global_encoding_id();
        let mut enc = FecEncoder::new(config, [geid]).unwrap();
        let t = now();
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let mut n = 0usize;
                let mut emit = |r: newmedia_client::media::Repair| n += r.payload.len();
                for m in &msgs {
                    enc.push(black_box(m), t, &mut emit).unwrap();
                }
                // The frame's last block closes (as its window would), and the next
                // iteration numbers from 0 again.
                enc.restart(geid, &mut emit).unwrap();
                n
            })
        });
    }
    g.finish();
}

fn fec_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("fec_decode");
    g.throughput(Throughput::Elements(1));
    for (name, len, reference) in SIZES {
        let (config, msgs) = fec_sources(len, reference);
        let geid = IDS.global_encoding_id();
        let mut repairs = Vec::new();
        let mut enc = FecEncoder::new(config, [geid]).unwrap();
        for m in &msgs {
            enc.push(m, now(), &mut |r| repairs.push(r.payload))
                .unwrap();
        }
        enc.flush(&mut |r| repairs.push(r.payload)).unwrap();
        // The first m of every block: 4 of a full block of 20, fewer of a short last one.
        let n = msgs.len();
        let lost = |i: usize| i % 20 < config.repair_count((n - i / 20 * 20).min(20));
        let expected = (0..msgs.len()).filter(|i| lost(*i)).count();
        let mut dec = FecDecoder::new(FecDecoderConfig::default(), [geid]).unwrap();
        let mut t = now();
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let mut restored = 0usize;
                let mut emit = |r: newmedia_client::media::Restored| {
                    restored += 1;
                    black_box(r);
                };
                for (i, m) in msgs.iter().enumerate() {
                    if !lost(i) {
                        dec.push_source(m.clone(), t, &mut emit).unwrap();
                    }
                }
                for r in &repairs {
                    dec.push_repair(black_box(r), t, &mut emit).unwrap();
                }
                assert_eq!(restored, expected);
                // Forget the frame so the next iteration restores it again.
                t += Duration::from_secs(2);
                dec.handle_timeout(t);
                restored
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    packetize_seal,
    open_reassemble,
    fec_encode,
    fec_decode
);
criterion_main!(benches);
