//! Arbitrary bytes into the stream framing and the TLV and varint readers: never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use newmedia_proto::{frame, tlv, varint};

fuzz_target!(|data: &[u8]| {
    let _ = varint::read(data);
    let mut rest = data;
    while let Ok(Some((f, used))) = frame::decode(rest) {
        for field in tlv::Fields::new(f.body).flatten() {
            let _ = field.uint();
        }
        rest = &rest[used..];
    }
});
