//! Operations: everything that makes the node runnable and observable, apart from forwarding.
//!
//! - [`logging`]: [`init_tracing`], structured logs as text or JSON.
//! - [`metrics`]: [`SfuMetrics`], the Prometheus metrics with the process collector.
//! - [`drain`]: [`Drain`], the shared "draining" state behind `/readyz`, and [`wait_until`]
//!   for the grace period.

pub mod drain;
pub mod logging;
pub mod metrics;

pub use drain::{Drain, DrainOutcome, wait_until};
pub use logging::{LogFormat, LoggingError, init_tracing};
pub use metrics::{AdmissionResult, DropReason, MetricsError, SfuMetrics, StunResult};
