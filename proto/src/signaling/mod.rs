//! The signaling JSON of draft §7/§8: the [`Advertisement`] an endpoint sends up and the
//! [`Proposal`] a server sends down, as serde types with validation.
//!
//! Key names are exactly the draft's (`receiveAt`, `sourceID`, `AEAD`, ...). Optional keys that
//! are absent stay absent when re-serialized, so every example of draft §8 round-trips to the
//! same JSON value (see `proto/testdata/draft-examples/`).
//!
//! # Unknown keys
//!
//! - A **proposal** is accepted whole or rejected whole (§7), so [`Proposal`], [`Stream`] and
//!   the candidates inside a proposal deny unknown keys: parsing fails.
//! - An **advertisement** is read with forward compatibility: [`Advertisement`], [`Source`],
//!   [`Sink`], [`Codec`] and its [`Candidate`]s ignore unknown keys (they are not kept), and an
//!   unknown `sourceType` is kept as [`MediaType::Other`].
//!
//! # Validation
//!
//! [`Proposal::from_json`] and [`Advertisement::from_json`] parse and then validate; every
//! error is a [`SignalingError`] whose message starts with the JSON path it is about.
//!
//! Both documents:
//! - a candidate has exactly one of `relay`, `stun`, `local`; its address is `a.b.c.d:port`,
//!   `[ipv6]:port` or `ipv6:port` (see [`Address`]) with a port from 1 to 65535.
//!
//! Proposals, every stream (`sendStreams` and `receiveStreams`):
//! - `codecName` and `AEAD` are present; `AEAD` is a known name ([`crate::crypto::Algorithm`]);
//! - not both `secret` and `secretRef`; with an AEAD other than `NULL`, one of them, non-empty;
//! - every ID (`conferenceID`, `endpointID`, `sourceID`, `sinkID`, `encodingID`, each of
//!   `fecRepairEncodingIDs`) is at most 2^62-1, since IDs travel as QUIC varints.
//!
//! Proposals, send streams:
//! - `conferenceID`, `endpointID`, `sourceID`, `encodingID` are present (0 is a valid ID) and
//!   no two send streams share all four;
//! - a FEC stream (codec `flex-fec-rs`, or any stream with `fecRepairEncodingIDs`) lists at least
//!   one encodingID, and each names another send stream with the same conferenceID, endpointID
//!   and sourceID.
//!
//! Proposals, receive streams: `sinkID` is present.
//!
//! Advertisements: `sourceID`s are unique among sources and `sinkID`s among sinks, all at most
//! 2^62-1; no codec has an empty `codecName`.
//!
//! # Controller API
//!
//! [`channel`] has the controller's WebSocket messages ([`ClientMessage`], [`ServerMessage`])
//! and [`rest`] the bodies of its REST API and of its calls to SFU nodes (PROTOCOL.md §14),
//! shared by the controller, the SDK and the load tester.

mod address;
mod advertisement;
mod candidate;
pub mod channel;
mod error;
mod hex;
mod proposal;
pub mod rest;
mod validate;

pub use address::{Address, AddressForm};
pub use advertisement::{Advertisement, Codec, MediaType, Sink, Source};
pub use candidate::{Candidate, CandidateKind, parse_fingerprint};
pub use channel::{
    AdvertisementMessage, ChannelError, ChannelErrorMessage, CheckCommand, CheckReceived,
    ClientMessage, ConferenceEnded, Consent, Ping, ProposalMessage, ProposalResult, RelayInfo,
    ServerMessage, Welcome, proposal_id_of,
};
pub use error::SignalingError;
pub use hex::{HexSecret, HexTransactionId, MAX_SENDER_SECRET_LEN, from_hex, to_hex};
pub use proposal::{FEC_CODEC, Proposal, ReceiveStream, SendStream, Stream};
