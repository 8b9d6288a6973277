//! The records the controller keeps in its [`crate::store::Store`]: client endpoints,
//! conferences, SFU nodes and Snowflake paths. They are plain serde data, so the Redis store
//! keeps them as JSON and every controller on one Redis reads the same state.

use newmedia_proto::crypto::Algorithm;
use newmedia_proto::signaling::rest::{
    ConferenceState, KeyMode, NodeAdmission, NodeHeartbeat, NodeInfo, NodeRegistration, PartyState,
    ProposalStatus,
};
use newmedia_proto::signaling::{Address, Advertisement, HexSecret, HexTransactionId, Proposal};
use serde::{Deserialize, Serialize};

/// A client endpoint: who it is, its certificate and its latest advertisement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// The client ID its token names.
    pub client_id: String,
    /// SHA-256 of its certificate, 64 lower-case hex digits.
    pub fingerprint: String,
    /// Its latest advertisement.
    pub advertisement: Advertisement,
    /// The network its history is kept under (see [`crate::snowflake::network_key`]).
    pub network_key: String,
}

/// One party of a conference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyRecord {
    /// Client ID.
    pub client_id: String,
    /// Endpoint ID in this conference.
    pub endpoint_id: u64,
    /// Its current proposal's ID.
    pub proposal_id: String,
    /// Where that proposal stands.
    pub status: ProposalStatus,
    /// The client's reason for a rejection.
    pub reason: Option<String>,
    /// The message secret of its send streams (key mode `value`); `None` by reference.
    pub secret: Option<String>,
    /// Snowflake round: bumped when checks start again (new proposal, new candidates); only
    /// the first consent of the current round is sent.
    pub generation: u64,
    /// The consented pair of the current round.
    pub consented: Option<String>,
    /// The node the current round checks paths to.
    pub checked_node: Option<String>,
    /// Its current proposal, as sent (again to a client that connects later).
    pub proposal: Option<Proposal>,
    /// What its node last admitted it to, so that a party whose plan did not change is
    /// neither admitted nor proposed to again (a join then costs O(1) node calls, not O(N)).
    #[serde(default)]
    pub admitted: Option<Admitted>,
}

/// A party's admission at a node, as last sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admitted {
    /// The node.
    pub node_id: String,
    /// What it was admitted to.
    pub admission: NodeAdmission,
}

/// A conference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConferenceRecord {
    /// Conference ID, random 62 bits.
    pub conference_id: u64,
    /// The node it is placed on.
    pub node_id: String,
    /// Whether large video sources send two encodings.
    pub simulcast: bool,
    /// How secrets reach the parties.
    pub keys: KeyMode,
    /// The streams' AEAD.
    pub aead: Algorithm,
    /// Times placed (1 + re-placements); part of every proposal ID.
    pub placements: u32,
    /// The next endpoint ID to assign.
    pub next_endpoint_id: u64,
    /// Proposal counter, part of every proposal ID.
    pub proposal_seq: u64,
    /// The parties, by endpoint ID.
    pub parties: Vec<PartyRecord>,
}

impl ConferenceRecord {
    /// The party with `client_id`.
    pub fn party(&self, client_id: &str) -> Option<&PartyRecord> {
        self.parties.iter().find(|p| p.client_id == client_id)
    }

    /// The party with `client_id`, mutably.
    pub fn party_mut(&mut self, client_id: &str) -> Option<&mut PartyRecord> {
        self.parties.iter_mut().find(|p| p.client_id == client_id)
    }

    /// A fresh proposal ID: `"<conferenceID>.<placements>.<seq>"`. The conference ID in front
    /// lets any controller find the conference from a `proposalResult`.
    pub fn next_proposal_id(&mut self) -> String {
        self.proposal_seq += 1;
        format!(
            "{}.{}.{}",
            self.conference_id, self.placements, self.proposal_seq
        )
    }

    /// The REST view.
    pub fn state(&self) -> ConferenceState {
        ConferenceState {
            conference_id: self.conference_id,
            node_id: self.node_id.clone(),
            simulcast: self.simulcast,
            keys: self.keys,
            aead: self.aead,
            placements: self.placements,
            parties: self
                .parties
                .iter()
                .map(|p| PartyState {
                    client_id: p.client_id.clone(),
                    endpoint_id: p.endpoint_id,
                    proposal_id: p.proposal_id.clone(),
                    proposal: p.status,
                    reason: p.reason.clone(),
                    consented: p.consented.clone(),
                })
                .collect(),
        }
    }
}

/// The conference ID a proposal ID names (see [`ConferenceRecord::next_proposal_id`]).
pub fn conference_of_proposal(proposal_id: &str) -> Option<u64> {
    proposal_id.split('.').next()?.parse().ok()
}

/// An SFU node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// What it registered.
    pub registration: NodeRegistration,
    /// Its last heartbeat.
    pub load: NodeHeartbeat,
    /// When it last registered or heart-beat, Unix milliseconds.
    pub last_seen_ms: u64,
    /// False once declared dead (until it registers again).
    pub alive: bool,
}

impl NodeRecord {
    /// The REST view; `placed` is the endpoints the controller put on it.
    pub fn info(&self, placed: u64) -> NodeInfo {
        NodeInfo {
            node_id: self.registration.node_id.clone(),
            alive: self.alive,
            capacity: self.registration.capacity,
            endpoints: placed,
            load: self.load,
            candidates: self.registration.candidates.clone(),
            turn2: self.registration.turn2.clone(),
        }
    }
}

/// The uplink half of a path: the client sends a STUN2 request to the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UplinkCheck {
    /// Check ID sent to the client.
    pub check_id: String,
    /// Client candidate to send from.
    pub from: Address,
    /// Node candidate to send to.
    pub to: Address,
    /// The node candidate's STUN2 secret.
    pub stun_secret: String,
    /// The transaction ID the client must use.
    pub transaction_id: HexTransactionId,
}

/// The downlink half of a path: the node sends a STUN2 request to the client's relay (a relay
/// path) or, for a client that advertised a relay, to the client candidate of a direct path
/// (proving that the client receives the node's UDP there before it is consented).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownlinkCheck {
    /// Check ID sent to the node.
    pub check_id: String,
    /// The node candidate it is sent from.
    pub from: Address,
    /// The client candidate it is sent to: the relay candidate of a relay path, else the
    /// path's own client candidate.
    pub to: Address,
    /// That candidate's STUN2 secret.
    pub stun_secret: String,
    /// Whether the node redirects the client's traffic to `to` once the path wins
    /// (`POST /v1/downlinks`): true for a relay path, false for a direct one. Records
    /// written before the field existed are relay paths.
    #[serde(default = "redirect_default")]
    pub redirect: bool,
}

fn redirect_default() -> bool {
    true
}

/// One Snowflake path being checked: an uplink check and, through a relay, a downlink check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathRecord {
    /// Random ID; the check IDs are `"<path>.u"` and `"<path>.d"`.
    pub path_id: String,
    /// Conference.
    pub conference_id: u64,
    /// Client.
    pub client_id: String,
    /// Node.
    pub node_id: String,
    /// The party's Snowflake round this path belongs to.
    pub generation: u64,
    /// History key of the client's network.
    pub network_key: String,
    /// History key of the candidate types (`"local>local"`, `"relay>local"`, ...).
    pub pair_type: String,
    /// The uplink check.
    pub uplink: UplinkCheck,
    /// The node's report: (client address as observed, sender secret).
    pub uplink_report: Option<(Address, HexSecret)>,
    /// The downlink check, for a relay path.
    pub downlink: Option<DownlinkCheck>,
    /// The client's report of the downlink check: the node's sender secret.
    pub downlink_report: Option<HexSecret>,
    /// Succeeded or failed: no further report changes it.
    pub finished: bool,
}
