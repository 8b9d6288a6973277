//! The proposal (draft §7, §8): exactly how an endpoint configures its media stack.
//!
//! A proposal "MUST be either completely accepted, or completely rejected" (§7), so every
//! proposal type denies unknown keys: a key this implementation does not understand rejects the
//! whole proposal instead of being silently dropped.

use super::{Candidate, SignalingError, candidate::deserialize_strict_list};
use crate::{crypto::Algorithm, ids::GlobalEncodingId};
use serde::{Deserialize, Serialize};

/// The codec name of the Reed-Solomon FEC scheme (draft §5.4, §8.4).
pub const FEC_CODEC: &str = "flex-fec-rs";

/// A proposal sent to one endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proposal {
    /// `"receiveAt"`: candidates where the endpoint receives.
    #[serde(
        rename = "receiveAt",
        default,
        deserialize_with = "deserialize_strict_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub receive_at: Option<Vec<Candidate>>,
    /// `"sendTo"`: candidates the endpoint sends to.
    #[serde(
        rename = "sendTo",
        default,
        deserialize_with = "deserialize_strict_list",
        skip_serializing_if = "Option::is_none"
    )]
    pub send_to: Option<Vec<Candidate>>,
    /// `"sendStreams"`: the encodings to send.
    #[serde(
        rename = "sendStreams",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub send_streams: Option<Vec<SendStream>>,
    /// `"receiveStreams"`: the encodings to receive.
    #[serde(
        rename = "receiveStreams",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub receive_streams: Option<Vec<ReceiveStream>>,
}

impl Proposal {
    /// Parses and [validates](Proposal::validate) a proposal.
    pub fn from_json(text: &str) -> Result<Self, SignalingError> {
        let p: Self = super::validate::parse(text, super::validate::Doc::Proposal)?;
        p.validate()?;
        Ok(p)
    }

    /// Serializes to compact JSON. Absent optional keys stay absent.
    pub fn to_json(&self) -> Result<String, SignalingError> {
        Ok(serde_json::to_string(self)?)
    }

    /// Checks the rules that the types alone cannot; see the module documentation of
    /// [`super`] for the list.
    pub fn validate(&self) -> Result<(), SignalingError> {
        super::validate::proposal(self)
    }

    /// The receive candidates, or an empty slice when `receiveAt` is absent.
    pub fn receive_at(&self) -> &[Candidate] {
        self.receive_at.as_deref().unwrap_or_default()
    }

    /// The send candidates, or an empty slice when `sendTo` is absent.
    pub fn send_to(&self) -> &[Candidate] {
        self.send_to.as_deref().unwrap_or_default()
    }

    /// The send streams, or an empty slice when `sendStreams` is absent.
    pub fn send_streams(&self) -> &[SendStream] {
        self.send_streams.as_deref().unwrap_or_default()
    }

    /// The receive streams, or an empty slice when `receiveStreams` is absent.
    pub fn receive_streams(&self) -> &[ReceiveStream] {
        self.receive_streams.as_deref().unwrap_or_default()
    }
}

/// An element of `sendStreams`.
pub type SendStream = Stream;
/// An element of `receiveStreams`.
pub type ReceiveStream = Stream;

/// One stream of a proposal, sent or received. Every key is optional to serde; which ones are
/// required depends on the list the stream is in and is checked by [`Proposal::validate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stream {
    /// `"conferenceID"`: at most 2^62-1.
    #[serde(
        rename = "conferenceID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub conference_id: Option<u64>,
    /// `"endpointID"`: at most 2^62-1.
    #[serde(
        rename = "endpointID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub endpoint_id: Option<u64>,
    /// `"sourceID"`: the advertised source a send stream encodes; at most 2^62-1.
    #[serde(rename = "sourceID", default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<u64>,
    /// `"sinkID"`: the advertised sink a receive stream plays into; at most 2^62-1.
    #[serde(rename = "sinkID", default, skip_serializing_if = "Option::is_none")]
    pub sink_id: Option<u64>,
    /// `"encodingID"`: at most 2^62-1.
    #[serde(
        rename = "encodingID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub encoding_id: Option<u64>,
    /// `"codecName"`: required by validation.
    #[serde(rename = "codecName", default, skip_serializing_if = "Option::is_none")]
    pub codec_name: Option<String>,
    /// `"AEAD"`: required by validation; `"AES128-GCM"`, `"AES256-GCM"` or `"NULL"`.
    #[serde(rename = "AEAD", default, skip_serializing_if = "Option::is_none")]
    pub aead: Option<Algorithm>,
    /// `"secret"`: the message secret by value (§5.6).
    #[serde(rename = "secret", default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// `"secretRef"` (extension): the message secret by reference (§5.6), the name of a key in
    /// an external key provider.
    #[serde(rename = "secretRef", default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<String>,
    /// `"maxBitrate"`: bits per second.
    #[serde(
        rename = "maxBitrate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_bitrate: Option<u64>,
    /// `"packetTime"`: milliseconds of media per message (audio).
    #[serde(
        rename = "packetTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub packet_time: Option<u32>,
    /// `"width"`: pixels.
    #[serde(rename = "width", default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// `"height"`: pixels.
    #[serde(rename = "height", default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// `"frameRate"`: frames per second.
    #[serde(rename = "frameRate", default, skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<u32>,
    /// `"fecRepairWindow"`: milliseconds of media one FEC repair covers.
    #[serde(
        rename = "fecRepairWindow",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub fec_repair_window: Option<u32>,
    /// `"fecRepairEncodingIDs"`: the encodingIDs (of the same conference, endpoint and source)
    /// this FEC stream repairs.
    #[serde(
        rename = "fecRepairEncodingIDs",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub fec_repair_encoding_ids: Option<Vec<u64>>,
}

impl Stream {
    /// The stream's GlobalEncodingID, when conferenceID, endpointID, sourceID and encodingID
    /// are all present.
    pub fn global_encoding_id(&self) -> Option<GlobalEncodingId> {
        Some(GlobalEncodingId::derive(
            self.conference_id?,
            self.endpoint_id?,
            self.source_id?,
            self.encoding_id?,
        ))
    }

    /// True for a FEC stream: codec `"flex-fec-rs"` or any `fecRepairEncodingIDs`.
    pub fn is_fec(&self) -> bool {
        self.codec_name.as_deref() == Some(FEC_CODEC) || self.fec_repair_encoding_ids.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_encoding_id_needs_all_four() {
        let mut s = Stream {
            conference_id: Some(1),
            endpoint_id: Some(2),
            source_id: Some(3),
            encoding_id: Some(4),
            ..Stream::default()
        };
        assert_eq!(
            s.global_encoding_id(),
            Some(GlobalEncodingId::derive(1, 2, 3, 4))
        );
        s.source_id = None;
        assert_eq!(s.global_encoding_id(), None);
    }

    #[test]
    fn empty_stream_serializes_empty() {
        assert_eq!(serde_json::to_string(&Stream::default()).unwrap(), "{}");
        assert_eq!(Proposal::default().to_json().unwrap(), "{}");
    }
}
