//! Test helper for the end-to-end connectivity tests (`controller/tests/netns_*.rs`): one SDK
//! client driven by its [`Agent`], run as its own process so a test can start it inside a
//! network namespace (`ip netns exec <ns> netns_agent ...`). It follows the controller and
//! reports, one line each on stdout:
//!
//! | line | when |
//! | --- | --- |
//! | `welcome <clientID>` | the controller took the advertisement |
//! | `relayed <inbound address>` | a TURN2 allocation was made and advertised |
//! | `joined <conferenceID> <endpointID>` | consent, QUIC connected, the call is set up |
//! | `migrated <conferenceID> <observed address>` | a new consent for the flow in use |
//! | `ended <conferenceID> <reason>` | the conference ended or we left it |
//! | `frame <conferenceID> <sequence> <bytes>` | a video frame arrived (sequence: its first 4 bytes, big-endian) |
//! | `rebound <address>` | the answer to `rebind` |
//! | `stats injected=<n> quic_in=<n> stun_answered=<n>` | the answer to `stats` |
//! | `mark` | the answer to `mark` (orders the lines after a test's own action) |
//! | `error <text>` | something failed (the agent goes on) |
//!
//! Commands on stdin, one a line: `rebind <address>`, `stats`, `mark`, `quit`. It exits when
//! stdin closes, so it never outlives the test that started it.

use anyhow::Context as _;
use clap::Parser;
use newmedia_client::agent::{Agent, AgentConfig, AgentEvent, RelayPolicy};
use newmedia_client::client::{Call, Client, ClientConfig};
use newmedia_client::control::{Capabilities, MediaSink, MediaSource, VideoCodec};
use std::collections::HashMap;
use std::net::SocketAddr;
use tokio::io::AsyncBufReadExt as _;

#[derive(Debug, Parser)]
#[command(about = "An SDK client that follows a newmedia controller and prints what happens")]
struct Args {
    /// The controller's base URL.
    #[arg(long)]
    controller: String,
    /// A client token from the controller.
    #[arg(long)]
    token: String,
    /// Our client ID (the token's).
    #[arg(long)]
    client_id: String,
    /// Local address to bind (port 0 picks one).
    #[arg(long)]
    bind: SocketAddr,
    /// Allocate at the TURN2 relay the controller offers and advertise it.
    #[arg(long)]
    relay: bool,
}

/// What the tests' parties can do: send and receive one H.264 video source.
fn capabilities() -> Capabilities {
    Capabilities::new()
        .source(MediaSource::video(
            2,
            [VideoCodec::new("h264").max_size(1280, 720)],
        ))
        .sink(MediaSink::video(
            2,
            [VideoCodec::new("h264").max_size(1280, 720)],
        ))
}

/// Prints every frame of `call`'s subscriptions.
fn print_frames(conference_id: u64, call: &mut Call) -> Vec<tokio::task::JoinHandle<()>> {
    call.take_subscriptions()
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move {
                while let Some(frame) = s.subscription.next_frame().await {
                    let seq = frame
                        .payload
                        .get(..4)
                        .and_then(|b| <[u8; 4]>::try_from(b).ok())
                        .map_or(0, u32::from_be_bytes);
                    println!("frame {conference_id} {seq} {}", frame.payload.len());
                }
            })
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = Client::start(
        ClientConfig::default()
            .bind(args.bind)
            .capabilities(capabilities()),
    )
    .context("starting the client")?;
    let mut agent = Agent::start(
        client,
        AgentConfig {
            controller: args.controller,
            token: args.token,
            client_id: Some(args.client_id),
            relay: if args.relay {
                RelayPolicy::Use
            } else {
                RelayPolicy::Never
            },
            ..AgentConfig::default()
        },
    )
    .await
    .context("connecting to the controller")?;
    // Calls stay alive (and their frame printers running) until replaced or the end.
    let mut calls: HashMap<u64, (Call, Vec<tokio::task::JoinHandle<()>>)> = HashMap::new();
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            event = agent.next_event() => match event {
                Some(AgentEvent::Welcome { client_id, .. }) => println!("welcome {client_id}"),
                Some(AgentEvent::Relayed(a)) => println!("relayed {}", a.inbound),
                Some(AgentEvent::Joined { conference_id, endpoint_id, mut call }) => {
                    let printers = print_frames(conference_id, &mut call);
                    println!("joined {conference_id} {endpoint_id}");
                    if let Some((_, old)) = calls.insert(conference_id, (call, printers)) {
                        old.iter().for_each(tokio::task::JoinHandle::abort);
                    }
                }
                Some(AgentEvent::Migrated { conference_id, observed }) => {
                    println!("migrated {conference_id} {observed}");
                }
                Some(AgentEvent::Rejected { conference_id, reason }) => {
                    println!("error conference {conference_id} rejected: {reason}");
                }
                Some(AgentEvent::Ended { conference_id, reason }) => {
                    println!("ended {conference_id} {reason}");
                }
                Some(AgentEvent::Error(e)) => println!("error {e}"),
                None => {
                    println!("error the controller closed the connection");
                    return Ok(());
                }
            },
            line = stdin.next_line() => {
                let Some(line) = line.context("reading stdin")? else {
                    return Ok(());
                };
                let mut words = line.split_whitespace();
                match (words.next(), words.next()) {
                    (Some("rebind"), Some(addr)) => match addr.parse::<SocketAddr>() {
                        Ok(addr) => match agent.rebind(addr).await {
                            Ok(now) => println!("rebound {now}"),
                            Err(e) => println!("error rebind: {e}"),
                        },
                        Err(e) => println!("error rebind {addr}: {e}"),
                    },
                    (Some("stats"), _) => {
                        let s = agent.client().endpoint().stats();
                        println!(
                            "stats injected={} quic_in={} stun_answered={}",
                            s.injected, s.quic_in, s.stun_requests_answered
                        );
                    }
                    (Some("mark"), _) => println!("mark"),
                    (Some("quit"), _) => return Ok(()),
                    _ => println!("error unknown command {line:?}"),
                }
            }
        }
    }
}
