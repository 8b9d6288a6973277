//! The report: what a run measured, as figures people and CI read. [`Report::build`] turns
//! the run's raw [`Measurements`] into it; [`table`] prints it, [`csv`] appends it as a row,
//! and it serializes to JSON as is.
//!
//! Definitions:
//! - **loss**: frames captured in the window that never arrived, over those plus the ones
//!   that did (every received track).
//! - **delivered**: payload bits of the frames captured in the window that arrived, per
//!   second of window (what the MoQ comparison calls delivered); **wire**: UDP bits the
//!   subscribers' flows received.
//! - **forwarded**: datagrams the SFU sent (`newmedia_sfu_datagrams_out_total`) per second.
//! - **server CPU**: `process_cpu_seconds_total` over the window, in cores; **RSS per
//!   subscriber**: (RSS at the window's end - RSS before any endpoint) / receiving endpoints.
//! - **delivered Mbit/s per server core**: delivered / server CPU.
//! - **join**: from the REST call that put the endpoint in the conference (its own join, or
//!   its room's creation) to its first frame, for every receiving endpoint except audio-room
//!   speakers (they hear nothing until another speaker's turn).

pub mod csv;
pub mod table;

use crate::config::{LoadtestConfig, ScenarioKind};
use crate::run::Measurements;
use crate::stats::{Summary, TrackKind, latency_histogram};
use crate::thresholds::{self, Check};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Smallest, mean and largest of a per-item figure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Mean.
    pub mean: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    fn of(values: &[f64]) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        Self {
            mean: values.iter().sum::<f64>() / values.len() as f64,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// The server side, from the nodes' `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerReport {
    /// CPU used during the window, cores.
    pub cpu_cores: Option<f64>,
    /// RSS at the window's end, bytes.
    pub rss_bytes: Option<f64>,
    /// RSS before any endpoint, bytes.
    pub rss_base_bytes: Option<f64>,
    /// (RSS - baseline) / receiving endpoints, bytes.
    pub rss_per_subscriber_bytes: Option<f64>,
    /// Datagrams the SFU sent per second.
    pub forwarded_datagrams_per_sec: Option<f64>,
    /// Those per CPU-second.
    pub forwarded_per_core_sec: Option<f64>,
    /// Delivered payload Mbit/s per core.
    pub delivered_mbps_per_core: Option<f64>,
    /// UDP Mbit/s the SFU sent.
    pub sent_mbps: Option<f64>,
    /// Datagrams dropped during the window (every reason).
    pub drops: Option<f64>,
    /// The server runs in the load generator's process (figures include both).
    pub shares_process: bool,
    /// Where the CPU time came from: `/proc/<pid>/stat` (clock ticks) or the node's
    /// `process_cpu_seconds_total` (whole seconds: use long windows).
    pub cpu_source: String,
}

/// The load generator itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneratorReport {
    /// CPU used during the window, cores.
    pub cpu_cores: f64,
    /// RSS at the window's end, bytes.
    pub rss_bytes: Option<u64>,
    /// (RSS - RSS before any endpoint) / endpoints, bytes.
    pub rss_per_endpoint_bytes: Option<f64>,
}

/// A run's results.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The scenario.
    pub scenario: String,
    /// The run's label.
    pub label: Option<String>,
    /// The scenario's parameters.
    pub parameters: BTreeMap<String, String>,
    /// The target.
    pub target: String,
    /// Simulated endpoints.
    pub endpoints: usize,
    /// Of them, those that receive.
    pub receiving_endpoints: usize,
    /// Length of the window, seconds.
    pub window_secs: f64,
    /// Registering and joining everyone took, seconds.
    pub setup_secs: f64,
    /// Tracks the scenario expects to be received.
    pub tracks_expected: usize,
    /// Tracks that received at least one frame.
    pub tracks_received: usize,
    /// Audio tracks that received nothing because active-speaker selection never forwarded
    /// their speaker (more speakers than the SFU forwards): withheld, not lost.
    pub tracks_withheld: usize,
    /// Frames of the window received.
    pub frames_received: u64,
    /// Frames of the window lost.
    pub frames_lost: u64,
    /// Frames first missing that arrived later.
    pub frames_recovered: u64,
    /// Loss, percent.
    pub loss_percent: f64,
    /// Frames received per second (all tracks).
    pub delivered_frames_per_sec: f64,
    /// Payload Mbit/s delivered (all subscribers).
    pub delivered_mbps: f64,
    /// UDP Mbit/s the subscribers received.
    pub wire_mbps: f64,
    /// Payload kbit/s per receiving endpoint.
    pub bitrate_per_subscriber_kbps: Spread,
    /// Capture to arrival, every track.
    pub latency: Summary,
    /// Of audio tracks.
    pub latency_audio: Option<Summary>,
    /// Of video tracks.
    pub latency_video: Option<Summary>,
    /// Of frames that arrived after a later one (recovered or reordered), not in `latency`.
    pub latency_late: Summary,
    /// RFC 3550 jitter, mean over tracks, ms.
    pub jitter_mean_ms: f64,
    /// Largest track jitter, ms.
    pub jitter_max_ms: f64,
    /// Video freezes (gaps over 200 ms), all tracks.
    pub freezes: u64,
    /// Their total, ms.
    pub freeze_ms: f64,
    /// Video tracks with at least one freeze.
    pub tracks_with_freezes: usize,
    /// Join times.
    pub join: Summary,
    /// Receiving endpoints that never got a frame.
    pub joins_without_frame: usize,
    /// Of the join: the REST call until it answered.
    pub join_rest: Summary,
    /// Of the join: the REST call until the call was connected.
    pub join_connect: Summary,
    /// Layer switch times.
    pub layer_switch: Summary,
    /// Layer switches chosen by the SFU that did not complete.
    pub layer_switches_incomplete: u64,
    /// Speaker switch times.
    pub speaker_switch: Summary,
    /// Turns whose speaker was not announced loudest within the turn.
    pub speaker_switches_missed: u64,
    /// Server figures (absent when no `/metrics` was scraped).
    pub server: Option<ServerReport>,
    /// Why scraping failed, if it did.
    pub scrape_error: Option<String>,
    /// The load generator.
    pub generator: GeneratorReport,
    /// Frames publishers could not send.
    pub publisher_errors: u64,
    /// Thresholds and results.
    pub checks: Vec<Check>,
    /// Every check passed.
    pub passed: bool,
}

fn parameters(config: &LoadtestConfig) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        p.insert(k.to_owned(), v);
    };
    match config.scenario {
        ScenarioKind::Fanout => {
            put("subscribers", config.subscribers.to_string());
            put("fps", config.fps.to_string());
            put("frame_bytes", config.frame_bytes.to_string());
        }
        ScenarioKind::Webinar | ScenarioKind::Conference => {
            if config.scenario == ScenarioKind::Webinar {
                put("subscribers", config.subscribers.to_string());
            } else {
                put("rooms", config.rooms.to_string());
                put("participants", config.participants.to_string());
            }
            put("video_bitrate", config.video_bitrate.to_string());
            put("video_fps", config.video_fps.to_string());
            put("simulcast", config.simulcast.to_string());
            put(
                "layer_switch_interval",
                config.layer_switch_interval.to_string(),
            );
        }
        ScenarioKind::AudioRoom => {
            put("speakers", config.speakers.to_string());
            put("listeners", config.listeners.to_string());
            put("turn", config.turn.to_string());
        }
    }
    put("duration", config.duration.to_string());
    p
}

fn delta(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(b? - a?)
}

impl Report {
    /// The report of `m`, checked against `config`'s thresholds.
    pub fn build(config: &LoadtestConfig, m: &Measurements) -> Self {
        let secs = m.window_secs.max(1e-6);
        let mut all = latency_histogram();
        let mut audio = latency_histogram();
        let mut video = latency_histogram();
        let mut late = latency_histogram();
        let (mut frames, mut lost, mut recovered, mut bytes) = (0u64, 0u64, 0u64, 0u64);
        let (mut freezes, mut freeze_micros, mut frozen_tracks) = (0u64, 0u64, 0usize);
        let mut jitters = Vec::new();
        let mut received_tracks = 0;
        let mut withheld_tracks = 0;
        let mut per_endpoint_bytes = vec![0u64; m.endpoints.len()];
        let mut switches = Vec::new();
        let mut incomplete = 0;
        for t in &m.tracks {
            let s = &t.outcome.stats;
            frames += s.frames;
            lost += s.lost;
            recovered += s.recovered;
            bytes += s.bytes;
            if let Some(b) = per_endpoint_bytes.get_mut(t.endpoint) {
                *b += s.bytes;
            }
            if s.frames_total > 0 {
                received_tracks += 1;
            } else if s.gated() {
                withheld_tracks += 1;
            }
            if s.frames > 0 {
                jitters.push(s.jitter_micros() / 1000.0);
            }
            let _ = all.add(&s.latency);
            let _ = late.add(&s.late_latency);
            let _ = match s.kind {
                TrackKind::Audio => audio.add(&s.latency),
                TrackKind::Video => video.add(&s.latency),
            };
            freezes += s.freezes;
            freeze_micros += s.freeze_micros;
            frozen_tracks += usize::from(s.freezes > 0);
            switches.extend_from_slice(&t.outcome.switches);
            incomplete += t.outcome.incomplete_switches;
        }
        let receivers: Vec<usize> = m
            .endpoints
            .iter()
            .enumerate()
            .filter(|(_, e)| e.receives)
            .map(|(i, _)| i)
            .collect();
        let per_subscriber: Vec<f64> = receivers
            .iter()
            .map(|i| {
                per_endpoint_bytes.get(*i).copied().unwrap_or_default() as f64 * 8.0 / secs / 1e3
            })
            .collect();
        let timed: Vec<usize> = receivers
            .iter()
            .copied()
            .filter(|i| m.endpoints.get(*i).is_some_and(|e| e.join_timed))
            .collect();
        let joins: Vec<u64> = timed
            .iter()
            .filter_map(|i| m.endpoints.get(*i).and_then(|e| e.join_micros))
            .collect();
        let join_part = |f: fn(&crate::run::EndpointResult) -> u64| {
            let v: Vec<u64> = timed
                .iter()
                .filter_map(|i| m.endpoints.get(*i).map(f))
                .collect();
            Summary::of_micros(&v)
        };
        let delivered_mbps = bytes as f64 * 8.0 / secs / 1e6;
        let [base, open, close] = m.server;
        let server = close.map(|close| {
            let open = open.unwrap_or_default();
            let cpu = delta(open.cpu_seconds, close.cpu_seconds).map(|c| c / secs);
            let forwarded = delta(open.datagrams_out, close.datagrams_out).map(|d| d / secs);
            let per_core = |x: Option<f64>| match (x, cpu) {
                (Some(x), Some(c)) if c > 0.0 => Some(x / c),
                _ => None,
            };
            let rss_per_subscriber = match (base.and_then(|b| b.rss_bytes), close.rss_bytes) {
                (Some(b), Some(c)) if !receivers.is_empty() => {
                    Some((c - b) / receivers.len() as f64)
                }
                _ => None,
            };
            ServerReport {
                cpu_cores: cpu,
                rss_bytes: close.rss_bytes,
                rss_base_bytes: base.and_then(|b| b.rss_bytes),
                rss_per_subscriber_bytes: rss_per_subscriber,
                forwarded_datagrams_per_sec: forwarded,
                forwarded_per_core_sec: per_core(forwarded),
                delivered_mbps_per_core: per_core(Some(delivered_mbps)),
                sent_mbps: delta(open.bytes_out, close.bytes_out).map(|b| b * 8.0 / secs / 1e6),
                drops: delta(open.drops, close.drops),
                shares_process: m.shares_process,
                cpu_source: if m.cpu_from_proc {
                    "/proc/<pid>/stat".to_owned()
                } else {
                    "process_cpu_seconds_total (whole seconds)".to_owned()
                },
            }
        });
        let [gen_base, gen_rss] = m.generator_rss;
        let wire_bits: u64 = m.endpoints.iter().map(|e| e.wire_bits).sum();
        let mut report = Self {
            scenario: config.scenario.name().to_owned(),
            label: config.label.clone(),
            parameters: parameters(config),
            target: m.target.clone(),
            endpoints: m.endpoints.len(),
            receiving_endpoints: receivers.len(),
            window_secs: m.window_secs,
            setup_secs: m.setup_secs,
            tracks_expected: m.endpoints.iter().map(|e| e.tracks_expected).sum(),
            tracks_received: received_tracks,
            tracks_withheld: withheld_tracks,
            frames_received: frames,
            frames_lost: lost,
            frames_recovered: recovered,
            loss_percent: if frames + lost > 0 {
                lost as f64 * 100.0 / (frames + lost) as f64
            } else {
                0.0
            },
            delivered_frames_per_sec: frames as f64 / secs,
            delivered_mbps,
            wire_mbps: wire_bits as f64 / secs / 1e6,
            bitrate_per_subscriber_kbps: Spread::of(&per_subscriber),
            latency: Summary::of_histogram(&all),
            latency_audio: (!audio.is_empty()).then(|| Summary::of_histogram(&audio)),
            latency_video: (!video.is_empty()).then(|| Summary::of_histogram(&video)),
            latency_late: Summary::of_histogram(&late),
            jitter_mean_ms: Spread::of(&jitters).mean,
            jitter_max_ms: Spread::of(&jitters).max,
            freezes,
            freeze_ms: freeze_micros as f64 / 1000.0,
            tracks_with_freezes: frozen_tracks,
            join: Summary::of_micros(&joins),
            joins_without_frame: timed.len() - joins.len(),
            join_rest: join_part(|e| e.join_rest_micros),
            join_connect: join_part(|e| e.join_connect_micros),
            layer_switch: Summary::of_micros(&switches),
            layer_switches_incomplete: incomplete,
            speaker_switch: Summary::of_micros(&m.speaker_switches),
            speaker_switches_missed: m.missed_speaker_switches,
            server,
            scrape_error: m.scrape_error.clone(),
            generator: GeneratorReport {
                cpu_cores: m.generator_cpu.as_secs_f64() / secs,
                rss_bytes: gen_rss,
                rss_per_endpoint_bytes: match (gen_base, gen_rss) {
                    (Some(b), Some(r)) if !m.endpoints.is_empty() => {
                        Some(r.saturating_sub(b) as f64 / m.endpoints.len() as f64)
                    }
                    _ => None,
                },
            },
            publisher_errors: m.publishers.iter().map(|p| p.errors).sum(),
            checks: Vec::new(),
            passed: true,
        };
        report.checks = thresholds::evaluate(config, &report);
        report.passed = report.checks.iter().all(|c| c.passed);
        report
    }
}
