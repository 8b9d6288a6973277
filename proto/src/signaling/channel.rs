//! The messages of the controller's WebSocket (`GET /v1/ws`, PROTOCOL.md §14): one JSON
//! object per text frame, told apart by its `"type"`.
//!
//! [`ClientMessage`] is what an SDK client sends, [`ServerMessage`] what the controller sends.
//! Unknown keys are ignored in both directions (an older peer reads a newer peer's messages);
//! an unknown `"type"` is an error for [`ClientMessage::from_json`] and
//! [`ServerMessage::from_json`] alike, and a client should skip such a message rather than
//! give up (see [`ServerMessage::from_json`]). The proposal and the advertisement they carry
//! are validated as PROTOCOL.md §10 says, so an invalid one is rejected when the message is
//! read, with the path of the fault.

use super::{Address, Advertisement, HexSecret, HexTransactionId, Proposal, SignalingError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// Why a WebSocket message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChannelError {
    /// Not JSON, not an object, no `"type"`, or a field of the wrong type.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A `"type"` this implementation does not know.
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    /// The carried advertisement or proposal is invalid (PROTOCOL.md §10).
    #[error("invalid {what}: {source}")]
    Invalid {
        /// `"advertisement"` or `"proposal"`.
        what: &'static str,
        /// Why.
        source: SignalingError,
    },
}

/// What a client sends to the controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ClientMessage {
    /// `"advertisement"`: the first message ("hello"), and again whenever the client's
    /// candidates or capabilities change.
    #[serde(rename = "advertisement")]
    Advertisement(AdvertisementMessage),
    /// `"proposalResult"`: the client accepted or rejected a proposal whole.
    #[serde(rename = "proposalResult")]
    ProposalResult(ProposalResult),
    /// `"checkReceived"`: the client received a STUN2 check with a sender secret (a downlink
    /// check, Snowflake receiver report).
    #[serde(rename = "checkReceived")]
    CheckReceived(CheckReceived),
    /// `"ping"`: the controller answers `"pong"` with the same `nonce`.
    #[serde(rename = "ping")]
    Ping(Ping),
}

/// What the controller sends to a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ServerMessage {
    /// `"welcome"`: the answer to every advertisement.
    #[serde(rename = "welcome")]
    Welcome(Welcome),
    /// `"proposal"`: how to configure the media stack for one conference (draft §8.1.2).
    #[serde(rename = "proposal")]
    Proposal(ProposalMessage),
    /// `"check"`: send a STUN2 request (uplink Snowflake check).
    #[serde(rename = "check")]
    Check(CheckCommand),
    /// `"consent"`: the receiver saw the check; the pair may carry media.
    #[serde(rename = "consent")]
    Consent(Consent),
    /// `"conferenceEnded"`: the conference ended, or the client left it; stop its media.
    #[serde(rename = "conferenceEnded")]
    ConferenceEnded(ConferenceEnded),
    /// `"error"`: a message of the client could not be handled.
    #[serde(rename = "error")]
    Error(ChannelErrorMessage),
    /// `"pong"`: the answer to `"ping"`.
    #[serde(rename = "pong")]
    Pong(Ping),
}

/// `"advertisement"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvertisementMessage {
    /// `"clientID"`: optional; when present it must be the client its token names.
    #[serde(rename = "clientID", default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `"fingerprint"`: SHA-256 of the client's certificate, 64 hex digits (optionally
    /// colon-separated pairs); SFU nodes admit its QUIC connection by it.
    pub fingerprint: String,
    /// `"advertisement"`: draft §8.1.1.
    pub advertisement: Advertisement,
}

/// `"proposalResult"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalResult {
    /// `"proposalID"`: the proposal answered.
    #[serde(rename = "proposalID")]
    pub proposal_id: String,
    /// `"accepted"`.
    pub accepted: bool,
    /// `"reason"`: why it was rejected (absent when accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `"checkReceived"` (client) and one element of a node's check report
/// (`POST /v1/nodes/{id}/checks`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReceived {
    /// `"from"`: the source address of the request as the receiver saw it.
    pub from: Address,
    /// `"to"`: the local (or relay) address it arrived at.
    pub to: Address,
    /// `"transactionID"`: 24 hex digits.
    #[serde(rename = "transactionID")]
    pub transaction_id: HexTransactionId,
    /// `"senderSecret"`: the sender secret the request carried, hex.
    #[serde(rename = "senderSecret")]
    pub sender_secret: HexSecret,
}

/// `"ping"` / `"pong"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    /// `"nonce"`: any string, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// `"welcome"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// `"clientID"`: who the controller takes the client to be (from its token).
    #[serde(rename = "clientID")]
    pub client_id: String,
    /// `"relays"`: TURN2 relays the client may allocate at (its fingerprint is registered).
    #[serde(default)]
    pub relays: Vec<RelayInfo>,
}

/// A TURN2 relay of an SFU node (PROTOCOL.md §8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayInfo {
    /// `"service"`: the relay's TCP address.
    pub service: Address,
    /// `"tlsFingerprintSHA256"`: the node's certificate fingerprint, 64 hex digits.
    #[serde(rename = "tlsFingerprintSHA256")]
    pub tls_fingerprint_sha256: String,
}

/// `"proposal"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalMessage {
    /// `"proposalID"`: answered by `"proposalResult"`. A later proposal for the same
    /// conference replaces an earlier one.
    #[serde(rename = "proposalID")]
    pub proposal_id: String,
    /// `"conferenceID"`: the conference the proposal configures.
    #[serde(rename = "conferenceID")]
    pub conference_id: u64,
    /// `"endpointID"`: the client's endpoint ID in that conference.
    #[serde(rename = "endpointID")]
    pub endpoint_id: u64,
    /// `"proposal"`: draft §8.1.2, exactly.
    pub proposal: Proposal,
}

/// `"check"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckCommand {
    /// `"checkID"`: names the check in the `"consent"` that may follow.
    #[serde(rename = "checkID")]
    pub check_id: String,
    /// `"conferenceID"`: the conference whose media would use the pair.
    #[serde(rename = "conferenceID")]
    pub conference_id: u64,
    /// `"from"`: the client's candidate to send from (for a `stun` candidate: its base
    /// socket).
    pub from: Address,
    /// `"to"`: the SFU candidate to send to.
    pub to: Address,
    /// `"stunSecret"`: the SFU candidate's STUN2 secret.
    #[serde(rename = "stunSecret")]
    pub stun_secret: String,
    /// `"transactionID"`: the transaction ID the request must use (the controller matches
    /// the node's report by it).
    #[serde(rename = "transactionID")]
    pub transaction_id: HexTransactionId,
}

/// `"consent"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// `"checkID"`: the check consented to.
    #[serde(rename = "checkID")]
    pub check_id: String,
    /// `"conferenceID"`: its conference.
    #[serde(rename = "conferenceID")]
    pub conference_id: u64,
    /// `"senderSecret"`: the sender secret the receiver saw; the client compares it with the
    /// one it sent and opens QUIC on the pair only on a match.
    #[serde(rename = "senderSecret")]
    pub sender_secret: HexSecret,
    /// `"observed"`: the client's address as the SFU saw it.
    pub observed: Address,
}

/// `"conferenceEnded"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConferenceEnded {
    /// `"conferenceID"`.
    #[serde(rename = "conferenceID")]
    pub conference_id: u64,
    /// `"reason"`: `"ended"` (the app ended it) or `"left"` (this client left or was removed).
    pub reason: String,
}

/// `"error"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelErrorMessage {
    /// `"code"`: stable, machine-readable (PROTOCOL.md §14).
    pub code: String,
    /// `"message"`: for people.
    pub message: String,
}

/// Splits `text` into its `"type"` and the object, or says why it is not a message.
fn typed_object(text: &str) -> Result<(String, Value), ChannelError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| ChannelError::Malformed(e.to_string()))?;
    let kind = value
        .as_object()
        .ok_or_else(|| ChannelError::Malformed("a message is a JSON object".to_owned()))?
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| ChannelError::Malformed("a message needs a string \"type\"".to_owned()))?
        .to_owned();
    Ok((kind, value))
}

fn from_value<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ChannelError> {
    serde_json::from_value(value).map_err(|e| ChannelError::Malformed(e.to_string()))
}

impl ClientMessage {
    /// The known `"type"` values.
    pub const TYPES: [&'static str; 4] =
        ["advertisement", "proposalResult", "checkReceived", "ping"];

    /// Reads a client message; the advertisement of an `"advertisement"` is validated
    /// (PROTOCOL.md §10).
    pub fn from_json(text: &str) -> Result<Self, ChannelError> {
        let (kind, value) = typed_object(text)?;
        if !Self::TYPES.contains(&kind.as_str()) {
            return Err(ChannelError::UnknownType(kind));
        }
        if kind == "advertisement" {
            // Parsed through Advertisement::from_json for its located errors.
            let inner = value.get("advertisement").map(Value::to_string);
            if let Some(inner) = inner {
                Advertisement::from_json(&inner).map_err(|source| ChannelError::Invalid {
                    what: "advertisement",
                    source,
                })?;
            }
        }
        from_value(value)
    }

    /// Compact JSON.
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: string keys, no maps with other keys.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl ServerMessage {
    /// The known `"type"` values.
    pub const TYPES: [&'static str; 7] = [
        "welcome",
        "proposal",
        "check",
        "consent",
        "conferenceEnded",
        "error",
        "pong",
    ];

    /// Reads a controller message; the proposal of a `"proposal"` is validated (PROTOCOL.md
    /// §10), so an invalid proposal is an [`ChannelError::Invalid`] error the client answers
    /// with a rejecting `"proposalResult"` (the `"proposalID"` is in the error's JSON; use
    /// [`proposal_id_of`]). A client skips [`ChannelError::UnknownType`].
    pub fn from_json(text: &str) -> Result<Self, ChannelError> {
        let (kind, value) = typed_object(text)?;
        if !Self::TYPES.contains(&kind.as_str()) {
            return Err(ChannelError::UnknownType(kind));
        }
        if kind == "proposal" {
            let inner = value.get("proposal").map(Value::to_string);
            if let Some(inner) = inner {
                Proposal::from_json(&inner).map_err(|source| ChannelError::Invalid {
                    what: "proposal",
                    source,
                })?;
            }
        }
        from_value(value)
    }

    /// Compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The `"proposalID"` of a `"proposal"` message, read without validating the proposal (to
/// reject an invalid one by its ID).
pub fn proposal_id_of(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    Some(value.get("proposalID")?.as_str()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The examples of PROTOCOL.md §14.4 read and write back to the same JSON value.
    #[test]
    fn protocol_examples_roundtrip() {
        let client = [
            r#"{"type":"advertisement","clientID":"alice","fingerprint":"ab","advertisement":{"receiveAt":[{"local":"192.168.0.2:5000","stunSecret":"s8i739dk8"}]}}"#,
            r#"{"type":"proposalResult","proposalID":"4638572387.1.1","accepted":true}"#,
            r#"{"type":"proposalResult","proposalID":"4638572387.1.1","accepted":false,"reason":"codec av1 not supported"}"#,
            r#"{"type":"checkReceived","from":"192.0.2.20:4433","to":"198.51.100.9:50000","transactionID":"0c0d0e0f101112131415161a","senderSecret":"00112233445566778899aabbccddeeff"}"#,
            r#"{"type":"ping","nonce":"42"}"#,
        ];
        for text in client {
            let m = ClientMessage::from_json(text).unwrap();
            let back: Value = serde_json::from_str(&m.to_json()).unwrap();
            assert_eq!(back, serde_json::from_str::<Value>(text).unwrap(), "{text}");
        }
        let server = [
            r#"{"type":"welcome","clientID":"alice","relays":[{"service":"192.0.2.20:4434","tlsFingerprintSHA256":"ee"}]}"#,
            r#"{"type":"proposal","proposalID":"4638572387.1.1","conferenceID":4638572387,"endpointID":1,"proposal":{"sendTo":[{"local":"192.0.2.20:4433","stunSecret":"x","tlsFingerprintSHA256":"ee"}]}}"#,
            r#"{"type":"check","checkID":"9f2c41d07a3b5e61.u","conferenceID":4638572387,"from":"192.168.0.2:5000","to":"192.0.2.20:4433","stunSecret":"20kdiu83kd8","transactionID":"a1a2a3a4a5a6a7a8a9aaabac"}"#,
            r#"{"type":"consent","checkID":"9f2c41d07a3b5e61.u","conferenceID":4638572387,"senderSecret":"00112233445566778899aabbccddeeff","observed":"203.0.113.10:43210"}"#,
            r#"{"type":"conferenceEnded","conferenceID":4638572387,"reason":"ended"}"#,
            r#"{"type":"error","code":"unknown_proposal","message":"unknown proposal \"77.1.1\""}"#,
            r#"{"type":"pong","nonce":"42"}"#,
        ];
        for text in server {
            let m = ServerMessage::from_json(text).unwrap();
            let back: Value = serde_json::from_str(&m.to_json()).unwrap();
            assert_eq!(back, serde_json::from_str::<Value>(text).unwrap(), "{text}");
        }
    }

    #[test]
    fn errors() {
        assert!(matches!(
            ClientMessage::from_json("[1]"),
            Err(ChannelError::Malformed(_))
        ));
        assert!(matches!(
            ClientMessage::from_json(r#"{"type":"welcome"}"#),
            Err(ChannelError::UnknownType(t)) if t == "welcome"
        ));
        let bad_ad = r#"{"type":"advertisement","fingerprint":"x","advertisement":{"sources":[
            {"sourceID":1,"sourceType":"audio","codecs":[]},{"sourceID":1,"sourceType":"audio","codecs":[]}]}}"#;
        assert!(matches!(
            ClientMessage::from_json(bad_ad),
            Err(ChannelError::Invalid {
                what: "advertisement",
                ..
            })
        ));
        let bad_proposal = r#"{"type":"proposal","proposalID":"p","conferenceID":1,"endpointID":1,"proposal":{"dscp":46}}"#;
        assert!(matches!(
            ServerMessage::from_json(bad_proposal),
            Err(ChannelError::Invalid {
                what: "proposal",
                ..
            })
        ));
        assert_eq!(proposal_id_of(bad_proposal).as_deref(), Some("p"));
        let short_txn = r#"{"type":"checkReceived","from":"1.2.3.4:5","to":"1.2.3.4:6","transactionID":"ab","senderSecret":"00"}"#;
        assert!(matches!(
            ClientMessage::from_json(short_txn),
            Err(ChannelError::Malformed(_))
        ));
    }

    proptest! {
        #[test]
        fn readers_never_panic(text in ".{0,200}") {
            let _ = ClientMessage::from_json(&text);
            let _ = ServerMessage::from_json(&text);
            let _ = proposal_id_of(&text);
        }

        #[test]
        fn typed_junk_never_panics(kind in prop::sample::select(vec![
            "advertisement", "proposalResult", "checkReceived", "ping", "welcome", "proposal",
            "check", "consent", "conferenceEnded", "error", "pong"]), body in ".{0,80}") {
            let text = format!(r#"{{"type":"{kind}",{body}}}"#);
            let _ = ClientMessage::from_json(&text);
            let _ = ServerMessage::from_json(&text);
        }
    }
}
