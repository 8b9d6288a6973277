use super::*;
use proptest::prelude::*;

/// The one real instant the virtual clock offsets from.
#[allow(clippy::disallowed_methods)]
fn origin() -> Instant {
    Instant::now()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A sender clock far from zero, as NTP ms are.
const CAPTURE0: u64 = 3_900_000_000_000;

fn frame(seq: u64, capture: u64) -> JitterFrame {
    JitterFrame {
        payload: seq.to_be_bytes().to_vec(),
        capture_time: CAPTURE0 + capture,
        reference: false,
        first_sequence: seq,
        chunk_count: 1,
        layer_id: None,
    }
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Drains everything due at `now`.
fn drain(jb: &mut JitterBuffer, now: Instant) -> Vec<PlayoutFrame> {
    std::iter::from_fn(|| jb.poll_frame(now)).collect()
}

/// Runs a stream of frames every `period_ms` whose transit is `transit(i)` ms, polling at
/// every event. Returns (played frames with their poll instant, buffer).
fn simulate(
    config: JitterConfig,
    n: u64,
    period_ms: u64,
    transit: impl Fn(u64) -> u64,
) -> (Vec<(Instant, PlayoutFrame)>, JitterBuffer, Instant) {
    let t0 = origin();
    let mut jb = JitterBuffer::new(config);
    let mut arrivals: Vec<(Instant, u64)> = (0..n)
        .map(|i| (t0 + ms(i * period_ms + transit(i)), i))
        .collect();
    arrivals.sort();
    let mut played = Vec::new();
    let mut next = 0;
    loop {
        let arrival = arrivals.get(next).map(|a| a.0);
        let Some(now) = [arrival, jb.poll_timeout()].into_iter().flatten().min() else {
            break;
        };
        while let Some(&(t, i)) = arrivals.get(next) {
            if t > now {
                break;
            }
            jb.push(frame(i, i * period_ms), t);
            jb.handle_settled(i + 1);
            next += 1;
        }
        played.extend(drain(&mut jb, now).into_iter().map(|f| (now, f)));
    }
    (played, jb, t0)
}

#[test]
fn constant_transit_plays_at_min_delay_with_capture_spacing() {
    let (played, jb, t0) = simulate(JitterConfig::default(), 100, 20, |_| 35);
    assert_eq!(played.len(), 100);
    for (i, (polled, f)) in played.iter().enumerate() {
        let i = i as u64;
        assert_eq!(f.frame.first_sequence, i);
        assert_eq!(f.playout_at, t0 + ms(i * 20 + 35 + 10));
        assert_eq!(*polled, f.playout_at, "played exactly on time");
        assert!(!f.after_gap);
    }
    assert_eq!(jb.target_delay(), ms(10));
    assert_eq!(jb.jitter(), Duration::ZERO);
    assert_eq!(jb.stats().late + jb.stats().discarded, 0);
}

#[test]
fn rfc3550_jitter_of_alternating_transit() {
    // Transit alternates 0 and 8 ms: |D| = 8 ms every time, so J converges to 8 ms.
    let (_, jb, _) = simulate(JitterConfig::default(), 400, 20, |i| (i % 2) * 8);
    let j = jb.jitter().as_micros();
    assert!((7_900..=8_000).contains(&j), "{j}");
    // The target covers 2 J = 16 ms (more than the 8 ms percentile).
    let target = jb.target_delay().as_micros();
    assert!((15_800..=16_000).contains(&target), "{target}");
}

#[test]
fn target_adapts_to_jitter_and_covers_most_frames() {
    let mut s = 99u64;
    let transits: Vec<u64> = (0..1500).map(|_| 20 + xorshift(&mut s) % 41).collect();
    let (played, jb, _) = simulate(JitterConfig::default(), 1500, 20, |i| transits[i as usize]);
    assert_eq!(played.len(), 1500);
    // Delay above the fastest transit (20 ms) spreads over 0..40 ms.
    let target = jb.target_delay();
    assert!(target >= ms(34) && target <= ms(41), "{target:?}");
    // After the first second nearly every frame was already there at its playout time.
    let late = played
        .iter()
        .skip(50)
        .filter(|(polled, f)| *polled > f.playout_at)
        .count();
    assert!(late < 1450 / 20, "{late} frames played late");
    // Sequence order throughout.
    assert!(
        played
            .windows(2)
            .all(|w| w[0].1.frame.first_sequence < w[1].1.frame.first_sequence)
    );
}

#[test]
fn grows_fast_shrinks_slowly() {
    let config = JitterConfig::default().window(16);
    // 20 frames at 30 ms transit, then one at 230 ms, then 30 ms again.
    let (_, jb, _) = simulate(config, 20, 20, |_| 30);
    assert_eq!(jb.target_delay(), ms(10));
    let t0 = origin();
    let mut jb = JitterBuffer::new(config);
    for i in 0..20 {
        jb.push(frame(i, i * 20), t0 + ms(i * 20 + 30));
    }
    jb.push(frame(20, 400), t0 + ms(400 + 230));
    assert_eq!(jb.target_delay(), ms(200), "grows at once");
    // 15 frames later (300 ms) the spike is still in the window: no shrinking.
    for i in 21..36 {
        jb.push(frame(i, i * 20), t0 + ms(i * 20 + 30));
    }
    assert_eq!(jb.target_delay(), ms(200));
    // Once it leaves the window the need drops to 10 ms; the target follows at 20 ms/s.
    jb.push(frame(36, 720), t0 + ms(720 + 30));
    let after_one = jb.target_delay();
    assert!(after_one < ms(200) && after_one >= ms(199), "{after_one:?}");
    for i in 37..136 {
        jb.push(frame(i, i * 20), t0 + ms(i * 20 + 30));
    }
    // 2 s after the spike left: 200 - 2 s * 20 ms/s = 160 ms (within one frame's step).
    let later = jb.target_delay();
    assert!(later >= ms(159) && later <= ms(161), "{later:?}");
}

#[test]
fn bounds_clamp_the_target() {
    let config = JitterConfig::default().min_delay(ms(40)).max_delay(ms(60));
    let (_, jb, _) = simulate(config, 50, 20, |_| 5);
    assert_eq!(jb.target_delay(), ms(40));
    let (_, jb, _) = simulate(config, 50, 20, |i| (i % 2) * 300);
    assert_eq!(jb.target_delay(), ms(60));
}

#[test]
fn out_of_order_frames_play_in_sequence_order() {
    let t0 = origin();
    let mut jb = JitterBuffer::default();
    jb.push(frame(0, 0), t0 + ms(30));
    jb.push(frame(2, 40), t0 + ms(71));
    jb.push(frame(1, 20), t0 + ms(75));
    jb.handle_settled(3);
    let mut got = Vec::new();
    let mut now = t0 + ms(75);
    while let Some(t) = jb.poll_timeout() {
        now = now.max(t);
        got.extend(drain(&mut jb, now));
    }
    let seqs: Vec<u64> = got.iter().map(|f| f.frame.first_sequence).collect();
    assert_eq!(seqs, [0, 1, 2]);
    assert!(got.windows(2).all(|w| w[0].playout_at <= w[1].playout_at));
}

#[test]
fn gap_is_held_until_settled_then_skipped_and_late_frame_dropped() {
    let t0 = origin();
    let mut jb = JitterBuffer::default();
    jb.push(frame(0, 0), t0 + ms(30));
    jb.handle_settled(1);
    assert_eq!(drain(&mut jb, t0 + ms(40)).len(), 1);
    // Frame 1 (sequence 1..3, two chunks) is missing; frame at sequence 3 arrives.
    jb.push(
        JitterFrame {
            chunk_count: 1,
            ..frame(3, 40)
        },
        t0 + ms(70),
    );
    jb.handle_settled(1);
    let due = t0 + ms(40 + 30 + 10);
    assert!(drain(&mut jb, due).is_empty(), "held for the gap");
    assert_eq!(jb.poll_timeout(), Some(due + ms(500)));
    // The reassembler gives the gap up: the frame plays (late) and is marked.
    jb.handle_settled(3);
    let now = due + ms(100);
    let got = drain(&mut jb, now);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].frame.first_sequence, 3);
    assert_eq!(got[0].playout_at, due);
    assert!(got[0].after_gap);
    // The missing frame turns up after all: late.
    jb.push(frame(1, 20), now);
    assert!(jb.is_empty());
    let s = jb.stats();
    assert_eq!(
        (s.frames_pushed, s.frames_played, s.late, s.gaps_skipped),
        (2, 2, 1, 1)
    );
}

#[test]
fn gap_fill_within_wait_keeps_everything() {
    let t0 = origin();
    let mut jb = JitterBuffer::default();
    jb.push(frame(0, 0), t0 + ms(30));
    jb.handle_settled(1);
    drain(&mut jb, t0 + ms(40));
    jb.push(frame(2, 40), t0 + ms(71));
    jb.handle_settled(1);
    // Frame 1 comes 60 ms after its playout time; both then play at once, in order.
    let now = t0 + ms(20 + 30 + 10 + 60);
    assert!(drain(&mut jb, now - ms(1)).is_empty());
    jb.push(frame(1, 20), now);
    jb.handle_settled(3);
    let mut got = drain(&mut jb, now);
    assert_eq!(got.len(), 1, "the gap's frame plays at once");
    // Its late arrival raised the target delay, so the next one comes a bit later.
    while let Some(t) = jb.poll_timeout() {
        got.extend(drain(&mut jb, t));
    }
    let seqs: Vec<u64> = got.iter().map(|f| f.frame.first_sequence).collect();
    assert_eq!(seqs, [1, 2]);
    assert!(got.iter().all(|f| !f.after_gap));
    assert_eq!(jb.stats().late, 0);
}

#[test]
fn gap_wait_is_bounded_without_settling() {
    let t0 = origin();
    let config = JitterConfig::default().max_gap_wait(ms(50));
    let mut jb = JitterBuffer::new(config);
    jb.push(frame(5, 100), t0 + ms(20));
    // Nothing played yet and nothing settled: sequence IDs 0..5 may still come.
    let due = t0 + ms(20 + 10);
    assert_eq!(jb.poll_timeout(), Some(due + ms(50)));
    assert!(drain(&mut jb, due + ms(49)).is_empty());
    let got = drain(&mut jb, due + ms(50));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].playout_at, due);
}

#[test]
fn duplicates_and_overflow_are_discarded() {
    let t0 = origin();
    let mut jb = JitterBuffer::new(JitterConfig::default().max_frames(3));
    jb.push(frame(0, 0), t0);
    jb.push(frame(0, 0), t0);
    assert_eq!(jb.stats().discarded, 1);
    for i in 2..6 {
        jb.push(frame(i, i * 20), t0 + ms(i));
    }
    assert_eq!(jb.len(), 3);
    assert_eq!(jb.stats().discarded, 3);
    // Overflow stopped waiting for the gap before the oldest kept frame.
    let got = drain(&mut jb, t0 + ms(200));
    let seqs: Vec<u64> = got.iter().map(|f| f.frame.first_sequence).collect();
    assert_eq!(seqs, [3, 4, 5]);
}

#[test]
fn frames_without_capture_time_are_refused() {
    let f = ReassembledFrame {
        capture_time: None,
        reference: true,
        layer_id: None,
        first_sequence: 9,
        chunk_count: 2,
        payload: vec![1],
    };
    assert_eq!(
        JitterFrame::try_from(f.clone()),
        Err(JitterError::NoCaptureTime { first_sequence: 9 })
    );
    let ok = JitterFrame::try_from(ReassembledFrame {
        capture_time: Some(5),
        ..f
    })
    .unwrap();
    assert_eq!(
        (ok.capture_time, ok.chunk_count, ok.reference),
        (5, 2, true)
    );
}

proptest! {
    #[test]
    fn any_input_keeps_order_and_counts(
        ops in proptest::collection::vec(
            (0u64..60, 0u64..2000, 0u64..100, 1u64..4, any::<bool>(), 0u64..70),
            1..120,
        ),
        max_frames in 1usize..20,
    ) {
        let t0 = origin();
        let mut jb = JitterBuffer::new(JitterConfig::default().max_frames(max_frames));
        let mut now = t0;
        let mut pushes = 0u64;
        let mut played: Vec<PlayoutFrame> = Vec::new();
        for (seq, capture, advance, count, poll, settle) in ops {
            now += ms(advance);
            jb.push(JitterFrame { chunk_count: count, ..frame(seq, capture) }, now);
            pushes += 1;
            jb.handle_settled(settle);
            if poll {
                played.extend(drain(&mut jb, now));
            }
            if let Some(t) = jb.poll_timeout() {
                prop_assert!(jb.target_delay() <= ms(500));
                if t <= now {
                    prop_assert!(jb.poll_frame(now).map(|f| played.push(f)).is_some());
                }
            }
        }
        while let Some(t) = jb.poll_timeout() {
            now = now.max(t);
            played.extend(drain(&mut jb, now));
        }
        for w in played.windows(2) {
            prop_assert!(w[0].frame.first_sequence + w[0].frame.chunk_count <= w[1].frame.first_sequence);
            prop_assert!(w[0].playout_at <= w[1].playout_at);
        }
        let s = jb.stats();
        prop_assert_eq!(pushes, s.frames_played + s.late + s.discarded + jb.len() as u64);
        prop_assert_eq!(s.frames_played, played.len() as u64);
        prop_assert!(jb.is_empty());
    }
}
