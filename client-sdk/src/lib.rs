//! # newmedia-client
//!
//! The client SDK conference apps embed: the control API of draft §6, the QUIC transport,
//! publishing and subscribing RTP3 media through an SFU, and a client the controller drives.
//! [`control_api`] maps every item of draft §6 to its API, with runnable examples.
//!
//! - [`agent`]: [`Agent`](agent::Agent), a client driven by the controller: advertisement,
//!   proposals accepted or rejected whole, Snowflake checks and consent, TURN2, migration.
//! - [`client`]: [`Client`](client::Client) (identity, capabilities, endpoint) and the
//!   [`Call`](client::Call) a proposal becomes: publishers and subscriptions on one flow.
//! - [`session`]: publishers (packetize, seal, pace) and subscriptions (open, reassemble,
//!   recover losses, jitter buffer, lip sync), data publishers, per-stream settings.
//! - [`transport`]: the UDP socket QUIC and STUN2 share (with relay injection), flows to SFUs
//!   with pinned fingerprints, STUN2 checks, rebinding.
//! - [`relay`]: the TURN2 relay client.
//! - [`signaling`]: the controller's WebSocket client and a REST client for apps.
//! - [`media`]: the sans-IO media pipeline (draft §5, §6.4, §6.7): packetizer, pacer, FEC,
//!   reassembler, recovery, jitter buffer, lip sync, receiver reports, stream statistics.
//! - [`codec`]: G.711 (bit-exact with ffmpeg), Opus (packet parsing; encode/decode over
//!   libopus with the default `libopus` feature), Ogg, the data codec, H.264 and AV1 frame
//!   parsers, and lossless framing of H.264, AV1/IVF, Ogg Opus and µ-law files with the side
//!   information that rebuilds them (draft §5.5; PROTOCOL.md §15).
//! - [`control`]: capabilities, the advertisement made from them, applying a proposal whole.
//! - [`identity`], [`tls`]: the endpoint's certificate and the pinned-fingerprint TLS.
//! - [`clock`]: the one place the async shell reads clocks.
//!
//! What it does not do: capture or render media, or encode and decode video (apps bring their
//! encoder; the SDK packetizes, protects and transports what it produces).

#![forbid(unsafe_code)]

pub mod agent;
pub mod client;
pub mod clock;
pub mod codec;
pub mod control;
pub mod control_api;
pub mod identity;
pub mod media;
pub mod relay;
pub mod session;
pub mod signaling;
pub mod tls;
pub mod transport;
