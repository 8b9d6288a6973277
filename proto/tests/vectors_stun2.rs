//! Checks the STUN2 and socket-address vectors in `testdata/vectors/stun2.json`: encoding
//! gives exactly the hex, decoding gives back the inputs, invalid datagrams give the named error.

// Test helpers outside #[test] functions: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use newmedia_proto::{
    addr,
    stun2::{
        self, Direction, SenderSecret, Stun2Error, Stun2Keys, Stun2Request, Stun2Response,
        TransactionId,
    },
};
use serde_json::Value;
use std::net::SocketAddr;

fn vectors() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/vectors/stun2.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hex_field(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap()).unwrap()
}

fn tid(v: &Value) -> TransactionId {
    TransactionId(hex_field(v, "transaction_id").try_into().unwrap())
}

fn error_name(e: Stun2Error) -> &'static str {
    match e {
        Stun2Error::Authentication => "authentication",
        Stun2Error::MissingObservedAddress => "missing_observed_address",
        Stun2Error::BadTransactionIdField(..) => "bad_transaction_id_field",
        _ => "other",
    }
}

#[test]
fn stun2_vectors() {
    let vectors = vectors();
    assert!(vectors.len() >= 12);
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let bytes = hex_field(v, "hex");
        let encode_too = !v["decode_only"].as_bool().unwrap_or(false);
        match v["type"].as_str().unwrap() {
            "socket_addr" => {
                let a: SocketAddr = v["addr"].as_str().unwrap().parse().unwrap();
                let mut out = Vec::new();
                addr::encode_socket_addr(&a, &mut out);
                assert_eq!(hex::encode(&out), v["hex"], "{name}");
                assert_eq!(addr::decode_socket_addr(&bytes), Ok(a), "{name}");
            }
            kind @ ("request" | "response") => {
                let secret = hex_field(v, "shared_secret");
                let keys = Stun2Keys::new(&secret);
                let is_request = kind == "request";
                if let Some(error) = v.get("error") {
                    let got = if is_request {
                        Stun2Request::decode(&keys, &bytes).map(|_| ())
                    } else {
                        Stun2Response::decode(&keys, &bytes).map(|_| ())
                    };
                    assert_eq!(error_name(got.unwrap_err()), error, "{name}");
                    continue;
                }
                let direction = if is_request {
                    Direction::Request
                } else {
                    Direction::Response
                };
                assert_eq!(
                    hex::encode(stun2::derive_key(&secret, direction)),
                    v["key"],
                    "{name}"
                );
                assert_eq!(stun2::transaction_id(&bytes), Some(tid(v)), "{name}");
                let mut out = Vec::new();
                if is_request {
                    let expected = Stun2Request {
                        transaction_id: tid(v),
                        sender_secret: v["sender_secret"]
                            .as_str()
                            .map(|s| SenderSecret::new(&hex::decode(s).unwrap()).unwrap()),
                    };
                    assert_eq!(
                        stun2::classify(&bytes),
                        stun2::PacketKind::Stun2Request,
                        "{name}"
                    );
                    assert_eq!(Stun2Request::decode(&keys, &bytes), Ok(expected.clone()));
                    expected.encode(&keys, &mut out);
                } else {
                    let expected = Stun2Response {
                        transaction_id: tid(v),
                        observed: v["observed"].as_str().unwrap().parse().unwrap(),
                    };
                    assert_eq!(
                        stun2::classify(&bytes),
                        stun2::PacketKind::Stun2Response,
                        "{name}"
                    );
                    assert_eq!(Stun2Response::decode(&keys, &bytes), Ok(expected), "{name}");
                    expected.encode(&keys, &mut out);
                }
                if encode_too {
                    assert_eq!(hex::encode(&out), v["hex"], "{name}");
                }
            }
            other => panic!("unknown vector type {other}"),
        }
    }
}
