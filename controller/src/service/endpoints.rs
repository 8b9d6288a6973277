//! Client endpoints: advertisements (REST and WebSocket), listing, connection presence.

use super::Service;
use crate::error::ApiError;
use crate::model::ClientRecord;
use crate::snowflake::client_network;
use newmedia_proto::signaling::rest::{EndpointInfo, EndpointList, ProposalStatus};
use newmedia_proto::signaling::{
    Advertisement, ProposalMessage, RelayInfo, ServerMessage, Welcome, parse_fingerprint, to_hex,
};
use std::net::IpAddr;

/// The longest client ID.
pub const MAX_CLIENT_ID_LEN: usize = 128;

/// Checks a client ID: 1 to 128 characters, no control characters.
pub fn check_client_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.chars().count() > MAX_CLIENT_ID_LEN || id.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "a clientID is 1 to 128 characters without control characters".to_owned(),
        ));
    }
    Ok(())
}

/// The fingerprint as 64 lower-case hex digits.
pub fn normalize_fingerprint(text: &str) -> Result<String, ApiError> {
    parse_fingerprint(text)
        .map(|fp| to_hex(&fp))
        .ok_or_else(|| {
            ApiError::BadRequest(
                "fingerprint must be 64 hex digits, optionally as colon-separated pairs".to_owned(),
            )
        })
}

impl Service {
    /// Stores a client's advertisement, registers its fingerprint with every live relay, and
    /// when its candidates changed, runs Snowflake again in its conferences. `observed` is the
    /// address its WebSocket came from, if any.
    pub async fn advertise(
        &self,
        client_id: &str,
        fingerprint: &str,
        advertisement: Advertisement,
        observed: Option<IpAddr>,
    ) -> Result<Welcome, ApiError> {
        check_client_id(client_id)?;
        advertisement
            .validate()
            .map_err(|e| ApiError::BadAdvertisement(e.to_string()))?;
        let fingerprint = normalize_fingerprint(fingerprint)?;
        let previous = self.store.get_client(client_id).await?;
        let record = ClientRecord {
            client_id: client_id.to_owned(),
            fingerprint: fingerprint.clone(),
            network_key: client_network(&advertisement, observed),
            advertisement,
        };
        self.store.put_client(&record).await?;
        tracing::info!(client = client_id, network = %record.network_key, "advertisement");

        let mut relays = Vec::new();
        for node in self.store.list_nodes().await? {
            let Some(turn2) = node.registration.turn2.as_ref().filter(|_| node.alive) else {
                continue;
            };
            match self
                .nodes
                .register_relay_fingerprint(&node.registration, &fingerprint)
                .await
            {
                Ok(()) => relays.push(RelayInfo {
                    service: turn2.service.clone(),
                    tls_fingerprint_sha256: node.registration.tls_fingerprint_sha256.clone(),
                }),
                Err(e) => tracing::warn!(error = %e, "relay fingerprint not registered"),
            }
        }

        let moved = previous
            .is_some_and(|p| p.advertisement.receive_at() != record.advertisement.receive_at());
        if moved {
            self.candidates_changed(client_id).await?;
        }
        Ok(Welcome {
            client_id: client_id.to_owned(),
            relays,
        })
    }

    /// Sends a client that just connected the pending proposals it may have missed.
    pub async fn resend_pending(&self, client_id: &str) -> Result<(), ApiError> {
        for conference in self.store.list_conferences().await? {
            let Some(party) = conference.party(client_id) else {
                continue;
            };
            if party.status != ProposalStatus::Pending {
                continue;
            }
            if let Some(proposal) = &party.proposal {
                self.hub
                    .send(
                        client_id,
                        ServerMessage::Proposal(ProposalMessage {
                            proposal_id: party.proposal_id.clone(),
                            conference_id: conference.conference_id,
                            endpoint_id: party.endpoint_id,
                            proposal: proposal.clone(),
                        }),
                    )
                    .await;
            }
        }
        Ok(())
    }

    /// One endpoint's view.
    pub async fn endpoint(&self, client_id: &str) -> Result<EndpointInfo, ApiError> {
        let client = self
            .store
            .get_client(client_id)
            .await?
            .ok_or_else(|| ApiError::UnknownEndpoint(client_id.to_owned()))?;
        let conferences = self.store.list_conferences().await?;
        self.endpoint_info(client, &conferences).await
    }

    async fn endpoint_info(
        &self,
        client: ClientRecord,
        conferences: &[crate::model::ConferenceRecord],
    ) -> Result<EndpointInfo, ApiError> {
        let connected = self.store.presence(&client.client_id).await?.is_some();
        Ok(EndpointInfo {
            conferences: conferences
                .iter()
                .filter(|c| c.party(&client.client_id).is_some())
                .map(|c| c.conference_id)
                .collect(),
            client_id: client.client_id,
            fingerprint: client.fingerprint,
            connected,
            advertisement: client.advertisement,
        })
    }

    /// Every endpoint.
    pub async fn endpoints(&self) -> Result<EndpointList, ApiError> {
        let conferences = self.store.list_conferences().await?;
        let mut endpoints = Vec::new();
        for client in self.store.list_clients().await? {
            endpoints.push(self.endpoint_info(client, &conferences).await?);
        }
        endpoints.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok(EndpointList { endpoints })
    }
}
