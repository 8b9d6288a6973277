//! Drain: the node's "shutting down politely" state.
//!
//! On SIGTERM the node starts draining: readiness turns false (so the load balancer and the
//! controller stop sending new endpoints), no new admissions are accepted, and the node waits
//! until its connections are gone or a grace period passes before closing the rest with a
//! reason code. This module holds the shared flag and the waiting helper; the connection
//! handling belongs to the transport/forward code.

use std::time::Duration;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

/// How often [`wait_until`] checks its predicate.
pub const DRAIN_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The shared drain state. Share it as `Arc<Drain>`; every method takes `&self`.
#[derive(Debug)]
pub struct Drain {
    // A watch channel rather than an AtomicBool + Notify: it is both the flag and the wake-up,
    // and a task that subscribes after the start still sees it (no lost notification).
    draining: watch::Sender<bool>,
}

impl Default for Drain {
    fn default() -> Self {
        Self::new()
    }
}

impl Drain {
    /// A node that is not draining (ready).
    pub fn new() -> Self {
        Drain {
            draining: watch::Sender::new(false),
        }
    }

    /// Starts draining. Returns `true` if this call started it, `false` if it had already
    /// started (a second SIGTERM). Draining never stops.
    pub fn start(&self) -> bool {
        self.draining.send_if_modified(|draining| {
            let started = !*draining;
            *draining = true;
            started
        })
    }

    /// Whether draining has started.
    pub fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// Whether the node accepts new work (`GET /readyz`): true until draining starts.
    pub fn readiness(&self) -> bool {
        !self.is_draining()
    }

    /// Resolves once draining has started (at once if it already has).
    pub async fn started(&self) {
        let mut rx = self.draining.subscribe();
        // `wait_for` fails only when the sender is dropped, which cannot happen while `self`
        // is borrowed; either way there is nothing more to wait for.
        let _ = rx.wait_for(|draining| *draining).await;
    }

    /// A receiver that sees `true` once draining starts, for `select!` loops that keep it.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.draining.subscribe()
    }
}

/// How [`wait_until`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainOutcome {
    /// The predicate held (e.g. every connection had closed).
    Drained,
    /// The grace period passed first.
    GraceExpired,
}

/// Waits until `drained()` holds or `grace` has passed, checking every
/// [`DRAIN_POLL_INTERVAL`] (and once at the start and at the deadline).
///
/// Uses tokio's clock, so tests run it in paused time.
pub async fn wait_until(drained: impl Fn() -> bool, grace: Duration) -> DrainOutcome {
    let deadline = tokio::time::Instant::now() + grace;
    let mut ticks = tokio::time::interval(DRAIN_POLL_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        // The first tick completes at once, so an already-drained node returns immediately.
        tokio::select! {
            _ = ticks.tick() => {
                if drained() {
                    return DrainOutcome::Drained;
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                return if drained() {
                    DrainOutcome::Drained
                } else {
                    DrainOutcome::GraceExpired
                };
            }
        }
    }
}
