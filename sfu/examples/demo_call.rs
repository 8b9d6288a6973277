//! A demo call on loopback: an SFU with default settings, one publisher sending AES-GCM
//! sealed audio and simulcast video, two subscribers that open what arrives end to end.
//!
//! ```sh
//! cargo run --release -p newmedia-sfu --example demo_call
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use newmedia_proto::control::{Constraints, ControlMessage, Subscribe, SubscribeTarget};
use newmedia_proto::crypto::{Algorithm, MessageKey};
use newmedia_proto::grant::{MediaKind, Publication};
use newmedia_proto::rtp3::{HeaderView, Headers, Opener, Sealer};
use newmedia_sfu::admission::registry::EndpointAdmission;
use newmedia_sfu::admission::tls::Identity;
use newmedia_sfu::app;
use newmedia_sfu::ops::config::SfuConfig;
use newmedia_sfu::testing::{TestClient, client_endpoint};
use std::time::Duration;

const CONFERENCE: u64 = 4_638_572_387;
const SECRET: &[u8] = b"xy34";

fn publication(
    source_id: u64,
    encoding_id: u64,
    kind: MediaKind,
    width: Option<u32>,
) -> Publication {
    Publication {
        source_id,
        encoding_id,
        kind,
        width,
        height: width.map(|w| w * 9 / 16),
        max_bitrate: Some(if kind == MediaKind::Audio {
            32_000
        } else {
            u64::from(width.unwrap_or(0)) * 1_000
        }),
        frame_rate: width.map(|_| 30),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let config = SfuConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        admin_token: Some("demo".into()),
        ..SfuConfig::default()
    };
    let sfu = app::start(config).await.expect("SFU starts");
    println!(
        "SFU on {} (QUIC + STUN2), HTTP on {}",
        sfu.media_addr, sfu.http_addr
    );

    let audio = publication(1, 1, MediaKind::Audio, None);
    let (hd, sd) = (
        publication(2, 1, MediaKind::Video, Some(1280)),
        publication(2, 2, MediaKind::Video, Some(320)),
    );
    sfu.registry.create_conference(CONFERENCE).unwrap();
    let mut identities = Vec::new();
    for (endpoint_id, publications) in [
        (23, vec![audio.clone(), hd.clone(), sd.clone()]),
        (24, vec![]),
        (25, vec![]),
    ] {
        let identity = Identity::self_signed(vec![format!("endpoint-{endpoint_id}")]).unwrap();
        sfu.registry
            .admit_endpoint(
                CONFERENCE,
                EndpointAdmission {
                    endpoint_id,
                    fingerprint: identity.fingerprint(),
                    publications,
                },
            )
            .unwrap();
        identities.push((endpoint_id, identity));
    }
    let endpoint = client_endpoint("127.0.0.1:0".parse().unwrap()).unwrap();
    let mut clients = Vec::new();
    for (endpoint_id, identity) in &identities {
        clients.push(
            TestClient::connect(
                &endpoint,
                sfu.media_addr,
                sfu.fingerprint,
                identity,
                *endpoint_id,
                None,
            )
            .await
            .unwrap(),
        );
        println!("endpoint {endpoint_id} admitted by its certificate fingerprint");
    }
    let mut subscribers = clients.split_off(1);
    let publisher = clients.pop().unwrap();

    // Subscriber 24: the audio, and the video source on a big screen; 25: the video on a
    // small screen. The SFU picks the simulcast encoding.
    let audio_geid = audio.global_encoding_id(CONFERENCE, 23);
    for (sub, max_width) in subscribers.iter_mut().zip([1920u64, 400]) {
        let video = SubscribeTarget::Source {
            conference_id: CONFERENCE,
            endpoint_id: 23,
            source_id: 2,
            constraints: Constraints {
                max_width: Some(max_width),
                ..Constraints::default()
            },
        };
        sub.send_control(ControlMessage::Subscribe(Subscribe {
            request_id: 1,
            target: video,
            max_layer: None,
        }))
        .await
        .unwrap();
        sub.send_control(ControlMessage::Subscribe(Subscribe {
            request_id: 2,
            target: SubscribeTarget::Encoding(audio_geid),
            max_layer: None,
        }))
        .await
        .unwrap();
    }

    // The publisher: every encoding sealed with its own key, salt sent once a second.
    let encodings = [&audio, &hd, &sd].map(|p| {
        let geid = p.global_encoding_id(CONFERENCE, 23);
        (
            p.clone(),
            geid,
            Sealer::new(
                MessageKey::derive(Algorithm::Aes128Gcm, SECRET, CONFERENCE, 23, geid),
                rand_salt(geid.0),
            ),
        )
    });
    for (frame, _) in (0..50u64).zip(0..) {
        for (p, geid, sealer) in &encodings {
            let mut h = Headers::new(*geid, frame);
            h.salt = Some(*sealer.salt());
            h.capture_time = Some(3_913_056_000_000 + frame * 20);
            if p.kind == MediaKind::Audio {
                h.active_level = Some(80);
            } else {
                h.reference_frame = Some(frame % 25 == 0);
            }
            let payload = format!("{:?} frame {frame} of encoding {}", p.kind, p.encoding_id);
            let mut out = Vec::new();
            sealer.seal(&h, payload.as_bytes(), &mut out).unwrap();
            publisher.send_datagram(Bytes::from(out)).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    for (sub, (endpoint_id, _)) in subscribers.iter().zip(identities.iter().skip(1)) {
        let mut openers: Vec<(newmedia_proto::ids::GlobalEncodingId, Opener)> = encodings
            .iter()
            .map(|(_, g, _)| {
                (
                    *g,
                    Opener::new(MessageKey::derive(
                        Algorithm::Aes128Gcm,
                        SECRET,
                        CONFERENCE,
                        23,
                        *g,
                    )),
                )
            })
            .collect();
        let mut counts = std::collections::BTreeMap::new();
        let mut last = String::new();
        while let Ok(Ok(d)) =
            tokio::time::timeout(Duration::from_millis(300), sub.recv_datagram()).await
        {
            let view = HeaderView::parse(&d).unwrap();
            let (_, opener) = openers
                .iter_mut()
                .find(|(g, _)| *g == view.global_encoding_id())
                .unwrap();
            let mut plain = Vec::new();
            last = String::from_utf8_lossy(opener.open(&view, &mut plain).unwrap()).into_owned();
            *counts
                .entry(
                    last.split(" frame").next().unwrap_or("?").to_owned()
                        + &last[last.rfind(' ').unwrap_or(0)..],
                )
                .or_insert(0) += 1;
        }
        println!("endpoint {endpoint_id} received and decrypted: {counts:?} (last: {last:?})");
        assert!(
            counts.keys().any(|k| k.starts_with("Audio"))
                && counts.keys().any(|k| k.starts_with("Video")),
            "endpoint {endpoint_id} should have received audio and video"
        );
    }
    let stats = &sfu.node.stats;
    use std::sync::atomic::Ordering::Relaxed;
    println!(
        "SFU: {} datagrams in, {} copies forwarded, {} keyframe requests, {} simulcast switches",
        stats.datagrams_in.load(Relaxed),
        stats.copies_queued.load(Relaxed),
        stats.keyframe_requests.load(Relaxed),
        stats.layer_switches.load(Relaxed),
    );
    // Hang up, then drain: the SFU stops as soon as the last connection is gone.
    publisher.conn.close(0u32.into(), b"bye");
    for sub in &subscribers {
        sub.conn.close(0u32.into(), b"bye");
    }
    sfu.drain().await;
}

/// A demo salt; a real sender draws it from a CSPRNG.
fn rand_salt(seed: u64) -> [u8; 12] {
    let mut salt = [0u8; 12];
    salt[..8].copy_from_slice(&seed.to_be_bytes());
    salt
}
