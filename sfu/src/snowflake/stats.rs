//! Counters of the node's Snowflake side, read by the metrics sampler.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Snowflake counters (atomics).
#[derive(Debug, Default)]
pub struct SnowflakeStats {
    pub(super) registered: AtomicU64,
    pub(super) registrations: AtomicU64,
    pub(super) heartbeats: AtomicU64,
    pub(super) controller_failures: AtomicU64,
    pub(super) checks_reported: AtomicU64,
    pub(super) checks_report_failed: AtomicU64,
    pub(super) checks_unauthenticated: AtomicU64,
    pub(super) downlink_checks: AtomicU64,
    pub(super) downlink_requests_sent: AtomicU64,
    pub(super) downlink_responses: AtomicU64,
    pub(super) downlinks_installed: AtomicU64,
}

/// The values of [`SnowflakeStats`] at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SnowflakeStatsSnapshot {
    /// 1 while the node is registered with the controller (its last call succeeded), else 0.
    pub registered: u64,
    /// Successful registrations (one at start, one after each 404 heartbeat).
    pub registrations: u64,
    /// Heartbeats the controller accepted.
    pub heartbeats: u64,
    /// Controller calls (register, heartbeat) that failed.
    pub controller_failures: u64,
    /// Received checks reported to the controller.
    pub checks_reported: u64,
    /// Received checks whose report failed (dropped; clients retransmit).
    pub checks_report_failed: u64,
    /// Checks opened only under the public (empty) secret: not reported.
    pub checks_unauthenticated: u64,
    /// Downlink checks ordered through the admin API.
    pub downlink_checks: u64,
    /// STUN2 requests sent for them (retransmissions included).
    pub downlink_requests_sent: u64,
    /// Responses to them that opened.
    pub downlink_responses: u64,
    /// Downlinks installed (`POST /v1/downlinks` with the right secret).
    pub downlinks_installed: u64,
}

impl SnowflakeStats {
    /// Reads every counter.
    pub fn snapshot(&self) -> SnowflakeStatsSnapshot {
        SnowflakeStatsSnapshot {
            registered: self.registered.load(Relaxed),
            registrations: self.registrations.load(Relaxed),
            heartbeats: self.heartbeats.load(Relaxed),
            controller_failures: self.controller_failures.load(Relaxed),
            checks_reported: self.checks_reported.load(Relaxed),
            checks_report_failed: self.checks_report_failed.load(Relaxed),
            checks_unauthenticated: self.checks_unauthenticated.load(Relaxed),
            downlink_checks: self.downlink_checks.load(Relaxed),
            downlink_requests_sent: self.downlink_requests_sent.load(Relaxed),
            downlink_responses: self.downlink_responses.load(Relaxed),
            downlinks_installed: self.downlinks_installed.load(Relaxed),
        }
    }
}

pub(super) fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Relaxed);
}

pub(super) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Relaxed);
}
