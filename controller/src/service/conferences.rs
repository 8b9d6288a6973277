//! Conferences: create, join, leave, end; proposals and their results.

use super::Service;
use crate::error::ApiError;
use crate::model::{
    Admitted, ClientRecord, ConferenceRecord, NodeRecord, PartyRecord, conference_of_proposal,
};
use crate::plan;
use newmedia_proto::crypto::Algorithm;
use newmedia_proto::signaling::rest::{
    ConferenceList, ConferenceState, CreateConference, KeyMode, NodeAdmission, ProposalStatus,
};
use newmedia_proto::signaling::{ConferenceEnded, ProposalMessage, ProposalResult, ServerMessage};
use std::collections::{HashMap, HashSet};

/// The largest ID: 2^62-1 (IDs are QUIC varints).
const MAX_ID: u64 = (1 << 62) - 1;

fn random_conference_id() -> u64 {
    use rand::RngCore as _;
    rand::rngs::OsRng.next_u64() & MAX_ID
}

pub(super) fn conference_lock(id: u64) -> String {
    format!("conference:{id}")
}

impl Service {
    async fn client(&self, client_id: &str) -> Result<ClientRecord, ApiError> {
        self.store
            .get_client(client_id)
            .await?
            .ok_or_else(|| ApiError::UnknownEndpoint(client_id.to_owned()))
    }

    pub(super) async fn conference(&self, id: u64) -> Result<ConferenceRecord, ApiError> {
        self.store
            .get_conference(id)
            .await?
            .ok_or(ApiError::UnknownConference(id))
    }

    fn new_party(&self, conference: &mut ConferenceRecord, client_id: &str) {
        let endpoint_id = conference.next_endpoint_id;
        conference.next_endpoint_id += 1;
        let secret = (conference.keys == KeyMode::Value && conference.aead != Algorithm::Null)
            .then(crate::auth::random_secret);
        conference.parties.push(PartyRecord {
            client_id: client_id.to_owned(),
            endpoint_id,
            proposal_id: String::new(),
            status: ProposalStatus::Pending,
            reason: None,
            secret,
            generation: 0,
            consented: None,
            checked_node: None,
            proposal: None,
            admitted: None,
        });
    }

    /// Creates a conference of `request.parties`, places it, and sends every party its
    /// proposal.
    pub async fn create_conference(
        &self,
        request: CreateConference,
    ) -> Result<ConferenceState, ApiError> {
        if request.parties.is_empty() {
            return Err(ApiError::BadRequest("parties must not be empty".to_owned()));
        }
        let mut seen = HashSet::new();
        for p in &request.parties {
            if !seen.insert(p.as_str()) {
                return Err(ApiError::BadRequest(format!("party {p:?} is listed twice")));
            }
            self.client(p).await?;
        }
        let node = self.place(request.parties.len(), None).await?;
        let mut conference = ConferenceRecord {
            conference_id: random_conference_id(),
            node_id: node.registration.node_id.clone(),
            simulcast: request.simulcast,
            keys: request.keys,
            aead: request.aead.unwrap_or(Algorithm::Aes128Gcm),
            placements: 1,
            next_endpoint_id: 1,
            proposal_seq: 0,
            parties: Vec::new(),
        };
        for p in &request.parties {
            self.new_party(&mut conference, p);
        }
        let id = conference.conference_id;
        let state = self
            .locked(&conference_lock(id), || async {
                self.nodes
                    .create_conference(&node.registration, id)
                    .await
                    .map_err(|e| {
                        tracing::warn!(error = %e, "node refused the conference");
                        ApiError::NodeFailed(node.registration.node_id.clone())
                    })?;
                self.distribute(&mut conference, &node).await?;
                Ok(conference.state())
            })
            .await?;
        self.metrics.conferences_created.inc();
        tracing::info!(conference = id, node = %state.node_id, parties = state.parties.len(), "conference created");
        if request.wait {
            return self.wait_results(id, &request.parties).await;
        }
        Ok(state)
    }

    /// Plans the conference on `node`, admits there every party whose admission changed,
    /// gives every party whose proposal changed a fresh one, stores the conference, and sends
    /// those proposals. A party whose plan is unchanged keeps its proposal and its answer: a
    /// viewer joining a webinar costs the others nothing. Call under the conference lock.
    pub(super) async fn distribute(
        &self,
        conference: &mut ConferenceRecord,
        node: &NodeRecord,
    ) -> Result<(), ApiError> {
        let mut clients = HashMap::new();
        for party in &conference.parties {
            if let Some(c) = self.store.get_client(&party.client_id).await? {
                clients.insert(party.client_id.clone(), c);
            }
        }
        let node_id = &node.registration.node_id;
        let conference_id = conference.conference_id;
        let plans = plan::plan(conference, &clients, &node.registration);
        for p in &plans {
            let Some(client) = clients.get(&p.client_id) else {
                continue;
            };
            let admitted = Admitted {
                node_id: node_id.clone(),
                admission: NodeAdmission {
                    fingerprint: client.fingerprint.clone(),
                    publications: p.publications.clone(),
                },
            };
            let Some(party) = conference.party_mut(&p.client_id) else {
                continue;
            };
            if party.admitted.as_ref() == Some(&admitted) {
                continue;
            }
            self.nodes
                .admit(
                    &node.registration,
                    conference_id,
                    p.endpoint_id,
                    &admitted.admission,
                )
                .await
                .map_err(|e| {
                    tracing::warn!(error = %e, "node refused an endpoint");
                    ApiError::NodeFailed(node_id.clone())
                })?;
            party.admitted = Some(admitted);
        }
        let mut messages = Vec::new();
        for p in plans {
            if conference
                .party(&p.client_id)
                .is_none_or(|party| party.proposal.as_ref() == Some(&p.proposal))
            {
                continue;
            }
            let proposal_id = conference.next_proposal_id();
            let Some(party) = conference.party_mut(&p.client_id) else {
                continue;
            };
            party.proposal_id = proposal_id.clone();
            party.status = ProposalStatus::Pending;
            party.reason = None;
            party.proposal = Some(p.proposal.clone());
            messages.push((
                p.client_id,
                ServerMessage::Proposal(ProposalMessage {
                    proposal_id,
                    conference_id: conference.conference_id,
                    endpoint_id: p.endpoint_id,
                    proposal: p.proposal,
                }),
            ));
        }
        self.store.put_conference(conference).await?;
        for (client, message) in messages {
            self.hub.send(&client, message).await;
            self.metrics.proposals_sent.inc();
        }
        self.hub.conference_changed(conference.conference_id).await;
        Ok(())
    }

    /// Waits until every party in `clients` answered its current proposal.
    pub async fn wait_results(
        &self,
        id: u64,
        clients: &[String],
    ) -> Result<ConferenceState, ApiError> {
        let mut changes = self.hub.subscribe_changes();
        let deadline = tokio::time::Instant::now() + self.config.proposal_timeout;
        loop {
            let conference = self.conference(id).await?;
            let mut pending = Vec::new();
            for party in conference
                .parties
                .iter()
                .filter(|p| clients.contains(&p.client_id))
            {
                match party.status {
                    ProposalStatus::Rejected => {
                        return Err(ApiError::ProposalRejected {
                            client: party.client_id.clone(),
                            reason: party.reason.clone().unwrap_or_default(),
                        });
                    }
                    ProposalStatus::Pending => pending.push(party.client_id.clone()),
                    ProposalStatus::Accepted => {}
                }
            }
            if pending.is_empty() {
                return Ok(conference.state());
            }
            loop {
                match tokio::time::timeout_at(deadline, changes.recv()).await {
                    Err(_) => return Err(ApiError::ProposalTimeout(pending.join(", "))),
                    Ok(Ok(changed)) if changed != id => continue,
                    // A change of this conference, or missed changes: look again.
                    Ok(_) => break,
                }
            }
        }
    }

    /// Records a client's answer to a proposal; an acceptance starts Snowflake for it.
    pub async fn proposal_result(
        &self,
        client_id: &str,
        result: ProposalResult,
    ) -> Result<(), ApiError> {
        let unknown = || ApiError::UnknownProposal(result.proposal_id.clone());
        let id = conference_of_proposal(&result.proposal_id).ok_or_else(unknown)?;
        let round = self
            .locked(&conference_lock(id), || async {
                let mut conference = self.store.get_conference(id).await?.ok_or_else(unknown)?;
                let node_id = conference.node_id.clone();
                let party = conference
                    .party_mut(client_id)
                    .filter(|p| p.proposal_id == result.proposal_id)
                    .ok_or_else(unknown)?;
                let mut round = None;
                if result.accepted {
                    party.status = ProposalStatus::Accepted;
                    party.reason = None;
                    let connected = party.consented.is_some()
                        && party.checked_node.as_deref() == Some(node_id.as_str());
                    if !connected {
                        party.generation += 1;
                        party.consented = None;
                        party.checked_node = Some(node_id.clone());
                        round = Some(party.generation);
                    }
                } else {
                    party.status = ProposalStatus::Rejected;
                    party.reason = Some(result.reason.clone().unwrap_or_default());
                }
                self.store.put_conference(&conference).await?;
                Ok(round.map(|g| (g, node_id)))
            })
            .await?;
        let label = if result.accepted {
            "accepted"
        } else {
            "rejected"
        };
        self.metrics
            .proposal_results
            .with_label_values(&[label])
            .inc();
        tracing::info!(conference = id, client = client_id, result = label, reason = ?result.reason, "proposal answered");
        self.hub.conference_changed(id).await;
        if let Some((generation, node_id)) = round {
            self.start_round(id, client_id, generation, &node_id)
                .await?;
        }
        Ok(())
    }

    /// Adds a party; it gets a proposal, and so does every party whose proposal it changes.
    pub async fn join(
        &self,
        id: u64,
        client_id: &str,
        wait: bool,
    ) -> Result<ConferenceState, ApiError> {
        self.client(client_id).await?;
        let state = self
            .locked(&conference_lock(id), || async {
                let mut conference = self.conference(id).await?;
                if conference.party(client_id).is_some() {
                    return Err(ApiError::AlreadyParty {
                        client: client_id.to_owned(),
                        conference: id,
                    });
                }
                let node = self
                    .store
                    .get_node(&conference.node_id)
                    .await?
                    .filter(|n| n.alive)
                    .ok_or(ApiError::NoNodeCapacity(1))?;
                if self.room(&node).await? < 1 {
                    return Err(ApiError::NoNodeCapacity(1));
                }
                self.new_party(&mut conference, client_id);
                self.distribute(&mut conference, &node).await?;
                Ok(conference.state())
            })
            .await?;
        if wait {
            return self.wait_results(id, &[client_id.to_owned()]).await;
        }
        Ok(state)
    }

    /// Removes a party (it gets `conferenceEnded` with reason `left`); the others whose
    /// proposals it changes get new ones. The last party leaving ends the conference.
    pub async fn leave(&self, id: u64, client_id: &str) -> Result<(), ApiError> {
        let ended = self
            .locked(&conference_lock(id), || async {
                let mut conference = self.conference(id).await?;
                let Some(index) = conference
                    .parties
                    .iter()
                    .position(|p| p.client_id == client_id)
                else {
                    return Err(ApiError::NotParty {
                        client: client_id.to_owned(),
                        conference: id,
                    });
                };
                let party = conference.parties.remove(index);
                let node = self.store.get_node(&conference.node_id).await?;
                if let Some(node) = &node
                    && let Err(e) = self
                        .nodes
                        .remove_endpoint(&node.registration, id, party.endpoint_id)
                        .await
                {
                    tracing::warn!(error = %e, "endpoint not removed from its node");
                }
                if conference.parties.is_empty() {
                    self.store.delete_conference(id).await?;
                    if let Some(node) = &node {
                        let _ = self.nodes.delete_conference(&node.registration, id).await;
                    }
                    return Ok(true);
                }
                match node.filter(|n| n.alive) {
                    Some(node) => self.distribute(&mut conference, &node).await?,
                    None => self.store.put_conference(&conference).await?,
                }
                Ok(false)
            })
            .await?;
        self.hub
            .send(
                client_id,
                ServerMessage::ConferenceEnded(ConferenceEnded {
                    conference_id: id,
                    reason: "left".to_owned(),
                }),
            )
            .await;
        if ended {
            tracing::info!(conference = id, "last party left; conference ended");
        }
        self.hub.conference_changed(id).await;
        Ok(())
    }

    /// Ends a conference: every party gets `conferenceEnded` with reason `ended`.
    pub async fn end(&self, id: u64) -> Result<(), ApiError> {
        let conference = self
            .locked(&conference_lock(id), || async {
                let conference = self.conference(id).await?;
                self.store.delete_conference(id).await?;
                Ok(conference)
            })
            .await?;
        if let Some(node) = self.store.get_node(&conference.node_id).await?
            && let Err(e) = self.nodes.delete_conference(&node.registration, id).await
        {
            tracing::warn!(error = %e, "conference not deleted on its node");
        }
        for party in &conference.parties {
            self.hub
                .send(
                    &party.client_id,
                    ServerMessage::ConferenceEnded(ConferenceEnded {
                        conference_id: id,
                        reason: "ended".to_owned(),
                    }),
                )
                .await;
        }
        self.hub.conference_changed(id).await;
        tracing::info!(conference = id, "conference ended");
        Ok(())
    }

    /// One conference's state.
    pub async fn conference_state(&self, id: u64) -> Result<ConferenceState, ApiError> {
        Ok(self.conference(id).await?.state())
    }

    /// Every conference.
    pub async fn conferences(&self) -> Result<ConferenceList, ApiError> {
        Ok(ConferenceList {
            conferences: self
                .store
                .list_conferences()
                .await?
                .iter()
                .map(ConferenceRecord::state)
                .collect(),
        })
    }
}
