#![no_main]
//! Reliable data streams (PROTOCOL.md §13): incremental reading at any split point, and
//! re-encoding of every frame that reads.

use libfuzzer_sys::fuzz_target;
use newmedia_proto::data_stream::{DataStreamReader, encode_frame};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).min(stream.len());
    let (head, tail) = stream.split_at(cut);
    let mut reader = DataStreamReader::new();
    for part in [head, tail] {
        reader.push(part);
        while let Ok(Some(frame)) = reader.next_frame() {
            let mut out = Vec::new();
            assert!(encode_frame(&frame.message(), &mut out).is_ok());
            assert_eq!(&out[..], &frame.frame()[..]);
        }
    }
    let _ = reader.finish();
});
