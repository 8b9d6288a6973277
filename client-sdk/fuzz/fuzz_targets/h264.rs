//! Arbitrary bytes as an H.264 Annex B stream: never panics, and the access units found
//! tile the input exactly (their concatenation is the input).

#![no_main]

use libfuzzer_sys::fuzz_target;
use newmedia_client::codec::h264::AccessUnits;

fuzz_target!(|data: &[u8]| {
    let mut joined = Vec::with_capacity(data.len());
    let mut complete = true;
    for au in AccessUnits::new(data) {
        match au {
            Ok(au) => {
                joined.extend_from_slice(au.bytes);
                for nal in au.nal_units() {
                    if let Ok(nal) = nal {
                        let _ = nal.first_mb_in_slice();
                    }
                }
            }
            Err(_) => {
                complete = false;
                break;
            }
        }
    }
    if complete {
        assert_eq!(joined, data);
    }
});
