//! The layer filter of scalable codecs.
//!
//! A scalable (SVC) encoding sends its base layer with layer ID 0 (or no layer ID at all) and
//! each enhancement layer with a higher ID; a decoder can use any prefix of layers. So an SFU
//! thins an encoding for one subscriber by forwarding only the messages whose layer ID is at
//! or below a target, without touching any message. The target is the lower of what the
//! subscriber asked for (Subscribe `max_layer`) and what its path can carry (a cap set by the
//! bandwidth policy).
//!
//! Lowering the target takes effect at the next message; so does raising it, because a
//! decoder that receives an enhancement layer without the frames it predicts from simply
//! skips it until the next switching point.

/// Whether a message with layer ID `layer` (`None`: no layer header, the base layer 0) passes
/// a target of `max_layer` (`None`: every layer).
#[inline]
pub fn layer_allowed(layer: Option<u64>, max_layer: Option<u64>) -> bool {
    match max_layer {
        None => true,
        Some(max) => layer.unwrap_or(0) <= max,
    }
}

/// The bandwidth cap after the path estimator stepped, for a subscriber that asked for
/// `requested` (`None`: all), is capped at `cap` (`None`: no cap), on an encoding whose
/// highest layer seen so far is `highest_seen`. Down: one layer below what flows now, never
/// below the base layer. Up: one layer more, and no cap at all once that reaches everything
/// the subscriber asked for or the encoding has. `None` when nothing can change.
pub fn step_cap(
    requested: Option<u64>,
    cap: Option<u64>,
    highest_seen: u64,
    up: bool,
) -> Option<Option<u64>> {
    let flowing = LayerFilter { requested, cap }
        .max_layer()
        .map_or(highest_seen, |m| m.min(highest_seen));
    if !up {
        return flowing.checked_sub(1).map(Some);
    }
    let next = cap?.saturating_add(1);
    let ceiling = requested.map_or(highest_seen, |r| r.min(highest_seen));
    Some((next < ceiling).then_some(next))
}

/// One subscriber's layer target: the layer it asked for, capped by what its path carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerFilter {
    requested: Option<u64>,
    cap: Option<u64>,
}

impl LayerFilter {
    /// A filter that forwards layers up to `requested` (`None`: all layers), with no cap.
    pub fn new(requested: Option<u64>) -> Self {
        Self {
            requested,
            cap: None,
        }
    }

    /// Changes the layer the subscriber asked for (`None`: all layers).
    pub fn set_requested(&mut self, requested: Option<u64>) {
        self.requested = requested;
    }

    /// Sets or lifts (`None`) the bandwidth cap on the layer.
    pub fn set_cap(&mut self, cap: Option<u64>) {
        self.cap = cap;
    }

    /// The layer the subscriber asked for.
    pub fn requested(&self) -> Option<u64> {
        self.requested
    }

    /// The bandwidth cap, if any.
    pub fn cap(&self) -> Option<u64> {
        self.cap
    }

    /// The highest layer forwarded: the lower of request and cap (`None`: all layers).
    #[inline]
    pub fn max_layer(&self) -> Option<u64> {
        match (self.requested, self.cap) {
            (Some(r), Some(c)) => Some(r.min(c)),
            (r, c) => r.or(c),
        }
    }

    /// Whether a message with layer ID `layer` (`None`: base layer) is forwarded. O(1).
    #[inline]
    pub fn allows(&self, layer: Option<u64>) -> bool {
        layer_allowed(layer, self.max_layer())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cap_steps_down_one_layer_at_a_time_and_lifts_at_the_top() {
        // Three layers seen (0..=2), nothing asked, no cap: down to 1, then 0, then no more.
        assert_eq!(step_cap(None, None, 2, false), Some(Some(1)));
        assert_eq!(step_cap(None, Some(1), 2, false), Some(Some(0)));
        assert_eq!(step_cap(None, Some(0), 2, false), None);
        // Up: 0 -> 1, then 1 -> lifted (2 is everything there is).
        assert_eq!(step_cap(None, Some(0), 2, true), Some(Some(1)));
        assert_eq!(step_cap(None, Some(1), 2, true), Some(None));
        assert_eq!(step_cap(None, None, 2, true), None, "nothing to lift");
        // A subscriber that asked for layer 1 steps down from 1, and lifts at 1.
        assert_eq!(step_cap(Some(1), None, 2, false), Some(Some(0)));
        assert_eq!(step_cap(Some(1), Some(0), 2, true), Some(None));
        // A single-layer encoding cannot step.
        assert_eq!(step_cap(None, None, 0, false), None);
    }

    #[test]
    fn no_target_forwards_everything() {
        assert!(layer_allowed(None, None));
        assert!(layer_allowed(Some(0), None));
        assert!(layer_allowed(Some(u64::MAX), None));
    }

    #[test]
    fn absent_layer_is_the_base_layer() {
        assert!(layer_allowed(None, Some(0)));
        assert!(layer_allowed(Some(0), Some(0)));
        assert!(!layer_allowed(Some(1), Some(0)));
    }

    #[test]
    fn at_or_below_the_target_passes() {
        assert!(layer_allowed(Some(1), Some(2)));
        assert!(layer_allowed(Some(2), Some(2)));
        assert!(!layer_allowed(Some(3), Some(2)));
    }

    #[test]
    fn cap_lowers_the_request_and_lifting_it_restores() {
        let mut f = LayerFilter::new(Some(2));
        assert!(f.allows(Some(2)));
        f.set_cap(Some(1));
        assert_eq!(f.max_layer(), Some(1));
        assert!(!f.allows(Some(2)));
        assert!(f.allows(Some(1)));
        f.set_cap(Some(5));
        assert_eq!(f.max_layer(), Some(2));
        f.set_cap(None);
        assert_eq!(f.max_layer(), Some(2));
        f.set_requested(None);
        assert_eq!(f.max_layer(), None);
        f.set_cap(Some(0));
        assert_eq!(f.max_layer(), Some(0));
        assert!(f.allows(None));
        assert!(!f.allows(Some(1)));
        assert_eq!((f.requested(), f.cap()), (None, Some(0)));
    }

    proptest! {
        #[test]
        fn filter_matches_the_definition(
            layer in proptest::option::of(0u64..8),
            requested in proptest::option::of(0u64..8),
            cap in proptest::option::of(0u64..8),
        ) {
            let mut f = LayerFilter::new(requested);
            f.set_cap(cap);
            let l = layer.unwrap_or(0);
            let expected = requested.is_none_or(|r| l <= r) && cap.is_none_or(|c| l <= c);
            prop_assert_eq!(f.allows(layer), expected);
        }
    }
}
