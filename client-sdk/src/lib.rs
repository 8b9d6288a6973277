//! # newmedia-client
//!
//! The client SDK conference apps embed (draft §6): control APIs, transport, publishing and
//! subscribing. This crate is being built up; what is here today:
//!
//! - [`codec`]: codec helpers that turn real bitstreams into frames the SDK can publish, the
//!   G.711 codec, Opus (packet parsing; encode/decode over libopus with the default
//!   `libopus` feature), Ogg, and lossless framing of H.264, AV1/IVF, Ogg Opus and µ-law
//!   files with the side information that rebuilds them (draft §5.5; PROTOCOL.md §15).
//! - [`control`]: the control API data model (draft §6): capabilities, the advertisement made
//!   from them, and applying a proposal whole or rejecting it whole.
//! - [`media`]: the sans-IO media pipeline (draft §5, §6.4, §6.7): packetizer and send
//!   pacer; reassembler, loss recovery, jitter buffer and lip sync; receiver reports and
//!   stream metrics.
//! - [`signaling`]: the controller's WebSocket client (advertisement, proposals, Snowflake
//!   commands) and a REST client for apps (tokens, conferences, endpoints).
//! - [`relay`]: the TURN2 relay client: an allocation, refreshed, whose relayed datagrams
//!   arrive as `(source, packet)` for the transport to inject.
//!
//! What it does not do: capture or render media, or encode and decode video (apps bring their
//! encoder; the SDK packetizes, protects and transports what it produces).

#![forbid(unsafe_code)]

pub mod agent;
pub mod client;
pub mod clock;
pub mod codec;
pub mod control;
pub mod identity;
pub mod media;
pub mod relay;
pub mod session;
pub mod signaling;
pub mod tls;
pub mod transport;
