//! # newmedia-client
//!
//! The client SDK conference apps embed (draft §6): control APIs, transport, publishing and
//! subscribing. This crate is being built up; what is here today:
//!
//! - [`codec`]: codec helpers that turn real bitstreams into frames the SDK can publish, and
//!   the G.711 codec (draft §5.5).
//! - [`control`]: the control API data model (draft §6): capabilities, the advertisement made
//!   from them, and applying a proposal whole or rejecting it whole.
//! - [`media`]: frames to sealed RTP3 messages and back: the packetizer and the reassembler
//!   (draft §5).
//! - [`relay`]: the TURN2 relay client: an allocation, refreshed, whose relayed datagrams
//!   arrive as `(source, packet)` for the transport to inject.
//!
//! What it does not do: capture or render media, or encode and decode video (apps bring their
//! encoder; the SDK packetizes, protects and transports what it produces).

#![forbid(unsafe_code)]

pub mod codec;
pub mod control;
pub mod identity;
pub mod media;
pub mod relay;
pub mod tls;
