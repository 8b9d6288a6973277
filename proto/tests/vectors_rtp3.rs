//! Checks the crate against proto/testdata/vectors/rtp3.json (PROTOCOL.md's RTP3 vectors).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use newmedia_proto::crypto::{Algorithm, MessageKey, derive_message_key, message_nonce};
use newmedia_proto::ids::{GlobalEncodingId, GlobalMessageId};
use newmedia_proto::rtp3::{Chunk, HeaderView, Headers, Opener, Sealer};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/vectors/rtp3.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
}

fn hash(v: &Value, k: &str) -> u64 {
    u64::from_str_radix(v[k].as_str().unwrap(), 16).unwrap()
}

fn bytes(v: &Value, k: &str) -> Vec<u8> {
    hex::decode(v[k].as_str().unwrap()).unwrap()
}

fn opt(h: &Value, k: &str) -> Option<u64> {
    h.get(k).map(|x| x.as_u64().unwrap())
}

fn headers_from(g: GlobalEncodingId, h: &Value) -> Headers {
    let mut out = Headers::new(g, u(h, "sequenceID"));
    out.global_message_id = h
        .get("globalMessageID")
        .map(|_| GlobalMessageId(hash(h, "globalMessageID")));
    out.conference_id = opt(h, "conferenceID");
    out.endpoint_id = opt(h, "endpointID");
    out.encoding_id = opt(h, "encodingID");
    out.active_level = opt(h, "activeLevel").map(|x| x as u8);
    out.dscp = opt(h, "dscp").map(|x| x as u8);
    out.source_id = opt(h, "sourceID");
    out.sink_id = opt(h, "sinkID");
    out.salt = h.get("salt").map(|_| bytes(h, "salt").try_into().unwrap());
    out.capture_time = opt(h, "captureTime");
    out.location_in_room = opt(h, "locationInRoom");
    out.reference_frame = h.get("referenceFrame").map(|b| b.as_bool().unwrap());
    out.layer_id = opt(h, "layerID");
    out.chunk = h.get("chunk").map(|c| Chunk {
        index: c[0].as_u64().unwrap(),
        count: c[1].as_u64().unwrap(),
    });
    out
}

#[test]
fn identifiers() {
    let doc = vectors();
    for v in doc["ids"].as_array().unwrap() {
        let g = GlobalEncodingId::derive(
            u(v, "conferenceID"),
            u(v, "endpointID"),
            u(v, "sourceID"),
            u(v, "encodingID"),
        );
        assert_eq!(g.0, hash(v, "globalEncodingID"), "{}", v["name"]);
        assert_eq!(
            g.message_id(u(v, "sequenceID")).0,
            hash(v, "globalMessageID"),
            "{}",
            v["name"]
        );
    }
}

#[test]
fn sealed_messages() {
    let doc = vectors();
    for m in doc["messages"].as_array().unwrap() {
        let name = m["name"].as_str().unwrap();
        let alg: Algorithm = m["aead"].as_str().unwrap().parse().unwrap();
        let (conf, ep) = (u(m, "conferenceID"), u(m, "endpointID"));
        let g = GlobalEncodingId::derive(conf, ep, u(m, "sourceID"), u(m, "encodingID"));
        assert_eq!(g.0, hash(m, "globalEncodingID"), "{name}");
        let secret = m["secret"].as_str().unwrap().as_bytes();

        let mut key = vec![0u8; alg.key_len()];
        derive_message_key(secret, conf, ep, g, &mut key);
        assert_eq!(key, bytes(m, "key"), "{name}: key");

        let salt: [u8; 12] = bytes(m, "salt").try_into().unwrap();
        let headers = headers_from(g, &m["headers"]);
        assert_eq!(
            message_nonce(&salt, g, headers.sequence_id).to_vec(),
            bytes(m, "nonce"),
            "{name}: nonce"
        );

        let payload = bytes(m, "payload");
        let mut built = Vec::new();
        Sealer::new(MessageKey::derive(alg, secret, conf, ep, g), salt)
            .seal(&headers, &payload, &mut built)
            .unwrap();
        let expected = bytes(m, "hex");
        assert_eq!(
            hex::encode(&built),
            hex::encode(&expected),
            "{name}: message bytes"
        );

        let view = HeaderView::parse(&expected).unwrap();
        assert_eq!(&view.headers(), &headers, "{name}: parsed headers");
        let mut opener = Opener::new(MessageKey::derive(alg, secret, conf, ep, g));
        if headers.salt.is_none() {
            // A steady-state message: the receiver knows the salt from an earlier message.
            let mut first = Headers::new(g, 0);
            first.salt = Some(salt);
            let mut carrier = Vec::new();
            Sealer::new(MessageKey::derive(alg, secret, conf, ep, g), salt)
                .seal(&first, b"", &mut carrier)
                .unwrap();
            opener
                .open(&HeaderView::parse(&carrier).unwrap(), &mut Vec::new())
                .unwrap();
        }
        let mut out = Vec::new();
        assert_eq!(
            opener.open(&view, &mut out).unwrap(),
            &payload[..],
            "{name}: payload"
        );
    }
}
