//! Arbitrary bytes into the SFU's HeaderView: never panics; whatever parses re-encodes to the
//! same header bytes (the canonical encoding is unique).

#![no_main]

use libfuzzer_sys::fuzz_target;
use newmedia_proto::rtp3::HeaderView;

fuzz_target!(|data: &[u8]| {
    if let Ok(view) = HeaderView::parse(data) {
        let _ = (view.global_message_id(), view.dscp(), view.layer_id());
        if view.unknown_fields() == 0 {
            let mut again = Vec::new();
            view.headers().write(&mut again).expect("parsed headers re-encode");
            // The AAD is the headers plus the payload field's tag and length.
            assert!(view.aad().starts_with(&again));
        }
    }
});
