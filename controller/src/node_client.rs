//! Calls to an SFU node's admin API (docs/sfu.md, docs/contracts.md §3, §5): conferences,
//! endpoint admission, relay fingerprints, downlink checks and downlinks.

use newmedia_proto::signaling::rest::{
    NodeAdmission, NodeCheckCommand, NodeConference, NodeDownlink, NodeRegistration,
};
use std::time::Duration;
use thiserror::Error;

/// A failed admin call.
#[derive(Debug, Error)]
pub enum NodeError {
    /// No answer (connection refused, timeout).
    #[error("node {node}: {source}")]
    Unreachable {
        /// Node ID.
        node: String,
        /// Why.
        source: reqwest::Error,
    },
    /// An answer other than the expected ones.
    #[error("node {node}: {what} answered {status}")]
    Refused {
        /// Node ID.
        node: String,
        /// The call.
        what: &'static str,
        /// Its status.
        status: u16,
    },
}

/// An HTTP client for node admin APIs.
#[derive(Debug, Clone)]
pub struct NodeClient {
    http: reqwest::Client,
}

impl NodeClient {
    /// A client whose calls give up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        Self { http }
    }

    async fn call(
        &self,
        node: &NodeRegistration,
        what: &'static str,
        request: reqwest::RequestBuilder,
        ok: &[u16],
    ) -> Result<u16, NodeError> {
        let response = request
            .bearer_auth(&node.admin_token)
            .send()
            .await
            .map_err(|source| NodeError::Unreachable {
                node: node.node_id.clone(),
                source,
            })?;
        let status = response.status().as_u16();
        if ok.contains(&status) {
            Ok(status)
        } else {
            Err(NodeError::Refused {
                node: node.node_id.clone(),
                what,
                status,
            })
        }
    }

    fn url(node: &NodeRegistration, path: &str) -> String {
        format!("{}{path}", node.admin_url.trim_end_matches('/'))
    }

    /// `POST /v1/conferences`; an existing conference (409) is fine.
    pub async fn create_conference(
        &self,
        node: &NodeRegistration,
        conference_id: u64,
    ) -> Result<(), NodeError> {
        let req = self
            .http
            .post(Self::url(node, "/v1/conferences"))
            .json(&NodeConference { conference_id });
        self.call(node, "create conference", req, &[201, 409])
            .await
            .map(drop)
    }

    /// `DELETE /v1/conferences/{id}`; an unknown one (404) is fine.
    pub async fn delete_conference(
        &self,
        node: &NodeRegistration,
        conference_id: u64,
    ) -> Result<(), NodeError> {
        let req = self
            .http
            .delete(Self::url(node, &format!("/v1/conferences/{conference_id}")));
        self.call(node, "delete conference", req, &[204, 404])
            .await
            .map(drop)
    }

    /// `PUT /v1/conferences/{id}/endpoints/{endpointID}`.
    pub async fn admit(
        &self,
        node: &NodeRegistration,
        conference_id: u64,
        endpoint_id: u64,
        admission: &NodeAdmission,
    ) -> Result<(), NodeError> {
        let req = self
            .http
            .put(Self::url(
                node,
                &format!("/v1/conferences/{conference_id}/endpoints/{endpoint_id}"),
            ))
            .json(admission);
        self.call(node, "admit endpoint", req, &[200, 201])
            .await
            .map(drop)
    }

    /// `DELETE /v1/conferences/{id}/endpoints/{endpointID}`; unknown (404) is fine.
    pub async fn remove_endpoint(
        &self,
        node: &NodeRegistration,
        conference_id: u64,
        endpoint_id: u64,
    ) -> Result<(), NodeError> {
        let req = self.http.delete(Self::url(
            node,
            &format!("/v1/conferences/{conference_id}/endpoints/{endpoint_id}"),
        ));
        self.call(node, "remove endpoint", req, &[204, 404])
            .await
            .map(drop)
    }

    /// `PUT /v1/relay/fingerprints/{fp}`.
    pub async fn register_relay_fingerprint(
        &self,
        node: &NodeRegistration,
        fingerprint: &str,
    ) -> Result<(), NodeError> {
        let req = self.http.put(Self::url(
            node,
            &format!("/v1/relay/fingerprints/{fingerprint}"),
        ));
        self.call(node, "register relay fingerprint", req, &[200, 201, 204])
            .await
            .map(drop)
    }

    /// `POST /v1/checks` (202).
    pub async fn check(
        &self,
        node: &NodeRegistration,
        command: &NodeCheckCommand,
    ) -> Result<(), NodeError> {
        let req = self.http.post(Self::url(node, "/v1/checks")).json(command);
        self.call(node, "downlink check", req, &[200, 202])
            .await
            .map(drop)
    }

    /// `POST /v1/downlinks` (204; 409 when the secret does not match the node's check).
    pub async fn downlink(
        &self,
        node: &NodeRegistration,
        downlink: &NodeDownlink,
    ) -> Result<(), NodeError> {
        let req = self
            .http
            .post(Self::url(node, "/v1/downlinks"))
            .json(downlink);
        self.call(node, "install downlink", req, &[200, 204])
            .await
            .map(drop)
    }
}
