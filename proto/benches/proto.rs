//! Hot-path benchmarks of the wire formats: HeaderView parse, message build, seal/open,
//! STUN2 encode/decode.

// A benchmark aborts on a broken setup; unwrapping is the clearest way to say so.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use newmedia_proto::crypto::{Algorithm, MessageKey};
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::{HeaderView, Headers, Opener, Sealer};
use newmedia_proto::stun2::{
    SenderSecret, Stun2Keys, Stun2Request, Stun2Response, TransactionId, classify,
};
use std::hint::black_box;

const SALT: [u8; 12] = [0x5a; 12];

fn geid() -> GlobalEncodingId {
    GlobalEncodingId::derive(4_638_572_387, 23, 1, 1)
}

fn key(alg: Algorithm) -> MessageKey {
    MessageKey::derive(alg, b"xy34", 4_638_572_387, 23, geid())
}

/// A typical forwarded video message: GlobalEncodingID, sequence, active level, capture time,
/// reference-frame flag, layer ID, sealed payload.
fn typical_headers(seq: u64) -> Headers {
    let mut h = Headers::new(geid(), seq);
    h.active_level = Some(80);
    h.capture_time = Some(3_913_056_000_123);
    h.reference_frame = Some(false);
    h.layer_id = Some(1);
    h
}

fn typical_message(len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    Sealer::new(key(Algorithm::Aes128Gcm), SALT)
        .seal(&typical_headers(123_456), &vec![0xab; len], &mut out)
        .unwrap();
    out
}

fn header_view(c: &mut Criterion) {
    let msg = typical_message(1100);
    c.bench_function("header_view_parse/typical_1200B", |b| {
        b.iter(|| {
            let v = HeaderView::parse(black_box(&msg)).unwrap();
            black_box((
                v.global_encoding_id(),
                v.sequence_id(),
                v.active_level(),
                v.layer_id(),
            ))
        })
    });
}

fn build(c: &mut Criterion) {
    let headers = typical_headers(7);
    let mut out = Vec::with_capacity(1500);
    c.bench_function("headers_write/typical", |b| {
        b.iter(|| {
            out.clear();
            black_box(&headers).write(&mut out).unwrap();
            black_box(out.len())
        })
    });
}

fn seal_open(c: &mut Criterion) {
    let mut group = c.benchmark_group("aead");
    for alg in [Algorithm::Aes128Gcm, Algorithm::Aes256Gcm] {
        for len in [100usize, 1200] {
            let payload = vec![0x42; len];
            let sealer = Sealer::new(key(alg), SALT);
            let mut out = Vec::with_capacity(1500);
            let headers = typical_headers(9);
            group.throughput(Throughput::Bytes(len as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("seal/{alg}"), len),
                &len,
                |b, _| {
                    b.iter(|| {
                        out.clear();
                        sealer
                            .seal(&headers, black_box(&payload), &mut out)
                            .unwrap();
                        black_box(out.len())
                    })
                },
            );
            let mut msg = Vec::new();
            let mut first = headers.clone();
            first.salt = Some(SALT);
            sealer.seal(&first, &payload, &mut msg).unwrap();
            let mut opener = Opener::new(key(alg));
            let mut plain = Vec::with_capacity(1500);
            group.bench_with_input(
                BenchmarkId::new(format!("open/{alg}"), len),
                &len,
                |b, _| {
                    b.iter(|| {
                        let view = HeaderView::parse(black_box(&msg)).unwrap();
                        black_box(opener.open(&view, &mut plain).unwrap().len())
                    })
                },
            );
        }
    }
    group.finish();
}

fn stun2(c: &mut Criterion) {
    let keys = Stun2Keys::new(b"20kdiu83kd8");
    let request = Stun2Request {
        transaction_id: TransactionId([7; 12]),
        sender_secret: Some(SenderSecret::new(b"consent-proof").unwrap()),
    };
    let response = Stun2Response {
        transaction_id: TransactionId([7; 12]),
        observed: "203.0.113.10:43210".parse().unwrap(),
    };
    let mut out = Vec::with_capacity(512);
    c.bench_function("stun2/request_encode", |b| {
        b.iter(|| {
            out.clear();
            black_box(&request).encode(&keys, &mut out);
            black_box(out.len())
        })
    });
    let mut req_bytes = Vec::new();
    request.encode(&keys, &mut req_bytes);
    c.bench_function("stun2/request_decode", |b| {
        b.iter(|| black_box(Stun2Request::decode(&keys, black_box(&req_bytes)).unwrap()))
    });
    c.bench_function("stun2/response_encode", |b| {
        b.iter(|| {
            out.clear();
            black_box(&response).encode(&keys, &mut out);
            black_box(out.len())
        })
    });
    let mut resp_bytes = Vec::new();
    response.encode(&keys, &mut resp_bytes);
    c.bench_function("stun2/response_decode", |b| {
        b.iter(|| black_box(Stun2Response::decode(&keys, black_box(&resp_bytes)).unwrap()))
    });
    c.bench_function("stun2/classify", |b| {
        b.iter(|| black_box(classify(black_box(&req_bytes))))
    });
}

criterion_group!(benches, header_view, build, seal_open, stun2);
criterion_main!(benches);
