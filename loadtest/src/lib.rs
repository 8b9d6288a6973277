//! # newmedia-loadtest
//!
//! Load-tests a newmedia deployment with simulated endpoints built on the client SDK (the same
//! code apps use: [`newmedia_client::agent::Agent`] joins through the controller, Snowflake
//! checks and consent, QUIC to the SFU, publishers and subscriptions), and reports what
//! matters to users and to our performance goals: tracks expected and received, forwarded
//! rate, bitrate per subscriber, loss, capture-to-arrival latency percentiles, jitter, video
//! freezes, join time, layer- and speaker-switch times, and the SFU's CPU and memory from its
//! `/metrics`, with the delivered Mbit/s per server core. Thresholds given on the command
//! line decide the exit status, so a run can gate a deployment in CI.
//!
//! - [`config`]: the one configuration (flags, environment, TOML).
//! - [`scenario`]: `fanout`, `conference`, `webinar`, `audio-room` as plans.
//! - [`target`]: an existing deployment, or `--embedded` controller and SFU processes.
//! - [`endpoint`], [`publish`], [`receive`]: one simulated endpoint, its publishers and its
//!   receiving tasks; [`media`]: the synthetic media they send.
//! - [`stats`], [`scrape`], [`procstat`]: what is measured, on the clients, the server and
//!   the generator.
//! - [`run`]: one run from start to clean-up; [`report`], [`thresholds`]: the results.
//! - [`progress`], [`clock`]: the progress bar; the one place clocks are read.
//!
//! What it does not do: encode real media (payloads are stamped filler of realistic sizes and
//! timing), or simulate impaired networks (use `newmedia-netsim` or network namespaces).

#![forbid(unsafe_code)]

pub mod clock;
pub mod config;
pub mod endpoint;
pub mod media;
pub mod procstat;
pub mod progress;
pub mod publish;
pub mod receive;
pub mod report;
pub mod run;
pub mod scenario;
pub mod scrape;
pub mod stats;
pub mod target;
pub mod thresholds;

/// Exit status: every threshold held.
pub const EXIT_PASSED: i32 = 0;
/// Exit status: a threshold was exceeded.
pub const EXIT_THRESHOLD: i32 = 1;
/// Exit status: the configuration is invalid (clap's usage errors also exit with 2).
pub const EXIT_CONFIG: i32 = 2;
/// Exit status: the run itself failed (target unreachable, endpoints could not join).
pub const EXIT_RUN_FAILED: i32 = 3;
