//! Receiving tasks: one per subscription, reading frames from the SDK's [`Subscription`](newmedia_client::session::Subscription)
//! into a [`TrackStats`], and one per receiving endpoint that records the active-speaker
//! announcements ([`SpeakerHistory`]).
//!
//! A video subscription starts by asking for a reference frame (IntraFrameRequest), as an
//! app does when it joins a running video: without one it could not decode (and, the header
//! salt riding on reference frames, not even open) what arrives until the next periodic one.
//!
//! **Layer switches.** A subscription to a simulcast source alternates, every
//! `layer_switch_interval` (from a random phase), between asking for at most
//! [`LOW_LAYER_WIDTH`] pixels wide and asking for anything, by subscribing again with the same
//! request ID and new constraints, as an app does when its video tile shrinks or grows. The
//! switch time is from that request to the first frame of another encoding. A switch the SFU
//! chose (it announced another encoding) but that did not complete before the next request
//! counts as incomplete; a request that changes nothing (the SFU's bandwidth estimate already
//! holds the viewer on the low encoding) is not counted.

use crate::clock;
use crate::media::stamp::Stamp;
use crate::publish::stopped;
use crate::stats::{Arrival, SpeakerHistory, TrackKind, TrackStats, Window};
use newmedia_client::client::CallSubscription;
use newmedia_client::transport::Flow;
use newmedia_proto::control::{
    Constraints, ControlMessage, IntraFrameRequest, Subscribe, SubscribeTarget,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Width asked for when switching to the low simulcast layer (the controller plans it at a
/// quarter of 1280).
pub const LOW_LAYER_WIDTH: u64 = 320;

/// Counters every receiving task adds to, for the progress display.
#[derive(Debug, Default)]
pub struct Live {
    /// Frames received.
    pub frames: AtomicU64,
    /// Payload bytes received.
    pub bytes: AtomicU64,
}

/// What a receiving task reports when it stops.
#[derive(Debug)]
pub struct TrackOutcome {
    /// The track's statistics (not finished yet).
    pub stats: TrackStats,
    /// Layer switch times, microseconds.
    pub switches: Vec<u64>,
    /// Switches the SFU chose that did not complete.
    pub incomplete_switches: u64,
    /// Frames without a stamp (not ours).
    pub foreign: u64,
}

/// How a receiving task runs.
#[derive(Debug, Clone)]
pub struct ReadSettings {
    /// What the track carries.
    pub kind: TrackKind,
    /// Whether the SFU may withhold it by active-speaker selection.
    pub gated: bool,
    /// Seconds between layer switches (`None`: no switching).
    pub switch_every: Option<Duration>,
    /// Seed of the switch phase.
    pub seed: u64,
    /// Notified at the first frame.
    pub first_frame: Arc<Notify>,
}

struct PendingSwitch {
    at: u64,
    from: Option<u64>,
}

/// Reads `sub` until `stop` turns true or the subscription ends.
pub async fn read(
    mut sub: CallSubscription,
    flow: Flow,
    settings: ReadSettings,
    window: Arc<Window>,
    live: Arc<Live>,
    mut stop: watch::Receiver<bool>,
) -> TrackOutcome {
    let mut out = TrackOutcome {
        stats: TrackStats::new(settings.kind, settings.gated),
        switches: Vec::new(),
        incomplete_switches: 0,
        foreign: 0,
    };
    let source_target = match sub.subscription.target() {
        t @ SubscribeTarget::Source { .. } => Some(t),
        _ => None,
    };
    let switch_every = settings.switch_every.filter(|_| source_target.is_some());
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let mut next_switch = switch_every.map(|every| {
        let phase = every.mul_f64(rng.gen_range(0.0..1.0));
        tokio::time::Instant::now() + every + phase
    });
    let mut want_low = false;
    let mut pending: Option<PendingSwitch> = None;
    if settings.kind == TrackKind::Video {
        // A viewer joining a running video asks for a reference frame, as an app does (the
        // SFU rate-limits these per encoding).
        let encoding = *sub.subscription.encoding().borrow();
        if let Some(encoding) = encoding {
            let _ = flow
                .send_control(ControlMessage::IntraFrameRequest(IntraFrameRequest {
                    encoding,
                }))
                .await;
        }
    }
    loop {
        tokio::select! {
            biased;
            () = stopped(&mut stop) => break,
            frame = sub.subscription.next_frame() => {
                let Some(frame) = frame else { break };
                let arrival = clock::wall_micros();
                let Some(stamp) = Stamp::read(&frame.payload) else {
                    out.foreign += 1;
                    continue;
                };
                if out.stats.frames_total == 0 {
                    settings.first_frame.notify_one();
                }
                live.frames.fetch_add(1, Relaxed);
                live.bytes.fetch_add(frame.payload.len() as u64, Relaxed);
                out.stats.on_frame(Arrival {
                    encoding: frame.encoding.0,
                    sender: frame.endpoint_id,
                    stamp,
                    size: frame.payload.len(),
                    arrival,
                    in_window: window.contains(stamp.capture_micros),
                });
                // Late frames (recovered, reordered) do not move the current encoding.
                if let Some(p) = &pending
                    && out.stats.current_encoding() != p.from
                {
                    if window.contains(p.at) {
                        out.switches.push(arrival.saturating_sub(p.at));
                    }
                    pending = None;
                }
            }
            () = sleep_until(next_switch) => {
                if let Some(p) = pending.take() {
                    let announced = sub.subscription.encoding().borrow().map(|e| e.0);
                    if announced != p.from && window.contains(p.at) {
                        out.incomplete_switches += 1;
                    }
                }
                want_low = !want_low;
                let Some(SubscribeTarget::Source { conference_id, endpoint_id, source_id, .. }) = source_target else {
                    next_switch = None;
                    continue;
                };
                let constraints = Constraints {
                    max_width: want_low.then_some(LOW_LAYER_WIDTH),
                    ..Constraints::default()
                };
                let again = ControlMessage::Subscribe(Subscribe {
                    request_id: sub.subscription.request_id(),
                    target: SubscribeTarget::Source { conference_id, endpoint_id, source_id, constraints },
                    max_layer: None,
                });
                let at = clock::wall_micros();
                if flow.send_control(again).await.is_ok() {
                    pending = Some(PendingSwitch { at, from: out.stats.current_encoding() });
                }
                next_switch = switch_every.map(|every| tokio::time::Instant::now() + every);
            }
        }
    }
    out
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Records the active speakers `flow` announces until `stop` turns true.
pub async fn watch_speakers(flow: Flow, mut stop: watch::Receiver<bool>) -> SpeakerHistory {
    let mut history = SpeakerHistory::default();
    let mut speakers = flow.active_speakers();
    let note = |history: &mut SpeakerHistory,
                value: &Option<newmedia_proto::control::ActiveSpeakers>| {
        let list: Vec<u64> = value
            .as_ref()
            .map(|a| a.speakers.iter().map(|s| s.endpoint_id).collect())
            .unwrap_or_default();
        history.update(clock::wall_micros(), &list);
    };
    note(&mut history, &speakers.borrow_and_update());
    loop {
        tokio::select! {
            biased;
            () = stopped(&mut stop) => break,
            changed = speakers.changed() => {
                if changed.is_err() {
                    break;
                }
                note(&mut history, &speakers.borrow_and_update());
            }
        }
    }
    history
}
