//! The control loop of one client: subscriptions, retransmission, max-rate and intra-frame
//! requests, reports.

use super::clock;
use super::conference::{Conference, lock};
use super::member::Member;
use super::node::Node;
use super::subscription::{Subscription, Target};
use crate::policy::RangeList;
use newmedia_proto::control::{
    ControlMessage, ControlReader, Decoded, ErrorCode, ErrorMessage, MaxRateRequest,
    RetransmissionRequest, RetransmissionUnavailable, Subscribe, SubscribeTarget,
    UnavailableReason,
};
use newmedia_proto::ids::GlobalEncodingId;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use tracing::debug;

/// Reads control messages from the client until the stream ends or breaks the protocol.
pub(crate) async fn run(
    node: Arc<Node>,
    conference: Arc<Conference>,
    member: Arc<Member>,
    mut reader: ControlReader,
    mut recv: quinn::RecvStream,
) {
    let mut buf = vec![0u8; 8192];
    loop {
        loop {
            match reader.next_message() {
                Ok(Some(Decoded::Message(message))) => {
                    handle(&node, &conference, &member, message);
                }
                Ok(Some(Decoded::Unknown { kind })) => debug!(kind, "unknown control message"),
                Ok(None) => break,
                Err(e) if e.is_fatal() => {
                    member.conn.close(
                        super::close::PROTOCOL_ERROR,
                        b"control stream protocol error",
                    );
                    return;
                }
                Err(e) => {
                    member.notify(ControlMessage::Error(ErrorMessage::new(
                        None,
                        ErrorCode::BAD_REQUEST,
                        &e.to_string(),
                    )));
                }
            }
        }
        match recv.read(&mut buf).await {
            Ok(Some(n)) => reader.push(buf.get(..n).unwrap_or_default()),
            Ok(None) | Err(_) => return,
        }
    }
}

fn handle(node: &Node, conference: &Conference, member: &Arc<Member>, message: ControlMessage) {
    match message {
        ControlMessage::Subscribe(s) => subscribe(conference, member, s),
        ControlMessage::Unsubscribe(u) => {
            let removed = lock(&member.subscriptions).remove(&u.request_id);
            match removed {
                Some(sub) => conference.detach(&sub),
                None => error(
                    member,
                    Some(u.request_id),
                    ErrorCode::UNKNOWN_REQUEST,
                    "no such subscription",
                ),
            }
        }
        ControlMessage::RetransmissionRequest(r) => retransmit(node, conference, member, &r),
        ControlMessage::MaxRateRequest(r) => max_rate(conference, member, r),
        ControlMessage::IntraFrameRequest(r) => {
            conference.request_keyframe(r.encoding, clock::now());
        }
        // Reports inform the client's own adaptation; the SFU sizes paths from quinn's view.
        ControlMessage::ReceiverReport(_) => {}
        ControlMessage::Error(e) => debug!(code = e.code.0, text = %e.text, "client error"),
        ControlMessage::Hello(_)
        | ControlMessage::SubscribeResult(_)
        | ControlMessage::ActiveSpeakers(_)
        | ControlMessage::RetransmissionUnavailable(_) => {
            error(
                member,
                None,
                ErrorCode::BAD_REQUEST,
                "message not valid from a client",
            );
        }
    }
}

fn error(member: &Member, request_id: Option<u64>, code: ErrorCode, text: &str) {
    member.notify(ControlMessage::Error(ErrorMessage::new(
        request_id, code, text,
    )));
}

fn subscribe(conference: &Conference, member: &Arc<Member>, s: Subscribe) {
    let (target, constraints, conference_id) = match s.target {
        SubscribeTarget::Encoding(geid) => (Target::Encoding(geid), Default::default(), None),
        SubscribeTarget::Source {
            conference_id,
            endpoint_id,
            source_id,
            constraints,
        } => (
            Target::Source {
                endpoint_id,
                source_id,
            },
            constraints,
            Some(conference_id),
        ),
        SubscribeTarget::ActiveSpeakerVideo {
            conference_id,
            rank,
            constraints,
        } => (
            Target::ActiveSpeaker {
                rank: usize::try_from(rank).unwrap_or(usize::MAX),
            },
            constraints,
            Some(conference_id),
        ),
    };
    if conference_id.is_some_and(|c| c != conference.id) {
        error(
            member,
            Some(s.request_id),
            ErrorCode::BAD_REQUEST,
            "another conference",
        );
        return;
    }
    // The same request ID and target again: new constraints or layer limit for the live
    // subscription, so the current encoding keeps flowing until a switch completes.
    let existing = lock(&member.subscriptions).get(&s.request_id).cloned();
    if let Some(sub) = existing.filter(|e| e.target == target) {
        *lock(&sub.constraints) = constraints;
        sub.set_max_layer(s.max_layer);
        let chosen = conference.attach(&sub, clock::now());
        if sub.simulcast.is_none() {
            member.notify(ControlMessage::SubscribeResult(
                newmedia_proto::control::SubscribeResult {
                    request_id: s.request_id,
                    encoding: chosen,
                },
            ));
        }
        return;
    }
    let sub = Arc::new(Subscription::new(
        s.request_id,
        member.clone(),
        target,
        constraints,
        s.max_layer,
    ));
    if let Some(old) = lock(&member.subscriptions).insert(s.request_id, sub.clone()) {
        conference.detach(&old);
    }
    let chosen = conference.attach(&sub, clock::now());
    // Simulcast subscriptions report their choice from `choose_encoding`; the others (and one
    // whose source is not published yet, which attaches when it is) are answered here.
    if chosen.is_none() || sub.simulcast.is_none() {
        member.notify(ControlMessage::SubscribeResult(
            newmedia_proto::control::SubscribeResult {
                request_id: s.request_id,
                encoding: chosen,
            },
        ));
    }
}

/// The route of `encoding`, or an `unknown_encoding` Error to the client.
fn route_or_error(
    conference: &Conference,
    member: &Member,
    encoding: newmedia_proto::ids::GlobalEncodingId,
) -> Option<Arc<super::route::Route>> {
    let route = conference.routes.get(&encoding).map(|r| r.clone());
    if route.is_none() {
        error(
            member,
            None,
            ErrorCode::UNKNOWN_ENCODING,
            "no such encoding here",
        );
    }
    route
}

/// Most ranges in one RetransmissionUnavailable (PROTOCOL.md §9, type 11).
const MAX_UNAVAILABLE_RANGES: usize = 32;

/// Answers a retransmission request from the route's cache: what this subscriber may
/// receive is sent again; what it was held back from (speaker gate, layer filter) and what the
/// cache no longer has is named in RetransmissionUnavailable messages, so the client stops
/// asking for it.
fn retransmit(node: &Node, conference: &Conference, member: &Member, r: &RetransmissionRequest) {
    let Some(route) = route_or_error(conference, member, r.encoding) else {
        return;
    };
    let max_layer = subscribed_max_layer(member, route.geid);
    let mut served = 0;
    let mut withheld = RangeList::new(MAX_UNAVAILABLE_RANGES);
    let now = clock::now();
    let not_cached = {
        let mut cache = lock(&route.cache);
        cache.serve(r, now, |seq, m| {
            if m.gated || max_layer.is_some_and(|max| m.layer > max) {
                withheld.push_range(seq, seq);
            } else if member.conn.send_datagram(m.datagram.clone()).is_ok() {
                served += 1;
            }
        });
        cache.unavailable(r, now, MAX_UNAVAILABLE_RANGES)
    };
    let stats = &node.stats;
    stats.retransmissions_served.fetch_add(served, Relaxed);
    for (ranges, reason, counter) in [
        (
            withheld.into_ranges(),
            UnavailableReason::WITHHELD,
            &stats.retransmissions_withheld,
        ),
        (
            not_cached,
            UnavailableReason::NOT_CACHED,
            &stats.retransmissions_not_cached,
        ),
    ] {
        if ranges.is_empty() {
            continue;
        }
        counter.fetch_add(ranges.iter().map(|r| r.count).sum(), Relaxed);
        member.notify(ControlMessage::RetransmissionUnavailable(
            RetransmissionUnavailable {
                encoding: route.geid,
                ranges,
                reason,
            },
        ));
    }
}

/// The layer limit of `member`'s subscription that receives `geid`, if it has one (a
/// retransmission never gives a subscriber layers its subscription filters out).
fn subscribed_max_layer(member: &Member, geid: GlobalEncodingId) -> Option<u64> {
    lock(&member.subscriptions)
        .values()
        .find(|s| lock(&s.attached).contains(&geid))
        .and_then(|s| s.max_layer())
}

fn max_rate(conference: &Conference, member: &Member, r: MaxRateRequest) {
    let Some(route) = route_or_error(conference, member, r.encoding) else {
        return;
    };
    if let Some(highest) = route.set_max_rate(member.endpoint_id, r.max_bitrate) {
        route
            .publisher
            .notify(ControlMessage::MaxRateRequest(MaxRateRequest {
                encoding: route.geid,
                max_bitrate: highest,
            }));
    }
}
