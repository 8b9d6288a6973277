//! Unit and property tests of the control messages.

use super::*;
use crate::ids::{GlobalEncodingId, GlobalMessageId};
use crate::{tlv, varint};
use proptest::prelude::*;

fn geid(n: u64) -> GlobalEncodingId {
    GlobalEncodingId(n)
}

fn roundtrip(msg: &ControlMessage) -> Vec<u8> {
    let bytes = msg.to_vec().unwrap();
    assert_eq!(
        ControlMessage::from_bytes(&bytes).unwrap(),
        Decoded::Message(msg.clone()),
        "{}",
        hex::encode(&bytes)
    );
    bytes
}

/// A frame of `kind` whose body is `fields` (tag, value bytes).
fn raw(kind: u64, fields: &[(u64, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (tag, value) in fields {
        tlv::put_bytes(*tag, value, &mut body).unwrap();
    }
    let mut out = Vec::new();
    frame::encode(kind, &body, &mut out).unwrap();
    out
}

fn uint(v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    varint::write(v, &mut out).unwrap();
    out
}

#[test]
fn hello_bytes() {
    let bytes = roundtrip(&ControlMessage::Hello(Hello::new(7, Capabilities::NONE)));
    // version 1 | type 1 | length 6 | (1,1,1) (2,1,7)
    assert_eq!(hex::encode(bytes), "010106010101020107");
}

#[test]
fn unknown_tags_are_ignored() {
    let id = geid(0x0102_0304_0506_0708);
    let bytes = raw(
        kind::INTRA_FRAME_REQUEST,
        &[(99, b"future"), (1, &id.to_bytes()), (0, b"")],
    );
    assert_eq!(
        ControlMessage::from_bytes(&bytes).unwrap(),
        Decoded::Message(ControlMessage::IntraFrameRequest(IntraFrameRequest {
            encoding: id
        }))
    );
}

#[test]
fn unknown_type_is_reported() {
    let bytes = raw(0x3fff, &[(1, b"x")]);
    assert_eq!(
        ControlMessage::from_bytes(&bytes).unwrap(),
        Decoded::Unknown { kind: 0x3fff }
    );
}

#[test]
fn errors_name_message_and_field() {
    let missing = raw(kind::MAX_RATE_REQUEST, &[(1, &[0; 8])]);
    assert_eq!(
        ControlMessage::from_bytes(&missing),
        Err(ControlError::Missing {
            message: "MaxRateRequest",
            field: "max_bitrate"
        })
    );
    let dup = raw(kind::UNSUBSCRIBE, &[(1, &uint(1)), (1, &uint(2))]);
    assert_eq!(
        ControlMessage::from_bytes(&dup),
        Err(ControlError::Duplicate {
            message: "Unsubscribe",
            field: "request_id"
        })
    );
    let short_id = raw(kind::INTRA_FRAME_REQUEST, &[(1, &[0; 7])]);
    assert!(matches!(
        ControlMessage::from_bytes(&short_id),
        Err(ControlError::Field {
            message: "IntraFrameRequest",
            field: "encoding",
            ..
        })
    ));
    let mut block = Vec::new();
    tlv::put_bytes(1, &[0; 8], &mut block).unwrap();
    tlv::put_uint(2, 5, &mut block).unwrap();
    tlv::put_uint(4, 256, &mut block).unwrap();
    let bad_fraction = raw(kind::RECEIVER_REPORT, &[(1, &uint(1)), (4, &block)]);
    assert_eq!(
        ControlMessage::from_bytes(&bad_fraction),
        Err(ControlError::BadValue {
            message: "ReceiverReport",
            field: "block.fraction_lost",
            reason: "must be 0..=255"
        })
    );
    let two_targets = raw(
        kind::SUBSCRIBE,
        &[(1, &uint(1)), (2, &[0; 8]), (2, &[1; 8])],
    );
    assert!(matches!(
        ControlMessage::from_bytes(&two_targets),
        Err(ControlError::BadValue {
            message: "Subscribe",
            field: "target",
            ..
        })
    ));
    let no_target = raw(kind::SUBSCRIBE, &[(1, &uint(1))]);
    assert!(matches!(
        ControlMessage::from_bytes(&no_target),
        Err(ControlError::Missing {
            message: "Subscribe",
            ..
        })
    ));
    let empty_retx = raw(kind::RETRANSMISSION_REQUEST, &[(1, &[0; 8])]);
    assert!(matches!(
        ControlMessage::from_bytes(&empty_retx),
        Err(ControlError::BadValue {
            message: "RetransmissionRequest",
            ..
        })
    ));
    let bad_utf8 = raw(kind::ERROR, &[(2, &uint(3)), (3, &[0xff])]);
    assert_eq!(
        ControlMessage::from_bytes(&bad_utf8),
        Err(ControlError::BadValue {
            message: "Error",
            field: "text",
            reason: "not UTF-8"
        })
    );
    let zero_version = raw(kind::HELLO, &[(1, &uint(0)), (2, &uint(1))]);
    assert!(matches!(
        ControlMessage::from_bytes(&zero_version),
        Err(ControlError::BadValue {
            message: "Hello",
            field: "version",
            ..
        })
    ));
}

#[test]
fn encoder_checks_what_decoder_checks() {
    let too_long = ControlMessage::Error(ErrorMessage {
        request_id: None,
        code: ErrorCode::INTERNAL,
        text: "x".repeat(MAX_ERROR_TEXT + 1),
    });
    assert!(matches!(
        too_long.to_vec(),
        Err(ControlError::BadValue { field: "text", .. })
    ));
    let cut = ErrorMessage::new(None, ErrorCode::INTERNAL, &"é".repeat(200));
    assert_eq!(cut.text.len(), MAX_ERROR_TEXT);
    let loud = ControlMessage::ActiveSpeakers(ActiveSpeakers {
        conference_id: 1,
        speakers: vec![Speaker {
            endpoint_id: 1,
            level: Some(101),
        }],
    });
    assert!(loud.to_vec().is_err());
    let huge = ControlMessage::Unsubscribe(Unsubscribe {
        request_id: u64::MAX,
    });
    assert_eq!(
        huge.to_vec(),
        Err(ControlError::TooLarge {
            message: "Unsubscribe",
            field: "request_id",
            value: u64::MAX
        })
    );
    let empty_range = ControlMessage::RetransmissionRequest(RetransmissionRequest {
        encoding: geid(1),
        ranges: vec![SequenceRange { first: 1, count: 0 }],
        capture_time: None,
        message_ids: vec![],
    });
    assert!(empty_range.to_vec().is_err());
}

#[test]
fn reader_enforces_hello_first() {
    let unsub = ControlMessage::Unsubscribe(Unsubscribe { request_id: 1 })
        .to_vec()
        .unwrap();
    let mut r = ControlReader::new();
    r.push(&unsub);
    assert_eq!(
        r.next_message(),
        Err(ControlError::HelloNotFirst {
            kind: kind::UNSUBSCRIBE
        })
    );
    assert!(r.next_message().unwrap_err().is_fatal());

    let hello = ControlMessage::Hello(Hello::new(1, Capabilities::ECN))
        .to_vec()
        .unwrap();
    let mut r = ControlReader::new();
    r.push(&hello);
    r.push(&hello);
    assert!(r.next_message().unwrap().is_some());
    assert_eq!(r.peer_hello().map(|h| h.endpoint_id), Some(1));
    assert_eq!(r.next_message(), Err(ControlError::DuplicateHello));
}

#[test]
fn reader_skips_bad_frames_and_unknown_types() {
    let mut wire = ControlMessage::Hello(Hello::new(1, Capabilities::NONE))
        .to_vec()
        .unwrap();
    wire.extend(raw(kind::UNSUBSCRIBE, &[]));
    wire.extend(raw(200, &[(1, b"?")]));
    wire.extend(
        ControlMessage::Unsubscribe(Unsubscribe { request_id: 9 })
            .to_vec()
            .unwrap(),
    );
    let mut r = ControlReader::new();
    r.push(&wire);
    assert!(matches!(r.next_message(), Ok(Some(Decoded::Message(_)))));
    let err = r.next_message().unwrap_err();
    assert!(!err.is_fatal());
    assert_eq!(r.next_message(), Ok(Some(Decoded::Unknown { kind: 200 })));
    assert_eq!(
        r.next_message(),
        Ok(Some(Decoded::Message(ControlMessage::Unsubscribe(
            Unsubscribe { request_id: 9 }
        ))))
    );
    assert_eq!(r.next_message(), Ok(None));
    assert_eq!(r.buffered(), 0);
    // Broken framing is fatal.
    r.push(&[2, 0, 0]);
    assert!(r.next_message().unwrap_err().is_fatal());
}

#[test]
fn from_bytes_wants_exactly_one_frame() {
    let mut bytes = ControlMessage::Unsubscribe(Unsubscribe { request_id: 1 })
        .to_vec()
        .unwrap();
    assert_eq!(
        ControlMessage::from_bytes(&bytes[..bytes.len() - 1]),
        Err(ControlError::Incomplete)
    );
    bytes.push(0);
    assert_eq!(
        ControlMessage::from_bytes(&bytes),
        Err(ControlError::TrailingBytes { len: 1 })
    );
}

fn block(n: u64) -> ReportBlock {
    ReportBlock {
        encoding: geid(n),
        highest_sequence: 1000 + n,
        cumulative_lost: n,
        fraction_lost: 3,
        jitter_us: 2500,
        bytes_received: 1_000_000,
    }
}

#[test]
fn bounded_report_fills_the_budget() {
    let report = ReceiverReport {
        reporter: 42,
        rtt_us: Some(35_000),
        ecn: Some(EcnCounts {
            ect0: 0,
            ect1: 10_000,
            ce: 12,
        }),
        blocks: (0..200).map(block).collect(),
    };
    let mut out = Vec::new();
    let n = report.encode_bounded(1200, &mut out).unwrap();
    assert!(n > 10 && n < 200, "{n}");
    assert!(out.len() <= 1200);
    // One more block would not have fit.
    let bigger = ReceiverReport {
        blocks: report.blocks[..=n].to_vec(),
        ..report.clone()
    };
    assert!(ControlMessage::from(bigger).to_vec().unwrap().len() > 1200);
    let Decoded::Message(ControlMessage::ReceiverReport(got)) =
        ControlMessage::from_bytes(&out).unwrap()
    else {
        panic!("not a report")
    };
    assert_eq!(got.blocks, report.blocks[..n]);

    let frames = report.encode_split(1200).unwrap();
    let mut all = Vec::new();
    for f in &frames {
        assert!(f.len() <= 1200);
        let Decoded::Message(ControlMessage::ReceiverReport(r)) =
            ControlMessage::from_bytes(f).unwrap()
        else {
            panic!("not a report")
        };
        assert_eq!(
            (r.reporter, r.rtt_us, r.ecn),
            (42, Some(35_000), report.ecn)
        );
        all.extend(r.blocks);
    }
    assert_eq!(all, report.blocks);

    assert!(matches!(
        report.encode_bounded(20, &mut out),
        Err(ControlError::BudgetTooSmall { max_size: 20, .. })
    ));
    let empty = ReceiverReport {
        blocks: vec![],
        ..report
    };
    assert_eq!(empty.encode_split(1200).unwrap().len(), 1);
}

// ---- property tests ----

fn value() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..64u64,
        0..=varint::MAX,
        Just(varint::MAX),
        16_000..17_000u64
    ]
}

fn any_geid() -> impl Strategy<Value = GlobalEncodingId> {
    any::<u64>().prop_map(GlobalEncodingId)
}

fn constraints() -> impl Strategy<Value = Constraints> {
    (
        proptest::option::of(value()),
        proptest::option::of(value()),
        proptest::option::of(value()),
        proptest::option::of(value()),
    )
        .prop_map(|(a, b, c, d)| Constraints {
            max_width: a,
            max_height: b,
            max_bitrate: c,
            max_frame_rate: d,
        })
}

fn target() -> impl Strategy<Value = SubscribeTarget> {
    prop_oneof![
        any_geid().prop_map(SubscribeTarget::Encoding),
        (value(), value(), value(), constraints()).prop_map(|(c, e, s, k)| {
            SubscribeTarget::Source {
                conference_id: c,
                endpoint_id: e,
                source_id: s,
                constraints: k,
            }
        }),
        (value(), value(), constraints()).prop_map(|(c, r, k)| {
            SubscribeTarget::ActiveSpeakerVideo {
                conference_id: c,
                rank: r,
                constraints: k,
            }
        }),
    ]
}

fn range() -> impl Strategy<Value = SequenceRange> {
    (0..=varint::MAX, 1..1000u64).prop_map(|(first, count)| SequenceRange {
        first: first.min(varint::MAX - count + 1),
        count,
    })
}

fn report_block() -> impl Strategy<Value = ReportBlock> {
    (any_geid(), value(), value(), any::<u8>(), value(), value()).prop_map(
        |(encoding, h, l, f, j, b)| ReportBlock {
            encoding,
            highest_sequence: h,
            cumulative_lost: l,
            fraction_lost: f,
            jitter_us: j,
            bytes_received: b,
        },
    )
}

fn report() -> impl Strategy<Value = ReceiverReport> {
    (
        value(),
        proptest::option::of(value()),
        proptest::option::of((value(), value(), value())),
        proptest::collection::vec(report_block(), 0..40),
    )
        .prop_map(|(reporter, rtt_us, ecn, blocks)| ReceiverReport {
            reporter,
            rtt_us,
            ecn: ecn.map(|(a, b, c)| EcnCounts {
                ect0: a,
                ect1: b,
                ce: c,
            }),
            blocks,
        })
}

fn message() -> BoxedStrategy<ControlMessage> {
    prop_oneof![
        (
            1..=varint::MAX,
            value(),
            value(),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..120))
        )
            .prop_map(|(v, e, c, grant)| ControlMessage::Hello(Hello {
                version: v,
                endpoint_id: e,
                capabilities: Capabilities(c),
                grant,
            }))
            .boxed(),
        (proptest::option::of(value()), value(), ".{0,80}")
            .prop_map(|(r, c, t)| { ControlMessage::Error(ErrorMessage::new(r, ErrorCode(c), &t)) })
            .boxed(),
        (value(), target(), proptest::option::of(value()))
            .prop_map(|(r, t, l)| {
                ControlMessage::Subscribe(Subscribe {
                    request_id: r,
                    target: t,
                    max_layer: l,
                })
            })
            .boxed(),
        value()
            .prop_map(|r| ControlMessage::Unsubscribe(Unsubscribe { request_id: r }))
            .boxed(),
        (value(), proptest::option::of(any_geid()))
            .prop_map(|(r, e)| {
                ControlMessage::SubscribeResult(SubscribeResult {
                    request_id: r,
                    encoding: e,
                })
            })
            .boxed(),
        (
            any_geid(),
            proptest::collection::vec(range(), 0..20),
            proptest::option::of(value()),
            proptest::collection::vec(any::<u64>().prop_map(GlobalMessageId), 0..20),
        )
            .prop_filter("needs a selector", |(_, r, c, m)| {
                !r.is_empty() || c.is_some() || !m.is_empty()
            })
            .prop_map(|(encoding, ranges, capture_time, message_ids)| {
                ControlMessage::RetransmissionRequest(RetransmissionRequest {
                    encoding,
                    ranges,
                    capture_time,
                    message_ids,
                })
            })
            .boxed(),
        (any_geid(), value())
            .prop_map(|(encoding, max_bitrate)| {
                ControlMessage::MaxRateRequest(MaxRateRequest {
                    encoding,
                    max_bitrate,
                })
            })
            .boxed(),
        any_geid()
            .prop_map(|encoding| {
                ControlMessage::IntraFrameRequest(IntraFrameRequest { encoding })
            })
            .boxed(),
        report().prop_map(ControlMessage::ReceiverReport).boxed(),
        (
            any_geid(),
            proptest::collection::vec(range(), 1..20),
            value()
        )
            .prop_map(|(encoding, ranges, reason)| {
                ControlMessage::RetransmissionUnavailable(RetransmissionUnavailable {
                    encoding,
                    ranges,
                    reason: UnavailableReason(reason),
                })
            })
            .boxed(),
        (
            value(),
            proptest::collection::vec((value(), proptest::option::of(0..=MAX_LEVEL)), 0..20)
        )
            .prop_map(|(conference_id, s)| {
                ControlMessage::ActiveSpeakers(ActiveSpeakers {
                    conference_id,
                    speakers: s
                        .into_iter()
                        .map(|(endpoint_id, level)| Speaker { endpoint_id, level })
                        .collect(),
                })
            })
            .boxed(),
    ]
    .boxed()
}

/// A body of fields with small tags and values that are sometimes well-formed, to reach the
/// decoders' value checks rather than just their TLV errors.
fn fuzzy_body() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        value().prop_map(uint),
        proptest::collection::vec(any::<u8>(), 0..12),
        Just(vec![0u8; 8]),
        (0u64..5, value()).prop_map(|(t, v)| {
            let mut out = Vec::new();
            tlv::put_uint(t, v, &mut out).unwrap();
            out
        }),
    ];
    proptest::collection::vec((0u64..8, value), 0..8).prop_map(|fields| {
        let mut body = Vec::new();
        for (tag, v) in fields {
            tlv::put_bytes(tag, &v, &mut body).unwrap();
        }
        body
    })
}

proptest! {
    #[test]
    fn every_message_roundtrips(msg in message()) {
        let bytes = msg.to_vec().unwrap();
        prop_assert_eq!(ControlMessage::from_bytes(&bytes), Ok(Decoded::Message(msg.clone())));
        // And through serde (the test vectors' notation).
        let json = serde_json::to_string(&msg).unwrap();
        prop_assert_eq!(serde_json::from_str::<ControlMessage>(&json).unwrap(), msg);
    }

    #[test]
    fn reader_reassembles_any_split(
        msgs in proptest::collection::vec(
            message().prop_filter("one Hello per stream", |m| !matches!(m, ControlMessage::Hello(_))),
            0..6,
        ),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut wire = ControlMessage::Hello(Hello::new(5, Capabilities::NONE)).to_vec().unwrap();
        for m in &msgs {
            m.encode(&mut wire).unwrap();
        }
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
        points.push(wire.len());
        points.sort_unstable();
        let mut r = ControlReader::new();
        let mut got = Vec::new();
        let mut at = 0;
        for p in points {
            r.push(&wire[at..p]);
            at = p;
            while let Some(d) = r.next_message().unwrap() {
                got.push(d);
            }
        }
        prop_assert_eq!(got.len(), msgs.len() + 1);
        for (g, m) in got[1..].iter().zip(&msgs) {
            prop_assert_eq!(g, &Decoded::Message(m.clone()));
        }
        prop_assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn bounded_report_respects_any_budget(rep in report(), budget in 0usize..1500) {
        let mut out = Vec::new();
        match rep.encode_bounded(budget, &mut out) {
            Ok(n) => {
                prop_assert!(out.len() <= budget);
                let Ok(Decoded::Message(ControlMessage::ReceiverReport(got))) =
                    ControlMessage::from_bytes(&out) else { panic!("bad report") };
                prop_assert_eq!(&got.blocks[..], &rep.blocks[..n]);
                prop_assert!(n == rep.blocks.len() || n > 0);
            }
            Err(ControlError::BudgetTooSmall { needed, .. }) => {
                prop_assert!(needed > budget);
                prop_assert!(out.is_empty());
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn encode_ok_means_decode_equal(
        r in any::<u64>(), v in any::<u64>(), t in ".{0,300}", lvl in any::<u8>(),
    ) {
        let msgs = [
            ControlMessage::Unsubscribe(Unsubscribe { request_id: r }),
            ControlMessage::Hello(Hello { version: v, endpoint_id: r, capabilities: Capabilities(v), grant: None }),
            ControlMessage::Error(ErrorMessage { request_id: Some(r), code: ErrorCode(v), text: t }),
            ControlMessage::ActiveSpeakers(ActiveSpeakers {
                conference_id: r,
                speakers: vec![Speaker { endpoint_id: v, level: Some(lvl) }],
            }),
            ControlMessage::RetransmissionRequest(RetransmissionRequest {
                encoding: GlobalEncodingId(r),
                ranges: vec![SequenceRange { first: r, count: v }],
                capture_time: None,
                message_ids: vec![],
            }),
        ];
        for m in msgs {
            if let Ok(bytes) = m.to_vec() {
                prop_assert_eq!(ControlMessage::from_bytes(&bytes), Ok(Decoded::Message(m)));
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = ControlMessage::from_bytes(&bytes);
        let mut r = ControlReader::new();
        r.push(&bytes);
        for _ in 0..8 {
            let _ = r.next_message();
        }
        for kind in 0..12 {
            let _ = ControlMessage::decode(&frame::Frame { kind, body: &bytes });
        }
    }

    #[test]
    fn structured_bodies_never_panic(body in fuzzy_body(), kind in 0u64..12) {
        let f = frame::Frame { kind, body: &body };
        if let Ok(Decoded::Message(m)) = ControlMessage::decode(&f) {
            // Whatever decodes re-encodes and decodes to the same message.
            let again = m.to_vec().unwrap();
            prop_assert_eq!(ControlMessage::from_bytes(&again), Ok(Decoded::Message(m)));
        }
    }
}
