//! Connectivity candidates (`receiveAt`, `sendTo`): where to reach an endpoint or a TURN2
//! relay.

use super::Address;
use serde::{Deserialize, Deserializer, Serialize};

/// What kind of address a candidate gives: the key it is written under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CandidateKind {
    /// `"relay"`: a TURN2 relay.
    Relay,
    /// `"stun"`: a server-reflexive address learned with STUN2.
    Stun,
    /// `"local"`: a host address.
    Local,
}

impl CandidateKind {
    /// The JSON key.
    pub fn key(self) -> &'static str {
        match self {
            CandidateKind::Relay => "relay",
            CandidateKind::Stun => "stun",
            CandidateKind::Local => "local",
        }
    }
}

/// One candidate: an object with exactly one of `"relay"`, `"stun"`, `"local"` (validation
/// checks "exactly one"), a `"stunSecret"`, and optionally a `"tlsFingerprintSHA256"`.
///
/// Deserialized on its own (and inside an [`super::Advertisement`]) unknown keys are ignored;
/// inside a [`super::Proposal`] they are an error.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Candidate {
    /// `"relay"`: address of a TURN2 relay.
    #[serde(rename = "relay", default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<Address>,
    /// `"stun"`: server-reflexive address.
    #[serde(rename = "stun", default, skip_serializing_if = "Option::is_none")]
    pub stun: Option<Address>,
    /// `"local"`: host address.
    #[serde(rename = "local", default, skip_serializing_if = "Option::is_none")]
    pub local: Option<Address>,
    /// `"stunSecret"` (required): the secret that authenticates STUN2 checks to this address.
    #[serde(rename = "stunSecret")]
    pub stun_secret: String,
    /// `"tlsFingerprintSHA256"`: fingerprint of the certificate expected on the far side. Kept
    /// as text because the draft's examples use placeholders like `"1283938"`; see
    /// [`Candidate::tls_fingerprint`].
    #[serde(
        rename = "tlsFingerprintSHA256",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tls_fingerprint_sha256: Option<String>,
}

impl Candidate {
    /// A candidate of one kind, without a fingerprint.
    pub fn new(kind: CandidateKind, address: Address, stun_secret: impl Into<String>) -> Self {
        let mut c = Self {
            relay: None,
            stun: None,
            local: None,
            stun_secret: stun_secret.into(),
            tls_fingerprint_sha256: None,
        };
        match kind {
            CandidateKind::Relay => c.relay = Some(address),
            CandidateKind::Stun => c.stun = Some(address),
            CandidateKind::Local => c.local = Some(address),
        }
        c
    }

    /// How many of `relay`, `stun`, `local` are present (a valid candidate has 1).
    pub fn kind_count(&self) -> usize {
        [&self.relay, &self.stun, &self.local]
            .iter()
            .filter(|a| a.is_some())
            .count()
    }

    /// The kind and address, if exactly one of `relay`, `stun`, `local` is present.
    pub fn address(&self) -> Option<(CandidateKind, &Address)> {
        match (&self.relay, &self.stun, &self.local) {
            (Some(a), None, None) => Some((CandidateKind::Relay, a)),
            (None, Some(a), None) => Some((CandidateKind::Stun, a)),
            (None, None, Some(a)) => Some((CandidateKind::Local, a)),
            _ => None,
        }
    }

    /// The fingerprint as 32 bytes, if `tlsFingerprintSHA256` is a real SHA-256 fingerprint:
    /// 64 hex digits (either case), either run together or as 32 colon-separated pairs
    /// (`"AB:CD:..."`). `None` if absent or anything else.
    pub fn tls_fingerprint(&self) -> Option<[u8; 32]> {
        self.tls_fingerprint_sha256
            .as_deref()
            .and_then(parse_fingerprint)
    }
}

/// Parses a SHA-256 fingerprint: 64 hex digits, optionally as colon-separated pairs.
pub fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    let stride = match bytes.len() {
        64 => 2,
        95 => 3,
        _ => return None,
    };
    let mut out = [0u8; 32];
    for (i, (chunk, byte)) in bytes.chunks(stride).zip(out.iter_mut()).enumerate() {
        let (hi, lo, sep) = match chunk {
            [hi, lo] => (*hi, *lo, None),
            [hi, lo, sep] => (*hi, *lo, Some(*sep)),
            _ => return None,
        };
        if stride == 3 && i < 31 && sep != Some(b':') {
            return None;
        }
        *byte = (hex_digit(hi)? << 4) | hex_digit(lo)?;
    }
    Some(out)
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The same fields as [`Candidate`], with unknown keys denied: how a proposal reads candidates.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StrictCandidate {
    #[serde(rename = "relay", default)]
    relay: Option<Address>,
    #[serde(rename = "stun", default)]
    stun: Option<Address>,
    #[serde(rename = "local", default)]
    local: Option<Address>,
    #[serde(rename = "stunSecret")]
    stun_secret: String,
    #[serde(rename = "tlsFingerprintSHA256", default)]
    tls_fingerprint_sha256: Option<String>,
}

impl From<StrictCandidate> for Candidate {
    fn from(c: StrictCandidate) -> Self {
        Self {
            relay: c.relay,
            stun: c.stun,
            local: c.local,
            stun_secret: c.stun_secret,
            tls_fingerprint_sha256: c.tls_fingerprint_sha256,
        }
    }
}

/// `deserialize_with` for a proposal's optional candidate lists: unknown keys are errors.
pub(super) fn deserialize_strict_list<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<Candidate>>, D::Error> {
    let list: Option<Vec<StrictCandidate>> = Option::deserialize(deserializer)?;
    Ok(list.map(|l| l.into_iter().map(Candidate::from).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_forms() {
        let hex64 = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let want: [u8; 32] = hex::decode(hex64).unwrap().try_into().unwrap();
        assert_eq!(parse_fingerprint(hex64), Some(want));
        let colons = hex64
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(parse_fingerprint(&colons), Some(want));
        assert_eq!(parse_fingerprint("1283938"), None);
        assert_eq!(parse_fingerprint(&hex64.replace('0', "g")), None);
        assert_eq!(parse_fingerprint(&colons.replacen(':', ";", 1)), None);
        assert_eq!(parse_fingerprint(&format!("{colons}:")), None);

        let mut c = Candidate::new(
            CandidateKind::Local,
            Address::parse("10.0.0.1:1").unwrap(),
            "s",
        );
        assert_eq!(c.tls_fingerprint(), None);
        c.tls_fingerprint_sha256 = Some(colons);
        assert_eq!(c.tls_fingerprint(), Some(want));
    }

    #[test]
    fn kinds() {
        let a = Address::parse("10.0.0.1:1").unwrap();
        for kind in [
            CandidateKind::Relay,
            CandidateKind::Stun,
            CandidateKind::Local,
        ] {
            let c = Candidate::new(kind, a.clone(), "s");
            assert_eq!(c.kind_count(), 1);
            assert_eq!(c.address(), Some((kind, &a)));
            let v = serde_json::to_value(&c).unwrap();
            assert_eq!(v[kind.key()], "10.0.0.1:1");
        }
    }
}
