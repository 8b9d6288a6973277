use super::*;
use proptest::prelude::*;

#[allow(clippy::disallowed_methods)]
fn origin() -> Instant {
    Instant::now()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn dg(tag: u8, len: usize) -> Bytes {
    Bytes::from(vec![tag; len])
}

fn drain(p: &mut Pacer, now: Instant) -> Vec<Transmit> {
    std::iter::from_fn(|| p.poll_transmit(now)).collect()
}

#[test]
fn unlimited_releases_everything_at_once_audio_first() {
    let t0 = origin();
    let mut p = Pacer::new(PacerConfig::default());
    p.enqueue(MediaKind::Data, dg(3, 10), t0).unwrap();
    p.enqueue(MediaKind::Video, dg(2, 1000), t0).unwrap();
    p.enqueue(MediaKind::Video, dg(4, 1000), t0).unwrap();
    p.enqueue(MediaKind::Audio, dg(1, 100), t0).unwrap();
    assert_eq!(p.poll_timeout(), Some(t0));
    let out = drain(&mut p, t0);
    let tags: Vec<u8> = out.iter().map(|t| t.datagram[0]).collect();
    assert_eq!(tags, [1, 2, 4, 3]);
    assert_eq!(out[0].kind, MediaKind::Audio);
    assert!(p.is_empty());
    assert_eq!(p.poll_timeout(), None);
    assert_eq!(p.stats(MediaKind::Video).bytes_sent, 2000);
}

#[test]
fn bitrate_spaces_datagrams_after_the_burst() {
    let t0 = origin();
    // 1000-byte datagrams at 1 Mbit/s: 8 ms each; 5 ms of burst banked after idling.
    let mut p = Pacer::new(PacerConfig::default().max_bitrate(Some(1_000_000)));
    for i in 0..10 {
        p.enqueue(MediaKind::Video, dg(i, 1000), t0).unwrap();
    }
    let mut sent = Vec::new();
    let mut now = t0;
    while let Some(t) = p.poll_timeout() {
        now = now.max(t);
        for tx in drain(&mut p, now) {
            sent.push((now, tx.datagram[0]));
        }
    }
    assert_eq!(sent.len(), 10);
    assert_eq!(sent[0].0, t0);
    // The first one used 5 ms of banked time, so the second goes at 3 ms, then every 8 ms.
    assert_eq!(sent[1].0, t0 + ms(3));
    for w in sent.windows(2).skip(1) {
        assert_eq!(w[1].0 - w[0].0, ms(8));
    }
    assert!(sent.windows(2).all(|w| w[0].1 < w[1].1), "FIFO");
}

#[test]
fn audio_overtakes_a_video_backlog() {
    let t0 = origin();
    let mut p = Pacer::new(PacerConfig::default().max_bitrate(Some(1_000_000)));
    for i in 0..5 {
        p.enqueue(MediaKind::Video, dg(i, 1000), t0).unwrap();
    }
    assert_eq!(drain(&mut p, t0).len(), 1);
    p.enqueue(MediaKind::Audio, dg(99, 100), t0 + ms(1))
        .unwrap();
    let next = p.poll_timeout().unwrap();
    let tx = p.poll_transmit(next).unwrap();
    assert_eq!((tx.kind, tx.datagram[0]), (MediaKind::Audio, 99));
}

#[test]
fn full_queue_refuses_and_counts_per_kind() {
    let t0 = origin();
    let mut p = Pacer::new(
        PacerConfig::default()
            .max_queue_bytes(2500)
            .max_bitrate(Some(8_000)),
    );
    p.enqueue(MediaKind::Video, dg(0, 1000), t0).unwrap();
    p.enqueue(MediaKind::Video, dg(1, 1000), t0).unwrap();
    let err = p.enqueue(MediaKind::Video, dg(2, 1000), t0).unwrap_err();
    assert_eq!(
        err,
        PacerError::QueueFull {
            kind: MediaKind::Video,
            queued: 2000,
            limit: 2500
        }
    );
    assert_eq!(p.stats(MediaKind::Video).dropped, 1);
    // Audio has its own queue.
    p.enqueue(MediaKind::Audio, dg(3, 1000), t0).unwrap();
    assert_eq!(p.queued_bytes(MediaKind::Video), 2000);
    assert_eq!(p.len(), 3);
}

#[test]
fn bitrate_can_change_and_be_lifted() {
    let t0 = origin();
    let mut p = Pacer::new(
        PacerConfig::default()
            .max_bitrate(Some(80_000))
            .burst(ms(0)),
    );
    for i in 0..4 {
        p.enqueue(MediaKind::Video, dg(i, 1000), t0).unwrap();
    }
    assert_eq!(drain(&mut p, t0).len(), 1);
    assert_eq!(p.poll_timeout(), Some(t0 + ms(100)));
    p.set_max_bitrate(None);
    assert_eq!(p.max_bitrate(), None);
    assert_eq!(drain(&mut p, t0).len(), 3);
    p.set_max_bitrate(Some(0));
    assert_eq!(p.max_bitrate(), None, "0 means no limit, not no sending");
}

#[test]
fn audio_frames_leave_one_per_packet_time() {
    let t0 = origin();
    let mut a = AudioFramePacer::new(ms(20), 1000);
    // The app hands 50 frames (1 s of audio) at once.
    for i in 0..50u32 {
        a.push(i, t0).unwrap();
    }
    let mut released = Vec::new();
    let mut now = t0;
    while let Some(t) = a.poll_timeout() {
        now = now.max(t);
        while let Some(f) = a.poll_frame(now) {
            released.push((now, f));
        }
    }
    assert_eq!(released.len(), 50);
    for (k, (at, f)) in released.iter().enumerate() {
        assert_eq!(*f, k as u32);
        assert_eq!(*at, t0 + ms(20 * k as u64));
    }
    // A frame handed over late (after its slot) goes at once; the grid restarts from it.
    let late = now + ms(100);
    a.push(50, late).unwrap();
    a.push(51, late).unwrap();
    assert_eq!(a.poll_frame(late), Some(50));
    assert_eq!(a.poll_frame(late), None);
    assert_eq!(a.poll_timeout(), Some(late + ms(20)));
    assert_eq!(a.stats().sent, 51);
}

#[test]
fn audio_frame_queue_is_bounded() {
    let t0 = origin();
    let mut a = AudioFramePacer::new(ms(20), 2);
    a.push(1, t0).unwrap();
    a.push(2, t0).unwrap();
    assert_eq!(
        a.push(3, t0),
        Err(PacerError::QueueFull {
            kind: MediaKind::Audio,
            queued: 2,
            limit: 2
        })
    );
    assert_eq!((a.len(), a.stats().dropped), (2, 1));
}

proptest! {
    #[test]
    fn never_exceeds_the_bitrate(
        items in proptest::collection::vec((0usize..3, 1usize..1500, 0u64..20), 1..200),
        rate in 100_000u64..20_000_000,
    ) {
        let t0 = origin();
        let burst = ms(5);
        let mut p = Pacer::new(
            PacerConfig::default().max_bitrate(Some(rate)).burst(burst).max_queue_bytes(20_000),
        );
        let mut now = t0;
        let mut sent_bytes = 0u64;
        let mut refused = 0u64;
        let mut last_seen: [Option<u8>; 3] = [None; 3];
        let mut counter = 0u8;
        let check = |sent: u64, now: Instant| {
            let allowed = (now - t0 + burst).as_secs_f64() * rate as f64 / 8.0 + 1500.0;
            sent as f64 <= allowed
        };
        for (kind, len, advance) in items {
            now += ms(advance);
            for tx in drain(&mut p, now) {
                sent_bytes += tx.datagram.len() as u64;
                let i = MediaKind::ALL.iter().position(|k| *k == tx.kind).unwrap();
                // FIFO within a kind: tags increase (mod wrap ignored, < 200 items).
                prop_assert!(last_seen[i].is_none_or(|l| l < tx.datagram[0]));
                last_seen[i] = Some(tx.datagram[0]);
            }
            prop_assert!(check(sent_bytes, now));
            counter += 1;
            if p.enqueue(MediaKind::ALL[kind], dg(counter, len), now).is_err() {
                refused += 1;
            }
        }
        while let Some(t) = p.poll_timeout() {
            now = now.max(t);
            for tx in drain(&mut p, now) {
                sent_bytes += tx.datagram.len() as u64;
            }
            prop_assert!(check(sent_bytes, now));
        }
        let total: u64 = MediaKind::ALL.iter().map(|k| p.stats(*k).sent + p.stats(*k).dropped).sum();
        prop_assert_eq!(total, u64::from(counter));
        let dropped: u64 = MediaKind::ALL.iter().map(|k| p.stats(*k).dropped).sum();
        prop_assert_eq!(dropped, refused);
    }
}
