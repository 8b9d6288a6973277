//! Choosing among a source's simulcast encodings, and switching between them.
//!
//! A publisher may send one source (a camera) as several independent encodings of different
//! resolution and bitrate. A subscriber that subscribed to the source gets exactly one of them:
//! [`choose`] picks the best that fits the subscriber's [`Constraints`] and its path's
//! available bitrate. A decoder can only start on a reference frame (keyframe), so a change of
//! encoding does not happen at once: a [`SimulcastSwitch`] keeps forwarding the old encoding
//! until the first reference-frame message of the new one arrives, then flips, so the
//! subscriber never sees a gap or a frame it cannot decode. While it waits,
//! [`SimulcastSwitch::pending_keyframe`] names the encoding the publisher should be asked for
//! an intra frame (through the [`super::keyframe::KeyframeLimiter`]).

use newmedia_proto::control::Constraints;
use newmedia_proto::grant::Publication;
use newmedia_proto::ids::GlobalEncodingId;

/// What the SFU knows of one encoding of a source (from the publisher's grant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncodingInfo {
    /// The encoding.
    pub geid: GlobalEncodingId,
    /// Width in pixels, when known.
    pub width: Option<u32>,
    /// Height in pixels, when known.
    pub height: Option<u32>,
    /// Highest bitrate in bit/s, when known.
    pub max_bitrate: Option<u64>,
    /// Frames per second, when known.
    pub frame_rate: Option<u32>,
}

impl EncodingInfo {
    /// The encoding described by `publication`, published by `endpoint_id` in
    /// `conference_id`.
    pub fn from_publication(
        publication: &Publication,
        conference_id: u64,
        endpoint_id: u64,
    ) -> Self {
        Self {
            geid: publication.global_encoding_id(conference_id, endpoint_id),
            width: publication.width,
            height: publication.height,
            max_bitrate: publication.max_bitrate,
            frame_rate: publication.frame_rate,
        }
    }

    /// Whether the encoding meets every constraint, with `max_bitrate` the effective bitrate
    /// limit. An attribute the encoding does not declare meets any limit on it: the SFU
    /// cannot know better, and refusing would leave attribute-less encodings unusable.
    fn fits(&self, c: &Constraints, max_bitrate: Option<u64>) -> bool {
        within(self.width.map(u64::from), c.max_width)
            && within(self.height.map(u64::from), c.max_height)
            && within(self.max_bitrate, max_bitrate)
            && within(self.frame_rate.map(u64::from), c.max_frame_rate)
    }

    /// The order "better" means: more pixels, then more bitrate, then more frames.
    /// Undeclared attributes count as 0.
    fn quality(&self) -> (u64, u64, u32) {
        let pixels = u64::from(self.width.unwrap_or(0)) * u64::from(self.height.unwrap_or(0));
        (
            pixels,
            self.max_bitrate.unwrap_or(0),
            self.frame_rate.unwrap_or(0),
        )
    }
}

fn within(value: Option<u64>, limit: Option<u64>) -> bool {
    match (value, limit) {
        (Some(v), Some(l)) => v <= l,
        _ => true,
    }
}

/// The lower of two optional limits (`None` means no limit).
fn min_limit(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The best encoding of `encodings` for a subscriber: the highest quality (pixels, then
/// bitrate, then frame rate) among those that meet every constraint and whose bitrate is at
/// most `available_bitrate` (bit/s, `None`: unknown, no limit). If none fits, the lowest
/// quality one, so the subscriber still sees something. `None` only for an empty slice.
/// Ties go to the earlier encoding. O(encodings), no allocation.
pub fn choose(
    encodings: &[EncodingInfo],
    constraints: &Constraints,
    available_bitrate: Option<u64>,
) -> Option<GlobalEncodingId> {
    let limit = min_limit(constraints.max_bitrate, available_bitrate);
    let mut best_fitting: Option<&EncodingInfo> = None;
    let mut smallest: Option<&EncodingInfo> = None;
    for e in encodings {
        if smallest.is_none_or(|s| e.quality() < s.quality()) {
            smallest = Some(e);
        }
        if e.fits(constraints, limit) && best_fitting.is_none_or(|b| e.quality() > b.quality()) {
            best_fitting = Some(e);
        }
    }
    best_fitting.or(smallest).map(|e| e.geid)
}

/// The encoding one quality step below `current` that meets `constraints` (ignoring the
/// bitrate estimate: this is what the bandwidth policy's step down moves to). `None` when
/// `current` is already the lowest or is not in `encodings`. O(encodings).
pub fn step_down(
    encodings: &[EncodingInfo],
    constraints: &Constraints,
    current: GlobalEncodingId,
) -> Option<GlobalEncodingId> {
    let cur = encodings.iter().find(|e| e.geid == current)?.quality();
    encodings
        .iter()
        .filter(|e| e.quality() < cur && e.fits(constraints, constraints.max_bitrate))
        .max_by_key(|e| e.quality())
        .map(|e| e.geid)
}

/// The encoding one quality step above `current` that meets `constraints` (ignoring the
/// bitrate estimate: this is what the bandwidth policy's probe up moves to). `None` when
/// nothing better fits or `current` is not in `encodings`. O(encodings).
pub fn step_up(
    encodings: &[EncodingInfo],
    constraints: &Constraints,
    current: GlobalEncodingId,
) -> Option<GlobalEncodingId> {
    let cur = encodings.iter().find(|e| e.geid == current)?.quality();
    encodings
        .iter()
        .filter(|e| e.quality() > cur && e.fits(constraints, constraints.max_bitrate))
        .min_by_key(|e| e.quality())
        .map(|e| e.geid)
}

/// What a [`SimulcastSwitch`] decided for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchVerdict {
    /// Do not forward the message.
    Drop,
    /// Forward the message.
    Forward,
    /// Forward the message; it is the reference frame that completed a switch, so the
    /// subscriber now receives a new encoding (tell it with SubscribeResult, count the
    /// switch).
    Switched,
}

impl SwitchVerdict {
    /// Whether the message is forwarded.
    #[inline]
    pub fn forward(self) -> bool {
        !matches!(self, SwitchVerdict::Drop)
    }
}

/// One subscriber's view of one simulcast source: which encoding it receives now
/// (`current`) and which it should receive (`target`).
///
/// Only messages of the current encoding are forwarded. When the target differs, the switch
/// happens at the first reference-frame message of the target encoding: that message and all
/// later ones of the target are forwarded, and the old encoding's are dropped from then on.
/// Until then the current encoding keeps flowing (or nothing, if there is none yet). All
/// methods are O(1) and allocation-free.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimulcastSwitch {
    current: Option<GlobalEncodingId>,
    target: Option<GlobalEncodingId>,
}

impl SimulcastSwitch {
    /// A switch that forwards nothing until a target is set and its keyframe arrives.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the encoding the subscriber should receive. `None` stops forwarding at once (no
    /// encoding fits any more, or the source stopped). Setting the current encoding again
    /// cancels a pending switch.
    pub fn set_target(&mut self, target: Option<GlobalEncodingId>) {
        self.target = target;
        if target.is_none() {
            self.current = None;
        }
    }

    /// Decides for one message of `encoding` (which must be of this source).
    #[inline]
    pub fn on_message(
        &mut self,
        encoding: GlobalEncodingId,
        is_reference_frame: bool,
    ) -> SwitchVerdict {
        if self.current == Some(encoding) {
            // Also while a switch is pending: the old encoding flows until the new one can
            // start. (`set_target(None)` clears `current`, so there is always a target here.)
            return SwitchVerdict::Forward;
        }
        if self.target == Some(encoding) && is_reference_frame {
            self.current = Some(encoding);
            return SwitchVerdict::Switched;
        }
        SwitchVerdict::Drop
    }

    /// The encoding whose reference frame a pending switch waits for, if one is pending: ask
    /// its publisher for an intra frame (rate-limited per encoding).
    #[inline]
    pub fn pending_keyframe(&self) -> Option<GlobalEncodingId> {
        if self.target != self.current {
            self.target
        } else {
            None
        }
    }

    /// The encoding being forwarded now.
    pub fn current(&self) -> Option<GlobalEncodingId> {
        self.current
    }

    /// The encoding the subscriber should receive.
    pub fn target(&self) -> Option<GlobalEncodingId> {
        self.target
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use newmedia_proto::grant::MediaKind;
    use proptest::prelude::*;

    const LOW: GlobalEncodingId = GlobalEncodingId(10);
    const MID: GlobalEncodingId = GlobalEncodingId(20);
    const HIGH: GlobalEncodingId = GlobalEncodingId(30);

    fn enc(geid: GlobalEncodingId, w: u32, h: u32, bitrate: u64, fps: u32) -> EncodingInfo {
        EncodingInfo {
            geid,
            width: Some(w),
            height: Some(h),
            max_bitrate: Some(bitrate),
            frame_rate: Some(fps),
        }
    }

    /// A typical three-layer simulcast, deliberately not in quality order.
    fn ladder() -> Vec<EncodingInfo> {
        vec![
            enc(MID, 640, 360, 500_000, 30),
            enc(HIGH, 1280, 720, 1_500_000, 30),
            enc(LOW, 320, 180, 150_000, 15),
        ]
    }

    fn limits(w: Option<u64>, h: Option<u64>, bitrate: Option<u64>) -> Constraints {
        Constraints {
            max_width: w,
            max_height: h,
            max_bitrate: bitrate,
            max_frame_rate: None,
        }
    }

    #[test]
    fn unconstrained_gets_the_best() {
        assert_eq!(choose(&ladder(), &Constraints::default(), None), Some(HIGH));
    }

    #[test]
    fn each_constraint_limits_the_choice() {
        let l = ladder();
        assert_eq!(choose(&l, &limits(Some(640), None, None), None), Some(MID));
        assert_eq!(choose(&l, &limits(None, Some(719), None), None), Some(MID));
        assert_eq!(
            choose(&l, &limits(None, None, Some(499_999)), None),
            Some(LOW)
        );
        let fps = Constraints {
            max_frame_rate: Some(20),
            ..Constraints::default()
        };
        assert_eq!(choose(&l, &fps, None), Some(LOW));
    }

    #[test]
    fn available_bitrate_limits_like_a_constraint() {
        let l = ladder();
        assert_eq!(
            choose(&l, &Constraints::default(), Some(600_000)),
            Some(MID)
        );
        // The lower of the two bitrate limits applies.
        assert_eq!(
            choose(&l, &limits(None, None, Some(200_000)), Some(600_000)),
            Some(LOW)
        );
        assert_eq!(
            choose(&l, &limits(None, None, Some(2_000_000)), Some(600_000)),
            Some(MID)
        );
    }

    #[test]
    fn nothing_fits_gives_the_smallest() {
        let l = ladder();
        assert_eq!(choose(&l, &limits(Some(100), None, None), None), Some(LOW));
        assert_eq!(choose(&l, &Constraints::default(), Some(1)), Some(LOW));
        assert_eq!(choose(&[], &Constraints::default(), None), None);
    }

    #[test]
    fn undeclared_attributes_fit_any_limit() {
        let bare = EncodingInfo {
            geid: MID,
            width: None,
            height: None,
            max_bitrate: None,
            frame_rate: None,
        };
        assert_eq!(
            choose(&[bare], &limits(Some(1), Some(1), Some(1)), Some(1)),
            Some(MID)
        );
    }

    #[test]
    fn from_publication_carries_the_attributes() {
        let p = Publication {
            source_id: 3,
            encoding_id: 1,
            kind: MediaKind::Video,
            width: Some(640),
            height: Some(360),
            max_bitrate: Some(500_000),
            frame_rate: Some(30),
        };
        let e = EncodingInfo::from_publication(&p, 7, 9);
        assert_eq!(e.geid, GlobalEncodingId::derive(7, 9, 3, 1));
        assert_eq!(e, enc(e.geid, 640, 360, 500_000, 30));
    }

    #[test]
    fn steps_walk_the_ladder_within_constraints() {
        let l = ladder();
        let none = Constraints::default();
        assert_eq!(step_down(&l, &none, HIGH), Some(MID));
        assert_eq!(step_down(&l, &none, MID), Some(LOW));
        assert_eq!(step_down(&l, &none, LOW), None);
        assert_eq!(step_up(&l, &none, LOW), Some(MID));
        assert_eq!(step_up(&l, &none, MID), Some(HIGH));
        assert_eq!(step_up(&l, &none, HIGH), None);
        // The subscriber's own limits bound the step up.
        assert_eq!(step_up(&l, &limits(Some(640), None, None), MID), None);
        assert_eq!(step_down(&l, &none, GlobalEncodingId(99)), None);
    }

    #[test]
    fn switch_waits_for_a_reference_frame() {
        let mut s = SimulcastSwitch::new();
        assert_eq!(s.on_message(LOW, true), SwitchVerdict::Drop);
        s.set_target(Some(LOW));
        assert_eq!(s.pending_keyframe(), Some(LOW));
        // Nothing flows before the first keyframe of the target.
        assert_eq!(s.on_message(LOW, false), SwitchVerdict::Drop);
        assert_eq!(s.on_message(LOW, true), SwitchVerdict::Switched);
        assert_eq!(s.pending_keyframe(), None);
        assert_eq!(s.on_message(LOW, false), SwitchVerdict::Forward);

        s.set_target(Some(HIGH));
        assert_eq!(s.pending_keyframe(), Some(HIGH));
        // The old encoding keeps flowing; the target's delta frames don't.
        assert_eq!(s.on_message(LOW, false), SwitchVerdict::Forward);
        assert_eq!(s.on_message(HIGH, false), SwitchVerdict::Drop);
        assert_eq!(s.on_message(LOW, true), SwitchVerdict::Forward);
        assert_eq!(s.on_message(HIGH, true), SwitchVerdict::Switched);
        assert_eq!((s.current(), s.target()), (Some(HIGH), Some(HIGH)));
        // From now on the old encoding is dropped.
        assert_eq!(s.on_message(LOW, false), SwitchVerdict::Drop);
        assert_eq!(s.on_message(LOW, true), SwitchVerdict::Drop);
        assert_eq!(s.on_message(HIGH, false), SwitchVerdict::Forward);
        assert!(!SwitchVerdict::Drop.forward());
        assert!(SwitchVerdict::Switched.forward());
    }

    #[test]
    fn retargeting_to_current_cancels_the_switch() {
        let mut s = SimulcastSwitch::new();
        s.set_target(Some(LOW));
        s.on_message(LOW, true);
        s.set_target(Some(HIGH));
        s.set_target(Some(LOW));
        assert_eq!(s.pending_keyframe(), None);
        assert_eq!(s.on_message(HIGH, true), SwitchVerdict::Drop);
        assert_eq!(s.on_message(LOW, false), SwitchVerdict::Forward);
    }

    #[test]
    fn no_target_stops_at_once() {
        let mut s = SimulcastSwitch::new();
        s.set_target(Some(LOW));
        s.on_message(LOW, true);
        s.set_target(None);
        assert_eq!(s.pending_keyframe(), None);
        assert_eq!(s.current(), None);
        assert_eq!(s.on_message(LOW, true), SwitchVerdict::Drop);
    }

    #[test]
    fn other_encodings_are_dropped() {
        let mut s = SimulcastSwitch::new();
        s.set_target(Some(LOW));
        s.on_message(LOW, true);
        s.set_target(Some(HIGH));
        assert_eq!(s.on_message(MID, true), SwitchVerdict::Drop);
        assert_eq!(s.current(), Some(LOW));
    }

    proptest! {
        /// `choose` returns a fitting encoding whenever one exists, and then one that no other
        /// fitting encoding beats.
        #[test]
        fn choose_is_best_fit(
            raw in proptest::collection::vec((1u32..2000, 1u32..2000, 1u64..5_000_000, 1u32..60), 1..6),
            max_w in proptest::option::of(1u64..2000),
            max_b in proptest::option::of(1u64..5_000_000),
            avail in proptest::option::of(1u64..5_000_000),
        ) {
            let encodings: Vec<_> = raw.iter().enumerate()
                .map(|(i, &(w, h, b, f))| enc(GlobalEncodingId(i as u64), w, h, b, f))
                .collect();
            let c = limits(max_w, None, max_b);
            let chosen = choose(&encodings, &c, avail).unwrap();
            let chosen = encodings.iter().find(|e| e.geid == chosen).unwrap();
            let limit = min_limit(max_b, avail);
            let fitting: Vec<_> = encodings.iter().filter(|e| e.fits(&c, limit)).collect();
            if fitting.is_empty() {
                prop_assert!(encodings.iter().all(|e| e.quality() >= chosen.quality()));
            } else {
                prop_assert!(chosen.fits(&c, limit));
                prop_assert!(fitting.iter().all(|e| e.quality() <= chosen.quality()));
            }
        }

        /// Whatever the message sequence, a message is forwarded only if it is of the
        /// encoding current after it, the current encoding changes only at a reference frame
        /// of the target, and nothing of an old encoding passes after a switch.
        #[test]
        fn switch_invariants(
            events in proptest::collection::vec((0u64..3, any::<bool>(), proptest::option::of(0u64..3), any::<bool>()), 1..200),
        ) {
            let mut s = SimulcastSwitch::new();
            for (e, keyframe, new_target, retarget) in events {
                if retarget {
                    s.set_target(new_target.map(GlobalEncodingId));
                }
                let before = s.current();
                let e = GlobalEncodingId(e);
                let verdict = s.on_message(e, keyframe);
                if verdict.forward() {
                    prop_assert_eq!(s.current(), Some(e));
                }
                if s.current() != before {
                    prop_assert_eq!(verdict, SwitchVerdict::Switched);
                    prop_assert!(keyframe);
                    prop_assert_eq!(s.current(), s.target());
                }
                if verdict == SwitchVerdict::Switched {
                    prop_assert!(before != Some(e));
                }
            }
        }
    }
}
