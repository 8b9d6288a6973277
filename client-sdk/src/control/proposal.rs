//! What applying a proposal produces ([`AppliedProposal`]) or why it was refused
//! ([`ProposalRejection`]), and where `secretRef`s are resolved ([`KeyProvider`], draft §5.6).

use super::capabilities::{Capabilities, CodecCapability};
use newmedia_proto::{
    crypto::Algorithm,
    ids::GlobalEncodingId,
    signaling::{Address, Candidate, CandidateKind, MediaType, Proposal, Stream},
};
use std::{collections::HashMap, fmt};

/// Secret bytes (a message secret, §5.6, or a STUN secret). `Debug` prints only the length.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps these bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no bytes (the secret of a `NULL` AEAD stream).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes>)", self.0.len())
    }
}

/// Resolves a stream's `secretRef` (draft §5.6, e.g. the name of an MLS-exported secret) to
/// the secret bytes. The syntax of the reference is the provider's business.
pub trait KeyProvider {
    /// The secret named `secret_ref`, or `None` if the provider does not know it.
    fn resolve(&self, secret_ref: &str) -> Option<Secret>;
}

/// A [`KeyProvider`] backed by a fixed map, for tests and apps that distribute keys themselves.
#[derive(Debug, Clone, Default)]
pub struct StaticKeys {
    keys: HashMap<String, Secret>,
}

impl StaticKeys {
    /// An empty provider: every `secretRef` is unknown.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a key, builder style.
    pub fn with(mut self, secret_ref: impl Into<String>, secret: impl Into<Vec<u8>>) -> Self {
        self.insert(secret_ref, secret);
        self
    }

    /// Adds (or replaces) a key.
    pub fn insert(&mut self, secret_ref: impl Into<String>, secret: impl Into<Vec<u8>>) {
        self.keys.insert(secret_ref.into(), Secret::new(secret));
    }
}

impl KeyProvider for StaticKeys {
    fn resolve(&self, secret_ref: &str) -> Option<Secret> {
        self.keys.get(secret_ref).cloned()
    }
}

/// The limits a proposal sets on one stream (all optional, as in the proposal).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamLimits {
    /// `maxBitrate`, bits per second.
    pub max_bitrate: Option<u64>,
    /// `width`, pixels (video).
    pub width: Option<u32>,
    /// `height`, pixels (video).
    pub height: Option<u32>,
    /// `frameRate`, frames per second (video).
    pub frame_rate: Option<u32>,
    /// `packetTime`, milliseconds of media per message (audio).
    pub packet_time: Option<u32>,
}

/// What a FEC stream (§5.4) repairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FecRepair {
    /// `fecRepairWindow`, milliseconds of media one repair covers.
    pub window_ms: Option<u32>,
    /// `fecRepairEncodingIDs`: the encodingIDs repaired.
    pub encoding_ids: Vec<u64>,
}

/// One accepted send stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedSendStream {
    /// Derived from the four IDs below.
    pub global_encoding_id: GlobalEncodingId,
    /// `conferenceID`.
    pub conference_id: u64,
    /// `endpointID`.
    pub endpoint_id: u64,
    /// `sourceID`: one of our sources.
    pub source_id: u64,
    /// `encodingID`.
    pub encoding_id: u64,
    /// The codec, as the source advertised it (with its limits).
    pub codec: CodecCapability,
    /// The kind of the source.
    pub kind: MediaType,
    /// The AEAD.
    pub aead: Algorithm,
    /// The message secret (`secret`'s UTF-8 bytes, or `secretRef` resolved); empty for `NULL`.
    pub secret: Secret,
    /// The proposal's limits for this stream, each within the source codec's maxima.
    pub limits: StreamLimits,
    /// Set for a FEC stream.
    pub fec: Option<FecRepair>,
}

/// One accepted receive stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedReceiveStream {
    /// `sinkID`: one of our sinks.
    pub sink_id: u64,
    /// `conferenceID`, if given.
    pub conference_id: Option<u64>,
    /// `endpointID`, if given.
    pub endpoint_id: Option<u64>,
    /// `sourceID` (the sender's), if given.
    pub source_id: Option<u64>,
    /// `encodingID`, if given.
    pub encoding_id: Option<u64>,
    /// The GlobalEncodingID, when all four IDs are given (the draft's 8.1.2 omits `sourceID`).
    pub global_encoding_id: Option<GlobalEncodingId>,
    /// The codec, as the sink advertised it (with its limits).
    pub codec: CodecCapability,
    /// The kind of the sink.
    pub kind: MediaType,
    /// The AEAD.
    pub aead: Algorithm,
    /// The message secret; empty for `NULL`.
    pub secret: Secret,
    /// The proposal's limits for this stream, each within the sink codec's maxima.
    pub limits: StreamLimits,
    /// Set for a FEC stream.
    pub fec: Option<FecRepair>,
}

/// One accepted `sendTo` candidate, with the far side's certificate fingerprint to pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendTarget {
    /// Relay, reflexive or local.
    pub kind: CandidateKind,
    /// Where to send.
    pub address: Address,
    /// `stunSecret`: authenticates our STUN2 checks to this address.
    pub stun_secret: Secret,
    /// SHA-256 of the certificate the far side must present.
    pub fingerprint: [u8; 32],
}

/// A proposal accepted whole: everything the transport and the media pipelines need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppliedProposal {
    /// `receiveAt`, as proposed.
    pub receive_at: Vec<Candidate>,
    /// `sendTo`, in the proposal's order.
    pub send_to: Vec<SendTarget>,
    /// `sendStreams`, in the proposal's order.
    pub send_streams: Vec<AppliedSendStream>,
    /// `receiveStreams`, in the proposal's order.
    pub receive_streams: Vec<AppliedReceiveStream>,
}

/// Whether a limit belongs to a source (send) or a sink (receive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaSide {
    /// One of our sources.
    Source,
    /// One of our sinks.
    Sink,
}

impl fmt::Display for MediaSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MediaSide::Source => "source",
            MediaSide::Sink => "sink",
        })
    }
}

/// Why a proposal was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    /// The proposal fails proto's validation (`Proposal::validate`); the message has the path.
    #[error("invalid proposal: {0}")]
    Invalid(String),
    /// A `sendTo` candidate has no `tlsFingerprintSHA256`.
    #[error("no tlsFingerprintSHA256, so the far side's certificate cannot be pinned")]
    MissingFingerprint,
    /// A `sendTo` candidate's fingerprint is not 32 bytes of hex.
    #[error(
        "tlsFingerprintSHA256 {0:?} is not a SHA-256 fingerprint (64 hex digits, optionally colon-separated pairs)"
    )]
    BadFingerprint(String),
    /// A send stream's `sourceID` is not one of our sources.
    #[error("sourceID {0} is not one of our sources")]
    UnknownSource(u64),
    /// A receive stream's `sinkID` is not one of our sinks.
    #[error("sinkID {0} is not one of our sinks")]
    UnknownSink(u64),
    /// The source or sink does not have this codec.
    #[error("codec {codec:?} not supported by {side} {id}")]
    CodecNotSupported {
        /// The proposed codec.
        codec: String,
        /// Source or sink.
        side: MediaSide,
        /// Its ID.
        id: u64,
    },
    /// The AEAD is not in [`Capabilities::aeads`].
    #[error("AEAD {0} not supported")]
    AeadNotSupported(Algorithm),
    /// A proposed value exceeds the advertised maximum.
    #[error("{field} {value} above the {side}'s max {max}")]
    AboveMax {
        /// The proposal key (`width`, `maxBitrate`, ...; `pixelRate` is width × height ×
        /// frameRate).
        field: &'static str,
        /// The proposed value.
        value: u64,
        /// Source or sink.
        side: MediaSide,
        /// The advertised maximum.
        max: u64,
    },
    /// A key that does not apply to the stream's kind of codec (e.g. `width` for audio).
    #[error("{field} does not apply to codec {codec:?}")]
    NotApplicable {
        /// The proposal key.
        field: &'static str,
        /// The codec.
        codec: String,
    },
    /// The key provider does not know this `secretRef`.
    #[error("secretRef {0:?} unknown to the key provider")]
    UnknownSecretRef(String),
    /// A required key is absent (only for a proposal that was not validated).
    #[error("missing {0}")]
    Missing(&'static str),
}

/// A proposal rejected whole: the JSON path of the first fault (`sendStreams[1]`, `sendTo[0]`;
/// empty for [`RejectReason::Invalid`], whose message has its own path) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalRejection {
    /// Where: `sendTo[i]`, `sendStreams[i]` or `receiveStreams[i]`.
    pub path: String,
    /// Why.
    pub reason: RejectReason,
}

impl fmt::Display for ProposalRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{}: {}", self.path, self.reason)
        }
    }
}

impl std::error::Error for ProposalRejection {}

fn reject<T>(list: &str, index: usize, reason: RejectReason) -> Result<T, ProposalRejection> {
    Err(ProposalRejection {
        path: format!("{list}[{index}]"),
        reason,
    })
}

/// Checks everything and builds the result; touches nothing outside.
pub(super) fn apply(
    proposal: &Proposal,
    caps: &Capabilities,
    secrets: &dyn KeyProvider,
) -> Result<AppliedProposal, ProposalRejection> {
    proposal.validate().map_err(|e| ProposalRejection {
        path: String::new(),
        reason: RejectReason::Invalid(e.to_string()),
    })?;
    let mut out = AppliedProposal {
        receive_at: proposal.receive_at().to_vec(),
        ..AppliedProposal::default()
    };
    for (i, c) in proposal.send_to().iter().enumerate() {
        out.send_to
            .push(send_target(c).or_else(|r| reject("sendTo", i, r))?);
    }
    for (i, s) in proposal.send_streams().iter().enumerate() {
        out.send_streams
            .push(send_stream(s, caps, secrets).or_else(|r| reject("sendStreams", i, r))?);
    }
    for (i, s) in proposal.receive_streams().iter().enumerate() {
        out.receive_streams
            .push(receive_stream(s, caps, secrets).or_else(|r| reject("receiveStreams", i, r))?);
    }
    Ok(out)
}

fn send_target(c: &Candidate) -> Result<SendTarget, RejectReason> {
    let (kind, address) = c
        .address()
        .ok_or(RejectReason::Missing("exactly one of relay, stun, local"))?;
    let text = c
        .tls_fingerprint_sha256
        .as_deref()
        .ok_or(RejectReason::MissingFingerprint)?;
    let fingerprint = c
        .tls_fingerprint()
        .ok_or_else(|| RejectReason::BadFingerprint(text.to_owned()))?;
    Ok(SendTarget {
        kind,
        address: address.clone(),
        stun_secret: Secret::new(c.stun_secret.as_bytes()),
        fingerprint,
    })
}

/// The codec a stream names, looked up among its source's or sink's codecs.
fn stream_codec<'c>(
    s: &Stream,
    side: MediaSide,
    id: u64,
    find: impl FnOnce(&str) -> Option<&'c CodecCapability>,
) -> Result<&'c CodecCapability, RejectReason> {
    let name = s
        .codec_name
        .as_deref()
        .ok_or(RejectReason::Missing("codecName"))?;
    find(name).ok_or_else(|| RejectReason::CodecNotSupported {
        codec: name.to_owned(),
        side,
        id,
    })
}

fn send_stream(
    s: &Stream,
    caps: &Capabilities,
    secrets: &dyn KeyProvider,
) -> Result<AppliedSendStream, RejectReason> {
    let source_id = s.source_id.ok_or(RejectReason::Missing("sourceID"))?;
    let source = caps
        .find_source(source_id)
        .ok_or(RejectReason::UnknownSource(source_id))?;
    let codec = stream_codec(s, MediaSide::Source, source_id, |n| source.codec(n))?;
    let (aead, limits, secret) = common(s, codec, MediaSide::Source, caps, secrets)?;
    Ok(AppliedSendStream {
        global_encoding_id: s.global_encoding_id().ok_or(RejectReason::Missing(
            "conferenceID, endpointID or encodingID",
        ))?,
        conference_id: s
            .conference_id
            .ok_or(RejectReason::Missing("conferenceID"))?,
        endpoint_id: s.endpoint_id.ok_or(RejectReason::Missing("endpointID"))?,
        source_id,
        encoding_id: s.encoding_id.ok_or(RejectReason::Missing("encodingID"))?,
        codec: codec.clone(),
        kind: source.kind.clone(),
        aead,
        secret,
        limits,
        fec: fec(s),
    })
}

fn receive_stream(
    s: &Stream,
    caps: &Capabilities,
    secrets: &dyn KeyProvider,
) -> Result<AppliedReceiveStream, RejectReason> {
    let sink_id = s.sink_id.ok_or(RejectReason::Missing("sinkID"))?;
    let sink = caps
        .find_sink(sink_id)
        .ok_or(RejectReason::UnknownSink(sink_id))?;
    let codec = stream_codec(s, MediaSide::Sink, sink_id, |n| sink.codec(n))?;
    let (aead, limits, secret) = common(s, codec, MediaSide::Sink, caps, secrets)?;
    Ok(AppliedReceiveStream {
        sink_id,
        conference_id: s.conference_id,
        endpoint_id: s.endpoint_id,
        source_id: s.source_id,
        encoding_id: s.encoding_id,
        global_encoding_id: s.global_encoding_id(),
        codec: codec.clone(),
        kind: sink.kind.clone(),
        aead,
        secret,
        limits,
        fec: fec(s),
    })
}

fn fec(s: &Stream) -> Option<FecRepair> {
    s.is_fec().then(|| FecRepair {
        window_ms: s.fec_repair_window,
        encoding_ids: s.fec_repair_encoding_ids.clone().unwrap_or_default(),
    })
}

/// AEAD, limits and secret: the checks shared by send and receive streams.
fn common(
    s: &Stream,
    codec: &CodecCapability,
    side: MediaSide,
    caps: &Capabilities,
    secrets: &dyn KeyProvider,
) -> Result<(Algorithm, StreamLimits, Secret), RejectReason> {
    let aead = s.aead.ok_or(RejectReason::Missing("AEAD"))?;
    if !caps.supports_aead(aead) {
        return Err(RejectReason::AeadNotSupported(aead));
    }
    let limits = StreamLimits {
        max_bitrate: s.max_bitrate,
        width: s.width,
        height: s.height,
        frame_rate: s.frame_rate,
        packet_time: s.packet_time,
    };
    check_limits(&limits, codec, side)?;
    let secret = match (aead, &s.secret, &s.secret_ref) {
        (Algorithm::Null, _, _) => Secret::default(),
        (_, Some(value), _) => Secret::new(value.as_bytes()),
        (_, None, Some(name)) => secrets
            .resolve(name)
            .ok_or_else(|| RejectReason::UnknownSecretRef(name.clone()))?,
        (_, None, None) => return Err(RejectReason::Missing("secret or secretRef")),
    };
    Ok((aead, limits, secret))
}

fn at_most(
    field: &'static str,
    value: Option<u64>,
    max: Option<u64>,
    side: MediaSide,
) -> Result<(), RejectReason> {
    match (value, max) {
        (Some(value), Some(max)) if value > max => Err(RejectReason::AboveMax {
            field,
            value,
            side,
            max,
        }),
        _ => Ok(()),
    }
}

fn check_limits(
    l: &StreamLimits,
    codec: &CodecCapability,
    side: MediaSide,
) -> Result<(), RejectReason> {
    let not_for = |field: &'static str, present: bool| {
        if present {
            Err(RejectReason::NotApplicable {
                field,
                codec: codec.name().to_owned(),
            })
        } else {
            Ok(())
        }
    };
    at_most("maxBitrate", l.max_bitrate, codec.max_bitrate(), side)?;
    let video = match codec {
        CodecCapability::Video(v) => Some(v),
        _ => None,
    };
    if !matches!(codec, CodecCapability::Audio(_)) {
        not_for("packetTime", l.packet_time.is_some())?;
    }
    let Some(v) = video else {
        not_for("width", l.width.is_some())?;
        not_for("height", l.height.is_some())?;
        return not_for("frameRate", l.frame_rate.is_some());
    };
    let wide = |x: Option<u32>| x.map(u64::from);
    at_most("width", wide(l.width), wide(v.max_width), side)?;
    at_most("height", wide(l.height), wide(v.max_height), side)?;
    at_most(
        "frameRate",
        wide(l.frame_rate),
        wide(v.max_frame_rate),
        side,
    )?;
    if let (Some(w), Some(h), Some(fps)) = (l.width, l.height, l.frame_rate) {
        let rate = u64::from(w)
            .saturating_mul(u64::from(h))
            .saturating_mul(u64::from(fps));
        at_most("pixelRate", Some(rate), v.max_pixel_rate, side)?;
    }
    Ok(())
}
