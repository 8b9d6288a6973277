//! Arbitrary bytes into the SFU's HeaderView: never panics; whatever parses re-encodes (in the
//! builder's canonical order) to a message that parses to the same headers.

#![no_main]

use libfuzzer_sys::fuzz_target;
use newmedia_proto::rtp3::HeaderView;

fuzz_target!(|data: &[u8]| {
    if let Ok(view) = HeaderView::parse(data) {
        let _ = (view.global_message_id(), view.dscp(), view.layer_id());
        let headers = view.headers();
        let mut again = Vec::new();
        headers.write(&mut again).expect("parsed headers re-encode");
        again.extend_from_slice(&[0, 0]); // an empty payload field
        let reparsed = HeaderView::parse(&again).expect("re-encoded headers parse");
        assert_eq!(reparsed.headers(), headers);
        // The draft lets headers after the ordered group come in any order, so only a message
        // in the builder's order and without unknown headers is byte-identical.
        assert!(view.unknown_fields() > 0 || again.len() - 2 <= view.aad().len());
    }
});
