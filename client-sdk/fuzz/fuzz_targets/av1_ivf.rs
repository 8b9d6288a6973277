//! Arbitrary bytes as an IVF file of AV1 temporal units, and as one temporal unit: never
//! panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use newmedia_client::codec::av1::TemporalUnit;
use newmedia_client::codec::ivf::IvfReader;

fuzz_target!(|data: &[u8]| {
    let _ = TemporalUnit::parse(data);
    if let Ok(reader) = IvfReader::new(data) {
        for frame in reader.frames().flatten() {
            let _ = TemporalUnit::parse(frame.data);
        }
    }
});
