//! A controller public key trusted for join grants, as written in configuration:
//! `"<key ID>:<base64 of the 32-byte Ed25519 public key>"`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// Why a grant key string was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GrantKeyError {
    /// No `:` between key ID and key.
    #[error("grant key must be \"<key ID>:<base64 Ed25519 public key>\"")]
    Format,
    /// The key ID is not an unsigned integer.
    #[error("grant key ID is not an unsigned 64-bit integer")]
    KeyId,
    /// The key is not base64.
    #[error("grant key is not valid base64")]
    Base64,
    /// The key is not 32 bytes.
    #[error("grant key is {0} bytes; an Ed25519 public key is 32")]
    Length(usize),
    /// The 32 bytes are not a valid Ed25519 public key.
    #[error("grant key is not a valid Ed25519 public key")]
    Invalid,
}

/// A trusted grant-signing key: the ID grants name it by, and the key.
#[derive(Clone, PartialEq, Eq)]
pub struct GrantKey {
    /// The key ID a grant's `key_id` field refers to.
    pub key_id: u64,
    /// The controller's Ed25519 public key.
    pub key: VerifyingKey,
}

impl fmt::Display for GrantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            self.key_id,
            STANDARD.encode(self.key.as_bytes())
        )
    }
}

impl fmt::Debug for GrantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GrantKey({self})")
    }
}

impl FromStr for GrantKey {
    type Err = GrantKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (id, key) = s.trim().split_once(':').ok_or(GrantKeyError::Format)?;
        let key_id = id.trim().parse().map_err(|_| GrantKeyError::KeyId)?;
        let key = key.trim();
        // Accept the key with or without `=` padding.
        let bytes = STANDARD
            .decode(key)
            .or_else(|_| STANDARD_NO_PAD.decode(key))
            .map_err(|_| GrantKeyError::Base64)?;
        let bytes: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| GrantKeyError::Length(bytes.len()))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| GrantKeyError::Invalid)?;
        Ok(GrantKey { key_id, key })
    }
}

impl Serialize for GrantKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GrantKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
