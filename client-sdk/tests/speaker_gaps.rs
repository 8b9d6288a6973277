//! Audio the SFU holds back is neither lost nor resent: with one active speaker, a listener
//! of Bob's audio sees a gap in its sequence IDs while Alice has the floor. Its recovery asks
//! the SFU for the gap once; the SFU resends only Bob's pre-roll (the words that gave him
//! the floor back) and answers that the rest was withheld (PROTOCOL.md §9,
//! RetransmissionUnavailable) instead of resending audio it chose not to forward; the
//! listener settles it without counting a loss.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use newmedia_client::client::{Call, Client, ClientConfig};
use newmedia_client::clock;
use newmedia_client::control::{AudioCodec, Capabilities, MediaSink, MediaSource};
use newmedia_client::session::{OutgoingFrame, Playout, SubscriptionConfig};
use newmedia_proto::grant::MediaKind;
use newmedia_proto::signaling::Proposal;
use newmedia_sfu::app::RunningSfu;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::Relaxed};
use support::*;

const CONF: u64 = 77;

fn capabilities() -> Capabilities {
    Capabilities::new()
        .source(MediaSource::audio(1, [AudioCodec::new("opus")]))
        .sink(MediaSink::audio(1, [AudioCodec::new("opus")]))
}

fn send_to(sfu: &RunningSfu) -> String {
    format!(
        r#"[{{"local":"{}","stunSecret":"s","tlsFingerprintSHA256":"{}"}}]"#,
        sfu.media_addr,
        hex::encode(sfu.fingerprint)
    )
}

/// Endpoint `endpoint` joins and publishes its audio (source 1, encoding 1).
async fn speaker(sfu: &RunningSfu, endpoint: u64) -> Call {
    let identity = admit(
        sfu,
        CONF,
        endpoint,
        vec![publication(1, 1, MediaKind::Audio)],
    );
    let client = Client::start(
        ClientConfig::default()
            .identity(identity)
            .capabilities(capabilities()),
    )
    .unwrap();
    let proposal = Proposal::from_json(&format!(
        r#"{{"sendTo":{},"sendStreams":[
          {{"conferenceID":{CONF},"endpointID":{endpoint},"sourceID":1,"encodingID":1,
            "codecName":"opus","AEAD":"AES128-GCM","secret":"secret {endpoint}",
            "packetTime":20}}]}}"#,
        send_to(sfu)
    ))
    .unwrap();
    within("a speaker joins", client.join(&proposal))
        .await
        .unwrap()
}

/// Sends 20 ms audio frames at the level `level` holds until `stop`; counts them.
fn talk(
    call: &Call,
    level: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    let mic = call.publisher(1, 1).unwrap().clone();
    tokio::spawn(async move {
        let mut n = 0u32;
        while !stop.load(Relaxed) {
            let payload = n.to_be_bytes().repeat(20);
            let mut f = OutgoingFrame::new(&payload, clock::ntp_millis());
            f.active_level = Some(level.load(Relaxed));
            mic.send(&f).await.unwrap();
            sent.fetch_add(1, Relaxed);
            n += 1;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_the_sfu_withholds_is_settled_not_lost_or_resent() {
    let sfu = sfu_with(|c| c.top_speakers = 1).await;
    let alice = speaker(&sfu, 1).await;
    let bob = speaker(&sfu, 2).await;

    let carol_id = admit(&sfu, CONF, 3, vec![]);
    let carol = Client::start(
        ClientConfig::default()
            .identity(carol_id)
            .capabilities(capabilities())
            .subscription(SubscriptionConfig {
                playout: Playout::Immediate,
                ..SubscriptionConfig::default()
            }),
    )
    .unwrap();
    let listen = Proposal::from_json(&format!(
        r#"{{"sendTo":{},"receiveStreams":[
          {{"conferenceID":{CONF},"endpointID":2,"sourceID":1,"encodingID":1,"sinkID":1,
            "codecName":"opus","AEAD":"AES128-GCM","secret":"secret 2"}}]}}"#,
        send_to(&sfu)
    ))
    .unwrap();
    let mut carol_call = within("carol joins", carol.join(&listen)).await.unwrap();
    let mut bobs_audio = carol_call.take_subscription(0).unwrap().subscription;
    let mut speakers = carol_call.flow().active_speakers();

    let stop = Arc::new(AtomicBool::new(false));
    let (alice_level, bob_level) = (Arc::new(AtomicU8::new(0)), Arc::new(AtomicU8::new(90)));
    let bob_sent = Arc::new(AtomicU64::new(0));
    let tasks = [
        talk(&alice, alice_level.clone(), stop.clone(), Arc::default()),
        talk(&bob, bob_level.clone(), stop.clone(), bob_sent.clone()),
    ];
    let mut floor_goes_to = async |endpoint: u64| {
        within("the floor changes hands", async {
            loop {
                speakers.changed().await.unwrap();
                let first = speakers
                    .borrow()
                    .as_ref()
                    .and_then(|s| s.speakers.first().map(|s| s.endpoint_id));
                if first == Some(endpoint) {
                    return;
                }
            }
        })
        .await;
    };

    // Bob has the floor: Carol hears him.
    floor_goes_to(2).await;
    within("Bob's audio", bobs_audio.next_frame())
        .await
        .unwrap();
    // Alice takes it: Bob's messages go on but the SFU forwards them to nobody.
    bob_level.store(0, Relaxed);
    alice_level.store(95, Relaxed);
    floor_goes_to(1).await;
    let gated_from = bob_sent.load(Relaxed);
    within("Bob sends while gated", async {
        while bob_sent.load(Relaxed) < gated_from + 10 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    // Bob takes it back: Carol hears him again, after a gap in his sequence IDs.
    alice_level.store(0, Relaxed);
    bob_level.store(95, Relaxed);
    floor_goes_to(2).await;
    within("the gap is settled", async {
        loop {
            within("Bob's audio again", bobs_audio.next_frame())
                .await
                .unwrap();
            if bobs_audio.metrics().packets_withheld >= 10 {
                return;
            }
        }
    })
    .await;
    stop.store(true, Relaxed);
    for t in tasks {
        t.await.unwrap();
    }

    let m = bobs_audio.metrics();
    assert_eq!(m.packets_lost, 0, "{m:?}");
    assert!(m.retransmissions_requested >= m.packets_withheld, "{m:?}");
    // Only Bob's pre-roll (what he said in the tick or two that gave him the floor back) is
    // resent; everything else in the gap is withheld.
    let stats = &sfu.node.stats;
    let withheld = stats.retransmissions_withheld.load(Relaxed);
    let served = stats.retransmissions_served.load(Relaxed);
    assert!(withheld >= 10, "{withheld} withheld");
    assert!(served < withheld, "{served} resent, {withheld} withheld");
    // What was resent arrives (datagrams may overtake the control stream's answer).
    within("the pre-roll arrives", async {
        while bobs_audio.metrics().retransmissions_recovered < served {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(bobs_audio.metrics().retransmissions_recovered, served);
}
