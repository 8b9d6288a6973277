//! Receiving one subscription (draft §5, §6.4): the SFU forwards the messages of the
//! encoding(s) the subscription names; each is authenticated and decrypted with the
//! publisher's key, put back into frames, and handed to the application with its capture time
//! and the endpoint ID it came from.
//!
//! One task per subscription runs the pipeline; the flow's datagram reader only routes.

use super::SessionError;
use super::keys::KeyRing;
use super::publisher::frame_rate;
use crate::clock;
use crate::media::{ReassembledFrame, Reassembler, ReassemblerConfig};
use crate::transport::{Flow, SubscriptionEvent};
use bytes::Bytes;
use newmedia_proto::control::{ControlMessage, Subscribe, SubscribeTarget, Unsubscribe};
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::{HeaderView, Opener, Rtp3Error};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Messages kept per encoding while its key or salt is not known yet (the full header set
/// arrives at least once a second).
pub const PENDING_LIMIT: usize = 1024;

/// One frame as the application receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedFrame {
    /// The encoded frame.
    pub payload: Bytes,
    /// Capture time of its first sample (NTP ms), when the sender put one.
    pub capture_time: Option<u64>,
    /// The publishing endpoint.
    pub endpoint_id: u64,
    /// The encoding it arrived on.
    pub encoding: GlobalEncodingId,
    /// A reference (key) frame.
    pub reference: bool,
    /// Layer ID, for a layered codec.
    pub layer_id: Option<u64>,
    /// Sequence ID of its first message.
    pub first_sequence: u64,
}

/// Receive-side stream metrics (draft §6.7), cumulative.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReceiveStreamMetrics {
    /// Bits of RTP3 messages received.
    pub bits_received: u64,
    /// RTP3 messages received (duplicates included).
    pub messages_received: u64,
    /// Sequence IDs given up as lost.
    pub packets_lost: u64,
    /// Frames delivered.
    pub frames_received: u64,
    /// Frames given up (some chunks never came).
    pub frames_lost: u64,
    /// Messages that failed authentication or decryption.
    pub undecryptable: u64,
    /// Capture time of the most recently received message.
    pub last_capture_time: Option<u64>,
    /// Endpoint ID of the most recently received message.
    pub last_endpoint_id: Option<u64>,
    /// The encoding the SFU says it delivers now.
    pub encoding: Option<GlobalEncodingId>,
    /// Frame rate over the last second of capture times, frames/s.
    pub frame_rate: Option<f64>,
    /// Encoded width of the last frame that told it (video).
    pub width: Option<u32>,
    /// Encoded height.
    pub height: Option<u32>,
}

/// Settings of a subscription's pipeline. `Default`: see each field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionConfig {
    /// Reassembly limits and the frame deadline. Default: [`ReassemblerConfig::default`].
    pub reassembly: ReassemblerConfig,
    /// Frames buffered for the application before the pipeline waits. Default 256.
    pub frame_queue: usize,
    /// Datagrams buffered between the flow and the pipeline before new ones drop. Default
    /// 4096.
    pub datagram_queue: usize,
}

impl Default for SubscriptionConfig {
    fn default() -> Self {
        Self {
            reassembly: ReassemblerConfig::default(),
            frame_queue: 256,
            datagram_queue: 4096,
        }
    }
}

/// A live subscription. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    flow: Flow,
    request_id: u64,
    target: SubscribeTarget,
    frames: mpsc::Receiver<ReceivedFrame>,
    metrics: Arc<Mutex<ReceiveStreamMetrics>>,
    encoding: watch::Receiver<Option<GlobalEncodingId>>,
    task: JoinHandle<()>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
        self.flow.unwatch_subscription(self.request_id);
        let flow = self.flow.clone();
        let request_id = self.request_id;
        // Best effort: the SFU also forgets subscriptions when the connection closes.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = flow
                    .send_control(ControlMessage::Unsubscribe(Unsubscribe { request_id }))
                    .await;
            });
        }
    }
}

impl Subscription {
    /// Subscribes to `target` with request ID `request_id` (unique on the flow) and waits for
    /// the SFU's answer. `keys` must know the publishers' secrets (and, for an encoding
    /// target, the encoding's owner).
    pub async fn start(
        flow: &Flow,
        request_id: u64,
        target: SubscribeTarget,
        max_layer: Option<u64>,
        keys: KeyRing,
        config: SubscriptionConfig,
    ) -> Result<Self, SessionError> {
        let (event_tx, mut events) = mpsc::channel(64);
        flow.watch_subscription(request_id, event_tx);
        let (datagram_tx, datagrams) = mpsc::channel(config.datagram_queue.max(1));
        let (stream_tx, stream_messages) = mpsc::channel(256);
        if let SubscribeTarget::Encoding(geid) = target {
            flow.route_datagrams(geid, datagram_tx.clone());
            flow.route_stream_messages(geid, stream_tx.clone());
        }
        flow.send_control(ControlMessage::Subscribe(Subscribe {
            request_id,
            target,
            max_layer,
        }))
        .await?;
        let first = match events.recv().await {
            Some(SubscriptionEvent::Result(r)) => r.encoding,
            Some(SubscriptionEvent::Error(e)) => {
                flow.unwatch_subscription(request_id);
                return Err(SessionError::Refused(format!("{:?}: {}", e.code, e.text)));
            }
            None => return Err(SessionError::Closed),
        };
        let (frame_tx, frames) = mpsc::channel(config.frame_queue.max(1));
        let metrics = Arc::new(Mutex::new(ReceiveStreamMetrics::default()));
        let (encoding_tx, encoding) = watch::channel(first);
        let owner = match target {
            SubscribeTarget::Source {
                conference_id,
                endpoint_id,
                ..
            } => Some((conference_id, endpoint_id)),
            _ => None,
        };
        let mut pipeline = Pipeline {
            owner,
            flow: flow.clone(),
            keys,
            config,
            encodings: HashMap::new(),
            routes: RouteSet {
                datagrams: datagram_tx,
                streams: stream_tx,
                routed: Vec::new(),
            },
            frames: frame_tx,
            metrics: metrics.clone(),
            captures: VecDeque::new(),
            encoding: encoding_tx,
        };
        pipeline.switch_to(first);
        let task = tokio::spawn(pipeline.run(datagrams, stream_messages, events));
        Ok(Self {
            flow: flow.clone(),
            request_id,
            target,
            frames,
            metrics,
            encoding,
            task,
        })
    }

    /// The request ID.
    pub fn request_id(&self) -> u64 {
        self.request_id
    }

    /// What the subscription asked for.
    pub fn target(&self) -> SubscribeTarget {
        self.target
    }

    /// The next complete frame; `None` once the subscription or its flow ended.
    pub async fn next_frame(&mut self) -> Option<ReceivedFrame> {
        self.frames.recv().await
    }

    /// A frame if one is ready now.
    pub fn try_next_frame(&mut self) -> Option<ReceivedFrame> {
        self.frames.try_recv().ok()
    }

    /// The encoding the SFU currently delivers, updated on every switch.
    pub fn encoding(&self) -> watch::Receiver<Option<GlobalEncodingId>> {
        self.encoding.clone()
    }

    /// Receive-side metrics now (draft §6.7).
    pub fn metrics(&self) -> ReceiveStreamMetrics {
        self.metrics.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

struct RouteSet {
    datagrams: mpsc::Sender<Bytes>,
    streams: mpsc::Sender<Bytes>,
    routed: Vec<GlobalEncodingId>,
}

struct EncodingState {
    opener: Option<Opener>,
    endpoint_id: u64,
    reassembler: Reassembler,
    pending: VecDeque<Bytes>,
    plain: Vec<u8>,
}

struct Pipeline {
    /// The publisher every encoding of a source subscription belongs to.
    owner: Option<(u64, u64)>,
    flow: Flow,
    keys: KeyRing,
    config: SubscriptionConfig,
    encodings: HashMap<GlobalEncodingId, EncodingState>,
    routes: RouteSet,
    frames: mpsc::Sender<ReceivedFrame>,
    metrics: Arc<Mutex<ReceiveStreamMetrics>>,
    captures: VecDeque<u64>,
    encoding: watch::Sender<Option<GlobalEncodingId>>,
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        for geid in &self.routes.routed {
            self.flow.unroute(*geid);
        }
    }
}

impl Pipeline {
    async fn run(
        mut self,
        mut datagrams: mpsc::Receiver<Bytes>,
        mut stream_messages: mpsc::Receiver<Bytes>,
        mut events: mpsc::Receiver<SubscriptionEvent>,
    ) {
        loop {
            let wake = self.next_timeout();
            tokio::select! {
                d = datagrams.recv() => match d {
                    Some(d) => {
                        for frame in self.take(d, clock::now()) {
                            if self.frames.send(frame).await.is_err() {
                                return;
                            }
                        }
                    }
                    None => return,
                },
                m = stream_messages.recv() => if let Some(m) = m {
                    for frame in self.take(m, clock::now()) {
                        if self.frames.send(frame).await.is_err() {
                            return;
                        }
                    }
                },
                e = events.recv() => match e {
                    Some(SubscriptionEvent::Result(r)) => self.switch_to(r.encoding),
                    Some(SubscriptionEvent::Error(_)) | None => return,
                },
                () = sleep_until(wake) => self.handle_timeout(clock::now()),
            }
        }
    }

    /// Starts routing a newly announced encoding (the old ones stay routed: the SFU switches
    /// at a reference frame and the old encoding's last frames may still be in flight).
    fn switch_to(&mut self, encoding: Option<GlobalEncodingId>) {
        if let Some(geid) = encoding
            && !self.routes.routed.contains(&geid)
        {
            self.flow
                .route_datagrams(geid, self.routes.datagrams.clone());
            self.flow
                .route_stream_messages(geid, self.routes.streams.clone());
            self.routes.routed.push(geid);
            if let Some((conference, endpoint)) = self.owner {
                self.keys.set_owner(geid, conference, endpoint);
            }
        }
        self.encoding.send_replace(encoding);
        if let Ok(mut m) = self.metrics.lock() {
            m.encoding = encoding;
        }
    }

    fn next_timeout(&self) -> Option<Instant> {
        self.encodings
            .values()
            .filter_map(|e| e.reassembler.poll_timeout())
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        for e in self.encodings.values_mut() {
            e.reassembler.handle_timeout(now);
        }
        self.update_loss();
    }

    fn update_loss(&self) {
        let (lost, frames_lost) = self.encodings.values().fold((0, 0), |(l, f), e| {
            let s = e.reassembler.stats();
            (l + s.messages_lost, f + s.frames_lost)
        });
        if let Ok(mut m) = self.metrics.lock() {
            m.packets_lost = lost;
            m.frames_lost = frames_lost;
        }
    }

    /// Takes one message; returns the frames it completes (several when it unlocked messages
    /// that were waiting for the salt).
    fn take(&mut self, message: Bytes, now: Instant) -> Vec<ReceivedFrame> {
        let mut out: Vec<ReassembledFrame> = Vec::new();
        let Ok(view) = HeaderView::parse(&message) else {
            return Vec::new();
        };
        let geid = view.global_encoding_id();
        if let Ok(mut m) = self.metrics.lock() {
            m.messages_received += 1;
            m.bits_received += message.len() as u64 * 8;
            if let Some(t) = view.capture_time() {
                m.last_capture_time = Some(t);
            }
        }
        if !self.encodings.contains_key(&geid) {
            let state = EncodingState {
                opener: None,
                endpoint_id: 0,
                reassembler: Reassembler::new(self.config.reassembly),
                pending: VecDeque::new(),
                plain: Vec::new(),
            };
            self.encodings.insert(geid, state);
        }
        let Some(state) = self.encodings.get_mut(&geid) else {
            return Vec::new();
        };
        if state.opener.is_none() {
            if let Some((opener, endpoint_id)) = self.keys.opener(&view) {
                state.opener = Some(opener);
                state.endpoint_id = endpoint_id;
            } else {
                park(state, message);
                return Vec::new();
            }
        }
        let learned_salt = state.opener.as_ref().is_some_and(|o| o.salt().is_none());
        match open_one(state, &view, now) {
            Opened::Frame(f) => out.extend(f),
            Opened::NoSalt => {
                park(state, message);
                return Vec::new();
            }
            Opened::Failed => {
                if let Ok(mut m) = self.metrics.lock() {
                    m.undecryptable += 1;
                }
                return Vec::new();
            }
        }
        if learned_salt {
            // The salt is known now: open what waited for it.
            while let Some(waiting) = state.pending.pop_front() {
                if let Ok(v) = HeaderView::parse(&waiting)
                    && let Opened::Frame(f) = open_one(state, &v, now)
                {
                    out.extend(f);
                }
            }
        }
        let endpoint_id = state.endpoint_id;
        let frames: Vec<ReceivedFrame> = out
            .into_iter()
            .map(|f| to_received(f, geid, endpoint_id))
            .collect();
        self.note_frames(&frames, endpoint_id);
        frames
    }

    fn note_frames(&mut self, frames: &[ReceivedFrame], endpoint_id: u64) {
        for f in frames {
            if let Some(t) = f.capture_time {
                self.captures.push_back(t);
                while self
                    .captures
                    .front()
                    .is_some_and(|c| t.saturating_sub(*c) > 1000)
                {
                    self.captures.pop_front();
                }
            }
        }
        if let Ok(mut m) = self.metrics.lock() {
            m.last_endpoint_id = Some(endpoint_id);
            m.frames_received += frames.len() as u64;
            m.frame_rate = frame_rate(&self.captures);
        }
        self.update_loss();
    }
}

enum Opened {
    Frame(Option<ReassembledFrame>),
    NoSalt,
    Failed,
}

fn open_one(state: &mut EncodingState, view: &HeaderView<'_>, now: Instant) -> Opened {
    let Some(opener) = state.opener.as_mut() else {
        return Opened::NoSalt;
    };
    match opener.open(view, &mut state.plain) {
        Ok(plain) => match state.reassembler.push(view, plain, now) {
            Ok(frame) => Opened::Frame(frame),
            Err(_) => Opened::Failed,
        },
        Err(Rtp3Error::SaltUnknown) => Opened::NoSalt,
        Err(_) => Opened::Failed,
    }
}

fn park(state: &mut EncodingState, message: Bytes) {
    if state.pending.len() >= PENDING_LIMIT {
        state.pending.pop_front();
    }
    state.pending.push_back(message);
}

fn to_received(f: ReassembledFrame, encoding: GlobalEncodingId, endpoint_id: u64) -> ReceivedFrame {
    ReceivedFrame {
        payload: Bytes::from(f.payload),
        capture_time: f.capture_time,
        endpoint_id,
        encoding,
        reference: f.reference,
        layer_id: f.layer_id,
        first_sequence: f.first_sequence,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
