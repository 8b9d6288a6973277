use super::*;
use crate::crypto::{Algorithm, MessageKey};
use crate::ids::GlobalEncodingId;
use crate::tlv;
use proptest::prelude::*;

const SECRET: &[u8] = b"xy34";
const SALT: [u8; 12] = [7; 12];

fn geid() -> GlobalEncodingId {
    GlobalEncodingId::derive(4_638_572_387, 23, 1, 1)
}

fn key(alg: Algorithm) -> MessageKey {
    MessageKey::derive(alg, SECRET, 4_638_572_387, 23, geid())
}

fn full_headers() -> Headers {
    let mut h = Headers::new(geid(), 41);
    h.global_message_id = Some(geid().message_id(41));
    h.conference_id = Some(4_638_572_387);
    h.endpoint_id = Some(23);
    h.encoding_id = Some(1);
    h.active_level = Some(87);
    h.dscp = Some(46);
    h.source_id = Some(1);
    h.sink_id = Some(2);
    h.salt = Some(SALT);
    h.capture_time = Some(123_456_789);
    h.location_in_room = Some(3);
    h.reference_frame = Some(true);
    h.layer_id = Some(2);
    h.chunk = Some(Chunk { index: 1, count: 3 });
    h
}

fn sealed(alg: Algorithm, h: &Headers, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Sealer::new(key(alg), SALT)
        .seal(h, payload, &mut out)
        .unwrap();
    out
}

#[test]
fn every_header_roundtrips_under_every_aead() {
    for alg in Algorithm::ALL {
        let h = full_headers();
        let msg = sealed(alg, &h, b"hello opus");
        let view = HeaderView::parse(&msg).unwrap();
        assert_eq!(&view.headers(), &h);
        assert_eq!(view.sealed_payload().len(), 10 + alg.tag_len());
        let mut out = Vec::new();
        let plain = Opener::new(key(alg)).open(&view, &mut out).unwrap();
        assert_eq!(plain, b"hello opus");
    }
}

#[test]
fn every_changed_byte_fails_authentication() {
    let msg = sealed(Algorithm::Aes128Gcm, &full_headers(), b"payload bytes");
    for i in 0..msg.len() {
        let mut bad = msg.clone();
        bad[i] ^= 0x01;
        // Either the structure no longer parses, or the AEAD rejects it.
        if let Ok(view) = HeaderView::parse(&bad) {
            let mut opener = Opener::new(key(Algorithm::Aes128Gcm));
            let mut out = Vec::new();
            assert!(
                opener.open(&view, &mut out).is_err(),
                "byte {i} changed undetected"
            );
        }
    }
}

#[test]
fn opener_remembers_salt() {
    let k = || key(Algorithm::Aes256Gcm);
    let sealer = Sealer::new(k(), SALT);
    let mut first = Headers::new(geid(), 0);
    first.salt = Some(SALT);
    let second = Headers::new(geid(), 1);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    sealer.seal(&first, b"one", &mut a).unwrap();
    sealer.seal(&second, b"two", &mut b).unwrap();
    let mut opener = Opener::new(k());
    let mut out = Vec::new();
    let vb = HeaderView::parse(&b).unwrap();
    assert_eq!(opener.open(&vb, &mut out), Err(Rtp3Error::SaltUnknown));
    opener
        .open(&HeaderView::parse(&a).unwrap(), &mut out)
        .unwrap();
    assert_eq!(opener.open(&vb, &mut out).unwrap(), b"two");
}

#[test]
fn wrong_key_or_salt_is_refused() {
    let msg = sealed(Algorithm::Aes128Gcm, &full_headers(), b"x");
    let view = HeaderView::parse(&msg).unwrap();
    let other = MessageKey::derive(Algorithm::Aes128Gcm, b"other", 4_638_572_387, 23, geid());
    let mut out = Vec::new();
    assert_eq!(
        Opener::new(other).open(&view, &mut out),
        Err(Rtp3Error::Crypto(
            crate::crypto::CryptoError::AuthenticationFailed
        ))
    );
    let mut h = full_headers();
    h.salt = Some([1; 12]);
    let err = Sealer::new(key(Algorithm::Null), SALT).seal(&h, b"", &mut out);
    assert_eq!(err, Err(Rtp3Error::SaltMismatch));
}

/// Builds a message field by field, bypassing the builder's ordering.
fn raw(fields: &[(u64, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (tag, value) in fields {
        tlv::put_bytes(*tag, value, &mut out).unwrap();
    }
    out
}

#[test]
fn parser_enforces_structure() {
    let g = geid().to_bytes();
    let ok = raw(&[(1, &g), (6, &[5]), (0, b"p")]);
    assert_eq!(HeaderView::parse(&ok).unwrap().sequence_id(), 5);

    let cases: Vec<(Vec<u8>, Rtp3Error)> = vec![
        (
            raw(&[(6, &[5]), (0, b"")]),
            Rtp3Error::MissingGlobalEncodingId(6),
        ),
        (raw(&[(1, &g), (0, b"")]), Rtp3Error::MissingSequenceId),
        (raw(&[(1, &g), (6, &[5])]), Rtp3Error::MissingPayload),
        (
            raw(&[(1, &g), (7, &[1]), (6, &[5]), (0, b"")]),
            Rtp3Error::OutOfOrder { tag: 6, after: 7 },
        ),
        (
            raw(&[(1, &g), (9, &[1]), (6, &[5]), (0, b"")]),
            Rtp3Error::OutOfOrder { tag: 6, after: 9 },
        ),
        (
            raw(&[(1, &g), (6, &[5]), (12, &[1]), (12, &[1]), (0, b"")]),
            Rtp3Error::Duplicate(12),
        ),
        (
            raw(&[(1, &g), (6, &[5]), (6, &[5]), (0, b"")]),
            Rtp3Error::Duplicate(6),
        ),
        (
            raw(&[(1, &g), (6, &[5]), (7, &[0x40, 101]), (0, b"")]),
            Rtp3Error::OutOfRange {
                tag: 7,
                value: 101,
                max: 100,
            },
        ),
        (
            raw(&[(1, &g), (6, &[5]), (8, &[0x40, 64]), (0, b"")]),
            Rtp3Error::OutOfRange {
                tag: 8,
                value: 64,
                max: 63,
            },
        ),
        (
            raw(&[(1, &g), (6, &[5]), (16, &[3, 3]), (0, b"")]),
            Rtp3Error::BadChunk { index: 3, count: 3 },
        ),
    ];
    for (bytes, want) in cases {
        assert_eq!(
            HeaderView::parse(&bytes).unwrap_err(),
            want,
            "{}",
            hex::encode(&bytes)
        );
    }
    let mut trailing = ok.clone();
    trailing.push(0);
    // The payload field's length no longer reaches the end: one byte follows it.
    assert_eq!(
        HeaderView::parse(&trailing).unwrap_err(),
        Rtp3Error::TrailingBytes(1)
    );
}

#[test]
fn unknown_tags_are_skipped_and_authenticated() {
    let g = geid().to_bytes();
    let msg = raw(&[(1, &g), (6, &[5]), (40, b"future"), (12, &[9]), (0, b"p")]);
    let view = HeaderView::parse(&msg).unwrap();
    assert_eq!(view.unknown_fields(), 1);
    assert_eq!(view.capture_time(), Some(9));
    assert_eq!(view.aad(), &msg[..msg.len() - 1]);
}

#[test]
fn builder_rejects_bad_values() {
    let mut h = Headers::new(geid(), 0);
    h.active_level = Some(101);
    assert!(matches!(
        h.write(&mut Vec::new()),
        Err(Rtp3Error::OutOfRange { .. })
    ));
    let mut h = Headers::new(geid(), 0);
    h.chunk = Some(Chunk { index: 0, count: 0 });
    assert!(matches!(
        h.write(&mut Vec::new()),
        Err(Rtp3Error::BadChunk { .. })
    ));
    let mut h = Headers::new(geid(), crate::varint::MAX + 1);
    h.dscp = Some(1);
    assert!(matches!(
        h.write(&mut Vec::new()),
        Err(Rtp3Error::Encode(_))
    ));
}

fn arb_headers() -> impl Strategy<Value = Headers> {
    let id = || proptest::option::of(0..=crate::varint::MAX);
    (
        (
            any::<u64>(),
            0..=crate::varint::MAX,
            proptest::option::of(any::<u64>()),
        ),
        (id(), id(), id(), id(), id(), id(), id(), id()),
        (
            proptest::option::of(0..=100u8),
            proptest::option::of(0..=63u8),
            proptest::option::of(any::<[u8; 12]>()),
            proptest::option::of(any::<bool>()),
            proptest::option::of((1..1000u64).prop_flat_map(|c| (0..c, Just(c)))),
        ),
    )
        .prop_map(|((g, seq, gm), ids, small)| {
            let mut h = Headers::new(GlobalEncodingId(g), seq);
            h.global_message_id = gm.map(crate::ids::GlobalMessageId);
            (h.conference_id, h.endpoint_id, h.encoding_id, h.source_id) =
                (ids.0, ids.1, ids.2, ids.3);
            (h.sink_id, h.capture_time, h.location_in_room, h.layer_id) =
                (ids.4, ids.5, ids.6, ids.7);
            (h.active_level, h.dscp, h.salt, h.reference_frame) =
                (small.0, small.1, small.2, small.3);
            h.chunk = small.4.map(|(index, count)| Chunk { index, count });
            h
        })
}

proptest! {
    #[test]
    fn headers_roundtrip(h in arb_headers(), payload in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut msg = Vec::new();
        h.write(&mut msg).unwrap();
        tlv::put_bytes(tag::PAYLOAD, &payload, &mut msg).unwrap();
        let view = HeaderView::parse(&msg).unwrap();
        prop_assert_eq!(&view.headers(), &h);
        prop_assert_eq!(view.sealed_payload(), &payload[..]);
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = HeaderView::parse(&bytes);
    }

    #[test]
    fn parse_never_panics_near_valid(mutations in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut msg = sealed(Algorithm::Aes128Gcm, &full_headers(), b"some payload");
        for (i, b) in mutations { let at = i.index(msg.len()); msg[at] = b; }
        if let Ok(view) = HeaderView::parse(&msg) {
            let _ = Opener::new(key(Algorithm::Aes128Gcm)).open(&view, &mut Vec::new());
        }
    }
}

/// Found by the header_view fuzz target: headers after the ordered group may come in any
/// order (draft §5), so such a message is valid; it re-encodes in the builder's order.
#[test]
fn other_headers_in_any_order() {
    let msg = hex::decode(
        "0108a20108a24808d748\
         0608d703480006a20001\
         0c0101090100 0f0106 00020000"
            .replace(' ', ""),
    )
    .unwrap();
    let view = HeaderView::parse(&msg).unwrap();
    let h = view.headers();
    assert_eq!(
        (h.capture_time, h.source_id, h.layer_id),
        (Some(1), Some(0), Some(6))
    );
    let mut again = Vec::new();
    h.write(&mut again).unwrap();
    assert_ne!(
        &again[..],
        &view.aad()[..again.len()],
        "builder order differs"
    );
    again.extend_from_slice(&[0, 2, 0, 0]);
    assert_eq!(HeaderView::parse(&again).unwrap().headers(), h);
}
