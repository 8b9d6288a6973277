//! Every validation error of the signaling JSON, and property tests: valid proposals and
//! advertisements round-trip, and no input makes `from_json` panic.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use newmedia_proto::{
    crypto::Algorithm,
    signaling::{
        Address, Advertisement, Candidate, CandidateKind, Codec, FEC_CODEC, MediaType, Proposal,
        SignalingError, Sink, Source, Stream,
    },
    varint,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// A valid proposal: one audio stream encrypted by value, one by reference, a video stream and
/// its FEC stream, one receive stream.
fn base_proposal() -> Value {
    json!({
        "receiveAt": [{"local": "192.168.0.10:443", "stunSecret": "a"}],
        "sendTo": [
            {"relay": "[2001:db8::20]:443", "stunSecret": "b", "tlsFingerprintSHA256": "x"},
            {"stun": "2001:db8::21:443", "stunSecret": "b"}
        ],
        "sendStreams": [
            {"conferenceID": 7, "endpointID": 1, "sourceID": 1, "encodingID": 1,
             "codecName": "opus", "AEAD": "AES128-GCM", "secret": "s1"},
            {"conferenceID": 7, "endpointID": 1, "sourceID": 2, "encodingID": 1,
             "codecName": "av1", "AEAD": "AES256-GCM", "secretRef": "mls:epoch/3"},
            {"conferenceID": 7, "endpointID": 1, "sourceID": 2, "encodingID": 2,
             "codecName": "flex-fec-rs", "AEAD": "AES256-GCM", "secretRef": "mls:epoch/3",
             "fecRepairWindow": 200, "fecRepairEncodingIDs": [1]}
        ],
        "receiveStreams": [
            {"conferenceID": 7, "endpointID": 2, "sinkID": 1, "encodingID": 1,
             "codecName": "opus", "AEAD": "AES128-GCM", "secret": "s2"}
        ]
    })
}

fn base_advertisement() -> Value {
    json!({
        "receiveAt": [{"stun": "203.0.113.10:43210", "stunSecret": "a"}],
        "sources": [
            {"sourceID": 1, "sourceType": "audio", "codecs": [{"codecName": "opus"}]},
            {"sourceID": 2, "sourceType": "data", "codecs": [{"codecName": "senml"}]}
        ],
        "sinks": [
            {"sinkID": 1, "sourceType": "video", "codecs": [{"codecName": "av1"}]}
        ]
    })
}

fn proposal_err(v: &Value) -> SignalingError {
    Proposal::from_json(&v.to_string()).expect_err("accepted")
}

fn advertisement_err(v: &Value) -> SignalingError {
    Advertisement::from_json(&v.to_string()).expect_err("accepted")
}

fn stream(v: &mut Value, i: usize) -> &mut serde_json::Map<String, Value> {
    v["sendStreams"][i].as_object_mut().unwrap()
}

#[test]
fn bases_are_valid() {
    let p = Proposal::from_json(&base_proposal().to_string()).unwrap();
    assert_eq!(serde_json::to_value(&p).unwrap(), base_proposal());
    let a = Advertisement::from_json(&base_advertisement().to_string()).unwrap();
    assert_eq!(serde_json::to_value(&a).unwrap(), base_advertisement());
    assert_eq!(a.sources()[1].source_type, MediaType::Data);
}

#[test]
fn malformed_json() {
    for text in [
        "",
        "{",
        "null",
        "5",
        "\"x\"",
        "{\"sendTo\":[1]}",
        "{\"sendStreams\":{}}",
    ] {
        assert!(matches!(
            Proposal::from_json(text),
            Err(SignalingError::Json(_))
        ));
    }
    for text in ["", "{", "null", "{\"receiveAt\":[1]}", "{\"sources\":{}}"] {
        assert!(matches!(
            Advertisement::from_json(text),
            Err(SignalingError::Json(_))
        ));
    }
    let mut v = base_proposal();
    stream(&mut v, 0).insert("width".into(), json!("wide"));
    let e = proposal_err(&v);
    assert!(
        matches!(&e, SignalingError::Json(m) if m.contains("line 1")),
        "{e}"
    );
    let mut v = base_proposal();
    v["sendTo"][0].as_object_mut().unwrap().remove("stunSecret");
    let e = proposal_err(&v);
    assert!(
        matches!(&e, SignalingError::Json(m) if m.contains("stunSecret")),
        "{e}"
    );
    // A negative or fractional ID is not an ID.
    let mut v = base_proposal();
    stream(&mut v, 0).insert("encodingID".into(), json!(-1));
    assert!(matches!(proposal_err(&v), SignalingError::Json(_)));
    stream(&mut v, 0).insert("encodingID".into(), json!(1.5));
    assert!(matches!(proposal_err(&v), SignalingError::Json(_)));
}

/// The extension example of the spec (PROTOCOL.md, "Signaling JSON") and its invalid variants.
#[test]
fn spec_extension_example() {
    let text = r#"{
      "sendTo": [{"relay": "[2001:db8::20]:443", "stunSecret": "b"}],
      "sendStreams": [
        {"conferenceID": 7, "endpointID": 1, "sourceID": 2, "encodingID": 1,
         "codecName": "av1", "AEAD": "AES256-GCM", "secretRef": "mls:epoch/3"},
        {"conferenceID": 7, "endpointID": 1, "sourceID": 2, "encodingID": 2,
         "codecName": "flex-fec-rs", "AEAD": "AES256-GCM", "secretRef": "mls:epoch/3",
         "fecRepairWindow": 200, "fecRepairEncodingIDs": [1]}
      ]
    }"#;
    let p = Proposal::from_json(text).unwrap();
    assert_eq!(
        p.send_streams()[1].secret_ref.as_deref(),
        Some("mls:epoch/3")
    );
    let v: Value = serde_json::from_str(text).unwrap();

    let mut w = v.clone();
    stream(&mut w, 1).insert("fecRepairEncodingIDs".into(), json!([2]));
    assert!(matches!(
        proposal_err(&w),
        SignalingError::FecUnknownEncoding { .. }
    ));
    for i in 0..2 {
        let mut w = v.clone();
        stream(&mut w, i).insert("secret".into(), json!("k"));
        assert!(matches!(
            proposal_err(&w),
            SignalingError::SecretAndSecretRef { .. }
        ));
    }
    let mut w = v.clone();
    stream(&mut w, 0).insert("dscp".into(), json!(46));
    assert!(matches!(proposal_err(&w), SignalingError::Json(_)));
}

#[test]
fn duplicate_keys_and_nulls() {
    let e = Proposal::from_json(r#"{"sendTo":[],"sendTo":[]}"#).unwrap_err();
    assert!(
        matches!(&e, SignalingError::Json(m) if m.contains("duplicate field")),
        "{e}"
    );
    let e = Advertisement::from_json(r#"{"sinks":[],"sinks":[]}"#).unwrap_err();
    assert!(
        matches!(&e, SignalingError::Json(m) if m.contains("duplicate field")),
        "{e}"
    );
    // Unknown keys of an advertisement are ignored, even repeated.
    Advertisement::from_json(r#"{"x":1,"x":2}"#).unwrap();
    // null is the same as absent, and is not written back.
    let p = Proposal::from_json(r#"{"sendTo":null,"receiveStreams":null}"#).unwrap();
    assert_eq!(p, Proposal::default());
    assert_eq!(p.to_json().unwrap(), "{}");
    // Numbers with a fraction or an exponent are not integers.
    let e = Advertisement::from_json(
        r#"{"sources":[{"sourceID":1e0,"sourceType":"audio","codecs":[]}]}"#,
    );
    assert!(matches!(e, Err(SignalingError::Json(_))));
}

#[test]
fn structs_must_be_objects() {
    assert_eq!(
        Proposal::from_json("[]"),
        Err(SignalingError::NotAnObject {
            at: "top level".into()
        })
    );
    assert!(matches!(
        Advertisement::from_json("[null, null, null]"),
        Err(SignalingError::NotAnObject { .. })
    ));
    // A stream written as an array of its fields by position.
    let text = r#"{"sendStreams":[[7,1,1,null,1,"opus","NULL"]]}"#;
    assert_eq!(
        Proposal::from_json(text),
        Err(SignalingError::NotAnObject {
            at: "sendStreams[0]".into()
        })
    );
    let text = r#"{"sources":[{"sourceID":1,"sourceType":"audio","codecs":[["opus"]]}]}"#;
    assert_eq!(
        Advertisement::from_json(text).unwrap_err().to_string(),
        "sources[0].codecs[0]: expected a JSON object"
    );
}

#[test]
fn unknown_keys_reject_a_proposal_only() {
    let mut v = base_proposal();
    v["extra"] = json!(1);
    assert!(matches!(proposal_err(&v), SignalingError::Json(m) if m.contains("extra")));

    let mut v = base_proposal();
    stream(&mut v, 1).insert("dscp".into(), json!(46));
    assert!(matches!(proposal_err(&v), SignalingError::Json(m) if m.contains("dscp")));

    let mut v = base_proposal();
    v["sendTo"][0]["protocol"] = json!("tcp");
    assert!(matches!(proposal_err(&v), SignalingError::Json(m) if m.contains("protocol")));

    let mut v = base_advertisement();
    v["extra"] = json!(1);
    v["receiveAt"][0]["protocol"] = json!("tcp");
    v["sources"][0]["label"] = json!("mic");
    v["sinks"][0]["codecs"][0]["reliable"] = json!(true);
    let a = Advertisement::from_json(&v.to_string()).unwrap();
    assert_eq!(serde_json::to_value(&a).unwrap(), base_advertisement());
}

#[test]
fn unknown_aead() {
    let mut v = base_proposal();
    stream(&mut v, 2).insert("AEAD".into(), json!("CHACHA20-POLY1305"));
    let e = proposal_err(&v);
    assert_eq!(
        e,
        SignalingError::UnknownAead {
            at: "sendStreams[2]".into(),
            name: "CHACHA20-POLY1305".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "sendStreams[2]: unknown AEAD \"CHACHA20-POLY1305\" (supported: AES128-GCM, AES256-GCM, NULL)"
    );

    let mut v = base_proposal();
    v["receiveStreams"][0]["AEAD"] = json!("aes128-gcm");
    assert!(matches!(
        proposal_err(&v),
        SignalingError::UnknownAead { at, name } if at == "receiveStreams[0]" && name == "aes128-gcm"
    ));
}

#[test]
fn missing_codec_name_and_aead() {
    let mut v = base_proposal();
    stream(&mut v, 1).remove("codecName");
    let e = proposal_err(&v);
    assert_eq!(
        e,
        SignalingError::MissingField {
            at: "sendStreams[1]".into(),
            field: "codecName"
        }
    );
    assert_eq!(e.to_string(), "sendStreams[1]: missing codecName");

    let mut v = base_proposal();
    v["receiveStreams"][0]["codecName"] = json!("");
    assert!(matches!(
        proposal_err(&v),
        SignalingError::MissingField { at, field: "codecName" } if at == "receiveStreams[0]"
    ));

    let mut v = base_proposal();
    stream(&mut v, 0).remove("AEAD");
    assert!(matches!(
        proposal_err(&v),
        SignalingError::MissingField { field: "AEAD", .. }
    ));
}

#[test]
fn secrets() {
    let mut v = base_proposal();
    stream(&mut v, 0).remove("secret");
    let e = proposal_err(&v);
    assert_eq!(
        e,
        SignalingError::MissingSecret {
            at: "sendStreams[0]".into(),
            aead: Algorithm::Aes128Gcm
        }
    );
    assert_eq!(
        e.to_string(),
        "sendStreams[0]: AEAD AES128-GCM needs a secret or a secretRef"
    );

    let mut v = base_proposal();
    stream(&mut v, 1).insert("secretRef".into(), json!(""));
    assert!(matches!(
        proposal_err(&v),
        SignalingError::MissingSecret { .. }
    ));

    let mut v = base_proposal();
    stream(&mut v, 1).insert("secret".into(), json!("k"));
    assert_eq!(
        proposal_err(&v),
        SignalingError::SecretAndSecretRef {
            at: "sendStreams[1]".into()
        }
    );

    // NULL needs no secret.
    let mut v = base_proposal();
    stream(&mut v, 0).insert("AEAD".into(), json!("NULL"));
    stream(&mut v, 0).remove("secret");
    Proposal::from_json(&v.to_string()).unwrap();
}

#[test]
fn send_stream_ids_required() {
    for field in ["conferenceID", "endpointID", "sourceID", "encodingID"] {
        let mut v = base_proposal();
        stream(&mut v, 0).remove(field);
        let e = proposal_err(&v);
        assert_eq!(
            e,
            SignalingError::MissingField {
                at: "sendStreams[0]".into(),
                field
            }
        );
    }
    let mut v = base_proposal();
    v["receiveStreams"][0]
        .as_object_mut()
        .unwrap()
        .remove("sinkID");
    assert_eq!(
        proposal_err(&v),
        SignalingError::MissingField {
            at: "receiveStreams[0]".into(),
            field: "sinkID"
        }
    );
    // Receive streams do not need conferenceID/endpointID/encodingID.
    let mut v = base_proposal();
    let r = v["receiveStreams"][0].as_object_mut().unwrap();
    r.remove("conferenceID");
    r.remove("endpointID");
    r.remove("encodingID");
    Proposal::from_json(&v.to_string()).unwrap();
}

#[test]
fn ids_are_varints() {
    let big = varint::MAX + 1;
    for field in ["conferenceID", "endpointID", "sourceID", "encodingID"] {
        let mut v = base_proposal();
        stream(&mut v, 0).insert(field.into(), json!(big));
        assert_eq!(
            proposal_err(&v),
            SignalingError::IdTooLarge {
                at: "sendStreams[0]".into(),
                field: field.into(),
                value: big
            }
        );
        stream(&mut v, 0).insert(field.into(), json!(varint::MAX));
        Proposal::from_json(&v.to_string()).unwrap();
    }
    let mut v = base_proposal();
    v["receiveStreams"][0]["sinkID"] = json!(u64::MAX);
    let e = proposal_err(&v);
    assert_eq!(
        e.to_string(),
        format!(
            "receiveStreams[0]: sinkID {} exceeds 2^62-1, the largest varint",
            u64::MAX
        )
    );

    let mut v = base_proposal();
    stream(&mut v, 2).insert("fecRepairEncodingIDs".into(), json!([1, big]));
    assert!(matches!(
        proposal_err(&v),
        SignalingError::IdTooLarge { field, .. } if field == "fecRepairEncodingIDs[1]"
    ));

    let mut v = base_advertisement();
    v["sources"][1]["sourceID"] = json!(big);
    assert!(matches!(
        advertisement_err(&v),
        SignalingError::IdTooLarge { at, .. } if at == "sources[1]"
    ));
    let mut v = base_advertisement();
    v["sinks"][0]["sinkID"] = json!(big);
    assert!(matches!(
        advertisement_err(&v),
        SignalingError::IdTooLarge { at, .. } if at == "sinks[0]"
    ));
}

#[test]
fn duplicate_encoding() {
    let mut v = base_proposal();
    stream(&mut v, 2).insert("encodingID".into(), json!(1));
    let e = proposal_err(&v);
    assert_eq!(
        e,
        SignalingError::DuplicateEncoding {
            at: "sendStreams[2]".into(),
            first: 1,
            conference_id: 7,
            endpoint_id: 1,
            source_id: 2,
            encoding_id: 1
        }
    );
    assert!(e.to_string().starts_with("sendStreams[2]: "), "{e}");
    // The same encodingID on another source is fine.
    let mut v = base_proposal();
    stream(&mut v, 0).insert("sourceID".into(), json!(3));
    Proposal::from_json(&v.to_string()).unwrap();
}

#[test]
fn fec_references() {
    // Names an encoding that does not exist.
    let mut v = base_proposal();
    stream(&mut v, 2).insert("fecRepairEncodingIDs".into(), json!([1, 5]));
    let e = proposal_err(&v);
    assert_eq!(
        e,
        SignalingError::FecUnknownEncoding {
            at: "sendStreams[2]".into(),
            encoding_id: 5
        }
    );
    assert!(e.to_string().starts_with("sendStreams[2]: "), "{e}");

    // Names itself.
    let mut v = base_proposal();
    stream(&mut v, 2).insert("fecRepairEncodingIDs".into(), json!([2]));
    assert!(matches!(
        proposal_err(&v),
        SignalingError::FecUnknownEncoding { encoding_id: 2, .. }
    ));

    // Names an encoding of another source (sendStreams[0] has encodingID 1 on source 1).
    let mut v = base_proposal();
    stream(&mut v, 1).insert("encodingID".into(), json!(3));
    assert!(matches!(
        proposal_err(&v),
        SignalingError::FecUnknownEncoding { encoding_id: 1, .. }
    ));

    // A flex-fec-rs stream must say what it repairs.
    let mut v = base_proposal();
    stream(&mut v, 2).remove("fecRepairEncodingIDs");
    assert_eq!(
        proposal_err(&v),
        SignalingError::FecWithoutRepairIds {
            at: "sendStreams[2]".into()
        }
    );
    stream(&mut v, 2).insert("fecRepairEncodingIDs".into(), json!([]));
    assert!(matches!(
        proposal_err(&v),
        SignalingError::FecWithoutRepairIds { .. }
    ));

    // fecRepairEncodingIDs makes any codec a FEC stream.
    let mut v = base_proposal();
    stream(&mut v, 2).insert("codecName".into(), json!("other-fec"));
    Proposal::from_json(&v.to_string()).unwrap();
    stream(&mut v, 2).insert("fecRepairEncodingIDs".into(), json!([9]));
    assert!(matches!(
        proposal_err(&v),
        SignalingError::FecUnknownEncoding { encoding_id: 9, .. }
    ));
}

#[test]
fn candidate_kinds() {
    let mut v = base_proposal();
    v["sendTo"][1]["local"] = json!("10.0.0.1:5");
    let e = proposal_err(&v);
    assert_eq!(
        e,
        SignalingError::CandidateKind {
            at: "sendTo[1]".into(),
            count: 2
        }
    );
    assert_eq!(
        e.to_string(),
        "sendTo[1]: a candidate needs exactly one of relay, stun, local; it has 2"
    );

    let mut v = base_proposal();
    v["receiveAt"][0].as_object_mut().unwrap().remove("local");
    assert!(matches!(
        proposal_err(&v),
        SignalingError::CandidateKind { count: 0, .. }
    ));

    let mut v = base_advertisement();
    v["receiveAt"][0]["relay"] = json!("10.0.0.1:5");
    v["receiveAt"][0]["local"] = json!("10.0.0.1:6");
    assert!(matches!(
        advertisement_err(&v),
        SignalingError::CandidateKind { at, count: 3 } if at == "receiveAt[0]"
    ));
}

#[test]
fn bad_addresses() {
    for bad in [
        "2001:db8::20",
        "example.com:443",
        "10.0.0.1:99999",
        "[::1]:0",
        "1.2.3.4",
    ] {
        let mut v = base_proposal();
        v["sendTo"][1]["stun"] = json!(bad);
        let e = proposal_err(&v);
        assert!(
            matches!(&e, SignalingError::BadAddress { at, value, .. } if at == "sendTo[1].stun" && value == bad),
            "{bad}: {e}"
        );
        assert!(
            e.to_string().starts_with("sendTo[1].stun: bad address"),
            "{e}"
        );

        let mut v = base_advertisement();
        v["receiveAt"][0]["stun"] = json!(bad);
        assert!(matches!(
            advertisement_err(&v),
            SignalingError::BadAddress { at, .. } if at == "receiveAt[0].stun"
        ));
    }
    // Port 0 built in code is caught by validate.
    let mut p = Proposal::from_json(&base_proposal().to_string()).unwrap();
    if let Some(list) = p.send_to.as_mut() {
        list[0].relay = Some(Address::new("[::1]:0".parse().unwrap()));
    }
    assert!(matches!(
        p.validate(),
        Err(SignalingError::BadAddress { at, .. }) if at == "sendTo[0].relay"
    ));
}

#[test]
fn duplicate_source_and_sink() {
    let mut v = base_advertisement();
    v["sources"][1]["sourceID"] = json!(1);
    let e = advertisement_err(&v);
    assert_eq!(
        e,
        SignalingError::DuplicateSourceId {
            at: "sources[1]".into(),
            first: 0,
            id: 1
        }
    );
    assert_eq!(
        e.to_string(),
        "sources[1]: sourceID 1 is already used by sources[0]"
    );

    let mut v = base_advertisement();
    let sink = v["sinks"][0].clone();
    v["sinks"].as_array_mut().unwrap().push(sink);
    assert!(matches!(
        advertisement_err(&v),
        SignalingError::DuplicateSinkId {
            id: 1,
            first: 0,
            ..
        }
    ));

    // A sink may share its number with a source.
    let mut v = base_advertisement();
    v["sinks"][0]["sinkID"] = json!(2);
    Advertisement::from_json(&v.to_string()).unwrap();

    let mut v = base_advertisement();
    v["sources"][0]["codecs"][0]["codecName"] = json!("");
    assert!(matches!(
        advertisement_err(&v),
        SignalingError::MissingField { at, field: "codecName" } if at == "sources[0].codecs[0]"
    ));
}

// ---------------------------------------------------------------------------------------
// Property tests.

fn arb_address() -> impl Strategy<Value = Address> {
    prop_oneof![
        (any::<u32>(), 1..=u16::MAX)
            .prop_map(|(ip, port)| Address::new(SocketAddr::from((Ipv4Addr::from(ip), port)))),
        (any::<u128>(), 1..=u16::MAX)
            .prop_map(|(ip, port)| Address::new(SocketAddr::from((Ipv6Addr::from(ip), port)))),
        (any::<u128>(), 1..=u16::MAX)
            .prop_map(|(ip, port)| Address::bare(Ipv6Addr::from(ip), port)),
    ]
}

fn arb_candidate() -> impl Strategy<Value = Candidate> {
    (
        prop_oneof![
            Just(CandidateKind::Relay),
            Just(CandidateKind::Stun),
            Just(CandidateKind::Local)
        ],
        arb_address(),
        ".{0,12}",
        proptest::option::of("[0-9A-F:]{0,95}"),
    )
        .prop_map(|(kind, address, secret, fp)| {
            let mut c = Candidate::new(kind, address, secret);
            c.tls_fingerprint_sha256 = fp;
            c
        })
}

fn arb_id() -> impl Strategy<Value = u64> {
    prop_oneof![0..16u64, 0..=varint::MAX]
}

fn arb_aead_and_secret() -> impl Strategy<Value = (Algorithm, Option<String>, Option<String>)> {
    (0..3usize, "[a-z0-9]{1,16}", 0..3usize).prop_map(|(a, s, how)| {
        let aead = Algorithm::ALL[a];
        match (aead, how) {
            (Algorithm::Null, 0) => (aead, None, None),
            (_, 1) => (aead, None, Some(s)),
            _ => (aead, Some(s), None),
        }
    })
}

fn arb_stream() -> impl Strategy<Value = Stream> {
    (
        arb_aead_and_secret(),
        "[a-z0-9]{1,8}",
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of((any::<u32>(), any::<u32>(), any::<u32>())),
    )
        .prop_map(
            |((aead, secret, secret_ref), codec, bitrate, ptime, video)| Stream {
                codec_name: Some(codec),
                aead: Some(aead),
                secret,
                secret_ref,
                max_bitrate: bitrate,
                packet_time: ptime,
                width: video.map(|v| v.0),
                height: video.map(|v| v.1),
                frame_rate: video.map(|v| v.2),
                ..Stream::default()
            },
        )
}

/// Send streams with unique encodings; a stream may become a FEC stream for earlier encodings
/// of the same source.
fn arb_send_streams() -> impl Strategy<Value = Vec<Stream>> {
    proptest::collection::vec(
        (arb_stream(), arb_id(), arb_id(), 0..3u64, any::<bool>()),
        0..6,
    )
    .prop_map(|items| {
        let mut out: Vec<Stream> = Vec::new();
        for (i, (mut s, conf, ep, src, fec)) in items.into_iter().enumerate() {
            s.conference_id = Some(conf);
            s.endpoint_id = Some(ep);
            s.source_id = Some(src);
            s.encoding_id = Some(i as u64);
            let same_source: Vec<u64> = out
                .iter()
                .filter(|o| {
                    (o.conference_id, o.endpoint_id, o.source_id)
                        == (Some(conf), Some(ep), Some(src))
                })
                .filter_map(|o| o.encoding_id)
                .collect();
            if fec && !same_source.is_empty() {
                s.codec_name = Some(FEC_CODEC.to_owned());
                s.fec_repair_window = Some(200);
                s.fec_repair_encoding_ids = Some(same_source);
            }
            out.push(s);
        }
        out
    })
}

fn arb_receive_streams() -> impl Strategy<Value = Vec<Stream>> {
    proptest::collection::vec(
        (
            arb_stream(),
            arb_id(),
            proptest::option::of(arb_id()),
            proptest::option::of(arb_id()),
        ),
        0..4,
    )
    .prop_map(|items| {
        items
            .into_iter()
            .map(|(mut s, sink, conf, enc)| {
                s.sink_id = Some(sink);
                s.conference_id = conf;
                s.encoding_id = enc;
                s
            })
            .collect()
    })
}

fn arb_proposal() -> impl Strategy<Value = Proposal> {
    (
        proptest::option::of(proptest::collection::vec(arb_candidate(), 0..3)),
        proptest::option::of(proptest::collection::vec(arb_candidate(), 0..3)),
        proptest::option::of(arb_send_streams()),
        proptest::option::of(arb_receive_streams()),
    )
        .prop_map(
            |(receive_at, send_to, send_streams, receive_streams)| Proposal {
                receive_at,
                send_to,
                send_streams,
                receive_streams,
            },
        )
}

fn arb_codec() -> impl Strategy<Value = Codec> {
    (
        "[a-z0-9-]{1,10}",
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(|(name, bitrate, width, rate)| {
            let mut c = Codec::new(name);
            c.max_bitrate = bitrate;
            c.max_width = width;
            c.max_sample_rate = rate;
            c
        })
}

fn arb_media_type() -> impl Strategy<Value = MediaType> {
    prop_oneof![
        Just(MediaType::Audio),
        Just(MediaType::Video),
        Just(MediaType::Data),
        "[a-z]{1,8}".prop_map(|s| MediaType::from(s.as_str())),
    ]
}

fn arb_advertisement() -> impl Strategy<Value = Advertisement> {
    (
        proptest::option::of(proptest::collection::vec(arb_candidate(), 0..3)),
        proptest::option::of(proptest::collection::vec(
            (
                arb_media_type(),
                proptest::collection::vec(arb_codec(), 0..3),
            ),
            0..3,
        )),
        proptest::option::of(proptest::collection::vec(
            (
                arb_media_type(),
                proptest::collection::vec(arb_codec(), 0..3),
            ),
            0..3,
        )),
    )
        .prop_map(|(receive_at, sources, sinks)| Advertisement {
            receive_at,
            sources: sources.map(|l| {
                l.into_iter()
                    .enumerate()
                    .map(|(i, (source_type, codecs))| Source {
                        source_id: i as u64,
                        source_type,
                        codecs,
                    })
                    .collect()
            }),
            sinks: sinks.map(|l| {
                l.into_iter()
                    .enumerate()
                    .map(|(i, (source_type, codecs))| Sink {
                        sink_id: i as u64 * 1000,
                        source_type,
                        codecs,
                    })
                    .collect()
            }),
        })
}

/// Arbitrary JSON values, to reach deeper than random text does.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just("AES128-GCM".to_owned()),
            Just("2001:db8::10:443".to_owned()),
            ".{0,10}"
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("sendStreams".to_owned()),
                    Just("receiveAt".to_owned()),
                    Just("sendTo".to_owned()),
                    Just("sources".to_owned()),
                    Just("AEAD".to_owned()),
                    Just("relay".to_owned()),
                    Just("stunSecret".to_owned()),
                    Just("codecName".to_owned()),
                    Just("sourceID".to_owned()),
                    "[a-zA-Z]{1,6}"
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn valid_proposals_roundtrip(p in arb_proposal()) {
        p.validate().unwrap();
        let text = p.to_json().unwrap();
        prop_assert_eq!(Proposal::from_json(&text).unwrap(), p);
    }

    #[test]
    fn valid_advertisements_roundtrip(a in arb_advertisement()) {
        a.validate().unwrap();
        let text = a.to_json().unwrap();
        prop_assert_eq!(Advertisement::from_json(&text).unwrap(), a);
    }

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,200}") {
        let _ = Proposal::from_json(&s);
        let _ = Advertisement::from_json(&s);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(s) = std::str::from_utf8(&b) {
            let _ = Proposal::from_json(s);
            let _ = Advertisement::from_json(s);
        }
    }

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        let s = v.to_string();
        let _ = Proposal::from_json(&s);
        let _ = Advertisement::from_json(&s);
    }

    #[test]
    fn mutated_valid_proposals_never_panic(p in arb_proposal(), cut in any::<prop::sample::Index>()) {
        let text = p.to_json().unwrap();
        let mut end = cut.index(text.len() + 1);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let _ = Proposal::from_json(&text[..end]);
    }
}
