//! The AEAD algorithms a proposal can name.

use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};
use thiserror::Error;

/// An AEAD algorithm for RTP3 messages, by its signaling name (draft §8: `"AEAD":"AES128-GCM"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// AES-128 in Galois/Counter Mode, 16-byte key, 16-byte tag.
    #[serde(rename = "AES128-GCM")]
    Aes128Gcm,
    /// AES-256 in Galois/Counter Mode, 32-byte key, 16-byte tag.
    #[serde(rename = "AES256-GCM")]
    Aes256Gcm,
    /// No protection: the payload travels in clear and no tag is appended.
    #[serde(rename = "NULL")]
    Null,
}

/// A name that is not one of the supported AEADs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown AEAD {0:?} (supported: AES128-GCM, AES256-GCM, NULL)")]
pub struct UnknownAlgorithm(pub String);

impl Algorithm {
    /// Every supported algorithm, strongest first.
    pub const ALL: [Algorithm; 3] = [Algorithm::Aes256Gcm, Algorithm::Aes128Gcm, Algorithm::Null];

    /// The signaling name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Aes128Gcm => "AES128-GCM",
            Algorithm::Aes256Gcm => "AES256-GCM",
            Algorithm::Null => "NULL",
        }
    }

    /// Key length in bytes (0 for NULL).
    pub fn key_len(self) -> usize {
        match self {
            Algorithm::Aes128Gcm => 16,
            Algorithm::Aes256Gcm => 32,
            Algorithm::Null => 0,
        }
    }

    /// Authentication tag length in bytes (0 for NULL).
    pub fn tag_len(self) -> usize {
        match self {
            Algorithm::Null => 0,
            _ => 16,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| UnknownAlgorithm(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip() {
        for a in Algorithm::ALL {
            assert_eq!(a.name().parse::<Algorithm>(), Ok(a));
            assert_eq!(
                serde_json::to_string(&a).unwrap(),
                format!("\"{}\"", a.name())
            );
        }
        assert!("AES-GCM".parse::<Algorithm>().is_err());
    }
}
