//! SFU nodes: registration, heartbeats, placement, death and re-placement.
//!
//! Placement: among live nodes with room (`capacity` minus the endpoints the controller
//! placed there, at least the endpoints to add), the least loaded, where load is
//! max(placed, heart-beaten endpoints) / capacity, then CPU, then node ID.

use super::conferences::conference_lock;
use super::{Service, now_ms};
use crate::error::ApiError;
use crate::model::NodeRecord;
use newmedia_proto::signaling::rest::{NodeHeartbeat, NodeList, NodeRegistered, NodeRegistration};
use std::collections::HashMap;

impl Service {
    /// `POST /v1/nodes`.
    pub async fn register_node(
        &self,
        registration: NodeRegistration,
    ) -> Result<NodeRegistered, ApiError> {
        super::endpoints::check_client_id(&registration.node_id)
            .map_err(|_| ApiError::BadRequest("a nodeID is 1 to 128 characters".to_owned()))?;
        let mut registration = registration;
        registration.tls_fingerprint_sha256 =
            super::endpoints::normalize_fingerprint(&registration.tls_fingerprint_sha256)?;
        if registration.candidates.is_empty()
            || registration
                .candidates
                .iter()
                .any(|c| c.address().is_none())
        {
            return Err(ApiError::BadRequest(
                "candidates: at least one, each with exactly one of relay, stun, local".to_owned(),
            ));
        }
        if !(registration.admin_url.starts_with("http://")
            || registration.admin_url.starts_with("https://"))
        {
            return Err(ApiError::BadRequest(
                "adminURL must be an http:// or https:// URL".to_owned(),
            ));
        }
        tracing::info!(node = %registration.node_id, capacity = registration.capacity, "node registered");
        self.store
            .put_node(&NodeRecord {
                registration,
                load: NodeHeartbeat::default(),
                last_seen_ms: now_ms(),
                alive: true,
            })
            .await?;
        Ok(NodeRegistered {
            heartbeat_interval_ms: u64::try_from(self.config.heartbeat_interval.as_millis())
                .unwrap_or(u64::MAX),
        })
    }

    /// `PUT /v1/nodes/{id}/heartbeat`. A dead node is unknown: it must register again.
    pub async fn heartbeat(&self, node_id: &str, load: NodeHeartbeat) -> Result<(), ApiError> {
        let mut node = self
            .store
            .get_node(node_id)
            .await?
            .filter(|n| n.alive)
            .ok_or_else(|| ApiError::UnknownNode(node_id.to_owned()))?;
        node.load = load;
        node.last_seen_ms = now_ms();
        self.store.put_node(&node).await?;
        Ok(())
    }

    async fn placed(&self) -> Result<HashMap<String, u64>, ApiError> {
        let mut placed = HashMap::new();
        for c in self.store.list_conferences().await? {
            *placed.entry(c.node_id).or_insert(0) += c.parties.len() as u64;
        }
        Ok(placed)
    }

    /// `GET /v1/nodes`.
    pub async fn node_list(&self) -> Result<NodeList, ApiError> {
        let placed = self.placed().await?;
        let mut nodes: Vec<_> = self
            .store
            .list_nodes()
            .await?
            .iter()
            .map(|n| {
                n.info(
                    placed
                        .get(&n.registration.node_id)
                        .copied()
                        .unwrap_or_default(),
                )
            })
            .collect();
        nodes.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        Ok(NodeList { nodes })
    }

    /// How many more endpoints `node` takes.
    pub(super) async fn room(&self, node: &NodeRecord) -> Result<u64, ApiError> {
        let placed = self.placed().await?;
        let used = placed
            .get(&node.registration.node_id)
            .copied()
            .unwrap_or_default();
        Ok(node.registration.capacity.saturating_sub(used))
    }

    /// The node for `endpoints` more endpoints (see the module docs), not `except`.
    pub(super) async fn place(
        &self,
        endpoints: usize,
        except: Option<&str>,
    ) -> Result<NodeRecord, ApiError> {
        let placed = self.placed().await?;
        let need = endpoints as u64;
        let mut best: Option<(f64, f64, NodeRecord)> = None;
        for node in self.store.list_nodes().await? {
            let id = node.registration.node_id.as_str();
            if !node.alive || Some(id) == except {
                continue;
            }
            let used = placed.get(id).copied().unwrap_or_default();
            let capacity = node.registration.capacity;
            if used.saturating_add(need) > capacity {
                continue;
            }
            let load = used.max(node.load.endpoints) as f64 / capacity.max(1) as f64;
            let cpu = node.load.cpu;
            let better = match &best {
                None => true,
                Some((l, c, b)) => (load, cpu, id) < (*l, *c, b.registration.node_id.as_str()),
            };
            if better {
                best = Some((load, cpu, node));
            }
        }
        best.map(|(_, _, n)| n)
            .ok_or(ApiError::NoNodeCapacity(endpoints))
    }

    /// Declares nodes dead that missed 3 heartbeats and places their conferences again
    /// (also conferences left on a dead node by an earlier sweep that found no room).
    pub async fn sweep(&self) -> Result<(), ApiError> {
        let now = now_ms();
        let limit = u64::try_from(self.config.heartbeat_interval.as_millis())
            .unwrap_or(u64::MAX)
            .saturating_mul(3);
        for node in self.store.list_nodes().await? {
            if !node.alive || now.saturating_sub(node.last_seen_ms) <= limit {
                continue;
            }
            let id = node.registration.node_id.clone();
            self.locked(&format!("node:{id}"), || async {
                if let Some(mut n) = self.store.get_node(&id).await?
                    && n.alive
                    && now_ms().saturating_sub(n.last_seen_ms) > limit
                {
                    n.alive = false;
                    self.store.put_node(&n).await?;
                    self.metrics.node_deaths.inc();
                    tracing::warn!(node = %id, "node missed 3 heartbeats; declared dead");
                }
                Ok(())
            })
            .await?;
        }
        let alive: HashMap<String, bool> = self
            .store
            .list_nodes()
            .await?
            .into_iter()
            .map(|n| (n.registration.node_id, n.alive))
            .collect();
        for conference in self.store.list_conferences().await? {
            if alive.get(&conference.node_id).copied().unwrap_or(false) {
                continue;
            }
            if let Err(e) = self.replace(conference.conference_id).await {
                tracing::warn!(conference = conference.conference_id, error = %e, "re-placement failed");
            }
        }
        Ok(())
    }

    /// Places a conference whose node is dead on another node and sends new proposals.
    async fn replace(&self, id: u64) -> Result<(), ApiError> {
        self.locked(&conference_lock(id), || async {
            let Some(mut conference) = self.store.get_conference(id).await? else {
                return Ok(());
            };
            let old = conference.node_id.clone();
            if self
                .store
                .get_node(&old)
                .await?
                .is_some_and(|n| n.alive)
            {
                return Ok(());
            }
            let node = self.place(conference.parties.len(), Some(&old)).await?;
            self.nodes
                .create_conference(&node.registration, id)
                .await
                .map_err(|_| ApiError::NodeFailed(node.registration.node_id.clone()))?;
            conference.node_id = node.registration.node_id.clone();
            conference.placements += 1;
            for party in &mut conference.parties {
                party.consented = None;
                party.checked_node = None;
                // The new node knows nothing of them: admit and propose everyone again.
                party.admitted = None;
                party.proposal = None;
            }
            self.distribute(&mut conference, &node).await?;
            self.metrics.replacements.inc();
            tracing::info!(conference = id, from = %old, to = %conference.node_id, "conference placed again");
            Ok(())
        })
        .await
    }
}
