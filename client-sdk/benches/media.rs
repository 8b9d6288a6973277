//! Media pipeline throughput on one thread, 1080p-sized frames (a 20 KB delta frame and a
//! 150 KB key frame), AES-128-GCM, 1200-byte datagrams:
//!
//! - `packetize_seal`: a frame -> sealed RTP3 messages (the publisher's per-frame work);
//! - `open_reassemble`: those messages -> parsed, opened, reassembled frame (the
//!   subscriber's per-frame work).
//!
//! Throughput is reported in frames per second.

// A benchmark aborts on a broken setup; unwrapping is the clearest way to say so.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, missing_docs)]

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use newmedia_client::media::{EncodingIds, Frame, Packetizer, Reassembler};
use newmedia_proto::crypto::{Algorithm, MessageKey};
use newmedia_proto::rtp3::{HeaderView, Opener, Sealer};
use std::hint::black_box;
use std::time::Instant;

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

criterion_group!(benches, packetize_seal, open_reassemble);
criterion_main!(benches);
