//! Who may connect to the SFU and what they may publish.
//!
//! A client is admitted (draft §4) either because the SHA-256 fingerprint of its TLS client
//! certificate was registered for a conference through the admin API ([`registry`]), or because
//! it presents a join grant signed by a trusted controller key ([`newmedia_proto::grant`]).
//! [`tls`] builds the TLS configuration that makes the fingerprint trustworthy.
//!
//! - [`registry`]: the in-memory authorization registry (conferences, fingerprint ->
//!   endpoint admissions, revocations) that the admin HTTP API mutates and sessions query.
//! - [`tls`]: the node's certificate, client authentication by fingerprint, server pinning.

pub mod registry;
pub mod tls;
