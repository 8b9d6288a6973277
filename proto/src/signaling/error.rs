//! The one error type of the signaling module.

use crate::crypto::Algorithm;
use thiserror::Error;

/// Why an advertisement or a proposal was rejected.
///
/// Every variant that is about one part of the document carries `at`, the JSON path of that
/// part (`"sendStreams[1]"`, `"sendTo[0].relay"`, `"sources[0].codecs[2]"`), and its message
/// starts with it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignalingError {
    /// The text is not JSON, or not the shape of the document: a wrong type, a missing required
    /// key, an unknown key in a proposal. serde_json's message, with line and column.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// The document, or an element of a list of objects, is not a JSON object (serde would
    /// otherwise read an array as a struct's fields by position).
    #[error("{at}: expected a JSON object")]
    NotAnObject {
        /// Path of the value (`"top level"` for the document).
        at: String,
    },
    /// An `"AEAD"` value that is not one of the supported names.
    #[error("{at}: unknown AEAD {name:?} (supported: AES128-GCM, AES256-GCM, NULL)")]
    UnknownAead {
        /// Path of the stream.
        at: String,
        /// The name as written.
        name: String,
    },
    /// A key that validation requires is absent (or an empty string).
    #[error("{at}: missing {field}")]
    MissingField {
        /// Path of the object.
        at: String,
        /// The JSON key, as spelled in the draft.
        field: &'static str,
    },
    /// A stream with an encrypting AEAD but neither `secret` nor `secretRef`.
    #[error("{at}: AEAD {aead} needs a secret or a secretRef")]
    MissingSecret {
        /// Path of the stream.
        at: String,
        /// The stream's AEAD.
        aead: Algorithm,
    },
    /// A stream with both `secret` and `secretRef`.
    #[error("{at}: both secret and secretRef are given; a stream takes exactly one")]
    SecretAndSecretRef {
        /// Path of the stream.
        at: String,
    },
    /// An ID above 2^62-1: IDs travel as QUIC varints in RTP3 headers.
    #[error("{at}: {field} {value} exceeds 2^62-1, the largest varint")]
    IdTooLarge {
        /// Path of the object.
        at: String,
        /// The JSON key (`"fecRepairEncodingIDs[0]"` for a list element).
        field: String,
        /// The value as written.
        value: u64,
    },
    /// Two send streams with the same (conferenceID, endpointID, sourceID, encodingID).
    #[error(
        "{at}: (conferenceID, endpointID, sourceID, encodingID) = \
         ({conference_id}, {endpoint_id}, {source_id}, {encoding_id}) is already used by sendStreams[{first}]"
    )]
    DuplicateEncoding {
        /// Path of the later stream.
        at: String,
        /// Index in `sendStreams` of the earlier one.
        first: usize,
        /// conferenceID.
        conference_id: u64,
        /// endpointID.
        endpoint_id: u64,
        /// sourceID.
        source_id: u64,
        /// encodingID.
        encoding_id: u64,
    },
    /// A FEC stream (`"flex-fec-rs"`) that does not say which encodings it repairs.
    #[error("{at}: FEC stream without fecRepairEncodingIDs")]
    FecWithoutRepairIds {
        /// Path of the stream.
        at: String,
    },
    /// A FEC stream repairing an encodingID that no other send stream of the same source has.
    #[error(
        "{at}: fecRepairEncodingIDs names encodingID {encoding_id}, but no other sendStream of \
         the same conferenceID/endpointID/sourceID has it"
    )]
    FecUnknownEncoding {
        /// Path of the FEC stream.
        at: String,
        /// The encodingID that was named.
        encoding_id: u64,
    },
    /// A candidate with none or several of `relay`, `stun`, `local`.
    #[error("{at}: a candidate needs exactly one of relay, stun, local; it has {count}")]
    CandidateKind {
        /// Path of the candidate.
        at: String,
        /// How many of the three keys it has.
        count: usize,
    },
    /// An address that is not `ip:port`, `[ipv6]:port` or `ipv6:port`.
    #[error("{at}: bad address {value:?}: {reason}")]
    BadAddress {
        /// Path of the address (`"address"` when parsed on its own).
        at: String,
        /// The text as written.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two sources of an advertisement with the same sourceID.
    #[error("{at}: sourceID {id} is already used by sources[{first}]")]
    DuplicateSourceId {
        /// Path of the later source.
        at: String,
        /// Index in `sources` of the earlier one.
        first: usize,
        /// The sourceID.
        id: u64,
    },
    /// Two sinks of an advertisement with the same sinkID.
    #[error("{at}: sinkID {id} is already used by sinks[{first}]")]
    DuplicateSinkId {
        /// Path of the later sink.
        at: String,
        /// Index in `sinks` of the earlier one.
        first: usize,
        /// The sinkID.
        id: u64,
    },
}

impl From<serde_json::Error> for SignalingError {
    fn from(e: serde_json::Error) -> Self {
        SignalingError::Json(e.to_string())
    }
}
