use super::*;
use crate::media::jitter::{JitterConfig, JitterFrame, PlayoutFrame};
use std::collections::BTreeMap;

/// The one real instant the virtual clock offsets from.
#[allow(clippy::disallowed_methods)]
fn origin() -> Instant {
    Instant::now()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const CAPTURE0: u64 = 3_900_000_000_000;

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn group_clock_takes_earliest_anchor_and_largest_need() {
    let t0 = origin() + Duration::from_secs(10);
    let audio = PlayoutClock {
        anchor: ClockAnchor {
            capture_ms: 1000,
            local: t0,
        },
        delay: ms(20),
    };
    // Video's anchor sits 5 ms later on our clock (it is paced), and it needs 80 ms.
    let video = PlayoutClock {
        anchor: ClockAnchor {
            capture_ms: 1500,
            local: t0 + ms(505),
        },
        delay: ms(80),
    };
    let mut g = SyncGroup::new();
    assert_eq!(g.clock(), None);
    g.update(1, Some(audio));
    g.update(2, None);
    assert_eq!(
        g.clock(),
        Some(audio),
        "a member without a clock adds nothing"
    );
    g.update(2, Some(video));
    let c = g.clock().unwrap();
    assert_eq!(c.anchor.map(1000), t0);
    assert_eq!(c.delay, ms(85));
    // Both members' needs are met: each frame plays no earlier than its own clock says.
    for capture in [1000, 1500, 4000] {
        assert!(c.playout_at(capture) >= audio.playout_at(capture));
        assert_eq!(c.playout_at(capture), video.playout_at(capture));
    }
    g.remove(2);
    assert_eq!(g.clock(), Some(audio));
    assert_eq!(g.len(), 1);
}

#[test]
fn anchor_maps_capture_times_before_and_after() {
    let t0 = origin() + Duration::from_secs(10);
    let a = ClockAnchor {
        capture_ms: CAPTURE0,
        local: t0,
    };
    assert_eq!(a.map(CAPTURE0 + 250), t0 + ms(250));
    assert_eq!(a.map(CAPTURE0 - 250), t0 - ms(250));
    // Capture times are modular: 2 ms before the wrap maps 2 ms before.
    let w = ClockAnchor {
        capture_ms: 1,
        local: t0,
    };
    assert_eq!(w.map(u64::MAX), t0 - ms(2));
}

/// One stream of the simulation: its frames' (arrival, frame) and its played frames.
struct Stream {
    buffer: JitterBuffer,
    arrivals: Vec<(Instant, JitterFrame)>,
    next: usize,
    played: BTreeMap<u64, (Instant, PlayoutFrame)>,
}

impl Stream {
    fn new(period_num: u64, period_den: u64, n: u64, transit: impl Fn(u64) -> u64) -> Self {
        let t0 = origin();
        let mut arrivals: Vec<(Instant, JitterFrame)> = (0..n)
            .map(|i| {
                let capture = i * period_num / period_den;
                let f = JitterFrame {
                    payload: vec![i as u8],
                    capture_time: CAPTURE0 + capture,
                    reference: false,
                    first_sequence: i,
                    chunk_count: 1,
                    layer_id: None,
                };
                (t0 + ms(capture + transit(i)), f)
            })
            .collect();
        arrivals.sort_by_key(|a| a.0);
        Self {
            buffer: JitterBuffer::new(JitterConfig::default()),
            arrivals,
            next: 0,
            played: BTreeMap::new(),
        }
    }

    fn arrival_of(&self, capture: u64) -> Instant {
        self.arrivals
            .iter()
            .find(|(_, f)| f.capture_time == CAPTURE0 + capture)
            .map(|(t, _)| *t)
            .unwrap()
    }

    fn next_event(&self) -> Option<Instant> {
        let arrival = self.arrivals.get(self.next).map(|a| a.0);
        [arrival, self.buffer.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    fn take_arrivals(&mut self, now: Instant) {
        while let Some((t, f)) = self.arrivals.get(self.next) {
            if *t > now {
                break;
            }
            let seq = f.first_sequence;
            self.buffer.push(f.clone(), *t);
            self.buffer.handle_settled(seq + 1);
            self.next += 1;
        }
    }

    fn play(&mut self, now: Instant) {
        while let Some(f) = self.buffer.poll_frame(now) {
            self.played
                .insert(f.frame.capture_time - CAPTURE0, (now, f));
        }
    }
}

/// Runs audio (50 fps, low jitter), video (30 fps, high jitter) and a third stream without
/// the lip-sync flag, aligning the first two in a group at every step.
fn run() -> (Stream, Stream, Stream, SyncGroup) {
    let mut s = 7u64;
    let audio_jitter: Vec<u64> = (0..500).map(|_| xorshift(&mut s) % 3).collect();
    let video_jitter: Vec<u64> = (0..300).map(|_| xorshift(&mut s) % 61).collect();
    let mut audio = Stream::new(20, 1, 500, |i| 15 + audio_jitter[i as usize]);
    let mut video = Stream::new(100, 3, 300, |i| 25 + video_jitter[i as usize]);
    let mut solo = Stream::new(20, 1, 500, |i| 15 + audio_jitter[i as usize]);
    let mut group = SyncGroup::new();
    loop {
        let next = [audio.next_event(), video.next_event(), solo.next_event()]
            .into_iter()
            .flatten()
            .min();
        let Some(now) = next else { break };
        audio.take_arrivals(now);
        video.take_arrivals(now);
        solo.take_arrivals(now);
        group.align(&mut [(1, &mut audio.buffer), (2, &mut video.buffer)]);
        audio.play(now);
        video.play(now);
        solo.play(now);
    }
    (audio, video, solo, group)
}

#[test]
fn audio_and_video_play_equal_capture_times_together() {
    let (audio, video, solo, group) = run();
    assert_eq!(audio.played.len(), 500);
    assert_eq!(video.played.len(), 300);
    // Video needs far more delay than audio on its own...
    let a_need = audio.buffer.own_clock().unwrap();
    let v_need = video.buffer.own_clock().unwrap();
    assert!(a_need.delay < ms(15), "{:?}", a_need.delay);
    assert!(v_need.delay > ms(50), "{:?}", v_need.delay);
    // ...and both end up on the group's clock, with equal playout delays.
    let clock = group.clock().unwrap();
    assert_eq!(audio.buffer.sync(), Some(clock));
    assert_eq!(video.buffer.sync(), Some(clock));
    assert!(clock.delay >= v_need.delay);
    // Every capture time both have (every 100 ms) plays at the same instant, once the
    // buffers have settled (the first second adapts). The target covers 95 % of video
    // frames; one that arrives after the audio of its capture time played (after its own
    // playout time, or so close to it that its own transit raised the delay) cannot be in
    // sync, and is counted here.
    let (mut in_sync, mut late) = (0, 0);
    for (capture, (a_polled, a)) in &audio.played {
        if let Some((v_polled, v)) = video.played.get(capture) {
            if *capture < 1000 {
                continue;
            }
            assert_eq!(*a_polled, a.playout_at, "audio is never late");
            let v_arrival = video.arrival_of(*capture);
            if *v_polled > v.playout_at || v_arrival > a.playout_at {
                late += 1;
                continue;
            }
            assert_eq!(a.playout_at, v.playout_at, "capture {capture}");
            assert_eq!(a_polled, v_polled, "capture {capture}");
            in_sync += 1;
        }
    }
    assert_eq!(in_sync + late, 90);
    assert!(late <= 9, "{late} of 90 video frames late");
    // The stream without the flag plays on its own, earlier clock.
    assert_eq!(solo.buffer.sync(), None);
    let (_, s) = &solo.played[&5000];
    let (_, a) = &audio.played[&5000];
    assert!(s.playout_at + ms(30) < a.playout_at);
}
