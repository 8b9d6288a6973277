//! Rate limiting of intra-frame requests toward publishers.
//!
//! Every viewer whose simulcast switch waits for a reference frame wants the publisher to
//! send one (IntraFrameRequest, draft §6.4). A keyframe is several times the size of a normal
//! frame, so a hundred viewers switching at once must not become a hundred keyframes: one
//! request per encoding per interval is enough, because the single keyframe it produces
//! serves every viewer waiting on that encoding. A request that is refused here is not lost:
//! the viewer's switch stays pending and the caller asks again on a later message or tick,
//! which is how a request whose keyframe got lost is retried after the interval (the path
//! sampler re-asks for every switch still pending, every path tick).

use newmedia_proto::ids::GlobalEncodingId;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Settings of a [`KeyframeLimiter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyframeConfig {
    min_interval: Duration,
}

impl Default for KeyframeConfig {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_millis(500),
        }
    }
}

impl KeyframeConfig {
    /// Shortest time between two intra-frame requests for the same encoding.
    /// Default 500 ms.
    pub fn min_interval(mut self, interval: Duration) -> Self {
        self.min_interval = interval;
        self
    }

    /// The configured minimum interval.
    pub fn interval(&self) -> Duration {
        self.min_interval
    }
}

/// Allows at most one intra-frame request per encoding per [`KeyframeConfig::min_interval`].
///
/// Memory holds one entry per encoding asked for; [`KeyframeLimiter::forget`] drops one when
/// its encoding stops, [`KeyframeLimiter::prune`] drops every entry whose interval has run out
/// (such an entry no longer refuses anything, so dropping it changes no answer).
#[derive(Debug, Clone)]
pub struct KeyframeLimiter {
    config: KeyframeConfig,
    last_request: HashMap<GlobalEncodingId, Instant>,
}

impl KeyframeLimiter {
    /// A limiter that has allowed nothing yet.
    pub fn new(config: KeyframeConfig) -> Self {
        Self {
            config,
            last_request: HashMap::new(),
        }
    }

    /// Whether a request for `encoding` may go to its publisher now. `true` also records the
    /// request, so the next `true` for the same encoding comes one interval later at the
    /// earliest. O(1); allocates only the first time an encoding is seen.
    pub fn allow(&mut self, encoding: GlobalEncodingId, now: Instant) -> bool {
        match self.last_request.get_mut(&encoding) {
            Some(last) if now.saturating_duration_since(*last) < self.config.min_interval => false,
            Some(last) => {
                *last = now;
                true
            }
            None => {
                self.last_request.insert(encoding, now);
                true
            }
        }
    }

    /// When the next request for `encoding` will be allowed (`None`: right away).
    pub fn next_allowed(&self, encoding: GlobalEncodingId, now: Instant) -> Option<Instant> {
        let next = self
            .last_request
            .get(&encoding)?
            .checked_add(self.config.min_interval)?;
        (next > now).then_some(next)
    }

    /// Drops what is known about `encoding` (call when it stops being published).
    pub fn forget(&mut self, encoding: GlobalEncodingId) {
        self.last_request.remove(&encoding);
    }

    /// Drops every entry whose interval has run out at `now`; afterwards the limiter holds
    /// only encodings requested within the last interval. O(entries); call from a slow timer.
    pub fn prune(&mut self, now: Instant) {
        let interval = self.config.min_interval;
        self.last_request
            .retain(|_, last| now.saturating_duration_since(*last) < interval);
    }

    /// How many encodings the limiter currently remembers.
    pub fn len(&self) -> usize {
        self.last_request.len()
    }

    /// Whether the limiter remembers no encoding.
    pub fn is_empty(&self) -> bool {
        self.last_request.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_epoch;
    use proptest::prelude::*;

    const A: GlobalEncodingId = GlobalEncodingId(1);
    const B: GlobalEncodingId = GlobalEncodingId(2);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn many_viewers_at_once_cause_one_request() {
        let t0 = test_epoch();
        let mut limiter = KeyframeLimiter::new(KeyframeConfig::default());
        let allowed = (0..100).filter(|_| limiter.allow(A, t0)).count();
        assert_eq!(allowed, 1);
    }

    #[test]
    fn next_request_after_the_interval() {
        let t0 = test_epoch();
        let mut limiter = KeyframeLimiter::new(KeyframeConfig::default());
        assert!(limiter.allow(A, t0));
        assert!(!limiter.allow(A, t0 + ms(499)));
        assert_eq!(limiter.next_allowed(A, t0 + ms(499)), Some(t0 + ms(500)));
        assert!(limiter.allow(A, t0 + ms(500)));
        // The refused request at 499 ms did not restart the interval; the one at 500 did.
        assert!(!limiter.allow(A, t0 + ms(999)));
        assert!(limiter.allow(A, t0 + ms(1000)));
    }

    #[test]
    fn encodings_are_limited_independently() {
        let t0 = test_epoch();
        let mut limiter = KeyframeLimiter::new(KeyframeConfig::default());
        assert!(limiter.allow(A, t0));
        assert!(limiter.allow(B, t0));
        assert!(!limiter.allow(A, t0 + ms(10)));
        assert!(!limiter.allow(B, t0 + ms(10)));
    }

    #[test]
    fn configured_interval_is_used() {
        let t0 = test_epoch();
        let mut limiter = KeyframeLimiter::new(KeyframeConfig::default().min_interval(ms(100)));
        assert_eq!(KeyframeConfig::default().interval(), ms(500));
        assert!(limiter.allow(A, t0));
        assert!(!limiter.allow(A, t0 + ms(99)));
        assert!(limiter.allow(A, t0 + ms(100)));
    }

    #[test]
    fn forget_and_prune_bound_memory() {
        let t0 = test_epoch();
        let mut limiter = KeyframeLimiter::new(KeyframeConfig::default());
        for id in 0..1000 {
            limiter.allow(GlobalEncodingId(id), t0);
        }
        let late = GlobalEncodingId(5000);
        limiter.allow(late, t0 + ms(400));
        limiter.forget(GlobalEncodingId(500));
        assert_eq!(limiter.len(), 1000);
        limiter.prune(t0 + ms(600));
        // Only `late`, requested 200 ms before, still refuses anything.
        assert_eq!(limiter.len(), 1);
        assert!(!limiter.allow(late, t0 + ms(600)));
        limiter.forget(late);
        assert!(limiter.is_empty());
        assert!(limiter.allow(late, t0 + ms(600)));
    }

    #[test]
    fn clock_going_backwards_refuses_instead_of_panicking() {
        let t0 = test_epoch() + ms(1000);
        let mut limiter = KeyframeLimiter::new(KeyframeConfig::default());
        assert!(limiter.allow(A, t0));
        assert!(!limiter.allow(A, t0 - ms(1000)));
    }

    proptest! {
        /// Whatever the pattern of asks, two allowed requests for one encoding are at least
        /// one interval apart, and a request is refused only within an interval of the last
        /// allowed one.
        #[test]
        fn allowed_requests_are_spaced(gaps in proptest::collection::vec(0u64..300, 1..200)) {
            let t0 = test_epoch();
            let mut limiter = KeyframeLimiter::new(KeyframeConfig::default());
            let mut now = t0;
            let mut last_allowed: Option<Instant> = None;
            for gap in gaps {
                now += ms(gap);
                let allowed = limiter.allow(A, now);
                match last_allowed {
                    Some(last) => prop_assert_eq!(allowed, now - last >= ms(500)),
                    None => prop_assert!(allowed),
                }
                if allowed {
                    last_allowed = Some(now);
                }
            }
        }
    }
}
