//! # newmedia-netsim
//!
//! A seeded, sans-IO network emulator for tests: one [`Link`] is one direction of a path.
//! Packets go in with [`Link::send`] at `now` and come out of [`Link::poll_deliver`] at their
//! delivery time; [`Link::poll_timeout`] says when the next one is due. The link never reads a
//! clock, spawns nothing and touches no socket, so a test drives it in virtual time and the
//! same seed always gives the same losses, delays and order.
//!
//! What a packet meets, in this order (netem's model):
//!
//! 1. **Loss**: independent random loss with probability [`LinkConfig::loss`], and/or burst
//!    loss from a two-state Gilbert-Elliott chain ([`GilbertElliott`]). A packet is lost if
//!    either says so.
//! 2. **Rate limit** ([`LinkConfig::rate`]): packets are serialized one after another at the
//!    rate; those waiting form a FIFO queue of at most [`LinkConfig::queue_bytes`], and a
//!    packet that does not fit is dropped (tail drop).
//! 3. **Delay**: the fixed [`LinkConfig::delay`] plus a uniform jitter in
//!    `[-jitter, +jitter]` (never below zero in total). Jitter alone reorders packets sent
//!    closer together than the jitter spread, as on a real path with several routes.
//! 4. **Reordering**: with the probability given to [`LinkConfig::reorder`] a packet is held
//!    back by the extra delay given with it, so later packets overtake it.
//! 5. **Duplication**: with probability [`LinkConfig::duplicate`] a second copy is delivered,
//!    with its own jitter.
//!
//! Packets due at the same instant come out in the order they were sent.
//!
//! What it does not do: model a shared bottleneck between several links, ECN marking, or MTU
//! limits; tests compose several links for that.
//!
//! ```
//! use newmedia_netsim::{Link, LinkConfig};
//! use std::time::{Duration, Instant};
//!
//! # #[allow(clippy::disallowed_methods)]
//! let t0 = Instant::now(); // the one real instant; everything else is virtual
//! let config = LinkConfig::default().delay(Duration::from_millis(20)).loss(0.0);
//! let mut link = Link::new(config, 7)?;
//! link.send(vec![1u8, 2, 3], t0);
//! assert_eq!(link.poll_deliver(t0), None);
//! let due = link.poll_timeout().unwrap();
//! assert_eq!(due, t0 + Duration::from_millis(20));
//! assert_eq!(link.poll_deliver(due), Some(vec![1, 2, 3]));
//! # Ok::<(), newmedia_netsim::ConfigError>(())
//! ```

#![forbid(unsafe_code)]

use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Something a [`Link`] carries: cloneable (for duplication) and with a size on the wire (for
/// the rate limit and the queue).
pub trait Packet: Clone {
    /// Bytes on the wire.
    fn size(&self) -> usize;
}

impl Packet for Bytes {
    fn size(&self) -> usize {
        self.len()
    }
}

impl Packet for Vec<u8> {
    fn size(&self) -> usize {
        self.len()
    }
}

/// A link configuration that cannot work.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum ConfigError {
    /// A probability outside `0.0..=1.0` (or NaN).
    #[error("{name} must be a probability in 0..=1, got {value}")]
    Probability {
        /// Which setting.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// A rate of 0 bit/s.
    #[error("the rate limit must be at least 1 bit/s")]
    ZeroRate,
}

/// Two-state Markov burst loss (Gilbert-Elliott). Before each packet the chain moves from
/// good to bad with probability `p_good_to_bad` or from bad to good with `p_bad_to_good`; the
/// packet is then lost with the loss probability of the state it is in. The mean burst (time
/// in the bad state) is `1 / p_bad_to_good` packets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GilbertElliott {
    /// Probability of moving from the good to the bad state, per packet.
    pub p_good_to_bad: f64,
    /// Probability of moving from the bad to the good state, per packet.
    pub p_bad_to_good: f64,
    /// Loss probability in the good state.
    pub loss_good: f64,
    /// Loss probability in the bad state.
    pub loss_bad: f64,
}

impl GilbertElliott {
    /// The classic Gilbert model: no loss when good, every packet lost when bad.
    pub fn gilbert(p_good_to_bad: f64, p_bad_to_good: f64) -> Self {
        Self {
            p_good_to_bad,
            p_bad_to_good,
            loss_good: 0.0,
            loss_bad: 1.0,
        }
    }

    /// The long-run loss rate of the chain.
    pub fn mean_loss(&self) -> f64 {
        let sum = self.p_good_to_bad + self.p_bad_to_good;
        if sum <= 0.0 {
            return self.loss_good;
        }
        let bad = self.p_good_to_bad / sum;
        bad * self.loss_bad + (1.0 - bad) * self.loss_good
    }
}

/// How a [`Link`] impairs what it carries. The default is a perfect link: no loss, no delay,
/// no limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    loss: f64,
    burst: Option<GilbertElliott>,
    delay: Duration,
    jitter: Duration,
    reorder: f64,
    reorder_delay: Duration,
    duplicate: f64,
    rate: Option<u64>,
    queue_bytes: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            loss: 0.0,
            burst: None,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
            duplicate: 0.0,
            rate: None,
            queue_bytes: 1 << 20,
        }
    }
}

impl LinkConfig {
    /// Independent random loss probability per packet, 0..=1. Default 0.
    pub fn loss(mut self, probability: f64) -> Self {
        self.loss = probability;
        self
    }

    /// Burst loss from a Gilbert-Elliott chain, on top of [`loss`](Self::loss). Default none.
    pub fn burst(mut self, model: Option<GilbertElliott>) -> Self {
        self.burst = model;
        self
    }

    /// Fixed one-way delay. Default 0.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Jitter: each packet's delay is `delay` plus a uniform offset in `[-jitter, +jitter]`,
    /// floored at zero. Default 0.
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// Probability, 0..=1, that a packet is held back by `extra` on top of its delay, so that
    /// later packets overtake it. Default 0 (and 0 ms).
    pub fn reorder(mut self, probability: f64, extra: Duration) -> Self {
        self.reorder = probability;
        self.reorder_delay = extra;
        self
    }

    /// Probability, 0..=1, that a packet is delivered twice. Default 0.
    pub fn duplicate(mut self, probability: f64) -> Self {
        self.duplicate = probability;
        self
    }

    /// Rate limit in bit/s; `None` (the default) is unlimited.
    pub fn rate(mut self, bits_per_second: Option<u64>) -> Self {
        self.rate = bits_per_second;
        self
    }

    /// Most bytes waiting for the rate-limited link; a packet that would exceed it is dropped.
    /// Only used with a [`rate`](Self::rate). Default 1 MiB.
    pub fn queue_bytes(mut self, bytes: usize) -> Self {
        self.queue_bytes = bytes;
        self
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let mut probabilities = vec![
            ("loss", self.loss),
            ("reorder", self.reorder),
            ("duplicate", self.duplicate),
        ];
        if let Some(b) = &self.burst {
            probabilities.extend([
                ("burst.p_good_to_bad", b.p_good_to_bad),
                ("burst.p_bad_to_good", b.p_bad_to_good),
                ("burst.loss_good", b.loss_good),
                ("burst.loss_bad", b.loss_bad),
            ]);
        }
        for (name, value) in probabilities {
            if !(0.0..=1.0).contains(&value) {
                return Err(ConfigError::Probability { name, value });
            }
        }
        if self.rate == Some(0) {
            return Err(ConfigError::ZeroRate);
        }
        Ok(())
    }
}

/// What happened to a packet handed to [`Link::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// It will be delivered (once, or twice when duplicated).
    InFlight,
    /// Lost (random or burst loss).
    Lost,
    /// Dropped because the rate limiter's queue was full.
    QueueFull,
}

/// Counters of a [`Link`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Packets handed to [`Link::send`].
    pub sent: u64,
    /// Packets (copies included) handed out by [`Link::poll_deliver`].
    pub delivered: u64,
    /// Packets lost to random or burst loss.
    pub lost: u64,
    /// Packets dropped by the full queue.
    pub queue_dropped: u64,
    /// Extra copies scheduled.
    pub duplicated: u64,
    /// Packets held back to be reordered.
    pub reordered: u64,
}

struct Scheduled<P> {
    at: Instant,
    order: u64,
    packet: P,
}

impl<P> PartialEq for Scheduled<P> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}

impl<P> Eq for Scheduled<P> {}

impl<P> PartialOrd for Scheduled<P> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<P> Ord for Scheduled<P> {
    // Reversed: BinaryHeap is a max-heap and we want the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.order).cmp(&(self.at, self.order))
    }
}

/// One direction of an emulated path. See the crate docs for the model.
pub struct Link<P> {
    config: LinkConfig,
    rng: ChaCha8Rng,
    bad_state: bool,
    /// When the rate-limited link finishes sending what it has.
    link_free: Option<Instant>,
    /// (departure time, size) of packets still waiting to be serialized.
    waiting: VecDeque<(Instant, usize)>,
    waiting_bytes: usize,
    scheduled: BinaryHeap<Scheduled<P>>,
    next_order: u64,
    stats: LinkStats,
}

impl<P> std::fmt::Debug for Link<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("config", &self.config)
            .field("in_flight", &self.scheduled.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<P: Packet> Link<P> {
    /// A link with the given impairments whose random choices all come from `seed`.
    pub fn new(config: LinkConfig, seed: u64) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            rng: ChaCha8Rng::seed_from_u64(seed),
            bad_state: false,
            link_free: None,
            waiting: VecDeque::new(),
            waiting_bytes: 0,
            scheduled: BinaryHeap::new(),
            next_order: 0,
            stats: LinkStats::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// The counters so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Packets scheduled for delivery and not yet handed out.
    pub fn in_flight(&self) -> usize {
        self.scheduled.len()
    }

    /// Hands `packet` to the link at `now`.
    pub fn send(&mut self, packet: P, now: Instant) -> Fate {
        self.stats.sent += 1;
        if self.lose() {
            self.stats.lost += 1;
            return Fate::Lost;
        }
        let Some(depart) = self.serialize(packet.size(), now) else {
            self.stats.queue_dropped += 1;
            return Fate::QueueFull;
        };
        let duplicate = self.chance(self.config.duplicate);
        if duplicate {
            self.stats.duplicated += 1;
            let at = self.arrival(depart);
            self.schedule(at, packet.clone());
        }
        let at = self.arrival(depart);
        self.schedule(at, packet);
        Fate::InFlight
    }

    /// The next packet whose delivery time is at or before `now`, if any.
    pub fn poll_deliver(&mut self, now: Instant) -> Option<P> {
        if self.scheduled.peek().is_some_and(|s| s.at <= now) {
            self.stats.delivered += 1;
            return self.scheduled.pop().map(|s| s.packet);
        }
        None
    }

    /// When the next packet is due, if one is in flight.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.scheduled.peek().map(|s| s.at)
    }

    fn chance(&mut self, probability: f64) -> bool {
        probability > 0.0 && self.rng.r#gen::<f64>() < probability
    }

    fn lose(&mut self) -> bool {
        let mut lost = self.chance(self.config.loss);
        if let Some(ge) = self.config.burst {
            let flip = if self.bad_state {
                ge.p_bad_to_good
            } else {
                ge.p_good_to_bad
            };
            if self.chance(flip) {
                self.bad_state = !self.bad_state;
            }
            let p = if self.bad_state {
                ge.loss_bad
            } else {
                ge.loss_good
            };
            lost |= self.chance(p);
        }
        lost
    }

    /// When the packet's last bit leaves the rate-limited link, or `None` if the queue is
    /// full. Without a rate limit it leaves at once.
    fn serialize(&mut self, size: usize, now: Instant) -> Option<Instant> {
        let Some(rate) = self.config.rate else {
            return Some(now);
        };
        while let Some(&(depart, bytes)) = self.waiting.front() {
            if depart > now {
                break;
            }
            self.waiting.pop_front();
            self.waiting_bytes -= bytes;
        }
        if self.waiting_bytes + size > self.config.queue_bytes {
            return None;
        }
        let start = self.link_free.map_or(now, |free| free.max(now));
        let nanos = (size as u128 * 8 * 1_000_000_000).div_ceil(u128::from(rate.max(1)));
        let depart = start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        self.link_free = Some(depart);
        self.waiting.push_back((depart, size));
        self.waiting_bytes += size;
        Some(depart)
    }

    /// Delivery time of a copy that left the link at `depart`.
    fn arrival(&mut self, depart: Instant) -> Instant {
        let jitter = u64::try_from(self.config.jitter.as_nanos()).unwrap_or(u64::MAX / 4);
        let base = u64::try_from(self.config.delay.as_nanos()).unwrap_or(u64::MAX / 4);
        let mut delay = if jitter == 0 {
            base
        } else {
            let offset = self.rng.gen_range(0..=2 * jitter);
            (base + offset).saturating_sub(jitter)
        };
        if self.chance(self.config.reorder) {
            self.stats.reordered += 1;
            let extra = u64::try_from(self.config.reorder_delay.as_nanos()).unwrap_or(0);
            delay = delay.saturating_add(extra);
        }
        depart + Duration::from_nanos(delay)
    }

    fn schedule(&mut self, at: Instant, packet: P) {
        let order = self.next_order;
        self.next_order += 1;
        self.scheduled.push(Scheduled { at, order, packet });
    }
}

#[cfg(test)]
mod tests;
