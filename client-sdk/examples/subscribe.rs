//! Subscribes to a file published by `publish` and writes it back in the same format: the
//! media frames (receive stream 0) placed by the container track (receive stream 1).
//!
//! ```sh
//! cargo run -p newmedia-client --example subscribe -- \
//!     --proposal bob.json --identity ./bob --out copy.h264
//! ```
//!
//! Exits 0 once every frame the track announced has arrived and the file is written; exits 1
//! with the count of missing frames if they did not all arrive within `--give-up-ms` of the
//! track's end (the file is still written, without them).

mod common;

use anyhow::{Context, bail};
use clap::Parser;
use common::{TrackMessage, file_kind, read_proposal};
use newmedia_client::client::{Client, ClientConfig};
use newmedia_client::codec::data::DataCodec;
use newmedia_client::codec::media_file::{MediaFileKind, MediaFileWriter};
use newmedia_client::control::{AudioCodec, Capabilities, GenericCodec, MediaSink, VideoCodec};
use newmedia_client::identity::Identity;
use newmedia_client::media::{ReassemblerConfig, RecoveryConfig};
use newmedia_client::session::{Playout, StreamStart, SubscriptionConfig};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(about = "Receive a media file through a newmedia SFU")]
struct Args {
    /// The proposal (draft §8 JSON) to apply.
    #[arg(long)]
    proposal: PathBuf,
    /// Directory with cert.pem/key.pem (created when missing).
    #[arg(long)]
    identity: PathBuf,
    /// Where to write the file (its extension says the format).
    #[arg(long)]
    out: PathBuf,
    /// Local address to bind.
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: std::net::SocketAddr,
    /// How long after the track's end to wait for missing frames.
    #[arg(long, default_value = "5000")]
    give_up_ms: u64,
    /// Give up altogether when nothing arrives for this long.
    #[arg(long, default_value = "30000")]
    idle_ms: u64,
}

fn capabilities(kind: MediaFileKind) -> Capabilities {
    let media = if kind.is_video() {
        MediaSink::video(1, [VideoCodec::new(kind.codec_name())])
    } else {
        MediaSink::audio(1, [AudioCodec::new(kind.codec_name())])
    };
    let track = MediaSink::data(
        2,
        [GenericCodec::new(DataCodec::RELIABLE_ORDERED.to_string())],
    );
    Capabilities::new().sink(media).sink(track)
}

struct FrameSlot {
    capture_time: u64,
    timestamp_ms: u64,
    side_info: Vec<u8>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let kind = file_kind(&args.out)?;
    let identity = Identity::load_or_create(&args.identity)?;
    println!("fingerprint {}", identity.fingerprint().to_hex());
    // A recorder, not a player: frames as they complete (the track orders them), so a frame
    // recovered after its successor played is kept rather than dropped as late.
    let client = Client::start(
        ClientConfig::default()
            .identity(identity)
            .capabilities(capabilities(kind))
            .bind(args.bind)
            .subscription(SubscriptionConfig {
                playout: Playout::Immediate,
                // The whole file: a subscriber that connects after the publisher started, or
                // whose first messages were lost, still recovers the stream from its start.
                start: StreamStart::Beginning,
                // A recorder can wait for a frame as long as the SFU keeps its messages (2 s),
                // and ask more often than a player would, rather than give it up after 0.5 s
                // (a slow machine or a lossy path twice in a row).
                reassembly: ReassemblerConfig {
                    frame_deadline: Duration::from_secs(2),
                    ..ReassemblerConfig::default()
                },
                recovery: Some(RecoveryConfig::default().max_attempts(10)),
                ..SubscriptionConfig::default()
            }),
    )?;
    let proposal = read_proposal(&args.proposal)?;
    let mut call = client.join(&proposal).await?;
    let mut media = call
        .take_subscription(0)
        .context("receive stream 0 (the media) names no publisher")?
        .subscription;
    let mut track = call
        .take_subscription(1)
        .context("receive stream 1 (the container track) names no publisher")?
        .subscription;
    println!("subscribed");

    let mut header: Option<(MediaFileKind, Vec<u8>)> = None;
    let mut slots: Vec<FrameSlot> = Vec::new();
    let mut by_capture: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut expected: Option<u64> = None;
    let idle = Duration::from_millis(args.idle_ms);
    let mut deadline = tokio::time::Instant::now() + idle;
    // Once the track has ended, frames still missing are asked for by capture time: a lost
    // last frame has no later message that would reveal the gap.
    let mut ask = tokio::time::interval(Duration::from_millis(200));
    loop {
        if let Some(n) = expected
            && slots.len() as u64 == n
            && slots
                .iter()
                .all(|s| by_capture.contains_key(&s.capture_time))
        {
            break;
        }
        tokio::select! {
            f = media.next_frame() => match f {
                Some(f) => {
                    if let Some(t) = f.capture_time {
                        by_capture.insert(t, f.payload.to_vec());
                    }
                    deadline = deadline.max(tokio::time::Instant::now() + idle);
                }
                None => bail!("the media subscription ended"),
            },
            m = track.next_frame() => match m {
                Some(m) => match TrackMessage::decode(&m.payload)? {
                    TrackMessage::Header { kind: k, header: h } => header = Some((k, h)),
                    TrackMessage::Frame { index, capture_time, timestamp_ms, side_info } => {
                        if index != slots.len() as u64 {
                            bail!("container track out of order: frame {index} after {}", slots.len());
                        }
                        slots.push(FrameSlot { capture_time, timestamp_ms, side_info });
                    }
                    TrackMessage::End { frames } => {
                        expected = Some(frames);
                        deadline = tokio::time::Instant::now()
                            + Duration::from_millis(args.give_up_ms);
                    }
                },
                None => bail!("the container track ended"),
            },
            _ = ask.tick(), if expected.is_some() => {
                for slot in slots.iter().filter(|s| !by_capture.contains_key(&s.capture_time)) {
                    media.request_capture_time(slot.capture_time).await?;
                }
            }
            () = tokio::time::sleep_until(deadline) => break,
        }
    }

    let (file_kind, header) = header.context("no container header arrived")?;
    if file_kind != kind {
        bail!(
            "the publisher sends {file_kind:?}, but {} is {kind:?}",
            args.out.display()
        );
    }
    let mut writer = MediaFileWriter::new(kind, &header)?;
    let mut missing = Vec::new();
    for (i, slot) in slots.iter().enumerate() {
        match by_capture.get(&slot.capture_time) {
            Some(payload) => writer.write_frame(payload, slot.timestamp_ms, &slot.side_info)?,
            None => missing.push(i),
        }
    }
    if !missing.is_empty() {
        let m = media.metrics();
        println!(
            "frames missing for good: {missing:?} (undecryptable {}, frames lost {}, last capture {:?}, want {:?})",
            m.undecryptable,
            m.frames_lost,
            m.last_capture_time,
            missing
                .iter()
                .filter_map(|i| slots.get(*i).map(|s| s.capture_time))
                .collect::<Vec<_>>()
        );
    }
    let bytes = writer.finish()?;
    std::fs::write(&args.out, &bytes)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    let m = media.metrics();
    println!(
        "received {}/{} frames, {} bytes written to {}; {} messages, {} lost for good, {} asked again, {} recovered, {} late",
        slots.len() - missing.len(),
        expected.unwrap_or(slots.len() as u64),
        bytes.len(),
        args.out.display(),
        m.messages_received,
        m.packets_lost,
        m.retransmissions_requested,
        m.retransmissions_recovered,
        m.frames_late,
    );
    call.leave();
    client.close().await;
    if !missing.is_empty() || expected.is_none() {
        std::process::exit(1);
    }
    Ok(())
}
