//! One subscription: which messages of which routes an endpoint receives.

use super::conference::lock;
use super::member::Member;
use super::stats::LocalCounts;
use crate::policy::layers;
use crate::policy::simulcast::{SimulcastSwitch, SwitchVerdict};
use newmedia_proto::control::{ControlMessage, SubscribeResult};
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::HeaderView;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// No layer limit.
const ALL_LAYERS: u64 = u64::MAX;

/// What a subscription was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// One encoding.
    Encoding(GlobalEncodingId),
    /// A source: the SFU picks among its encodings.
    Source {
        /// The source's publisher.
        endpoint_id: u64,
        /// The source.
        source_id: u64,
    },
    /// The video of whoever is the active speaker at `rank`.
    ActiveSpeaker {
        /// 0 = the loudest.
        rank: usize,
    },
}

/// A subscription of `subscriber` to one or more routes.
#[derive(Debug)]
pub(crate) struct Subscription {
    pub(crate) request_id: u64,
    pub(crate) subscriber: Arc<Member>,
    pub(crate) target: Target,
    /// Limits on the encoding chosen (a re-subscribe with the same request ID updates them).
    pub(crate) constraints: Mutex<newmedia_proto::control::Constraints>,
    /// Highest layer ID the subscriber asked for ([`ALL_LAYERS`] = all).
    max_layer: AtomicU64,
    /// Highest layer ID its path carries, set by the bandwidth policy ([`ALL_LAYERS`] = no cap).
    layer_cap: AtomicU64,
    /// For source and active-speaker subscriptions: which of the source's encodings flows.
    pub(crate) simulcast: Option<Mutex<SimulcastSwitch>>,
    /// The routes this subscription is attached to (control path only).
    pub(crate) attached: Mutex<Vec<GlobalEncodingId>>,
}

impl Subscription {
    pub(crate) fn new(
        request_id: u64,
        subscriber: Arc<Member>,
        target: Target,
        constraints: newmedia_proto::control::Constraints,
        max_layer: Option<u64>,
    ) -> Self {
        let simulcast = match target {
            Target::Encoding(_) => None,
            _ => Some(Mutex::new(SimulcastSwitch::new())),
        };
        Self {
            request_id,
            subscriber,
            target,
            constraints: Mutex::new(constraints),
            max_layer: AtomicU64::new(max_layer.unwrap_or(ALL_LAYERS)),
            layer_cap: AtomicU64::new(ALL_LAYERS),
            simulcast,
            attached: Mutex::new(Vec::new()),
        }
    }

    /// Changes the layer limit.
    pub(crate) fn set_max_layer(&self, max_layer: Option<u64>) {
        self.max_layer
            .store(max_layer.unwrap_or(ALL_LAYERS), Relaxed);
    }

    /// The current constraints.
    pub(crate) fn constraints(&self) -> newmedia_proto::control::Constraints {
        *lock(&self.constraints)
    }

    /// The layer the subscriber asked for.
    pub(crate) fn requested_layer(&self) -> Option<u64> {
        Some(self.max_layer.load(Relaxed)).filter(|l| *l != ALL_LAYERS)
    }

    /// The bandwidth cap on the layer.
    pub(crate) fn layer_cap(&self) -> Option<u64> {
        Some(self.layer_cap.load(Relaxed)).filter(|l| *l != ALL_LAYERS)
    }

    /// Sets or lifts (`None`) the bandwidth cap on the layer.
    pub(crate) fn set_layer_cap(&self, cap: Option<u64>) {
        self.layer_cap.store(cap.unwrap_or(ALL_LAYERS), Relaxed);
    }

    /// The highest layer forwarded: the lower of request and cap.
    #[inline]
    pub(crate) fn max_layer(&self) -> Option<u64> {
        Some(
            self.max_layer
                .load(Relaxed)
                .min(self.layer_cap.load(Relaxed)),
        )
        .filter(|l| *l != ALL_LAYERS)
    }

    /// Whether this message goes to the subscriber. `speaker_gate` is false for an audio
    /// message whose publisher is not an active speaker.
    #[inline]
    pub(crate) fn admits(
        &self,
        view: &HeaderView<'_>,
        speaker_gate: bool,
        counts: &mut LocalCounts,
    ) -> bool {
        if !speaker_gate {
            return false;
        }
        if !layers::layer_allowed(view.layer_id(), self.max_layer()) {
            return false;
        }
        match &self.simulcast {
            None => true,
            Some(switch) => {
                let geid = view.global_encoding_id();
                match lock(switch).on_message(geid, view.is_reference_frame()) {
                    SwitchVerdict::Drop => false,
                    SwitchVerdict::Forward => true,
                    SwitchVerdict::Switched => {
                        // Rare: the reference frame that completes a simulcast switch.
                        counts.layer_switches += 1;
                        self.subscriber
                            .notify(ControlMessage::SubscribeResult(SubscribeResult {
                                request_id: self.request_id,
                                encoding: Some(geid),
                            }));
                        true
                    }
                }
            }
        }
    }
}
