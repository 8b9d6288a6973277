//! The control API of draft §6 as Rust types, without I/O: what this endpoint can do
//! ([`Capabilities`], §6.2, and the advertisement made from it) and applying a server's
//! [`Proposal`](newmedia_proto::signaling::Proposal) to it ([`MediaConfiguration`], §6.3/§6.4).
//!
//! A proposal is accepted whole or rejected whole (draft §7):
//! [`MediaConfiguration::apply`] checks every candidate and stream against the
//! [`Capabilities`] and resolves every secret through a [`KeyProvider`]; it either returns the
//! complete [`AppliedProposal`] or a [`ProposalRejection`] naming the stream or candidate at
//! fault, and changes nothing. Because the advertisement is produced by
//! [`Capabilities::advertisement`] from the same values that `apply` checks against, what the
//! SDK advertises and what it accepts cannot drift apart.
//!
//! ```
//! use newmedia_client::control::{
//!     AudioCodec, Capabilities, MediaConfiguration, MediaSink, MediaSource, StaticKeys,
//! };
//! use newmedia_proto::signaling::Proposal;
//!
//! let opus = AudioCodec::new("opus").max_bitrate(128_000);
//! let caps = Capabilities::new()
//!     .source(MediaSource::audio(1, [opus.clone()]))
//!     .sink(MediaSink::audio(1, [opus]));
//! let ad = caps.advertisement(&[]).unwrap();
//! assert_eq!(ad.sources()[0].codecs[0].codec_name, "opus");
//!
//! let fp = "ab".repeat(32);
//! let proposal = Proposal::from_json(&format!(
//!     r#"{{"sendTo":[{{"stun":"203.0.113.20:4433","stunSecret":"s","tlsFingerprintSHA256":"{fp}"}}],
//!        "sendStreams":[{{"conferenceID":9,"endpointID":2,"sourceID":1,"encodingID":1,
//!          "codecName":"opus","AEAD":"AES128-GCM","secretRef":"mls:epoch/1","maxBitrate":24000}}]}}"#
//! ))
//! .unwrap();
//! let keys = StaticKeys::new().with("mls:epoch/1", b"0123456789abcdef".to_vec());
//!
//! let mut config = MediaConfiguration::new();
//! let applied = config.accept(&proposal, &caps, &keys).unwrap();
//! assert_eq!(applied.send_streams[0].secret.as_bytes(), b"0123456789abcdef");
//! assert_eq!(applied.send_to[0].fingerprint, [0xab; 32]);
//! ```

mod capabilities;
mod configuration;
mod proposal;
#[cfg(test)]
mod tests;

pub use capabilities::{
    AudioCodec, Capabilities, CodecCapability, GenericCodec, MediaSink, MediaSource, VideoCodec,
};
pub use configuration::MediaConfiguration;
pub use proposal::{
    AppliedProposal, AppliedReceiveStream, AppliedSendStream, FecRepair, KeyProvider, MediaSide,
    ProposalRejection, RejectReason, Secret, SendTarget, StaticKeys, StreamLimits,
};
