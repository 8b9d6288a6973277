//! What the controller does, independent of HTTP: endpoints and their advertisements
//! (`endpoints`), conferences and their proposals (`conferences`), SFU nodes, placement
//! and re-placement (`nodes`), and the Snowflake flow (`checks`).
//!
//! Every change to a conference or a path runs under a store lock named after it, so
//! controllers sharing a Redis store never interleave two changes of one conference.

mod checks;
mod conferences;
mod endpoints;
mod local_locks;
mod nodes;

pub use endpoints::{MAX_CLIENT_ID_LEN, check_client_id, normalize_fingerprint};

use crate::auth::Credentials;
use crate::error::ApiError;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::node_client::NodeClient;
use crate::store::{Store, StoreError};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How long a lock may be held before the store frees it.
const LOCK_TTL: Duration = Duration::from_secs(30);
/// How long to wait for a busy lock.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Tunables of the service (from the controller's configuration).
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Nodes heart-beat this often; 3 missed ones mean dead.
    pub heartbeat_interval: Duration,
    /// A path not consented within this is a failure.
    pub check_timeout: Duration,
    /// How many top paths are checked in parallel.
    pub parallel_checks: usize,
    /// How long a waiting REST call waits for proposal results.
    pub proposal_timeout: Duration,
    /// History older than this does not count in ranking.
    pub history_window: Duration,
    /// Default and maximum lifetime of client tokens.
    pub token_ttl: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_millis(1000),
            check_timeout: Duration::from_secs(5),
            parallel_checks: 3,
            proposal_timeout: Duration::from_secs(10),
            history_window: Duration::from_secs(24 * 3600),
            token_ttl: Duration::from_secs(600),
        }
    }
}

/// The controller's logic, shared by its HTTP handlers and background tasks.
#[derive(Debug)]
pub struct Service {
    /// State.
    pub store: Arc<dyn Store>,
    /// Message delivery.
    pub hub: Arc<Hub>,
    /// Node admin API client.
    pub nodes: NodeClient,
    /// API keys and token secret.
    pub credentials: Credentials,
    /// Tunables.
    pub config: ServiceConfig,
    /// Metrics.
    pub metrics: Metrics,
    /// Itself, for the tasks it spawns (check timeouts).
    this: std::sync::OnceLock<std::sync::Weak<Service>>,
    /// This controller's queue in front of each store lock.
    local_locks: local_locks::LocalLocks,
}

impl std::fmt::Debug for dyn Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

/// Now, Unix milliseconds: the controller's one reading of the wall clock (tokens, heartbeat
/// ages and history are in wall time because several controllers share them).
#[allow(clippy::disallowed_methods)]
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A random ID: 16 hex digits.
pub fn random_id() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    newmedia_proto::signaling::to_hex(&bytes)
}

impl Service {
    /// The service, shared.
    pub fn new(
        store: Arc<dyn Store>,
        hub: Arc<Hub>,
        nodes: NodeClient,
        credentials: Credentials,
        config: ServiceConfig,
        metrics: Metrics,
    ) -> Arc<Self> {
        Arc::new_cyclic(|weak| {
            let this = std::sync::OnceLock::new();
            let _ = this.set(weak.clone());
            Service {
                store,
                hub,
                nodes,
                credentials,
                config,
                metrics,
                this,
                local_locks: local_locks::LocalLocks::default(),
            }
        })
    }

    /// Runs `f` holding the store lock `name`.
    pub(crate) async fn locked<T, F, Fut>(&self, name: &str, f: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let deadline = tokio::time::Instant::now() + LOCK_WAIT;
        // Queue behind this controller's other holders first (woken at once), then take the
        // store lock, which only another controller can be holding (polled).
        let _local = tokio::time::timeout_at(deadline, self.local_locks.acquire(name))
            .await
            .map_err(|_| StoreError::LockBusy(name.to_owned()))?;
        let token = random_id();
        let mut backoff = Duration::from_millis(1);
        while !self.store.try_lock(name, &token, LOCK_TTL).await? {
            if tokio::time::Instant::now() >= deadline {
                return Err(StoreError::LockBusy(name.to_owned()).into());
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(20));
        }
        let result = f().await;
        if let Err(e) = self.store.unlock(name, &token).await {
            tracing::warn!(lock = name, error = %e, "cannot release lock");
        }
        result
    }
}
