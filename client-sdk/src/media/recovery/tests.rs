use super::*;
use crate::media::reassembler::ReassemblerConfig;
use newmedia_proto::crypto::{Algorithm, MessageKey};
use newmedia_proto::rtp3::{Chunk, HeaderView, Headers, Sealer};
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};

#[allow(clippy::disallowed_methods)]
fn origin() -> Instant {
    Instant::now()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn geid() -> GlobalEncodingId {
    GlobalEncodingId::derive(1, 2, 3, 4)
}

/// A single-message frame with sequence ID `seq` (NULL AEAD: the payload is the plaintext).
fn message(seq: u64) -> Vec<u8> {
    let key = MessageKey::derive(Algorithm::Null, b"", 1, 2, geid());
    let sealer = Sealer::new(key, [0; 12]);
    let mut h = Headers::new(geid(), seq);
    h.capture_time = Some(seq * 20);
    let mut buf = Vec::new();
    sealer.seal(&h, &seq.to_be_bytes(), &mut buf).unwrap();
    buf
}

/// Chunk `index` of a frame of `count` chunks starting at sequence ID `first`.
fn chunk(first: u64, index: u64, count: u64) -> Vec<u8> {
    let key = MessageKey::derive(Algorithm::Null, b"", 1, 2, geid());
    let sealer = Sealer::new(key, [0; 12]);
    let mut h = Headers::new(geid(), first + index);
    h.chunk = Some(Chunk { index, count });
    h.capture_time = Some(first);
    let mut buf = Vec::new();
    sealer.seal(&h, b"chunk", &mut buf).unwrap();
    buf
}

/// Delivers message `seq` to both the reassembler and the scheduler.
fn deliver(r: &mut Reassembler, rec: &mut Recovery, seq: u64, now: Instant) {
    let m = message(seq);
    let view = HeaderView::parse(&m).unwrap();
    rec.handle_message(seq, now);
    r.push(&view, view.sealed_payload(), now).unwrap();
}

fn ranges(req: &RetransmissionRequest) -> Vec<(u64, u64)> {
    req.ranges.iter().map(|r| (r.first, r.count)).collect()
}

fn setup() -> (Reassembler, Recovery, Instant) {
    let mut rec = Recovery::new(geid(), RecoveryConfig::default());
    rec.set_rtt(ms(40));
    (Reassembler::default(), rec, origin())
}

#[test]
fn waits_the_reorder_window_then_retries_every_rtt_and_stops_after_max_attempts() {
    let (mut r, mut rec, t0) = setup();
    deliver(&mut r, &mut rec, 0, t0);
    deliver(&mut r, &mut rec, 2, t0 + ms(1));
    assert_eq!(rec.poll_request(&r, t0 + ms(1)), None);
    assert_eq!(rec.poll_timeout(), Some(t0 + ms(6)), "5 ms reorder window");
    assert_eq!(rec.poll_request(&r, t0 + ms(5)), None);
    let req = rec.poll_request(&r, t0 + ms(6)).unwrap();
    assert_eq!(req.encoding, geid());
    assert_eq!(ranges(&req), [(1, 1)]);
    assert_eq!(req.capture_time, None);
    // Unanswered: again after 1.25 × 40 ms = 50 ms, up to 4 requests in all.
    let mut at = t0 + ms(6);
    for _ in 0..3 {
        assert_eq!(rec.poll_timeout(), Some(at + ms(50)));
        assert_eq!(rec.poll_request(&r, at + ms(49)), None);
        at += ms(50);
        assert_eq!(ranges(&rec.poll_request(&r, at).unwrap()), [(1, 1)]);
    }
    assert_eq!(rec.poll_timeout(), None, "attempts exhausted");
    assert_eq!(rec.poll_request(&r, at + ms(100)), None);
    assert_eq!(rec.outstanding(), 1);
    // The reassembler gives it up at its deadline.
    r.handle_timeout(t0 + ms(501));
    assert_eq!(rec.poll_request(&r, t0 + ms(501)), None);
    let s = rec.stats();
    assert_eq!(
        (
            s.requests_sent,
            s.sequences_requested,
            s.recovered,
            s.given_up
        ),
        (4, 4, 0, 1)
    );
    assert_eq!(rec.outstanding(), 0);
}

#[test]
fn a_paced_frame_is_not_asked_for_while_its_chunks_keep_coming() {
    let (mut r, mut rec, t0) = setup();
    // A frame of 5 chunks whose count announces them all at the first; the pacer sends one
    // every 4 ms, slower than the path reorders but within the 5 ms reorder window. The last
    // one is lost.
    for index in 0..4 {
        let now = t0 + ms(4 * index);
        let m = chunk(0, index, 5);
        let view = HeaderView::parse(&m).unwrap();
        rec.handle_message(index, now);
        r.push(&view, view.sealed_payload(), now).unwrap();
        for wait in 0..4 {
            assert_eq!(rec.poll_request(&r, now + ms(wait)), None);
        }
        assert_eq!(
            rec.poll_timeout(),
            Some(now + ms(5)),
            "from the last arrival"
        );
    }
    // Nothing follows: the tail is asked for a reorder window after the last arrival.
    assert_eq!(rec.poll_request(&r, t0 + ms(16)), None);
    let req = rec.poll_request(&r, t0 + ms(17)).unwrap();
    assert_eq!(ranges(&req), [(4, 1)]);
}

#[test]
fn a_reordered_message_is_not_requested() {
    let (mut r, mut rec, t0) = setup();
    deliver(&mut r, &mut rec, 0, t0);
    deliver(&mut r, &mut rec, 2, t0 + ms(1));
    assert_eq!(rec.poll_request(&r, t0 + ms(1)), None);
    deliver(&mut r, &mut rec, 1, t0 + ms(4));
    assert_eq!(rec.poll_request(&r, t0 + ms(10)), None);
    assert_eq!(rec.poll_timeout(), None);
    assert_eq!(rec.stats(), RecoveryStats::default());
}

#[test]
fn an_answered_request_counts_as_recovered() {
    let (mut r, mut rec, t0) = setup();
    deliver(&mut r, &mut rec, 0, t0);
    deliver(&mut r, &mut rec, 3, t0);
    let req = rec.poll_request(&r, t0 + ms(5)).unwrap();
    assert_eq!(ranges(&req), [(1, 2)], "consecutive IDs share a range");
    deliver(&mut r, &mut rec, 2, t0 + ms(45));
    let again = rec.poll_request(&r, t0 + ms(55)).unwrap();
    assert_eq!(ranges(&again), [(1, 1)], "only the one still missing");
    deliver(&mut r, &mut rec, 1, t0 + ms(60));
    assert_eq!(rec.poll_request(&r, t0 + ms(200)), None);
    let s = rec.stats();
    assert_eq!(
        (
            s.requests_sent,
            s.sequences_requested,
            s.recovered,
            s.given_up
        ),
        (2, 3, 2, 0)
    );
}

#[test]
fn the_reorder_window_follows_jitter_and_the_retry_interval_rtt() {
    let mut rec = Recovery::new(geid(), RecoveryConfig::default());
    assert_eq!(rec.reorder_window(), ms(5));
    assert_eq!(rec.retry_interval(), ms(125), "1.25 × the initial 100 ms");
    rec.set_jitter(ms(12));
    assert_eq!(rec.reorder_window(), ms(24));
    rec.set_rtt(ms(4));
    assert_eq!(rec.retry_interval(), ms(10), "floored at 10 ms");
    let rec = Recovery::new(
        geid(),
        RecoveryConfig::default()
            .min_reorder_window(ms(30))
            .jitter_factor(f64::NAN),
    );
    assert_eq!(rec.reorder_window(), ms(30));
}

#[test]
fn many_gaps_are_coalesced_within_the_range_bound() {
    let (mut r, _, t0) = setup();
    let mut rec = Recovery::new(geid(), RecoveryConfig::default().max_ranges(4));
    // Every other sequence ID of 0..20 arrives: 10 gaps (1, 3, ..., 19 minus the last).
    for seq in (0..20).step_by(2) {
        deliver(&mut r, &mut rec, seq, t0);
    }
    let now = t0 + ms(5);
    let first = rec.poll_request(&r, now).unwrap();
    assert_eq!(ranges(&first), [(1, 1), (3, 1), (5, 1), (7, 1)]);
    assert_eq!(rec.poll_timeout(), Some(now), "the rest is due at once");
    let second = rec.poll_request(&r, now).unwrap();
    assert_eq!(ranges(&second), [(9, 1), (11, 1), (13, 1), (15, 1)]);
    let third = rec.poll_request(&r, now).unwrap();
    assert_eq!(ranges(&third), [(17, 1)]);
    assert_eq!(rec.poll_request(&r, now), None);
    assert_eq!(rec.stats().requests_sent, 3);
    // The request encodes as a valid control message.
    let msg = newmedia_proto::control::ControlMessage::RetransmissionRequest(first);
    assert!(msg.to_vec().unwrap().len() < 100);
}

#[test]
fn nothing_is_asked_for_after_the_deadline() {
    let config = ReassemblerConfig {
        frame_deadline: ms(60),
        ..Default::default()
    };
    let mut r = Reassembler::new(config);
    let mut rec = Recovery::new(geid(), RecoveryConfig::default());
    rec.set_rtt(ms(40));
    let t0 = origin();
    deliver(&mut r, &mut rec, 0, t0);
    deliver(&mut r, &mut rec, 2, t0);
    assert!(rec.poll_request(&r, t0 + ms(5)).is_some());
    // The retry would be at 55 ms, before the 60 ms deadline; the one after (105 ms) is not.
    assert_eq!(rec.poll_timeout(), Some(t0 + ms(55)));
    assert!(rec.poll_request(&r, t0 + ms(55)).is_some());
    assert_eq!(rec.poll_timeout(), None);
    assert_eq!(rec.poll_request(&r, t0 + ms(59)), None);
    r.handle_timeout(t0 + ms(60));
    assert_eq!(rec.poll_request(&r, t0 + ms(60)), None);
    assert_eq!(rec.stats().given_up, 1);
}

#[test]
fn a_gap_given_up_before_its_window_is_lost_unrequested() {
    let config = ReassemblerConfig {
        frame_deadline: ms(3),
        ..Default::default()
    };
    let mut r = Reassembler::new(config);
    let mut rec = Recovery::new(geid(), RecoveryConfig::default());
    let t0 = origin();
    deliver(&mut r, &mut rec, 0, t0);
    deliver(&mut r, &mut rec, 2, t0);
    assert_eq!(rec.poll_request(&r, t0), None);
    assert_eq!(
        rec.poll_timeout(),
        None,
        "the window ends after the deadline"
    );
    r.handle_timeout(t0 + ms(3));
    assert_eq!(rec.poll_request(&r, t0 + ms(3)), None);
    let s = rec.stats();
    assert_eq!((s.requests_sent, s.lost_unrequested), (0, 1));
}

#[test]
fn tracking_is_bounded_oldest_first() {
    let mut r = Reassembler::default();
    let mut rec = Recovery::new(geid(), RecoveryConfig::default().max_tracked(3));
    let t0 = origin();
    deliver(&mut r, &mut rec, 10, t0);
    let req = rec.poll_request(&r, t0 + ms(5)).unwrap();
    assert_eq!(ranges(&req), [(0, 3)]);
    assert!(rec.poll_request(&r, t0 + ms(5)).is_none());
}

proptest! {
    #[test]
    fn requests_stay_within_what_is_missing(
        events in proptest::collection::vec((0u64..200, 0u64..30, any::<bool>()), 1..150),
        max_ranges in 1usize..6,
        max_attempts in 1u32..5,
        rtt_ms in 1u64..80,
    ) {
        let config = ReassemblerConfig { frame_deadline: ms(300), ..Default::default() };
        let mut r = Reassembler::new(config);
        let mut rec = Recovery::new(
            geid(),
            RecoveryConfig::default().max_ranges(max_ranges).max_attempts(max_attempts),
        );
        rec.set_rtt(ms(rtt_ms));
        let mut now = origin();
        let mut asked: HashMap<u64, u32> = HashMap::new();
        let mut arrived = BTreeSet::new();
        for (seq, advance, poll) in events {
            now += ms(advance);
            r.handle_timeout(now);
            deliver(&mut r, &mut rec, seq, now);
            arrived.insert(seq);
            if !poll {
                continue;
            }
            let missing: Vec<_> = r.missing().collect();
            while let Some(req) = rec.poll_request(&r, now) {
                prop_assert!(req.ranges.len() <= max_ranges);
                prop_assert!(newmedia_proto::control::ControlMessage::RetransmissionRequest(req.clone()).to_vec().is_ok());
                for range in &req.ranges {
                    for s in range.first..range.first + range.count {
                        prop_assert!(missing.iter().any(|m| m.first <= s && s < m.first + m.count));
                        prop_assert!(!arrived.contains(&s));
                        let n = asked.entry(s).or_default();
                        *n += 1;
                        prop_assert!(*n <= max_attempts);
                    }
                }
            }
        }
        let s = rec.stats();
        prop_assert_eq!(s.sequences_requested, asked.values().map(|n| u64::from(*n)).sum::<u64>());
        prop_assert_eq!(asked.len() as u64, s.recovered + s.given_up + rec.outstanding() as u64);
    }
}

#[test]
fn unavailable_ids_are_never_asked_for_again() {
    use crate::media::reassembler::SequenceRange as Range;
    let (mut r, mut rec, t0) = setup();
    for seq in [0, 4, 8] {
        deliver(&mut r, &mut rec, seq, t0);
    }
    let req = rec.poll_request(&r, t0 + ms(5)).unwrap();
    assert_eq!(ranges(&req), [(1, 3), (5, 3)]);
    // The SFU answers: 1-3 were withheld by policy, 5-7 are no longer in its cache.
    r.settle_unavailable(Range { first: 1, count: 3 }, true);
    rec.forget(1, 3, true);
    r.settle_unavailable(Range { first: 5, count: 3 }, false);
    rec.forget(5, 3, false);
    assert_eq!(rec.outstanding(), 0);
    assert_eq!(rec.poll_timeout(), None);
    assert_eq!(rec.poll_request(&r, t0 + ms(500)), None);
    let s = rec.stats();
    assert_eq!((s.withheld, s.given_up, s.recovered), (3, 3, 0));
    let rs = r.stats();
    assert_eq!((rs.messages_withheld, rs.messages_lost), (3, 3));
    assert_eq!(r.settled_below(), 9);
}
