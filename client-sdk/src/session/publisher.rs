//! Publishing one encoding (draft §5, §6.4): the application hands encoded frames, the
//! publisher splits them into RTP3 messages that fit the path's datagram size, seals them end
//! to end, and sends them as QUIC datagrams. Audio is paced by its packet time.

use super::SessionError;
use super::fec::FecSender;
use super::settings::{AudioSendSettings, VideoSendSettings};
use crate::clock;
use crate::media::{EncodingIds, Frame, MediaKind, Packetizer};
use crate::transport::{Flow, PublisherRequest};
use bytes::Bytes;
use newmedia_proto::crypto::{Algorithm, MessageKey, SALT_LEN};
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::Sealer;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What a publisher carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublisherKind {
    /// An audio encoding.
    Audio(AudioSendSettings),
    /// A video encoding.
    Video(VideoSendSettings),
    /// Unreliable data (RTP3 messages in datagrams, draft §5.3).
    Data,
}

/// Send-side stream metrics (draft §6.7), cumulative.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SendStreamMetrics {
    /// Frames handed by the application and sent.
    pub frames_sent: u64,
    /// Frames dropped because the stream was paused.
    pub frames_paused: u64,
    /// RTP3 messages sent.
    pub messages_sent: u64,
    /// Bits of RTP3 messages sent (headers and tag included).
    pub bits_sent: u64,
    /// Messages dropped before they left: the flow's pacer queue was full, or the path
    /// refused the datagram. Loss on the path itself is counted per flow
    /// ([`FlowMetrics::packets_lost`](crate::transport::FlowMetrics::packets_lost)).
    pub packets_lost: u64,
    /// Capture time of the last frame sent.
    pub last_capture_time: Option<u64>,
    /// Width of the last video frame, as the application reported it.
    pub width: Option<u32>,
    /// Height of the last video frame.
    pub height: Option<u32>,
    /// Frame rate measured over the last second of capture times, frames/s.
    pub frame_rate: Option<f64>,
}

#[derive(Debug)]
struct State {
    packetizer: Packetizer,
    next_slot: Option<Instant>,
    metrics: SendStreamMetrics,
    recent_captures: std::collections::VecDeque<u64>,
}

/// One published encoding. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Publisher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    flow: Flow,
    ids: EncodingIds,
    geid: GlobalEncodingId,
    kind: PublisherKind,
    state: Mutex<State>,
    paused: AtomicBool,
    intra_due: AtomicBool,
    max_rate: AtomicU64,
    requests: tokio::sync::Mutex<mpsc::Receiver<PublisherRequest>>,
    /// The FEC stream protecting this encoding, and the datagram size it leaves us.
    fec: std::sync::OnceLock<(Arc<FecSender>, usize)>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.flow.unwatch_publisher(self.geid);
    }
}

/// What the app gives [`Publisher::send`]: one encoded frame.
#[derive(Debug, Clone, Copy)]
pub struct OutgoingFrame<'a> {
    /// The encoded frame (an access unit, a temporal unit, one Opus packet, ...).
    pub payload: &'a [u8],
    /// Capture time of the first sample, NTP ms ([`clock::ntp_millis`] for "now").
    pub capture_time: u64,
    /// A reference (key) frame.
    pub reference: bool,
    /// Layer ID of a layered codec (overrides the settings' layer ID).
    pub layer_id: Option<u64>,
    /// Active level 0-100 (audio: how clearly someone speaks). The SFU forwards a
    /// conference's audio only from its active speakers (the top 3 by default), ranked by
    /// this level: audio with levels too low to count as speech is not forwarded. Audio sent
    /// without a level is always forwarded (it cannot be ranked), so set it whenever the
    /// encoder knows it.
    pub active_level: Option<u8>,
    /// Encoded width, for the metrics (video).
    pub width: Option<u32>,
    /// Encoded height, for the metrics (video).
    pub height: Option<u32>,
}

impl<'a> OutgoingFrame<'a> {
    /// A frame with only its payload and capture time.
    pub fn new(payload: &'a [u8], capture_time: u64) -> Self {
        Self {
            payload,
            capture_time,
            reference: false,
            layer_id: None,
            active_level: None,
            width: None,
            height: None,
        }
    }
}

impl Publisher {
    /// A publisher for `ids` on `flow`, sealing with `aead` keyed by `secret`. A fresh random
    /// salt is drawn (PROTOCOL.md §5.3: never reuse sequence IDs under one salt).
    pub fn new(
        flow: Flow,
        ids: EncodingIds,
        aead: Algorithm,
        secret: &[u8],
        kind: PublisherKind,
    ) -> Result<Self, SessionError> {
        let geid = ids.global_encoding_id();
        let key = MessageKey::derive(aead, secret, ids.conference_id, ids.endpoint_id, geid);
        let salt: [u8; SALT_LEN] = rand::random();
        let max = flow
            .max_datagram_size()
            .ok_or(SessionError::DatagramsUnsupported)?;
        let dscp = match &kind {
            PublisherKind::Audio(a) => a.dscp,
            PublisherKind::Video(v) => v.dscp,
            PublisherKind::Data => None,
        };
        let mut packetizer = Packetizer::new(Sealer::new(key, salt), ids, max, dscp)?;
        packetizer.set_full_set_on_reference(matches!(kind, PublisherKind::Video(_)));
        let (tx, rx) = mpsc::channel(64);
        flow.watch_publisher(geid, tx);
        Ok(Self {
            inner: Arc::new(Inner {
                flow,
                ids,
                geid,
                kind,
                state: Mutex::new(State {
                    packetizer,
                    next_slot: None,
                    metrics: SendStreamMetrics::default(),
                    recent_captures: std::collections::VecDeque::new(),
                }),
                paused: AtomicBool::new(false),
                intra_due: AtomicBool::new(false),
                max_rate: AtomicU64::new(0),
                requests: tokio::sync::Mutex::new(rx),
                fec: std::sync::OnceLock::new(),
            }),
        })
    }

    /// The encoding's IDs.
    pub fn ids(&self) -> EncodingIds {
        self.inner.ids
    }

    /// The encoding's GlobalEncodingID.
    pub fn global_encoding_id(&self) -> GlobalEncodingId {
        self.inner.geid
    }

    /// What the publisher carries, with its settings.
    pub fn kind(&self) -> &PublisherKind {
        &self.inner.kind
    }

    /// Pauses or resumes transmission (draft §6.4 "flag to pause transmission"): frames sent
    /// while paused are dropped and counted.
    pub fn set_paused(&self, paused: bool) {
        self.inner.paused.store(paused, Relaxed);
    }

    /// Whether transmission is paused.
    pub fn is_paused(&self) -> bool {
        self.inner.paused.load(Relaxed)
    }

    /// Sets the DSCP of later messages (0-63, `None` for none); the next message carries the
    /// full header set with it.
    pub fn set_dscp(&self, dscp: Option<u8>) -> Result<(), SessionError> {
        let mut s = self
            .inner
            .state
            .lock()
            .map_err(|_| SessionError::Poisoned)?;
        Ok(s.packetizer.set_dscp(dscp)?)
    }

    /// Asks for the next frame to be encoded as an intra frame (draft §6.4). The encoder loop
    /// reads it with [`take_intra_request`](Self::take_intra_request); an SFU's
    /// IntraFrameRequest sets the same flag. An audio publisher handles it itself: its next
    /// message carries the full header set (audio has no intra frame; a new receiver needs
    /// the salt).
    pub fn request_intra_frame(&self) {
        self.inner.intra_due.store(true, Relaxed);
    }

    /// Whether the next frame should be an intra frame; clears the request.
    pub fn take_intra_request(&self) -> bool {
        self.absorb_requests();
        self.inner.intra_due.swap(false, Relaxed)
    }

    /// The lowest bitrate the SFU asked this encoding to stay under, bit/s, if any.
    pub fn max_rate_request(&self) -> Option<u64> {
        self.absorb_requests();
        match self.inner.max_rate.load(Relaxed) {
            0 => None,
            rate => Some(rate),
        }
    }

    /// The next request the SFU sent for this encoding (intra frame, max rate,
    /// retransmission), waiting for one. The flags above are updated either way.
    pub async fn next_request(&self) -> Option<PublisherRequest> {
        let request = self.inner.requests.lock().await.recv().await?;
        self.note(&request);
        Some(request)
    }

    fn absorb_requests(&self) {
        let Ok(mut rx) = self.inner.requests.try_lock() else {
            return;
        };
        while let Ok(request) = rx.try_recv() {
            self.note(&request);
        }
    }

    fn note(&self, request: &PublisherRequest) {
        match request {
            PublisherRequest::IntraFrame => self.inner.intra_due.store(true, Relaxed),
            PublisherRequest::MaxRate(rate) => self.inner.max_rate.store(*rate, Relaxed),
            PublisherRequest::Retransmission(_) => {}
        }
    }

    /// Sends one frame: packetizes it for the path's current datagram size, seals it and
    /// sends each message. Audio frames are released at most one per packet time (a burst
    /// is spread out; a late frame goes at once). Returns the number of messages sent.
    pub async fn send(&self, frame: &OutgoingFrame<'_>) -> Result<usize, SessionError> {
        if self.is_paused() {
            if let Ok(mut s) = self.inner.state.lock() {
                s.metrics.frames_paused += 1;
            }
            return Ok(0);
        }
        if let Some(wait) = self.pace()? {
            tokio::time::sleep_until(wait.into()).await;
        }
        if matches!(self.inner.kind, PublisherKind::Audio(_)) {
            self.absorb_requests();
        }
        let mut datagrams: Vec<Bytes> = Vec::new();
        {
            let mut s = self
                .inner
                .state
                .lock()
                .map_err(|_| SessionError::Poisoned)?;
            let fec_limit = self.inner.fec.get().map(|(_, max)| *max);
            if let Some(max) = self.inner.flow.max_datagram_size()
                && let max = fec_limit.map_or(max, |limit| limit.min(max))
                && max != s.packetizer.max_datagram()
            {
                s.packetizer.set_max_datagram(max)?;
            }
            let layer_id = frame.layer_id.or(match &self.inner.kind {
                PublisherKind::Video(v) => v.layer_id,
                _ => None,
            });
            let f = Frame {
                payload: frame.payload,
                capture_time: frame.capture_time,
                reference: frame.reference,
                layer_id,
                active_level: frame.active_level,
            };
            // Audio has no intra frame: an intra request (the SFU sends one when a subscriber
            // starts receiving this encoding) asks for the full header set, salt included,
            // so the new receiver need not wait up to FULL_SET_INTERVAL to open anything.
            if matches!(self.inner.kind, PublisherKind::Audio(_))
                && self.inner.intra_due.swap(false, Relaxed)
            {
                s.packetizer.send_full_set_next();
            }
            s.packetizer
                .packetize(&f, clock::now(), &mut |d| datagrams.push(d))?;
            let bytes: usize = datagrams.iter().map(Bytes::len).sum();
            s.metrics.frames_sent += 1;
            s.metrics.messages_sent += datagrams.len() as u64;
            s.metrics.bits_sent += bytes as u64 * 8;
            s.metrics.last_capture_time = Some(frame.capture_time);
            if frame.width.is_some() {
                s.metrics.width = frame.width;
                s.metrics.height = frame.height;
            }
            note_capture(&mut s, frame.capture_time);
        }
        let kind = match &self.inner.kind {
            PublisherKind::Audio(_) => MediaKind::Audio,
            PublisherKind::Video(_) => MediaKind::Video,
            PublisherKind::Data => MediaKind::Data,
        };
        let mut dropped = 0;
        for d in datagrams.iter() {
            if !self.inner.flow.send_media(kind, d.clone())? {
                dropped += 1;
            }
        }
        if dropped > 0
            && let Ok(mut s) = self.inner.state.lock()
        {
            s.metrics.packets_lost += dropped;
        }
        if let Some((fec, _)) = self.inner.fec.get() {
            fec.protect(&datagrams)?;
        }
        Ok(datagrams.len())
    }

    /// For audio: when this frame may go (reserving its slot).
    fn pace(&self) -> Result<Option<Instant>, SessionError> {
        let PublisherKind::Audio(settings) = &self.inner.kind else {
            return Ok(None);
        };
        let now = clock::now();
        let mut s = self
            .inner
            .state
            .lock()
            .map_err(|_| SessionError::Poisoned)?;
        let (slot, next) = audio_slot(s.next_slot, now, settings.packet_time);
        s.next_slot = Some(next);
        Ok((slot > now).then_some(slot))
    }

    /// Protects this encoding with `fec` (draft §5.4): every message sent is also fed to the
    /// FEC stream's encoder, and messages are kept to `max_datagram` bytes so a repair of the
    /// largest one fits one FEC message. Set once; later calls are ignored.
    pub fn set_fec(&self, fec: Arc<FecSender>, max_datagram: usize) {
        let _ = self.inner.fec.set((fec, max_datagram));
    }

    /// The flow the publisher sends on.
    pub fn flow(&self) -> &crate::transport::Flow {
        &self.inner.flow
    }

    /// Packetizes and seals `frame` without sending (for data streams).
    pub(crate) fn packetize(&self, frame: &Frame<'_>) -> Result<Vec<Bytes>, SessionError> {
        let mut out = Vec::new();
        let mut s = self
            .inner
            .state
            .lock()
            .map_err(|_| SessionError::Poisoned)?;
        s.packetizer
            .packetize(frame, clock::now(), &mut |d| out.push(d))?;
        let bytes: usize = out.iter().map(Bytes::len).sum();
        s.metrics.frames_sent += 1;
        s.metrics.messages_sent += out.len() as u64;
        s.metrics.bits_sent += bytes as u64 * 8;
        s.metrics.last_capture_time = Some(frame.capture_time);
        Ok(out)
    }

    /// Send-side metrics now (draft §6.7).
    pub fn metrics(&self) -> SendStreamMetrics {
        self.inner
            .state
            .lock()
            .map(|s| s.metrics)
            .unwrap_or_default()
    }
}

/// The audio pacing slot of a frame handed at `now` when the next free slot is `next_slot`,
/// and the slot after it. An early frame (a burst) waits for its slot; a late one goes at
/// once, and when it is less than one packet time late the schedule keeps its phase rather
/// than restarting from `now`: otherwise every scheduling hiccup of a steady 20 ms source
/// would delay all later frames by the largest lateness seen so far.
fn audio_slot(
    next_slot: Option<Instant>,
    now: Instant,
    packet_time: Duration,
) -> (Instant, Instant) {
    match next_slot {
        Some(t) if t > now => (t, t + packet_time),
        Some(t) if now.saturating_duration_since(t) < packet_time => (now, t + packet_time),
        _ => (now, now + packet_time),
    }
}

/// Keeps the last second of capture times for the frame-rate metric.
fn note_capture(s: &mut State, capture_time: u64) {
    s.recent_captures.push_back(capture_time);
    while s
        .recent_captures
        .front()
        .is_some_and(|t| capture_time.saturating_sub(*t) > 1000)
    {
        s.recent_captures.pop_front();
    }
    s.metrics.frame_rate = frame_rate(&s.recent_captures);
}

/// Frames per second over a window of capture times (ms), when it spans any time.
pub(crate) fn frame_rate(captures: &std::collections::VecDeque<u64>) -> Option<f64> {
    let (first, last) = (captures.front()?, captures.back()?);
    let span = last.saturating_sub(*first);
    (span > 0).then(|| (captures.len() - 1) as f64 * 1000.0 / span as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::disallowed_methods)] // one origin; the test runs in virtual time from it
    fn origin() -> Instant {
        Instant::now()
    }

    #[test]
    fn audio_pacing_spreads_bursts_and_keeps_its_phase_after_late_frames() {
        let pt = Duration::from_millis(20);
        let t0 = origin();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        // A burst of three frames at t0 goes out 20 ms apart.
        let (s1, n1) = audio_slot(None, ms(0), pt);
        let (s2, n2) = audio_slot(Some(n1), ms(0), pt);
        let (s3, n3) = audio_slot(Some(n2), ms(0), pt);
        assert_eq!((s1, s2, s3), (ms(0), ms(20), ms(40)));
        // A steady source 3 ms late once: that frame goes at once, the next on-time frame
        // does not wait (the schedule did not move to 83 + 20).
        let (s4, n4) = audio_slot(Some(n3), ms(63), pt);
        assert_eq!((s4, n4), (ms(63), ms(80)));
        let (s5, _) = audio_slot(Some(n4), ms(80), pt);
        assert_eq!(s5, ms(80));
        // A frame a whole packet time late restarts the schedule from now.
        let (s6, n6) = audio_slot(Some(ms(100)), ms(130), pt);
        assert_eq!((s6, n6), (ms(130), ms(150)));
    }
}
