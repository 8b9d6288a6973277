//! Checks the TURN2 frame vectors in `testdata/vectors/turn2.json`: encoding gives exactly the
//! hex, decoding gives back the inputs, invalid frames give the named error.

// Test helpers outside #[test] functions: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use newmedia_proto::turn2::{ErrorCode, Turn2Error, Turn2Frame};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/vectors/turn2.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn lifetime(v: &Value) -> Option<u32> {
    v["lifetime"].as_u64().map(|l| u32::try_from(l).unwrap())
}

fn addr(v: &Value, key: &str) -> std::net::SocketAddr {
    v[key].as_str().unwrap().parse().unwrap()
}

#[test]
fn turn2_vectors() {
    let vectors = vectors();
    assert!(vectors.len() >= 10);
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let bytes = hex::decode(v["hex"].as_str().unwrap()).unwrap();
        if let Some(error) = v.get("error") {
            let got = match Turn2Frame::decode(&bytes) {
                Err(Turn2Error::MissingField { .. }) => "missing_field",
                Err(Turn2Error::Frame(_)) => "frame",
                other => panic!("{name}: unexpected {other:?}"),
            };
            assert_eq!(got, error, "{name}");
            continue;
        }
        let packet = v["packet"].as_str().map(|p| hex::decode(p).unwrap());
        let body = v["body"].as_str().map(|p| hex::decode(p).unwrap());
        let reason = v["reason"].as_str();
        let fingerprint = v["fingerprint"]
            .as_str()
            .map(|f| hex::decode(f).unwrap().try_into().unwrap());
        let expected = match v["type"].as_str().unwrap() {
            "register" => Turn2Frame::Register {
                fingerprint: fingerprint.unwrap(),
                lifetime: lifetime(v),
            },
            "allocation" => Turn2Frame::Allocation {
                inbound: addr(v, "inbound"),
                outbound: addr(v, "outbound"),
                lifetime: lifetime(v).unwrap(),
            },
            "relayed" => Turn2Frame::Relayed {
                source: addr(v, "source"),
                packet: packet.as_deref().unwrap(),
            },
            "refresh" => Turn2Frame::Refresh {
                lifetime: lifetime(v),
            },
            "error" => Turn2Frame::Error {
                code: ErrorCode(v["code"].as_u64().unwrap()),
                reason: reason.unwrap(),
            },
            "unknown" => Turn2Frame::Unknown {
                kind: v["kind"].as_u64().unwrap(),
                body: body.as_deref().unwrap(),
            },
            other => panic!("unknown vector type {other}"),
        };
        assert_eq!(
            Turn2Frame::decode(&bytes),
            Ok(Some((expected, bytes.len()))),
            "{name}"
        );
        // Incremental: every strict prefix is incomplete.
        for cut in 0..bytes.len() {
            assert_eq!(
                Turn2Frame::decode(&bytes[..cut]),
                Ok(None),
                "{name} cut {cut}"
            );
        }
        if !v["decode_only"].as_bool().unwrap_or(false) {
            let mut out = Vec::new();
            expected.encode(&mut out).unwrap();
            assert_eq!(hex::encode(&out), v["hex"], "{name}");
        }
    }
}
