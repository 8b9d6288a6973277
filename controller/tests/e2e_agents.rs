//! The whole stack on loopback: the embedded controller + SFU node, three SDK clients driven
//! by their [`Agent`]s. They register (advertisement over the WebSocket), an app connects them
//! over REST, each accepts its proposal, runs the Snowflake check the controller orders, gets
//! consent, connects to the node, and media flows between them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use newmedia_client::agent::{Agent, AgentConfig, AgentEvent};
use newmedia_client::client::{Call, CallSubscription, Client, ClientConfig};
use newmedia_client::clock;
use newmedia_client::control::{AudioCodec, Capabilities, MediaSink, MediaSource, VideoCodec};
use newmedia_client::session::OutgoingFrame;
use newmedia_client::signaling::RestClient;
use newmedia_controller::embedded::{self, EmbeddedConfig};
use newmedia_proto::signaling::rest::CreateConference;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(20);

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn capabilities() -> Capabilities {
    Capabilities::new()
        .source(MediaSource::audio(1, [AudioCodec::new("opus")]))
        .source(MediaSource::video(
            2,
            [VideoCodec::new("h264").max_size(1280, 720)],
        ))
        .sink(MediaSink::audio(1, [AudioCodec::new("opus")]))
        .sink(MediaSink::video(
            2,
            [VideoCodec::new("h264").max_size(1280, 720)],
        ))
}

async fn agent(url: &str, rest: &RestClient, name: &str) -> Agent {
    let token = rest.token(name, None).await.unwrap().token;
    let client = Client::start(ClientConfig::default().capabilities(capabilities())).unwrap();
    let mut agent = Agent::start(
        client,
        AgentConfig {
            controller: url.to_owned(),
            token,
            client_id: Some(name.to_owned()),
            ..AgentConfig::default()
        },
    )
    .await
    .unwrap();
    match within("welcome", agent.next_event()).await {
        Some(AgentEvent::Welcome { client_id, .. }) => assert_eq!(client_id, name),
        other => panic!("expected a welcome, got {other:?}"),
    }
    agent
}

fn endpoint_of(call: &Call) -> u64 {
    call.publishers()[0].0.endpoint_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_agents_register_connect_check_consent_and_exchange_media() {
    let stack = embedded::start(EmbeddedConfig::default()).await.unwrap();
    let rest = RestClient::new(&stack.url(), stack.api_key());
    let mut agents = Vec::new();
    for name in ["alice", "bob", "carol"] {
        agents.push(agent(&stack.url(), &rest, name).await);
    }
    rest.create_conference(&CreateConference {
        parties: vec!["alice".into(), "bob".into(), "carol".into()],
        simulcast: false,
        keys: Default::default(),
        aead: None,
        wait: false,
    })
    .await
    .unwrap();
    let mut calls = Vec::new();
    for a in &mut agents {
        let (_, call) = within("a call", a.next_call()).await.unwrap();
        calls.push(call);
    }
    let alice = endpoint_of(&calls[0]);
    // Every party publishes video; each receives the other two.
    let mut receivers: Vec<Vec<CallSubscription>> =
        calls.iter_mut().map(|c| c.take_subscriptions()).collect();
    for (i, subs) in receivers.iter().enumerate() {
        let video: Vec<_> = subs.iter().filter(|s| s.settings.sink_id == 2).collect();
        assert_eq!(video.len(), 2, "party {i} receives the two others' video");
    }
    let frames: Vec<Vec<u8>> = (0..20u32)
        .map(|i| (0..3000).map(|b| (b as u32 * 7 + i) as u8).collect())
        .collect();
    for (k, f) in frames.iter().enumerate() {
        for call in &calls {
            let cam = call.publisher(2, 1).expect("video publisher");
            let mut out = OutgoingFrame::new(f, clock::ntp_millis());
            out.reference = k == 0;
            cam.send(&out).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for (i, subs) in receivers.iter_mut().enumerate() {
        for s in subs.iter_mut().filter(|s| s.settings.sink_id == 2) {
            for want in &frames {
                let got = within("a video frame", s.subscription.next_frame())
                    .await
                    .unwrap();
                assert_eq!(&got.payload[..], &want[..], "party {i}");
            }
        }
    }
    // Bob's and Carol's subscriptions to Alice name her as the sender.
    for subs in &receivers[1..] {
        assert!(subs.iter().any(|s| s.endpoint_id == Some(alice)));
    }
    // The node admitted all three and saw traffic.
    let m = calls[1].flow_metrics();
    assert!(m.datagrams_routed >= 40, "{m:?}");
}
