//! PROTOCOL.md §16 test vectors (`vectors.json`, written by the independent `reference.py`):
//! the encoder reproduces every repair payload byte for byte, the decoder restores every loss
//! set exactly, and every invalid repair fails with the listed error.

use super::support::*;
use crate::media::fec::*;
use bytes::Bytes;
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::HeaderView;
use serde_json::Value;
use std::collections::BTreeSet;

fn vectors() -> Value {
    serde_json::from_str(include_str!("../vectors.json")).unwrap()
}

fn hex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn geid_of(v: &Value) -> GlobalEncodingId {
    GlobalEncodingId::from_bytes(hex(v).try_into().unwrap())
}

fn error_name(e: &FecError) -> &'static str {
    match e {
        FecError::Varint(_) => "Varint",
        FecError::Version(_) => "Version",
        FecError::BadHeader(_) => "BadHeader",
        _ => "other",
    }
}

#[test]
fn blocks() {
    let v = vectors();
    let blocks = v["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 4);
    let t0 = origin();
    for b in blocks {
        let name = b["name"].as_str().unwrap();
        let protected = geid_of(&b["protected"]);
        let first = b["first_sequence"].as_u64().unwrap();
        let m = b["repair_count"].as_u64().unwrap() as usize;
        let sources: Vec<Bytes> = b["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| Bytes::from(hex(s)))
            .collect();
        let expected: Vec<Vec<u8>> = b["repairs"].as_array().unwrap().iter().map(hex).collect();
        let k = sources.len();
        // The sources are RTP3 messages of the block's encoding and sequence IDs.
        for (i, s) in sources.iter().enumerate() {
            let view = HeaderView::parse(s).unwrap();
            assert_eq!(view.global_encoding_id(), protected, "{name}");
            assert_eq!(view.sequence_id(), first + i as u64, "{name}");
        }
        // encode_block and the encoder give the same bytes as the reference.
        let refs: Vec<&[u8]> = sources.iter().map(|s| &s[..]).collect();
        assert_eq!(
            encode_block(protected, first, &refs, m).unwrap(),
            expected,
            "{name}"
        );
        let config = FecEncoderConfig::default()
            .max_source_messages(k)
            .overhead_percent(0)
            .min_repair_messages(m);
        let mut enc = FecEncoder::new(config, [protected]).unwrap();
        let mut got = Vec::new();
        for s in &sources {
            enc.push(s, t0, &mut |r| got.push(r.payload)).unwrap();
        }
        assert_eq!(got, expected, "{name}: the encoder closes at k");
        for (r, payload) in expected.iter().enumerate() {
            let (h, symbol) = RepairHeader::parse(payload).unwrap();
            assert_eq!(
                h,
                RepairHeader {
                    protected,
                    first_sequence: first,
                    source_count: k,
                    repair_count: m,
                    repair_index: r,
                },
                "{name}"
            );
            assert_eq!(symbol.len() as u64, b["symbol_len"].as_u64().unwrap());
        }
        // Every loss set is restored exactly, from the other sources and the repairs.
        for loss in b["losses"].as_array().unwrap() {
            let lost: BTreeSet<usize> = loss
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_u64().unwrap() as usize)
                .collect();
            assert!(lost.len() <= m, "{name}");
            let mut dec = FecDecoder::new(FecDecoderConfig::default(), [protected]).unwrap();
            let mut restored = Vec::new();
            for (i, s) in sources.iter().enumerate() {
                if !lost.contains(&i) {
                    restored.extend(feed_source(&mut dec, s, t0));
                }
            }
            // Only as many repairs as losses (the last ones, to exercise other rows).
            for r in &expected[m - lost.len().max(1)..] {
                restored.extend(feed_repair(&mut dec, r, t0));
            }
            let seqs: Vec<usize> = restored
                .iter()
                .map(|r| (r.sequence_id - first) as usize)
                .collect();
            assert_eq!(seqs, lost.iter().copied().collect::<Vec<_>>(), "{name}");
            for r in &restored {
                assert_eq!(
                    r.message,
                    sources[(r.sequence_id - first) as usize],
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn worked_example_arithmetic() {
    // PROTOCOL.md §16.6: with k = 2 the repair is s0 + 2·(s0 + s1), byte by byte.
    let v = vectors();
    let b = &v["blocks"][0];
    let s: Vec<Vec<u8>> = b["sources"].as_array().unwrap().iter().map(hex).collect();
    let len = 2 + s.iter().map(Vec::len).max().unwrap();
    let symbol = |m: &[u8]| {
        let mut out = (m.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(m);
        out.resize(len, 0);
        out
    };
    let (s0, s1) = (symbol(&s[0]), symbol(&s[1]));
    // Doubling in GF(2^8) mod 0x11d.
    let double = |x: u8| (x << 1) ^ if x & 0x80 != 0 { 0x1d } else { 0 };
    let repair: Vec<u8> = s0.iter().zip(&s1).map(|(a, b)| a ^ double(a ^ b)).collect();
    let payload = hex(&b["repairs"][0]);
    assert_eq!(&payload[payload.len() - len..], &repair[..]);
    assert_eq!(
        &payload[..payload.len() - len],
        &hex::decode("0145dab5b3b9c1662a00020100").unwrap()[..]
    );
}

#[test]
fn invalid_repairs() {
    let v = vectors();
    let cases = v["invalid_repairs"].as_array().unwrap();
    assert!(cases.len() >= 10);
    let t0 = origin();
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let mut payload = hex(&c["payload"]);
        if let Some(n) = c.get("zero_padding_to").and_then(Value::as_u64) {
            payload.resize(n as usize, 0);
        }
        let want = c["error"].as_str().unwrap();
        let err = RepairHeader::parse(&payload).unwrap_err();
        assert_eq!(error_name(&err), want, "{name}: {err}");
        let protected = GlobalEncodingId::from_bytes(
            hex::decode("45dab5b3b9c1662a").unwrap().try_into().unwrap(),
        );
        let mut dec = FecDecoder::new(FecDecoderConfig::default(), [protected]).unwrap();
        let err = dec.push_repair(&payload, t0, &mut |_| ()).unwrap_err();
        assert_eq!(error_name(&err), want, "{name}");
        assert_eq!(dec.blocks(), 0);
    }
}
