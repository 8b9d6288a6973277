//! # newmedia-sfu
//!
//! The Switched Forwarding Unit of the New Media Stack (draft §9): a QUIC server that receives
//! RTP3 messages as datagrams and forwards each, byte for byte, to the endpoints subscribed to
//! its GlobalEncodingID, choosing by active level (active speakers), simulcast encoding and
//! layer. It never decrypts or rewrites a message.
//!
//! - [`transport`]: the UDP socket shared by QUIC and STUN2 (first-byte demux, STUN2
//!   responder, per-destination DSCP on egress) and the SO_REUSEPORT endpoints.
//! - [`admission`]: who may connect: certificate fingerprints registered per conference, or
//!   signed join grants; the TLS configuration.
//! - [`forward`]: per-connection sessions, the routing of datagrams to subscribers, per
//!   subscriber drop policy.
//! - [`policy`]: sans-IO decisions: active speakers, simulcast choice and switching, layers,
//!   per-subscriber bandwidth, retransmission cache, keyframe request limiting.
//! - [`relay`]: the TURN2 relay (TLS over TCP, one inbound UDP socket per allocation).
//! - [`snowflake`]: registration and heartbeats at the controller, check reports, downlink
//!   checks and the redirects they install.
//! - [`app`]: starting a node from its configuration, and draining it.
//! - [`testing`]: a minimal raw client for tests, benchmarks and tools.
//! - [`ops`]: configuration, Prometheus metrics, health/readiness, the admin HTTP API, drain.
//!
//! What it does not do: signaling and placement (the controller's job), media decoding,
//! transcoding or mixing.

pub mod admission;
pub mod app;
pub mod forward;
pub mod ops;
pub mod policy;
pub mod relay;
pub mod snowflake;
pub mod testing;
pub mod transport;
