//! Simulcast, active speakers and keyframe requests end to end.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use newmedia_proto::control::{
    Constraints, ControlMessage, RetransmissionRequest, SequenceRange, Subscribe, SubscribeResult,
    SubscribeTarget, UnavailableReason,
};
use newmedia_proto::ids::GlobalEncodingId;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};
use std::time::Duration;

fn source_subscription(conference_id: u64, max_width: u64) -> ControlMessage {
    ControlMessage::Subscribe(Subscribe {
        request_id: 1,
        target: SubscribeTarget::Source {
            conference_id,
            endpoint_id: 1,
            source_id: 1,
            constraints: Constraints {
                max_width: Some(max_width),
                ..Constraints::default()
            },
        },
        max_layer: None,
    })
}

async fn result(peer: &mut Peer) -> SubscribeResult {
    peer.expect_control("SubscribeResult", |m| match m {
        ControlMessage::SubscribeResult(r) => Some(r),
        _ => None,
    })
    .await
}

async fn keyframe_request(peer: &mut Peer) -> GlobalEncodingId {
    peer.expect_control("IntraFrameRequest", |m| match m {
        ControlMessage::IntraFrameRequest(r) => Some(r.encoding),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulcast_switches_only_at_reference_frames() {
    let sfu = start().await;
    let (high, low) = (
        video(1, 1, 1280, 720, 1_500_000),
        video(1, 2, 320, 180, 200_000),
    );
    let mut publisher = join(&sfu, 40, 1, vec![high.clone(), low.clone()]).await;
    let mut viewer = join(&sfu, 40, 2, vec![]).await;
    let (high, low) = (publisher.geid(&high), publisher.geid(&low));
    let (mut hi, mut lo) = (Encoder::new(high), Encoder::new(low));

    // Small screen: the low encoding, which can start only at a reference frame.
    viewer.send(source_subscription(40, 400)).await;
    assert_eq!(result(&mut viewer).await.encoding, Some(low));
    assert_eq!(keyframe_request(&mut publisher).await, low);
    let early = lo.message(b"low delta before any keyframe", |_| {});
    let key = lo.message(b"low key", |h| h.reference_frame = Some(true));
    let delta = lo.message(b"low delta", |_| {});
    let other = hi.message(b"high key", |h| h.reference_frame = Some(true));
    for m in [&early, &key, &delta, &other] {
        publisher.client.send_datagram(m.clone()).unwrap();
    }
    assert_eq!(viewer.recv().await, key);
    assert_eq!(viewer.recv().await, delta);
    assert_eq!(
        result(&mut viewer).await.encoding,
        Some(low),
        "first switch reported"
    );

    // Bigger screen: the high encoding is the new target; low keeps flowing until high's
    // next reference frame, which the SFU asks the publisher for.
    viewer.send(source_subscription(40, 2000)).await;
    assert_eq!(result(&mut viewer).await.encoding, Some(high));
    assert_eq!(keyframe_request(&mut publisher).await, high);
    let high_delta = hi.message(b"high delta, not yet", |_| {});
    let low_still = lo.message(b"low still flowing", |_| {});
    let high_key = hi.message(b"high key: switch", |h| h.reference_frame = Some(true));
    let low_after = lo.message(b"low after the switch", |_| {});
    let high_after = hi.message(b"high delta after", |_| {});
    for m in [&high_delta, &low_still, &high_key, &low_after, &high_after] {
        publisher.client.send_datagram(m.clone()).unwrap();
    }
    assert_eq!(viewer.recv().await, low_still);
    assert_eq!(viewer.recv().await, high_key);
    assert_eq!(viewer.recv().await, high_after);
    assert_eq!(
        result(&mut viewer).await.encoding,
        Some(high),
        "switch reported"
    );
    assert!(
        viewer
            .drain_datagrams(Duration::from_millis(100))
            .await
            .is_empty()
    );
    eventually("layer switch counted", || {
        sfu.node.stats.layer_switches.load(Relaxed) >= 2
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_still_waiting_for_its_keyframe_asks_again() {
    let sfu = start().await;
    let low = video(1, 2, 320, 180, 200_000);
    let mut publisher = join(&sfu, 41, 1, vec![low.clone()]).await;
    let mut viewer = join(&sfu, 41, 2, vec![]).await;
    let low = publisher.geid(&low);
    viewer.send(source_subscription(41, 400)).await;
    assert_eq!(result(&mut viewer).await.encoding, Some(low));
    assert_eq!(keyframe_request(&mut publisher).await, low);
    // The publisher's keyframe never comes (lost, or it ignored the request): once the
    // limiter's interval has passed, the waiting switch asks again.
    assert_eq!(keyframe_request(&mut publisher).await, low);
    let mut enc = Encoder::new(low);
    let key = enc.message(b"low key", |h| h.reference_frame = Some(true));
    publisher.client.send_datagram(key.clone()).unwrap();
    assert_eq!(viewer.recv().await, key);
    eventually("keyframe requests counted", || {
        sfu.node.stats.keyframe_requests.load(Relaxed) >= 2
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_without_an_active_level_is_forwarded() {
    let sfu = start().await;
    let publisher = join(&sfu, 51, 1, vec![audio(1)]).await;
    let mut listener = join(&sfu, 51, 2, vec![]).await;
    let geid = publisher.geid(&audio(1));
    listener
        .send(ControlMessage::Subscribe(Subscribe {
            request_id: 1,
            target: SubscribeTarget::Encoding(geid),
            max_layer: None,
        }))
        .await;
    result(&mut listener).await;
    // No level: it cannot be ranked, so it is not held back (no speaker tick needed).
    let mut enc = Encoder::new(geid);
    let unranked = enc.message(b"no level", |_| {});
    publisher.client.send_datagram(unranked.clone()).unwrap();
    assert_eq!(listener.recv().await, unranked);
    // Silence with a level is ranked, and held back: nobody is speaking.
    let silent = enc.message(b"silence", |h| h.active_level = Some(0));
    publisher.client.send_datagram(silent).unwrap();
    assert!(
        listener
            .drain_datagrams(Duration::from_millis(200))
            .await
            .is_empty()
    );
}

/// What the listener hears now (after whatever was in flight) comes from `geid` alone.
async fn assert_hears_only(listener: &Peer, geid: GlobalEncodingId) {
    listener.drain_datagrams(Duration::from_millis(50)).await;
    let heard = listener.drain_datagrams(Duration::from_millis(200)).await;
    assert!(!heard.is_empty());
    for d in &heard {
        let view = newmedia_proto::rtp3::HeaderView::parse(d).unwrap();
        assert_eq!(view.global_encoding_id(), geid);
    }
}

/// Sends audio at 50 messages/s with whatever level `level` holds, until `stop`.
fn talk(
    peer: &Peer,
    geid: GlobalEncodingId,
    level: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let conn = peer.client.conn.clone();
    tokio::spawn(async move {
        let mut enc = Encoder::new(geid);
        let mut ticker = tokio::time::interval(Duration::from_millis(20));
        while !stop.load(Relaxed) {
            ticker.tick().await;
            let l = level.load(Relaxed);
            let _ = conn.send_datagram(enc.message(&[l; 60], |h| h.active_level = Some(l)));
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_active_speaker_is_heard_and_the_switch_is_announced() {
    let mut config = config();
    config.top_speakers = 1;
    let sfu = start_with(config).await;
    let alice = join(&sfu, 50, 1, vec![audio(1)]).await;
    let mut bob = join(&sfu, 50, 2, vec![audio(1)]).await;
    let mut listener = join(&sfu, 50, 3, vec![]).await;
    let (a, b) = (alice.geid(&audio(1)), bob.geid(&audio(1)));
    for (i, g) in [a, b].into_iter().enumerate() {
        listener
            .send(ControlMessage::Subscribe(Subscribe {
                request_id: i as u64 + 1,
                target: SubscribeTarget::Encoding(g),
                max_layer: None,
            }))
            .await;
    }
    // A new receiver of Bob's audio: the SFU asks Bob for the full header set (the salt).
    assert_eq!(keyframe_request(&mut bob).await, b);
    let stop = Arc::new(AtomicBool::new(false));
    let (alice_level, bob_level) = (Arc::new(AtomicU8::new(90)), Arc::new(AtomicU8::new(0)));
    let tasks = [
        talk(&alice, a, alice_level.clone(), stop.clone()),
        talk(&bob, b, bob_level.clone(), stop.clone()),
    ];

    let speakers = |want: u64| {
        move |m| match m {
            ControlMessage::ActiveSpeakers(s)
                if s.speakers.first().map(|s| s.endpoint_id) == Some(want) =>
            {
                Some(s)
            }
            _ => None,
        }
    };
    let first = listener.expect_control("Alice active", speakers(1)).await;
    assert_eq!(first.speakers.len(), 1, "top 1 only");
    // Only Alice's audio reaches the listener now.
    assert_hears_only(&listener, a).await;
    // Bob's first messages were held back from everyone: asked for, they are named as
    // withheld rather than resent.
    listener
        .send(ControlMessage::RetransmissionRequest(
            RetransmissionRequest {
                encoding: b,
                ranges: vec![SequenceRange { first: 0, count: 3 }],
                capture_time: None,
                message_ids: vec![],
            },
        ))
        .await;
    let withheld = listener
        .expect_control("RetransmissionUnavailable", |m| match m {
            ControlMessage::RetransmissionUnavailable(u) => Some(u),
            _ => None,
        })
        .await;
    assert_eq!(withheld.encoding, b);
    assert_eq!(withheld.reason, UnavailableReason::WITHHELD);
    assert_eq!(withheld.ranges, vec![SequenceRange { first: 0, count: 3 }]);
    assert_hears_only(&listener, a).await;

    // Bob starts talking and Alice stops: after the hysteresis Bob takes over.
    alice_level.store(0, Relaxed);
    bob_level.store(95, Relaxed);
    listener.expect_control("Bob active", speakers(2)).await;
    // Bob's audio was not forwarded before: the listener needs its salt, so Bob is asked for
    // the full set again the moment he becomes a speaker.
    assert_eq!(keyframe_request(&mut bob).await, b);
    assert_hears_only(&listener, b).await;
    assert!(sfu.node.stats.speaker_switches.load(Relaxed) >= 2);
    stop.store(true, Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
}

async fn send_max_rate(peer: &mut Peer, encoding: GlobalEncodingId, max_bitrate: u64) {
    let request = newmedia_proto::control::MaxRateRequest {
        encoding,
        max_bitrate,
    };
    peer.send(ControlMessage::MaxRateRequest(request)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_rate_requests_reach_the_publisher_as_the_highest_usable_rate() {
    let sfu = start().await;
    let v = video(1, 1, 1280, 720, 2_000_000);
    let mut publisher = join(&sfu, 70, 1, vec![v.clone()]).await;
    let geid = publisher.geid(&v);
    let mut viewers = Vec::new();
    for ep in [2, 3] {
        let mut viewer = join(&sfu, 70, ep, vec![]).await;
        viewer
            .send(ControlMessage::Subscribe(Subscribe {
                request_id: 1,
                target: SubscribeTarget::Encoding(geid),
                max_layer: None,
            }))
            .await;
        result(&mut viewer).await;
        viewers.push(viewer);
    }
    let asked = |m| match m {
        ControlMessage::MaxRateRequest(r) => Some(r.max_bitrate),
        _ => None,
    };
    send_max_rate(&mut viewers[0], geid, 300_000).await;
    assert_eq!(publisher.expect_control("max rate", asked).await, 300_000);
    // A second viewer that can use more raises the request; one that can use less does not
    // lower it below what the first can use.
    send_max_rate(&mut viewers[1], geid, 1_200_000).await;
    assert_eq!(publisher.expect_control("max rate", asked).await, 1_200_000);
    send_max_rate(&mut viewers[1], geid, 100_000).await;
    assert_eq!(publisher.expect_control("max rate", asked).await, 300_000);
}
