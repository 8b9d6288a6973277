//! The per-subscriber path sampler: feeds quinn's view of the path (RTT, congestion window,
//! loss) and the subscriber's backlog to the bandwidth estimator, and re-chooses simulcast
//! encodings when it steps down or up.

use super::clock;
use super::conference::{Conference, lock};
use super::member::Member;
use super::node::Node;
use super::subscription::Subscription;
use crate::policy::bandwidth::{PathEstimator, PathSample, Step};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Weak};

/// Runs until the connection closes, then records what it sent last.
pub(crate) async fn run(
    node: Arc<Node>,
    conn: quinn::Connection,
    conference: Weak<Conference>,
    member: Weak<Member>,
) {
    let mut ticker = tokio::time::interval(node.config.path_tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut estimator = PathEstimator::new(Default::default());
    let mut sent = SentSoFar::default();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = conn.closed() => {
                sent.account(&node, &conn.stats());
                return;
            }
        }
        let (Some(conference), Some(member)) = (conference.upgrade(), member.upgrade()) else {
            sent.account(&node, &conn.stats());
            return;
        };
        let now = clock::now();
        let stats = member.conn.stats();
        sent.account(&node, &stats);
        let queued = node
            .config
            .datagram_send_buffer
            .saturating_sub(member.conn.datagram_send_buffer_space());
        let sample = PathSample {
            rtt: member.conn.rtt(),
            cwnd_bytes: stats.path.cwnd,
            lost_packets: stats.path.lost_packets,
            sent_packets: stats.path.sent_packets,
            queued_bytes: queued as u64,
            delivered_bytes: stats.udp_tx.bytes,
        };
        let subs: Vec<_> = lock(&member.subscriptions).values().cloned().collect();
        retry_keyframes(&conference, &subs, now);
        let decision = estimator.on_sample(sample, now);
        if decision.step == Step::Hold {
            continue;
        }
        let up = decision.step == Step::Up;
        let mut moved = false;
        for sub in subs {
            moved |= if sub.simulcast.is_some() {
                conference.step_encoding(&sub, up, now)
            } else {
                conference.step_layer(&sub, up)
            };
        }
        if decision.step == Step::Up && !moved {
            // Already at the top everywhere: not a failed probe.
            estimator.decline_up();
        }
    }
}

/// Asks again for the reference frame that a simulcast switch is still waiting for: the
/// first request may have been refused by the per-encoding limiter (another viewer's request
/// was answered a moment earlier) or its keyframe lost. The limiter still lets only one
/// request per encoding per interval through, however many viewers wait.
fn retry_keyframes(conference: &Conference, subs: &[Arc<Subscription>], now: std::time::Instant) {
    for sub in subs {
        let pending = sub
            .simulcast
            .as_ref()
            .and_then(|s| lock(s).pending_keyframe());
        if let Some(geid) = pending {
            conference.request_keyframe(geid, now);
        }
    }
}

/// What one connection's quinn stats said was sent, as of the last sample; the difference
/// feeds the node's out counters, which thus count real sends (not calls) and stay monotonic
/// as connections come and go.
#[derive(Debug, Default)]
pub(crate) struct SentSoFar {
    datagrams: u64,
    bytes: u64,
}

impl SentSoFar {
    pub(crate) fn account(&mut self, node: &Node, stats: &quinn::ConnectionStats) {
        let datagrams = stats.frame_tx.datagram;
        let bytes = stats.udp_tx.bytes;
        node.stats
            .datagrams_out
            .fetch_add(datagrams.saturating_sub(self.datagrams), Relaxed);
        node.stats
            .bytes_out
            .fetch_add(bytes.saturating_sub(self.bytes), Relaxed);
        self.datagrams = datagrams;
        self.bytes = bytes;
    }
}
