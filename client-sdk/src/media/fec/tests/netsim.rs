//! In virtual time through a seeded `netsim` link with 5 % random loss and jitter, and no
//! way back (so no retransmission): 10 s of 30 fps video (5-30 KB frames, a 60 KB reference
//! frame every 2 s), AES-128-GCM, 1200-byte datagrams, with a FEC stream at the default rule
//! (k = 20, 20 %, 200 ms window). The receiver runs the subscriber's run-loop contract of
//! `media::fec` exactly: FEC alone restores almost every lost message, byte for byte, and
//! the frames that would have been lost complete.

use super::support::{origin, xorshift};
use crate::media::fec::*;
use crate::media::{EncodingIds, Frame, Packetizer, Reassembler};
use bytes::Bytes;
use newmedia_netsim::{Fate, Link, LinkConfig};
use newmedia_proto::crypto::{Algorithm, MessageKey};
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::{HeaderView, Opener, Rtp3Error, Sealer};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const VIDEO: EncodingIds = EncodingIds {
    conference_id: 7,
    endpoint_id: 300,
    source_id: 1,
    encoding_id: 1,
};
const FEC: EncodingIds = EncodingIds {
    encoding_id: 2,
    ..VIDEO
};
const FRAMES: u64 = 300;
const DATAGRAM: usize = 1200;
/// What a FEC-encoding message needs beyond its payload, at most (headers with the full
/// set, payload field, AEAD tag).
const FEC_HEADROOM: usize = 128;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn key(ids: &EncodingIds) -> MessageKey {
    MessageKey::derive(
        Algorithm::Aes128Gcm,
        b"conference secret",
        ids.conference_id,
        ids.endpoint_id,
        ids.global_encoding_id(),
    )
}

fn video_frame(i: u64) -> Vec<u8> {
    let mut s = i + 1000;
    let len = if i.is_multiple_of(60) {
        60_000
    } else {
        5_000 + (xorshift(&mut s) % 25_000) as usize
    };
    (0..len).map(|_| xorshift(&mut s) as u8).collect()
}

struct Receiver {
    video_geid: GlobalEncodingId,
    video: Opener,
    fec: Opener,
    decoder: FecDecoder,
    reassembler: Reassembler,
    /// Messages that could not open yet (salt unknown), kept until it is known.
    waiting: Vec<Bytes>,
    frames: BTreeMap<u64, Vec<u8>>,
    arrived: BTreeSet<u64>,
    restored: Vec<Restored>,
}

impl Receiver {
    fn new() -> Self {
        let video_geid = VIDEO.global_encoding_id();
        Self {
            video_geid,
            video: Opener::new(key(&VIDEO)),
            fec: Opener::new(key(&FEC)),
            decoder: FecDecoder::new(FecDecoderConfig::default(), [video_geid]).unwrap(),
            reassembler: Reassembler::default(),
            waiting: Vec::new(),
            frames: BTreeMap::new(),
            arrived: BTreeSet::new(),
            restored: Vec::new(),
        }
    }

    /// Step 2-4 of the subscriber's contract for one datagram.
    fn handle(&mut self, datagram: Bytes, now: Instant) {
        let view = HeaderView::parse(&datagram).unwrap();
        let mut restored = Vec::new();
        if view.global_encoding_id() == self.video_geid {
            self.arrived.insert(view.sequence_id());
            self.decoder
                .push_source(datagram.clone(), now, &mut |r| restored.push(r))
                .unwrap();
            self.open_video(datagram, now);
        } else {
            let mut plain = Vec::new();
            let payload = self.fec.open(&view, &mut plain).unwrap();
            self.decoder
                .push_repair(payload, now, &mut |r| restored.push(r))
                .unwrap();
        }
        for r in restored {
            self.open_video(r.message.clone(), now);
            self.restored.push(r);
        }
    }

    fn open_video(&mut self, message: Bytes, now: Instant) {
        let view = HeaderView::parse(&message).unwrap();
        let mut plain = Vec::new();
        match self.video.open(&view, &mut plain) {
            Ok(p) => {
                if let Some(f) = self.reassembler.push(&view, p, now).unwrap() {
                    self.frames.insert(f.first_sequence, f.payload);
                }
                if view.salt().is_some() {
                    for m in std::mem::take(&mut self.waiting) {
                        self.open_video(m, now);
                    }
                }
            }
            Err(Rtp3Error::SaltUnknown) => self.waiting.push(message),
            Err(e) => panic!("open: {e}"),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [self.decoder.poll_timeout(), self.reassembler.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.decoder.handle_timeout(now);
        self.reassembler.handle_timeout(now);
    }
}

#[test]
fn fec_alone_restores_most_losses_on_a_5_percent_lossy_path() {
    let t0 = origin();
    let config = FecEncoderConfig::default()
        .window_ms(200)
        .max_repair_payload(DATAGRAM - FEC_HEADROOM);
    let mut encoder = FecEncoder::new(config, [VIDEO.global_encoding_id()]).unwrap();
    let mut video = Packetizer::new(
        Sealer::new(key(&VIDEO), [1; 12]),
        VIDEO,
        config.max_source_len(),
        None,
    )
    .unwrap();
    let mut fec = Packetizer::new(Sealer::new(key(&FEC), [2; 12]), FEC, DATAGRAM, None).unwrap();
    let link_config = LinkConfig::default().loss(0.05).delay(ms(20)).jitter(ms(3));
    let mut link: Link<Bytes> = Link::new(link_config, 5).unwrap();
    let mut rx = Receiver::new();

    let mut sent: Vec<Bytes> = Vec::new();
    let mut frame_seqs: Vec<(u64, u64)> = Vec::new();
    let mut payloads: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut lost_video = BTreeSet::new();
    let mut repair_messages = 0u64;
    let mut send_repairs =
        |repairs: Vec<Repair>, link: &mut Link<Bytes>, now: Instant, count: &mut u64| {
            for r in repairs {
                let f = Frame {
                    payload: &r.payload,
                    capture_time: r.capture_time.unwrap(),
                    reference: false,
                    layer_id: None,
                    active_level: None,
                };
                let mut out = Vec::new();
                fec.packetize(&f, now, &mut |d| out.push(d)).unwrap();
                assert_eq!(out.len(), 1, "a repair fits one FEC message");
                for d in out {
                    assert!(d.len() <= DATAGRAM);
                    link.send(d, now);
                    *count += 1;
                }
            }
        };

    let mut next_frame = 0u64;
    let mut now = t0;
    let end = t0 + ms(FRAMES * 1000 / 30) + Duration::from_secs(2);
    while now < end {
        // Publisher: capture, packetize, push to the FEC encoder, send; then the window.
        while next_frame < FRAMES && t0 + ms(next_frame * 1000 / 30) <= now {
            let payload = video_frame(next_frame);
            let frame = Frame {
                payload: &payload,
                capture_time: 3_900_000_000_000 + next_frame * 1000 / 30,
                reference: next_frame.is_multiple_of(60),
                layer_id: None,
                active_level: None,
            };
            let first = video.next_sequence_id();
            let mut msgs = Vec::new();
            video.packetize(&frame, now, &mut |d| msgs.push(d)).unwrap();
            frame_seqs.push((first, msgs.len() as u64));
            payloads.insert(first, payload.clone());
            let mut repairs = Vec::new();
            for m in msgs {
                encoder.push(&m, now, &mut |r| repairs.push(r)).unwrap();
                let seq = HeaderView::parse(&m).unwrap().sequence_id();
                if link.send(m.clone(), now) != Fate::InFlight {
                    lost_video.insert(seq);
                }
                sent.push(m);
            }
            send_repairs(repairs, &mut link, now, &mut repair_messages);
            next_frame += 1;
        }
        if encoder.poll_timeout().is_some_and(|t| t <= now) {
            let mut repairs = Vec::new();
            encoder
                .handle_timeout(now, &mut |r| repairs.push(r))
                .unwrap();
            send_repairs(repairs, &mut link, now, &mut repair_messages);
        }
        // Receiver.
        while let Some(d) = link.poll_deliver(now) {
            rx.handle(d, now);
        }
        if rx.poll_timeout().is_some_and(|t| t <= now) {
            rx.handle_timeout(now);
        }
        let next = [
            (next_frame < FRAMES).then(|| t0 + ms(next_frame * 1000 / 30)),
            encoder.poll_timeout(),
            link.poll_timeout(),
            rx.poll_timeout(),
            Some(end),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap();
        now = next.max(now + Duration::from_micros(1)).min(end);
    }
    rx.handle_timeout(end + Duration::from_secs(5));

    // Every restored message is exactly the one sent, and only lost ones were restored.
    assert!(!lost_video.is_empty());
    // (A message overtaken by its block's repairs is restored early; its original then
    // arrives as a duplicate.)
    for r in &rx.restored {
        assert_eq!(r.message, sent[r.sequence_id as usize]);
    }
    let restored_lost: BTreeSet<u64> = rx
        .restored
        .iter()
        .map(|r| r.sequence_id)
        .filter(|s| lost_video.contains(s))
        .collect();
    let restored = restored_lost.len();
    let early = rx.restored.len() - restored;
    let lost = lost_video.len();
    let unrepaired: BTreeSet<u64> = lost_video
        .iter()
        .copied()
        .filter(|s| !restored_lost.contains(s))
        .collect();
    // Frames that lost a message: without FEC all of them would be lost.
    let hit: Vec<&(u64, u64)> = frame_seqs
        .iter()
        .filter(|(first, n)| (*first..first + n).any(|s| lost_video.contains(&s)))
        .collect();
    let still_lost = frame_seqs
        .iter()
        .filter(|(first, n)| (*first..first + n).any(|s| unrepaired.contains(&s)))
        .count();
    for (first, payload) in &rx.frames {
        assert_eq!(payloads.get(first), Some(payload), "frame at {first}");
    }
    let stats = rx.decoder.stats();
    println!(
        "video messages {}, lost {lost} ({:.1} %), restored {restored} (and {early} early); repair messages \
         {repair_messages}; frames {FRAMES}, hit by loss {}, complete {}, lost {still_lost}; \
         {stats:?}",
        sent.len(),
        100.0 * lost as f64 / sent.len() as f64,
        hit.len(),
        rx.frames.len(),
    );
    assert!(
        restored * 10 >= lost * 9,
        "FEC restored {restored} of {lost} lost messages"
    );
    assert_eq!(rx.frames.len() as u64 + still_lost as u64, FRAMES);
    assert!(
        still_lost * 5 < hit.len(),
        "{still_lost} of {} frames hit by loss stay lost",
        hit.len()
    );
    assert!(rx.waiting.is_empty());
    assert_eq!(stats.blocks_failed, 0);
    assert_eq!(stats.restored as usize, rx.restored.len());
    // What the decoder reports as unrecoverable is among what stayed lost (a block whose
    // repairs were all lost is not known to it).
    assert!(stats.messages_unrecovered as usize <= unrepaired.len());
    assert_eq!(rx.decoder.buffered_bytes(), 0);
}
