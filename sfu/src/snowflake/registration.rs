//! Registration and heartbeats (docs/contracts.md §2): register at start, heart-beat at the
//! interval the controller asks for, register again when a heartbeat answers 404, and retry
//! with exponential backoff while the controller cannot be reached. The node serves all the
//! while; this task only informs the controller.

use super::controller::{ControllerClient, ControllerError, Heartbeat, Registration};
use super::stats::{SnowflakeStats, inc};
use crate::forward::Node;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// First wait after a failed registration.
const BACKOFF_START: Duration = Duration::from_millis(250);
/// Longest wait between registration attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Heartbeat intervals the controller may ask for are clamped to this range.
const INTERVAL_RANGE: (Duration, Duration) = (Duration::from_millis(20), Duration::from_secs(60));

/// Runs until aborted.
pub async fn run(
    client: ControllerClient,
    registration: Registration,
    node: Arc<Node>,
    stats: Arc<SnowflakeStats>,
) {
    let mut backoff = BACKOFF_START;
    let mut cpu = CpuSampler::new();
    loop {
        let interval = match client.register(&registration).await {
            Ok(registered) => {
                backoff = BACKOFF_START;
                inc(&stats.registrations);
                stats.registered.store(1, Relaxed);
                tracing::info!(node = %registration.node_id, "registered with the controller");
                Duration::from_millis(registered.heartbeat_interval_ms)
                    .clamp(INTERVAL_RANGE.0, INTERVAL_RANGE.1)
            }
            Err(error) => {
                inc(&stats.controller_failures);
                stats.registered.store(0, Relaxed);
                tracing::warn!(%error, retry_in = ?backoff, "cannot register with the controller");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        heartbeat_until_unknown(
            &client,
            &registration.node_id,
            &node,
            &stats,
            &mut cpu,
            interval,
        )
        .await;
        stats.registered.store(0, Relaxed);
    }
}

/// Heart-beats every `interval` until the controller answers 404. A failed heartbeat is
/// retried at the next tick (the controller declares the node dead only after three).
async fn heartbeat_until_unknown(
    client: &ControllerClient,
    node_id: &str,
    node: &Node,
    stats: &SnowflakeStats,
    cpu: &mut CpuSampler,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let heartbeat = Heartbeat {
            endpoints: node.connection_count() as u64,
            conferences: node.conference_count() as u64,
            cpu: cpu.sample(),
        };
        match client.heartbeat(node_id, &heartbeat).await {
            Ok(()) => {
                inc(&stats.heartbeats);
                stats.registered.store(1, Relaxed);
            }
            Err(ControllerError::NotFound) => {
                tracing::info!("the controller forgot this node; registering again");
                return;
            }
            Err(error) => {
                inc(&stats.controller_failures);
                stats.registered.store(0, Relaxed);
                tracing::warn!(%error, "heartbeat failed");
            }
        }
    }
}

/// The process's CPU use between two samples, as a share of the machine's cores.
struct CpuSampler {
    last_cpu: Duration,
    last_wall: tokio::time::Instant,
    cores: f64,
}

impl CpuSampler {
    fn new() -> Self {
        Self {
            last_cpu: process_cpu(),
            last_wall: tokio::time::Instant::now(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
        }
    }

    fn sample(&mut self) -> f64 {
        let cpu = process_cpu();
        let wall = tokio::time::Instant::now();
        let used = cpu.saturating_sub(self.last_cpu).as_secs_f64();
        let elapsed = wall.duration_since(self.last_wall).as_secs_f64();
        self.last_cpu = cpu;
        self.last_wall = wall;
        if elapsed <= 0.0 {
            return 0.0;
        }
        (used / elapsed / self.cores).clamp(0.0, 1.0)
    }
}

/// User plus system CPU time of this process so far (zero where it cannot be read).
fn process_cpu() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let Ok(usage) = getrusage(UsageWho::RUSAGE_SELF) else {
        return Duration::ZERO;
    };
    let micros = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec().max(0) as u64)
            + Duration::from_micros(t.tv_usec().max(0) as u64)
    };
    micros(usage.user_time()) + micros(usage.system_time())
}
