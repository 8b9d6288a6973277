//! Who talks when, and what that does to an audio stream.
//!
//! Audio always goes at 50 packets/s (20 ms Opus frames). While the person talks, packets are
//! about `bitrate / 400` bytes (±20 %) with an active level of 60-95; while silent they shrink
//! to the stamp (a DTX-like comfort-noise frame) with a level of 0-2. The SFU ranks speakers
//! by these levels, so the pattern is what exercises active-speaker selection.

use super::stamp::STAMP_LEN;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Audio packets per second (20 ms frames).
pub const AUDIO_PACKETS_PER_SEC: u32 = 50;

/// Round-robin turns shared by every speaker of an audio room (and by the listeners, who
/// time speaker switches against it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnSchedule {
    /// When turn 0 starts, wall-clock microseconds.
    pub start_micros: u64,
    /// Length of one turn, microseconds (at least 1).
    pub turn_micros: u64,
    /// Number of speakers taking turns (at least 1).
    pub speakers: usize,
}

impl TurnSchedule {
    /// The turn running at `now` (`None` before the start).
    pub fn turn_at(&self, now_micros: u64) -> Option<u64> {
        let since = now_micros.checked_sub(self.start_micros)?;
        Some(since / self.turn_micros.max(1))
    }

    /// Which speaker has turn `turn`.
    pub fn speaker_of(&self, turn: u64) -> usize {
        let n = self.speakers.max(1) as u64;
        usize::try_from(turn % n).unwrap_or(0)
    }

    /// When turn `turn` starts, wall-clock microseconds.
    pub fn turn_start(&self, turn: u64) -> u64 {
        self.start_micros
            .saturating_add(turn.saturating_mul(self.turn_micros.max(1)))
    }
}

/// How one publisher talks.
#[derive(Debug, Clone)]
pub enum TalkPattern {
    /// Talk spurts and pauses of random length (exponential, clamped to 0.3-10 s).
    Random {
        /// Mean talk spurt, microseconds.
        talk_mean_micros: u64,
        /// Mean pause, microseconds.
        silence_mean_micros: u64,
    },
    /// Talks during its own turns only.
    Turns {
        /// The room's schedule.
        schedule: TurnSchedule,
        /// This speaker's index in it.
        index: usize,
    },
    /// Always talking.
    Continuous,
}

/// One audio packet to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioPacket {
    /// Payload size, bytes (at least [`STAMP_LEN`]).
    pub size: usize,
    /// Active level 0-100.
    pub level: u8,
    /// Whether the person is talking.
    pub talking: bool,
}

/// The state of one talker: pattern, randomness, current spurt.
#[derive(Debug, Clone)]
pub struct Talker {
    pattern: TalkPattern,
    rng: ChaCha8Rng,
    talking: bool,
    next_toggle: Option<u64>,
    talk_bytes: usize,
}

impl Talker {
    /// A talker with `pattern` sending at `bitrate` bit/s while talking, its randomness
    /// seeded by `seed`.
    pub fn new(pattern: TalkPattern, bitrate: u64, seed: u64) -> Self {
        let per_packet = bitrate / 8 / u64::from(AUDIO_PACKETS_PER_SEC);
        Self {
            pattern,
            rng: ChaCha8Rng::seed_from_u64(seed),
            talking: false,
            next_toggle: None,
            talk_bytes: usize::try_from(per_packet)
                .unwrap_or(usize::MAX)
                .max(STAMP_LEN),
        }
    }

    /// Whether the person talks at `now`.
    pub fn is_talking(&mut self, now_micros: u64) -> bool {
        match &self.pattern {
            TalkPattern::Continuous => true,
            TalkPattern::Turns { schedule, index } => schedule
                .turn_at(now_micros)
                .is_some_and(|t| schedule.speaker_of(t) == *index),
            TalkPattern::Random {
                talk_mean_micros,
                silence_mean_micros,
            } => {
                let (talk, silence) = (*talk_mean_micros, *silence_mean_micros);
                let next = match self.next_toggle {
                    Some(t) => t,
                    None => {
                        // Everyone says something soon after joining: a first pause of up
                        // to one mean pause, then a spell of talk.
                        self.talking = false;
                        let first = now_micros + self.rng.gen_range(0..=silence);
                        self.next_toggle = Some(first);
                        first
                    }
                };
                let mut next = next;
                while now_micros >= next {
                    self.talking = !self.talking;
                    let mean = if self.talking { talk } else { silence };
                    next += self.spell(mean);
                }
                self.next_toggle = Some(next);
                self.talking
            }
        }
    }

    /// An exponential spell with `mean`, clamped to 0.3-10 s.
    fn spell(&mut self, mean: u64) -> u64 {
        let u: f64 = self.rng.gen_range(f64::EPSILON..1.0);
        let x = -u.ln() * mean as f64;
        (x as u64).clamp(300_000, 10_000_000)
    }

    /// The packet to send at `now`.
    pub fn packet(&mut self, now_micros: u64) -> AudioPacket {
        if self.is_talking(now_micros) {
            let jitter = self.rng.gen_range(0.8..1.2);
            let size = ((self.talk_bytes as f64) * jitter) as usize;
            AudioPacket {
                size: size.max(STAMP_LEN),
                level: self.rng.gen_range(60..=95),
                talking: true,
            }
        } else {
            AudioPacket {
                size: STAMP_LEN,
                level: self.rng.gen_range(0..=2),
                talking: false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1000;

    #[test]
    fn turns_go_round_robin() {
        let s = TurnSchedule {
            start_micros: 1_000_000,
            turn_micros: 3_000_000,
            speakers: 3,
        };
        assert_eq!(s.turn_at(999_999), None);
        assert_eq!(s.turn_at(1_000_000), Some(0));
        assert_eq!(s.turn_at(4_000_000), Some(1));
        assert_eq!(s.speaker_of(0), 0);
        assert_eq!(s.speaker_of(4), 1);
        assert_eq!(s.turn_start(2), 7_000_000);
        let mut second = Talker::new(
            TalkPattern::Turns {
                schedule: s,
                index: 1,
            },
            32_000,
            1,
        );
        assert!(!second.is_talking(2_000_000));
        assert!(second.is_talking(4_500_000));
        assert!(!second.is_talking(7_000_000));
        assert!(second.is_talking(13_000_000));
    }

    #[test]
    fn talking_packets_follow_the_bitrate_and_silence_is_small() {
        let mut t = Talker::new(TalkPattern::Continuous, 32_000, 7);
        let sizes: Vec<_> = (0..500).map(|i| t.packet(i * 20 * MS)).collect();
        let mean = sizes.iter().map(|p| p.size).sum::<usize>() as f64 / sizes.len() as f64;
        assert!((70.0..90.0).contains(&mean), "{mean}");
        assert!(
            sizes
                .iter()
                .all(|p| p.talking && (60..=95).contains(&p.level))
        );
        let s = TurnSchedule {
            start_micros: 0,
            turn_micros: 1_000_000,
            speakers: 2,
        };
        let mut quiet = Talker::new(
            TalkPattern::Turns {
                schedule: s,
                index: 1,
            },
            32_000,
            7,
        );
        let p = quiet.packet(500 * MS);
        assert_eq!(p.size, STAMP_LEN);
        assert!(p.level <= 2 && !p.talking);
    }

    #[test]
    fn random_spells_alternate_with_plausible_lengths() {
        let mut t = Talker::new(
            TalkPattern::Random {
                talk_mean_micros: 1_500_000,
                silence_mean_micros: 3_000_000,
            },
            32_000,
            42,
        );
        let mut toggles = 0;
        let mut last = t.is_talking(0);
        let mut talking_ms = 0;
        for i in 1..=60_000u64 {
            let now = t.is_talking(i * MS);
            if now != last {
                toggles += 1;
                last = now;
            }
            if now {
                talking_ms += 1;
            }
        }
        // 60 s with spells of 0.3-10 s: some toggles, not too many; talking about a third.
        assert!((8..=200).contains(&toggles), "{toggles}");
        assert!((8_000..=40_000).contains(&talking_ms), "{talking_ms}");
    }

    #[test]
    fn the_same_seed_talks_the_same() {
        let pattern = TalkPattern::Random {
            talk_mean_micros: 1_000_000,
            silence_mean_micros: 1_000_000,
        };
        let mut a = Talker::new(pattern.clone(), 32_000, 5);
        let mut b = Talker::new(pattern, 32_000, 5);
        for i in 0..1000 {
            assert_eq!(a.packet(i * 20 * MS), b.packet(i * 20 * MS));
        }
    }
}
