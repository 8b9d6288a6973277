//! The in-memory store: one controller, state lost at exit.

use super::{History, PairOutcomes, Store, StoreError};
use crate::model::{ClientRecord, ConferenceRecord, NodeRecord, PathRecord};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The default [`Store`]: maps behind one mutex (held only for a map operation, never across
/// an await). Paths do not expire here; they are small and finished ones are few.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    clients: BTreeMap<String, ClientRecord>,
    presence: HashMap<String, String>,
    conferences: BTreeMap<u64, ConferenceRecord>,
    nodes: BTreeMap<String, NodeRecord>,
    history: HashMap<String, History>,
    paths: HashMap<String, PathRecord>,
    path_keys: HashMap<String, String>,
    locks: HashMap<String, String>,
    values: HashMap<String, String>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves plain maps behind; keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn put_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        self.lock()
            .clients
            .insert(client.client_id.clone(), client.clone());
        Ok(())
    }

    async fn get_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        Ok(self.lock().clients.get(client_id).cloned())
    }

    async fn list_clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        Ok(self.lock().clients.values().cloned().collect())
    }

    async fn set_presence(
        &self,
        client_id: &str,
        controller: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        match controller {
            Some(c) => inner.presence.insert(client_id.to_owned(), c.to_owned()),
            None => inner.presence.remove(client_id),
        };
        Ok(())
    }

    async fn presence(&self, client_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.lock().presence.get(client_id).cloned())
    }

    async fn put_conference(&self, conference: &ConferenceRecord) -> Result<(), StoreError> {
        self.lock()
            .conferences
            .insert(conference.conference_id, conference.clone());
        Ok(())
    }

    async fn get_conference(&self, id: u64) -> Result<Option<ConferenceRecord>, StoreError> {
        Ok(self.lock().conferences.get(&id).cloned())
    }

    async fn list_conferences(&self) -> Result<Vec<ConferenceRecord>, StoreError> {
        Ok(self.lock().conferences.values().cloned().collect())
    }

    async fn delete_conference(&self, id: u64) -> Result<(), StoreError> {
        self.lock().conferences.remove(&id);
        Ok(())
    }

    async fn put_node(&self, node: &NodeRecord) -> Result<(), StoreError> {
        self.lock()
            .nodes
            .insert(node.registration.node_id.clone(), node.clone());
        Ok(())
    }

    async fn get_node(&self, node_id: &str) -> Result<Option<NodeRecord>, StoreError> {
        Ok(self.lock().nodes.get(node_id).cloned())
    }

    async fn list_nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        Ok(self.lock().nodes.values().cloned().collect())
    }

    async fn record_outcome(
        &self,
        network: &str,
        pair_type: &str,
        success: bool,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let entry: &mut PairOutcomes = inner
            .history
            .entry(network.to_owned())
            .or_default()
            .entry(pair_type.to_owned())
            .or_default();
        if success {
            entry.successes += 1;
            entry.last_success_ms = now_ms;
        } else {
            entry.failures += 1;
            entry.last_failure_ms = now_ms;
        }
        Ok(())
    }

    async fn history(&self, network: &str) -> Result<History, StoreError> {
        Ok(self
            .lock()
            .history
            .get(network)
            .cloned()
            .unwrap_or_default())
    }

    async fn put_path(
        &self,
        path: &PathRecord,
        match_keys: &[String],
        _ttl: Duration,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        for key in match_keys {
            inner.path_keys.insert(key.clone(), path.path_id.clone());
        }
        inner.paths.insert(path.path_id.clone(), path.clone());
        Ok(())
    }

    async fn get_path(&self, path_id: &str) -> Result<Option<PathRecord>, StoreError> {
        Ok(self.lock().paths.get(path_id).cloned())
    }

    async fn find_path(&self, match_key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.lock().path_keys.get(match_key).cloned())
    }

    async fn try_lock(&self, name: &str, token: &str, _ttl: Duration) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        if inner.locks.contains_key(name) {
            return Ok(false);
        }
        inner.locks.insert(name.to_owned(), token.to_owned());
        Ok(true)
    }

    async fn unlock(&self, name: &str, token: &str) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner.locks.get(name).is_some_and(|t| t == token) {
            inner.locks.remove(name);
        }
        Ok(())
    }

    async fn get_or_init(&self, name: &str, value: &str) -> Result<String, StoreError> {
        Ok(self
            .lock()
            .values
            .entry(name.to_owned())
            .or_insert_with(|| value.to_owned())
            .clone())
    }
}
