//! Operations: everything that makes the node runnable and observable, apart from forwarding.
//!
//! - [`config`]: [`SfuConfig`], one struct for flags, `NEWMEDIA_SFU_*` environment variables
//!   and a TOML file (`--config`); its defaults run on loopback with zero configuration.
//! - [`grant_key`]: [`GrantKey`], a trusted join-grant key as written in configuration.
//! - [`logging`]: [`init_tracing`], structured logs as text or JSON.
//! - [`metrics`]: [`SfuMetrics`], the Prometheus metrics with the process collector.
//! - [`drain`]: [`Drain`], the shared "draining" state behind `/readyz`, and [`wait_until`]
//!   for the grace period.
//! - [`http`]: [`router`], the axum routes `/metrics`, `/healthz`, `/readyz` and the
//!   bearer-token admin API under `/v1` that drives
//!   [`Registry`](crate::admission::registry::Registry).
//!
//! Start-up order in the binary: [`SfuConfig::from_args_and_file`] (calling `exit()` on
//! [`ConfigError::Args`] prints help/version/usage errors the clap way), [`init_tracing`],
//! [`SfuConfig::ensure_admin_token`], [`SfuMetrics::new`], then serve [`router`].

pub mod config;
pub mod drain;
pub mod grant_key;
pub mod http;
pub mod logging;
pub mod metrics;

pub use config::{ConfigError, SfuConfig};
pub use drain::{Drain, DrainOutcome, wait_until};
pub use grant_key::{GrantKey, GrantKeyError};
pub use http::{ApiError, ErrorCode, HttpState, LiveStats, router};
pub use logging::{LogFormat, LoggingError, init_tracing};
pub use metrics::{AdmissionResult, DropReason, MetricsError, SfuMetrics, StunResult};
