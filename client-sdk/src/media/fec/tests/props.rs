//! Property tests: any m losses per block are restored exactly, more are reported and never
//! mis-restored, and no input panics or breaks the limits.

use super::support::*;
use crate::media::fec::*;
use bytes::Bytes;
use newmedia_proto::crypto::Algorithm;
use newmedia_proto::ids::GlobalEncodingId;
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::time::Duration;

/// One block: its sources and repairs, encoded by the encoder.
fn block(first: u64, sizes: &[usize], m: usize, aes: bool) -> (Vec<Bytes>, Vec<Vec<u8>>) {
    let alg = if aes {
        Algorithm::Aes128Gcm
    } else {
        Algorithm::Null
    };
    let sources: Vec<Bytes> = sizes
        .iter()
        .enumerate()
        .map(|(i, n)| source(geid(), first + i as u64, *n, alg))
        .collect();
    let config = FecEncoderConfig::default()
        .max_source_messages(sizes.len())
        .overhead_percent(0)
        .min_repair_messages(m);
    let mut enc = FecEncoder::new(config, [geid()]).unwrap();
    let repairs = encode_all(&mut enc, &sources, origin());
    assert_eq!(repairs.len(), m);
    (sources, repairs.into_iter().map(|r| r.payload).collect())
}

/// Delivers the symbols not in `lost` in a shuffled order; returns what was restored.
fn deliver(
    dec: &mut FecDecoder,
    sources: &[Bytes],
    repairs: &[Vec<u8>],
    lost: &BTreeSet<usize>,
    seed: u64,
) -> Vec<Restored> {
    let k = sources.len();
    let mut order: Vec<usize> = (0..k + repairs.len())
        .filter(|i| !lost.contains(i))
        .collect();
    let mut s = seed | 1;
    for i in (1..order.len()).rev() {
        order.swap(i, (xorshift(&mut s) % (i as u64 + 1)) as usize);
    }
    let t0 = origin();
    let mut got = Vec::new();
    for i in order {
        if i < k {
            got.extend(feed_source(dec, &sources[i], t0));
        } else {
            got.extend(feed_repair(dec, &repairs[i - k], t0));
        }
    }
    got
}

fn losses(total: usize, count: usize, seed: u64) -> BTreeSet<usize> {
    let mut s = seed | 1;
    let mut all: Vec<usize> = (0..total).collect();
    for i in (1..all.len()).rev() {
        all.swap(i, (xorshift(&mut s) % (i as u64 + 1)) as usize);
    }
    all.into_iter().take(count).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_m_losses_are_restored_exactly(
        sizes in proptest::collection::vec(0usize..1400, 1..40),
        m in 1usize..10,
        lose in 0usize..10,
        first in 0u64..(1 << 40),
        aes in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let k = sizes.len();
        let lost = losses(k + m, lose.min(m), seed);
        let (sources, repairs) = block(first, &sizes, m, aes);
        let mut dec = FecDecoder::new(FecDecoderConfig::default(), [geid()]).unwrap();
        let got = deliver(&mut dec, &sources, &repairs, &lost, seed);
        let lost_sources: Vec<u64> =
            lost.iter().filter(|i| **i < k).map(|i| first + *i as u64).collect();
        // Every lost source is restored; a source that merely had not arrived when the block
        // had enough symbols may be restored early (its original is then a duplicate).
        let seqs: BTreeSet<u64> = got.iter().map(|r| r.sequence_id).collect();
        prop_assert_eq!(seqs.len(), got.len(), "nothing restored twice");
        for s in &lost_sources {
            prop_assert!(seqs.contains(s));
        }
        for r in &got {
            prop_assert_eq!(&r.message, &sources[(r.sequence_id - first) as usize]);
            prop_assert_eq!(r.global_encoding_id, geid());
        }
        // The block is known once one of its repairs arrived; with every repair lost, no
        // source was (at most m losses), and the sources wait out the horizon.
        let known = (k..k + m).any(|i| !lost.contains(&i));
        let s = dec.stats();
        prop_assert_eq!(s.blocks_restored + s.blocks_complete, u64::from(known));
        prop_assert_eq!(dec.buffered_messages(), if known { 0 } else { k });
    }

    #[test]
    fn more_than_m_losses_are_reported_not_restored(
        sizes in proptest::collection::vec(1usize..600, 1..30),
        m in 1usize..6,
        extra in 1usize..6,
        seed in any::<u64>(),
    ) {
        let k = sizes.len();
        let count = (m + extra).min(k + m);
        let mut lost = losses(k + m, count, seed);
        // At least one source lost (else the block is merely complete).
        if lost.iter().all(|i| *i >= k) {
            lost.pop_last();
            lost.insert(0);
        }
        prop_assume!(lost.len() > m);
        let (sources, repairs) = block(5, &sizes, m, false);
        let mut dec = FecDecoder::new(FecDecoderConfig::default(), [geid()]).unwrap();
        let got = deliver(&mut dec, &sources, &repairs, &lost, seed);
        prop_assert!(got.is_empty());
        let known = (k..k + m).any(|i| !lost.contains(&i));
        let missing = lost.iter().filter(|i| **i < k).count() as u64;
        dec.handle_timeout(origin() + Duration::from_secs(2));
        let s = dec.stats();
        prop_assert_eq!(s.restored, 0);
        prop_assert_eq!(s.blocks_failed, 0);
        if known {
            prop_assert_eq!(s.blocks_unrecoverable, 1);
            prop_assert_eq!(s.messages_unrecovered, missing);
        }
        prop_assert_eq!((dec.blocks(), dec.buffered_bytes()), (0, 0));
    }

    #[test]
    fn arbitrary_repairs_and_sources_never_panic(
        ops in proptest::collection::vec(
            (0u8..4, proptest::collection::vec(any::<u8>(), 0..300), 0u64..400),
            1..60,
        ),
    ) {
        let config = FecDecoderConfig::default()
            .max_messages(8)
            .max_bytes(4000)
            .max_blocks(4)
            .horizon(Duration::from_millis(100));
        let mut dec = FecDecoder::new(config, [geid(), GlobalEncodingId(0)]).unwrap();
        let t0 = origin();
        let (sources, repairs) = block(0, &[30, 90, 10, 200], 2, false);
        for (op, bytes, ms) in ops {
            let now = t0 + Duration::from_millis(ms);
            let mut out = Vec::new();
            let mut emit = |r: Restored| out.push(r);
            match op {
                // Raw bytes as a repair, or as a source.
                0 => { let _ = dec.push_repair(&bytes, now, &mut emit); }
                1 => { let _ = dec.push_source(Bytes::from(bytes), now, &mut emit); }
                // A real repair with bytes overwritten from the input.
                2 => {
                    let mut r = repairs[bytes.len() % 2].clone();
                    for (i, b) in bytes.iter().enumerate().take(4) {
                        let at = (*b as usize * 7 + i) % r.len();
                        r[at] ^= b | 1;
                    }
                    let _ = dec.push_repair(&r, now, &mut emit);
                }
                _ => {
                    let _ = dec.push_source(sources[bytes.len() % 4].clone(), now, &mut emit);
                    dec.handle_timeout(now);
                }
            }
            for r in &out {
                // Whatever comes out parses as a message of the encoding and sequence ID
                // it claims.
                let view = newmedia_proto::rtp3::HeaderView::parse(&r.message).unwrap();
                prop_assert_eq!(view.global_encoding_id(), r.global_encoding_id);
                prop_assert_eq!(view.sequence_id(), r.sequence_id);
            }
            prop_assert!(dec.buffered_messages() <= 8);
            prop_assert!(dec.buffered_bytes() <= 4000);
            prop_assert!(dec.blocks() <= 4);
        }
    }

    #[test]
    fn arbitrary_bytes_into_the_encoder_never_panic(
        msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..30),
    ) {
        let mut enc = FecEncoder::new(FecEncoderConfig::default(), [geid()]).unwrap();
        for m in msgs {
            let _ = enc.push(&m, origin(), &mut |r| {
                assert!(RepairHeader::parse(&r.payload).is_ok());
            });
        }
    }

    #[test]
    fn repair_headers_round_trip(
        protected in any::<u64>(),
        first in 0u64..(1 << 62) - 256,
        k in 1usize..256,
        m in 1usize..256,
        r in 0usize..256,
        symbol in proptest::collection::vec(any::<u8>(), 3..40),
    ) {
        let h = RepairHeader {
            protected: GlobalEncodingId(protected),
            first_sequence: first,
            source_count: k,
            repair_count: m,
            repair_index: r,
        };
        let mut out = Vec::new();
        let written = h.write(&mut out);
        prop_assert_eq!(written.is_ok(), k + m <= 256 && r < m);
        if written.is_ok() {
            prop_assert_eq!(out.len(), h.encoded_len());
            prop_assert!(out.len() <= MAX_REPAIR_HEADER_LEN);
            out.extend_from_slice(&symbol);
            let (parsed, sym) = RepairHeader::parse(&out).unwrap();
            prop_assert_eq!(parsed, h);
            prop_assert_eq!(sym, &symbol[..]);
        }
    }

    #[test]
    fn repair_header_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok((h, symbol)) = RepairHeader::parse(&bytes) {
            let mut out = Vec::new();
            h.write(&mut out).unwrap();
            out.extend_from_slice(symbol);
            prop_assert_eq!(out, bytes, "canonical: re-encoding gives the same bytes");
        }
    }
}
