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
