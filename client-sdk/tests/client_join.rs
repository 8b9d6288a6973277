//! `Client::join` end to end through a real SFU on loopback: proposals applied whole,
//! AES-GCM media published (audio and two simulcast video encodings) and received
//! byte-identical by two subscribers, metrics, and whole rejection.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use newmedia_client::client::{Client, ClientConfig, ClientError};
use newmedia_client::clock;
use newmedia_client::control::{AudioCodec, Capabilities, MediaSink, MediaSource, VideoCodec};
use newmedia_client::session::OutgoingFrame;
use newmedia_proto::grant::{MediaKind, Publication};
use newmedia_proto::signaling::Proposal;
use newmedia_sfu::app::RunningSfu;
use support::*;

const CONF: u64 = 900;

fn hex(fp: &[u8; 32]) -> String {
    fp.iter().map(|b| format!("{b:02x}")).collect()
}

fn send_to(sfu: &RunningSfu) -> String {
    format!(
        r#"[{{"local":"{}","stunSecret":"s","tlsFingerprintSHA256":"{}"}}]"#,
        sfu.media_addr,
        hex(&sfu.fingerprint)
    )
}

fn publisher_proposal(sfu: &RunningSfu) -> Proposal {
    Proposal::from_json(&format!(
        r#"{{"sendTo":{},"sendStreams":[
          {{"conferenceID":{CONF},"endpointID":1,"sourceID":1,"encodingID":1,"codecName":"opus",
            "AEAD":"AES128-GCM","secret":"alice secret","maxBitrate":32000,"packetTime":20}},
          {{"conferenceID":{CONF},"endpointID":1,"sourceID":2,"encodingID":1,"codecName":"h264",
            "AEAD":"AES128-GCM","secret":"alice secret","width":1280,"height":720,"frameRate":30}},
          {{"conferenceID":{CONF},"endpointID":1,"sourceID":2,"encodingID":2,"codecName":"h264",
            "AEAD":"AES128-GCM","secret":"alice secret","width":320,"height":180,"frameRate":15}}]}}"#,
        send_to(sfu)
    ))
    .unwrap()
}

fn subscriber_proposal(sfu: &RunningSfu) -> Proposal {
    Proposal::from_json(&format!(
        r#"{{"sendTo":{},"sendStreams":[],"receiveStreams":[
          {{"conferenceID":{CONF},"endpointID":1,"sourceID":1,"encodingID":1,"sinkID":1,
            "codecName":"opus","AEAD":"AES128-GCM","secret":"alice secret"}},
          {{"conferenceID":{CONF},"endpointID":1,"sourceID":2,"encodingID":1,"sinkID":2,
            "codecName":"h264","AEAD":"AES128-GCM","secret":"alice secret"}}]}}"#,
        send_to(sfu)
    ))
    .unwrap()
}

fn capabilities() -> Capabilities {
    Capabilities::new()
        .source(MediaSource::audio(1, [AudioCodec::new("opus")]))
        .source(MediaSource::video(2, [VideoCodec::new("h264")]))
        .sink(MediaSink::audio(1, [AudioCodec::new("opus")]))
        .sink(MediaSink::video(2, [VideoCodec::new("h264")]))
}

fn video_pub(encoding_id: u64) -> Publication {
    publication(2, encoding_id, MediaKind::Video)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposal_joins_publishes_and_subscribes_byte_identical() {
    let sfu = sfu().await;
    let alice_id = admit(
        &sfu,
        CONF,
        1,
        vec![
            publication(1, 1, MediaKind::Audio),
            video_pub(1),
            video_pub(2),
        ],
    );
    let alice = Client::start(
        ClientConfig::default()
            .identity(alice_id)
            .capabilities(capabilities()),
    )
    .unwrap();
    let alice_call = within("alice joins", alice.join(&publisher_proposal(&sfu)))
        .await
        .unwrap();
    let mut viewers = Vec::new();
    for ep in [2, 3] {
        let id = admit(&sfu, CONF, ep, vec![]);
        let c = Client::start(
            ClientConfig::default()
                .identity(id)
                .capabilities(capabilities()),
        )
        .unwrap();
        let mut call = within("viewer joins", c.join(&subscriber_proposal(&sfu)))
            .await
            .unwrap();
        let subs = call.take_subscriptions();
        assert_eq!(subs.len(), 2);
        viewers.push((c, call, subs));
    }

    let mic = alice_call.publisher(1, 1).unwrap();
    let cam = alice_call.encodings_of(2);
    assert_eq!(cam.len(), 2);
    let mut sent_audio = Vec::new();
    let mut sent_video = Vec::new();
    for i in 0..30u32 {
        let audio: Vec<u8> = (0..120).map(|b| (b as u32 * 7 + i) as u8).collect();
        let mut f = OutgoingFrame::new(&audio, clock::ntp_millis());
        f.active_level = Some(90);
        f.reference = true;
        mic.send(&f).await.unwrap();
        sent_audio.push(audio);
        // A video frame larger than a datagram: several chunks.
        let video: Vec<u8> = (0..5000).map(|b| (b as u32 * 13 + i) as u8).collect();
        for enc in &cam {
            let mut f = OutgoingFrame::new(&video, clock::ntp_millis());
            f.reference = i % 10 == 0;
            enc.send(&f).await.unwrap();
        }
        sent_video.push(video);
    }

    for (_, _, subs) in &mut viewers {
        let (audio_sub, video_sub) = subs.split_at_mut(1);
        // The SFU forwards audio of active speakers only; it takes a speaker-selection tick
        // to rank Alice, so the first packets may be gated. What arrives is an in-order
        // run of what was sent, up to the last packet.
        let audio = &mut audio_sub[0].subscription;
        let mut next = 0;
        loop {
            let got = within("audio frame", audio.next_frame()).await.unwrap();
            let k = sent_audio
                .iter()
                .position(|a| a[..] == got.payload[..])
                .expect("a sent packet");
            assert!(k >= next, "in order");
            next = k + 1;
            assert_eq!(got.endpoint_id, 1);
            assert!(got.capture_time.is_some());
            if k + 1 == sent_audio.len() {
                break;
            }
        }
        let video = &mut video_sub[0].subscription;
        for want in &sent_video {
            let got = within("video frame", video.next_frame()).await.unwrap();
            assert_eq!(&got.payload[..], &want[..]);
        }
        let m = video.metrics();
        assert_eq!(m.frames_received, 30);
        assert_eq!(m.last_endpoint_id, Some(1));
        assert_eq!(m.undecryptable, 0);
        assert!(m.bits_received >= 30 * 5000 * 8);
    }
    // Each viewer's designated reporter sent compound reports covering both streams.
    for (_, call, _) in &viewers {
        within("a compound report", async {
            while !(call.report_stats().reports >= 1 && call.report_stats().blocks >= 2) {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        })
        .await;
    }
    let sent = cam[0].metrics();
    assert_eq!(sent.frames_sent, 30);
    assert!(
        sent.messages_sent > 30,
        "5000-byte frames need several datagrams"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposal_with_an_unknown_codec_is_rejected_whole() {
    let sfu = sfu().await;
    let client = Client::start(ClientConfig::default().capabilities(capabilities())).unwrap();
    let bad = Proposal::from_json(&format!(
        r#"{{"sendTo":{},"sendStreams":[
          {{"conferenceID":1,"endpointID":1,"sourceID":1,"encodingID":1,"codecName":"opus",
            "AEAD":"NULL"}},
          {{"conferenceID":1,"endpointID":1,"sourceID":2,"encodingID":1,"codecName":"vp8",
            "AEAD":"NULL"}}]}}"#,
        send_to(&sfu)
    ))
    .unwrap();
    match client.join(&bad).await {
        Err(ClientError::Rejected(r)) => {
            assert_eq!(r.path, "sendStreams[1]");
            assert!(r.to_string().contains("vp8"), "{r}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(client.current_proposal().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retransmission_recovers_every_frame_over_a_lossy_path() {
    let sfu = sfu().await;
    let alice_id = admit(&sfu, CONF, 1, vec![video_pub(1), video_pub(2)]);
    let alice = Client::start(
        ClientConfig::default()
            .identity(alice_id)
            .capabilities(capabilities()),
    )
    .unwrap();
    let video_only = Proposal::from_json(&format!(
        r#"{{"sendTo":{},"sendStreams":[
          {{"conferenceID":{CONF},"endpointID":1,"sourceID":2,"encodingID":1,"codecName":"h264",
            "AEAD":"AES128-GCM","secret":"alice secret"}}]}}"#,
        send_to(&sfu)
    ))
    .unwrap();
    let alice_call = within("alice joins", alice.join(&video_only))
        .await
        .unwrap();

    // Bob reaches the SFU through a path that loses 5 % of datagrams each way.
    let proxy = lossy_proxy::LossyProxy::start(sfu.media_addr, 0.05, 7).await;
    let bob_id = admit(&sfu, CONF, 2, vec![]);
    // Every frame from the stream's first, even when its first messages are lost on the way.
    let bob = Client::start(
        ClientConfig::default()
            .identity(bob_id)
            .capabilities(capabilities())
            .subscription(newmedia_client::session::SubscriptionConfig {
                start: newmedia_client::session::StreamStart::Beginning,
                ..Default::default()
            }),
    )
    .unwrap();
    let via_proxy = Proposal::from_json(&format!(
        r#"{{"sendTo":[{{"local":"{}","stunSecret":"s","tlsFingerprintSHA256":"{}"}}],
            "receiveStreams":[
          {{"conferenceID":{CONF},"endpointID":1,"sourceID":2,"encodingID":1,"sinkID":2,
            "codecName":"h264","AEAD":"AES128-GCM","secret":"alice secret"}}]}}"#,
        proxy.addr,
        hex(&sfu.fingerprint)
    ))
    .unwrap();
    let mut bob_call = within("bob joins", bob.join(&via_proxy)).await.unwrap();
    let mut video = bob_call.take_subscription(0).unwrap().subscription;

    let cam = alice_call.publisher(2, 1).unwrap();
    // Alice's flow may send at most 2 Mbit/s: the pacer spreads each frame's messages.
    alice_call.set_max_bandwidth(Some(2_000_000));
    assert_eq!(alice_call.flow().max_bandwidth(), Some(2_000_000));
    let frames: Vec<Vec<u8>> = (0..60u32)
        .map(|i| (0..6000).map(|b| (b as u32 * 31 + i) as u8).collect())
        .collect();
    let sender = async {
        for (i, f) in frames.iter().enumerate() {
            let mut out = OutgoingFrame::new(f, clock::ntp_millis());
            out.reference = i % 30 == 0;
            cam.send(&out).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    let receiver = async {
        for want in &frames {
            let got = within("video frame", video.next_frame()).await.unwrap();
            assert_eq!(
                &got.payload[..],
                &want[..],
                "frames arrive whole and in order"
            );
        }
    };
    tokio::join!(sender, receiver);
    let m = video.metrics();
    assert!(
        proxy
            .stats
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
    assert!(m.retransmissions_recovered > 0, "{m:?}");
    assert_eq!(m.frames_lost, 0, "{m:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fec_streams_restore_losses_over_a_lossy_path() {
    use newmedia_client::control::GenericCodec;
    let sfu = sfu().await;
    let fec_pub = publication(2, 9, MediaKind::Video);
    let alice_id = admit(&sfu, CONF, 1, vec![video_pub(1), fec_pub]);
    let caps = || {
        Capabilities::new()
            .source(
                MediaSource::video(2, [VideoCodec::new("h264")]).with_codec(GenericCodec::fec()),
            )
            .sink(MediaSink::video(2, [VideoCodec::new("h264")]).with_codec(GenericCodec::fec()))
    };
    let alice = Client::start(
        ClientConfig::default()
            .identity(alice_id)
            .capabilities(caps()),
    )
    .unwrap();
    let send = Proposal::from_json(&format!(
        r#"{{"sendTo":{},"sendStreams":[
          {{"conferenceID":{CONF},"endpointID":1,"sourceID":2,"encodingID":1,"codecName":"h264",
            "AEAD":"AES128-GCM","secret":"alice secret"}},
          {{"conferenceID":{CONF},"endpointID":1,"sourceID":2,"encodingID":9,
            "codecName":"flex-fec-rs","AEAD":"AES128-GCM","secret":"alice secret",
            "fecRepairWindow":100,"fecRepairEncodingIDs":[1]}}]}}"#,
        send_to(&sfu)
    ))
    .unwrap();
    let alice_call = within("alice joins", alice.join(&send)).await.unwrap();

    let proxy = lossy_proxy::LossyProxy::start(sfu.media_addr, 0.05, 11).await;
    let bob_id = admit(&sfu, CONF, 2, vec![]);
    // No retransmission: what arrives whole despite the loss is FEC's doing.
    let bob = Client::start(
        ClientConfig::default()
            .identity(bob_id)
            .capabilities(caps())
            .subscription(newmedia_client::session::SubscriptionConfig {
                recovery: None,
                playout: newmedia_client::session::Playout::Immediate,
                ..Default::default()
            }),
    )
    .unwrap();
    let receive = Proposal::from_json(&format!(
        r#"{{"sendTo":[{{"local":"{}","stunSecret":"s","tlsFingerprintSHA256":"{}"}}],
            "receiveStreams":[
          {{"conferenceID":{CONF},"endpointID":1,"sourceID":2,"encodingID":1,"sinkID":2,
            "codecName":"h264","AEAD":"AES128-GCM","secret":"alice secret"}},
          {{"conferenceID":{CONF},"endpointID":1,"sourceID":2,"encodingID":9,"sinkID":2,
            "codecName":"flex-fec-rs","AEAD":"AES128-GCM","secret":"alice secret",
            "fecRepairEncodingIDs":[1]}}]}}"#,
        proxy.addr,
        hex(&sfu.fingerprint)
    ))
    .unwrap();
    let mut bob_call = within("bob joins", bob.join(&receive)).await.unwrap();
    let subs = bob_call.take_subscriptions();
    assert_eq!(
        subs.len(),
        1,
        "the FEC stream rides inside the video subscription"
    );
    let mut video = subs.into_iter().next().unwrap().subscription;

    let cam = alice_call.publisher(2, 1).unwrap();
    let frames: Vec<Vec<u8>> = (0..60u32)
        .map(|i| (0..4000).map(|b| (b as u32 * 17 + i) as u8).collect())
        .collect();
    let sender = async {
        for (i, f) in frames.iter().enumerate() {
            let mut out = OutgoingFrame::new(f, clock::ntp_millis());
            out.reference = i == 0;
            cam.send(&out).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    let receiver = async {
        let mut got = Vec::new();
        while let Ok(Some(f)) =
            tokio::time::timeout(std::time::Duration::from_secs(2), video.next_frame()).await
        {
            got.push(f);
            if got.len() == frames.len() {
                break;
            }
        }
        got
    };
    let ((), got) = tokio::join!(sender, receiver);
    for f in &got {
        assert!(
            frames.iter().any(|w| w[..] == f.payload[..]),
            "frames arrive whole"
        );
    }
    let m = video.metrics();
    assert!(m.fec_restored > 0, "{m:?}");
    // 5 % loss, 20 % FEC overhead, no retransmission: nearly every frame comes through.
    assert!(got.len() >= 55, "{} of 60 frames; {m:?}", got.len());
    let fec_sent = alice_call.publisher(2, 9).unwrap().metrics();
    assert!(fec_sent.messages_sent > 0, "{fec_sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_audio_subscriber_gets_the_salt_on_the_next_message() {
    let sfu = sfu().await;
    let alice_id = admit(&sfu, CONF, 1, vec![publication(1, 1, MediaKind::Audio)]);
    let alice = Client::start(
        ClientConfig::default()
            .identity(alice_id)
            .capabilities(capabilities()),
    )
    .unwrap();
    let alice_call = within("alice joins", alice.join(&publisher_proposal(&sfu)))
        .await
        .unwrap();
    let mic = alice_call.publisher(1, 1).unwrap();
    let frame = |i: u32| -> Vec<u8> { (0..80).map(|b| (b as u32 * 3 + i) as u8).collect() };
    let send = |i: u32| {
        let payload = frame(i);
        let mic = mic.clone();
        async move {
            let mut f = OutgoingFrame::new(&payload, clock::ntp_millis());
            f.active_level = Some(90);
            mic.send(&f).await.unwrap();
        }
    };
    // 1.2 s of audio (paced by its 20 ms packet time): past the encoding's first second,
    // in which every message carries the full set; the next periodic one is ~0.8 s away.
    for i in 0..60 {
        send(i).await;
    }

    let bob_id = admit(&sfu, CONF, 2, vec![]);
    let bob = Client::start(
        ClientConfig::default()
            .identity(bob_id)
            .capabilities(capabilities())
            .subscription(newmedia_client::session::SubscriptionConfig {
                recovery: None,
                playout: newmedia_client::session::Playout::Immediate,
                ..Default::default()
            }),
    )
    .unwrap();
    let receive = Proposal::from_json(&format!(
        r#"{{"sendTo":{},"receiveStreams":[
          {{"conferenceID":{CONF},"endpointID":1,"sourceID":1,"encodingID":1,"sinkID":1,
            "codecName":"opus","AEAD":"AES128-GCM","secret":"alice secret"}}]}}"#,
        send_to(&sfu)
    ))
    .unwrap();
    let mut bob_call = within("bob joins", bob.join(&receive)).await.unwrap();
    let mut audio = bob_call
        .take_subscriptions()
        .into_iter()
        .next()
        .unwrap()
        .subscription;

    // The SFU asked alice for the full set when bob's subscription attached: her next
    // message carries the salt and bob opens (nearly) every frame from then on, instead of
    // none until the periodic full set.
    let sender = async {
        for i in 60..85 {
            send(i).await;
        }
    };
    let receiver = async {
        let mut got = Vec::new();
        while let Ok(Some(f)) =
            tokio::time::timeout(std::time::Duration::from_secs(1), audio.next_frame()).await
        {
            got.push(f.payload.to_vec());
            if got.len() == 25 {
                break;
            }
        }
        got
    };
    let ((), got) = tokio::join!(sender, receiver);
    assert!(got.len() >= 20, "{} of 25 frames opened", got.len());
    for (n, f) in got.iter().enumerate() {
        assert!(
            (60..85).any(|i| frame(i) == *f),
            "frame {n} is one sent after the join"
        );
    }
    let requests = sfu
        .node
        .stats
        .full_set_requests
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(requests, 1, "one request, for bob's subscription");
}
