//! Where the controller keeps its state: the [`Store`] trait, with an in-memory default
//! ([`MemoryStore`], one controller) and a Redis backend ([`RedisStore`], several
//! controllers serving the same conferences).
//!
//! Read-modify-write sequences (a conference, a path) run under a named lock
//! ([`Store::try_lock`]): on Redis a `SET NX PX` key released by compare-and-delete, so two
//! controllers never interleave changes to one conference.

mod memory;
mod redis_store;

pub use memory::MemoryStore;
pub use redis_store::RedisStore;

use crate::model::{ClientRecord, ConferenceRecord, NodeRecord, PathRecord};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;
use thiserror::Error;

/// A store failure.
#[derive(Debug, Error)]
pub enum StoreError {
    /// Redis failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A stored record is not what this version writes.
    #[error("stored record {key} is corrupt: {source}")]
    Corrupt {
        /// The key.
        key: String,
        /// Why.
        source: serde_json::Error,
    },
    /// A lock stayed taken for longer than the wait allows.
    #[error("lock {0} is busy")]
    LockBusy(String),
}

/// Successes and failures of one candidate-type pair on one client network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairOutcomes {
    /// Consented checks.
    pub successes: u64,
    /// Checks that timed out or were refused.
    pub failures: u64,
    /// The last success, Unix milliseconds (0: never).
    pub last_success_ms: u64,
    /// The last failure, Unix milliseconds (0: never).
    pub last_failure_ms: u64,
}

/// A client network's history: candidate-type pair (`"local>local"`) to its outcomes.
pub type History = HashMap<String, PairOutcomes>;

/// The controller's state. Every method is one atomic step of the backend.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores (replaces) a client endpoint.
    async fn put_client(&self, client: &ClientRecord) -> Result<(), StoreError>;
    /// A client endpoint.
    async fn get_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError>;
    /// Every client endpoint.
    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StoreError>;
    /// Records which controller holds the client's WebSocket (`None`: none).
    async fn set_presence(
        &self,
        client_id: &str,
        controller: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Which controller holds the client's WebSocket.
    async fn presence(&self, client_id: &str) -> Result<Option<String>, StoreError>;

    /// Stores (replaces) a conference.
    async fn put_conference(&self, conference: &ConferenceRecord) -> Result<(), StoreError>;
    /// A conference.
    async fn get_conference(&self, id: u64) -> Result<Option<ConferenceRecord>, StoreError>;
    /// Every conference.
    async fn list_conferences(&self) -> Result<Vec<ConferenceRecord>, StoreError>;
    /// Removes a conference.
    async fn delete_conference(&self, id: u64) -> Result<(), StoreError>;

    /// Stores (replaces) a node.
    async fn put_node(&self, node: &NodeRecord) -> Result<(), StoreError>;
    /// A node.
    async fn get_node(&self, node_id: &str) -> Result<Option<NodeRecord>, StoreError>;
    /// Every node.
    async fn list_nodes(&self) -> Result<Vec<NodeRecord>, StoreError>;

    /// Adds one outcome of `pair_type` on `network` at `now_ms`.
    async fn record_outcome(
        &self,
        network: &str,
        pair_type: &str,
        success: bool,
        now_ms: u64,
    ) -> Result<(), StoreError>;
    /// The history of `network`.
    async fn history(&self, network: &str) -> Result<History, StoreError>;

    /// Stores (replaces) a path, reachable by each of `match_keys`, for `ttl`.
    async fn put_path(
        &self,
        path: &PathRecord,
        match_keys: &[String],
        ttl: Duration,
    ) -> Result<(), StoreError>;
    /// A path.
    async fn get_path(&self, path_id: &str) -> Result<Option<PathRecord>, StoreError>;
    /// The path a match key (transaction ID, downlink addresses) leads to.
    async fn find_path(&self, match_key: &str) -> Result<Option<String>, StoreError>;

    /// Takes lock `name` for at most `ttl` if it is free, with `token` as owner.
    async fn try_lock(&self, name: &str, token: &str, ttl: Duration) -> Result<bool, StoreError>;
    /// Releases lock `name` if `token` still owns it.
    async fn unlock(&self, name: &str, token: &str) -> Result<(), StoreError>;

    /// The value of `name`, set to `value` first if it has none: how controllers on one
    /// store agree on a generated API key and token secret.
    async fn get_or_init(&self, name: &str, value: &str) -> Result<String, StoreError>;
}
