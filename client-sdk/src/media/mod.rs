//! The media pipeline of the client SDK, sans-IO (draft §5, §6.4, §6.7; PROTOCOL.md §4, §5,
//! §9). Every type here takes `now: Instant` from the caller, never reads a clock, never
//! touches a socket and never panics on input, so the async shell (QUIC transport,
//! publisher and subscriber tasks) only moves bytes and timers, and every piece is tested
//! in virtual time.
//!
//! Publishing one encoding:
//!
//! - [`packetizer`]: encoded frames -> sealed RTP3 messages that fit the path's datagram
//!   size, with sequence IDs, frame chunk headers and the once-a-second full set.
//! - [`pacer`]: the flow's send pacer (maximum bitrate, audio first, bounded queues) and the
//!   audio frame pacer (one frame per packet time).
//! - [`stats`]: the §6.7 send-side metrics.
//! - [`fec`]: the `flex-fec-rs` FEC stream's repair messages over the sealed messages
//!   (PROTOCOL.md §16).
//!
//! Receiving one encoding, and the endpoint's feedback:
//!
//! - [`reassembler`]: opened messages in any order, duplicated or lost -> complete frames,
//!   the sequence IDs to ask again for, and a deadline after which a frame is given up.
//! - [`recovery`]: when to send RetransmissionRequests for what the reassembler misses.
//! - [`jitter`]: the adaptive jitter buffer that plays frames in order at their time.
//! - [`lipsync`]: sync groups that make the lip-sync streams of one sender play together.
//! - [`report`]: RFC 3550 reception statistics and the one compound, MTU-bounded
//!   ReceiverReport per endpoint, on a schedule bounded per media type (seed 003).
//! - [`stats`]: the §6.7 receive-side metrics.
//! - [`fec`]: restores lost messages from the FEC stream's repairs.
//!
//! Sealing and opening are proto's [`Sealer`](newmedia_proto::rtp3::Sealer) and
//! [`Opener`](newmedia_proto::rtp3::Opener): the packetizer seals, the caller opens each
//! datagram before handing it to the reassembler.
//!
//! ## The receive run loop
//!
//! Each module states its own contract; together, for one datagram of encoding `e` at
//! `now` (`client-sdk/tests/media_pipeline.rs` runs exactly this):
//!
//! ```text
//! view = HeaderView::parse(datagram)?            reporter.handle_message(e, seq, capture, len, now)
//! plain = opener[e].open(&view)?                 recovery[e].handle_message(seq, now)
//! if let Some(f) = reassembler[e].push(&view, plain, now)? { jitter[e].push(f.try_into()?, now) }
//! jitter[e].handle_settled(reassembler[e].settled_below())
//! while let Some(req) = recovery[e].poll_request(&reassembler[e], now) { send req }
//! sync_group.align(&mut [(e, &mut jitter[e]), ...])   // lip-sync streams of one sender
//! while let Some(frame) = jitter[e].poll_frame(now) { render frame }
//! ```
//!
//! and at the earliest of every `poll_timeout()`: `reassembler.handle_timeout(now)` (then
//! `handle_settled` again), the recovery and jitter polls as above, and
//! `reporter.poll_report(now)`.

pub mod fec;
pub mod jitter;
pub mod kind;
pub mod lipsync;
pub mod pacer;
pub mod packetizer;
pub mod reassembler;
pub mod recovery;
pub mod report;
pub mod stats;

pub use fec::{
    FecDecoder, FecDecoderConfig, FecDecoderStats, FecEncoder, FecEncoderConfig, FecEncoderStats,
    FecError, Repair, RepairHeader, Restored,
};
pub use jitter::{JitterBuffer, JitterConfig, JitterError, JitterFrame, JitterStats, PlayoutFrame};
pub use kind::MediaKind;
pub use lipsync::{ClockAnchor, PlayoutClock, SyncGroup};
pub use pacer::{AudioFramePacer, Pacer, PacerConfig, PacerError, QueueStats, Transmit};
pub use packetizer::{EncodingIds, FULL_SET_INTERVAL, Frame, PacketizeError, Packetizer};
pub use reassembler::{
    Missing, ReassembleError, ReassembledFrame, Reassembler, ReassemblerConfig, ReassemblerStats,
    SequenceRange,
};
pub use recovery::{Recovery, RecoveryConfig, RecoveryStats};
pub use report::{ReceiveStatistics, ReportError, Reporter, ReporterConfig, ReporterStats};
pub use stats::{
    ReceiveStreamSnapshot, ReceiveStreamStats, SendStreamSnapshot, SendStreamStats, VideoFormat,
};

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use newmedia_proto::crypto::{Algorithm, MessageKey};
    use newmedia_proto::rtp3::{Chunk, HeaderView, Headers, Opener, Sealer};
    use proptest::prelude::*;
    use std::time::{Duration, Instant};

    const IDS: EncodingIds = EncodingIds {
        conference_id: 7,
        endpoint_id: 300,
        source_id: 2,
        encoding_id: 1,
    };
    const SALT: [u8; 12] = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 12];

    /// The one real instant the virtual clock offsets from.
    #[allow(clippy::disallowed_methods)]
    fn origin() -> Instant {
        Instant::now()
    }

    fn key(alg: Algorithm) -> MessageKey {
        let geid = IDS.global_encoding_id();
        MessageKey::derive(alg, b"secret", IDS.conference_id, IDS.endpoint_id, geid)
    }

    fn packetizer(alg: Algorithm, max: usize) -> Packetizer {
        Packetizer::new(Sealer::new(key(alg), SALT), IDS, max, Some(46)).unwrap()
    }

    fn frame(payload: &[u8], capture_time: u64, reference: bool) -> Frame<'_> {
        Frame {
            payload,
            capture_time,
            reference,
            layer_id: Some(1),
            active_level: Some(30),
        }
    }

    fn run(p: &mut Packetizer, f: &Frame<'_>, now: Instant) -> Vec<Bytes> {
        let mut msgs = Vec::new();
        let n = p.packetize(f, now, &mut |b| msgs.push(b)).unwrap();
        assert_eq!(n, msgs.len());
        msgs
    }

    /// Opens every message in sending order (the salt comes with the first).
    fn open_all(alg: Algorithm, msgs: &[Bytes]) -> Vec<Vec<u8>> {
        let mut opener = Opener::new(key(alg));
        msgs.iter()
            .map(|m| {
                let view = HeaderView::parse(m).unwrap();
                let mut out = Vec::new();
                opener.open(&view, &mut out).unwrap();
                out
            })
            .collect()
    }

    fn push(
        r: &mut Reassembler,
        msg: &[u8],
        plain: &[u8],
        now: Instant,
    ) -> Option<ReassembledFrame> {
        r.push(&HeaderView::parse(msg).unwrap(), plain, now)
            .unwrap()
    }

    fn headers(msg: &[u8]) -> Headers {
        HeaderView::parse(msg).unwrap().headers()
    }

    /// A small deterministic generator for shuffling in property tests.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    proptest! {
        #[test]
        fn round_trip_shuffled_duplicated(
            sizes in proptest::collection::vec(0usize..6000, 1..8),
            max in 100usize..1500,
            aes in any::<bool>(),
            seed in 1u64..u64::MAX,
        ) {
            let alg = if aes { Algorithm::Aes128Gcm } else { Algorithm::Null };
            let t0 = origin();
            let mut p = packetizer(alg, max);
            let frames: Vec<Vec<u8>> = sizes
                .iter()
                .enumerate()
                .map(|(i, n)| (0..*n).map(|b| (b * 31 + i) as u8).collect())
                .collect();
            let mut msgs = Vec::new();
            for (i, f) in frames.iter().enumerate() {
                let now = t0 + Duration::from_millis(i as u64 * 300);
                let out = run(&mut p, &frame(f, 1000 + i as u64, i % 2 == 0), now);
                for (k, m) in out.iter().enumerate() {
                    prop_assert!(m.len() <= max);
                    // Every chunk but the last is full (a varint length step may leave 1 byte).
                    if k + 1 < out.len() {
                        prop_assert!(m.len() + 1 >= max, "{} of {}", m.len(), max);
                    }
                }
                msgs.extend(out);
            }
            let plains = open_all(alg, &msgs);
            let mut order: Vec<usize> = (0..msgs.len()).collect();
            let mut s = seed;
            for i in (1..order.len()).rev() {
                order.swap(i, (xorshift(&mut s) % (i as u64 + 1)) as usize);
            }
            let mut r = Reassembler::default();
            let mut got = Vec::new();
            for i in order {
                let copies = 1 + xorshift(&mut s) % 2;
                for _ in 0..copies {
                    if let Some(f) = push(&mut r, &msgs[i], &plains[i], t0) {
                        got.push(f);
                    }
                }
            }
            got.sort_by_key(|f| f.first_sequence);
            prop_assert_eq!(got.len(), frames.len());
            for (i, (g, f)) in got.iter().zip(&frames).enumerate() {
                prop_assert_eq!(&g.payload, f);
                prop_assert_eq!(g.capture_time, Some(1000 + i as u64));
                prop_assert_eq!(g.reference, i % 2 == 0);
                prop_assert_eq!(g.layer_id, Some(1));
            }
            prop_assert_eq!(r.missing().count(), 0);
            prop_assert_eq!(r.frames_in_progress(), 0);
            prop_assert_eq!(r.buffered_bytes(), 0);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut r = Reassembler::new(ReassemblerConfig { window: 1000, ..Default::default() });
            if let Ok(view) = HeaderView::parse(&bytes) {
                let _ = r.push(&view, view.sealed_payload(), origin());
                let _ = r.missing().count();
            }
        }

        #[test]
        fn arbitrary_headers_never_panic(
            msgs in proptest::collection::vec(
                (0u64..(1 << 62), 0u64..(1 << 62), 1u64..(1 << 62), 0usize..50, 0u64..2000),
                1..40,
            ),
        ) {
            let t0 = origin();
            let sealer = Sealer::new(key(Algorithm::Null), SALT);
            let mut r = Reassembler::new(ReassemblerConfig {
                window: 4096,
                max_frames: 4,
                max_bytes: 200,
                ..Default::default()
            });
            for (seq, index, count, len, ms) in msgs {
                let mut h = Headers::new(IDS.global_encoding_id(), seq % 5000);
                h.chunk = (count > 1).then_some(Chunk { index: index % count, count });
                let mut buf = Vec::new();
                sealer.seal(&h, &vec![1; len], &mut buf).unwrap();
                let view = HeaderView::parse(&buf).unwrap();
                let now = t0 + Duration::from_millis(ms);
                let _ = r.push(&view, view.sealed_payload(), now);
                r.handle_timeout(now);
                prop_assert!(r.frames_in_progress() <= 4);
                prop_assert!(r.buffered_bytes() <= 200);
                let missing: u64 = r.missing().map(|m| m.count).sum();
                prop_assert!(missing <= 4096);
            }
        }
    }

    #[test]
    fn single_and_chunked_frames() {
        let t0 = origin();
        let mut p = packetizer(Algorithm::Aes128Gcm, 200);
        let small = run(&mut p, &frame(b"hello", 5, false), t0);
        assert_eq!(small.len(), 1);
        let h = headers(&small[0]);
        assert_eq!(h.chunk, None);
        assert_eq!(h.sequence_id, 0);
        assert_eq!(h.global_message_id, None);
        assert_eq!(h.reference_frame, None);

        let big = vec![3u8; 1000];
        let msgs = run(&mut p, &frame(&big, 6, true), t0);
        assert!(msgs.len() > 1);
        for (i, m) in msgs.iter().enumerate() {
            let h = headers(m);
            assert_eq!(h.sequence_id, 1 + i as u64);
            assert_eq!(
                h.chunk,
                Some(Chunk {
                    index: i as u64,
                    count: msgs.len() as u64
                })
            );
            assert_eq!(h.capture_time, Some(6));
            assert_eq!(h.reference_frame, Some(true));
            assert_eq!(h.layer_id, Some(1));
            assert_eq!(h.active_level, Some(30));
            assert_eq!(h.global_message_id, None);
            assert!(m.len() <= 200);
        }
        assert_eq!(p.next_sequence_id(), 1 + msgs.len() as u64);
    }

    #[test]
    fn fewest_messages_exact_fit() {
        let t0 = origin();
        // Find the largest frame that fits one message after the first (no full set).
        let mut p = packetizer(Algorithm::Aes128Gcm, 300);
        run(&mut p, &frame(b"x", 0, false), t0);
        let mut n = 0;
        loop {
            let mut q = packetizer(Algorithm::Aes128Gcm, 300);
            run(&mut q, &frame(b"x", 0, false), t0);
            let msgs = run(&mut q, &frame(&vec![0; n + 1], 0, false), t0);
            if msgs.len() > 1 {
                break;
            }
            n += 1;
        }
        let msgs = run(&mut p, &frame(&vec![0; n], 0, false), t0);
        assert_eq!(msgs.len(), 1);
        assert_eq!(
            msgs[0].len(),
            300,
            "a full single message fills the datagram"
        );
        let msgs = run(&mut p, &frame(&vec![0; n + 1], 0, false), t0);
        assert_eq!(msgs.len(), 2);
    }

    #[test]
    fn empty_frame_is_one_message() {
        let t0 = origin();
        let mut p = packetizer(Algorithm::Null, 100);
        let msgs = run(&mut p, &frame(b"", 1, false), t0);
        assert_eq!(msgs.len(), 1);
        let plains = open_all(Algorithm::Null, &msgs);
        let mut r = Reassembler::default();
        let f = push(&mut r, &msgs[0], &plains[0], t0).unwrap();
        assert!(f.payload.is_empty());
        assert_eq!(f.first_sequence, 0);
    }

    #[test]
    fn datagram_too_small() {
        let sealer = Sealer::new(key(Algorithm::Aes128Gcm), SALT);
        let err = Packetizer::new(sealer, IDS, 40, None).unwrap_err();
        assert!(matches!(
            err,
            PacketizeError::DatagramTooSmall {
                max_datagram: 40,
                ..
            }
        ));
        let mut p = packetizer(Algorithm::Aes128Gcm, 100);
        assert!(p.set_max_datagram(30).is_err());
        assert_eq!(p.max_datagram(), 100);
        let err = p
            .packetize(
                &Frame {
                    active_level: Some(101),
                    ..frame(b"x", 0, false)
                },
                origin(),
                &mut |_| panic!("nothing is sent on error"),
            )
            .unwrap_err();
        assert!(matches!(err, PacketizeError::Rtp3(_)));
        assert_eq!(p.next_sequence_id(), 0);
    }

    #[test]
    fn full_set_once_a_second() {
        let t0 = origin();
        let mut p = packetizer(Algorithm::Aes128Gcm, 120);
        let big = vec![1u8; 400];
        let mut seen = Vec::new();
        for ms in [0u64, 400, 999, 1000, 1500, 1999, 2100, 2200] {
            let msgs = run(
                &mut p,
                &frame(&big, ms, false),
                t0 + Duration::from_millis(ms),
            );
            assert!(msgs.len() > 2);
            for (i, m) in msgs.iter().enumerate() {
                let h = headers(m);
                let full = h.salt.is_some();
                assert_eq!(h.conference_id.is_some(), full);
                assert_eq!(h.endpoint_id.is_some(), full);
                assert_eq!(h.encoding_id.is_some(), full);
                assert_eq!(h.source_id.is_some(), full);
                assert_eq!(h.dscp.is_some(), full);
                if full {
                    assert_eq!(i, 0, "only a frame's first message carries the set");
                    assert_eq!(h.salt, Some(SALT));
                    assert_eq!(h.conference_id, Some(7));
                    assert_eq!(h.endpoint_id, Some(300));
                    assert_eq!(h.encoding_id, Some(1));
                    assert_eq!(h.source_id, Some(2));
                    assert_eq!(h.dscp, Some(46));
                }
                if i == 0 {
                    seen.push(full);
                }
            }
        }
        // Every frame of the first second carries the set, then once a second.
        assert_eq!(seen, [true, true, true, false, false, true, false, false]);
        // Changing the DSCP sends the set again at once.
        p.set_dscp(Some(10)).unwrap();
        let msgs = run(
            &mut p,
            &frame(b"a", 0, false),
            t0 + Duration::from_millis(2300),
        );
        assert_eq!(headers(&msgs[0]).dscp, Some(10));
        assert!(p.set_dscp(Some(64)).is_err());
        // Asked for (an audio publisher's answer to the SFU for a new receiver): the next
        // frame's first message carries it, the one after does not.
        let at = |ms| t0 + Duration::from_millis(ms);
        assert!(
            headers(&run(&mut p, &frame(b"b", 0, false), at(2400))[0])
                .salt
                .is_none()
        );
        p.send_full_set_next();
        assert_eq!(
            headers(&run(&mut p, &frame(b"c", 0, false), at(2420))[0]).salt,
            Some(SALT)
        );
        assert!(
            headers(&run(&mut p, &frame(b"d", 0, false), at(2440))[0])
                .salt
                .is_none()
        );
    }

    /// Packetizes three frames of 3+ chunks each, NULL, opened.
    fn three_frames(t0: Instant) -> (Vec<Bytes>, Vec<Vec<u8>>, usize) {
        let mut p = packetizer(Algorithm::Null, 100);
        let mut msgs = Vec::new();
        for i in 0..3u8 {
            msgs.extend(run(&mut p, &frame(&[i; 250], i.into(), false), t0));
        }
        let per_frame = msgs.len() / 3;
        assert_eq!(per_frame * 3, msgs.len());
        let plains = open_all(Algorithm::Null, &msgs);
        (msgs, plains, per_frame)
    }

    #[test]
    fn dropped_chunk_is_missing_then_retransmitted() {
        let t0 = origin();
        let (msgs, plains, per) = three_frames(t0);
        let lost = per + 1; // second chunk of the second frame
        let mut r = Reassembler::default();
        let mut got = Vec::new();
        for (i, (m, pl)) in msgs.iter().zip(&plains).enumerate() {
            if i != lost {
                got.extend(push(&mut r, m, pl, t0));
            }
        }
        assert_eq!(got.len(), 2);
        let missing: Vec<_> = r.missing().collect();
        assert_eq!(
            missing,
            [SequenceRange {
                first: lost as u64,
                count: 1
            }]
        );
        let t1 = t0 + Duration::from_millis(100);
        r.handle_timeout(t1);
        let f = push(&mut r, &msgs[lost], &plains[lost], t1).unwrap();
        assert_eq!(f.first_sequence, per as u64);
        assert_eq!(f.payload, vec![1u8; 250]);
        assert_eq!(r.missing().count(), 0);
        // A second copy of the retransmission is a duplicate.
        assert!(push(&mut r, &msgs[lost], &plains[lost], t1).is_none());
        let s = r.stats();
        assert_eq!((s.frames_completed, s.frames_lost, s.duplicates), (3, 0, 1));
    }

    #[test]
    fn missing_tail_of_last_frame_is_reported() {
        let t0 = origin();
        let (msgs, plains, _) = three_frames(t0);
        let last = msgs.len() - 1;
        let mut r = Reassembler::default();
        for (m, pl) in msgs.iter().zip(&plains).take(last) {
            push(&mut r, m, pl, t0);
        }
        let missing: Vec<_> = r.missing().collect();
        assert_eq!(
            missing,
            [SequenceRange {
                first: last as u64,
                count: 1
            }]
        );
    }

    #[test]
    fn withheld_ids_settle_without_loss_and_lost_ones_with_it() {
        let t0 = origin();
        let (msgs, plains, per) = three_frames(t0);
        // The whole second frame is missing (the SFU held it back), so is the first chunk of
        // the third.
        let mut r = Reassembler::default();
        let mut got = Vec::new();
        for (i, (m, pl)) in msgs.iter().zip(&plains).enumerate() {
            if !(per..=2 * per).contains(&i) {
                got.extend(push(&mut r, m, pl, t0));
            }
        }
        assert_eq!(got.len(), 1);
        assert_eq!(r.frames_in_progress(), 1);
        let second = SequenceRange {
            first: per as u64,
            count: per as u64,
        };
        assert_eq!(r.settle_unavailable(second, true), per as u64);
        assert_eq!(r.settled_below(), 2 * per as u64);
        // Settled again: nothing more.
        assert_eq!(r.settle_unavailable(second, true), 0);
        // The third frame cannot complete without its first chunk: given up whole as lost.
        let third_start = SequenceRange {
            first: 2 * per as u64,
            count: 1,
        };
        assert_eq!(r.settle_unavailable(third_start, false), 1);
        assert_eq!(r.frames_in_progress(), 0);
        assert_eq!(r.buffered_bytes(), 0);
        assert_eq!(r.missing().count(), 0);
        assert_eq!(r.settled_below(), msgs.len() as u64);
        let s = r.stats();
        assert_eq!(
            (s.messages_withheld, s.messages_lost, s.frames_lost),
            (per as u64, 1, 1)
        );
        // A withheld message that turns up after all is a duplicate.
        assert!(push(&mut r, &msgs[per], &plains[per], t0).is_none());
        // IDs not known to exist are left alone.
        let future = SequenceRange {
            first: msgs.len() as u64,
            count: 5,
        };
        assert_eq!(r.settle_unavailable(future, true), 0);
    }

    #[test]
    fn a_stream_without_losses_needs_no_timer() {
        let t0 = origin();
        let (msgs, plains, per) = three_frames(t0);
        let mut r = Reassembler::default();
        for (i, (m, pl)) in msgs.iter().zip(&plains).enumerate() {
            push(&mut r, m, pl, t0);
            if (i + 1) % per == 0 {
                // A frame completed and nothing is missing: nothing to give up, ever.
                assert_eq!(r.poll_timeout(), None, "after message {i}");
            }
        }
        // A gap schedules the deadline again.
        let mut gap = Reassembler::default();
        push(&mut gap, &msgs[0], &plains[0], t0);
        push(&mut gap, &msgs[2], &plains[2], t0);
        assert!(gap.poll_timeout().is_some());
    }

    #[test]
    fn deadline_gives_up() {
        let t0 = origin();
        let (msgs, plains, per) = three_frames(t0);
        let lost = per + 1;
        let mut r = Reassembler::default();
        for (i, (m, pl)) in msgs.iter().zip(&plains).enumerate() {
            if i != lost {
                push(&mut r, m, pl, t0);
            }
        }
        assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_millis(500)));
        r.handle_timeout(t0 + Duration::from_millis(499));
        assert_eq!(r.frames_in_progress(), 1);
        r.handle_timeout(t0 + Duration::from_millis(500));
        assert_eq!(r.frames_in_progress(), 0);
        assert_eq!(r.buffered_bytes(), 0);
        assert_eq!(r.missing().count(), 0);
        assert_eq!(r.poll_timeout(), None);
        let s = r.stats();
        assert_eq!((s.frames_completed, s.frames_lost), (2, 1));
        // The retransmission comes too late.
        let late = t0 + Duration::from_millis(600);
        assert!(push(&mut r, &msgs[lost], &plains[lost], late).is_none());
        assert_eq!(r.stats().duplicates, 1);
    }

    #[test]
    fn a_later_message_reveals_a_lost_single_frame() {
        let t0 = origin();
        let mut p = packetizer(Algorithm::Null, 100);
        let mut msgs = Vec::new();
        for i in 0..3u8 {
            msgs.extend(run(&mut p, &frame(&[i], i.into(), false), t0));
        }
        let plains = open_all(Algorithm::Null, &msgs);
        let mut r = Reassembler::default();
        push(&mut r, &msgs[0], &plains[0], t0).unwrap();
        push(&mut r, &msgs[2], &plains[2], t0).unwrap();
        assert_eq!(
            r.missing().collect::<Vec<_>>(),
            [SequenceRange { first: 1, count: 1 }]
        );
        r.handle_timeout(t0 + Duration::from_secs(1));
        assert_eq!(r.missing().count(), 0);
        assert_eq!(r.stats().messages_lost, 1);
    }

    #[test]
    fn frame_limit_gives_up_the_oldest() {
        let t0 = origin();
        let (msgs, plains, per) = three_frames(t0);
        let mut r = Reassembler::new(ReassemblerConfig {
            max_frames: 2,
            ..Default::default()
        });
        for f in 0..3 {
            push(&mut r, &msgs[f * per], &plains[f * per], t0);
        }
        assert_eq!(r.frames_in_progress(), 2);
        assert_eq!(r.stats().frames_lost, 1);
        // The rest of the first frame are orphans; the others complete.
        let mut done = 0;
        for i in 1..per {
            for f in 0..3 {
                done += usize::from(
                    push(&mut r, &msgs[f * per + i], &plains[f * per + i], t0).is_some(),
                );
            }
        }
        assert_eq!(done, 2);
        assert_eq!(r.stats().orphans + r.stats().duplicates, per as u64 - 1);
    }

    #[test]
    fn deadlines_and_settling_are_exposed() {
        let t0 = origin();
        let (msgs, plains, per) = three_frames(t0);
        let mut r = Reassembler::default();
        // The first frame whole, then the second frame's last chunk 10 ms later.
        for i in 0..per {
            let f = push(&mut r, &msgs[i], &plains[i], t0);
            if i + 1 == per {
                assert_eq!(f.unwrap().chunk_count, per as u64);
            }
        }
        assert_eq!(r.settled_below(), per as u64);
        let t1 = t0 + Duration::from_millis(10);
        let last = 2 * per - 1;
        push(&mut r, &msgs[last], &plains[last], t1);
        assert_eq!(r.settled_below(), per as u64);
        for seq in per..last {
            assert_eq!(r.known_since(seq as u64), Some(t1));
            assert_eq!(
                r.deadline_of(seq as u64),
                Some(t1 + r.config().frame_deadline)
            );
        }
        assert_eq!(r.known_since(0), None, "settled");
        assert_eq!(r.known_since(2 * per as u64), None, "not known yet");
        r.handle_timeout(t1 + Duration::from_millis(500));
        assert_eq!(r.settled_below(), 2 * per as u64);
        assert_eq!(r.known_since(per as u64), None);
    }

    #[test]
    fn mid_stream_join_starts_at_the_first_frame() {
        let t0 = origin();
        let (msgs, plains, per) = three_frames(t0);
        let config = ReassemblerConfig {
            join_mid_stream: true,
            ..Default::default()
        };
        // The subscription starts with the second chunk of the second frame.
        let mut r = Reassembler::new(config);
        push(&mut r, &msgs[per + 1], &plains[per + 1], t0);
        let missing: Vec<_> = r.missing().collect();
        // Its first chunk, and the rest its chunk count announces.
        assert_eq!(
            missing,
            [
                SequenceRange {
                    first: per as u64,
                    count: 1
                },
                SequenceRange {
                    first: per as u64 + 2,
                    count: per as u64 - 2
                }
            ]
        );
        // Without the flag everything from 0 would be missing.
        let mut from_zero = Reassembler::default();
        push(&mut from_zero, &msgs[per + 1], &plains[per + 1], t0);
        assert_eq!(from_zero.missing().next().map(|m| m.first), Some(0));
        // The first frame's chunks are from before the join: ignored.
        for i in 0..per {
            assert!(push(&mut r, &msgs[i], &plains[i], t0).is_none());
        }
        assert_eq!(r.stats().duplicates, per as u64);
        let f = push(&mut r, &msgs[per], &plains[per], t0);
        let mut done = f.into_iter().collect::<Vec<_>>();
        for i in per + 2..msgs.len() {
            done.extend(push(&mut r, &msgs[i], &plains[i], t0));
        }
        assert_eq!(done.len(), 2);
        assert_eq!(r.missing().count(), 0);
    }

    #[test]
    fn inconsistent_chunk_count_is_refused() {
        let sealer = Sealer::new(key(Algorithm::Null), SALT);
        let geid = IDS.global_encoding_id();
        let msg = |seq: u64, index: u64, count: u64| {
            let mut h = Headers::new(geid, seq);
            h.chunk = Some(Chunk { index, count });
            let mut buf = Vec::new();
            sealer.seal(&h, b"ab", &mut buf).unwrap();
            buf
        };
        let t0 = origin();
        let mut r = Reassembler::default();
        let a = msg(0, 0, 3);
        let b = msg(1, 1, 4);
        assert!(push(&mut r, &a, b"ab", t0).is_none());
        let view = HeaderView::parse(&b).unwrap();
        assert!(matches!(
            r.push(&view, b"ab", t0),
            Err(ReassembleError::Inconsistent {
                count: 4,
                expected: 3
            })
        ));
        let c = msg(1, 2, 3);
        let view = HeaderView::parse(&c).unwrap();
        assert!(matches!(
            r.push(&view, b"ab", t0),
            Err(ReassembleError::BadChunk { .. })
        ));
    }
}
