//! Who may call: API keys (apps, nodes) and short-lived client tokens.
//!
//! A **client token** is `v1.<payload>.<mac>`: `payload` is the unpadded base64url of the
//! JSON `{"sub": "<clientID>", "exp": <Unix seconds>}`, `mac` the unpadded base64url of
//! HMAC-SHA256(token secret, `"v1." | payload`). Controllers sharing a Redis share the token
//! secret, so a token from one is good at all of them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An app, with an API key.
    App,
    /// An SFU node, with a node key.
    Node,
    /// An SDK client, with a token naming it.
    Client(String),
}

/// The credentials the controller accepts.
#[derive(Clone)]
pub struct Credentials {
    app_keys: Vec<[u8; 32]>,
    node_keys: Vec<[u8; 32]>,
    token_secret: Vec<u8>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("app_keys", &self.app_keys.len())
            .field("node_keys", &self.node_keys.len())
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Compares digests without early exit, so timing shows nothing of a key.
fn listed(keys: &[[u8; 32]], presented: &str) -> bool {
    let d = digest(presented);
    let mut found = false;
    for k in keys {
        let diff = k
            .iter()
            .zip(d.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        found |= std::hint::black_box(diff) == 0;
    }
    found
}

impl Credentials {
    /// App keys, node keys (none: the app keys also serve nodes) and the token secret.
    pub fn new(app_keys: &[String], node_keys: &[String], token_secret: &[u8]) -> Self {
        let node = if node_keys.is_empty() {
            app_keys
        } else {
            node_keys
        };
        Self {
            app_keys: app_keys.iter().map(|k| digest(k)).collect(),
            node_keys: node.iter().map(|k| digest(k)).collect(),
            token_secret: token_secret.to_vec(),
        }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; this cannot fail.
        HmacSha256::new_from_slice(&self.token_secret).unwrap_or_else(|_| unreachable_hmac())
    }

    /// A token for `client_id` that expires at `exp` (Unix seconds).
    pub fn issue(&self, client_id: &str, exp: u64) -> String {
        let claims = Claims {
            sub: client_id.to_owned(),
            exp,
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(b"v1.");
        mac.update(payload.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("v1.{payload}.{tag}")
    }

    /// The client a token names, if its MAC verifies and it has not expired at `now` (Unix
    /// seconds).
    pub fn verify_token(&self, token: &str, now: u64) -> Option<String> {
        let rest = token.strip_prefix("v1.")?;
        let (payload, tag) = rest.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let mut mac = self.mac();
        mac.update(b"v1.");
        mac.update(payload.as_bytes());
        mac.verify_slice(&tag).ok()?;
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (claims.exp > now).then_some(claims.sub)
    }

    /// Who presents `bearer`, at `now` (Unix seconds).
    pub fn identify(&self, bearer: &str, now: u64) -> Option<Principal> {
        if bearer.is_empty() {
            return None;
        }
        if bearer.starts_with("v1.") {
            return self.verify_token(bearer, now).map(Principal::Client);
        }
        if listed(&self.app_keys, bearer) {
            Some(Principal::App)
        } else if listed(&self.node_keys, bearer) {
            Some(Principal::Node)
        } else {
            None
        }
    }

    /// Whether `bearer` is a node key (an app key too when no node keys are configured).
    pub fn is_node_key(&self, bearer: &str) -> bool {
        !bearer.is_empty() && listed(&self.node_keys, bearer)
    }
}

#[cold]
fn unreachable_hmac() -> HmacSha256 {
    // Hmac::new_from_slice only fails for fixed-size-key MACs; HMAC accepts every length.
    #[allow(clippy::expect_used)]
    HmacSha256::new_from_slice(&[0u8; 32]).expect("HMAC accepts any key length")
}

/// A random secret: 32 bytes from the OS, unpadded base64url.
pub fn random_secret() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_keys() {
        let c = Credentials::new(&["app".into()], &[], b"secret");
        let t = c.issue("alice", 100);
        assert_eq!(c.verify_token(&t, 99), Some("alice".into()));
        assert_eq!(c.verify_token(&t, 100), None);
        let other = Credentials::new(&["app".into()], &[], b"other");
        assert_eq!(other.verify_token(&t, 0), None);
        let mut forged = t.clone();
        forged.replace_range(3..4, if &t[3..4] == "A" { "B" } else { "A" });
        assert_eq!(c.verify_token(&forged, 0), None);
        assert_eq!(c.identify("app", 0), Some(Principal::App));
        assert!(c.is_node_key("app"));
        assert_eq!(c.identify("nope", 0), None);
        assert_eq!(c.identify("", 0), None);
        let c = Credentials::new(&["app".into()], &["node".into()], b"s");
        assert_eq!(c.identify("node", 0), Some(Principal::Node));
        assert!(!c.is_node_key("app"));
    }
}
