//! Arbitrary bytes as a join grant: decoding and verification never panic, and nothing
//! verifies under a key that did not sign it.

#![no_main]

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use newmedia_proto::grant::JoinGrant;

fuzz_target!(|data: &[u8]| {
    let _ = JoinGrant::decode_unverified(data);
    let trusted = [(1, SigningKey::from_bytes(&[9; 32]).verifying_key())];
    if let Ok((grant, _, _)) = JoinGrant::decode_unverified(data) {
        if grant.key_id == 1 {
            assert!(JoinGrant::verify(data, &trusted, 0).is_err(), "forged grant verified");
        }
    }
});
