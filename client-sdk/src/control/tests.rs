//! Proposals of draft §8 and every rejection reason.

use super::*;
use newmedia_proto::{
    crypto::Algorithm,
    ids::GlobalEncodingId,
    signaling::{Address, Advertisement, Candidate, CandidateKind, MediaType, Proposal, Stream},
};

const AD_8_1_1: &str =
    include_str!("../../../proto/testdata/draft-examples/8.1.1-simple-audio-advertisement.json");
const P_8_1_2: &str =
    include_str!("../../../proto/testdata/draft-examples/8.1.2-simple-audio-proposal.json");
const AD_8_2: &str =
    include_str!("../../../proto/testdata/draft-examples/8.2-simple-video-advertisement.json");
const P_8_2_1: &str =
    include_str!("../../../proto/testdata/draft-examples/8.2.1-proposal-sent-to-camera.json");
const P_8_3: &str =
    include_str!("../../../proto/testdata/draft-examples/8.3-simulcast-video-proposal.json");
const AD_8_4_1: &str =
    include_str!("../../../proto/testdata/draft-examples/8.4.1-fec-advertisement.json");
const P_8_4_2: &str =
    include_str!("../../../proto/testdata/draft-examples/8.4.2-fec-proposal.json");

const FP: &str = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

fn fp_bytes() -> [u8; 32] {
    hex::decode(FP).unwrap().try_into().unwrap()
}

/// The draft's proposal with its placeholder fingerprint replaced by a real one.
fn fixed(text: &str) -> Proposal {
    Proposal::from_json(&text.replace("9389739", FP)).unwrap()
}

/// 8.1.1: one opus/g711 microphone (source 1) and speaker (sink 1).
fn audio_caps() -> Capabilities {
    Capabilities::new()
        .source(MediaSource::audio(
            1,
            [
                AudioCodec::new("opus").max_bitrate(128_000),
                AudioCodec::new("g711"),
            ],
        ))
        .sink(MediaSink::audio(
            1,
            [
                AudioCodec::new("opus").max_bitrate(256_000),
                AudioCodec::new("g711"),
            ],
        ))
}

/// 8.2: the camera's av1 limits, under `source_id`.
fn camera(source_id: u64) -> MediaSource {
    MediaSource::video(
        source_id,
        [VideoCodec::new("av1")
            .max_bitrate(20_000_000)
            .max_size(3840, 2160)
            .max_frame_rate(120)
            .max_pixel_rate(248_832_000)
            .max_pixel_depth(8)],
    )
}

fn video_caps(source_id: u64) -> Capabilities {
    Capabilities::new().source(camera(source_id))
}

/// 8.4.1: the camera plus FEC.
fn fec_caps(source_id: u64) -> Capabilities {
    Capabilities::new().source(camera(source_id).with_codec(GenericCodec::fec()))
}

fn apply(p: &Proposal, caps: &Capabilities) -> Result<AppliedProposal, ProposalRejection> {
    MediaConfiguration::new().apply(p, caps, &StaticKeys::new())
}

fn rejection(p: &Proposal, caps: &Capabilities) -> String {
    apply(p, caps).unwrap_err().to_string()
}

#[test]
fn advertisements_equal_the_drafts() {
    let ad = Advertisement::from_json(AD_8_1_1).unwrap();
    assert_eq!(audio_caps().advertisement(ad.receive_at()).unwrap(), ad);
    assert_eq!(
        video_caps(1).advertisement(&[]).unwrap(),
        Advertisement::from_json(AD_8_2).unwrap()
    );
    assert_eq!(
        fec_caps(1).advertisement(&[]).unwrap(),
        Advertisement::from_json(AD_8_4_1).unwrap()
    );
}

#[test]
fn advertisement_is_validated_and_carries_audio_limits() {
    let dup = audio_caps().source(MediaSource::audio(1, [AudioCodec::new("opus")]));
    assert!(dup.advertisement(&[]).is_err());
    let caps = Capabilities::new().source(MediaSource::audio(
        2,
        [AudioCodec::new("opus")
            .max_sample_rate(48_000)
            .max_sample_size(16)
            .max_channels(2)],
    ));
    let json = caps.advertisement(&[]).unwrap().to_json().unwrap();
    assert_eq!(
        json,
        r#"{"sources":[{"sourceID":2,"sourceType":"audio","codecs":[{"codecName":"opus","maxSampleRate":48000,"maxSampleSize":16,"maxChannels":2}]}]}"#
    );
    assert_eq!(Capabilities::default().aeads, Algorithm::ALL.to_vec());
}

#[test]
fn draft_proposals_rejected_for_placeholder_fingerprints() {
    let want = "sendTo[0]: tlsFingerprintSHA256 \"9389739\" is not a SHA-256 fingerprint";
    for (text, caps) in [
        (P_8_1_2, audio_caps()),
        (P_8_2_1, video_caps(0)),
        (P_8_3, video_caps(0)),
        (P_8_4_2, fec_caps(0)),
    ] {
        let p = Proposal::from_json(text).unwrap();
        assert!(rejection(&p, &caps).starts_with(want), "{text}");
    }
}

#[test]
fn audio_8_1_2_accepted() {
    let p = fixed(P_8_1_2);
    let a = apply(&p, &audio_caps()).unwrap();
    assert_eq!(a.receive_at, p.receive_at());
    assert_eq!(a.send_to.len(), 3);
    assert_eq!(a.send_to[0].kind, CandidateKind::Relay);
    assert_eq!(a.send_to[0].address.as_str(), "2001:db8::20:443");
    assert_eq!(a.send_to[2].kind, CandidateKind::Local);
    assert!(a.send_to.iter().all(|t| t.fingerprint == fp_bytes()));
    assert_eq!(a.send_to[1].stun_secret.as_bytes(), b"20kdiu83kd8");

    let [s] = &a.send_streams[..] else { panic!() };
    assert_eq!(
        s.global_encoding_id,
        GlobalEncodingId::derive(4638572387, 23, 1, 1)
    );
    assert_eq!(
        (s.conference_id, s.endpoint_id, s.source_id, s.encoding_id),
        (4638572387, 23, 1, 1)
    );
    assert_eq!(s.codec, AudioCodec::new("opus").max_bitrate(128_000).into());
    assert_eq!(s.kind, MediaType::Audio);
    assert_eq!(s.aead, Algorithm::Aes128Gcm);
    assert_eq!(s.secret.as_bytes(), b"xy34");
    assert_eq!(s.limits.max_bitrate, Some(24_000));
    assert_eq!(s.limits.packet_time, Some(20));
    assert_eq!(s.fec, None);

    let [r] = &a.receive_streams[..] else {
        panic!()
    };
    assert_eq!(r.sink_id, 1);
    assert_eq!(r.global_encoding_id, None, "8.1.2 gives no sourceID");
    assert_eq!(r.codec.name(), "opus");
    assert_eq!(r.secret.as_bytes(), b"xy34");
}

#[test]
fn video_proposals_name_source_0_the_camera_advertised_1() {
    for text in [P_8_2_1, P_8_3] {
        assert_eq!(
            rejection(&fixed(text), &video_caps(1)),
            "sendStreams[0]: sourceID 0 is not one of our sources"
        );
    }
}

#[test]
fn camera_8_2_1_accepted() {
    let a = apply(&fixed(P_8_2_1), &video_caps(0)).unwrap();
    let [s] = &a.send_streams[..] else { panic!() };
    assert_eq!(s.aead, Algorithm::Null);
    assert!(s.secret.is_empty());
    assert_eq!(s.kind, MediaType::Video);
    assert_eq!(
        s.limits,
        StreamLimits {
            width: Some(640),
            height: Some(480),
            frame_rate: Some(30),
            ..StreamLimits::default()
        }
    );
    assert!(a.receive_streams.is_empty() && a.receive_at.is_empty());
}

#[test]
fn simulcast_8_3_accepted() {
    let a = apply(&fixed(P_8_3), &video_caps(0)).unwrap();
    let ids: Vec<_> = a
        .send_streams
        .iter()
        .map(|s| s.global_encoding_id)
        .collect();
    assert_eq!(
        ids,
        [
            GlobalEncodingId::derive(0, 0, 0, 1),
            GlobalEncodingId::derive(0, 0, 0, 2)
        ]
    );
    assert_eq!(a.send_streams[0].limits.width, Some(1920));
    assert_eq!(a.send_streams[1].limits.frame_rate, Some(15));
}

#[test]
fn fec_8_4_2_accepted_only_with_the_fec_codec() {
    let a = apply(&fixed(P_8_4_2), &fec_caps(0)).unwrap();
    assert_eq!(a.send_streams[0].fec, None);
    assert_eq!(
        a.send_streams[1].fec,
        Some(FecRepair {
            window_ms: Some(200),
            encoding_ids: vec![1]
        })
    );
    assert_eq!(a.send_streams[1].codec, GenericCodec::fec().into());
    assert_eq!(
        rejection(&fixed(P_8_4_2), &video_caps(0)),
        "sendStreams[1]: codec \"flex-fec-rs\" not supported by source 0"
    );
}

/// Two send streams (audio source 1, video source 2) and one receive stream (video sink 2).
fn base() -> Proposal {
    Proposal::from_json(&format!(
        r#"{{
        "sendTo": [{{"stun": "203.0.113.20:4433", "stunSecret": "s", "tlsFingerprintSHA256": "{FP}"}}],
        "sendStreams": [
            {{"conferenceID": 7, "endpointID": 1, "sourceID": 1, "encodingID": 1,
             "codecName": "opus", "AEAD": "AES256-GCM", "secretRef": "mls:a"}},
            {{"conferenceID": 7, "endpointID": 1, "sourceID": 2, "encodingID": 1,
             "codecName": "av1", "AEAD": "AES256-GCM", "secret": "v",
             "width": 1280, "height": 720, "frameRate": 30, "maxBitrate": 1000000}}
        ],
        "receiveStreams": [
            {{"sinkID": 2, "codecName": "av1", "AEAD": "AES128-GCM", "secretRef": "mls:b",
             "conferenceID": 7, "endpointID": 3, "sourceID": 2, "encodingID": 1,
             "width": 1280, "height": 720}}
        ]
    }}"#
    ))
    .unwrap()
}

fn send(p: &mut Proposal, i: usize) -> &mut Stream {
    &mut p.send_streams.as_mut().unwrap()[i]
}

fn recv(p: &mut Proposal, i: usize) -> &mut Stream {
    &mut p.receive_streams.as_mut().unwrap()[i]
}

fn to(p: &mut Proposal, i: usize) -> &mut Candidate {
    &mut p.send_to.as_mut().unwrap()[i]
}

fn caps() -> Capabilities {
    let av1 = || {
        VideoCodec::new("av1")
            .max_size(1920, 1080)
            .max_frame_rate(60)
            .max_pixel_rate(1920 * 1080 * 30)
            .max_bitrate(4_000_000)
    };
    Capabilities::new()
        .source(MediaSource::audio(
            1,
            [AudioCodec::new("opus").max_bitrate(64_000)],
        ))
        .source(MediaSource::video(2, [av1()]))
        .sink(MediaSink::video(2, [av1().max_size(1280, 720)]))
}

fn keys() -> StaticKeys {
    StaticKeys::new()
        .with("mls:a", b"secret-a".to_vec())
        .with("mls:b", b"secret-b".to_vec())
}

fn try_edit(edit: impl FnOnce(&mut Proposal)) -> Result<AppliedProposal, ProposalRejection> {
    let mut p = base();
    edit(&mut p);
    MediaConfiguration::new().apply(&p, &caps(), &keys())
}

fn reject_edit(edit: impl FnOnce(&mut Proposal)) -> String {
    try_edit(edit).unwrap_err().to_string()
}

#[test]
fn base_accepted_with_resolved_secrets() {
    let a = try_edit(|_| {}).unwrap();
    assert_eq!(a.send_streams[0].secret.as_bytes(), b"secret-a");
    assert_eq!(a.send_streams[1].secret.as_bytes(), b"v");
    assert_eq!(a.receive_streams[0].secret.as_bytes(), b"secret-b");
    assert_eq!(
        a.receive_streams[0].global_encoding_id,
        Some(GlobalEncodingId::derive(7, 3, 2, 1))
    );
}

#[test]
fn every_rejection_reason() {
    type Edit = fn(&mut Proposal);
    let cases: [(Edit, &str); 15] = [
        (
            |p| to(p, 0).tls_fingerprint_sha256 = None,
            "sendTo[0]: no tlsFingerprintSHA256, so the far side's certificate cannot be pinned",
        ),
        (
            |p| to(p, 0).tls_fingerprint_sha256 = Some("ab:cd".into()),
            "sendTo[0]: tlsFingerprintSHA256 \"ab:cd\" is not a SHA-256 fingerprint (64 hex digits, optionally colon-separated pairs)",
        ),
        (
            |p| send(p, 1).codec_name = Some("vp8".into()),
            "sendStreams[1]: codec \"vp8\" not supported by source 2",
        ),
        (
            |p| send(p, 1).source_id = Some(9),
            "sendStreams[1]: sourceID 9 is not one of our sources",
        ),
        (
            |p| recv(p, 0).sink_id = Some(1),
            "receiveStreams[0]: sinkID 1 is not one of our sinks",
        ),
        (
            |p| recv(p, 0).codec_name = Some("h264".into()),
            "receiveStreams[0]: codec \"h264\" not supported by sink 2",
        ),
        (
            |p| recv(p, 0).secret_ref = Some("mls:x".into()),
            "receiveStreams[0]: secretRef \"mls:x\" unknown to the key provider",
        ),
        (
            |p| send(p, 1).width = Some(4096),
            "sendStreams[1]: width 4096 above the source's max 1920",
        ),
        (
            |p| send(p, 1).height = Some(1081),
            "sendStreams[1]: height 1081 above the source's max 1080",
        ),
        (
            |p| send(p, 1).frame_rate = Some(61),
            "sendStreams[1]: frameRate 61 above the source's max 60",
        ),
        (
            |p| {
                let s = send(p, 1);
                (s.width, s.height, s.frame_rate) = (Some(1920), Some(1080), Some(60));
            },
            "sendStreams[1]: pixelRate 124416000 above the source's max 62208000",
        ),
        (
            |p| send(p, 0).max_bitrate = Some(64_001),
            "sendStreams[0]: maxBitrate 64001 above the source's max 64000",
        ),
        (
            |p| recv(p, 0).width = Some(1281),
            "receiveStreams[0]: width 1281 above the sink's max 1280",
        ),
        (
            |p| send(p, 0).width = Some(640),
            "sendStreams[0]: width does not apply to codec \"opus\"",
        ),
        (
            |p| send(p, 1).packet_time = Some(20),
            "sendStreams[1]: packetTime does not apply to codec \"av1\"",
        ),
    ];
    for (edit, want) in cases {
        assert_eq!(reject_edit(edit), want);
    }

    let caps = caps().aeads([Algorithm::Aes128Gcm]);
    let p = base();
    assert_eq!(
        MediaConfiguration::new()
            .apply(&p, &caps, &keys())
            .unwrap_err()
            .to_string(),
        "sendStreams[0]: AEAD AES256-GCM not supported"
    );
}

#[test]
fn unvalidated_proposal_is_rejected_as_invalid() {
    let mut p = base();
    send(&mut p, 0).codec_name = None;
    let err = MediaConfiguration::new()
        .apply(&p, &caps(), &keys())
        .unwrap_err();
    assert!(matches!(err.reason, RejectReason::Invalid(_)));
    assert_eq!(err.path, "");
    assert!(
        err.to_string()
            .contains("sendStreams[0]: missing codecName")
    );
}

#[test]
fn null_aead_needs_no_secret_and_ignores_one() {
    let a = try_edit(|p| {
        send(p, 0).aead = Some(Algorithm::Null);
        send(p, 0).secret_ref = Some("mls:unknown".into());
    })
    .unwrap();
    assert!(a.send_streams[0].secret.is_empty());
    assert_eq!(a.send_streams[0].aead, Algorithm::Null);
}

#[test]
fn rejection_changes_nothing() {
    let mut config = MediaConfiguration::new();
    let p = base();
    let first = config.accept(&p, &caps(), &keys()).unwrap().clone();

    // Good send streams and sendTo, a bad last receive stream: nothing of it is taken.
    let mut bad = base();
    send(&mut bad, 0).max_bitrate = Some(32_000);
    to(&mut bad, 0).stun = Some(Address::parse("203.0.113.99:4433").unwrap());
    recv(&mut bad, 0).secret_ref = Some("mls:gone".into());
    let err = config.accept(&bad, &caps(), &keys()).unwrap_err();
    assert_eq!(err.path, "receiveStreams[0]");
    assert_eq!(config.current(), Some(&first));

    // Accepting a good one replaces the configuration whole.
    let draft = fixed(P_8_1_2);
    config.accept(&draft, &audio_caps(), &keys()).unwrap();
    assert_eq!(config.current().unwrap().send_to.len(), 3);
    assert_eq!(config.current().unwrap().receive_streams[0].sink_id, 1);
}

#[test]
fn secrets_are_not_debug_printed() {
    let a = try_edit(|_| {}).unwrap();
    let dump = format!("{a:?} {:?}", keys());
    assert!(!dump.contains("secret-a") && !dump.contains("secret-b"));
    assert!(dump.contains("Secret(<8 bytes>)"));
    assert_eq!(format!("{:?}", Secret::new(*b"xy34")), "Secret(<4 bytes>)");
    assert_eq!(Secret::new(*b"xy34").len(), 4);
}
