//! The seven JSON examples of draft §8, copied verbatim into `testdata/draft-examples/`: each
//! parses, validates, and re-serializes to the same JSON value.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use newmedia_proto::{
    crypto::Algorithm,
    ids::GlobalEncodingId,
    signaling::{Address, AddressForm, Advertisement, CandidateKind, MediaType, Proposal},
};
use serde_json::Value;
use std::path::PathBuf;

const ADVERTISEMENTS: [&str; 3] = [
    "8.1.1-simple-audio-advertisement.json",
    "8.2-simple-video-advertisement.json",
    "8.4.1-fec-advertisement.json",
];

const PROPOSALS: [&str; 4] = [
    "8.1.2-simple-audio-proposal.json",
    "8.2.1-proposal-sent-to-camera.json",
    "8.3-simulcast-video-proposal.json",
    "8.4.2-fec-proposal.json",
];

fn read(name: &str) -> String {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "testdata",
        "draft-examples",
        name,
    ]
    .iter()
    .collect();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn value(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn advertisements_roundtrip() {
    for name in ADVERTISEMENTS {
        let text = read(name);
        let ad = Advertisement::from_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        ad.validate().unwrap();
        let out = ad.to_json().unwrap();
        assert_eq!(value(&out), value(&text), "{name}");
        assert_eq!(Advertisement::from_json(&out).unwrap(), ad, "{name}");
    }
}

#[test]
fn proposals_roundtrip() {
    for name in PROPOSALS {
        let text = read(name);
        let p = Proposal::from_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        p.validate().unwrap();
        let out = p.to_json().unwrap();
        assert_eq!(value(&out), value(&text), "{name}");
        assert_eq!(Proposal::from_json(&out).unwrap(), p, "{name}");
    }
}

#[test]
fn simple_audio_contents() {
    let ad = Advertisement::from_json(&read(ADVERTISEMENTS[0])).unwrap();
    let (kind, addr) = ad.receive_at()[0].address().unwrap();
    assert_eq!(kind, CandidateKind::Relay);
    assert_eq!(addr.form(), AddressForm::V6Bare);
    assert_eq!(addr.socket_addr(), "[2001:db8::10]:443".parse().unwrap());
    assert_eq!(ad.receive_at()[0].stun_secret, "s8i739dk8");
    assert_eq!(
        ad.receive_at()[0].tls_fingerprint_sha256.as_deref(),
        Some("1283938")
    );
    assert_eq!(ad.receive_at()[0].tls_fingerprint(), None);
    assert_eq!(ad.sources()[0].source_type, MediaType::Audio);
    assert_eq!(ad.sources()[0].codecs[0].max_bitrate, Some(128_000));
    assert_eq!(ad.sinks()[0].sink_id, 1);
    assert_eq!(ad.sinks()[0].codecs[0].max_bitrate, Some(256_000));

    let p = Proposal::from_json(&read(PROPOSALS[0])).unwrap();
    assert_eq!(
        p.send_to()[1].address().unwrap().1,
        &Address::parse("203.0.113.20:43210").unwrap()
    );
    let s = &p.send_streams()[0];
    assert_eq!(s.conference_id, Some(4_638_572_387));
    assert_eq!(s.aead, Some(Algorithm::Aes128Gcm));
    assert_eq!(s.secret.as_deref(), Some("xy34"));
    assert_eq!(s.packet_time, Some(20));
    assert_eq!(
        s.global_encoding_id(),
        Some(GlobalEncodingId::derive(4_638_572_387, 23, 1, 1))
    );
    // The receive stream has no sourceID, so no GlobalEncodingID of its own.
    assert_eq!(p.receive_streams()[0].global_encoding_id(), None);
    assert_eq!(p.receive_streams()[0].sink_id, Some(1));
}

#[test]
fn video_and_fec_contents() {
    let ad = Advertisement::from_json(&read(ADVERTISEMENTS[2])).unwrap();
    assert!(ad.receive_at.is_none() && ad.sinks.is_none());
    let av1 = &ad.sources()[0].codecs[0];
    assert_eq!(
        (av1.max_width, av1.max_height, av1.max_frame_rate),
        (Some(3840), Some(2160), Some(120))
    );
    assert_eq!(av1.max_pixel_rate, Some(248_832_000));
    assert_eq!(ad.sources()[0].codecs[1].codec_name, "flex-fec-rs");

    let p = Proposal::from_json(&read(PROPOSALS[3])).unwrap();
    let fec = &p.send_streams()[1];
    assert!(fec.is_fec() && !p.send_streams()[0].is_fec());
    assert_eq!(fec.fec_repair_window, Some(200));
    assert_eq!(fec.fec_repair_encoding_ids.as_deref(), Some(&[1][..]));
    assert_eq!(fec.aead, Some(Algorithm::Null));
    assert_eq!(fec.secret, None);

    let p = Proposal::from_json(&read(PROPOSALS[2])).unwrap();
    let ids: Vec<_> = p
        .send_streams()
        .iter()
        .map(|s| s.global_encoding_id().unwrap())
        .collect();
    assert_ne!(ids[0], ids[1]);
}
