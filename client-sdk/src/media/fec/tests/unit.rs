//! The block rule, the decoder's bookkeeping and limits, and a sealed round trip.

use super::support::*;
use crate::media::fec::*;
use crate::media::{EncodingIds, Frame, Packetizer, Reassembler};
use bytes::Bytes;
use newmedia_proto::crypto::{Algorithm, MessageKey};
use newmedia_proto::rtp3::{HeaderView, Opener, Sealer};
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn encoder(config: FecEncoderConfig) -> FecEncoder {
    FecEncoder::new(config, [geid()]).unwrap()
}

fn decoder() -> FecDecoder {
    FecDecoder::new(FecDecoderConfig::default(), [geid()]).unwrap()
}

fn messages(first: u64, n: u64) -> Vec<Bytes> {
    (first..first + n)
        .map(|s| source(geid(), s, 50 + (s as usize * 37) % 900, Algorithm::Null))
        .collect()
}

#[test]
fn repair_count_rule() {
    let c = FecEncoderConfig::default();
    assert_eq!(c.repair_count(20), 4);
    assert_eq!(c.repair_count(21), 5, "rounded up");
    assert_eq!(c.repair_count(1), 1, "at least min_repair_messages");
    let c = c.overhead_percent(50).min_repair_messages(2);
    assert_eq!(c.repair_count(1), 2);
    assert_eq!(c.repair_count(9), 5);
    assert_eq!(FecEncoderConfig::default().max_source_len(), MAX_SOURCE_LEN);
    let c = FecEncoderConfig::default().max_repair_payload(1100);
    assert_eq!(c.max_source_len(), 1100 - MAX_REPAIR_OVERHEAD);
}

#[test]
fn invalid_configurations() {
    let bad = |c: FecEncoderConfig| {
        FecEncoder::new(c, [geid()]).is_err_and(|e| matches!(e, FecError::Config(_)))
    };
    let d = FecEncoderConfig::default;
    assert!(bad(d().max_source_messages(0)));
    assert!(bad(d().max_source_messages(256)));
    assert!(bad(d().max_source_messages(250)), "250 + 50 repairs > 256");
    assert!(!bad(d().max_source_messages(213)), "213 + 43 = 256");
    assert!(bad(d().window(Duration::ZERO)));
    assert!(bad(d().min_repair_messages(0)));
    assert!(bad(d().max_repair_payload(MAX_REPAIR_OVERHEAD)));
    assert!(matches!(
        FecEncoder::new(d(), []).unwrap_err(),
        FecError::Config(_)
    ));
    let dd = FecDecoderConfig::default;
    for c in [
        dd().horizon(Duration::ZERO),
        dd().max_bytes(0),
        dd().max_messages(0),
        dd().max_blocks(0),
    ] {
        assert!(matches!(
            FecDecoder::new(c, [geid()]).unwrap_err(),
            FecError::Config(_)
        ));
    }
}

#[test]
fn a_block_closes_at_k_messages() {
    let t0 = origin();
    let mut enc = encoder(FecEncoderConfig::default());
    let msgs = messages(100, 45);
    let mut repairs = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        enc.push(m, t0, &mut |r| repairs.push(r)).unwrap();
        // Repairs come out exactly when the 20th and 40th messages are pushed.
        let blocks = (i + 1) / 20;
        assert_eq!(repairs.len(), blocks * 4, "after {} messages", i + 1);
    }
    let h: Vec<_> = repairs.iter().map(|r| r.header).collect();
    assert_eq!(h[0].first_sequence, 100);
    assert_eq!(h[4].first_sequence, 120);
    for (i, r) in h.iter().enumerate() {
        assert_eq!((r.source_count, r.repair_count), (20, 4));
        assert_eq!(r.repair_index, i % 4);
        assert_eq!(r.protected, geid());
    }
    assert_eq!(enc.poll_timeout(), Some(t0 + ms(200)));
    // The last 5 close at the window: nothing before it, all at it.
    enc.handle_timeout(t0 + ms(199), &mut |r| repairs.push(r))
        .unwrap();
    assert_eq!(repairs.len(), 8);
    enc.handle_timeout(t0 + ms(200), &mut |r| repairs.push(r))
        .unwrap();
    assert_eq!(repairs.len(), 9, "5 sources get ceil(5 * 20 %) = 1 repair");
    let last = repairs.last().unwrap().header;
    assert_eq!((last.first_sequence, last.source_count), (140, 5));
    assert_eq!(enc.poll_timeout(), None);
    let s = enc.stats();
    assert_eq!((s.source_messages, s.blocks, s.repair_messages), (45, 3, 9));
    // Each payload's header parses back to the header given with it.
    for r in &repairs {
        let (header, symbol) = RepairHeader::parse(&r.payload).unwrap();
        assert_eq!(header, r.header);
        assert_eq!(r.capture_time, Some(1000 + header.sequences().end - 1));
        let longest = msgs
            .iter()
            .skip((header.first_sequence - 100) as usize)
            .take(header.source_count)
            .map(Bytes::len)
            .max()
            .unwrap();
        assert_eq!(symbol.len(), LENGTH_PREFIX + longest);
    }
}

#[test]
fn a_push_after_the_window_closes_the_old_block_first() {
    let t0 = origin();
    let mut enc = encoder(FecEncoderConfig::default().window_ms(100));
    let msgs = messages(0, 3);
    let mut repairs = Vec::new();
    enc.push(&msgs[0], t0, &mut |r| repairs.push(r)).unwrap();
    enc.push(&msgs[1], t0 + ms(99), &mut |r| repairs.push(r))
        .unwrap();
    assert!(repairs.is_empty());
    enc.push(&msgs[2], t0 + ms(100), &mut |r| repairs.push(r))
        .unwrap();
    assert_eq!(repairs.len(), 1);
    assert_eq!(repairs[0].header.sequences(), 0..2);
    assert_eq!(enc.poll_timeout(), Some(t0 + ms(200)));
}

#[test]
fn gaps_close_blocks_and_stale_or_oversized_messages_are_refused() {
    let t0 = origin();
    let mut enc = encoder(FecEncoderConfig::default().max_repair_payload(600));
    let mut repairs = Vec::new();
    let small = |s| source(geid(), s, 100, Algorithm::Null);
    enc.push(&small(10), t0, &mut |r| repairs.push(r)).unwrap();
    enc.push(&small(11), t0, &mut |r| repairs.push(r)).unwrap();
    // Sequence ID 12 was not pushed (e.g. dropped by the pacer): the block ends at 11.
    enc.push(&small(13), t0, &mut |r| repairs.push(r)).unwrap();
    assert_eq!(repairs.len(), 1);
    assert_eq!(repairs[0].header.sequences(), 10..12);
    assert_eq!(
        enc.push(&small(12), t0, &mut |_| ()).unwrap_err(),
        FecError::OutOfOrder {
            sequence_id: 12,
            next: 14
        }
    );
    let big = source(geid(), 14, 600, Algorithm::Null);
    assert!(matches!(
        enc.push(&big, t0, &mut |_| ()).unwrap_err(),
        FecError::TooLarge { max, .. } if max == 600 - MAX_REPAIR_OVERHEAD
    ));
    let other = source(geid2(), 0, 10, Algorithm::Null);
    assert_eq!(
        enc.push(&other, t0, &mut |_| ()).unwrap_err(),
        FecError::NotProtected(geid2())
    );
    assert!(matches!(
        enc.push(b"not rtp3", t0, &mut |_| ()).unwrap_err(),
        FecError::Rtp3(_)
    ));
    assert_eq!(enc.stats().refused, 2);
    // 14 was refused, so 15 starts a new block after 13's.
    enc.push(&small(15), t0, &mut |r| repairs.push(r)).unwrap();
    enc.flush(&mut |r| repairs.push(r)).unwrap();
    // The encoding restarts: sequence IDs from 0 again.
    enc.push(&small(16), t0, &mut |r| repairs.push(r)).unwrap();
    enc.restart(geid(), &mut |r| repairs.push(r)).unwrap();
    enc.push(&small(0), t0, &mut |r| repairs.push(r)).unwrap();
    enc.flush(&mut |r| repairs.push(r)).unwrap();
    assert_eq!(
        enc.restart(geid2(), &mut |_| ()).unwrap_err(),
        FecError::NotProtected(geid2())
    );
    let blocks: Vec<_> = repairs.iter().map(|r| r.header.sequences()).collect();
    assert_eq!(blocks, [10..12, 13..14, 15..16, 16..17, 0..1]);
    for r in &repairs {
        assert!(r.payload.len() <= 600);
    }
}

#[test]
fn two_protected_encodings_have_their_own_blocks() {
    let t0 = origin();
    let config = FecEncoderConfig::default().max_source_messages(3);
    let mut enc = FecEncoder::new(config, [geid(), geid2(), geid()]).unwrap();
    let mut dec = FecDecoder::new(FecDecoderConfig::default(), [geid(), geid2()]).unwrap();
    let a: Vec<Bytes> = (0..3)
        .map(|s| source(geid(), s, 80, Algorithm::Null))
        .collect();
    let b: Vec<Bytes> = (0..3)
        .map(|s| source(geid2(), s, 90, Algorithm::Null))
        .collect();
    let mut repairs = Vec::new();
    for (x, y) in a.iter().zip(&b) {
        enc.push(x, t0, &mut |r| repairs.push(r)).unwrap();
        enc.push(y, t0, &mut |r| repairs.push(r)).unwrap();
    }
    assert_eq!(repairs.len(), 2);
    assert_eq!(repairs[0].header.protected, geid());
    assert_eq!(repairs[1].header.protected, geid2());
    // Lose a[1] and b[2].
    for m in [&a[0], &a[2], &b[0], &b[1]] {
        assert!(feed_source(&mut dec, m, t0).is_empty());
    }
    let got: Vec<Restored> = repairs
        .iter()
        .flat_map(|r| feed_repair(&mut dec, &r.payload, t0))
        .collect();
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].global_encoding_id, got[0].sequence_id), (geid(), 1));
    assert_eq!(got[0].message, a[1]);
    assert_eq!(
        (got[1].global_encoding_id, got[1].sequence_id),
        (geid2(), 2)
    );
    assert_eq!(got[1].message, b[2]);
}

#[test]
fn restores_when_the_repair_comes_first_and_ignores_late_copies() {
    let t0 = origin();
    let msgs = messages(0, 20);
    let repairs = encode_all(&mut encoder(FecEncoderConfig::default()), &msgs, t0);
    let mut dec = decoder();
    // The repairs overtake the sources; 4 sources are lost.
    for r in &repairs[..3] {
        assert!(feed_repair(&mut dec, &r.payload, t0).is_empty());
    }
    let lost = [2usize, 7, 8, 19];
    let mut got = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        if !lost.contains(&i) {
            got.extend(feed_source(&mut dec, m, t0));
        }
    }
    // 16 sources and 3 repairs: 19 < 20, nothing yet; the 4th repair completes it.
    assert!(got.is_empty());
    got.extend(feed_repair(&mut dec, &repairs[3].payload, t0));
    let seqs: Vec<u64> = got.iter().map(|r| r.sequence_id).collect();
    assert_eq!(seqs, [2, 7, 8, 19]);
    for r in &got {
        assert_eq!(r.message, msgs[r.sequence_id as usize]);
    }
    assert_eq!(dec.buffered_bytes(), 0, "a settled block holds nothing");
    assert_eq!(dec.buffered_messages(), 0);
    // A late original, and repeated repairs, are duplicates.
    assert!(feed_source(&mut dec, &msgs[7], t0).is_empty());
    assert!(feed_repair(&mut dec, &repairs[0].payload, t0).is_empty());
    let s = dec.stats();
    assert_eq!((s.restored, s.blocks_restored, s.duplicates), (4, 1, 2));
    assert_eq!(dec.buffered_messages(), 0);
    // The encoding restarts with sequence IDs from 0: after restart() they are new again.
    let again = source(geid(), 3, 10, Algorithm::Null);
    assert!(feed_source(&mut dec, &again, t0).is_empty());
    assert_eq!(dec.stats().duplicates, 3);
    dec.restart(geid()).unwrap();
    assert_eq!((dec.blocks(), dec.buffered_bytes()), (0, 0));
    assert!(feed_source(&mut dec, &again, t0).is_empty());
    assert_eq!(dec.buffered_messages(), 1);
    assert_eq!(
        dec.restart(geid2()).unwrap_err(),
        FecError::NotProtected(geid2())
    );
}

#[test]
fn a_block_that_arrives_whole_needs_nothing() {
    let t0 = origin();
    let msgs = messages(0, 10);
    let repairs = encode_all(&mut encoder(FecEncoderConfig::default()), &msgs, t0);
    let mut dec = decoder();
    for m in &msgs {
        assert!(feed_source(&mut dec, m, t0).is_empty());
    }
    assert_eq!(dec.buffered_messages(), 10);
    assert!(feed_repair(&mut dec, &repairs[0].payload, t0).is_empty());
    assert_eq!(dec.stats().blocks_complete, 1);
    assert_eq!(dec.buffered_messages(), 0);
    assert!(feed_repair(&mut dec, &repairs[1].payload, t0).is_empty());
    assert_eq!(dec.stats().duplicates, 1);
}

#[test]
fn too_many_losses_are_reported_at_the_horizon() {
    let t0 = origin();
    let msgs = messages(0, 20);
    let repairs = encode_all(&mut encoder(FecEncoderConfig::default()), &msgs, t0);
    let mut dec = decoder();
    for m in &msgs[5..] {
        feed_source(&mut dec, m, t0);
    }
    for r in &repairs {
        assert!(feed_repair(&mut dec, &r.payload, t0 + ms(10)).is_empty());
    }
    assert_eq!(dec.poll_timeout(), Some(t0 + Duration::from_secs(1)));
    dec.handle_timeout(t0 + Duration::from_secs(1));
    // The sources went at the horizon, the block 10 ms later.
    assert_eq!(dec.buffered_messages(), 0);
    assert_eq!(dec.blocks(), 1);
    assert_eq!(dec.stats().blocks_unrecoverable, 0);
    dec.handle_timeout(t0 + Duration::from_millis(1010));
    assert_eq!(dec.blocks(), 0);
    assert_eq!(dec.buffered_bytes(), 0);
    assert_eq!(dec.poll_timeout(), None);
    let s = dec.stats();
    assert_eq!((s.blocks_unrecoverable, s.messages_unrecovered), (1, 5));
    assert_eq!(s.restored, 0);
}

#[test]
fn inconsistent_repairs_give_the_block_up() {
    let t0 = origin();
    let msgs = messages(0, 4);
    let repairs = encode_all(
        &mut encoder(FecEncoderConfig::default().min_repair_messages(2)),
        &msgs,
        t0,
    );
    let mut dec = decoder();
    feed_repair(&mut dec, &repairs[0].payload, t0);
    // The same block announced with another symbol length.
    let mut longer = repairs[1].payload.clone();
    longer.push(0);
    assert!(matches!(
        dec.push_repair(&longer, t0, &mut |_| ()).unwrap_err(),
        FecError::Inconsistent {
            first_sequence: 0,
            ..
        }
    ));
    assert_eq!(dec.stats().blocks_failed, 1);
    // Given up: nothing comes of the rest.
    for m in &msgs[1..] {
        assert!(feed_source(&mut dec, m, t0).is_empty());
    }
    // A block overlapping a known one is refused and changes nothing.
    let other = encode_block(geid(), 2, &[&msgs[2][..], &msgs[3][..]], 1).unwrap();
    assert!(matches!(
        dec.push_repair(&other[0], t0, &mut |_| ()).unwrap_err(),
        FecError::Inconsistent {
            first_sequence: 2,
            ..
        }
    ));
    // A source longer than the block's symbols allow is inconsistent too.
    let mut dec = decoder();
    let two = encode_block(geid(), 20, &[&b"0123456789abcdef"[..], &b"x"[..]], 1).unwrap();
    let _ = feed_repair(&mut dec, &two[0], t0);
    assert!(matches!(
        dec.push_source(source(geid(), 20, 100, Algorithm::Null), t0, &mut |_| ())
            .unwrap_err(),
        FecError::Inconsistent {
            first_sequence: 20,
            ..
        }
    ));
}

#[test]
fn a_tampered_repair_restores_nothing_wrong() {
    let t0 = origin();
    let msgs = messages(0, 5);
    let repairs = encode_all(&mut encoder(FecEncoderConfig::default()), &msgs, t0);
    assert_eq!(repairs.len(), 1);
    let (header, symbol) = RepairHeader::parse(&repairs[0].payload).unwrap();
    let start = repairs[0].payload.len() - symbol.len();
    // Flip a bit in the length prefix and in the padding region of the lost message.
    for offset in [0usize, 1, symbol.len() - 1] {
        let mut bad = repairs[0].payload.clone();
        bad[start + offset] ^= 0x40;
        let mut dec = decoder();
        for m in &msgs[1..] {
            feed_source(&mut dec, m, t0);
        }
        let mut got = Vec::new();
        let err = dec.push_repair(&bad, t0, &mut |r| got.push(r)).unwrap_err();
        assert!(
            matches!(err, FecError::Corrupt { sequence_id: 0, .. }),
            "{err:?} at {offset} of {header:?}"
        );
        assert!(got.is_empty());
        assert_eq!(dec.stats().blocks_failed, 1);
    }
}

#[test]
fn limits_bound_what_is_held() {
    let t0 = origin();
    let config = FecDecoderConfig::default()
        .max_messages(10)
        .max_bytes(5000)
        .max_blocks(3);
    let mut dec = FecDecoder::new(config, [geid()]).unwrap();
    let msgs = messages(0, 200);
    for (i, m) in msgs.iter().enumerate() {
        feed_source(&mut dec, m, t0 + ms(i as u64));
        assert!(dec.buffered_messages() <= 10);
        assert!(dec.buffered_bytes() <= 5000);
    }
    assert!(dec.stats().evicted > 150);
    // Blocks whose sources never come.
    let mut enc = encoder(FecEncoderConfig::default().max_source_messages(2));
    let far = messages(1000, 20);
    let repairs = encode_all(&mut enc, &far, t0);
    for r in &repairs {
        let _ = feed_repair(&mut dec, &r.payload, t0 + ms(300));
        assert!(dec.blocks() <= 3);
        assert!(dec.buffered_bytes() <= 5000);
    }
    let s = dec.stats();
    assert_eq!(
        s.blocks_unrecoverable,
        10 - 3,
        "evicted blocks count as unrecoverable"
    );
    dec.handle_timeout(t0 + Duration::from_secs(5));
    assert_eq!(
        (dec.blocks(), dec.buffered_messages(), dec.buffered_bytes()),
        (0, 0, 0)
    );
}

#[test]
fn sealed_round_trip_through_packetizers() {
    // The publisher's contract: protected packetizer sized for the repair overhead, the FEC
    // encoding's own packetizer seals repairs; the subscriber opens restored messages.
    let t0 = origin();
    let video = EncodingIds {
        conference_id: 7,
        endpoint_id: 300,
        source_id: 1,
        encoding_id: 1,
    };
    let fec = EncodingIds {
        encoding_id: 2,
        ..video
    };
    let key = |ids: &EncodingIds| {
        MessageKey::derive(
            Algorithm::Aes128Gcm,
            b"secret",
            ids.conference_id,
            ids.endpoint_id,
            ids.global_encoding_id(),
        )
    };
    let datagram = 1200;
    let fec_payload = datagram - 128;
    let config = FecEncoderConfig::default().max_repair_payload(fec_payload);
    let mut fec_packetizer =
        Packetizer::new(Sealer::new(key(&fec), [3; 12]), fec, datagram, None).unwrap();
    let mut video_packetizer = Packetizer::new(
        Sealer::new(key(&video), [4; 12]),
        video,
        config.max_source_len(),
        None,
    )
    .unwrap();
    let mut enc = FecEncoder::new(config, [video.global_encoding_id()]).unwrap();
    let payload: Vec<u8> = (0..30_000u32).map(|i| (i * 7) as u8).collect();
    let frame = Frame {
        payload: &payload,
        capture_time: 3_913_056_000_123,
        reference: true,
        layer_id: None,
        active_level: None,
    };
    let mut sources = Vec::new();
    video_packetizer
        .packetize(&frame, t0, &mut |d| sources.push(d))
        .unwrap();
    let mut fec_msgs = Vec::new();
    let mut seal = |r: Repair, fec_msgs: &mut Vec<Bytes>| {
        let f = Frame {
            payload: &r.payload,
            capture_time: r.capture_time.unwrap(),
            reference: false,
            layer_id: None,
            active_level: None,
        };
        let n = fec_packetizer
            .packetize(&f, t0, &mut |d| fec_msgs.push(d))
            .unwrap();
        assert_eq!(n, 1, "a repair fits one message");
    };
    let mut repairs = Vec::new();
    for s in &sources {
        enc.push(s, t0, &mut |r| repairs.push(r)).unwrap();
    }
    enc.flush(&mut |r| repairs.push(r)).unwrap();
    for r in repairs {
        seal(r, &mut fec_msgs);
    }
    for m in &fec_msgs {
        let view = HeaderView::parse(m).unwrap();
        assert!(m.len() <= datagram);
        assert_eq!(view.global_encoding_id(), fec.global_encoding_id());
        assert_eq!(view.headers().chunk, None);
    }
    // Receive: lose the first message of each block. The very first carries the salt, so
    // nothing opens until FEC restores it: sources go to the decoder whether or not they
    // opened yet, and authentication happens when the restored messages are opened.
    let mut fec_opener = Opener::new(key(&fec));
    let mut video_opener = Opener::new(key(&video));
    let mut dec =
        FecDecoder::new(FecDecoderConfig::default(), [video.global_encoding_id()]).unwrap();
    let mut plain = Vec::new();
    let mut restored = Vec::new();
    let mut arrived = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        if i % 20 == 0 {
            continue;
        }
        let view = HeaderView::parse(s).unwrap();
        assert!(
            video_opener.open(&view, &mut plain).is_err(),
            "salt unknown"
        );
        dec.push_source(s.clone(), t0, &mut |r| restored.push(r))
            .unwrap();
        arrived.push(s.clone());
    }
    for m in &fec_msgs {
        let view = HeaderView::parse(m).unwrap();
        let p = fec_opener.open(&view, &mut plain).unwrap();
        dec.push_repair(p, t0, &mut |r| restored.push(r)).unwrap();
    }
    assert_eq!(restored.len(), sources.len().div_ceil(20));
    for r in &restored {
        assert_eq!(r.message, sources[r.sequence_id as usize]);
    }
    arrived.extend(restored.into_iter().map(|r| r.message));
    arrived.sort_by_key(|m| HeaderView::parse(m).unwrap().sequence_id());
    let mut reassembler = Reassembler::default();
    let mut frames = Vec::new();
    for m in &arrived {
        let view = HeaderView::parse(m).unwrap();
        let p = video_opener.open(&view, &mut plain).unwrap();
        frames.extend(reassembler.push(&view, p, t0).unwrap());
    }
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].payload, payload);
}
