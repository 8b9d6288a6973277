//! End-to-end protection of RTP3 messages (draft §5.1): the AEAD algorithms, key derivation
//! from the proposal's secret, and the nonce rule.

mod algorithm;

pub use algorithm::{Algorithm, UnknownAlgorithm};
