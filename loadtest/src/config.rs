//! The load tester's configuration: one struct that is the command line (clap; every flag also
//! read from a `NEWMEDIA_LOADTEST_*` environment variable) and the TOML file named by
//! `--config` (serde, unknown keys rejected). Precedence, highest first: a flag, its
//! environment variable, the file, the built-in default.
//!
//! Which parameters a scenario reads:
//!
//! | scenario | endpoints | parameters |
//! | --- | --- | --- |
//! | `fanout` | 1 + `subscribers` | `fps`, `frame_bytes` (every frame independent) |
//! | `webinar` | 1 + `subscribers` | `video_bitrate`, `video_fps`, `audio_bitrate`, `reference_interval`, `simulcast`, `layer_switch_interval` |
//! | `conference` | `rooms` × `participants` | the same as `webinar` |
//! | `audio-room` | `speakers` + `listeners` | `audio_bitrate`, `turn` |

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, ValueEnum};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use thiserror::Error;

/// Why the configuration could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// Bad command line or environment, or `--help`/`--version` (call `exit()` on it).
    #[error(transparent)]
    Args(#[from] clap::Error),
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for [`LoadtestConfig`] (including unknown keys).
    #[error("invalid configuration file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML error.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A value out of range or a missing combination.
    #[error("invalid configuration: {field}: {reason}")]
    Invalid {
        /// The key.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// The scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScenarioKind {
    /// 1 publisher at `fps` frames/s of `frame_bytes` bytes -> `subscribers` subscribers (the
    /// scenario used to compare relays).
    #[default]
    Fanout,
    /// `rooms` rooms of `participants`: everyone publishes audio and simulcast video and
    /// receives the others.
    Conference,
    /// 1 publisher of audio and (simulcast) video -> `subscribers` subscribers.
    Webinar,
    /// `speakers` taking turns (active-speaker selection) and `listeners`.
    AudioRoom,
}

impl ScenarioKind {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fanout => "fanout",
            Self::Conference => "conference",
            Self::Webinar => "webinar",
            Self::AudioRoom => "audio-room",
        }
    }
}

/// Default and unit of every setting are in its doc comment.
#[derive(Debug, Clone, PartialEq, Parser, Serialize, Deserialize)]
#[command(
    name = "newmedia-loadtest",
    version,
    about = "Load-tests a newmedia deployment (or an embedded one) with simulated SDK endpoints."
)]
#[serde(deny_unknown_fields, default)]
pub struct LoadtestConfig {
    /// TOML configuration file. Default: none. (Not a key of the file itself.)
    #[arg(long, env = "NEWMEDIA_LOADTEST_CONFIG", value_name = "PATH")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// The scenario. Default fanout.
    #[arg(value_enum, env = "NEWMEDIA_LOADTEST_SCENARIO", default_value_t = ScenarioKind::Fanout)]
    pub scenario: ScenarioKind,

    // --- target ---
    /// Start a controller and an SFU node on loopback as child processes
    /// (`newmedia-controller`, `newmedia-sfu` next to this binary, or `--controller-bin`,
    /// `--sfu-bin`). Default false.
    #[arg(long, env = "NEWMEDIA_LOADTEST_EMBEDDED")]
    pub embedded: bool,

    /// With `--embedded`: run the controller and SFU inside this process instead (no
    /// separate server CPU/RSS; for tests). Default false.
    #[arg(long, env = "NEWMEDIA_LOADTEST_IN_PROCESS")]
    pub in_process: bool,

    /// Controller base URL of an existing deployment, e.g. `https://staging.example:7000`.
    /// Default: none (then `--embedded` is required).
    #[arg(long, env = "NEWMEDIA_LOADTEST_CONTROLLER_URL", value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_url: Option<String>,

    /// App API key of that controller. Default: none.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_API_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,

    /// `/metrics` URL of an SFU node to scrape for CPU and RSS; repeatable (the figures are
    /// summed). Default: none for a deployment (no server figures); the node's own with
    /// `--embedded`.
    #[arg(
        long = "metrics-url",
        env = "NEWMEDIA_LOADTEST_METRICS_URLS",
        value_name = "URL",
        value_delimiter = ','
    )]
    pub metrics_urls: Vec<String>,

    /// The `newmedia-sfu` binary for `--embedded`. Default: next to this executable.
    #[arg(long, env = "NEWMEDIA_LOADTEST_SFU_BIN", value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sfu_bin: Option<PathBuf>,

    /// The `newmedia-controller` binary for `--embedded`. Default: next to this executable.
    #[arg(long, env = "NEWMEDIA_LOADTEST_CONTROLLER_BIN", value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_bin: Option<PathBuf>,

    /// SFU worker endpoints for `--embedded`. Default: the SFU's own default (one per core).
    #[arg(long, env = "NEWMEDIA_LOADTEST_SFU_WORKERS", value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sfu_workers: Option<usize>,

    /// Local IP the simulated endpoints bind (port 0 each). Default 127.0.0.1; use 0.0.0.0 to
    /// reach a remote deployment.
    #[arg(long, env = "NEWMEDIA_LOADTEST_BIND_IP", value_name = "IP", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind_ip: IpAddr,

    // --- bounds ---
    /// Length of the measurement window, seconds. Default 10.
    #[arg(
        long = "duration",
        env = "NEWMEDIA_LOADTEST_DURATION",
        value_name = "SECS",
        default_value_t = 10.0
    )]
    pub duration: f64,

    /// Time between the last join and the window, seconds. Default 1.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_WARMUP",
        value_name = "SECS",
        default_value_t = 1.0
    )]
    pub warmup: f64,

    /// Time after the window for frames still in flight, seconds. Default 0.5.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_DRAIN",
        value_name = "SECS",
        default_value_t = 0.5
    )]
    pub drain: f64,

    /// Longest time for registering and joining every endpoint, seconds. Default 120.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_JOIN_TIMEOUT",
        value_name = "SECS",
        default_value_t = 120.0
    )]
    pub join_timeout: f64,

    /// Joins in flight at once (REST call until first frame). Default 1: each join is timed
    /// on its own; raise it to simulate a join storm.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_JOIN_CONCURRENCY",
        value_name = "N",
        default_value_t = 1
    )]
    pub join_concurrency: usize,

    /// Refuse scenarios with more endpoints than this. Default 2000.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_MAX_ENDPOINTS",
        value_name = "N",
        default_value_t = 2000
    )]
    pub max_endpoints: usize,

    /// Seed of every random choice (talk spells, frame sizes, switch times). Default 1.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_SEED",
        value_name = "N",
        default_value_t = 1
    )]
    pub seed: u64,

    /// Tokio worker threads of the load generator. Default: one per core.
    #[arg(long, env = "NEWMEDIA_LOADTEST_THREADS", value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,

    // --- scenario parameters ---
    /// Subscribers (fanout, webinar). Default 20.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_SUBSCRIBERS",
        value_name = "N",
        default_value_t = 20
    )]
    pub subscribers: usize,

    /// Frames per second of the fanout publisher. Default 30.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_FPS",
        value_name = "N",
        default_value_t = 30
    )]
    pub fps: u32,

    /// Bytes per fanout frame. Default 4000.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_FRAME_BYTES",
        value_name = "BYTES",
        default_value_t = 4000
    )]
    pub frame_bytes: usize,

    /// Rooms (conference). Default 2.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_ROOMS",
        value_name = "K",
        default_value_t = 2
    )]
    pub rooms: usize,

    /// Participants per room (conference). Default 4.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_PARTICIPANTS",
        value_name = "P",
        default_value_t = 4
    )]
    pub participants: usize,

    /// Speakers (audio room). Default 6.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_SPEAKERS",
        value_name = "P",
        default_value_t = 6
    )]
    pub speakers: usize,

    /// Listeners (audio room). Default 50.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_LISTENERS",
        value_name = "N",
        default_value_t = 50
    )]
    pub listeners: usize,

    /// Bitrate of the top video encoding, bit/s (the low simulcast encoding gets at most
    /// 300 kbit/s, as the controller plans). Default 1 200 000.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_VIDEO_BITRATE",
        value_name = "BPS",
        default_value_t = 1_200_000
    )]
    pub video_bitrate: u64,

    /// Frame rate of the top video encoding (the low one gets at most 15). Default 30.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_VIDEO_FPS",
        value_name = "N",
        default_value_t = 30
    )]
    pub video_fps: u32,

    /// Audio bitrate while talking, bit/s. Default 32 000.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_AUDIO_BITRATE",
        value_name = "BPS",
        default_value_t = 32_000
    )]
    pub audio_bitrate: u64,

    /// Seconds between reference frames of every video encoding. Default 2.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_REFERENCE_INTERVAL",
        value_name = "SECS",
        default_value_t = 2.0
    )]
    pub reference_interval: f64,

    /// Simulcast (two encodings) for conference and webinar video. Default true.
    #[arg(long, env = "NEWMEDIA_LOADTEST_SIMULCAST", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub simulcast: bool,

    /// Seconds between each simulcast viewer's layer switches (it alternates between asking
    /// for at most 320 pixels wide and for anything); 0 turns switching off. Default 4.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_LAYER_SWITCH_INTERVAL",
        value_name = "SECS",
        default_value_t = 4.0
    )]
    pub layer_switch_interval: f64,

    /// Length of each speaker's turn in the audio room, seconds. Default 3.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_TURN",
        value_name = "SECS",
        default_value_t = 3.0
    )]
    pub turn: f64,

    /// How many speakers the SFU forwards (its `top_speakers`): audio gaps of more speakers
    /// than this are judged against the active-speaker announcements. Default 3.
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_TOP_SPEAKERS",
        value_name = "N",
        default_value_t = 3
    )]
    pub top_speakers: usize,

    // --- thresholds (exit status 1 when exceeded) ---
    /// Most frame loss allowed, percent. Default: not checked.
    #[arg(long, env = "NEWMEDIA_LOADTEST_MAX_LOSS", value_name = "PERCENT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_loss: Option<f64>,

    /// Highest p50 latency allowed, ms. Default: not checked.
    #[arg(long, env = "NEWMEDIA_LOADTEST_MAX_P50_MS", value_name = "MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_p50_ms: Option<f64>,

    /// Highest p95 latency allowed, ms. Default: not checked.
    #[arg(long, env = "NEWMEDIA_LOADTEST_MAX_P95_MS", value_name = "MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_p95_ms: Option<f64>,

    /// Highest p99 latency allowed, ms. Default: not checked.
    #[arg(long, env = "NEWMEDIA_LOADTEST_MAX_P99_MS", value_name = "MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_p99_ms: Option<f64>,

    /// Highest mean jitter allowed, ms. Default: not checked.
    #[arg(long, env = "NEWMEDIA_LOADTEST_MAX_JITTER_MS", value_name = "MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_jitter_ms: Option<f64>,

    /// Highest p99 join time allowed, ms. Default: not checked.
    #[arg(long, env = "NEWMEDIA_LOADTEST_MAX_JOIN_P99_MS", value_name = "MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_join_p99_ms: Option<f64>,

    /// Most video freezes allowed (all tracks together). Default: not checked.
    #[arg(long, env = "NEWMEDIA_LOADTEST_MAX_FREEZES", value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_freezes: Option<u64>,

    /// Fail unless every expected track received frames. Default false.
    #[arg(long, env = "NEWMEDIA_LOADTEST_REQUIRE_ALL_TRACKS")]
    pub require_all_tracks: bool,

    // --- output ---
    /// Write the report as JSON to this file. Default: none.
    #[arg(long, env = "NEWMEDIA_LOADTEST_JSON", value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<PathBuf>,

    /// Append the report as one CSV row to this file (header first when it is new). Default:
    /// none.
    #[arg(long, env = "NEWMEDIA_LOADTEST_CSV", value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csv: Option<PathBuf>,

    /// A label for this run in the report (e.g. "run 2"). Default: none.
    #[arg(long, env = "NEWMEDIA_LOADTEST_LABEL", value_name = "TEXT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,

    /// No progress bar. Default false (the bar is drawn on a terminal only).
    #[arg(long, env = "NEWMEDIA_LOADTEST_QUIET")]
    pub quiet: bool,

    /// Log filter (env-filter syntax). Default "warn".
    #[arg(
        long,
        env = "NEWMEDIA_LOADTEST_LOG_LEVEL",
        value_name = "FILTER",
        default_value = "warn"
    )]
    pub log_level: String,
}

impl Default for LoadtestConfig {
    fn default() -> Self {
        // The clap defaults are the one source of truth.
        Self::parse_from(["newmedia-loadtest"])
    }
}

fn explicit(matches: &ArgMatches, id: &str) -> bool {
    matches!(
        matches.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

impl LoadtestConfig {
    /// Loads flags (program name first), the environment and the file named by `--config`,
    /// then validates.
    pub fn from_args_and_file<I, T>(args: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Self::command().try_get_matches_from(args)?;
        let flags = Self::from_arg_matches(&matches)?;
        let config = match flags.config.clone() {
            None => flags,
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                let mut file: Self =
                    toml::from_str(&text).map_err(|source| ConfigError::Parse {
                        path: path.clone(),
                        source: Box::new(source),
                    })?;
                file.overlay_explicit(flags, &matches);
                file
            }
        };
        config.validate()?;
        Ok(config)
    }

    fn overlay_explicit(&mut self, flags: Self, matches: &ArgMatches) {
        // Destructured without `..`: a new field not listed here fails the build.
        let LoadtestConfig {
            config,
            scenario,
            embedded,
            in_process,
            controller_url,
            api_key,
            metrics_urls,
            sfu_bin,
            controller_bin,
            sfu_workers,
            bind_ip,
            duration,
            warmup,
            drain,
            join_timeout,
            join_concurrency,
            max_endpoints,
            seed,
            threads,
            subscribers,
            fps,
            frame_bytes,
            rooms,
            participants,
            speakers,
            listeners,
            video_bitrate,
            video_fps,
            audio_bitrate,
            reference_interval,
            simulcast,
            layer_switch_interval,
            turn,
            top_speakers,
            max_loss,
            max_p50_ms,
            max_p95_ms,
            max_p99_ms,
            max_jitter_ms,
            max_join_p99_ms,
            max_freezes,
            require_all_tracks,
            json,
            csv,
            label,
            quiet,
            log_level,
        } = flags;
        macro_rules! take_explicit {
            ($($field:ident),* $(,)?) => {
                $(if explicit(matches, stringify!($field)) {
                    self.$field = $field;
                })*
            };
        }
        take_explicit!(
            scenario,
            embedded,
            in_process,
            controller_url,
            api_key,
            metrics_urls,
            sfu_bin,
            controller_bin,
            sfu_workers,
            bind_ip,
            duration,
            warmup,
            drain,
            join_timeout,
            join_concurrency,
            max_endpoints,
            seed,
            threads,
            subscribers,
            fps,
            frame_bytes,
            rooms,
            participants,
            speakers,
            listeners,
            video_bitrate,
            video_fps,
            audio_bitrate,
            reference_interval,
            simulcast,
            layer_switch_interval,
            turn,
            top_speakers,
            max_loss,
            max_p50_ms,
            max_p95_ms,
            max_p99_ms,
            max_jitter_ms,
            max_join_p99_ms,
            max_freezes,
            require_all_tracks,
            json,
            csv,
            label,
            quiet,
            log_level,
        );
        self.config = config;
    }

    /// Endpoints the scenario simulates.
    pub fn endpoint_count(&self) -> usize {
        match self.scenario {
            ScenarioKind::Fanout | ScenarioKind::Webinar => 1 + self.subscribers,
            ScenarioKind::Conference => self.rooms.saturating_mul(self.participants),
            ScenarioKind::AudioRoom => self.speakers + self.listeners,
        }
    }

    /// Checks ranges and combinations.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, reason: &str| {
            Err(ConfigError::Invalid {
                field,
                reason: reason.to_owned(),
            })
        };
        match (&self.controller_url, &self.api_key, self.embedded) {
            (None, _, false) => {
                return invalid(
                    "controller_url",
                    "give --controller-url and --api-key of a deployment, or --embedded",
                );
            }
            (Some(_), None, false) => return invalid("api_key", "a deployment needs --api-key"),
            (Some(_), _, true) => {
                return invalid(
                    "embedded",
                    "--embedded and --controller-url exclude each other",
                );
            }
            _ => {}
        }
        if self.in_process && !self.embedded {
            return invalid("in_process", "--in-process needs --embedded");
        }
        for (field, secs, min) in [
            ("duration", self.duration, 0.1),
            ("warmup", self.warmup, 0.0),
            ("drain", self.drain, 0.0),
            ("join_timeout", self.join_timeout, 1.0),
            ("reference_interval", self.reference_interval, 0.001),
            ("layer_switch_interval", self.layer_switch_interval, 0.0),
            ("turn", self.turn, 0.1),
        ] {
            if !secs.is_finite() || secs < min || secs > 86_400.0 {
                return Err(ConfigError::Invalid {
                    field,
                    reason: format!("{secs} is not between {min} and 86400 seconds"),
                });
            }
        }
        if self.layer_switch_interval > 0.0 && self.layer_switch_interval < 0.5 {
            return invalid("layer_switch_interval", "0 (off) or at least 0.5 s");
        }
        let endpoints = self.endpoint_count();
        let (min_endpoints, what) = match self.scenario {
            ScenarioKind::Fanout | ScenarioKind::Webinar => (2, "--subscribers must be at least 1"),
            ScenarioKind::Conference => {
                if self.participants < 2 || self.rooms == 0 {
                    return invalid("participants", "at least 1 room of 2 participants");
                }
                (2, "")
            }
            ScenarioKind::AudioRoom => {
                if self.speakers == 0 {
                    return invalid("speakers", "at least 1 speaker");
                }
                (
                    2,
                    "an audio room needs at least one listener or two speakers",
                )
            }
        };
        if endpoints < min_endpoints {
            return invalid("subscribers", what);
        }
        if endpoints > self.max_endpoints {
            return Err(ConfigError::Invalid {
                field: "max_endpoints",
                reason: format!(
                    "the scenario has {endpoints} endpoints, more than {}",
                    self.max_endpoints
                ),
            });
        }
        if self.fps == 0 || self.fps > 1000 || self.video_fps == 0 || self.video_fps > 240 {
            return invalid(
                "fps",
                "frame rates must be 1-1000 (fanout) and 1-240 (video)",
            );
        }
        if self.frame_bytes == 0 || self.frame_bytes > 1 << 20 {
            return invalid("frame_bytes", "1 byte to 1 MiB");
        }
        if self.video_bitrate < 10_000 || self.audio_bitrate < 1_000 {
            return invalid(
                "video_bitrate",
                "video at least 10 kbit/s, audio at least 1 kbit/s",
            );
        }
        if self.join_concurrency == 0 || self.threads == Some(0) || self.sfu_workers == Some(0) {
            return invalid("join_concurrency", "counts must be at least 1");
        }
        for (field, v) in [
            ("max_loss", self.max_loss),
            ("max_p50_ms", self.max_p50_ms),
            ("max_p95_ms", self.max_p95_ms),
            ("max_p99_ms", self.max_p99_ms),
            ("max_jitter_ms", self.max_jitter_ms),
            ("max_join_p99_ms", self.max_join_p99_ms),
        ] {
            if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
                return invalid(field, "thresholds must be non-negative numbers");
            }
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log_level) {
            return Err(ConfigError::Invalid {
                field: "log_level",
                reason: e.to_string(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn load(args: &[&str]) -> Result<LoadtestConfig, ConfigError> {
        LoadtestConfig::from_args_and_file(
            std::iter::once("newmedia-loadtest").chain(args.iter().copied()),
        )
    }

    #[test]
    fn defaults_need_a_target() {
        assert!(matches!(
            load(&[]),
            Err(ConfigError::Invalid {
                field: "controller_url",
                ..
            })
        ));
        let c = load(&["--embedded"]).unwrap();
        assert_eq!(c.scenario, ScenarioKind::Fanout);
        assert_eq!((c.subscribers, c.fps, c.frame_bytes), (20, 30, 4000));
        assert_eq!(c.endpoint_count(), 21);
        assert_eq!(LoadtestConfig::default().duration, 10.0);
    }

    #[test]
    fn scenario_by_name_with_parameters() {
        let c = load(&[
            "--embedded",
            "conference",
            "--rooms",
            "3",
            "--participants",
            "5",
        ])
        .unwrap();
        assert_eq!(c.scenario, ScenarioKind::Conference);
        assert_eq!(c.endpoint_count(), 15);
        let c = load(&[
            "audio-room",
            "--embedded",
            "--speakers",
            "4",
            "--listeners",
            "10",
        ])
        .unwrap();
        assert_eq!(c.endpoint_count(), 14);
        let c = load(&["--embedded", "webinar", "--simulcast", "false"]).unwrap();
        assert!(!c.simulcast);
    }

    #[test]
    fn bad_combinations_are_refused() {
        for args in [
            &["--controller-url", "http://x"][..],
            &["--embedded", "--controller-url", "http://x"],
            &[
                "--in-process",
                "--controller-url",
                "http://x",
                "--api-key",
                "k",
            ],
            &["--embedded", "--subscribers", "0"],
            &["--embedded", "conference", "--participants", "1"],
            &["--embedded", "--duration", "0"],
            &["--embedded", "--subscribers", "5000"],
            &["--embedded", "--max-loss=-1"],
            &["--embedded", "--layer-switch-interval", "0.1"],
            &["--embedded", "--log-level", "[[["],
        ] {
            assert!(
                matches!(load(args), Err(ConfigError::Invalid { .. })),
                "{args:?}"
            );
        }
        assert!(matches!(
            load(&["--embedded", "nosuch"]),
            Err(ConfigError::Args(_))
        ));
    }

    #[test]
    fn file_values_yield_to_flags_and_unknown_keys_fail() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            f,
            "scenario = \"webinar\"\nembedded = true\nsubscribers = 7\nduration = 3.5\nmax_p99_ms = 5.0"
        )
        .unwrap();
        let path = f.path().to_str().unwrap();
        let c = load(&["--config", path, "--subscribers", "9"]).unwrap();
        assert_eq!(c.scenario, ScenarioKind::Webinar);
        assert_eq!(
            (c.subscribers, c.duration, c.max_p99_ms),
            (9, 3.5, Some(5.0))
        );
        let mut bad = tempfile::NamedTempFile::new().unwrap();
        writeln!(bad, "embedded = true\nsubscriber = 7").unwrap();
        let path = bad.path().to_str().unwrap();
        assert!(matches!(
            load(&["--config", path]),
            Err(ConfigError::Parse { .. })
        ));
    }

    #[test]
    fn the_config_serializes_to_toml_it_reads_back() {
        let c = load(&["--embedded", "audio-room", "--max-loss", "0.5"]).unwrap();
        let text = toml::to_string(&c).unwrap();
        let back: LoadtestConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, c);
    }
}
