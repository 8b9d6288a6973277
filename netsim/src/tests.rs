#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

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

/// Sends `n` packets of `size` bytes (packet i carries i in its first 4 bytes), one every
/// `gap`, and drains the link. Returns (send time, delivery time, index) per delivered copy.
fn run(
    config: LinkConfig,
    seed: u64,
    n: u32,
    size: usize,
    gap: Duration,
) -> (Vec<(Instant, Instant, u32)>, LinkStats, Instant) {
    let t0 = origin();
    let mut link: Link<Vec<u8>> = Link::new(config, seed).unwrap();
    let mut out = Vec::new();
    let mut sent_at = Vec::new();
    let mut now = t0;
    let mut next_send = 0u32;
    loop {
        while let Some(p) = link.poll_deliver(now) {
            let i = u32::from_be_bytes(p[..4].try_into().unwrap());
            out.push((sent_at[i as usize], now, i));
        }
        let send_time = (next_send < n).then(|| t0 + gap * next_send);
        if send_time == Some(now) {
            let mut p = vec![0u8; size.max(4)];
            p[..4].copy_from_slice(&next_send.to_be_bytes());
            sent_at.push(now);
            link.send(p, now);
            next_send += 1;
            continue;
        }
        match [send_time, link.poll_timeout()].into_iter().flatten().min() {
            Some(t) => {
                assert!(t >= now, "time never goes back");
                now = t;
            }
            None => break,
        }
    }
    (out, link.stats(), t0)
}

#[test]
fn perfect_link_delivers_everything_in_order_at_once() {
    let (out, stats, _) = run(LinkConfig::default(), 1, 100, 100, ms(1));
    assert_eq!(out.len(), 100);
    for (k, (sent, got, i)) in out.iter().enumerate() {
        assert_eq!(*i as usize, k);
        assert_eq!(sent, got);
    }
    assert_eq!((stats.sent, stats.delivered, stats.lost), (100, 100, 0));
}

#[test]
fn same_seed_same_outcome_other_seed_differs() {
    let config = LinkConfig::default()
        .loss(0.1)
        .delay(ms(20))
        .jitter(ms(10))
        .reorder(0.05, ms(15))
        .duplicate(0.02);
    let a = run(config, 42, 2000, 200, ms(1));
    let b = run(config, 42, 2000, 200, ms(1));
    let c = run(config, 43, 2000, 200, ms(1));
    let rel = |(v, _, t0): &(Vec<(Instant, Instant, u32)>, LinkStats, Instant)| {
        v.iter()
            .map(|(s, d, i)| (*s - *t0, *d - *t0, *i))
            .collect::<Vec<_>>()
    };
    assert_eq!(rel(&a), rel(&b));
    assert_eq!(a.1, b.1);
    assert_ne!(rel(&a), rel(&c));
}

#[test]
fn loss_rate_is_close_to_configured() {
    let (out, stats, _) = run(LinkConfig::default().loss(0.05), 9, 20_000, 10, ms(1));
    let rate = stats.lost as f64 / stats.sent as f64;
    assert!((0.04..0.06).contains(&rate), "loss rate {rate}");
    assert_eq!(out.len() as u64, stats.sent - stats.lost);
    assert_eq!(stats.delivered, out.len() as u64);
}

#[test]
fn gilbert_elliott_loses_in_bursts() {
    let ge = GilbertElliott::gilbert(0.01, 0.25);
    let (out, stats, _) = run(LinkConfig::default().burst(Some(ge)), 5, 50_000, 10, ms(1));
    let mut got = vec![false; 50_000];
    for (_, _, i) in &out {
        got[*i as usize] = true;
    }
    let mut bursts = 0u64;
    let mut lost = 0u64;
    for w in got.windows(2) {
        if w[0] && !w[1] {
            bursts += 1;
        }
    }
    lost += got.iter().filter(|g| !**g).count() as u64;
    assert_eq!(lost, stats.lost);
    let mean_burst = lost as f64 / bursts as f64;
    // Mean time in the bad state is 1 / 0.25 = 4 packets.
    assert!((3.3..4.7).contains(&mean_burst), "mean burst {mean_burst}");
    let rate = lost as f64 / 50_000.0;
    let expected = ge.mean_loss();
    assert!((rate - expected).abs() < 0.01, "{rate} vs {expected}");
}

#[test]
fn jitter_stays_within_bounds_and_reorders() {
    let config = LinkConfig::default().delay(ms(20)).jitter(ms(10));
    let (out, _, _) = run(config, 3, 1000, 100, ms(1));
    assert_eq!(out.len(), 1000);
    for (sent, got, _) in &out {
        let d = *got - *sent;
        assert!(d >= ms(10) && d <= ms(30), "{d:?}");
    }
    let inversions = out.windows(2).filter(|w| w[1].2 < w[0].2).count();
    assert!(inversions > 100, "{inversions} inversions");
}

#[test]
fn reorder_holds_packets_back() {
    let config = LinkConfig::default().delay(ms(5)).reorder(0.1, ms(30));
    let (out, stats, _) = run(config, 4, 1000, 100, ms(2));
    assert_eq!(out.len(), 1000);
    let held = out.iter().filter(|(s, d, _)| *d - *s == ms(35)).count() as u64;
    assert_eq!(held, stats.reordered);
    assert!((60..140).contains(&held), "{held}");
    assert!(out.windows(2).any(|w| w[1].2 < w[0].2));
}

#[test]
fn duplication_delivers_two_copies() {
    let (out, stats, _) = run(LinkConfig::default().duplicate(0.1), 8, 5000, 10, ms(1));
    assert_eq!(out.len() as u64, 5000 + stats.duplicated);
    assert!(
        (400..600).contains(&stats.duplicated),
        "{}",
        stats.duplicated
    );
    let mut count = vec![0u8; 5000];
    for (_, _, i) in &out {
        count[*i as usize] += 1;
    }
    assert!(count.iter().all(|c| *c == 1 || *c == 2));
}

#[test]
fn rate_limit_spaces_packets_and_drops_when_queue_full() {
    // 1000-byte packets at 1 Mbit/s take 8 ms each; sending one per ms overloads the link.
    let config = LinkConfig::default()
        .rate(Some(1_000_000))
        .queue_bytes(10_000);
    let (out, stats, t0) = run(config, 2, 200, 1000, ms(1));
    assert!(stats.queue_dropped > 0);
    assert_eq!(out.len() as u64 + stats.queue_dropped, 200);
    for w in out.windows(2) {
        assert!(w[1].1 - w[0].1 >= ms(8), "{:?}", w[1].1 - w[0].1);
        assert!(w[1].2 > w[0].2, "FIFO");
    }
    // The queue bounds the delay: at most 10 packets waiting, 8 ms each, plus one in service.
    for (s, d, _) in &out {
        assert!(*d - *s <= ms(8 * 11), "{:?}", *d - *s);
    }
    // The link is busy the whole time: the last delivery is ~ delivered * 8 ms after start.
    let last = out.last().unwrap().1 - t0;
    assert_eq!(last, ms(8 * out.len() as u64));
}

#[test]
fn bad_configs_are_refused() {
    assert!(matches!(
        Link::<Vec<u8>>::new(LinkConfig::default().loss(1.5), 0),
        Err(ConfigError::Probability { name: "loss", .. })
    ));
    assert!(matches!(
        Link::<Vec<u8>>::new(LinkConfig::default().duplicate(f64::NAN), 0),
        Err(ConfigError::Probability { .. })
    ));
    let ge = GilbertElliott::gilbert(-0.1, 0.5);
    assert!(Link::<Vec<u8>>::new(LinkConfig::default().burst(Some(ge)), 0).is_err());
    assert_eq!(
        Link::<Vec<u8>>::new(LinkConfig::default().rate(Some(0)), 0).unwrap_err(),
        ConfigError::ZeroRate
    );
}

proptest! {
    #[test]
    fn conservation_and_bounds(
        loss in 0.0f64..0.5,
        dup in 0.0f64..0.3,
        delay_ms in 0u64..50,
        jitter_ms in 0u64..20,
        reorder in 0.0f64..0.3,
        rate in proptest::option::of(100_000u64..10_000_000),
        seed in any::<u64>(),
    ) {
        let config = LinkConfig::default()
            .loss(loss)
            .duplicate(dup)
            .delay(ms(delay_ms))
            .jitter(ms(jitter_ms))
            .reorder(reorder, ms(7))
            .rate(rate)
            .queue_bytes(20_000);
        let (out, stats, _) = run(config, seed, 300, 500, ms(1));
        prop_assert_eq!(stats.sent, 300);
        prop_assert_eq!(
            out.len() as u64,
            stats.sent - stats.lost - stats.queue_dropped + stats.duplicated
        );
        prop_assert_eq!(stats.delivered, out.len() as u64);
        for (s, d, _) in &out {
            prop_assert!(*d >= *s);
            if rate.is_none() {
                prop_assert!(*d - *s <= ms(delay_ms + jitter_ms + 7));
            }
        }
    }
}
