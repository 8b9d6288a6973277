//! Tiny scenarios end to end against the embedded controller + SFU in this process: every
//! endpoint registers, joins through the controller (Snowflake consent, QUIC), media flows,
//! and the report adds up. Bounded by timeouts; nothing here asserts on timings.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use newmedia_loadtest::config::LoadtestConfig;
use newmedia_loadtest::progress::Progress;
use newmedia_loadtest::report::Report;
use newmedia_loadtest::run;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(120);

async fn run_scenario(args: &[&str]) -> Report {
    let base = [
        "newmedia-loadtest",
        "--embedded",
        "--in-process",
        "--quiet",
        "--warmup",
        "0.5",
    ];
    let config =
        LoadtestConfig::from_args_and_file(base.iter().chain(args.iter()).copied()).unwrap();
    let m = tokio::time::timeout(PATIENCE, run::run(&config, &Progress::hidden()))
        .await
        .expect("the run finishes")
        .expect("the run succeeds");
    Report::build(&config, &m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_fanout_delivers_every_frame_to_every_subscriber() {
    let r = run_scenario(&[
        "fanout",
        "--duration",
        "2",
        "--subscribers",
        "3",
        "--frame-bytes",
        "3000",
        "--max-loss",
        "0",
        "--require-all-tracks",
    ])
    .await;
    assert_eq!((r.endpoints, r.receiving_endpoints), (4, 3));
    assert_eq!((r.tracks_expected, r.tracks_received), (3, 3));
    assert!(r.frames_received > 0);
    assert_eq!(r.frames_lost, 0, "{r:#?}");
    assert_eq!(r.latency.count + r.latency_late.count, r.frames_received);
    // Every subscriber got the same frames of the window.
    assert_eq!(r.frames_received % 3, 0, "{r:#?}");
    assert_eq!(r.join.count, 3);
    assert_eq!(r.joins_without_frame, 0);
    let server = r.server.as_ref().expect("the node's /metrics was scraped");
    assert!(server.shares_process);
    assert!(server.forwarded_datagrams_per_sec.unwrap() > 0.0);
    assert!(r.passed, "{:?}", r.checks);
    assert_eq!(r.checks.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_conference_receives_every_track_with_simulcast() {
    let r = run_scenario(&[
        "conference",
        "--duration",
        "2",
        "--rooms",
        "1",
        "--participants",
        "3",
        "--video-bitrate",
        "300000",
        "--layer-switch-interval",
        "1",
    ])
    .await;
    // Each of 3 parties receives the other two's audio and video: every video track, and
    // the audio of those who spoke (the SFU forwards no audio of someone who never did).
    assert_eq!(r.tracks_expected, 12);
    assert!((6..=12).contains(&r.tracks_received), "{r:#?}");
    assert!(r.latency_audio.is_some() && r.latency_video.is_some());
    assert!(r.frames_received > 0);
    assert_eq!(r.frames_lost, 0, "{r:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_audio_room_does_not_count_speaker_selection_as_loss() {
    // Four speakers, three forwarded: gaps of the fourth are speaker selection.
    let r = run_scenario(&[
        "audio-room",
        "--speakers",
        "4",
        "--listeners",
        "2",
        "--turn",
        "0.5",
        "--duration",
        "3",
    ])
    .await;
    assert_eq!(r.tracks_expected, 4 * 3 + 2 * 4);
    assert!(r.frames_received > 0);
    assert_eq!(r.frames_lost, 0, "{r:#?}");
    assert!(r.latency_video.is_none());
    // Listeners' joins are timed, speakers' are not.
    assert!(r.join.count <= 2);
}
