//! End-to-end protection of RTP3 messages (draft §5.1): the AEAD algorithms, key derivation
//! from the proposal's secret, and the nonce rule.
//!
//! The headers of a message are authenticated (they are the AAD), the payload is encrypted, and
//! the 16-byte tag follows the ciphertext. See PROTOCOL.md "Message protection".

mod algorithm;
mod kdf;
mod message_key;
mod nonce;

pub use algorithm::{Algorithm, UnknownAlgorithm};
pub use kdf::{RTP3_EXTRACT_SALT, RTP3_KEY_LABEL, derive_message_key};
pub use message_key::{CryptoError, MessageKey, TAG_LEN};
pub use nonce::{SALT_LEN, message_nonce};
