//! A route: one published encoding and the subscriptions that receive it. The hot path.

use super::conference::lock;
use super::member::Member;
use super::session::BATCH;
use super::stats::LocalCounts;
use super::subscription::Subscription;
use crate::policy::retransmit::{EncodingCache, RetransmitConfig};
use arc_swap::ArcSwap;
use bytes::Bytes;
use newmedia_proto::grant::{MediaKind, Publication};
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::HeaderView;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// No DSCP seen yet.
const NO_DSCP: u8 = u8::MAX;

/// A message in a route's retransmission cache, with what decides whom it may be resent to.
#[derive(Debug, Clone)]
pub(crate) struct CachedMessage {
    /// The datagram as received.
    pub(crate) datagram: Bytes,
    /// Its layer ID (0 without one): not resent to a subscription filtered below it.
    pub(crate) layer: u64,
    /// Audio whose publisher was not an active speaker when it arrived: forwarded to nobody,
    /// so resent to nobody either.
    pub(crate) gated: bool,
}

/// One published encoding.
///
/// The subscriber list is an immutable snapshot behind an [`ArcSwap`]: the publisher's
/// datagram loop reads it with one atomic load and no lock or reference-count write, and the
/// control path, which changes it rarely, replaces it whole (copy on write). Only the
/// publisher's loop touches a route per datagram, so routes need no map lookup shared with
/// other publishers: each session keeps its own `GlobalEncodingId -> Arc<Route>` table.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) geid: GlobalEncodingId,
    pub(crate) publisher: Arc<Member>,
    pub(crate) publication: Publication,
    subscribers: ArcSwap<Vec<Arc<Subscription>>>,
    /// Recent messages, for retransmission requests. Locked by the publisher's loop per
    /// datagram (uncontended) and by the rare retransmission request.
    pub(crate) cache: Mutex<EncodingCache<CachedMessage>>,
    /// The DSCP the publisher last asked for (draft §5: applies to later messages too).
    dscp: AtomicU8,
    /// The highest layer ID seen on this encoding (0 for a single-layer encoding).
    highest_layer: AtomicU64,
    /// Max-rate requests of this encoding's subscribers (endpoint -> bit/s), and the
    /// aggregate last sent to the publisher (control path).
    max_rates: Mutex<(HashMap<u64, u64>, Option<u64>)>,
}

impl Route {
    pub(crate) fn new(
        publisher: Arc<Member>,
        publication: Publication,
        cache: &RetransmitConfig,
    ) -> Self {
        let geid = publication.global_encoding_id(publisher.conference_id, publisher.endpoint_id);
        let cache = EncodingCache::new(geid, cache);
        Self {
            geid,
            publisher,
            publication,
            subscribers: ArcSwap::from_pointee(Vec::new()),
            cache: Mutex::new(cache),
            dscp: AtomicU8::new(NO_DSCP),
            highest_layer: AtomicU64::new(0),
            max_rates: Mutex::new((HashMap::new(), None)),
        }
    }

    /// Records a subscriber's max-rate request and returns the rate to ask the publisher for
    /// when it changed: the highest any subscriber of the encoding can use (draft §5.2).
    pub(crate) fn set_max_rate(&self, endpoint_id: u64, bitrate: u64) -> Option<u64> {
        let mut guard = lock(&self.max_rates);
        let (rates, sent) = &mut *guard;
        rates.insert(endpoint_id, bitrate);
        let highest = rates.values().copied().max();
        if highest == *sent {
            return None;
        }
        *sent = highest;
        highest
    }

    /// Whether this route carries audio (subject to active-speaker selection).
    pub(crate) fn is_audio(&self) -> bool {
        self.publication.kind == MediaKind::Audio
    }

    /// Forwards a run of datagrams of this encoding (`views[i]` parsed from `datagrams[i]`;
    /// a `None` view is skipped) to every admitting subscription, subscriber by subscriber:
    /// each subscriber connection gets the whole run in one go, in order. Returns the DSCP
    /// the publisher asked for when it changed, so the caller updates the egress marking.
    #[inline]
    pub(crate) fn forward(
        &self,
        views: &[Option<HeaderView<'_>>],
        datagrams: &[Bytes],
        now: Instant,
        counts: &mut LocalCounts,
    ) -> Option<u8> {
        // Audio is forwarded only from active speakers, ranked by the levels their messages
        // carry; a message without a level cannot be ranked, so it is not held back.
        let speaking = !self.is_audio() || self.publisher.speaking.load(Relaxed);
        let mut gates = [true; BATCH];
        {
            let mut cache = lock(&self.cache);
            for ((view, datagram), gate) in views.iter().zip(datagrams).zip(gates.iter_mut()) {
                let Some(view) = view else { continue };
                *gate = speaking || view.active_level().is_none();
                let layer = view.layer_id();
                cache.insert(
                    view.sequence_id(),
                    view.capture_time(),
                    CachedMessage {
                        datagram: datagram.clone(),
                        layer: layer.unwrap_or(0),
                        gated: !*gate,
                    },
                    now,
                );
                if let Some(layer) = layer
                    && layer > self.highest_layer.load(Relaxed)
                {
                    self.highest_layer.store(layer, Relaxed);
                }
            }
        }
        let subscribers = self.subscribers.load();
        for sub in subscribers.iter() {
            for ((view, datagram), gate) in views.iter().zip(datagrams).zip(gates) {
                let Some(view) = view else { continue };
                if sub.admits(view, gate, counts) {
                    sub.subscriber
                        .send(datagram, view.is_reference_frame(), counts);
                }
            }
        }
        // Report a DSCP change to the caller, which updates the subscribers' egress marking.
        let dscp = views.iter().flatten().rev().find_map(|v| v.dscp())?;
        (self.dscp.swap(dscp, Relaxed) != dscp).then_some(dscp)
    }

    /// The highest layer ID seen on this encoding so far.
    pub(crate) fn highest_layer(&self) -> u64 {
        self.highest_layer.load(Relaxed)
    }

    /// The DSCP the publisher asked for, if any.
    pub(crate) fn dscp(&self) -> Option<u8> {
        Some(self.dscp.load(Relaxed)).filter(|d| *d != NO_DSCP)
    }

    /// The current subscriptions.
    pub(crate) fn subscriptions(&self) -> Arc<Vec<Arc<Subscription>>> {
        self.subscribers.load_full()
    }

    /// Adds a subscription (control path; copy on write).
    pub(crate) fn add(&self, sub: &Arc<Subscription>) {
        self.subscribers.rcu(|current| {
            let mut next = Vec::with_capacity(current.len() + 1);
            next.extend(current.iter().filter(|s| !Arc::ptr_eq(s, sub)).cloned());
            next.push(sub.clone());
            next
        });
    }

    /// Removes a subscription (control path; copy on write).
    pub(crate) fn remove(&self, sub: &Arc<Subscription>) {
        self.subscribers.rcu(|current| {
            current
                .iter()
                .filter(|s| !Arc::ptr_eq(s, sub))
                .cloned()
                .collect::<Vec<_>>()
        });
    }

    /// Removes every subscription of one member (one connection).
    pub(crate) fn remove_member(&self, member: &Arc<Member>) {
        let has_member =
            |subs: &Vec<Arc<Subscription>>| subs.iter().any(|s| Arc::ptr_eq(&s.subscriber, member));
        if !has_member(&self.subscribers.load()) {
            return;
        }
        lock(&self.max_rates).0.remove(&member.endpoint_id);
        self.subscribers.rcu(|current| {
            current
                .iter()
                .filter(|s| !Arc::ptr_eq(&s.subscriber, member))
                .cloned()
                .collect::<Vec<_>>()
        });
    }
}
