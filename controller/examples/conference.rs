//! The README's demo: the embedded default (a controller and an SFU node on loopback, the
//! node registered with the controller) and a three-party call between SDK clients, printing
//! what flows and how long joining took.
//!
//! ```sh
//! cargo run --release -p newmedia-controller --example conference
//! cargo run --release -p newmedia-controller --example conference -- --seconds 10 --parties 4
//! ```
//!
//! Each party is an SDK [`Agent`]: it advertises over the controller's WebSocket, the app
//! (this program) connects the parties with one REST call, every agent accepts its proposal,
//! runs the Snowflake check the controller orders, gets consent, connects to the node, and
//! publishes Opus-sized audio (with a talk/silence pattern) and simulcast video; everyone
//! receives everyone else. Join time is measured from the REST call to the first media frame
//! at each subscriber.

use anyhow::{Context, bail};
use clap::Parser;
use newmedia_client::agent::{Agent, AgentConfig, AgentEvent};
use newmedia_client::client::{Call, CallSubscription, Client, ClientConfig};
use newmedia_client::clock;
use newmedia_client::control::{AudioCodec, Capabilities, MediaSink, MediaSource, VideoCodec};
use newmedia_client::session::{OutgoingFrame, Playout, SubscriptionConfig};
use newmedia_client::signaling::RestClient;
use newmedia_controller::embedded::{self, EmbeddedConfig};
use newmedia_proto::signaling::rest::CreateConference;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Parser)]
#[command(about = "A demo call through the embedded controller and SFU")]
struct Args {
    /// How long the parties talk, seconds.
    #[arg(long, default_value = "3")]
    seconds: u64,
    /// How many parties.
    #[arg(long, default_value = "3")]
    parties: usize,
}

fn capabilities() -> Capabilities {
    let video = VideoCodec::new("h264")
        .max_size(1280, 720)
        .max_frame_rate(30);
    Capabilities::new()
        .source(MediaSource::audio(1, [AudioCodec::new("opus")]))
        .source(MediaSource::video(2, [video.clone()]))
        .sink(MediaSink::audio(1, [AudioCodec::new("opus")]))
        .sink(MediaSink::video(2, [video]))
}

/// What one subscription saw.
#[derive(Default)]
struct Seen {
    frames: AtomicU64,
    bytes: AtomicU64,
    /// Microseconds from the REST call to the first frame, + 1 (0 = none yet).
    first_us: AtomicU64,
}

/// Publishes until `until`: audio every 20 ms (talking 2 s, silent 1 s, offset per party),
/// video at 30 frames/s on every simulcast encoding (key frames every 2 s).
async fn publish(call: Arc<Call>, party: usize, until: Instant) -> anyhow::Result<()> {
    let mic = call
        .publisher(1, 1)
        .context("no audio send stream")?
        .clone();
    let cams: Vec<_> = call.encodings_of(2).into_iter().cloned().collect();
    let audio = async {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut n = 0u64;
        while Instant::now() < until {
            tick.tick().await;
            let talking = (n / 50 + party as u64) % 3 != 1;
            let packet = vec![0x78u8; if talking { 120 } else { 10 }];
            let mut f = OutgoingFrame::new(&packet, clock::ntp_millis());
            f.active_level = Some(if talking { 80 } else { 5 });
            f.reference = true;
            mic.send(&f).await?;
            n += 1;
        }
        anyhow::Ok(())
    };
    let video = async {
        let mut tick = tokio::time::interval(Duration::from_millis(33));
        let mut n = 0u64;
        while Instant::now() < until {
            tick.tick().await;
            for (i, cam) in cams.iter().enumerate() {
                // A key frame every 2 s, and whenever the SFU asks (a new viewer, a switch).
                let key = n.is_multiple_of(60) || cam.take_intra_request();
                // The first encoding is the large one, the second a quarter-size copy.
                let size = match (i, key) {
                    (0, true) => 40_000,
                    (0, false) => 6_000,
                    (_, true) => 8_000,
                    (_, false) => 1_200,
                };
                let frame = vec![(n % 251) as u8; size];
                let mut f = OutgoingFrame::new(&frame, clock::ntp_millis());
                f.reference = key;
                cam.send(&f).await?;
            }
            n += 1;
        }
        anyhow::Ok(())
    };
    let (a, v) = tokio::join!(audio, video);
    a.and(v)
}

async fn receive(
    mut sub: CallSubscription,
    seen: Arc<Seen>,
    start: Instant,
    until: Instant,
) -> CallSubscription {
    while let Ok(Some(frame)) = tokio::time::timeout_at(until, sub.subscription.next_frame()).await
    {
        if seen.first_us.load(Relaxed) == 0 {
            let us = start.elapsed().as_micros() as u64;
            seen.first_us.store(us + 1, Relaxed);
        }
        seen.frames.fetch_add(1, Relaxed);
        seen.bytes.fetch_add(frame.payload.len() as u64, Relaxed);
    }
    sub
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.parties < 2 {
        bail!("a call needs at least 2 parties");
    }
    let stack = embedded::start(EmbeddedConfig::default()).await?;
    let relay = stack
        .sfu
        .turn2_addr
        .map_or_else(|| "off".to_owned(), |a| a.to_string());
    println!(
        "controller on {} · SFU node: QUIC/STUN2 {} · HTTP {} · TURN2 relay {relay}",
        stack.url(),
        stack.sfu.media_addr,
        stack.sfu.http_addr,
    );
    let rest = RestClient::new(&stack.url(), stack.api_key());
    let names: Vec<String> = ["alice", "bob", "carol", "dave", "erin", "frank"]
        .iter()
        .cycle()
        .take(args.parties)
        .enumerate()
        .map(|(i, n)| {
            if i < 6 {
                (*n).to_owned()
            } else {
                format!("{n}{i}")
            }
        })
        .collect();
    let mut agents = Vec::new();
    for name in &names {
        let token = rest.token(name, None).await?.token;
        let config = ClientConfig::default()
            .capabilities(capabilities())
            .subscription(SubscriptionConfig {
                // Frames as they complete, to time their arrival.
                playout: Playout::Immediate,
                ..SubscriptionConfig::default()
            });
        let mut agent = Agent::start(
            Client::start(config)?,
            AgentConfig {
                controller: stack.url(),
                token,
                client_id: Some(name.clone()),
                ..AgentConfig::default()
            },
        )
        .await?;
        match agent.next_event().await {
            Some(AgentEvent::Welcome { .. }) => {}
            other => bail!("{name}: expected a welcome, got {other:?}"),
        }
        println!(
            "{name}: registered (fingerprint {}…)",
            &agent.client().fingerprint().to_hex()[..16]
        );
        agents.push(agent);
    }

    let start = Instant::now();
    let until = start + Duration::from_secs(args.seconds);
    let conference = rest
        .create_conference(&CreateConference {
            parties: names.clone(),
            simulcast: true,
            keys: Default::default(),
            aead: None,
            wait: false,
        })
        .await?;
    println!(
        "conference {} created with one REST call; proposals sent to {} parties",
        conference.conference_id,
        names.len()
    );

    let mut publishers = Vec::new();
    let mut receivers = Vec::new();
    for (party, (agent, name)) in agents.iter_mut().zip(&names).enumerate() {
        let (_, mut call) = agent.next_call().await?;
        let subs = call.take_subscriptions();
        let call = Arc::new(call);
        println!(
            "{name}: accepted, checked, consented, connected: {} encodings out, {} streams in",
            call.publishers().len(),
            subs.len()
        );
        for sub in subs {
            let seen = Arc::new(Seen::default());
            let label = format!(
                "{name} <- endpoint {} {}",
                sub.endpoint_id.unwrap_or_default(),
                if sub.settings.sink_id == 1 {
                    "audio"
                } else {
                    "video"
                }
            );
            receivers.push((
                label,
                seen.clone(),
                tokio::spawn(receive(sub, seen, start, until)),
            ));
        }
        publishers.push(tokio::spawn(publish(call, party, until)));
    }
    for p in publishers {
        p.await??;
    }
    // Join time over the video subscriptions (audio first flows when someone talks).
    let mut joins = Vec::new();
    let mut missing = Vec::new();
    println!();
    println!(
        "{:<28} {:>7} {:>11} {:>14}",
        "stream", "frames", "bytes", "first frame"
    );
    for (label, seen, task) in receivers {
        let sub = task.await?;
        let first = seen.first_us.load(Relaxed);
        let frames = seen.frames.load(Relaxed);
        let m = sub.subscription.metrics();
        println!(
            "{label:<28} {frames:>7} {:>11} {:>11.1} ms   ({} lost, {} recovered)",
            seen.bytes.load(Relaxed),
            first.saturating_sub(1) as f64 / 1000.0,
            m.packets_lost,
            m.retransmissions_recovered,
        );
        if frames == 0 {
            missing.push(label);
        } else if sub.settings.sink_id == 2 {
            joins.push(first - 1);
        }
    }
    joins.sort_unstable();
    let max = joins.last().copied().unwrap_or_default();
    let median = joins.get(joins.len() / 2).copied().unwrap_or_default();
    println!();
    println!(
        "join time (REST call -> first video frame), over {} subscriptions: median {:.1} ms, max {:.1} ms",
        joins.len(),
        median as f64 / 1000.0,
        max as f64 / 1000.0
    );
    if !missing.is_empty() {
        bail!("no media reached: {}", missing.join(", "));
    }
    println!("demo call: every subscriber received audio and video");
    Ok(())
}
