//! Sans-IO policy: the decisions the forwarding path and the control path make, as plain
//! state machines.
//!
//! Nothing here does I/O, spawns a task or reads the clock: inputs are values and
//! `now: Instant`, outputs are decisions. So every policy is tested in virtual time, and the
//! shell in [`crate::forward`] decides where state lives and how it is locked. Methods called
//! per message are O(1) (or O(encodings of one source), or O(N) for N active speakers) and do
//! not allocate once warmed up.
//!
//! | module | decides | why |
//! | --- | --- | --- |
//! | [`speaker`] | which endpoints of a conference are the active speakers, loudest first | forward the audio of only the top N (draft §9), and follow them with `active_speaker` video subscriptions, without flapping (smoothing plus margin/hold/minimum-time hysteresis) |
//! | [`simulcast`] | which of a source's encodings a subscriber gets, and when a change takes effect | a subscriber gets the best encoding that fits its constraints and path; a decoder can only start on a reference frame, so switches wait for one and name the encoding that needs an intra frame |
//! | [`keyframe`] | whether an intra-frame request may go to the publisher now | many viewers switching at once cause at most one request per encoding per interval: no keyframe storms |
//! | [`layers`] | whether a message's layer is forwarded to a subscriber | a scalable encoding is thinned per subscriber by dropping layers above its target, without touching a byte |
//! | [`bandwidth`] | what a subscriber's path can carry, and when to step its encoding/layer down or up | losses or a growing queue step down at once; stepping up waits for a quiet period that grows after each failed probe, so quality does not oscillate |
//! | [`retransmit`] | which recent messages answer a retransmission request | the SFU answers §5.2 requests from a bounded cache instead of the publisher, which is one more path away and would see every viewer's losses |
//!
//! None of these policies has a failure mode a caller must handle: out-of-range settings are
//! clamped by the config setters (documented on each), unknown IDs are no-ops, and time going
//! backwards counts as no time passing. So there is no error enum here.

pub mod bandwidth;
pub mod keyframe;
pub mod layers;
pub mod retransmit;
pub mod simulcast;
pub mod speaker;

pub use bandwidth::{BandwidthConfig, PathEstimator, PathSample, Step, StepDecision, Trouble};
pub use keyframe::{KeyframeConfig, KeyframeLimiter};
pub use layers::{LayerFilter, layer_allowed};
pub use retransmit::{EncodingCache, InsertOutcome, RangeList, RetransmitCache, RetransmitConfig};
pub use simulcast::{EncodingInfo, SimulcastSwitch, SwitchVerdict, choose, step_down, step_up};
pub use speaker::{ActiveSpeaker, ActiveSpeakers, SpeakerChange, SpeakerConfig};

/// The one real `Instant` a test starts its virtual time from.
#[cfg(test)]
#[allow(clippy::disallowed_methods)] // Tests need one real Instant to offset from.
pub(crate) fn test_epoch() -> std::time::Instant {
    std::time::Instant::now()
}
