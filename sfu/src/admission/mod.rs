//! Who may connect: certificate fingerprints registered per conference, or signed join
//! grants; the TLS configuration. See the crate docs.
//!
//! - [`registry`]: the in-memory authorization registry (conferences, fingerprint ->
//!   endpoint admissions, revocations) that the admin HTTP API mutates and sessions query.

pub mod registry;
