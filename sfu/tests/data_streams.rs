//! Reliable data streams (PROTOCOL.md §13) through a real SFU on loopback.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use bytes::Bytes;
use common::*;
use newmedia_proto::control::{ControlMessage, Subscribe, SubscribeTarget};
use newmedia_proto::grant::{MediaKind, Publication};
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_sfu::forward::data_stream::StreamKind;
use newmedia_sfu::forward::{DropReason, TOO_SLOW};
use newmedia_sfu::testing::ClientError;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

fn data(source_id: u64) -> Publication {
    Publication {
        source_id,
        encoding_id: 1,
        kind: MediaKind::Data,
        width: None,
        height: None,
        max_bitrate: None,
        frame_rate: None,
    }
}

async fn subscribe(peer: &mut Peer, request_id: u64, geid: GlobalEncodingId) {
    peer.send(ControlMessage::Subscribe(Subscribe {
        request_id,
        target: SubscribeTarget::Encoding(geid),
        max_layer: None,
    }))
    .await;
    let result = peer
        .expect_control("SubscribeResult", |m| match m {
            ControlMessage::SubscribeResult(r) if r.request_id == request_id => Some(r),
            _ => None,
        })
        .await;
    assert_eq!(result.encoding, Some(geid));
}

/// Every message of one stream, to its end.
async fn read_all(stream: &mut newmedia_sfu::testing::DataStreamReceiver) -> Vec<Bytes> {
    let mut out = Vec::new();
    while let Some(m) = within("a data message", stream.next_message())
        .await
        .unwrap()
    {
        out.push(m);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_and_single_messages_reach_three_subscribers_byte_identical() {
    let sfu = start().await;
    let d = data(4);
    let publisher = join(&sfu, 30, 1, vec![d.clone()]).await;
    let geid = publisher.geid(&d);
    let mut subscribers = Vec::new();
    for ep in 10..13 {
        let mut s = join(&sfu, 30, ep, vec![]).await;
        subscribe(&mut s, 1, geid).await;
        subscribers.push(s);
    }
    let mut enc = Encoder::aes(geid, 30, publisher.endpoint_id);
    let ordered: Vec<Bytes> = (0..20u8)
        .map(|i| enc.message(&vec![i; 100 + usize::from(i) * 700], |_| {}))
        .collect();
    let singles: HashSet<Bytes> = (0..10u8).map(|i| enc.message(&[i; 300], |_| {})).collect();

    let mut stream = within(
        "open",
        publisher.client.open_data_stream(StreamKind::Ordered),
    )
    .await
    .unwrap();
    for m in &ordered {
        stream.send(m).await.unwrap();
    }
    stream.finish().unwrap();
    for m in &singles {
        within("single", publisher.client.send_single_message(m))
            .await
            .unwrap();
    }

    for s in &subscribers {
        let mut got_ordered = None;
        let mut got_singles = HashSet::new();
        while got_ordered.is_none() || got_singles.len() < singles.len() {
            let mut incoming = within("a data stream", s.client.accept_data_stream())
                .await
                .unwrap();
            let messages = read_all(&mut incoming).await;
            match incoming.kind() {
                Some(StreamKind::Ordered) => {
                    assert!(got_ordered.is_none(), "one ordered stream per encoding");
                    got_ordered = Some(messages);
                }
                Some(StreamKind::Single) => {
                    assert_eq!(messages.len(), 1);
                    got_singles.insert(messages[0].clone());
                }
                None => panic!("stream without kind"),
            }
        }
        assert_eq!(got_ordered.unwrap(), ordered, "in order, byte for byte");
        assert_eq!(got_singles, singles);
    }
    eventually("stream counters", || {
        sfu.node.stats.stream_messages_out.load(Relaxed) == 90
    })
    .await;
    assert_eq!(sfu.node.stats.stream_messages_in.load(Relaxed), 30);
    eventually("metrics", || {
        sfu.metrics
            .encode_text()
            .contains("newmedia_sfu_stream_messages_out_total 90")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_encodings_and_bad_streams_are_refused() {
    let sfu = start().await;
    let d = data(1);
    let publisher = join(&sfu, 31, 1, vec![d.clone()]).await;
    let geid = publisher.geid(&d);
    let mut subscriber = join(&sfu, 31, 2, vec![]).await;
    subscribe(&mut subscriber, 1, geid).await;

    // Another endpoint's encoding, on an ordered stream and on a single-message stream.
    let foreign = GlobalEncodingId::derive(31, 2, 1, 1);
    let not_yours = Encoder::new(foreign).message(b"not yours", |_| {});
    let good = Encoder::new(geid).message(b"fine", |_| {});
    let mut stream = publisher
        .client
        .open_data_stream(StreamKind::Ordered)
        .await
        .unwrap();
    stream.send(&not_yours).await.unwrap();
    stream.send(b"\xff\x00 not rtp3").await.unwrap();
    stream.send(&good).await.unwrap();
    stream.finish().unwrap();
    publisher
        .client
        .send_single_message(&not_yours)
        .await
        .unwrap();

    let mut incoming = within("stream", subscriber.client.accept_data_stream())
        .await
        .unwrap();
    assert_eq!(read_all(&mut incoming).await, vec![good]);
    eventually("drop counters", || {
        sfu.node
            .stats
            .stream_dropped(DropReason::UnauthorizedEncoding)
            == 2
            && sfu.node.stats.stream_dropped(DropReason::Malformed) == 1
    })
    .await;

    // An unknown kind byte: the SFU stops the stream with code 3 (protocol_error).
    let mut bad = publisher.client.conn.open_uni().await.unwrap();
    bad.write_all(&[0x12, 0x01, 0x00]).await.unwrap();
    let stopped = within("STOP_SENDING", bad.stopped()).await.unwrap();
    assert_eq!(stopped, Some(newmedia_sfu::forward::PROTOCOL_ERROR));
    // Nothing of it reached the subscriber, whose connection is fine.
    assert!(subscriber.client.conn.close_reason().is_none());
    assert_eq!(sfu.node.stats.stream_messages_out.load(Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_is_reset_while_others_get_everything() {
    let sfu = start().await;
    let d = data(1);
    let publisher = join(&sfu, 32, 1, vec![d.clone()]).await;
    let geid = publisher.geid(&d);
    let mut slow = join(&sfu, 32, 9, vec![]).await;
    subscribe(&mut slow, 1, geid).await;
    let mut readers = Vec::new();
    let mut progress = Vec::new();
    for ep in 10..12 {
        let mut s = join(&sfu, 32, ep, vec![]).await;
        subscribe(&mut s, 1, geid).await;
        let got = Arc::new(AtomicUsize::new(0));
        progress.push(got.clone());
        // Fast subscribers read as the data arrives.
        readers.push(tokio::spawn(async move {
            let mut incoming = within("stream", s.client.accept_data_stream())
                .await
                .unwrap();
            let mut out = Vec::new();
            while let Some(m) = within("a data message", incoming.next_message())
                .await
                .unwrap()
            {
                out.push(m);
                got.store(out.len(), Relaxed);
            }
            out
        }));
    }
    // 3.2 MB: more than the slow subscriber's QUIC receive window (1.25 MB) plus the SFU's
    // 1 MiB allowance, so the SFU has to give up on it. The publisher goes in step with the
    // fast readers (each message once both have the one before), so what decides a reset is
    // only whether a subscriber reads, not how the two cores happen to be shared.
    let mut enc = Encoder::new(geid);
    let messages: Vec<Bytes> = (0..80u32)
        .map(|i| enc.message(&vec![(i % 251) as u8; 40_000], |_| {}))
        .collect();
    let mut stream = publisher
        .client
        .open_data_stream(StreamKind::Ordered)
        .await
        .unwrap();
    for (i, m) in messages.iter().enumerate() {
        within("publisher never blocks", stream.send(m))
            .await
            .unwrap();
        eventually("the fast readers keep up", || {
            progress.iter().all(|p| p.load(Relaxed) > i)
        })
        .await;
    }
    stream.finish().unwrap();

    for reader in readers {
        assert_eq!(within("fast reader", reader).await.unwrap(), messages);
    }
    eventually("a reset", || {
        sfu.node.stats.stream_resets.load(Relaxed) >= 1
    })
    .await;
    assert!(sfu.node.stats.stream_dropped(DropReason::QueueFull) >= 1);

    // The slow subscriber finally reads: its stream ends in a reset with code 1 (too_slow).
    let mut incoming = within("slow stream", slow.client.accept_data_stream())
        .await
        .unwrap();
    let outcome = within("reset", async {
        loop {
            match incoming.next_message().await {
                Ok(Some(_)) => continue,
                other => return other,
            }
        }
    })
    .await;
    match outcome {
        Err(ClientError::Read(quinn::ReadError::Reset(code))) => assert_eq!(code, TOO_SLOW),
        other => panic!("expected a reset, got {other:?}"),
    }
    // It is still connected: only its stream was given up.
    assert!(slow.client.conn.close_reason().is_none());
}
