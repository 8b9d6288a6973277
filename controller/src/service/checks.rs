//! The Snowflake flow (docs/contracts.md §3): order checks for the top paths, match the
//! receivers' reports, and give the sender the secret.
//!
//! A round starts when a party accepts a proposal on a node it has no consented path to, or
//! when its candidates change. For each of the top `parallel_checks` ranked paths the
//! controller stores a [`PathRecord`] and orders its checks: the uplink one over the
//! client's WebSocket (with a transaction ID the controller chose, by which the node's
//! report is matched) and, for a relay path, the downlink one through the node's admin API
//! (matched by the client, the node address it came from and the relay address it reached).
//! A client that advertises a relay candidate may not receive UDP directly, so its direct
//! paths get a downlink check too, to the path's own client candidate: a direct path is then
//! consented only when the client proved it receives the node's packets there.
//! When every check of a path is reported, the path succeeded. Only the first complete path
//! of the party's current round wins: for a relay path the node is given the downlink secret
//! first (`POST /v1/downlinks`, so a losing relay path never redirects the node), then the
//! client gets its uplink consent. A path not complete within `check_timeout` failed. Both
//! outcomes go into the client network's history.

use super::conferences::conference_lock;
use super::{Service, now_ms, random_id};
use crate::error::ApiError;
use crate::model::{DownlinkCheck, PathRecord, UplinkCheck};
use crate::snowflake::{self, RankInput};
use newmedia_proto::signaling::rest::{NodeCheckCommand, NodeDownlink};
use newmedia_proto::signaling::{
    CandidateKind, CheckCommand, CheckReceived, Consent, HexTransactionId, ServerMessage,
};
use std::sync::Arc;
use std::time::Duration;

/// What became of a path whose checks were all reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Completion {
    /// It won its round: consented (and its downlink installed).
    Consented,
    /// It worked, but its round was consented already or is over.
    Lost,
    /// Its downlink could not be installed.
    Failed,
}

fn path_lock(id: &str) -> String {
    format!("path:{id}")
}

fn random_transaction_id() -> HexTransactionId {
    use rand::RngCore as _;
    let mut id = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut id);
    HexTransactionId(id)
}

impl Service {
    /// Bumps the round of `client_id` in every conference where it accepted its proposal, and
    /// checks again (new candidates after a network change).
    pub(super) async fn candidates_changed(&self, client_id: &str) -> Result<(), ApiError> {
        for conference in self.store.list_conferences().await? {
            let id = conference.conference_id;
            if conference.party(client_id).is_none_or(|p| {
                p.status != newmedia_proto::signaling::rest::ProposalStatus::Accepted
            }) {
                continue;
            }
            let round = self
                .locked(&conference_lock(id), || async {
                    let Some(mut c) = self.store.get_conference(id).await? else {
                        return Ok(None);
                    };
                    let node_id = c.node_id.clone();
                    let Some(party) = c.party_mut(client_id) else {
                        return Ok(None);
                    };
                    party.generation += 1;
                    party.consented = None;
                    party.checked_node = Some(node_id.clone());
                    let g = party.generation;
                    self.store.put_conference(&c).await?;
                    Ok(Some((g, node_id)))
                })
                .await?;
            if let Some((generation, node_id)) = round {
                tracing::info!(
                    conference = id,
                    client = client_id,
                    "candidates changed; checking again"
                );
                self.start_round(id, client_id, generation, &node_id)
                    .await?;
            }
        }
        Ok(())
    }

    /// Orders the checks of round `generation` of `client_id` in conference `id` on `node_id`.
    pub(super) async fn start_round(
        &self,
        id: u64,
        client_id: &str,
        generation: u64,
        node_id: &str,
    ) -> Result<(), ApiError> {
        let Some(client) = self.store.get_client(client_id).await? else {
            return Ok(());
        };
        let Some(node) = self.store.get_node(node_id).await? else {
            return Ok(());
        };
        let history = self.store.history(&client.network_key).await?;
        let input = RankInput {
            history: &history,
            now_ms: now_ms(),
            window_ms: u64::try_from(self.config.history_window.as_millis()).unwrap_or(u64::MAX),
        };
        let ranked = snowflake::rank(
            client.advertisement.receive_at(),
            &node.registration.candidates,
            &input,
        );
        // A client that advertises a relay says it may not receive UDP directly: its direct
        // paths are proven in both directions (a downlink check to the path's own candidate)
        // before one is consented, so the relay path wins when the direct one is blocked.
        let advertises_relay = client
            .advertisement
            .receive_at()
            .iter()
            .any(|c| matches!(c.address(), Some((CandidateKind::Relay, _))));
        // One path per (client candidate, node candidate): its downlink check is matched by
        // the client and those two addresses alone.
        for path in ranked.into_iter().take(self.config.parallel_checks.max(1)) {
            let (Some(from), Some(to)) = (
                snowflake::rank::address_of(&path.from),
                snowflake::rank::address_of(&path.to),
            ) else {
                continue;
            };
            let path_id = random_id();
            let uplink = UplinkCheck {
                check_id: format!("{path_id}.u"),
                from: from.clone(),
                to: to.clone(),
                stun_secret: path.to.stun_secret.clone(),
                transaction_id: random_transaction_id(),
            };
            let downlink = match &path.relay {
                Some(relay) => snowflake::rank::address_of(relay).map(|relay_addr| DownlinkCheck {
                    check_id: format!("{path_id}.d"),
                    from: to.clone(),
                    to: relay_addr.clone(),
                    stun_secret: relay.stun_secret.clone(),
                    redirect: true,
                }),
                None if advertises_relay => Some(DownlinkCheck {
                    check_id: format!("{path_id}.d"),
                    from: to.clone(),
                    to: from.clone(),
                    stun_secret: path.from.stun_secret.clone(),
                    redirect: false,
                }),
                None => None,
            };
            let record = PathRecord {
                path_id: path_id.clone(),
                conference_id: id,
                client_id: client_id.to_owned(),
                node_id: node_id.to_owned(),
                generation,
                network_key: client.network_key.clone(),
                pair_type: path.pair_type.clone(),
                uplink,
                uplink_report: None,
                downlink,
                downlink_report: None,
                finished: false,
            };
            let mut keys = vec![snowflake::uplink_match_key(&record.uplink.transaction_id)];
            if let Some(d) = &record.downlink {
                keys.push(snowflake::downlink_match_key(client_id, &d.from, &d.to));
            }
            let ttl = self.config.check_timeout * 2 + Duration::from_secs(5);
            self.store.put_path(&record, &keys, ttl).await?;

            if let Some(d) = &record.downlink {
                let command = NodeCheckCommand {
                    check_id: d.check_id.clone(),
                    to: d.to.clone(),
                    stun_secret: d.stun_secret.clone(),
                };
                self.metrics.checks.with_label_values(&["downlink"]).inc();
                if let Err(e) = self.nodes.check(&node.registration, &command).await {
                    tracing::warn!(error = %e, "downlink check not ordered");
                    self.finish_failed(&record.path_id).await?;
                    continue;
                }
            }
            self.metrics.checks.with_label_values(&["uplink"]).inc();
            self.hub
                .send(
                    client_id,
                    ServerMessage::Check(CheckCommand {
                        check_id: record.uplink.check_id.clone(),
                        conference_id: id,
                        from: record.uplink.from.clone(),
                        to: record.uplink.to.clone(),
                        stun_secret: record.uplink.stun_secret.clone(),
                        transaction_id: record.uplink.transaction_id,
                    }),
                )
                .await;
            self.spawn_timeout(path_id);
        }
        Ok(())
    }

    fn spawn_timeout(&self, path_id: String) {
        let Some(service) = self.self_arc() else {
            return;
        };
        let timeout = self.config.check_timeout;
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            if let Err(e) = service.finish_failed(&path_id).await {
                tracing::warn!(error = %e, "check timeout not recorded");
            }
        });
    }

    /// Marks an unfinished path failed.
    async fn finish_failed(&self, path_id: &str) -> Result<(), ApiError> {
        self.locked(&path_lock(path_id), || async {
            let Some(mut path) = self.store.get_path(path_id).await? else {
                return Ok(None);
            };
            if path.finished {
                return Ok(None);
            }
            path.finished = true;
            self.store
                .put_path(&path, &[], self.config.check_timeout)
                .await?;
            self.store
                .record_outcome(&path.network_key, &path.pair_type, false, now_ms())
                .await?;
            self.metrics
                .check_outcomes
                .with_label_values(&["failure"])
                .inc();
            tracing::info!(path = path_id, pair = %path.pair_type, "check failed");
            Ok(Some(path.conference_id))
        })
        .await?
        .map_or(Ok(()), |id| {
            // Waiters re-read the conference's state, which includes its consent.
            let hub = self.hub.clone();
            tokio::spawn(async move { hub.conference_changed(id).await });
            Ok(())
        })
    }

    /// A node's uplink reports (`POST /v1/nodes/{id}/checks`). Reports that match no check
    /// are ignored (the node reports every STUN2 request with a sender secret).
    pub async fn node_reports(
        &self,
        node_id: &str,
        reports: Vec<CheckReceived>,
    ) -> Result<usize, ApiError> {
        if self.store.get_node(node_id).await?.is_none() {
            return Err(ApiError::UnknownNode(node_id.to_owned()));
        }
        let mut matched = 0;
        for report in reports {
            let key = snowflake::uplink_match_key(&report.transaction_id);
            let Some(path_id) = self.store.find_path(&key).await? else {
                continue;
            };
            let ok = self
                .locked(&path_lock(&path_id), || async {
                    let Some(mut path) = self.store.get_path(&path_id).await? else {
                        return Ok(None);
                    };
                    if path.node_id != node_id
                        || !snowflake::same_destination(&report.to, &path.uplink.to)
                        || path.uplink_report.is_some()
                    {
                        return Ok(None);
                    }
                    path.uplink_report = Some((report.from.clone(), report.sender_secret.clone()));
                    Ok(Some(self.complete(path).await?))
                })
                .await?;
            if ok.is_some() {
                matched += 1;
            }
        }
        Ok(matched)
    }

    /// A client's downlink report (`checkReceived`).
    pub async fn client_report(
        &self,
        client_id: &str,
        report: CheckReceived,
    ) -> Result<(), ApiError> {
        let key = snowflake::downlink_match_key(client_id, &report.from, &report.to);
        let path_id = self
            .store
            .find_path(&key)
            .await?
            .ok_or(ApiError::UnknownCheck)?;
        self.locked(&path_lock(&path_id), || async {
            let mut path = self
                .store
                .get_path(&path_id)
                .await?
                .ok_or(ApiError::UnknownCheck)?;
            if path.downlink_report.is_none() {
                path.downlink_report = Some(report.sender_secret.clone());
            }
            self.complete(path).await
        })
        .await
    }

    /// Stores `path` and, when every check of it is reported, finishes it (success) and,
    /// if it is the first complete path of the party's current round, installs its downlink
    /// redirect (relay paths) and consents. Call under the path lock.
    async fn complete(&self, mut path: PathRecord) -> Result<(), ApiError> {
        let ttl = self.config.check_timeout * 2 + Duration::from_secs(5);
        let ready = !path.finished
            && path.uplink_report.is_some()
            && (path.downlink.is_none() || path.downlink_report.is_some());
        if !ready {
            self.store.put_path(&path, &[], ttl).await?;
            return Ok(());
        }
        path.finished = true;
        self.store.put_path(&path, &[], ttl).await?;
        let Some((observed, uplink_secret)) = path.uplink_report.clone() else {
            return Ok(());
        };
        let id = path.conference_id;
        // Decided under the conference lock: only the round's winner redirects the node (a
        // losing relay path must not send a client that receives directly through its relay,
        // nor may two paths completing at once both install).
        let outcome = self
            .locked(&conference_lock(id), || async {
                let Some(mut conference) = self.store.get_conference(id).await? else {
                    return Ok(Completion::Lost);
                };
                let Some(party) = conference.party_mut(&path.client_id) else {
                    return Ok(Completion::Lost);
                };
                if party.generation != path.generation || party.consented.is_some() {
                    return Ok(Completion::Lost);
                }
                if let (Some(d), Some(secret)) = (&path.downlink, &path.downlink_report)
                    && d.redirect
                {
                    let Some(node) = self.store.get_node(&path.node_id).await? else {
                        return Ok(Completion::Failed);
                    };
                    let install = NodeDownlink {
                        check_id: d.check_id.clone(),
                        sender_secret: secret.clone(),
                        observed: observed.clone(),
                    };
                    if let Err(e) = self.nodes.downlink(&node.registration, &install).await {
                        tracing::warn!(error = %e, "downlink not installed");
                        return Ok(Completion::Failed);
                    }
                }
                party.consented = Some(format!("{observed} -> {}", path.uplink.to));
                self.store.put_conference(&conference).await?;
                Ok(Completion::Consented)
            })
            .await?;
        let success = outcome != Completion::Failed;
        self.store
            .record_outcome(&path.network_key, &path.pair_type, success, now_ms())
            .await?;
        self.metrics
            .check_outcomes
            .with_label_values(&[if success { "success" } else { "failure" }])
            .inc();
        if outcome == Completion::Consented {
            self.metrics.consents.inc();
            tracing::info!(conference = id, client = %path.client_id, pair = %path.pair_type, "consent");
            self.hub
                .send(
                    &path.client_id,
                    ServerMessage::Consent(Consent {
                        check_id: path.uplink.check_id.clone(),
                        conference_id: id,
                        sender_secret: uplink_secret,
                        observed,
                    }),
                )
                .await;
            self.hub.conference_changed(id).await;
        }
        Ok(())
    }

    fn self_arc(&self) -> Option<Arc<Service>> {
        self.this.get().and_then(std::sync::Weak::upgrade)
    }
}
