//! The per-conference speaker tick: turns the members' active levels into the active-speaker
//! set, gates audio forwarding by it, tells everyone, and moves active-speaker video
//! subscriptions to the new speakers.

use super::clock;
use super::conference::{Conference, lock};
use super::node::Node;
use super::subscription::Target;
use newmedia_proto::control::ControlMessage;
use std::sync::Weak;
use std::sync::atomic::Ordering::Relaxed;

/// Runs until the conference is gone.
pub(crate) async fn run(node: Weak<Node>, conference: Weak<Conference>) {
    let Some(interval) = node.upgrade().map(|n| n.config.speaker_tick) else {
        return;
    };
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        let (Some(node), Some(conference)) = (node.upgrade(), conference.upgrade()) else {
            return;
        };
        if !node.conferences.contains_key(&conference.id) {
            return;
        }
        tick(&node, &conference);
    }
}

fn tick(node: &Node, conference: &Conference) {
    let now = clock::now();
    let change = {
        let mut speakers = lock(&conference.speakers);
        for member in conference.members.iter() {
            if let Some(level) = member.take_mean_level() {
                speakers.observe(member.endpoint_id, level, now);
            }
        }
        speakers.tick(now)
    };
    let Some(change) = change else { return };
    if change.set_changed() {
        node.stats
            .speaker_switches
            .fetch_add(change.entered as u64, Relaxed);
    }
    let order: Vec<u64> = change.speakers.iter().map(|s| s.endpoint_id).collect();
    let mut started = Vec::new();
    for member in conference.members.iter() {
        let speaking = order.contains(&member.endpoint_id);
        if speaking && !member.speaking.swap(speaking, Relaxed) {
            started.push(member.endpoint_id);
        } else {
            member.speaking.store(speaking, Relaxed);
        }
    }
    // New speakers: their pre-roll becomes resendable, and listeners get their salt (the gate
    // opened just above, so the next message, carrying the full set, is forwarded).
    let since = now.checked_sub(2 * node.config.speaker_tick).unwrap_or(now);
    for endpoint_id in started {
        conference.speaker_started(endpoint_id, since);
    }
    *lock(&conference.speaker_order) = order;
    let message = ControlMessage::ActiveSpeakers(change.to_control(conference.id));
    let members: Vec<_> = conference
        .members
        .iter()
        .map(|m| m.value().clone())
        .collect();
    for member in &members {
        member.notify(message.clone());
    }
    if change.set_changed() {
        for member in &members {
            let subs: Vec<_> = lock(&member.subscriptions)
                .values()
                .filter(|s| matches!(s.target, Target::ActiveSpeaker { .. }))
                .cloned()
                .collect();
            for sub in subs {
                conference.attach(&sub, now);
            }
        }
    }
}
