//! Hex-encoded binary values of the controller's JSON: STUN2 transaction IDs and sender
//! secrets (PROTOCOL.md §14).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The largest sender secret accepted, bytes (the SDK uses 16).
pub const MAX_SENDER_SECRET_LEN: usize = 64;

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Decodes hex digits (either case). `None` on an odd length or a non-hex character.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some(digit(*hi)? << 4 | digit(*lo)?),
            _ => None,
        })
        .collect()
}

/// A STUN2 transaction ID (12 bytes) written as 24 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HexTransactionId(pub [u8; 12]);

impl HexTransactionId {
    /// Parses 24 hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = from_hex(text)?;
        Some(Self(bytes.try_into().ok()?))
    }
}

impl fmt::Display for HexTransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_hex(&self.0))
    }
}

impl fmt::Debug for HexTransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HexTransactionId({self})")
    }
}

impl Serialize for HexTransactionId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for HexTransactionId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Self::parse(&text)
            .ok_or_else(|| serde::de::Error::custom("a transaction ID is 24 hex digits"))
    }
}

/// A STUN2 sender secret (1 to [`MAX_SENDER_SECRET_LEN`] bytes) written as hex. `Debug`
/// prints only its length.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HexSecret(pub Vec<u8>);

impl HexSecret {
    /// Parses 2 to 128 hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = from_hex(text)?;
        (!bytes.is_empty() && bytes.len() <= MAX_SENDER_SECRET_LEN).then_some(Self(bytes))
    }

    /// Whether both secrets are equal, in time independent of where they differ.
    pub fn constant_time_eq(&self, other: &HexSecret) -> bool {
        if self.0.len() != other.0.len() {
            return false;
        }
        let diff = self
            .0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        diff == 0
    }
}

impl fmt::Display for HexSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_hex(&self.0))
    }
}

impl fmt::Debug for HexSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HexSecret({} bytes)", self.0.len())
    }
}

impl Serialize for HexSecret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for HexSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::custom("a sender secret is 2 to 128 hex digits (1 to 64 bytes)")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hex_roundtrip_and_rejects() {
        assert_eq!(to_hex(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(from_hex("00ABff"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
        assert!(HexTransactionId::parse(&"ab".repeat(12)).is_some());
        assert!(HexTransactionId::parse(&"ab".repeat(11)).is_none());
        assert!(HexSecret::parse("").is_none());
        assert!(HexSecret::parse(&"00".repeat(65)).is_none());
        let s = HexSecret::parse("0102").unwrap();
        assert!(s.constant_time_eq(&HexSecret(vec![1, 2])));
        assert!(!s.constant_time_eq(&HexSecret(vec![1, 3])));
        assert!(!s.constant_time_eq(&HexSecret(vec![1])));
        assert_eq!(format!("{s:?}"), "HexSecret(2 bytes)");
    }

    proptest! {
        #[test]
        fn from_hex_never_panics(text in ".{0,80}") {
            let _ = from_hex(&text);
            let _ = HexSecret::parse(&text);
            let _ = HexTransactionId::parse(&text);
        }

        #[test]
        fn roundtrip(bytes in proptest::collection::vec(any::<u8>(), 0..70)) {
            prop_assert_eq!(from_hex(&to_hex(&bytes)), Some(bytes));
        }
    }
}
