//! The README's "Embedding the SDK" lines as a program: an app that declares an Opus
//! microphone and an Opus speaker, follows the controller with an [`Agent`], publishes what
//! its encoder produces on the call the controller sets up, and plays what it receives.
//!
//! ```sh
//! # a client token: POST /v1/tokens on the controller with the app's API key
//! cargo run -p newmedia-client --example embed -- \
//!     --controller http://127.0.0.1:7000 --token <client token> --seconds 10
//! ```
//!
//! It registers, waits until the controller connects it to a call (a REST call of the app,
//! e.g. `POST /v1/conferences` naming this client), then sends one 20 ms Opus packet per
//! packet time and prints every frame it receives, for `--seconds`, and leaves. The example
//! has no microphone: its packets are silence that claims to be speech, because an SFU
//! forwards audio only from the conference's active speakers, ranked by the active level each
//! frame carries.

use clap::Parser;
use newmedia_client::session::ReceivedFrame;
use newmedia_client::{
    agent::{Agent, AgentConfig},
    client::{Client, ClientConfig},
    clock,
};
use newmedia_client::{control::*, session::OutgoingFrame};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, Parser)]
#[command(about = "Join calls the newmedia controller sets up, with one Opus mic and speaker")]
struct Args {
    /// The controller's HTTP base URL.
    #[arg(long)]
    controller: String,
    /// A client token from the controller (`POST /v1/tokens` with the app's API key).
    #[arg(long)]
    token: String,
    /// Local address to bind (the SDK's default, `127.0.0.1:0`, reaches loopback only).
    #[arg(long, default_value = "0.0.0.0:0")]
    bind: SocketAddr,
    /// How long to stay in the call, seconds.
    #[arg(long, default_value = "10")]
    seconds: u64,
}

/// An Opus packet of 20 ms of silence (TOC 0xF8: CELT fullband 20 ms mono, one frame).
const OPUS_SILENCE: [u8; 3] = [0xF8, 0xFF, 0xFE];

/// The active level (0-100) the example's "encoder" claims: speech, so it is forwarded.
const SPEAKING: u8 = 60;

/// Where received frames go: a real app decodes and renders them.
fn play(frame: ReceivedFrame) {
    println!(
        "endpoint {}: {} bytes captured at {:?}",
        frame.endpoint_id,
        frame.payload.len(),
        frame.capture_time
    );
}

/// The README's lines (between the markers), then staying in the call for `seconds`.
async fn embed(
    url: String,
    token: String,
    bind: SocketAddr,
    mut encoder: mpsc::Receiver<(Vec<u8>, u8)>,
    seconds: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    // --- README begins
    let caps = Capabilities::new()
        .source(MediaSource::audio(1, [AudioCodec::new("opus")]))
        .sink(MediaSink::audio(1, [AudioCodec::new("opus")]));
    let client = Client::start(ClientConfig::default().bind(bind).capabilities(caps))?;
    let config = AgentConfig {
        controller: url,
        token,
        ..AgentConfig::default()
    };
    let mut agent = Agent::start(client, config).await?;
    let (_conference, mut call) = agent.next_call().await?; // proposal accepted, consent, connected
    let mic = call.publisher(1, 1).ok_or("no audio send stream")?.clone();
    tokio::spawn(async move {
        // your encoder: 20 ms Opus packets with their speech level 0-100
        while let Some((packet, level)) = encoder.recv().await {
            let frame = OutgoingFrame {
                active_level: Some(level),
                ..OutgoingFrame::new(&packet, clock::ntp_millis())
            };
            if mic.send(&frame).await.is_err() {
                break; // `send` paces audio at the packet time
            }
        }
    });
    for mut remote in call.take_subscriptions() {
        tokio::spawn(async move {
            while let Some(frame) = remote.subscription.next_frame().await {
                play(frame)
            }
        });
    }
    // --- README ends: keep `agent` and `call` for as long as the call lasts.
    let stay = tokio::time::sleep(Duration::from_secs(seconds));
    tokio::pin!(stay);
    loop {
        tokio::select! {
            () = &mut stay => break,
            event = agent.next_event() => match event {
                Some(event) => println!("agent: {event:?}"),
                None => break,
            },
        }
    }
    call.leave();
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    // The "encoder": one packet and its level per 20 ms, as a real Opus encoder and voice
    // activity detector would hand them over.
    let (packets, encoder) = mpsc::channel(8);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        loop {
            tick.tick().await;
            let packet = (OPUS_SILENCE.to_vec(), SPEAKING);
            if packets.send(packet).await.is_err() {
                break;
            }
        }
    });
    embed(
        args.controller,
        args.token,
        args.bind,
        encoder,
        args.seconds,
    )
    .await
}
