//! Talking to the controller (PROTOCOL.md §14): [`SignalingClient`], the client's WebSocket,
//! and [`RestClient`], the REST calls an app makes with its API key (or a client with its
//! token).
//!
//! The WebSocket client sends the advertisement, yields [`SignalingEvent`]s (welcome,
//! proposal, check, consent, ...) and sends `proposalResult` and `checkReceived`. It does not
//! touch QUIC or STUN2: a `check` event says which STUN2 request to send, a `consent` event
//! which pair may now carry media; the transport acts on them. A proposal that fails
//! PROTOCOL.md §10 validation is rejected on the spot (it cannot be applied) and reported as
//! [`SignalingEvent::InvalidProposal`]; a valid one is for the app to check with
//! [`crate::control::MediaConfiguration::apply`] and answer with
//! [`SignalingClient::accept`] or [`SignalingClient::reject`].

mod channel;
mod error;
mod rest;

pub use channel::{SignalingClient, SignalingEvent, ws_url};
pub use error::SignalingClientError;
pub use rest::RestClient;
