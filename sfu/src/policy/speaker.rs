//! Active speakers: which endpoints of a conference are talking, loudest first.
//!
//! Every audio message carries the sender's active level (0-100, draft §5: 100 when the
//! person is clearly speaking, 0 when not). The SFU forwards the audio of only the top N
//! speakers, and `active_speaker` video subscriptions follow the ranking, so the ranking must
//! be both responsive and stable: a video that flips between two people every half second is
//! worse than one that lags a little.
//!
//! **Smoothing.** Each endpoint's level is an exponential moving average in continuous time
//! with a half-life ([`SpeakerConfig::half_life`], default 300 ms): between samples it decays
//! toward 0, and a sample of level `x` that arrives `dt` after the previous one adds
//! `(1 - 2^(-dt/half_life)) * x`. With samples every 20 ms the level converges to the sent
//! level; an endpoint that stops sending (muted, DTX) decays to 0 by itself. Because weights
//! depend on time, not on sample count, an endpoint sending 60 ms frames weighs the same as one
//! sending 10 ms frames; `dt` is capped ([`SpeakerConfig::max_sample_gap`]) so that one packet
//! after a long silence cannot jump to full level.
//!
//! **Membership.** While the set has fewer than N members, any endpoint whose level reaches
//! [`SpeakerConfig::join_level`] joins at the next tick: in a small conference everyone who
//! talks is heard at once. When it is full, an outsider replaces the weakest member only when
//! its level has exceeded that member's by [`SpeakerConfig::switch_margin`] points
//! continuously for [`SpeakerConfig::hold_time`] (checked at every tick), and a member is
//! never replaced within [`SpeakerConfig::min_membership`] of joining. Members that fall
//! silent stay until someone displaces them (the last speakers stay visible).
//!
//! **Order.** After a membership change the set is sorted by level. Otherwise a member moves
//! above the one ranked directly above it only with the same margin-and-hold rule, so rank 0
//! (the "dominant speaker" video) does not flap between two people talking at once.
//!
//! Known consequence: when the set is full, a new speaker's first words (about the hold time
//! plus the smoothing ramp) are not forwarded. Raise N or lower the hold time to trade
//! stability for that.

use newmedia_proto::control;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Settings of [`ActiveSpeakers`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeakerConfig {
    max_speakers: usize,
    half_life: Duration,
    margin: f64,
    hold: Duration,
    min_membership: Duration,
    join_level: f64,
    max_sample_gap: Duration,
}

impl Default for SpeakerConfig {
    fn default() -> Self {
        Self {
            max_speakers: 3,
            half_life: Duration::from_millis(300),
            margin: 10.0,
            hold: Duration::from_millis(500),
            min_membership: Duration::from_secs(1),
            join_level: 5.0,
            max_sample_gap: Duration::from_millis(120),
        }
    }
}

impl SpeakerConfig {
    /// How many speakers are active at most (N). Default 3. 0 makes nobody active.
    pub fn max_speakers(mut self, n: usize) -> Self {
        self.max_speakers = n;
        self
    }

    /// Half-life of the level's moving average. Default 300 ms; at least 1 ms.
    pub fn half_life(mut self, half_life: Duration) -> Self {
        self.half_life = half_life.max(Duration::from_millis(1));
        self
    }

    /// By how many level points (0-100) a challenger must exceed a member to displace it or
    /// to overtake it in rank. Default 10.
    pub fn switch_margin(mut self, points: u8) -> Self {
        self.margin = f64::from(points);
        self
    }

    /// How long a challenger must exceed by the margin, without interruption, before it
    /// displaces or overtakes. Default 500 ms.
    pub fn hold_time(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    /// Shortest time a member stays in the set before it can be displaced. Default 1 s.
    pub fn min_membership(mut self, min: Duration) -> Self {
        self.min_membership = min;
        self
    }

    /// Smoothed level (0-100) at which an endpoint takes a free slot. Default 5.
    pub fn join_level(mut self, level: u8) -> Self {
        self.join_level = f64::from(level);
        self
    }

    /// Longest gap between two samples that still counts in full toward the new sample's
    /// weight; longer gaps count as this. Default 120 ms (the longest Opus frame).
    pub fn max_sample_gap(mut self, gap: Duration) -> Self {
        self.max_sample_gap = gap;
        self
    }
}

/// One entry of the active-speaker list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActiveSpeaker {
    /// The endpoint.
    pub endpoint_id: u64,
    /// Its smoothed active level at the last tick, 0-100.
    pub level: u8,
}

/// What changed at a tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeakerChange {
    /// The new list, loudest first.
    pub speakers: Vec<ActiveSpeaker>,
    /// How many endpoints entered the set (joins of free slots and displacements).
    pub entered: usize,
    /// How many endpoints left it (displaced or removed).
    pub left: usize,
}

impl SpeakerChange {
    /// Whether the membership changed (as opposed to only the order). Count a speaker switch
    /// for each of `entered` when this is true.
    pub fn set_changed(&self) -> bool {
        self.entered > 0 || self.left > 0
    }

    /// The ActiveSpeakers control message announcing this list.
    pub fn to_control(&self, conference_id: u64) -> control::ActiveSpeakers {
        control::ActiveSpeakers {
            conference_id,
            speakers: self
                .speakers
                .iter()
                .map(|s| control::Speaker {
                    endpoint_id: s.endpoint_id,
                    level: Some(s.level),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Endpoint {
    /// Smoothed level as of `decayed_at`.
    level: f64,
    decayed_at: Instant,
    last_sample: Option<Instant>,
    member_since: Option<Instant>,
    /// Outsider: since when it beats the weakest member by the margin. Member: since when it
    /// beats the member ranked directly above it by the margin.
    beating_since: Option<Instant>,
}

impl Endpoint {
    fn decay_to(&mut self, now: Instant, half_life: Duration) {
        let dt = now.saturating_duration_since(self.decayed_at);
        self.level *= decay_factor(dt, half_life);
        self.decayed_at = self.decayed_at.max(now);
    }
}

/// `2^(-dt/half_life)`: the weight left to a value after `dt`.
fn decay_factor(dt: Duration, half_life: Duration) -> f64 {
    (-dt.as_secs_f64() / half_life.as_secs_f64()).exp2()
}

fn to_level(level: f64) -> u8 {
    // Levels stay within 0..=100 by construction; clamp anyway against rounding.
    level.round().clamp(0.0, 100.0) as u8
}

/// The active speakers of one conference. Feed it every audio message's active level with
/// [`ActiveSpeakers::observe`], call [`ActiveSpeakers::tick`] periodically (every 50 ms is a
/// good pace; hold times are measured in ticks), and ask [`ActiveSpeakers::is_active`] per
/// audio message whether to forward it.
#[derive(Debug, Clone)]
pub struct ActiveSpeakers {
    config: SpeakerConfig,
    endpoints: HashMap<u64, Endpoint>,
    current: Vec<ActiveSpeaker>,
    removed_since_tick: usize,
}

impl ActiveSpeakers {
    /// A conference where nobody has spoken yet.
    pub fn new(config: SpeakerConfig) -> Self {
        Self {
            config,
            endpoints: HashMap::new(),
            current: Vec::with_capacity(config.max_speakers.min(64)),
            removed_since_tick: 0,
        }
    }

    /// Records the active level (0-100; larger counts as 100) of one audio message from
    /// `endpoint_id`. O(1); allocates only for an endpoint's first message.
    pub fn observe(&mut self, endpoint_id: u64, level: u8, now: Instant) {
        let cfg = &self.config;
        let ep = self.endpoints.entry(endpoint_id).or_insert(Endpoint {
            level: 0.0,
            decayed_at: now,
            last_sample: None,
            member_since: None,
            beating_since: None,
        });
        ep.decay_to(now, cfg.half_life);
        let gap = ep
            .last_sample
            .map_or(cfg.max_sample_gap, |t| now.saturating_duration_since(t))
            .min(cfg.max_sample_gap);
        let x = f64::from(level.min(control::MAX_LEVEL));
        ep.level += (1.0 - decay_factor(gap, cfg.half_life)) * x;
        ep.last_sample = Some(now);
    }

    /// Whether `endpoint_id` is an active speaker (forward its audio). O(N).
    #[inline]
    pub fn is_active(&self, endpoint_id: u64) -> bool {
        self.current.iter().any(|s| s.endpoint_id == endpoint_id)
    }

    /// The active speakers as of the last tick, loudest first (ranks for
    /// `active_speaker` subscriptions).
    pub fn current(&self) -> &[ActiveSpeaker] {
        &self.current
    }

    /// The endpoint at `rank` (0 = loudest), if any.
    pub fn at_rank(&self, rank: usize) -> Option<u64> {
        self.current.get(rank).map(|s| s.endpoint_id)
    }

    /// The smoothed level of `endpoint_id` at `now`, 0-100 (`None`: never heard).
    pub fn level(&self, endpoint_id: u64, now: Instant) -> Option<u8> {
        let ep = self.endpoints.get(&endpoint_id)?;
        let dt = now.saturating_duration_since(ep.decayed_at);
        Some(to_level(ep.level * decay_factor(dt, self.config.half_life)))
    }

    /// Forgets `endpoint_id` (it left or stopped publishing audio). If it was active it stops
    /// being so at once; the next tick reports the change and fills its slot.
    pub fn remove(&mut self, endpoint_id: u64) {
        self.endpoints.remove(&endpoint_id);
        let before = self.current.len();
        self.current.retain(|s| s.endpoint_id != endpoint_id);
        self.removed_since_tick += before - self.current.len();
    }

    /// Re-ranks the speakers. Returns the new list when the set or its order changed since
    /// the last tick (levels alone changing is not reported). O(endpoints that ever sent
    /// audio × N); allocates only when it reports a change.
    pub fn tick(&mut self, now: Instant) -> Option<SpeakerChange> {
        let half_life = self.config.half_life;
        for ep in self.endpoints.values_mut() {
            ep.decay_to(now, half_life);
        }
        for s in &mut self.current {
            s.level = self
                .endpoints
                .get(&s.endpoint_id)
                .map_or(0, |ep| to_level(ep.level));
        }
        let left_before = std::mem::take(&mut self.removed_since_tick);
        let mut entered = self.fill_free_slots(now);
        let displaced = self.displace(now);
        entered += displaced;
        let left = left_before + displaced;
        let reordered = if entered > 0 || left > 0 {
            self.sort_by_level();
            false
        } else {
            self.overtake(now)
        };
        (entered > 0 || left > 0 || reordered).then(|| SpeakerChange {
            speakers: self.current.clone(),
            entered,
            left,
        })
    }

    fn smoothed(&self, endpoint_id: u64) -> f64 {
        self.endpoints.get(&endpoint_id).map_or(0.0, |ep| ep.level)
    }

    /// The loudest endpoint outside the set for which `eligible` holds.
    fn loudest_outsider(&self, eligible: impl Fn(&Endpoint) -> bool) -> Option<(u64, f64)> {
        self.endpoints
            .iter()
            .filter(|(_, ep)| ep.member_since.is_none() && eligible(ep))
            .map(|(&id, ep)| (id, ep.level))
            // Ties go to the lower endpoint ID so that runs are deterministic.
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
    }

    fn admit(&mut self, endpoint_id: u64, now: Instant) {
        if let Some(ep) = self.endpoints.get_mut(&endpoint_id) {
            ep.member_since = Some(now);
            ep.beating_since = None;
            self.current.push(ActiveSpeaker {
                endpoint_id,
                level: to_level(ep.level),
            });
        }
    }

    /// Gives free slots to the loudest outsiders above the join level, without hold.
    fn fill_free_slots(&mut self, now: Instant) -> usize {
        let mut entered = 0;
        let join_level = self.config.join_level;
        while self.current.len() < self.config.max_speakers {
            match self.loudest_outsider(|ep| ep.level >= join_level) {
                Some((id, _)) => self.admit(id, now),
                None => break,
            }
            entered += 1;
        }
        entered
    }

    /// Replaces weak members by outsiders that have beaten them long enough.
    fn displace(&mut self, now: Instant) -> usize {
        let cfg = self.config;
        if self.current.len() < cfg.max_speakers || self.current.is_empty() {
            // Only reached with no outsider above the join level; no one to challenge.
            for ep in self.endpoints.values_mut() {
                if ep.member_since.is_none() {
                    ep.beating_since = None;
                }
            }
            return 0;
        }
        let mut displaced = 0;
        // Each round swaps one pair; a full set changes at most completely.
        for _ in 0..cfg.max_speakers {
            let weakest = self
                .current
                .iter()
                .map(|s| self.smoothed(s.endpoint_id))
                .fold(f64::INFINITY, f64::min);
            for ep in self.endpoints.values_mut() {
                if ep.member_since.is_some() {
                    continue;
                }
                if ep.level >= weakest + cfg.margin {
                    ep.beating_since.get_or_insert(now);
                } else {
                    ep.beating_since = None;
                }
            }
            let challenger = self.loudest_outsider(|ep| {
                ep.beating_since
                    .is_some_and(|t| now.saturating_duration_since(t) >= cfg.hold)
            });
            let victim = self
                .current
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    self.endpoints.get(&s.endpoint_id).is_some_and(|ep| {
                        ep.member_since
                            .is_some_and(|t| now.saturating_duration_since(t) >= cfg.min_membership)
                    })
                })
                .map(|(i, s)| (i, self.smoothed(s.endpoint_id)))
                // The weakest; among equals the lowest ranked.
                .min_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
            let (Some((challenger, level)), Some((index, victim_level))) = (challenger, victim)
            else {
                break;
            };
            if level < victim_level + cfg.margin {
                break;
            }
            let gone = self.current.remove(index);
            if let Some(ep) = self.endpoints.get_mut(&gone.endpoint_id) {
                ep.member_since = None;
                ep.beating_since = None;
            }
            self.admit(challenger, now);
            displaced += 1;
        }
        displaced
    }

    /// Sorts the set by level, loudest first; equals keep their order. Clears rank timers.
    fn sort_by_level(&mut self) {
        // Insertion sort: N is small, it is stable, and it never allocates.
        for i in 1..self.current.len() {
            let mut j = i;
            while j > 0 {
                let (Some(above), Some(below)) = (self.current.get(j - 1), self.current.get(j))
                else {
                    break;
                };
                if self.smoothed(below.endpoint_id) <= self.smoothed(above.endpoint_id) {
                    break;
                }
                self.current.swap(j - 1, j);
                j -= 1;
            }
        }
        for s in &self.current {
            if let Some(ep) = self.endpoints.get_mut(&s.endpoint_id) {
                ep.beating_since = None;
            }
        }
    }

    /// Moves a member one rank up when it has beaten the member above it by the margin for
    /// the hold time. Returns whether the order changed.
    fn overtake(&mut self, now: Instant) -> bool {
        let cfg = self.config;
        let mut changed = false;
        for i in 1..self.current.len() {
            let (Some(above), Some(below)) = (self.current.get(i - 1), self.current.get(i)) else {
                break;
            };
            let (above_id, below_id) = (above.endpoint_id, below.endpoint_id);
            let above_level = self.smoothed(above_id);
            let Some(ep) = self.endpoints.get_mut(&below_id) else {
                continue;
            };
            if ep.level < above_level + cfg.margin {
                ep.beating_since = None;
                continue;
            }
            let since = *ep.beating_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= cfg.hold {
                ep.beating_since = None;
                if let Some(a) = self.endpoints.get_mut(&above_id) {
                    a.beating_since = None;
                }
                self.current.swap(i - 1, i);
                changed = true;
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_epoch;
    use proptest::prelude::*;

    const TICK: Duration = Duration::from_millis(50);
    const SAMPLE: Duration = Duration::from_millis(20);

    /// Drives a conference in virtual time: every 20 ms each endpoint in `levels(t)` sends one
    /// audio message with its level, every 50 ms the ranking ticks. Returns every change.
    struct Sim {
        speakers: ActiveSpeakers,
        now: Instant,
        next_tick: Instant,
        changes: Vec<(Duration, SpeakerChange)>,
        t0: Instant,
    }

    impl Sim {
        fn new(config: SpeakerConfig) -> Self {
            let t0 = test_epoch();
            Self {
                speakers: ActiveSpeakers::new(config),
                now: t0,
                next_tick: t0,
                changes: Vec::new(),
                t0,
            }
        }

        fn run(&mut self, duration: Duration, levels: impl Fn(Duration) -> Vec<(u64, u8)>) {
            let end = self.now + duration;
            while self.now < end {
                for (id, level) in levels(self.now - self.t0) {
                    self.speakers.observe(id, level, self.now);
                }
                while self.next_tick <= self.now {
                    if let Some(c) = self.speakers.tick(self.next_tick) {
                        self.changes.push((self.next_tick - self.t0, c));
                    }
                    self.next_tick += TICK;
                }
                self.now += SAMPLE;
            }
        }

        fn ids(&self) -> Vec<u64> {
            self.speakers
                .current()
                .iter()
                .map(|s| s.endpoint_id)
                .collect()
        }

        fn set_changes_after(&self, t: Duration) -> usize {
            self.changes
                .iter()
                .filter(|(at, c)| *at > t && c.set_changed())
                .count()
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn everyone_talking_is_active_below_n() {
        let mut sim = Sim::new(SpeakerConfig::default());
        sim.run(ms(100), |_| vec![(1, 80), (2, 40), (3, 0)]);
        // Endpoint 3 sends only silence and takes no slot.
        assert_eq!(sim.ids(), vec![1, 2]);
        assert!(sim.speakers.is_active(1) && sim.speakers.is_active(2));
        assert!(!sim.speakers.is_active(3));
        let (at, first) = &sim.changes[0];
        assert!(*at <= ms(50), "joined at {at:?}");
        assert!(first.set_changed());
    }

    #[test]
    fn n_cap_is_respected() {
        let mut sim = Sim::new(SpeakerConfig::default());
        sim.run(ms(3000), |_| {
            (1..=10).map(|id| (id, 50 + id as u8)).collect()
        });
        assert_eq!(sim.speakers.current().len(), 3);
        let mut sim = Sim::new(SpeakerConfig::default().max_speakers(0));
        sim.run(ms(500), |_| vec![(1, 100)]);
        assert!(sim.speakers.current().is_empty());
        assert!(sim.changes.is_empty());
    }

    #[test]
    fn list_is_loudest_first_with_levels() {
        let mut sim = Sim::new(SpeakerConfig::default());
        sim.run(ms(2000), |_| vec![(1, 30), (2, 90), (3, 60)]);
        assert_eq!(sim.ids(), vec![2, 3, 1]);
        let levels: Vec<u8> = sim.speakers.current().iter().map(|s| s.level).collect();
        for (got, want) in levels.iter().zip([90u8, 60, 30]) {
            assert!(got.abs_diff(want) <= 5, "{levels:?}");
        }
        assert_eq!(sim.speakers.at_rank(0), Some(2));
        assert_eq!(sim.speakers.at_rank(3), None);
    }

    #[test]
    fn clear_speaker_takes_over_after_the_hold_time() {
        let config = SpeakerConfig::default().max_speakers(1);
        let mut sim = Sim::new(config);
        sim.run(ms(3000), |_| vec![(1, 60), (2, 5)]);
        assert_eq!(sim.ids(), vec![1]);
        let start = ms(3000);
        // Endpoint 2 starts talking clearly; endpoint 1 goes quiet.
        sim.run(ms(3000), |_| vec![(1, 10), (2, 100)]);
        assert_eq!(sim.ids(), vec![2]);
        let switches: Vec<_> = sim.changes.iter().filter(|(at, _)| *at > start).collect();
        assert_eq!(switches.len(), 1, "{switches:?}");
        let (at, change) = switches[0];
        assert_eq!((change.entered, change.left), (1, 1));
        // Not before the hold time has passed since 2 began to beat 1 by the margin, and not
        // much later either.
        assert!(*at >= start + ms(500), "switched at {at:?}");
        assert!(*at <= start + ms(1000), "switched at {at:?}");
    }

    #[test]
    fn alternating_faster_than_hold_does_not_flap() {
        let config = SpeakerConfig::default().max_speakers(1);
        let mut sim = Sim::new(config);
        sim.run(ms(2000), |_| vec![(1, 80), (2, 0)]);
        assert_eq!(sim.ids(), vec![1]);
        // 1 and 2 take turns every 300 ms for 10 s.
        sim.run(ms(10_000), |t| {
            if (t.as_millis() / 300) % 2 == 0 {
                vec![(1, 80), (2, 0)]
            } else {
                vec![(1, 0), (2, 80)]
            }
        });
        assert_eq!(sim.set_changes_after(ms(2000)), 0, "{:?}", sim.changes);
        assert_eq!(sim.ids(), vec![1]);
    }

    #[test]
    fn order_does_not_flap_between_close_speakers() {
        let mut sim = Sim::new(SpeakerConfig::default());
        sim.run(ms(2000), |_| vec![(1, 70), (2, 60)]);
        assert_eq!(sim.ids(), vec![1, 2]);
        let before = sim.changes.len();
        // Alternately louder by a lot, every 300 ms: shorter than hold, no reorder.
        sim.run(ms(6000), |t| {
            if (t.as_millis() / 300) % 2 == 0 {
                vec![(1, 80), (2, 50)]
            } else {
                vec![(1, 50), (2, 80)]
            }
        });
        assert_eq!(sim.changes.len(), before, "{:?}", &sim.changes[before..]);
        // A lasting difference reorders (without a set change).
        sim.run(ms(2000), |_| vec![(1, 20), (2, 90)]);
        assert_eq!(sim.ids(), vec![2, 1]);
        let (_, last) = sim.changes.last().unwrap();
        assert!(!last.set_changed());
    }

    #[test]
    fn silence_decays() {
        let mut sim = Sim::new(SpeakerConfig::default());
        sim.run(ms(2000), |_| vec![(1, 100)]);
        let stop = sim.now;
        assert!(sim.speakers.level(1, stop).unwrap() >= 95);
        // Half-life 300 ms: after 300 ms about half, after 3 s about nothing.
        let half = sim.speakers.level(1, stop + ms(300)).unwrap();
        assert!((45..=55).contains(&half), "{half}");
        sim.run(ms(3000), |_| vec![]);
        assert_eq!(sim.speakers.level(1, sim.now), Some(0));
        assert_eq!(sim.speakers.current()[0].level, 0);
        // A silent member stays until someone displaces it.
        assert!(sim.speakers.is_active(1));
        assert_eq!(sim.speakers.level(9, sim.now), None);
    }

    #[test]
    fn one_packet_after_silence_does_not_jump() {
        let t0 = test_epoch();
        let mut s = ActiveSpeakers::new(SpeakerConfig::default());
        s.observe(1, 100, t0);
        s.observe(1, 100, t0 + ms(10_000));
        // Weight of one 120 ms sample with a 300 ms half-life: 1 - 2^-0.4 = 24 %.
        assert_eq!(s.level(1, t0 + ms(10_000)), Some(24));
    }

    #[test]
    fn sample_rate_does_not_change_the_level() {
        let t0 = test_epoch();
        let mut fast = ActiveSpeakers::new(SpeakerConfig::default());
        let mut slow = ActiveSpeakers::new(SpeakerConfig::default());
        for i in 0..=300 {
            fast.observe(1, 40, t0 + ms(10 * i));
        }
        for i in 0..=50 {
            slow.observe(1, 40, t0 + ms(60 * i));
        }
        // Compared at a common sample time, both have converged alike.
        let end = t0 + ms(3000);
        let (f, s) = (fast.level(1, end).unwrap(), slow.level(1, end).unwrap());
        assert!(f.abs_diff(s) <= 1, "{f} vs {s}");
        assert!(f.abs_diff(40) <= 4, "{f}");
    }

    #[test]
    fn new_member_is_not_displaced_before_min_membership() {
        let config = SpeakerConfig::default()
            .max_speakers(1)
            .min_membership(ms(3000));
        let mut sim = Sim::new(config);
        sim.run(ms(200), |_| vec![(1, 30)]);
        assert_eq!(sim.ids(), vec![1]);
        sim.run(ms(2000), |_| vec![(1, 30), (2, 100)]);
        assert_eq!(sim.ids(), vec![1], "displaced within min membership");
        sim.run(ms(1500), |_| vec![(1, 30), (2, 100)]);
        assert_eq!(sim.ids(), vec![2]);
        // 2 had beaten 1 for longer than the hold time already: it took over as soon as 1's
        // minimum membership ran out, at 3.0 s (+ one tick).
        let (at, _) = sim.changes.last().unwrap();
        assert!(*at <= ms(3100), "{at:?}");
    }

    #[test]
    fn remove_frees_the_slot_at_once() {
        let mut sim = Sim::new(SpeakerConfig::default().max_speakers(1));
        sim.run(ms(2000), |_| vec![(1, 80), (2, 60)]);
        assert_eq!(sim.ids(), vec![1]);
        sim.speakers.remove(1);
        assert!(!sim.speakers.is_active(1));
        let change = sim.speakers.tick(sim.now).unwrap();
        assert_eq!((change.entered, change.left), (1, 1));
        assert_eq!(change.speakers[0].endpoint_id, 2);
        sim.speakers.remove(42);
        assert_eq!(sim.speakers.tick(sim.now + TICK), None);
    }

    #[test]
    fn change_converts_to_the_control_message() {
        let change = SpeakerChange {
            speakers: vec![ActiveSpeaker {
                endpoint_id: 3,
                level: 87,
            }],
            entered: 1,
            left: 0,
        };
        let msg = change.to_control(1234);
        assert_eq!(msg.conference_id, 1234);
        assert_eq!(
            msg.speakers,
            vec![control::Speaker {
                endpoint_id: 3,
                level: Some(87)
            }]
        );
    }

    proptest! {
        /// Under random talk patterns: the set never exceeds N nor repeats an endpoint, the
        /// reported list is what `current` shows, and nobody is displaced within its minimum
        /// membership.
        #[test]
        fn invariants_under_random_talk(
            pattern in proptest::collection::vec(proptest::collection::vec(0u8..=100, 5), 1..60),
            n in 1usize..4,
        ) {
            let config = SpeakerConfig::default().max_speakers(n);
            let mut s = ActiveSpeakers::new(config);
            let t0 = test_epoch();
            let mut now = t0;
            let mut joined: HashMap<u64, Instant> = HashMap::new();
            // Each pattern step lasts 200 ms.
            for levels in pattern {
                for _ in 0..10 {
                    for (id, &level) in levels.iter().enumerate() {
                        s.observe(id as u64, level, now);
                    }
                    if (now - t0).as_millis().is_multiple_of(50) {
                        let change = s.tick(now);
                        let ids: Vec<u64> = s.current().iter().map(|x| x.endpoint_id).collect();
                        prop_assert!(ids.len() <= n);
                        let mut dedup = ids.clone();
                        dedup.sort_unstable();
                        dedup.dedup();
                        prop_assert_eq!(dedup.len(), ids.len());
                        if let Some(c) = change {
                            prop_assert_eq!(&c.speakers[..], s.current());
                        }
                        for (&id, &since) in &joined {
                            if !ids.contains(&id) {
                                prop_assert!(now - since >= Duration::from_secs(1));
                            }
                        }
                        joined.retain(|id, _| ids.contains(id));
                        for id in ids {
                            joined.entry(id).or_insert(now);
                        }
                    }
                    now += SAMPLE;
                }
            }
        }
    }
}
