//! Fuzzes the control-stream reader and the control-message decoder: arbitrary bytes must
//! never panic, and whatever decodes must re-encode to a message that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newmedia_proto::control::{ControlMessage, ControlReader, Decoded};
use newmedia_proto::frame::Frame;

fuzz_target!(|data: &[u8]| {
    // As one whole frame.
    if let Ok(Decoded::Message(msg)) = ControlMessage::from_bytes(data) {
        let again = msg.to_vec().expect("a decoded message re-encodes");
        assert_eq!(
            ControlMessage::from_bytes(&again),
            Ok(Decoded::Message(msg))
        );
    }

    // As a body of every known type (and one unknown), skipping the framing.
    if let Some((&kind, body)) = data.split_first() {
        let _ = ControlMessage::decode(&Frame {
            kind: u64::from(kind % 12),
            body,
        });
    }

    // As a stream, pushed in two pieces split where the first byte says.
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let (a, b) = data.split_at(split);
    let mut reader = ControlReader::new();
    reader.push(a);
    for piece in [b, &[][..]] {
        loop {
            match reader.next_message() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) if e.is_fatal() => return,
                Err(_) => {}
            }
        }
        reader.push(piece);
    }
});
