//! Arbitrary bytes as a sealed RTP3 message under fixed keys: parsing and opening never panic,
//! and nothing opens under a key it was not sealed with (a forgery would be a finding).

#![no_main]

use libfuzzer_sys::fuzz_target;
use newmedia_proto::crypto::{Algorithm, MessageKey};
use newmedia_proto::rtp3::{HeaderView, Opener};

fuzz_target!(|data: &[u8]| {
    let Ok(view) = HeaderView::parse(data) else { return };
    let g = view.global_encoding_id();
    let mut out = Vec::new();
    for alg in [Algorithm::Aes128Gcm, Algorithm::Aes256Gcm] {
        let mut opener = Opener::new(MessageKey::derive(alg, b"fuzz", 1, 2, g));
        assert!(opener.open(&view, &mut out).is_err(), "forged message opened");
    }
    let mut null = Opener::new(MessageKey::derive(Algorithm::Null, b"", 1, 2, g));
    let _ = null.open(&view, &mut out);
});
