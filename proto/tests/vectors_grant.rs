//! Checks join grants against proto/testdata/vectors/grant.json (PROTOCOL.md "Join grant").

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use ed25519_dalek::SigningKey;
use newmedia_proto::grant::{JoinGrant, Publication};
use serde_json::Value;

#[test]
fn grants() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/vectors/grant.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for g in doc["grants"].as_array().unwrap() {
        let seed: [u8; 32] = hex::decode(g["signingKeySeed"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let key = SigningKey::from_bytes(&seed);
        let grant = JoinGrant {
            conference_id: g["conferenceID"].as_u64().unwrap(),
            endpoint_id: g["endpointID"].as_u64().unwrap(),
            expires_at: g["expiresAt"].as_u64().unwrap(),
            key_id: g["keyID"].as_u64().unwrap(),
            publications: serde_json::from_value::<Vec<Publication>>(g["publications"].clone())
                .unwrap(),
        };
        let bytes = grant.sign(&key).unwrap();
        assert_eq!(
            hex::encode(&bytes),
            g["hex"].as_str().unwrap(),
            "{}",
            g["name"]
        );
        let trusted = [(grant.key_id, key.verifying_key())];
        assert_eq!(
            JoinGrant::verify(&bytes, &trusted, grant.expires_at - 1).unwrap(),
            grant
        );
    }
}
