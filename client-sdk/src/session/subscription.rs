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
use crate::media::fec::{FecDecoder, FecDecoderConfig};
use crate::media::{
    JitterBuffer, JitterConfig, JitterFrame, MediaKind, ReassembledFrame, Reassembler,
    ReassemblerConfig, Recovery, RecoveryConfig, Reporter, SyncGroup,
};
use crate::transport::{Flow, SubscriptionEvent};
use bytes::Bytes;
use newmedia_proto::control::{
    ControlMessage, RetransmissionRequest, RetransmissionUnavailable, Subscribe, SubscribeTarget,
    Unsubscribe,
};
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
    /// Sequence IDs the SFU held back from this receiver on purpose (active-speaker
    /// selection, layer filtering) and said so when asked for them: not lost.
    pub packets_withheld: u64,
    /// Frames delivered.
    pub frames_received: u64,
    /// Frames given up (some chunks never came).
    pub frames_lost: u64,
    /// Sequence IDs asked for again.
    pub retransmissions_requested: u64,
    /// Sequence IDs that arrived after being asked for.
    pub retransmissions_recovered: u64,
    /// Frames that came after their successors had played (dropped by the jitter buffer).
    pub frames_late: u64,
    /// Messages restored by forward error correction.
    pub fec_restored: u64,
    /// The jitter buffer's current playout delay, with [`Playout::Jittered`].
    pub playout_delay: Option<std::time::Duration>,
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

/// How a subscription hands frames to the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Playout {
    /// Through the adaptive jitter buffer: in sequence order, each at its playout time,
    /// lip-synced with the other streams of its sender that have the flag (the default).
    #[default]
    Jittered,
    /// Each frame as soon as it is complete, in completion order (measurement tools,
    /// recorders, data).
    Immediate,
}

/// Where reception of an encoding starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamStart {
    /// At the frame of the first message received (the default, for live media): the
    /// frame's earlier chunks are recovered, earlier frames are not. A viewer that joins a
    /// running call, or hears a speaker the SFU starts forwarding, begins with what is
    /// happening now instead of waiting for the past to be fetched and played.
    #[default]
    Live,
    /// At the start of the stream, for recorders that need every frame: when the first
    /// message received has a sequence ID below [`MID_STREAM_SEQUENCE`], the stream is taken
    /// to have just begun and every earlier message is recovered from the SFU's cache (which
    /// holds the last 512 per encoding); at or above it, reception starts as with
    /// [`StreamStart::Live`].
    Beginning,
}

/// Settings of a subscription's pipeline. `Default`: see each field.
#[derive(Debug, Clone)]
pub struct SubscriptionConfig {
    /// Reassembly limits and the frame deadline. Default: [`ReassemblerConfig::default`]; the
    /// pipeline decides `join_mid_stream` itself from the first message and
    /// [`SubscriptionConfig::start`].
    pub reassembly: ReassemblerConfig,
    /// Where reception of each encoding starts. Default [`StreamStart::Live`].
    pub start: StreamStart,
    /// Retransmission requests to the SFU; `None` turns recovery off. Default: on, with
    /// [`RecoveryConfig::default`].
    pub recovery: Option<RecoveryConfig>,
    /// Jitter buffer settings (with [`Playout::Jittered`]). Default: [`JitterConfig::default`].
    pub jitter: JitterConfig,
    /// How frames reach the application. Default [`Playout::Jittered`].
    pub playout: Playout,
    /// The lip-sync group this stream plays in, with its key in the group; `None` plays on
    /// its own clock. [`Call`](crate::client::Call) fills it for the lip-sync streams of one
    /// sender. Default `None`.
    pub lip_sync: Option<(Arc<Mutex<SyncGroup>>, u64)>,
    /// The endpoint's designated reporter (seed 003) and the kind of this stream: every
    /// received message is counted there for the compound ReceiverReports.
    /// [`Call`](crate::client::Call) fills it. Default `None`.
    pub reporter: Option<(Arc<Mutex<Reporter>>, MediaKind)>,
    /// The FEC stream protecting this subscription's encoding (draft §5.4, PROTOCOL.md §16):
    /// subscribed too, and its repairs restore lost messages before retransmission is
    /// needed. Only for an exact-encoding target. [`Call`](crate::client::Call) fills it
    /// from the proposal's `flex-fec-rs` receive streams. Default `None`.
    pub fec: Option<FecReceive>,
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
            start: StreamStart::default(),
            recovery: Some(RecoveryConfig::default()),
            jitter: JitterConfig::default(),
            playout: Playout::default(),
            lip_sync: None,
            reporter: None,
            fec: None,
            frame_queue: 256,
            datagram_queue: 4096,
        }
    }
}

/// The FEC stream a subscription also receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FecReceive {
    /// The FEC stream's GlobalEncodingID.
    pub encoding: GlobalEncodingId,
    /// The request ID of its Subscribe (unique on the flow).
    pub request_id: u64,
}

/// With [`StreamStart::Beginning`], a first message at or above this sequence ID means the
/// subscription joined a running stream: what came before is not asked for. Below it the
/// stream is taken to have just begun, and every earlier message is recovered (the SFU's
/// cache holds the last 512), unless the first message starts a reference frame the SFU
/// picked (see the pipeline's join rule).
pub const MID_STREAM_SEQUENCE: u64 = 256;

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
        flow.watch_subscription(request_id, event_tx.clone());
        let (datagram_tx, datagrams) = mpsc::channel(config.datagram_queue.max(1));
        let (stream_tx, stream_messages) = mpsc::channel(256);
        if let SubscribeTarget::Encoding(geid) = target {
            flow.route_datagrams(geid, datagram_tx.clone());
            flow.route_stream_messages(geid, stream_tx.clone());
            flow.watch_encoding(geid, event_tx.clone());
        }
        flow.send_control(ControlMessage::Subscribe(Subscribe {
            request_id,
            target,
            max_layer,
        }))
        .await?;
        let fec = match (config.fec, target) {
            (Some(f), SubscribeTarget::Encoding(protected)) => {
                flow.route_datagrams(f.encoding, datagram_tx.clone());
                flow.send_control(ControlMessage::Subscribe(Subscribe {
                    request_id: f.request_id,
                    target: SubscribeTarget::Encoding(f.encoding),
                    max_layer: None,
                }))
                .await?;
                let decoder = FecDecoder::new(FecDecoderConfig::default(), [protected])
                    .map_err(SessionError::Fec)?;
                Some(FecState {
                    receive: f,
                    decoder,
                    opener: None,
                    plain: Vec::new(),
                })
            }
            _ => None,
        };
        let first = loop {
            match events.recv().await {
                Some(SubscriptionEvent::Result(r)) => break r.encoding,
                Some(SubscriptionEvent::Error(e)) => {
                    flow.unwatch_subscription(request_id);
                    return Err(SessionError::Refused(format!("{:?}: {}", e.code, e.text)));
                }
                // Nothing was asked for yet: not ours.
                Some(SubscriptionEvent::Unavailable(_)) => {}
                None => return Err(SessionError::Closed),
            }
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
            fec,
            sfu_picks: !matches!(target, SubscribeTarget::Encoding(_)),
            owner,
            flow: flow.clone(),
            keys,
            config,
            encodings: HashMap::new(),
            routes: RouteSet {
                datagrams: datagram_tx,
                streams: stream_tx,
                events: event_tx.downgrade(),
                routed: Vec::new(),
            },
            frames: frame_tx,
            metrics: metrics.clone(),
            captures: VecDeque::new(),
            encoding: encoding_tx,
            ready: VecDeque::new(),
            requests: Vec::new(),
            rtt: None,
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

    /// Asks the SFU to resend every message of the frame captured at `capture_time` on the
    /// encoding the subscription delivers now (draft §5.2: messages "identified by IDs and
    /// capture time"). For a loss no later message reveals, such as a stream's last frame,
    /// when the application knows from elsewhere that the frame exists.
    pub async fn request_capture_time(&self, capture_time: u64) -> Result<(), SessionError> {
        // An exact-encoding subscription always means that encoding (the SFU may have
        // answered "nothing yet" when the publisher had not started); otherwise the one the
        // SFU says it delivers now.
        let encoding = match self.target {
            SubscribeTarget::Encoding(geid) => Some(geid),
            _ => *self.encoding.borrow(),
        };
        let Some(encoding) = encoding else {
            return Ok(());
        };
        self.flow
            .send_control(ControlMessage::RetransmissionRequest(
                RetransmissionRequest {
                    encoding,
                    ranges: Vec::new(),
                    capture_time: Some(capture_time),
                    message_ids: Vec::new(),
                },
            ))
            .await?;
        Ok(())
    }

    /// Receive-side metrics now (draft §6.7).
    pub fn metrics(&self) -> ReceiveStreamMetrics {
        self.metrics.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

struct RouteSet {
    datagrams: mpsc::Sender<Bytes>,
    streams: mpsc::Sender<Bytes>,
    /// The pipeline's own event channel, for the encodings it routes (weak: the pipeline
    /// must not keep its own channel open).
    events: mpsc::WeakSender<SubscriptionEvent>,
    routed: Vec<GlobalEncodingId>,
}

struct EncodingState {
    opener: Option<Opener>,
    endpoint_id: u64,
    /// Made at the first message that opens (mid-stream or not is decided then).
    reassembler: Option<Reassembler>,
    recovery: Option<Recovery>,
    jitter: JitterBuffer,
    pending: VecDeque<Bytes>,
    plain: Vec<u8>,
}

/// The FEC side of a pipeline: the repairs' opener and the decoder.
struct FecState {
    receive: FecReceive,
    decoder: FecDecoder,
    opener: Option<Opener>,
    plain: Vec<u8>,
}

struct Pipeline {
    fec: Option<FecState>,
    /// Whether the SFU picks the encoding (source or active-speaker target).
    sfu_picks: bool,
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
    /// Frames ready for the application.
    ready: VecDeque<ReceivedFrame>,
    /// Retransmission requests to send.
    requests: Vec<RetransmissionRequest>,
    /// The flow's RTT and when it was read.
    rtt: Option<(Instant, std::time::Duration)>,
}

/// How often a pipeline reads its flow's RTT (for the retry interval of its requests).
const RTT_REFRESH: std::time::Duration = std::time::Duration::from_millis(100);

impl Drop for Pipeline {
    fn drop(&mut self) {
        for geid in &self.routes.routed {
            self.flow.unroute(*geid);
        }
        if let Some((group, key)) = &self.config.lip_sync
            && let Ok(mut g) = group.lock()
        {
            g.remove(*key);
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
        // One timer for the pipeline's life, moved only when the next deadline changes: a
        // new `Sleep` per wake-up would register and cancel a timer per datagram batch.
        let timer = tokio::time::sleep(std::time::Duration::ZERO);
        tokio::pin!(timer);
        let mut armed: Option<Instant> = None;
        loop {
            let wake = self.next_timeout();
            if wake != armed {
                if let Some(at) = wake {
                    timer.as_mut().reset(at.into());
                }
                armed = wake;
            }
            tokio::select! {
                d = datagrams.recv() => match d {
                    Some(d) => {
                        let now = clock::now();
                        self.take(d, now);
                        // Take what else is queued before polling: one batch, one request.
                        while let Ok(more) = datagrams.try_recv() {
                            self.take(more, now);
                        }
                    }
                    None => return,
                },
                m = stream_messages.recv() => if let Some(m) = m {
                    self.take(m, clock::now());
                },
                e = events.recv() => match e {
                    // The FEC stream's own answers: without it the subscription goes on.
                    Some(SubscriptionEvent::Result(r)) if self.is_fec_request(r.request_id) => {}
                    Some(SubscriptionEvent::Error(e))
                        if e.request_id.is_some_and(|id| self.is_fec_request(id)) => {}
                    Some(SubscriptionEvent::Result(r)) => self.switch_to(r.encoding),
                    Some(SubscriptionEvent::Unavailable(u)) => self.handle_unavailable(&u),
                    Some(SubscriptionEvent::Error(_)) | None => return,
                },
                () = &mut timer, if armed.is_some() => {
                    armed = None;
                    self.handle_timeout(clock::now());
                }
            }
            self.poll(clock::now());
            for request in std::mem::take(&mut self.requests) {
                if self
                    .flow
                    .send_control(ControlMessage::RetransmissionRequest(request))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            while let Some(frame) = self.ready.pop_front() {
                if self.frames.send(frame).await.is_err() {
                    return;
                }
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
            if let Some(events) = self.routes.events.upgrade() {
                self.flow.watch_encoding(geid, events);
            }
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

    /// The SFU will not resend these messages: settle them (withheld ones without counting
    /// them lost) so that recovery stops asking and playout moves past them.
    fn handle_unavailable(&mut self, u: &RetransmissionUnavailable) {
        let Some(state) = self.encodings.get_mut(&u.encoding) else {
            return;
        };
        let Some(reassembler) = state.reassembler.as_mut() else {
            return;
        };
        let withheld = u.reason.is_withheld();
        for r in &u.ranges {
            let range = crate::media::SequenceRange {
                first: r.first,
                count: r.count,
            };
            reassembler.settle_unavailable(range, withheld);
            if let Some(recovery) = state.recovery.as_mut() {
                recovery.forget(r.first, r.count, withheld);
            }
        }
    }

    fn is_fec_request(&self, request_id: u64) -> bool {
        self.fec
            .as_ref()
            .is_some_and(|f| f.receive.request_id == request_id)
    }

    fn next_timeout(&self) -> Option<Instant> {
        let fec = self.fec.as_ref().and_then(|f| f.decoder.poll_timeout());
        self.encodings
            .values()
            .flat_map(|e| {
                [
                    e.reassembler.as_ref().and_then(Reassembler::poll_timeout),
                    e.recovery.as_ref().and_then(Recovery::poll_timeout),
                    e.jitter.poll_timeout(),
                ]
            })
            .flatten()
            .chain(fec)
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(f) = self.fec.as_mut() {
            f.decoder.handle_timeout(now);
        }
        for e in self.encodings.values_mut() {
            if let Some(r) = e.reassembler.as_mut() {
                r.handle_timeout(now);
            }
        }
    }

    /// The flow's RTT, read from quinn (which locks the connection) at most every
    /// [`RTT_REFRESH`] rather than at every batch of datagrams.
    fn rtt(&mut self, now: Instant) -> std::time::Duration {
        match self.rtt {
            Some((at, rtt)) if now.saturating_duration_since(at) < RTT_REFRESH => rtt,
            _ => {
                let rtt = self.flow.connection().rtt();
                self.rtt = Some((now, rtt));
                rtt
            }
        }
    }

    /// Settles the jitter buffers, collects due retransmission requests, aligns the lip-sync
    /// group and takes the frames whose playout time has come.
    fn poll(&mut self, now: Instant) {
        let rtt = self.rtt(now);
        let sync = self.config.lip_sync.clone();
        let mut played = Vec::new();
        for (geid, e) in &mut self.encodings {
            let Some(reassembler) = e.reassembler.as_ref() else {
                continue;
            };
            e.jitter.handle_settled(reassembler.settled_below());
            if let Some(recovery) = e.recovery.as_mut() {
                recovery.set_rtt(rtt);
                recovery.set_jitter(e.jitter.jitter());
                while let Some(request) = recovery.poll_request(reassembler, now) {
                    self.requests.push(request);
                }
            }
            if let Some((group, key)) = &sync
                && let Ok(mut g) = group.lock()
            {
                g.update(*key, e.jitter.own_clock());
                e.jitter.set_sync(g.clock());
            }
            while let Some(p) = e.jitter.poll_frame(now) {
                let f = p.frame;
                played.push(ReceivedFrame {
                    payload: Bytes::from(f.payload),
                    capture_time: Some(f.capture_time),
                    endpoint_id: e.endpoint_id,
                    encoding: *geid,
                    reference: f.reference,
                    layer_id: f.layer_id,
                    first_sequence: f.first_sequence,
                });
            }
        }
        self.deliver(played);
        self.update_metrics();
    }

    fn update_metrics(&self) {
        let mut lost = 0;
        let mut withheld = 0;
        let mut frames_lost = 0;
        let mut requested = 0;
        let mut recovered = 0;
        let mut late = 0;
        let mut delay = None;
        for e in self.encodings.values() {
            if let Some(r) = &e.reassembler {
                lost += r.stats().messages_lost;
                withheld += r.stats().messages_withheld;
                frames_lost += r.stats().frames_lost;
            }
            if let Some(r) = &e.recovery {
                requested += r.stats().sequences_requested;
                recovered += r.stats().recovered;
            }
            late += e.jitter.stats().late;
            if !e.jitter.is_empty() || e.jitter.stats().frames_played > 0 {
                delay = Some(e.jitter.target_delay());
            }
        }
        if let Ok(mut m) = self.metrics.lock() {
            m.packets_lost = lost;
            m.packets_withheld = withheld;
            m.frames_lost = frames_lost;
            m.retransmissions_requested = requested;
            m.retransmissions_recovered = recovered;
            m.frames_late = late;
            m.playout_delay = delay;
        }
    }

    /// Takes one message: opens it (or parks it until its key or salt is known) and hands
    /// what it completes to the jitter buffer, or straight to the application.
    fn take(&mut self, message: Bytes, now: Instant) {
        let mut restored = Vec::new();
        if let Some(f) = self.fec.as_mut() {
            let Ok(view) = HeaderView::parse(&message) else {
                return;
            };
            if view.global_encoding_id() == f.receive.encoding {
                // A repair: open it with the FEC stream's key, restore what it can.
                if f.opener.is_none() {
                    f.opener = self.keys.opener(&view).map(|(o, _)| o);
                }
                if let Some(opener) = f.opener.as_mut()
                    && let Ok(plain) = opener.open(&view, &mut f.plain)
                {
                    let _ = f
                        .decoder
                        .push_repair(plain, now, &mut |r| restored.push(r.message));
                }
                self.take_restored(restored, now);
                return;
            }
            let _ = f
                .decoder
                .push_source(message.clone(), now, &mut |r| restored.push(r.message));
        }
        self.take_one(message, now, true);
        self.take_restored(restored, now);
    }

    /// Messages FEC restored: opened and reassembled as if they had arrived.
    fn take_restored(&mut self, restored: Vec<Bytes>, now: Instant) {
        if let Ok(mut metrics) = self.metrics.lock() {
            metrics.fec_restored += restored.len() as u64;
        }
        for m in restored {
            self.take_one(m, now, false);
        }
    }

    /// One protected (or unprotected) message: `received` when it came over the network (it
    /// is then counted for the receiver reports), not when FEC restored it.
    fn take_one(&mut self, message: Bytes, now: Instant, received: bool) {
        let Ok(view) = HeaderView::parse(&message) else {
            return;
        };
        let geid = view.global_encoding_id();
        if received
            && let Some((reporter, kind)) = &self.config.reporter
            && let Ok(mut r) = reporter.lock()
        {
            if r.statistics(geid).is_none() {
                r.add_encoding(geid, *kind);
            }
            r.handle_message(
                geid,
                view.sequence_id(),
                view.capture_time(),
                message.len(),
                now,
            );
        }
        if let Ok(mut m) = self.metrics.lock() {
            m.messages_received += 1;
            m.bits_received += message.len() as u64 * 8;
            if let Some(t) = view.capture_time() {
                m.last_capture_time = Some(t);
            }
        }
        let jitter_config = self.config.jitter;
        let state = self.encodings.entry(geid).or_insert_with(|| EncodingState {
            opener: None,
            endpoint_id: 0,
            reassembler: None,
            recovery: None,
            jitter: JitterBuffer::new(jitter_config),
            pending: VecDeque::new(),
            plain: Vec::new(),
        });
        if state.opener.is_none() {
            match self.keys.opener(&view) {
                Some((opener, endpoint_id)) => {
                    state.opener = Some(opener);
                    state.endpoint_id = endpoint_id;
                }
                None => {
                    park(state, message);
                    return;
                }
            }
        }
        let learned_salt = state.opener.as_ref().is_some_and(|o| o.salt().is_none());
        let sfu_picks = self.sfu_picks;
        let mut done = Vec::new();
        match open_one(state, &self.config, sfu_picks, geid, &view, now, &mut done) {
            Opened::Done => {}
            Opened::NoSalt => {
                park(state, message);
                return;
            }
            Opened::Failed => {
                if let Ok(mut m) = self.metrics.lock() {
                    m.undecryptable += 1;
                }
                return;
            }
        }
        if learned_salt {
            // The salt is known now: open what waited for it.
            while let Some(waiting) = state.pending.pop_front() {
                if let Ok(v) = HeaderView::parse(&waiting) {
                    let _ = open_one(state, &self.config, sfu_picks, geid, &v, now, &mut done);
                }
            }
        }
        let endpoint_id = state.endpoint_id;
        let mut immediate = Vec::new();
        for f in done {
            if self.config.playout == Playout::Jittered && f.capture_time.is_some() {
                if let Ok(jf) = JitterFrame::try_from(f) {
                    state.jitter.push(jf, now);
                }
            } else {
                // Immediate playout, or a frame without a capture time, which cannot be
                // scheduled: straight to the application.
                immediate.push(to_received(f, geid, endpoint_id));
            }
        }
        self.deliver(immediate);
    }

    fn deliver(&mut self, frames: Vec<ReceivedFrame>) {
        if frames.is_empty() {
            return;
        }
        for f in &frames {
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
            if let Some(last) = frames.last() {
                m.last_endpoint_id = Some(last.endpoint_id);
            }
            m.frames_received += frames.len() as u64;
            m.frame_rate = frame_rate(&self.captures);
        }
        self.ready.extend(frames);
    }
}

enum Opened {
    Done,
    NoSalt,
    Failed,
}

/// Opens one message and pushes it into the encoding's reassembler (made on the first
/// message that opens), noting it for recovery; completed frames go into `done`.
fn open_one(
    state: &mut EncodingState,
    config: &SubscriptionConfig,
    sfu_picks: bool,
    geid: GlobalEncodingId,
    view: &HeaderView<'_>,
    now: Instant,
    done: &mut Vec<ReassembledFrame>,
) -> Opened {
    let Some(opener) = state.opener.as_mut() else {
        return Opened::NoSalt;
    };
    let plain = match opener.open(view, &mut state.plain) {
        Ok(plain) => plain,
        Err(Rtp3Error::SaltUnknown) => return Opened::NoSalt,
        Err(_) => return Opened::Failed,
    };
    let reassembler = state.reassembler.get_or_insert_with(|| {
        let mut c = config.reassembly;
        c.join_mid_stream = joins_mid_stream(view, config.start, sfu_picks);
        Reassembler::new(c)
    });
    if state.recovery.is_none()
        && let Some(rc) = config.recovery
    {
        state.recovery = Some(Recovery::new(geid, rc));
    }
    if let Some(recovery) = state.recovery.as_mut() {
        recovery.handle_message(view.sequence_id(), now);
    }
    match reassembler.push(view, plain, now) {
        Ok(Some(frame)) => {
            done.push(frame);
            Opened::Done
        }
        Ok(None) => Opened::Done,
        Err(_) => Opened::Failed,
    }
}

/// Whether the first message of an encoding starts reception in the middle of the stream
/// (the first message's frame is then where reception begins).
///
/// - With [`StreamStart::Live`]: always.
/// - With [`StreamStart::Beginning`]: a sequence ID at or above [`MID_STREAM_SEQUENCE`], or —
///   when the SFU picks the encoding (a source or active-speaker subscription, `sfu_picks`)
///   — the first message of a reference frame after the stream's start: the SFU starts and
///   switches such subscriptions at key frames, so nothing before it is needed. Otherwise
///   the stream has just begun and the messages before this one are recovered (for an exact
///   encoding, the SFU forwards from the subscription on, and what came before is still in
///   its cache).
fn joins_mid_stream(view: &HeaderView<'_>, start: StreamStart, sfu_picks: bool) -> bool {
    if start == StreamStart::Live {
        return true;
    }
    let seq = view.sequence_id();
    let starts_reference =
        view.is_reference_frame() && view.headers().chunk.is_none_or(|c| c.index == 0);
    seq >= MID_STREAM_SEQUENCE || (sfu_picks && seq > 0 && starts_reference)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::{MID_STREAM_SEQUENCE, StreamStart, joins_mid_stream};
    use crate::media::{EncodingIds, Frame, Packetizer};
    use bytes::Bytes;
    use newmedia_proto::crypto::{Algorithm, MessageKey};
    use newmedia_proto::rtp3::{HeaderView, Sealer};

    const IDS: EncodingIds = EncodingIds {
        conference_id: 7,
        endpoint_id: 3,
        source_id: 1,
        encoding_id: 1,
    };

    /// The messages of `frames` frames of `len` bytes (1200-byte datagrams); every
    /// `reference_every`-th frame, the first included, is a reference frame.
    fn stream(frames: usize, len: usize, reference_every: usize) -> Vec<Bytes> {
        let key = MessageKey::derive(
            Algorithm::Aes128Gcm,
            b"secret",
            IDS.conference_id,
            IDS.endpoint_id,
            IDS.global_encoding_id(),
        );
        let mut p = Packetizer::new(Sealer::new(key, [1; 12]), IDS, 1200, None).unwrap();
        let payload = vec![5u8; len];
        let now = crate::clock::now();
        let mut out = Vec::new();
        for i in 0..frames {
            let frame = Frame {
                payload: &payload,
                capture_time: 1000 + i as u64 * 20,
                reference: i % reference_every == 0,
                layer_id: None,
                active_level: None,
            };
            p.packetize(&frame, now, &mut |d| out.push(d)).unwrap();
        }
        out
    }

    #[test]
    fn live_reception_starts_at_the_first_message_received() {
        let messages = stream(60, 100, 30);
        for seq in [0, 1, 50, MID_STREAM_SEQUENCE as usize - 1] {
            let view = HeaderView::parse(&messages[seq.min(59)]).unwrap();
            assert!(joins_mid_stream(&view, StreamStart::Live, false), "{seq}");
            assert!(joins_mid_stream(&view, StreamStart::Live, true), "{seq}");
        }
    }

    #[test]
    fn reception_from_the_beginning_recovers_an_early_start_only() {
        // Small frames: one message each; every 30th is a reference frame.
        let messages = stream(300, 100, 30);
        let at = |seq: usize| HeaderView::parse(&messages[seq]).unwrap();
        // A stream that has just begun is recovered from sequence 0 ...
        assert!(!joins_mid_stream(&at(0), StreamStart::Beginning, false));
        assert!(!joins_mid_stream(&at(40), StreamStart::Beginning, false));
        assert!(!joins_mid_stream(&at(40), StreamStart::Beginning, true));
        // ... one that has run for a while is joined where it is.
        let late = at(MID_STREAM_SEQUENCE as usize);
        assert!(joins_mid_stream(&late, StreamStart::Beginning, false));
        // A reference frame the SFU picked (a source subscription) needs nothing before it;
        // the same frame of an exact-encoding subscription is recovered from the start.
        let reference = at(30);
        assert!(reference.is_reference_frame());
        assert!(joins_mid_stream(&reference, StreamStart::Beginning, true));
        assert!(!joins_mid_stream(&reference, StreamStart::Beginning, false));
        // A reference frame split in chunks counts from its first chunk only.
        let big = stream(2, 3000, 1);
        let second_chunk = HeaderView::parse(&big[4]).unwrap();
        assert!(second_chunk.is_reference_frame());
        assert_eq!(second_chunk.headers().chunk.map(|c| c.index), Some(1));
        assert!(!joins_mid_stream(
            &second_chunk,
            StreamStart::Beginning,
            true
        ));
    }
}
