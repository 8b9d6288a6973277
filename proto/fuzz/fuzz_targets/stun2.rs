#![no_main]
//! STUN2: classification, the transaction-ID peek, and request/response decoding under the
//! public (empty-secret) keys and a fixed shared secret.

use libfuzzer_sys::fuzz_target;
use newmedia_proto::stun2::{self, Stun2Keys, Stun2Request, Stun2Response};
use std::sync::LazyLock;

static PUBLIC: LazyLock<Stun2Keys> = LazyLock::new(Stun2Keys::public);
static SHARED: LazyLock<Stun2Keys> = LazyLock::new(|| Stun2Keys::new(b"fuzz shared secret"));

fuzz_target!(|data: &[u8]| {
    let _ = stun2::classify(data);
    let _ = stun2::transaction_id(data);
    for keys in [&*PUBLIC, &*SHARED] {
        if let Ok(request) = Stun2Request::decode(keys, data) {
            // Whatever decodes re-encodes to the same request.
            let mut out = Vec::new();
            request.encode(keys, &mut out);
            assert_eq!(Stun2Request::decode(keys, &out), Ok(request));
        }
        if let Ok(response) = Stun2Response::decode(keys, data) {
            let mut out = Vec::new();
            response.encode(keys, &mut out);
            assert_eq!(Stun2Response::decode(keys, &out), Ok(response));
        }
    }
});
