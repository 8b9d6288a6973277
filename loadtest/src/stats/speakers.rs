//! The active-speaker set as one subscriber saw it over time.
//!
//! The SFU forwards the audio of only the top speakers; an endpoint that leaves the set stops
//! arriving and one that enters starts again. Those gaps are policy, not loss. The SFU
//! announces each change (ActiveSpeakers) on the control stream while it changes forwarding,
//! so a gap in a speaker's audio that has a change of that speaker's membership within
//! [`GATING_MARGIN_MICROS`] of its ends is taken to be speaker selection.

use std::collections::HashMap;

/// How far from a gap's ends a membership change still explains it, microseconds.
pub const GATING_MARGIN_MICROS: u64 = 100_000;

/// Membership changes per endpoint, wall-clock microseconds of arrival.
#[derive(Debug, Clone, Default)]
pub struct SpeakerHistory {
    current: Vec<u64>,
    changes: HashMap<u64, Vec<u64>>,
    /// (arrival, loudest endpoint) each time rank 0 changed.
    leaders: Vec<(u64, u64)>,
}

impl SpeakerHistory {
    /// Notes the set announced at `at` (loudest first).
    pub fn update(&mut self, at: u64, speakers: &[u64]) {
        for e in speakers.iter().filter(|e| !self.current.contains(e)) {
            self.changes.entry(*e).or_default().push(at);
        }
        for e in self.current.iter().filter(|e| !speakers.contains(e)) {
            self.changes.entry(*e).or_default().push(at);
        }
        let leader = speakers.first().copied();
        if leader.is_some() && leader != self.current.first().copied() {
            self.leaders.extend(leader.map(|l| (at, l)));
        }
        self.current = speakers.to_vec();
    }

    /// Whether `endpoint` is in the set now.
    pub fn is_member(&self, endpoint: u64) -> bool {
        self.current.contains(&endpoint)
    }

    /// Whether `endpoint`'s membership changed between `from` and `to` (with the margin).
    pub fn changed_between(&self, endpoint: u64, from: u64, to: u64) -> bool {
        let lo = from.saturating_sub(GATING_MARGIN_MICROS);
        let hi = to.saturating_add(GATING_MARGIN_MICROS);
        self.changes
            .get(&endpoint)
            .is_some_and(|c| c.iter().any(|t| (lo..=hi).contains(t)))
    }

    /// The first time at or after `since` that `endpoint` became the loudest.
    pub fn became_leader(&self, endpoint: u64, since: u64) -> Option<u64> {
        self.leaders
            .iter()
            .find(|(at, e)| *e == endpoint && *at >= since)
            .map(|(at, _)| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_near_a_gap_explain_it() {
        let mut h = SpeakerHistory::default();
        h.update(1_000_000, &[1, 2, 3]);
        h.update(5_000_000, &[4, 2, 3]); // 1 leaves, 4 joins
        assert!(h.is_member(4) && !h.is_member(1));
        // Endpoint 1's audio stopped at 4.99 s: explained by the change at 5 s.
        assert!(h.changed_between(1, 4_990_000, 9_000_000));
        // A gap of endpoint 2 at 3 s: no change near it, so it is loss.
        assert!(!h.changed_between(2, 3_000_000, 3_100_000));
        // The margin reaches 100 ms beyond the ends.
        assert!(h.changed_between(4, 4_800_000, 4_900_000));
        assert!(!h.changed_between(4, 4_000_000, 4_899_999));
        assert!(!h.changed_between(9, 0, u64::MAX));
    }

    #[test]
    fn leader_changes_are_timed() {
        let mut h = SpeakerHistory::default();
        h.update(100, &[1, 2]);
        h.update(200, &[1, 2, 3]); // same leader: no change
        h.update(300, &[2, 1, 3]);
        h.update(400, &[1, 2, 3]);
        assert_eq!(h.became_leader(1, 0), Some(100));
        assert_eq!(h.became_leader(1, 101), Some(400));
        assert_eq!(h.became_leader(2, 0), Some(300));
        assert_eq!(h.became_leader(3, 0), None);
        h.update(500, &[]);
        assert!(!h.is_member(1));
    }
}
