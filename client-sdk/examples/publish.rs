//! Publishes a media file through an SFU: an H.264 Annex B (`.h264`), AV1 in IVF (`.ivf`),
//! Opus in Ogg (`.opus`/`.ogg`) or raw µ-law (`.ulaw`) file, frame by frame as RTP3 media
//! (source 1), with the container's own information on a reliable data stream (source 2) so
//! that `subscribe` can write the file back byte for byte.
//!
//! ```sh
//! cargo run -p newmedia-client --example publish -- \
//!     --proposal alice.json --identity ./alice --file clip.h264 --realtime
//! ```
//!
//! The proposal (draft §8) must give source 1 (the file's codec) and source 2 (codec
//! `data;reliable=1;ordered=1`) one send stream each, and `sendTo` the SFU with its
//! fingerprint. The SFU must admit this identity's fingerprint (printed at start).

mod common;

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Parser;
use common::{TrackMessage, file_kind, read_proposal};
use newmedia_client::client::{Client, ClientConfig};
use newmedia_client::clock;
use newmedia_client::codec::data::DataCodec;
use newmedia_client::codec::media_file::MediaFileReader;
use newmedia_client::control::{AudioCodec, Capabilities, GenericCodec, MediaSource, VideoCodec};
use newmedia_client::identity::Identity;
use newmedia_client::session::OutgoingFrame;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(about = "Publish a media file through a newmedia SFU")]
struct Args {
    /// The proposal (draft §8 JSON) to apply.
    #[arg(long)]
    proposal: PathBuf,
    /// Directory with cert.pem/key.pem (created when missing).
    #[arg(long)]
    identity: PathBuf,
    /// The file to publish.
    #[arg(long)]
    file: PathBuf,
    /// Send frames at their timestamps (else as fast as allowed: audio still goes one
    /// packet per packet time).
    #[arg(long)]
    realtime: bool,
    /// Local address to bind.
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: std::net::SocketAddr,
    /// How long to stay after the last frame so retransmission requests can be served.
    #[arg(long, default_value = "2000")]
    linger_ms: u64,
}

fn capabilities(kind: newmedia_client::codec::media_file::MediaFileKind) -> Capabilities {
    let media = if kind.is_video() {
        MediaSource::video(1, [VideoCodec::new(kind.codec_name())])
    } else {
        MediaSource::audio(1, [AudioCodec::new(kind.codec_name())])
    };
    let track = MediaSource::data(
        2,
        [GenericCodec::new(DataCodec::RELIABLE_ORDERED.to_string())],
    );
    Capabilities::new().source(media).source(track)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let kind = file_kind(&args.file)?;
    let data = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let mut reader = MediaFileReader::new(kind, Bytes::from(data))?;
    let identity = Identity::load_or_create(&args.identity)?;
    println!("fingerprint {}", identity.fingerprint().to_hex());
    let client = Client::start(
        ClientConfig::default()
            .identity(identity)
            .capabilities(capabilities(kind))
            .bind(args.bind),
    )?;
    let proposal = read_proposal(&args.proposal)?;
    let call = client.join(&proposal).await?;
    let media = call
        .publisher(1, 1)
        .context("the proposal has no send stream for source 1, encoding 1")?;
    let Some((track, track_codec)) = call.data_publisher(2) else {
        bail!("the proposal has no data send stream for source 2");
    };
    track
        .send(
            &TrackMessage::Header {
                kind,
                header: reader.header().to_vec(),
            }
            .encode(),
            track_codec,
        )
        .await?;

    let base = clock::ntp_millis();
    let start = tokio::time::Instant::now();
    let mut index = 0u64;
    let mut messages = 0usize;
    while let Some(frame) = reader.next_frame()? {
        if args.realtime {
            tokio::time::sleep_until(start + Duration::from_millis(frame.timestamp_ms)).await;
        }
        let capture_time = base + frame.timestamp_ms;
        track
            .send(
                &TrackMessage::Frame {
                    index,
                    capture_time,
                    timestamp_ms: frame.timestamp_ms,
                    side_info: frame.side_info.to_vec(),
                }
                .encode(),
                track_codec,
            )
            .await?;
        let mut out = OutgoingFrame::new(&frame.payload, capture_time);
        out.reference = frame.reference;
        out.layer_id = frame.layer_id;
        if !kind.is_video() {
            // A file is one speaker talking all the time: the SFU forwards active speakers.
            out.active_level = Some(100);
        }
        messages += media.send(&out).await?;
        index += 1;
    }
    track
        .send(&TrackMessage::End { frames: index }.encode(), track_codec)
        .await?;
    track.flush().await;
    println!(
        "published {index} frames in {messages} messages from {} ({:.1} s)",
        args.file.display(),
        start.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_millis(args.linger_ms)).await;
    call.leave();
    client.close().await;
    Ok(())
}
