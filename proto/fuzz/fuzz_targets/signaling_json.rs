//! Arbitrary bytes (as text when UTF-8) into both signaling JSON parsers: never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use newmedia_proto::signaling::{Advertisement, Proposal};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = Proposal::from_json(text) {
            // Whatever is accepted re-serializes and is accepted again, unchanged.
            let again = p.to_json().ok().and_then(|t| Proposal::from_json(&t).ok());
            assert_eq!(again.as_ref(), Some(&p));
        }
        if let Ok(a) = Advertisement::from_json(text) {
            let again = a.to_json().ok().and_then(|t| Advertisement::from_json(&t).ok());
            assert_eq!(again.as_ref(), Some(&a));
        }
    }
});
