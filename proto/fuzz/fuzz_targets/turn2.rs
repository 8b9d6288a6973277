#![no_main]
//! TURN2: incremental frame decoding from a stream buffer, and body decoding of every type.

use libfuzzer_sys::fuzz_target;
use newmedia_proto::turn2::Turn2Frame;

fuzz_target!(|data: &[u8]| {
    // Read frames the way a receiver does, re-encoding each one that decodes.
    let mut rest = data;
    while let Ok(Some((frame, used))) = Turn2Frame::decode(rest) {
        let mut out = Vec::new();
        if frame.encode(&mut out).is_ok() {
            assert!(Turn2Frame::decode(&out).is_ok_and(|f| f.is_some()));
        }
        rest = rest.get(used..).unwrap_or_default();
    }
    if let Some((&kind, body)) = data.split_first() {
        let _ = Turn2Frame::decode_body(u64::from(kind % 8), body);
    }
});
