//! The node's HTTP client of the controller (docs/contracts.md §2): registration,
//! heartbeats, check reports. JSON bodies as the contract spells them.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;
use thiserror::Error;

/// Time limit of one controller call.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a controller call failed.
#[derive(Debug, Error)]
pub enum ControllerError {
    /// The controller does not know this node (heartbeat): register again.
    #[error("the controller does not know this node")]
    NotFound,
    /// Another non-success status.
    #[error("the controller answered {0}")]
    Status(u16),
    /// The request could not be made or its answer read (connection refused, timeout, bad
    /// JSON).
    #[error("controller request failed: {0}")]
    Http(#[from] reqwest::Error),
}

/// One media candidate of the node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeCandidate {
    /// The address clients send to.
    pub local: SocketAddr,
    /// The STUN2 secret of that address.
    #[serde(rename = "stunSecret")]
    pub stun_secret: String,
}

/// The node's TURN2 service, when it runs one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn2Service {
    /// Its TLS-over-TCP address.
    pub service: SocketAddr,
}

/// `POST {controller}/v1/nodes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    /// The node's ID.
    #[serde(rename = "nodeID")]
    pub node_id: String,
    /// Its media candidates.
    pub candidates: Vec<NodeCandidate>,
    /// SHA-256 of its certificate, 64 lower-case hex digits.
    #[serde(rename = "tlsFingerprintSHA256")]
    pub tls_fingerprint_sha256: String,
    /// Its admin API's base URL.
    #[serde(rename = "adminURL")]
    pub admin_url: String,
    /// The admin API's bearer token.
    #[serde(rename = "adminToken")]
    pub admin_token: String,
    /// Endpoints it is sized for.
    pub capacity: u64,
    /// Its relay, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub turn2: Option<Turn2Service>,
}

/// The controller's answer to a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Registered {
    /// How often to heart-beat, milliseconds.
    #[serde(rename = "heartbeatIntervalMs")]
    pub heartbeat_interval_ms: u64,
}

/// `PUT {controller}/v1/nodes/{nodeID}/heartbeat`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Connected endpoints.
    pub endpoints: u64,
    /// Conferences with connected endpoints.
    pub conferences: u64,
    /// Share of the machine's cores the process used since the last heartbeat, 0 to 1.
    pub cpu: f64,
}

/// One received STUN2 check, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// The observed source of the request.
    pub from: SocketAddr,
    /// The node's candidate it arrived on.
    pub to: SocketAddr,
    /// The request's transaction ID, 24 lower-case hex digits.
    #[serde(rename = "transactionID")]
    pub transaction_id: String,
    /// The request's sender secret, lower-case hex.
    #[serde(rename = "senderSecret")]
    pub sender_secret: String,
}

/// `POST {controller}/v1/nodes/{nodeID}/checks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckBatch {
    /// The checks.
    pub checks: Vec<CheckReport>,
}

/// The controller's REST API as the node uses it.
#[derive(Debug, Clone)]
pub struct ControllerClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl ControllerClient {
    /// A client of the controller at `base` (`http://host:port`, no trailing path) with the
    /// node API key `token`.
    pub fn new(base: &str, token: &str) -> Result<Self, ControllerError> {
        let http = reqwest::Client::builder().timeout(CALL_TIMEOUT).build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        })
    }

    /// Registers (or re-registers) the node.
    pub async fn register(
        &self,
        registration: &Registration,
    ) -> Result<Registered, ControllerError> {
        let response = self
            .http
            .post(format!("{}/v1/nodes", self.base))
            .bearer_auth(&self.token)
            .json(registration)
            .send()
            .await?;
        Ok(check(response)?.json().await?)
    }

    /// Sends one heartbeat.
    pub async fn heartbeat(
        &self,
        node_id: &str,
        heartbeat: &Heartbeat,
    ) -> Result<(), ControllerError> {
        let response = self
            .http
            .put(format!(
                "{}/v1/nodes/{}/heartbeat",
                self.base,
                path(node_id)
            ))
            .bearer_auth(&self.token)
            .json(heartbeat)
            .send()
            .await?;
        check(response).map(drop)
    }

    /// Reports received checks.
    pub async fn report_checks(
        &self,
        node_id: &str,
        batch: &CheckBatch,
    ) -> Result<(), ControllerError> {
        let response = self
            .http
            .post(format!("{}/v1/nodes/{}/checks", self.base, path(node_id)))
            .bearer_auth(&self.token)
            .json(batch)
            .send()
            .await?;
        check(response).map(drop)
    }
}

fn check(response: reqwest::Response) -> Result<reqwest::Response, ControllerError> {
    let status = response.status();
    if status.is_success() {
        Ok(response)
    } else if status == reqwest::StatusCode::NOT_FOUND {
        Err(ControllerError::NotFound)
    } else {
        Err(ControllerError::Status(status.as_u16()))
    }
}

/// A node ID as one URL path segment (percent-encoding everything but unreserved bytes).
fn path(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_as_the_contract_spells_it() {
        let r = Registration {
            node_id: "sfu-1".into(),
            candidates: vec![NodeCandidate {
                local: "127.0.0.1:4433".parse().unwrap(),
                stun_secret: "s".into(),
            }],
            tls_fingerprint_sha256: "ab".repeat(32),
            admin_url: "http://127.0.0.1:8080".into(),
            admin_token: "t".into(),
            capacity: 1000,
            turn2: None,
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["nodeID"], "sfu-1");
        assert_eq!(v["candidates"][0]["local"], "127.0.0.1:4433");
        assert_eq!(v["candidates"][0]["stunSecret"], "s");
        assert_eq!(v["adminURL"], "http://127.0.0.1:8080");
        assert!(v.get("turn2").is_none());
        let r = Registration {
            turn2: Some(Turn2Service {
                service: "127.0.0.1:4434".parse().unwrap(),
            }),
            ..r
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap()["turn2"]["service"],
            "127.0.0.1:4434"
        );
        assert_eq!(path("sfu 1/x"), "sfu%201%2Fx");
        let answer: Registered =
            serde_json::from_str(r#"{"heartbeatIntervalMs": 1000, "other": 1}"#).unwrap();
        assert_eq!(answer.heartbeat_interval_ms, 1000);
    }
}
