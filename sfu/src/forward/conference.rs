//! A conference on this node: its members, its routes, its active speakers, and how
//! subscriptions attach to routes. Everything here is control path (joins, leaves,
//! subscriptions, the speaker tick), never per datagram.

use super::member::Member;
use super::node::EgressMarker;
use super::route::Route;
use super::stats::ForwardStats;
use super::subscription::{Subscription, Target};
use crate::policy::keyframe::KeyframeLimiter;
use crate::policy::simulcast::{self, EncodingInfo};
use crate::policy::speaker::ActiveSpeakers;
use dashmap::DashMap;
use newmedia_proto::control::{ControlMessage, IntraFrameRequest, SubscribeResult};
use newmedia_proto::grant::MediaKind;
use newmedia_proto::ids::GlobalEncodingId;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One conference's live state.
#[derive(Debug)]
pub(crate) struct Conference {
    pub(crate) id: u64,
    pub(crate) members: DashMap<u64, Arc<Member>>,
    pub(crate) routes: DashMap<GlobalEncodingId, Arc<Route>>,
    pub(crate) speakers: Mutex<ActiveSpeakers>,
    /// Active speakers, loudest first, as of the last tick.
    pub(crate) speaker_order: Mutex<Vec<u64>>,
    keyframes: Mutex<KeyframeLimiter>,
    egress: Option<EgressMarker>,
    stats: Arc<ForwardStats>,
}

impl Conference {
    pub(crate) fn new(
        id: u64,
        speakers: ActiveSpeakers,
        keyframes: KeyframeLimiter,
        egress: Option<EgressMarker>,
        stats: Arc<ForwardStats>,
    ) -> Self {
        Self {
            id,
            members: DashMap::new(),
            routes: DashMap::new(),
            speakers: Mutex::new(speakers),
            speaker_order: Mutex::new(Vec::new()),
            keyframes: Mutex::new(keyframes),
            egress,
            stats,
        }
    }

    /// Adds a route for a newly published encoding and attaches every existing subscription
    /// that wants it.
    pub(crate) fn add_route(&self, route: Arc<Route>, now: Instant) {
        self.routes.insert(route.geid, route.clone());
        let members: Vec<Arc<Member>> = self.members.iter().map(|m| m.value().clone()).collect();
        for member in members {
            let subs: Vec<Arc<Subscription>> =
                lock(&member.subscriptions).values().cloned().collect();
            for sub in subs {
                if self.wants(&sub, &route) {
                    self.attach(&sub, now);
                }
            }
        }
    }

    /// Removes the routes this member published (not those of a newer connection of the
    /// same endpoint).
    fn remove_routes_of(&self, member: &Arc<Member>) {
        self.routes
            .retain(|_, route| !Arc::ptr_eq(&route.publisher, member));
    }

    /// The encodings of one source, as simulcast choices.
    pub(crate) fn source_routes(&self, endpoint_id: u64, source_id: u64) -> Vec<Arc<Route>> {
        let mut routes: Vec<Arc<Route>> = self
            .routes
            .iter()
            .filter(|r| {
                r.publisher.endpoint_id == endpoint_id && r.publication.source_id == source_id
            })
            .map(|r| r.value().clone())
            .collect();
        routes.sort_by_key(|r| r.publication.encoding_id);
        routes
    }

    /// The source an active-speaker subscription of `rank` currently shows: the first video
    /// source of the speaker at that rank.
    fn speaker_source(&self, rank: usize) -> Option<(u64, u64)> {
        let endpoint = *lock(&self.speaker_order).get(rank)?;
        let member = self.members.get(&endpoint)?;
        let source = member
            .publications
            .iter()
            .find(|p| p.kind == MediaKind::Video)?
            .source_id;
        Some((endpoint, source))
    }

    /// The routes a subscription should be attached to now.
    fn resolve(&self, sub: &Subscription) -> Vec<Arc<Route>> {
        match sub.target {
            Target::Encoding(geid) => self
                .routes
                .get(&geid)
                .map(|r| r.clone())
                .into_iter()
                .collect(),
            Target::Source {
                endpoint_id,
                source_id,
            } => self.source_routes(endpoint_id, source_id),
            Target::ActiveSpeaker { rank } => self
                .speaker_source(rank)
                .map(|(e, s)| self.source_routes(e, s))
                .unwrap_or_default(),
        }
    }

    fn wants(&self, sub: &Subscription, route: &Route) -> bool {
        self.resolve(sub).iter().any(|r| r.geid == route.geid)
    }

    /// (Re)attaches a subscription to the routes it resolves to now, detaching it from the
    /// rest, and re-chooses its simulcast encoding. Returns the chosen encoding.
    pub(crate) fn attach(&self, sub: &Arc<Subscription>, now: Instant) -> Option<GlobalEncodingId> {
        let routes = self.resolve(sub);
        let mut attached = lock(&sub.attached);
        for old in attached.iter() {
            if !routes.iter().any(|r| r.geid == *old)
                && let Some(route) = self.routes.get(old)
            {
                route.remove(sub);
            }
        }
        let before = std::mem::take(&mut *attached);
        for route in &routes {
            route.add(sub);
            attached.push(route.geid);
            if route.is_audio() && !before.contains(&route.geid) {
                self.request_full_set(route);
            }
            if let (Some(table), Some(dscp)) = (&self.egress, route.dscp()) {
                table.set(sub.subscriber.conn.remote_address(), dscp);
            }
        }
        drop(attached);
        self.choose_encoding(sub, &routes, None, now)
    }

    /// Picks the simulcast encoding of a source/speaker subscription for the subscriber's
    /// constraints and available bitrate, and asks the publisher for an intra frame if the
    /// switch has to wait for one. Returns the target encoding.
    pub(crate) fn choose_encoding(
        &self,
        sub: &Subscription,
        routes: &[Arc<Route>],
        available_bitrate: Option<u64>,
        now: Instant,
    ) -> Option<GlobalEncodingId> {
        let Some(switch) = &sub.simulcast else {
            return routes.first().map(|r| r.geid);
        };
        let choices = encoding_choices(routes);
        let target = simulcast::choose(&choices, &sub.constraints(), available_bitrate)?;
        let pending = {
            let mut switch = lock(switch);
            switch.set_target(Some(target));
            switch.pending_keyframe()
        };
        if let Some(geid) = pending {
            self.request_keyframe(geid, now);
        }
        sub.subscriber
            .notify(ControlMessage::SubscribeResult(SubscribeResult {
                request_id: sub.request_id,
                encoding: Some(target),
            }));
        Some(target)
    }

    /// Moves a simulcast subscription one encoding up or down the source's ladder (within its
    /// constraints) after the path estimator stepped. Returns whether it moved.
    pub(crate) fn step_encoding(&self, sub: &Subscription, up: bool, now: Instant) -> bool {
        let Some(switch) = &sub.simulcast else {
            return false;
        };
        let routes: Vec<Arc<Route>> = lock(&sub.attached)
            .iter()
            .filter_map(|g| self.routes.get(g).map(|r| r.clone()))
            .collect();
        let choices = encoding_choices(&routes);
        let pending = {
            let mut switch = lock(switch);
            let Some(current) = switch.target() else {
                return false;
            };
            let constraints = sub.constraints();
            let next = if up {
                simulcast::step_up(&choices, &constraints, current)
            } else {
                simulcast::step_down(&choices, &constraints, current)
            };
            let Some(next) = next else { return false };
            switch.set_target(Some(next));
            switch.pending_keyframe()
        };
        if let Some(geid) = pending {
            self.request_keyframe(geid, now);
        }
        true
    }

    /// Lowers or raises the layer cap of a single-encoding subscription after the path
    /// estimator stepped. Returns whether it changed.
    pub(crate) fn step_layer(&self, sub: &Subscription, up: bool) -> bool {
        let highest = lock(&sub.attached)
            .iter()
            .filter_map(|g| self.routes.get(g).map(|r| r.highest_layer()))
            .max()
            .unwrap_or(0);
        match crate::policy::layers::step_cap(sub.requested_layer(), sub.layer_cap(), highest, up) {
            Some(cap) => {
                sub.set_layer_cap(cap);
                self.stats.layer_switches.fetch_add(1, Relaxed);
                true
            }
            None => false,
        }
    }

    /// Sends an intra-frame request for `geid` to its publisher, at most once per the
    /// limiter's interval whatever the number of viewers asking.
    pub(crate) fn request_keyframe(&self, geid: GlobalEncodingId, now: Instant) -> bool {
        if !lock(&self.keyframes).allow(geid, now) {
            return false;
        }
        let Some(route) = self.routes.get(&geid).map(|r| r.clone()) else {
            return false;
        };
        let sent = route
            .publisher
            .notify(ControlMessage::IntraFrameRequest(IntraFrameRequest {
                encoding: geid,
            }));
        if sent {
            self.stats.keyframe_requests.fetch_add(1, Relaxed);
        }
        sent
    }

    /// `endpoint_id` has just become an active speaker (its audio is forwarded from now on).
    ///
    /// - The audio it sent since `since` (the previous speaker tick) made it a speaker but
    ///   arrived while its gate was still closed: that pre-roll is its first words, so it may
    ///   be resent on request like anything forwarded (the rest of what it sent while gated
    ///   stays withheld).
    /// - Subscribers it was not forwarded to before cannot open its audio without the salt:
    ///   each of its audio encodings that has subscribers is asked for the full header set.
    pub(crate) fn speaker_started(&self, endpoint_id: u64, since: Instant) {
        let routes: Vec<Arc<Route>> = self
            .routes
            .iter()
            .filter(|r| r.publisher.endpoint_id == endpoint_id && r.is_audio())
            .map(|r| r.value().clone())
            .collect();
        for route in routes {
            lock(&route.cache).update_since(since, |m| m.gated = false);
            if !route.subscriptions().is_empty() {
                self.request_full_set(&route);
            }
        }
    }

    /// Asks an audio publisher for the full header set on its next message, for a subscriber
    /// that starts receiving the encoding (a join, or a speaker it has not been forwarded):
    /// without the salt it can open nothing until the next periodic full set, up to a
    /// second later. Not rate-limited like key frames: the answer costs the publisher a few
    /// dozen bytes on one message, never an encoder's intra frame.
    fn request_full_set(&self, route: &Route) {
        if route
            .publisher
            .notify(ControlMessage::IntraFrameRequest(IntraFrameRequest {
                encoding: route.geid,
            }))
        {
            self.stats.full_set_requests.fetch_add(1, Relaxed);
        }
    }

    /// Detaches a subscription from every route.
    pub(crate) fn detach(&self, sub: &Arc<Subscription>) {
        for geid in lock(&sub.attached).drain(..) {
            if let Some(route) = self.routes.get(&geid) {
                route.remove(sub);
            }
        }
    }

    /// Removes a member: its subscriptions everywhere (which also breaks the
    /// member <-> subscription reference cycle), its routes and its speaker state. A member
    /// that a newer connection of the same endpoint replaced loses only what is its own.
    pub(crate) fn leave(&self, member: &Arc<Member>) {
        let subs: Vec<Arc<Subscription>> = lock(&member.subscriptions)
            .drain()
            .map(|(_, s)| s)
            .collect();
        for sub in &subs {
            self.detach(sub);
        }
        for route in self.routes.iter() {
            route.remove_member(member);
        }
        self.remove_routes_of(member);
        let removed = self
            .members
            .remove_if(&member.endpoint_id, |_, m| Arc::ptr_eq(m, member))
            .is_some();
        if removed {
            lock(&self.speakers).remove(member.endpoint_id);
        }
    }
}

/// A source's routes as simulcast choices.
fn encoding_choices(routes: &[Arc<Route>]) -> Vec<EncodingInfo> {
    routes
        .iter()
        .map(|r| {
            EncodingInfo::from_publication(
                &r.publication,
                r.publisher.conference_id,
                r.publisher.endpoint_id,
            )
        })
        .collect()
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it: every critical
/// section here leaves its data consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
