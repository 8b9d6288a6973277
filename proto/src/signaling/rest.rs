//! The JSON bodies of the controller's REST API and of the calls the controller makes to an
//! SFU node's admin API (PROTOCOL.md §14). Unknown keys are ignored, except in the bodies an
//! SFU node reads (its admin API denies them).

use super::{Address, Advertisement, Candidate, HexSecret};
use crate::crypto::Algorithm;
use crate::grant::Publication;
use serde::{Deserialize, Serialize};

/// `{"error": {"code", "message"}}`: every failed call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code ([`ErrorCode`]).
    pub code: ErrorCode,
    /// For people; never internals.
    pub message: String,
}

/// The stable error codes of the controller (REST and WebSocket `"error"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the body is not JSON of the expected shape.
    BadJson,
    /// 400: well-formed but invalid (bad fingerprint, empty party list, bad path value, ...).
    BadRequest,
    /// 400: the advertisement fails PROTOCOL.md §10 validation.
    BadAdvertisement,
    /// 401: no, unknown, expired or badly signed API key or token.
    Unauthorized,
    /// 403: the credential is valid but may not do this (a client acting for another).
    Forbidden,
    /// 404: no such client endpoint (it never advertised).
    UnknownEndpoint,
    /// 404: no such conference.
    UnknownConference,
    /// 404: no such SFU node.
    UnknownNode,
    /// 404: no such route.
    NotFound,
    /// 409: the client is already a party of the conference.
    AlreadyParty,
    /// 404: the client is not a party of the conference.
    NotParty,
    /// 409: a party rejected its proposal (only when the call waited for the results).
    ProposalRejected,
    /// 504: a party did not answer its proposal in time (only when the call waited).
    ProposalTimeout,
    /// 503: no live SFU node has room for the conference.
    NoNodeCapacity,
    /// 502: the SFU node chosen did not accept the conference or an endpoint.
    NodeFailed,
    /// WebSocket: a message that needs an advertisement first.
    NotAdvertised,
    /// WebSocket: the advertisement's `clientID` is not the token's client.
    ClientMismatch,
    /// WebSocket: `proposalResult` for a proposal that is not this client's current one.
    UnknownProposal,
    /// WebSocket: `checkReceived` that matches no pending check.
    UnknownCheck,
    /// 500: the state store failed.
    Internal,
    /// A code this implementation does not know (read from a newer controller).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The JSON string.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadJson => "bad_json",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::BadAdvertisement => "bad_advertisement",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::UnknownEndpoint => "unknown_endpoint",
            ErrorCode::UnknownConference => "unknown_conference",
            ErrorCode::UnknownNode => "unknown_node",
            ErrorCode::NotFound => "not_found",
            ErrorCode::AlreadyParty => "already_party",
            ErrorCode::NotParty => "not_party",
            ErrorCode::ProposalRejected => "proposal_rejected",
            ErrorCode::ProposalTimeout => "proposal_timeout",
            ErrorCode::NoNodeCapacity => "no_node_capacity",
            ErrorCode::NodeFailed => "node_failed",
            ErrorCode::NotAdvertised => "not_advertised",
            ErrorCode::ClientMismatch => "client_mismatch",
            ErrorCode::UnknownProposal => "unknown_proposal",
            ErrorCode::UnknownCheck => "unknown_check",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }
}

/// `POST /v1/tokens` (API key): a short-lived client token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRequest {
    /// `"clientID"`: the client the token speaks for (1 to 128 characters).
    #[serde(rename = "clientID")]
    pub client_id: String,
    /// `"ttlSecs"`: lifetime in seconds; default and maximum are the controller's
    /// `token_ttl_secs` (600).
    #[serde(rename = "ttlSecs", default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
}

/// The answer to `POST /v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// `"token"`: use as `Authorization: Bearer <token>`.
    pub token: String,
    /// `"clientID"`.
    #[serde(rename = "clientID")]
    pub client_id: String,
    /// `"expiresAt"`: Unix time, seconds.
    #[serde(rename = "expiresAt")]
    pub expires_at: u64,
}

/// `PUT /v1/endpoints/{clientID}/advertisement`: the same content as the WebSocket
/// `"advertisement"` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvertisementUpload {
    /// `"fingerprint"`: 64 hex digits.
    pub fingerprint: String,
    /// `"advertisement"`: draft §8.1.1.
    pub advertisement: Advertisement,
}

/// One client endpoint (`GET /v1/endpoints`, `GET /v1/endpoints/{clientID}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointInfo {
    /// `"clientID"`.
    #[serde(rename = "clientID")]
    pub client_id: String,
    /// `"fingerprint"`: 64 lower-case hex digits.
    pub fingerprint: String,
    /// `"connected"`: whether it has a WebSocket open to a controller.
    pub connected: bool,
    /// `"conferences"`: the conferences it is a party of.
    pub conferences: Vec<u64>,
    /// `"advertisement"`: its latest advertisement.
    pub advertisement: Advertisement,
}

/// `GET /v1/endpoints`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointList {
    /// `"endpoints"`, sorted by clientID.
    pub endpoints: Vec<EndpointInfo>,
}

/// How message secrets reach the parties (draft §5.6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyMode {
    /// `"value"`: the controller generates one random secret per publishing endpoint and
    /// sends it in `"secret"`.
    #[default]
    Value,
    /// `"reference"`: streams carry `"secretRef"`
    /// (`"newmedia:<conferenceID>:<endpointID>"`); the clients resolve it through their key
    /// provider and the controller never knows the secret.
    Reference,
}

/// `POST /v1/conferences`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateConference {
    /// `"parties"`: the clientIDs to connect (at least one, no duplicates).
    pub parties: Vec<String>,
    /// `"simulcast"`: video sources with maxWidth ≥ 1280 send two encodings. Default false.
    #[serde(default)]
    pub simulcast: bool,
    /// `"keys"`: `"value"` (default) or `"reference"`.
    #[serde(default)]
    pub keys: KeyMode,
    /// `"AEAD"`: the streams' AEAD. Default `"AES128-GCM"`.
    #[serde(rename = "AEAD", default, skip_serializing_if = "Option::is_none")]
    pub aead: Option<Algorithm>,
    /// `"wait"`: answer only once every party accepted (200), or 409 `proposal_rejected` /
    /// 504 `proposal_timeout`. Default false (answer 201 once the proposals are sent).
    #[serde(default)]
    pub wait: bool,
}

/// `POST /v1/conferences/{id}/parties`: join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    /// `"clientID"`.
    #[serde(rename = "clientID")]
    pub client_id: String,
    /// `"wait"`: as in [`CreateConference::wait`], for this party's proposal.
    #[serde(default)]
    pub wait: bool,
}

/// Where a party's current proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProposalStatus {
    /// Sent (or waiting for the client to connect), not answered.
    Pending,
    /// Accepted whole.
    Accepted,
    /// Rejected whole.
    Rejected,
}

/// One party of a conference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyState {
    /// `"clientID"`.
    #[serde(rename = "clientID")]
    pub client_id: String,
    /// `"endpointID"`: assigned per conference, from 1.
    #[serde(rename = "endpointID")]
    pub endpoint_id: u64,
    /// `"proposalID"`: its current proposal.
    #[serde(rename = "proposalID")]
    pub proposal_id: String,
    /// `"proposal"`: `"pending"`, `"accepted"` or `"rejected"`.
    pub proposal: ProposalStatus,
    /// `"reason"`: the client's reason for a rejection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `"consented"`: the address pair that carries its media, once consented
    /// (`"<client address as the node saw it> -> <node candidate>"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consented: Option<String>,
}

/// A conference (`POST`/`GET /v1/conferences...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConferenceState {
    /// `"conferenceID"`: random, 62 bits.
    #[serde(rename = "conferenceID")]
    pub conference_id: u64,
    /// `"nodeID"`: the SFU node it is placed on.
    #[serde(rename = "nodeID")]
    pub node_id: String,
    /// `"simulcast"`.
    pub simulcast: bool,
    /// `"keys"`.
    pub keys: KeyMode,
    /// `"AEAD"`.
    #[serde(rename = "AEAD")]
    pub aead: Algorithm,
    /// `"placements"`: how many times it was placed (1, plus one per re-placement).
    pub placements: u32,
    /// `"parties"`, by endpointID.
    pub parties: Vec<PartyState>,
}

/// `GET /v1/conferences`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConferenceList {
    /// `"conferences"`, by conferenceID.
    pub conferences: Vec<ConferenceState>,
}

/// A TURN2 service of a node (`"turn2"` of [`NodeRegistration`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn2Service {
    /// `"service"`: the relay's TCP address.
    pub service: Address,
}

/// `POST /v1/nodes` (node API key): an SFU node registers (again, after a restart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRegistration {
    /// `"nodeID"`: unique per node (1 to 128 characters).
    #[serde(rename = "nodeID")]
    pub node_id: String,
    /// `"candidates"`: the node's media addresses with their STUN2 secret.
    pub candidates: Vec<Candidate>,
    /// `"tlsFingerprintSHA256"`: the node certificate's fingerprint, 64 hex digits.
    #[serde(rename = "tlsFingerprintSHA256")]
    pub tls_fingerprint_sha256: String,
    /// `"adminURL"`: base URL of its admin API (`http://127.0.0.1:8080`).
    #[serde(rename = "adminURL")]
    pub admin_url: String,
    /// `"adminToken"`: bearer token of its admin API.
    #[serde(rename = "adminToken")]
    pub admin_token: String,
    /// `"capacity"`: how many endpoints it takes.
    pub capacity: u64,
    /// `"turn2"`: its relay, absent when it runs none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn2: Option<Turn2Service>,
}

/// The answer to `POST /v1/nodes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRegistered {
    /// `"heartbeatIntervalMs"`: send a heartbeat this often; 3 missed ones mean dead.
    #[serde(rename = "heartbeatIntervalMs")]
    pub heartbeat_interval_ms: u64,
}

/// `PUT /v1/nodes/{nodeID}/heartbeat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeHeartbeat {
    /// `"endpoints"`: connected endpoints.
    #[serde(default)]
    pub endpoints: u64,
    /// `"conferences"`: conferences on the node.
    #[serde(default)]
    pub conferences: u64,
    /// `"cpu"`: CPU load, cores busy / cores (0.0 to 1.0).
    #[serde(default)]
    pub cpu: f64,
}

/// `POST /v1/nodes/{nodeID}/checks`: STUN2 checks the node received (uplink receiver
/// reports).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCheckReports {
    /// `"checks"`.
    pub checks: Vec<super::CheckReceived>,
}

/// One node (`GET /v1/nodes`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// `"nodeID"`.
    #[serde(rename = "nodeID")]
    pub node_id: String,
    /// `"alive"`: heart-beating.
    pub alive: bool,
    /// `"capacity"`.
    pub capacity: u64,
    /// `"endpoints"`: endpoints the controller placed on it.
    pub endpoints: u64,
    /// `"load"`: its last heartbeat.
    pub load: NodeHeartbeat,
    /// `"candidates"`.
    pub candidates: Vec<Candidate>,
    /// `"turn2"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn2: Option<Turn2Service>,
}

/// `GET /v1/nodes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeList {
    /// `"nodes"`, by nodeID.
    pub nodes: Vec<NodeInfo>,
}

/// Controller → node: `POST {adminURL}/v1/conferences`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeConference {
    /// `"conferenceID"`.
    #[serde(rename = "conferenceID")]
    pub conference_id: u64,
}

/// Controller → node: `PUT {adminURL}/v1/conferences/{id}/endpoints/{endpointID}`
/// (docs/sfu.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAdmission {
    /// `"fingerprint"`: the client certificate's SHA-256, 64 hex digits.
    pub fingerprint: String,
    /// `"publications"`: what it may publish.
    pub publications: Vec<Publication>,
}

/// Controller → node: `POST {adminURL}/v1/checks` (downlink Snowflake check).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCheckCommand {
    /// `"checkID"`.
    #[serde(rename = "checkID")]
    pub check_id: String,
    /// `"to"`: the client candidate to send the STUN2 request to.
    pub to: Address,
    /// `"stunSecret"`: that candidate's STUN2 secret.
    #[serde(rename = "stunSecret")]
    pub stun_secret: String,
}

/// Controller → node: `POST {adminURL}/v1/downlinks` (downlink consent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeDownlink {
    /// `"checkID"`: the downlink check consented to.
    #[serde(rename = "checkID")]
    pub check_id: String,
    /// `"senderSecret"`: what the client received.
    #[serde(rename = "senderSecret")]
    pub sender_secret: HexSecret,
    /// `"observed"`: the client's address as the node saw it in the uplink check; packets to
    /// it go to the check's `to` instead.
    pub observed: Address,
}
