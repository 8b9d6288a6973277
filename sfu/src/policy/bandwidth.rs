//! Per-subscriber path estimation: what a subscriber's path can carry, and when to step its
//! encoding or layer down or back up.
//!
//! The SFU cannot make a slow subscriber's network faster; what it can do is send less, by
//! choosing a lower simulcast encoding or fewer layers, before its queue grows without bound
//! and everything arrives late. A [`PathEstimator`] watches one subscriber's QUIC connection
//! (quinn's `Connection::stats()` and `rtt()`) and the SFU's own queue toward it, once per
//! tick (every 200 ms is a good pace), and answers with an estimate and a [`Step`].
//!
//! Rules, in order:
//!
//! 1. **Loss.** The loss rate over the last window (at least one tick and at least
//!    [`BandwidthConfig::min_loss_packets`] packets, so a single loss among few packets is not
//!    a 50 % rate) above [`BandwidthConfig::loss_threshold`] (default 5 %) is trouble.
//! 2. **Queue.** Our queue toward the subscriber growing for
//!    [`BandwidthConfig::queue_growth_samples`] samples in a row, or holding more than
//!    [`BandwidthConfig::max_queue_delay`] worth of what the path delivered in the last tick,
//!    is trouble (only above [`BandwidthConfig::queue_floor_bytes`], so a few packets in
//!    flight are not).
//! 3. **Step down at once** on trouble, then not again for
//!    [`BandwidthConfig::down_cooldown`]: the first step needs time (a keyframe, the queue
//!    draining) to show its effect, and stepping again before that would overshoot.
//! 4. **Capacity bound.** The congestion window per round trip, `cwnd * 8 / rtt`, is the most
//!    quinn will send right now. It caps the estimate; note that quinn does not grow the window
//!    while the connection is application-limited, so a subscriber receiving little shows a
//!    small bound until it receives more (that is what stepping up is for).
//! 5. **Step up** only after a quiet period without trouble (default 2 s) since the last
//!    trouble, the last step up and the start. A step up is a probe: trouble within
//!    [`BandwidthConfig::probe_window`] after it doubles the quiet period (up to
//!    [`BandwidthConfig::max_quiet_period`]), so a path that cannot carry the next encoding
//!    is probed ever more rarely instead of oscillating; a probe that survives the window
//!    resets the quiet period.
//!
//! The estimate is `min(capacity bound, ceiling)`, at least
//! [`BandwidthConfig::min_estimate_bps`]. The ceiling is set on each step down to the rate the
//! path actually delivered times [`BandwidthConfig::down_factor`], raised by
//! [`BandwidthConfig::up_gain`] on each step up, and dropped once it exceeds the capacity
//! bound. Use it for choosing an encoding on subscribe and for MaxRateRequest aggregation;
//! move between encodings on [`Step::Down`]/[`Step::Up`] (not on every change of the
//! estimate), which is where the hysteresis lives.

use std::time::{Duration, Instant};

/// One snapshot of a subscriber's path. Counters are cumulative since the connection began.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathSample {
    /// Smoothed round-trip time (quinn `Connection::rtt()`).
    pub rtt: Duration,
    /// Congestion window in bytes (quinn `stats().path.cwnd`).
    pub cwnd_bytes: u64,
    /// Packets declared lost, cumulative (quinn `stats().path.lost_packets`).
    pub lost_packets: u64,
    /// Packets sent, cumulative (quinn `stats().path.sent_packets`).
    pub sent_packets: u64,
    /// Bytes waiting in our own queue toward this subscriber, now.
    pub queued_bytes: u64,
    /// Bytes handed to the connection and sent, cumulative (for example quinn
    /// `stats().udp_tx.bytes`, or what the SFU dequeued).
    pub delivered_bytes: u64,
}

/// What to do with the subscriber's encoding/layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Switch to the next lower encoding or layer now.
    Down,
    /// Try the next higher encoding or layer (a probe).
    Up,
    /// Keep the current one.
    Hold,
}

/// Why a [`PathEstimator`] saw trouble.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trouble {
    /// The loss rate exceeded the threshold.
    Loss,
    /// The queue grew for several samples in a row.
    QueueGrowing,
    /// The queue holds more than the maximum queue delay.
    QueueDelay,
}

/// The answer to one [`PathSample`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepDecision {
    /// What to do.
    pub step: Step,
    /// What the path is believed to carry, in bit/s.
    pub estimate_bps: u64,
    /// The trouble seen in this sample, if any (it may be there with [`Step::Hold`] during
    /// the down cooldown).
    pub trouble: Option<Trouble>,
}

/// Settings of a [`PathEstimator`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandwidthConfig {
    loss_threshold: f64,
    min_loss_packets: u64,
    queue_growth_samples: u32,
    queue_floor_bytes: u64,
    max_queue_delay: Duration,
    down_cooldown: Duration,
    quiet_period: Duration,
    max_quiet_period: Duration,
    probe_window: Duration,
    down_factor: f64,
    up_gain: f64,
    min_estimate_bps: u64,
}

impl Default for BandwidthConfig {
    fn default() -> Self {
        Self {
            loss_threshold: 0.05,
            min_loss_packets: 20,
            queue_growth_samples: 3,
            queue_floor_bytes: 15_000,
            max_queue_delay: Duration::from_millis(300),
            down_cooldown: Duration::from_secs(1),
            quiet_period: Duration::from_secs(2),
            max_quiet_period: Duration::from_secs(32),
            probe_window: Duration::from_secs(2),
            down_factor: 0.85,
            up_gain: 1.5,
            min_estimate_bps: 50_000,
        }
    }
}

impl BandwidthConfig {
    /// Loss rate (fraction of packets sent, 0.0-1.0) above which the path is in trouble.
    /// Default 0.05 (5 %).
    pub fn loss_threshold(mut self, fraction: f64) -> Self {
        self.loss_threshold = fraction.clamp(0.0, 1.0);
        self
    }

    /// Fewest packets a loss window holds before its rate is judged; smaller windows carry
    /// over into the next tick. Default 20 packets; at least 1.
    pub fn min_loss_packets(mut self, packets: u64) -> Self {
        self.min_loss_packets = packets.max(1);
        self
    }

    /// How many samples in a row the queue must grow to count as trouble. Default 3; at
    /// least 1.
    pub fn queue_growth_samples(mut self, samples: u32) -> Self {
        self.queue_growth_samples = samples.max(1);
        self
    }

    /// Queue size below which the queue rules do not apply. Default 15 000 bytes.
    pub fn queue_floor_bytes(mut self, bytes: u64) -> Self {
        self.queue_floor_bytes = bytes;
        self
    }

    /// Longest the queue may take to drain at the rate delivered in the last tick.
    /// Default 300 ms.
    pub fn max_queue_delay(mut self, delay: Duration) -> Self {
        self.max_queue_delay = delay;
        self
    }

    /// Shortest time between two steps down. Default 1 s.
    pub fn down_cooldown(mut self, cooldown: Duration) -> Self {
        self.down_cooldown = cooldown;
        self
    }

    /// Quiet time (no trouble, no step up) before a step up, and what a successful probe
    /// resets it to. Default 2 s.
    pub fn quiet_period(mut self, quiet: Duration) -> Self {
        self.quiet_period = quiet;
        self
    }

    /// Most the quiet period grows to after failed probes. Default 32 s.
    pub fn max_quiet_period(mut self, max: Duration) -> Self {
        self.max_quiet_period = max;
        self
    }

    /// How long after a step up trouble counts as the probe failing. Default 2 s.
    pub fn probe_window(mut self, window: Duration) -> Self {
        self.probe_window = window;
        self
    }

    /// Fraction of the delivered rate the ceiling is set to on a step down. Default 0.85;
    /// clamped to 0.1-1.0.
    pub fn down_factor(mut self, factor: f64) -> Self {
        self.down_factor = factor.clamp(0.1, 1.0);
        self
    }

    /// Factor the ceiling grows by on a step up. Default 1.5; at least 1.0.
    pub fn up_gain(mut self, gain: f64) -> Self {
        self.up_gain = gain.max(1.0);
        self
    }

    /// Lowest estimate ever reported. Default 50 000 bit/s.
    pub fn min_estimate_bps(mut self, bps: u64) -> Self {
        self.min_estimate_bps = bps;
        self
    }
}

#[derive(Debug, Clone, Copy)]
struct Previous {
    sample: PathSample,
    at: Instant,
}

/// One subscriber's path estimator. Feed it a [`PathSample`] every tick; every method is
/// O(1) and allocation-free.
#[derive(Debug, Clone)]
pub struct PathEstimator {
    config: BandwidthConfig,
    previous: Option<Previous>,
    /// Packets sent and lost since the loss window began.
    window_sent: u64,
    window_lost: u64,
    queue_growing_for: u32,
    ceiling: Option<u64>,
    estimate: u64,
    /// Start of the current quiet time: the start, the last trouble or the last step up.
    quiet_since: Option<Instant>,
    last_down: Option<Instant>,
    quiet_period: Duration,
    probe_until: Option<Instant>,
}

impl PathEstimator {
    /// An estimator that has seen nothing yet.
    pub fn new(config: BandwidthConfig) -> Self {
        Self {
            config,
            previous: None,
            window_sent: 0,
            window_lost: 0,
            queue_growing_for: 0,
            ceiling: None,
            estimate: config.min_estimate_bps,
            quiet_since: None,
            last_down: None,
            quiet_period: config.quiet_period,
            probe_until: None,
        }
    }

    /// The current estimate in bit/s.
    pub fn estimate_bps(&self) -> u64 {
        self.estimate
    }

    /// The current quiet period before a step up (grows after failed probes).
    pub fn quiet_period(&self) -> Duration {
        self.quiet_period
    }

    /// Tells the estimator that the last [`Step::Up`] was not taken (nothing higher to go
    /// to), so trouble in the next while does not count as a failed probe.
    pub fn decline_up(&mut self) {
        self.probe_until = None;
    }

    /// Digests one sample taken at `now`.
    pub fn on_sample(&mut self, sample: PathSample, now: Instant) -> StepDecision {
        let capacity = capacity_bps(&sample);
        let Some(prev) = self.previous.replace(Previous { sample, at: now }) else {
            return self.start(capacity, now);
        };
        let p = prev.sample;
        if sample.sent_packets < p.sent_packets
            || sample.lost_packets < p.lost_packets
            || sample.delivered_bytes < p.delivered_bytes
        {
            // Counters went backwards: a new connection. Start over from this sample.
            self.window_sent = 0;
            self.window_lost = 0;
            self.queue_growing_for = 0;
            return self.decide(Step::Hold, None, capacity);
        }
        let dt = now.saturating_duration_since(prev.at);
        let delivered_bps = rate_bps(sample.delivered_bytes - p.delivered_bytes, dt);
        // Both rules run every sample so that their windows stay current.
        let loss = self.loss_trouble(&sample, &p);
        let queue = self.queue_trouble(&sample, &p, delivered_bps);
        let trouble = loss.or(queue);
        let step = match trouble {
            Some(_) => self.on_trouble(delivered_bps, capacity, now),
            None => self.on_quiet(capacity, now),
        };
        self.decide(step, trouble, capacity)
    }

    fn start(&mut self, capacity: u64, now: Instant) -> StepDecision {
        self.quiet_since = Some(now);
        self.decide(Step::Hold, None, capacity)
    }

    fn decide(&mut self, step: Step, trouble: Option<Trouble>, capacity: u64) -> StepDecision {
        if self.ceiling.is_some_and(|c| c > capacity) {
            self.ceiling = None;
        }
        self.estimate = capacity
            .min(self.ceiling.unwrap_or(u64::MAX))
            .max(self.config.min_estimate_bps);
        StepDecision {
            step,
            estimate_bps: self.estimate,
            trouble,
        }
    }

    fn loss_trouble(&mut self, s: &PathSample, p: &PathSample) -> Option<Trouble> {
        self.window_sent += s.sent_packets - p.sent_packets;
        self.window_lost += s.lost_packets - p.lost_packets;
        if self.window_sent < self.config.min_loss_packets {
            return None;
        }
        let rate = self.window_lost as f64 / self.window_sent as f64;
        self.window_sent = 0;
        self.window_lost = 0;
        (rate > self.config.loss_threshold).then_some(Trouble::Loss)
    }

    fn queue_trouble(
        &mut self,
        s: &PathSample,
        p: &PathSample,
        delivered_bps: u64,
    ) -> Option<Trouble> {
        let cfg = &self.config;
        if s.queued_bytes <= cfg.queue_floor_bytes {
            self.queue_growing_for = 0;
            return None;
        }
        if s.queued_bytes > p.queued_bytes {
            self.queue_growing_for += 1;
        } else {
            self.queue_growing_for = 0;
        }
        if self.queue_growing_for >= cfg.queue_growth_samples {
            return Some(Trouble::QueueGrowing);
        }
        // Drain time at the delivered rate, compared without dividing by a zero rate.
        let queued_bits = u128::from(s.queued_bytes) * 8;
        let drainable_bits =
            u128::from(delivered_bps) * cfg.max_queue_delay.as_micros() / 1_000_000;
        (queued_bits > drainable_bits).then_some(Trouble::QueueDelay)
    }

    fn on_trouble(&mut self, delivered_bps: u64, capacity: u64, now: Instant) -> Step {
        self.quiet_since = Some(now);
        if self.probe_until.take().is_some_and(|until| now <= until) {
            self.quiet_period = (self.quiet_period * 2).min(self.config.max_quiet_period);
        }
        if self
            .last_down
            .is_some_and(|t| now.saturating_duration_since(t) < self.config.down_cooldown)
        {
            return Step::Hold;
        }
        self.last_down = Some(now);
        self.queue_growing_for = 0;
        let carried = if delivered_bps > 0 {
            delivered_bps.min(capacity)
        } else {
            capacity
        };
        let ceiling = (carried as f64 * self.config.down_factor) as u64;
        self.ceiling = Some(ceiling.max(self.config.min_estimate_bps));
        Step::Down
    }

    fn on_quiet(&mut self, capacity: u64, now: Instant) -> Step {
        if self.probe_until.is_some_and(|until| now > until) {
            self.probe_until = None;
            self.quiet_period = self.config.quiet_period;
        }
        let quiet_for = self
            .quiet_since
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        if quiet_for < self.quiet_period {
            return Step::Hold;
        }
        self.quiet_since = Some(now);
        self.probe_until = Some(now.checked_add(self.config.probe_window).unwrap_or(now));
        self.ceiling = self
            .ceiling
            .map(|c| (c as f64 * self.config.up_gain) as u64)
            .filter(|&c| c <= capacity);
        Step::Up
    }
}

/// `cwnd * 8 / rtt` in bit/s; an RTT under 1 ms counts as 1 ms.
fn capacity_bps(s: &PathSample) -> u64 {
    let rtt_us = s.rtt.as_micros().max(1000);
    u64::try_from(u128::from(s.cwnd_bytes) * 8 * 1_000_000 / rtt_us).unwrap_or(u64::MAX)
}

/// `bytes * 8 / dt` in bit/s; 0 for no time.
fn rate_bps(bytes: u64, dt: Duration) -> u64 {
    let us = dt.as_micros();
    if us == 0 {
        return 0;
    }
    u64::try_from(u128::from(bytes) * 8 * 1_000_000 / us).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_epoch;
    use proptest::prelude::*;

    const TICK: Duration = Duration::from_millis(200);

    /// A synthetic path: sends `rate_bps` in 1200-byte packets, loses `loss` of them, and
    /// lets the queue change by `queue_delta` bytes per tick.
    struct Path {
        est: PathEstimator,
        now: Instant,
        sample: PathSample,
    }

    impl Path {
        fn new(config: BandwidthConfig) -> Self {
            let mut p = Self {
                est: PathEstimator::new(config),
                now: test_epoch(),
                sample: PathSample {
                    rtt: Duration::from_millis(50),
                    cwnd_bytes: 125_000, // 20 Mbit/s at 50 ms
                    ..PathSample::default()
                },
            };
            assert_eq!(p.est.on_sample(p.sample, p.now).step, Step::Hold);
            p
        }

        fn tick(&mut self, rate_bps: u64, loss: f64, queue_delta: i64) -> StepDecision {
            self.now += TICK;
            let bytes = rate_bps / 8 / 5;
            let packets = bytes / 1200;
            self.sample.sent_packets += packets;
            self.sample.lost_packets += (packets as f64 * loss).round() as u64;
            self.sample.delivered_bytes += bytes;
            self.sample.queued_bytes = self.sample.queued_bytes.saturating_add_signed(queue_delta);
            self.est.on_sample(self.sample, self.now)
        }

        /// Runs `n` ticks, returning the steps that were not Hold, with their tick index.
        fn run(&mut self, n: usize, rate: u64, loss: f64, queue_delta: i64) -> Vec<(usize, Step)> {
            (0..n)
                .map(|i| (i, self.tick(rate, loss, queue_delta).step))
                .filter(|(_, s)| *s != Step::Hold)
                .collect()
        }
    }

    #[test]
    fn capacity_bound_is_cwnd_per_rtt() {
        let mut p = Path::new(BandwidthConfig::default());
        let d = p.tick(1_000_000, 0.0, 0);
        assert_eq!(d.estimate_bps, 20_000_000);
        assert_eq!(d.step, Step::Hold);
        p.sample.rtt = Duration::ZERO;
        // An RTT of 0 counts as 1 ms.
        assert_eq!(p.tick(1_000_000, 0.0, 0).estimate_bps, 1_000_000_000);
    }

    #[test]
    fn loss_above_threshold_steps_down_at_once() {
        let mut p = Path::new(BandwidthConfig::default());
        p.tick(2_000_000, 0.0, 0);
        let d = p.tick(2_000_000, 0.10, 0);
        assert_eq!(d.step, Step::Down);
        assert_eq!(d.trouble, Some(Trouble::Loss));
        // The ceiling is 85 % of what got through.
        assert!((1_650_000..=1_750_000).contains(&d.estimate_bps), "{d:?}");
    }

    #[test]
    fn loss_below_threshold_holds() {
        let mut p = Path::new(BandwidthConfig::default());
        assert!(p.run(8, 2_000_000, 0.02, 0).is_empty());
    }

    #[test]
    fn few_packets_are_pooled_before_judging_loss() {
        let mut p = Path::new(BandwidthConfig::default());
        // 8 packets per tick; one lost in the first tick alone would be 12 %.
        p.now += TICK;
        p.sample.sent_packets += 8;
        p.sample.lost_packets += 1;
        assert_eq!(p.est.on_sample(p.sample, p.now).trouble, None);
        // Over 24 packets, 1 lost is 4 %: no trouble; the window then starts over.
        for _ in 0..2 {
            p.now += TICK;
            p.sample.sent_packets += 8;
            assert_eq!(p.est.on_sample(p.sample, p.now).trouble, None);
        }
        assert_eq!((p.est.window_sent, p.est.window_lost), (0, 0));
    }

    #[test]
    fn growing_queue_steps_down() {
        let mut p = Path::new(BandwidthConfig::default());
        p.sample.queued_bytes = 20_000;
        // Delivering 8 Mbit/s, so 300 ms of queue is 300 KB: only growth can trigger here.
        let steps = p.run(5, 8_000_000, 0.0, 5_000);
        assert_eq!(steps, vec![(2, Step::Down)]);
    }

    #[test]
    fn small_queue_growth_is_ignored() {
        let mut p = Path::new(BandwidthConfig::default());
        assert!(p.run(5, 8_000_000, 0.0, 2_000).is_empty());
    }

    #[test]
    fn long_queue_delay_steps_down() {
        let mut p = Path::new(BandwidthConfig::default());
        p.sample.queued_bytes = 100_000;
        // 800 kbit of queue at 1 Mbit/s delivered is 800 ms.
        let d = p.tick(1_000_000, 0.0, 0);
        assert_eq!((d.step, d.trouble), (Step::Down, Some(Trouble::QueueDelay)));
    }

    #[test]
    fn repeated_trouble_waits_for_the_cooldown() {
        let mut p = Path::new(BandwidthConfig::default());
        // Loss every tick: a step down every second (5 ticks), not every tick.
        let steps = p.run(11, 2_000_000, 0.2, 0);
        assert_eq!(
            steps,
            vec![(0, Step::Down), (5, Step::Down), (10, Step::Down)]
        );
    }

    #[test]
    fn steps_up_after_the_quiet_period() {
        let mut p = Path::new(BandwidthConfig::default());
        // Quiet from the start: the first probe 2 s (10 ticks) in, then every 2 s.
        let steps = p.run(20, 1_000_000, 0.0, 0);
        assert_eq!(steps, vec![(9, Step::Up), (19, Step::Up)]);
    }

    #[test]
    fn failed_probes_back_off_and_success_resets() {
        let mut p = Path::new(BandwidthConfig::default());
        p.tick(1_000_000, 0.3, 0); // Down; quiet starts.
        let mut quiet = Vec::new();
        for _ in 0..3 {
            // Wait for the probe, then fail it with loss right after.
            let mut waited = 0;
            while p.tick(1_000_000, 0.0, 0).step != Step::Up {
                waited += 1;
            }
            quiet.push((waited + 1) as u64 * 200);
            assert_eq!(p.tick(1_000_000, 0.3, 0).step, Step::Down);
        }
        assert_eq!(quiet, vec![2000, 4000, 8000]);
        assert_eq!(p.est.quiet_period(), Duration::from_secs(16));
        // A probe that survives its window resets the quiet period.
        while p.tick(1_000_000, 0.0, 0).step != Step::Up {}
        p.run(11, 1_000_000, 0.0, 0);
        assert_eq!(p.est.quiet_period(), Duration::from_secs(2));
    }

    #[test]
    fn declined_up_is_not_a_failed_probe() {
        let mut p = Path::new(BandwidthConfig::default());
        while p.tick(1_000_000, 0.0, 0).step != Step::Up {}
        p.est.decline_up();
        p.tick(1_000_000, 0.3, 0);
        assert_eq!(p.est.quiet_period(), Duration::from_secs(2));
    }

    #[test]
    fn ceiling_rises_on_up_and_disappears_above_capacity() {
        let mut p = Path::new(BandwidthConfig::default());
        let down = p.tick(4_000_000, 0.3, 0);
        assert_eq!(down.estimate_bps, 3_400_000);
        while p.tick(1_000_000, 0.0, 0).step != Step::Up {}
        assert_eq!(p.est.estimate_bps(), 5_100_000);
        for _ in 0..3 {
            while p.tick(1_000_000, 0.0, 0).step != Step::Up {}
        }
        assert_eq!(p.est.estimate_bps(), 17_212_500);
        while p.tick(1_000_000, 0.0, 0).step != Step::Up {}
        // 17.2 * 1.5 = 25.8 > 20 Mbit/s capacity: no ceiling any more.
        assert_eq!(p.est.estimate_bps(), 20_000_000);
    }

    #[test]
    fn counter_reset_starts_over() {
        let mut p = Path::new(BandwidthConfig::default());
        p.run(3, 1_000_000, 0.0, 0);
        p.sample.sent_packets = 0;
        p.sample.lost_packets = 0;
        p.sample.delivered_bytes = 0;
        p.now += TICK;
        let d = p.est.on_sample(p.sample, p.now);
        assert_eq!((d.step, d.trouble), (Step::Hold, None));
        assert_eq!(p.tick(1_000_000, 0.0, 0).trouble, None);
    }

    #[test]
    fn estimate_has_a_floor() {
        let mut p = Path::new(BandwidthConfig::default());
        p.sample.cwnd_bytes = 1;
        let d = p.tick(0, 0.0, 0);
        assert_eq!(d.estimate_bps, 50_000);
    }

    proptest! {
        /// Random paths never panic; the estimate stays above the floor; two steps down are a
        /// cooldown apart; a step up never comes within the base quiet period of trouble.
        #[test]
        fn random_paths_keep_the_rules(
            ticks in proptest::collection::vec(
                (0u64..20_000_000, 0.0f64..0.5, -50_000i64..50_000, 1u64..500, 0u64..1_000_000),
                1..100,
            )
        ) {
            let mut p = Path::new(BandwidthConfig::default());
            let mut last_down: Option<Instant> = None;
            let mut last_trouble: Option<Instant> = None;
            for (rate, loss, dq, rtt_ms, cwnd) in ticks {
                p.sample.rtt = Duration::from_millis(rtt_ms);
                p.sample.cwnd_bytes = cwnd;
                let d = p.tick(rate, loss, dq);
                prop_assert!(d.estimate_bps >= 50_000);
                match d.step {
                    Step::Down => {
                        if let Some(t) = last_down {
                            prop_assert!(p.now - t >= Duration::from_secs(1));
                        }
                        last_down = Some(p.now);
                    }
                    Step::Up => {
                        prop_assert!(d.trouble.is_none());
                        if let Some(t) = last_trouble {
                            prop_assert!(p.now - t >= Duration::from_secs(2));
                        }
                    }
                    Step::Hold => {}
                }
                if d.trouble.is_some() {
                    last_trouble = Some(p.now);
                }
            }
        }
    }
}
