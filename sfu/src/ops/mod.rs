//! Operations: everything that makes the node runnable and observable, apart from forwarding.
//!
//! - [`config`]: [`SfuConfig`], one struct for flags, `NEWMEDIA_SFU_*` environment variables
//!   and a TOML file (`--config`); its defaults run on loopback with zero configuration.
//! - [`grant_key`]: [`GrantKey`], a trusted join-grant key as written in configuration.
//! - [`logging`]: [`init_tracing`], structured logs as text or JSON.
//! - [`metrics`]: [`SfuMetrics`], the Prometheus metrics with the process collector.
//! - [`drain`]: [`Drain`], the shared "draining" state behind `/readyz`, and [`wait_until`]
//!   for the grace period.

pub mod config;
pub mod drain;
pub mod grant_key;
pub mod logging;
pub mod metrics;

pub use config::{ConfigError, SfuConfig};
pub use drain::{Drain, DrainOutcome, wait_until};
pub use grant_key::{GrantKey, GrantKeyError};
pub use logging::{LogFormat, LoggingError, init_tracing};
pub use metrics::{AdmissionResult, DropReason, MetricsError, SfuMetrics, StunResult};
