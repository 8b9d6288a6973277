//! End to end in virtual time: a publisher (packetizer, AES-128-GCM sealer, audio frame pacer
//! and send pacer) sends 10 s of 30 fps video (5-60 KB frames, a reference frame every 2 s)
//! and 50 frames/s of audio through a lossy, jittery, reordering `netsim` link to a receiver
//! (opener, reassembler, loss recovery, jitter buffers in one lip-sync group, the designated
//! reporter). Retransmission requests and reports travel back through a second link to a
//! responder that answers from a cache of every sent message, as the SFU does.
//!
//! The loop below is the run-loop contract of `newmedia_client::media` spelled out: every
//! state machine is polled at the earliest of their timeouts, and nothing reads a clock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bytes::Bytes;
use newmedia_client::media::{
    AudioFramePacer, EncodingIds, Frame, JitterBuffer, JitterConfig, MediaKind, Pacer, PacerConfig,
    Packetizer, PlayoutFrame, Reassembler, ReceiveStreamStats, Recovery, RecoveryConfig, Reporter,
    ReporterConfig, SendStreamStats, SyncGroup,
};
use newmedia_netsim::{Fate, Link, LinkConfig};
use newmedia_proto::control::{ControlMessage, Decoded, ReceiverReport};
use newmedia_proto::crypto::{Algorithm, MessageKey};
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::{HeaderView, Opener, Sealer};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

const VIDEO: EncodingIds = EncodingIds {
    conference_id: 7,
    endpoint_id: 300,
    source_id: 1,
    encoding_id: 1,
};
const AUDIO: EncodingIds = EncodingIds {
    conference_id: 7,
    endpoint_id: 300,
    source_id: 2,
    encoding_id: 1,
};
const SECRET: &[u8] = b"conference secret";
/// The sender's capture clock (NTP ms) at the start.
const CAPTURE0: u64 = 3_900_000_000_000;
const VIDEO_FRAMES: u64 = 300;
const AUDIO_FRAMES: u64 = 500;
/// Path RTT: 20 ms each way on average.
const RTT: Duration = Duration::from_millis(40);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The one real instant the virtual clock offsets from.
#[allow(clippy::disallowed_methods)]
fn origin() -> Instant {
    Instant::now()
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn bytes_of(seed: u64, len: usize) -> Vec<u8> {
    let mut s = seed | 1;
    (0..len).map(|_| xorshift(&mut s) as u8).collect()
}

fn key(ids: &EncodingIds) -> MessageKey {
    MessageKey::derive(
        Algorithm::Aes128Gcm,
        SECRET,
        ids.conference_id,
        ids.endpoint_id,
        ids.global_encoding_id(),
    )
}

/// Capture time (ms after `CAPTURE0`) of video frame `i` and its payload.
fn video_frame(i: u64) -> (u64, Vec<u8>, bool) {
    let reference = i.is_multiple_of(60);
    let mut s = i + 1000;
    let len = if reference {
        60_000
    } else {
        5_000 + (xorshift(&mut s) % 25_000) as usize
    };
    (i * 1000 / 30, bytes_of(i + 1, len), reference)
}

fn audio_frame(j: u64) -> (u64, Vec<u8>) {
    (j * 20, bytes_of(j + 1_000_000, 160))
}

struct Publisher {
    video: Packetizer,
    audio: Packetizer,
    audio_frames: AudioFramePacer<u64>,
    pacer: Pacer,
    next_video: u64,
    next_audio_handoff: u64,
    video_stats: SendStreamStats,
    audio_stats: SendStreamStats,
}

impl Publisher {
    fn new() -> Self {
        let mtu = 1200;
        Self {
            video: Packetizer::new(Sealer::new(key(&VIDEO), [1; 12]), VIDEO, mtu, None).unwrap(),
            audio: Packetizer::new(Sealer::new(key(&AUDIO), [2; 12]), AUDIO, mtu, Some(46))
                .unwrap(),
            audio_frames: AudioFramePacer::new(ms(20), 64),
            pacer: Pacer::new(PacerConfig::default().max_bitrate(Some(20_000_000))),
            next_video: 0,
            next_audio_handoff: 0,
            video_stats: SendStreamStats::new(),
            audio_stats: SendStreamStats::new(),
        }
    }

    fn next_event(&self, t0: Instant) -> Option<Instant> {
        let video =
            (self.next_video < VIDEO_FRAMES).then(|| t0 + ms(video_frame(self.next_video).0));
        let audio =
            (self.next_audio_handoff < AUDIO_FRAMES).then(|| t0 + ms(self.next_audio_handoff * 20));
        [
            video,
            audio,
            self.audio_frames.poll_timeout(),
            self.pacer.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Captures and packetizes what is due; returns the datagrams the pacer lets out.
    fn step(&mut self, t0: Instant, now: Instant) -> Vec<(MediaKind, Bytes)> {
        while self.next_video < VIDEO_FRAMES && t0 + ms(video_frame(self.next_video).0) <= now {
            let (capture, payload, reference) = video_frame(self.next_video);
            let frame = Frame {
                payload: &payload,
                capture_time: CAPTURE0 + capture,
                reference,
                layer_id: None,
                active_level: None,
            };
            let pacer = &mut self.pacer;
            self.video
                .packetize(&frame, now, &mut |d| {
                    pacer.enqueue(MediaKind::Video, d, now).unwrap()
                })
                .unwrap();
            self.next_video += 1;
        }
        // The app hands audio over 100 ms at a time, faster than real time.
        while self.next_audio_handoff < AUDIO_FRAMES && t0 + ms(self.next_audio_handoff * 20) <= now
        {
            for j in self.next_audio_handoff..(self.next_audio_handoff + 5).min(AUDIO_FRAMES) {
                self.audio_frames.push(j, now).unwrap();
            }
            self.next_audio_handoff += 5;
        }
        while let Some(j) = self.audio_frames.poll_frame(now) {
            let (capture, payload) = audio_frame(j);
            let frame = Frame {
                payload: &payload,
                capture_time: CAPTURE0 + capture,
                reference: false,
                layer_id: None,
                active_level: Some(50),
            };
            let pacer = &mut self.pacer;
            self.audio
                .packetize(&frame, now, &mut |d| {
                    pacer.enqueue(MediaKind::Audio, d, now).unwrap()
                })
                .unwrap();
        }
        let mut out = Vec::new();
        while let Some(t) = self.pacer.poll_transmit(now) {
            match t.kind {
                MediaKind::Audio => self.audio_stats.on_sent(t.datagram.len()),
                _ => self.video_stats.on_sent(t.datagram.len()),
            }
            out.push((t.kind, t.datagram));
        }
        out
    }
}

/// One received encoding.
struct Stream {
    opener: Opener,
    reassembler: Reassembler,
    recovery: Recovery,
    jitter: JitterBuffer,
    stats: ReceiveStreamStats,
    /// Messages that came before any salt was known (the first one, with the salt, was
    /// lost): opened once a message with the salt authenticates.
    waiting_for_salt: Vec<Bytes>,
    played: Vec<(Instant, PlayoutFrame)>,
}

impl Stream {
    fn new(ids: &EncodingIds, recovery: RecoveryConfig) -> Self {
        let mut rec = Recovery::new(ids.global_encoding_id(), recovery);
        rec.set_rtt(RTT + ms(5));
        Self {
            opener: Opener::new(key(ids)),
            reassembler: Reassembler::default(),
            recovery: rec,
            jitter: JitterBuffer::new(JitterConfig::default()),
            stats: ReceiveStreamStats::new(),
            waiting_for_salt: Vec::new(),
            played: Vec::new(),
        }
    }

    fn timeouts(&self) -> [Option<Instant>; 3] {
        [
            self.reassembler.poll_timeout(),
            self.recovery.poll_timeout(),
            self.jitter.poll_timeout(),
        ]
    }

    /// Opens and reassembles one datagram (already counted by the reporter).
    fn handle(&mut self, d: Bytes, now: Instant) {
        let view = HeaderView::parse(&d).unwrap();
        let mut plain = Vec::new();
        match self.opener.open(&view, &mut plain) {
            Ok(_) => {}
            Err(newmedia_proto::rtp3::Rtp3Error::SaltUnknown) => {
                self.waiting_for_salt.push(d);
                return;
            }
            Err(e) => panic!("open failed: {e}"),
        }
        self.recovery.handle_message(view.sequence_id(), now);
        if let Some(f) = self.reassembler.push(&view, &plain, now).unwrap() {
            self.stats.on_frame(f.capture_time.unwrap());
            self.jitter.push(f.try_into().unwrap(), now);
        }
        self.jitter.handle_settled(self.reassembler.settled_below());
        if view.salt().is_some() {
            for d in std::mem::take(&mut self.waiting_for_salt) {
                self.handle(d, now);
            }
        }
    }
}

struct Receiver {
    video: Stream,
    audio: Stream,
    reporter: Reporter,
    sync: SyncGroup,
}

impl Receiver {
    fn stream(&mut self, g: GlobalEncodingId) -> &mut Stream {
        if g == VIDEO.global_encoding_id() {
            &mut self.video
        } else {
            &mut self.audio
        }
    }

    fn next_event(&self) -> Option<Instant> {
        self.video
            .timeouts()
            .into_iter()
            .chain(self.audio.timeouts())
            .chain([self.reporter.poll_timeout()])
            .flatten()
            .min()
    }

    fn handle_datagram(&mut self, d: Bytes, now: Instant) {
        let view = HeaderView::parse(&d).unwrap();
        let g = view.global_encoding_id();
        let (seq, capture) = (view.sequence_id(), view.capture_time());
        let endpoint = view.headers().endpoint_id;
        assert!(self.reporter.handle_message(g, seq, capture, d.len(), now));
        let s = self.stream(g);
        s.stats.on_message(d.len(), capture, endpoint);
        s.handle(d, now);
    }

    /// Timers, requests, playout and reports due at `now`; returns control frames to send.
    fn step(&mut self, now: Instant) -> Vec<Vec<u8>> {
        let mut control = Vec::new();
        for g in [VIDEO.global_encoding_id(), AUDIO.global_encoding_id()] {
            let jitter = self
                .reporter
                .statistics(g)
                .map(|s| s.jitter())
                .unwrap_or_default();
            let s = self.stream(g);
            s.reassembler.handle_timeout(now);
            s.jitter.handle_settled(s.reassembler.settled_below());
            s.recovery.set_jitter(jitter);
            while let Some(req) = s.recovery.poll_request(&s.reassembler, now) {
                control.push(ControlMessage::RetransmissionRequest(req).to_vec().unwrap());
            }
            s.stats
                .set_packets_lost(s.reassembler.stats().messages_lost);
        }
        self.sync.align(&mut [
            (VIDEO.global_encoding_id().0, &mut self.video.jitter),
            (AUDIO.global_encoding_id().0, &mut self.audio.jitter),
        ]);
        for s in [&mut self.video, &mut self.audio] {
            while let Some(f) = s.jitter.poll_frame(now) {
                s.played.push((now, f));
            }
        }
        if let Some(frame) = self.reporter.poll_report(now).unwrap() {
            control.push(frame);
        }
        control
    }
}

/// The SFU's retransmission cache and what it saw.
#[derive(Default)]
struct Responder {
    cache: HashMap<(u64, u64), Bytes>,
    answered: u64,
    reports: Vec<ReceiverReport>,
}

impl Responder {
    fn handle(&mut self, frame: &[u8]) -> Vec<Bytes> {
        match ControlMessage::from_bytes(frame).unwrap() {
            Decoded::Message(ControlMessage::RetransmissionRequest(req)) => {
                let mut out = Vec::new();
                for r in &req.ranges {
                    for seq in r.first..r.first + r.count {
                        let cached = self.cache.get(&(req.encoding.0, seq)).expect("cached");
                        out.push(cached.clone());
                        self.answered += 1;
                    }
                }
                out
            }
            Decoded::Message(ControlMessage::ReceiverReport(r)) => {
                self.reports.push(r);
                Vec::new()
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

struct Outcome {
    publisher: Publisher,
    receiver: Receiver,
    responder: Responder,
    downlink: Link<Bytes>,
    /// (encoding, sequence ID) of original messages the downlink lost.
    originals_lost: BTreeSet<(u64, u64)>,
    originals: BTreeMap<u64, u64>,
}

fn run(loss: f64, seed: u64) -> Outcome {
    let t0 = origin();
    let media_path = LinkConfig::default()
        .loss(loss)
        .delay(ms(20))
        .jitter(ms(10))
        .reorder(0.01, ms(10));
    // The control stream is reliable (a QUIC stream): delayed, never lost.
    let control_path = LinkConfig::default().delay(ms(20)).jitter(ms(2));
    let mut downlink: Link<Bytes> = Link::new(media_path, seed).unwrap();
    let mut uplink: Link<Vec<u8>> = Link::new(control_path, seed + 1).unwrap();
    // Reordering on this path is at most 20 ms (jitter) + 10 ms (held back); a reorder
    // window just above that asks only for what is really lost.
    let recovery = RecoveryConfig::default().min_reorder_window(ms(35));
    let mut publisher = Publisher::new();
    let mut receiver = Receiver {
        video: Stream::new(&VIDEO, recovery),
        audio: Stream::new(&AUDIO, recovery),
        reporter: Reporter::new(24, ReporterConfig::default()),
        sync: SyncGroup::new(),
    };
    receiver
        .reporter
        .add_encoding(VIDEO.global_encoding_id(), MediaKind::Video);
    receiver
        .reporter
        .add_encoding(AUDIO.global_encoding_id(), MediaKind::Audio);
    receiver.reporter.set_rtt(Some(RTT));
    let mut responder = Responder::default();
    let mut originals_lost = BTreeSet::new();
    let mut originals: BTreeMap<u64, u64> = BTreeMap::new();

    let end = t0 + Duration::from_secs(13);
    let mut now = t0;
    let mut steps_at_same_instant = 0;
    loop {
        for (_, d) in publisher.step(t0, now) {
            let view = HeaderView::parse(&d).unwrap();
            let k = (view.global_encoding_id().0, view.sequence_id());
            responder.cache.insert(k, d.clone());
            *originals.entry(k.0).or_default() += 1;
            if downlink.send(d, now) == Fate::Lost {
                originals_lost.insert(k);
            }
        }
        while let Some(frame) = uplink.poll_deliver(now) {
            for d in responder.handle(&frame) {
                downlink.send(d, now);
            }
        }
        while let Some(d) = downlink.poll_deliver(now) {
            receiver.handle_datagram(d, now);
        }
        for frame in receiver.step(now) {
            uplink.send(frame, now);
        }

        let next = [
            publisher.next_event(t0),
            receiver.next_event(),
            downlink.poll_timeout(),
            uplink.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next.filter(|t| *t <= end) else {
            break;
        };
        if next <= now {
            steps_at_same_instant += 1;
            assert!(
                steps_at_same_instant < 1000,
                "a timeout that nothing consumes"
            );
        } else {
            steps_at_same_instant = 0;
            now = next;
        }
    }
    // Report loss back to the sender, as the SFU forwards it.
    for r in &responder.reports {
        for b in &r.blocks {
            if b.encoding == VIDEO.global_encoding_id() {
                publisher.video_stats.on_report_block(b);
            } else {
                publisher.audio_stats.on_report_block(b);
            }
        }
    }
    Outcome {
        publisher,
        receiver,
        responder,
        downlink,
        originals_lost,
        originals,
    }
}

/// Every frame played once, in order, byte-identical; returns capture -> playout.
fn check_delivery(
    s: &Stream,
    n: u64,
    frame: impl Fn(u64) -> (u64, Vec<u8>),
) -> BTreeMap<u64, (Instant, Instant)> {
    assert_eq!(s.played.len() as u64, n);
    let mut by_capture = BTreeMap::new();
    for (i, (polled, f)) in s.played.iter().enumerate() {
        let (capture, payload) = frame(i as u64);
        assert_eq!(
            f.frame.capture_time,
            CAPTURE0 + capture,
            "frame {i} in order"
        );
        assert!(f.frame.payload == payload, "frame {i} byte-identical");
        assert!(!f.after_gap);
        by_capture.insert(capture, (f.playout_at, *polled));
    }
    assert!(
        s.played
            .windows(2)
            .all(|w| w[0].1.playout_at <= w[1].1.playout_at)
    );
    let j = s.jitter.stats();
    assert_eq!(
        (j.frames_played, j.late, j.discarded, j.gaps_skipped),
        (n, 0, 0, 0)
    );
    let r = s.reassembler.stats();
    assert_eq!(
        (r.frames_completed, r.frames_lost, r.messages_lost),
        (n, 0, 0)
    );
    by_capture
}

/// Audio and video frames of equal capture time play at the same instant, except when one
/// of them completed after the other had played (it then plays as soon as it can). Returns
/// (in sync, late) for capture times after the first second.
fn check_lip_sync(
    audio: &BTreeMap<u64, (Instant, Instant)>,
    video: &BTreeMap<u64, (Instant, Instant)>,
) -> (usize, usize) {
    let (mut in_sync, mut late) = (0, 0);
    for (capture, (v_at, v_polled)) in video {
        let Some((a_at, a_polled)) = audio.get(capture) else {
            continue;
        };
        if *capture < 1000 {
            continue;
        }
        if v_polled == v_at && a_polled == a_at && a_at == v_at {
            in_sync += 1;
        } else {
            assert!(
                v_polled > a_at || a_polled > v_at,
                "capture {capture}: out of sync although neither was late"
            );
            late += 1;
        }
    }
    assert_eq!(in_sync + late, 90, "one common capture time every 100 ms");
    (in_sync, late)
}

fn check_counters(o: &Outcome) {
    let d = o.downlink.stats();
    let originals: u64 = o.originals.values().sum();
    assert_eq!(d.sent, originals + o.responder.answered);
    assert_eq!(d.delivered + d.lost, d.sent);
    let p = &o.publisher;
    assert_eq!(
        p.video_stats.snapshot().packets_sent + p.audio_stats.snapshot().packets_sent,
        originals
    );
    for kind in MediaKind::ALL {
        assert_eq!(p.pacer.stats(kind).dropped, 0);
    }
    let mut requested = 0;
    let mut received = 0;
    for (ids, s) in [(&VIDEO, &o.receiver.video), (&AUDIO, &o.receiver.audio)] {
        let g = ids.global_encoding_id();
        let rec = s.recovery.stats();
        let lost_here = o.originals_lost.iter().filter(|(e, _)| *e == g.0).count() as u64;
        // Every lost original was asked for and came back; nothing else was asked for.
        assert_eq!(rec.recovered, lost_here, "{ids:?}");
        assert_eq!((rec.given_up, rec.lost_unrequested), (0, 0));
        assert_eq!(s.recovery.outstanding(), 0);
        requested += rec.sequences_requested;
        let stats = o.receiver.reporter.statistics(g).unwrap();
        received += stats.messages_received();
        assert_eq!(stats.highest_sequence(), Some(o.originals[&g.0] - 1));
        assert_eq!(stats.cumulative_lost(), 0);
        let snap = s.stats.snapshot();
        assert_eq!(snap.packets_received, stats.messages_received());
        assert_eq!(snap.bits_received, stats.bytes_received() * 8);
        assert_eq!(snap.packets_lost, 0);
        assert_eq!(snap.last_endpoint_id, Some(300));
        // The last report the SFU saw tells the same.
        let last = o
            .responder
            .reports
            .iter()
            .rev()
            .find_map(|r| r.blocks.iter().find(|b| b.encoding == g))
            .unwrap();
        assert_eq!(last.cumulative_lost, 0);
        assert!(last.highest_sequence + 200 > o.originals[&g.0]);
    }
    let fps = o.receiver.video.stats.snapshot().frame_rate.unwrap();
    assert!((29.0..=31.0).contains(&fps), "{fps}");
    assert_eq!(requested, o.responder.answered);
    assert_eq!(received, d.delivered);
    assert!(o.responder.reports.len() > 50);
    assert_eq!(p.video_stats.snapshot().packets_lost, 0);
}

#[test]
fn five_percent_loss_every_frame_recovered_in_order_and_in_sync() {
    let o = run(0.05, 1);
    let video = check_delivery(&o.receiver.video, VIDEO_FRAMES, |i| {
        let (c, p, _) = video_frame(i);
        (c, p)
    });
    let audio = check_delivery(&o.receiver.audio, AUDIO_FRAMES, audio_frame);
    let (in_sync, late) = check_lip_sync(&audio, &video);
    check_counters(&o);
    let rec = o.receiver.video.recovery.stats();
    assert!(rec.requests_sent > 100, "{rec:?}");
    assert!(!o.originals_lost.is_empty());
    println!(
        "lost originals {}, requests video {} audio {}, retransmitted {}, lip sync {in_sync} in sync / {late} late video",
        o.originals_lost.len(),
        rec.requests_sent,
        o.receiver.audio.recovery.stats().requests_sent,
        o.responder.answered
    );
    assert!(in_sync >= 70, "{in_sync} of 90 in sync");
}

#[test]
fn no_loss_sends_no_requests() {
    let o = run(0.0, 2);
    let video = check_delivery(&o.receiver.video, VIDEO_FRAMES, |i| {
        let (c, p, _) = video_frame(i);
        (c, p)
    });
    let audio = check_delivery(&o.receiver.audio, AUDIO_FRAMES, audio_frame);
    let (in_sync, _) = check_lip_sync(&audio, &video);
    check_counters(&o);
    for s in [&o.receiver.video, &o.receiver.audio] {
        let rec = s.recovery.stats();
        assert_eq!(
            (rec.requests_sent, rec.sequences_requested, rec.recovered),
            (0, 0, 0)
        );
    }
    assert_eq!(o.responder.answered, 0);
    assert!(o.originals_lost.is_empty());
    assert!(in_sync >= 80, "{in_sync} of 90 in sync");
}
