//! A flow (draft §2: "a logical transport between two computers"): one QUIC connection from a
//! [`ClientEndpoint`] to an SFU, carrying media as datagrams, reliable data on unidirectional
//! streams (docs/contracts.md §1) and the control stream (PROTOCOL.md §9).
//!
//! The flow runs three tasks while the connection lives: a datagram reader, a reader of the
//! SFU's unidirectional streams, and the control reader. Each inbound RTP3 message is routed by
//! its GlobalEncodingID to whoever registered for it ([`Flow::route_datagrams`],
//! [`Flow::route_stream_messages`]); control messages go to the subscription or publisher they
//! concern, or to [`Flow::events`]. Routing tables are copy-on-write snapshots read with one
//! atomic load per datagram; an unrouted or backed-up message is dropped and counted, never
//! waited for, so one slow consumer cannot stall the connection.

use super::TransportError;
use super::endpoint::ClientEndpoint;
use crate::clock;
use crate::identity::Fingerprint;
use crate::media::{MediaKind, Pacer, PacerConfig};
use crate::tls::peer_fingerprint;
use arc_swap::ArcSwap;
use bytes::Bytes;
use newmedia_proto::control::{
    ActiveSpeakers, ControlError, ControlMessage, ControlReader, Decoded, ErrorMessage, Hello,
    IntraFrameRequest, MaxRateRequest, RetransmissionRequest, RetransmissionUnavailable,
    SubscribeResult,
};
use newmedia_proto::data_stream::{DataStreamReader, StreamKind, encode_frame};
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::HeaderView;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::sync::{Mutex, broadcast, mpsc, watch};

/// Kind byte of a reliable, ordered data stream (PROTOCOL.md §13).
pub const STREAM_KIND_ORDERED: u8 = StreamKind::ORDERED;
/// Kind byte of a single-message data stream.
pub const STREAM_KIND_SINGLE: u8 = StreamKind::SINGLE;
/// Largest message on a data stream.
pub const MAX_STREAM_MESSAGE: usize = newmedia_proto::data_stream::MAX_MESSAGE;
/// STOP_SENDING code for a stream that breaks the layout (PROTOCOL.md §13).
const STREAM_PROTOCOL_ERROR: u32 = 3;

/// Per-flow options.
#[derive(Debug, Clone, Default)]
pub struct FlowOptions {
    /// Total bandwidth the flow may use for sending, bit/s (draft §6.3); `None` = what QUIC's
    /// congestion control allows.
    pub max_bandwidth: Option<u64>,
    /// The TLS 1.3 cipher suite to prefer on the hop (draft §6.3 "encryption algorithm"; see
    /// [`crate::tls::client_config_with`]); `None` offers all and lets the SFU pick.
    pub cipher: Option<crate::tls::FlowCipher>,
}

/// The state of a flow (draft §6.6 "connectivity state").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectivityState {
    /// Connected and admitted.
    Connected,
    /// Closed; the reason as quinn or the SFU gave it.
    Closed(String),
}

/// A control message for one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionEvent {
    /// Which encoding the subscription delivers now.
    Result(SubscribeResult),
    /// The SFU refused or ended the subscription.
    Error(ErrorMessage),
    /// Messages of one of the subscription's encodings that the SFU will not resend.
    Unavailable(RetransmissionUnavailable),
}

/// A request from the SFU to the publisher of an encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublisherRequest {
    /// Encode the next frame as an intra frame (draft §6.4).
    IntraFrame,
    /// Keep the encoding at or below this bitrate, bit/s (draft §5.2).
    MaxRate(u64),
    /// Resend these messages (the SFU's cache did not have them).
    Retransmission(RetransmissionRequest),
}

/// Control messages no subscription or publisher took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowEvent {
    /// An Error without a request ID, or for a request nobody watches.
    Error(ErrorMessage),
    /// A frame of a control message type this SDK does not know (skipped).
    Unknown {
        /// The frame type.
        kind: u64,
    },
    /// A control frame that did not decode (the stream goes on).
    Malformed(String),
}

/// The transport 5-tuple in use (draft §6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FiveTuple {
    /// Our address (the IP the OS picked when the socket is bound to a wildcard).
    pub local: SocketAddr,
    /// The far side's address.
    pub remote: SocketAddr,
    /// Always `"udp"` (QUIC).
    pub protocol: &'static str,
}

/// Flow metrics (draft §6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowMetrics {
    /// Connectivity state.
    pub state: ConnectivityState,
    /// UDP payload bits sent on this flow.
    pub bits_sent: u64,
    /// UDP payload bits received.
    pub bits_received: u64,
    /// QUIC packets sent.
    pub packets_sent: u64,
    /// QUIC packets declared lost.
    pub packets_lost: u64,
    /// Smoothed round-trip time.
    pub rtt: Duration,
    /// SHA-256 fingerprint of the far side's certificate.
    pub far_fingerprint: Option<Fingerprint>,
    /// The 5-tuple in use now.
    pub five_tuple: FiveTuple,
    /// Largest datagram payload the path takes now.
    pub max_datagram: Option<usize>,
    /// Datagrams received and routed to a consumer.
    pub datagrams_routed: u64,
    /// Datagrams received for no registered encoding, or whose consumer was full.
    pub datagrams_dropped: u64,
}

type Routes = ArcSwap<HashMap<GlobalEncodingId, mpsc::Sender<Bytes>>>;

#[derive(Debug, Default)]
struct Counters {
    routed: AtomicU64,
    dropped: AtomicU64,
}

/// The flow's send pacer (draft §6.3 "total max bandwidth for flow"): used only while a
/// limit is set; without one, datagrams go straight to quinn (its congestion control paces).
#[derive(Debug)]
struct Pacing {
    limited: std::sync::atomic::AtomicBool,
    pacer: std::sync::Mutex<Pacer>,
    wake: Arc<tokio::sync::Notify>,
}

#[derive(Debug)]
struct Shared {
    pacing: Pacing,
    endpoint: ClientEndpoint,
    conn: quinn::Connection,
    sfu_hello: Hello,
    control: Mutex<quinn::SendStream>,
    datagram_routes: Routes,
    stream_routes: Routes,
    subscriptions: std::sync::Mutex<HashMap<u64, mpsc::Sender<SubscriptionEvent>>>,
    /// Who hears about each encoding's unavailable messages (the subscription receiving it).
    encoding_watchers: std::sync::Mutex<HashMap<GlobalEncodingId, mpsc::Sender<SubscriptionEvent>>>,
    publishers: std::sync::Mutex<HashMap<GlobalEncodingId, mpsc::Sender<PublisherRequest>>>,
    speakers: watch::Sender<Option<ActiveSpeakers>>,
    events: broadcast::Sender<FlowEvent>,
    counters: Counters,
    options: FlowOptions,
}

/// An admitted QUIC connection to an SFU. Cheap to clone (shared); the connection closes when
/// [`Flow::close`] is called or the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Flow {
    shared: Arc<Shared>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last Flow clone is gone: end the connection (the flow's tasks hold only the
        // quinn handle and a weak reference, and end with it).
        self.conn.close(0u32.into(), b"bye");
    }
}

fn route_insert(routes: &Routes, geid: GlobalEncodingId, to: Option<mpsc::Sender<Bytes>>) {
    routes.rcu(|current| {
        let mut next = HashMap::clone(current);
        match &to {
            Some(tx) => {
                next.insert(geid, tx.clone());
            }
            None => {
                next.remove(&geid);
            }
        }
        next
    });
}

impl Flow {
    /// Runs the Hello exchange on a fresh connection and starts the flow's tasks.
    pub(crate) async fn establish(
        endpoint: ClientEndpoint,
        conn: quinn::Connection,
        pin: Fingerprint,
        hello: Hello,
        options: FlowOptions,
    ) -> Result<Self, TransportError> {
        if peer_fingerprint(&conn) != Some(pin) {
            // The verifier already refused other certificates; this guards the contract.
            conn.close(3u32.into(), b"fingerprint");
            return Err(TransportError::Refused(
                "server fingerprint mismatch".into(),
            ));
        }
        let (mut send, mut recv) = conn.open_bi().await?;
        send.write_all(&ControlMessage::Hello(hello).to_vec()?)
            .await?;
        let mut reader = ControlReader::new();
        let mut buf = vec![0u8; 4096];
        let sfu_hello = loop {
            match reader.next_message() {
                Ok(Some(Decoded::Message(ControlMessage::Hello(h)))) => break h,
                Ok(Some(Decoded::Message(ControlMessage::Error(e)))) => {
                    return Err(TransportError::Refused(e.text));
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    let n = recv
                        .read(&mut buf)
                        .await?
                        .ok_or_else(|| refused_reason(&conn))?;
                    reader.push(buf.get(..n).unwrap_or_default());
                }
                Err(ControlError::HelloNotFirst { .. }) => return Err(refused_reason(&conn)),
                Err(e) => return Err(e.into()),
            }
        };
        let (speakers, _) = watch::channel(None);
        let (events, _) = broadcast::channel(256);
        let limit = options.max_bandwidth;
        let shared = Arc::new(Shared {
            pacing: Pacing {
                limited: std::sync::atomic::AtomicBool::new(limit.is_some()),
                pacer: std::sync::Mutex::new(Pacer::new(PacerConfig::default().max_bitrate(limit))),
                wake: Arc::new(tokio::sync::Notify::new()),
            },
            endpoint,
            conn,
            sfu_hello,
            control: Mutex::new(send),
            datagram_routes: ArcSwap::default(),
            stream_routes: ArcSwap::default(),
            subscriptions: std::sync::Mutex::default(),
            encoding_watchers: std::sync::Mutex::default(),
            publishers: std::sync::Mutex::default(),
            speakers,
            events,
            counters: Counters::default(),
            options,
        });
        tokio::spawn(read_datagrams(Arc::downgrade(&shared), shared.conn.clone()));
        tokio::spawn(accept_streams(Arc::downgrade(&shared), shared.conn.clone()));
        tokio::spawn(read_control(Arc::downgrade(&shared), recv, reader));
        tokio::spawn(run_pacer(Arc::downgrade(&shared)));
        Ok(Self { shared })
    }

    /// The endpoint ID the SFU admitted us as.
    pub fn endpoint_id(&self) -> u64 {
        self.shared.sfu_hello.endpoint_id
    }

    /// The SFU's Hello (its capabilities).
    pub fn sfu_hello(&self) -> &Hello {
        &self.shared.sfu_hello
    }

    /// The endpoint this flow runs on.
    pub fn endpoint(&self) -> &ClientEndpoint {
        &self.shared.endpoint
    }

    /// The options the flow was opened with.
    pub fn options(&self) -> &FlowOptions {
        &self.shared.options
    }

    /// The underlying QUIC connection (for statistics and advanced use).
    pub fn connection(&self) -> &quinn::Connection {
        &self.shared.conn
    }

    /// Largest datagram the path takes now (`None` if the SFU does not take datagrams).
    pub fn max_datagram_size(&self) -> Option<usize> {
        self.shared.conn.max_datagram_size()
    }

    /// Sends one RTP3 message as a datagram. When quinn's datagram buffer is full the oldest
    /// queued datagram is dropped to make room (media prefers fresh data).
    pub fn send_datagram(&self, datagram: Bytes) -> Result<(), TransportError> {
        Ok(self.shared.conn.send_datagram(datagram)?)
    }

    /// Sends one RTP3 message of `kind` through the flow's pacer: at once while the flow has
    /// no bandwidth limit, else within the limit, audio before video before data. A message
    /// that finds the pacer's queue full is dropped (fresh media over old).
    ///
    /// Returns `Ok(false)` when the message was dropped (pacer queue full).
    pub fn send_media(&self, kind: MediaKind, datagram: Bytes) -> Result<bool, TransportError> {
        let pacing = &self.shared.pacing;
        if !pacing.limited.load(Relaxed) {
            self.send_datagram(datagram)?;
            return Ok(true);
        }
        let queued = pacing
            .pacer
            .lock()
            .is_ok_and(|mut p| p.enqueue(kind, datagram, clock::now()).is_ok());
        pacing.wake.notify_one();
        Ok(queued)
    }

    /// Sets the flow's total max bandwidth for sending, bit/s (draft §6.3); `None` removes
    /// the limit. Takes effect for the next message.
    pub fn set_max_bandwidth(&self, bits_per_second: Option<u64>) {
        let pacing = &self.shared.pacing;
        if let Ok(mut pacer) = pacing.pacer.lock() {
            pacer.set_max_bitrate(bits_per_second);
        }
        pacing.limited.store(bits_per_second.is_some(), Relaxed);
        pacing.wake.notify_one();
    }

    /// The flow's current max bandwidth, bit/s.
    pub fn max_bandwidth(&self) -> Option<u64> {
        self.shared
            .pacing
            .pacer
            .lock()
            .ok()
            .and_then(|p| p.max_bitrate())
    }

    /// Sends an already encoded control frame (for example a ReceiverReport built by the
    /// media pipeline's reporter).
    pub async fn send_control_frame(&self, frame: &[u8]) -> Result<(), TransportError> {
        let mut send = self.shared.control.lock().await;
        send.write_all(frame).await?;
        Ok(())
    }

    /// Sends a control message to the SFU.
    pub async fn send_control(&self, message: ControlMessage) -> Result<(), TransportError> {
        let bytes = message.to_vec()?;
        let mut send = self.shared.control.lock().await;
        send.write_all(&bytes).await?;
        Ok(())
    }

    /// Routes received datagrams of `geid` to `to` (replacing any earlier route). A datagram
    /// that finds `to` full is dropped.
    pub fn route_datagrams(&self, geid: GlobalEncodingId, to: mpsc::Sender<Bytes>) {
        route_insert(&self.shared.datagram_routes, geid, Some(to));
    }

    /// Routes messages of `geid` that arrive on data streams to `to`. Reliable data waits
    /// for `to` (QUIC flow control then slows the SFU down) rather than being dropped.
    pub fn route_stream_messages(&self, geid: GlobalEncodingId, to: mpsc::Sender<Bytes>) {
        route_insert(&self.shared.stream_routes, geid, Some(to));
    }

    /// Removes both routes of `geid`, and its watcher.
    pub fn unroute(&self, geid: GlobalEncodingId) {
        route_insert(&self.shared.datagram_routes, geid, None);
        route_insert(&self.shared.stream_routes, geid, None);
        if let Ok(mut w) = self.shared.encoding_watchers.lock() {
            w.remove(&geid);
        }
    }

    /// Sends the SFU's RetransmissionUnavailable messages about `geid` to `to` (until
    /// [`Flow::unroute`]).
    pub fn watch_encoding(&self, geid: GlobalEncodingId, to: mpsc::Sender<SubscriptionEvent>) {
        if let Ok(mut w) = self.shared.encoding_watchers.lock() {
            w.insert(geid, to);
        }
    }

    /// Sends SubscribeResult and Error messages for `request_id` to `to`.
    pub fn watch_subscription(&self, request_id: u64, to: mpsc::Sender<SubscriptionEvent>) {
        if let Ok(mut s) = self.shared.subscriptions.lock() {
            s.insert(request_id, to);
        }
    }

    /// Stops watching `request_id`.
    pub fn unwatch_subscription(&self, request_id: u64) {
        if let Ok(mut s) = self.shared.subscriptions.lock() {
            s.remove(&request_id);
        }
    }

    /// Sends the SFU's requests for the publisher of `geid` to `to`.
    pub fn watch_publisher(&self, geid: GlobalEncodingId, to: mpsc::Sender<PublisherRequest>) {
        if let Ok(mut p) = self.shared.publishers.lock() {
            p.insert(geid, to);
        }
    }

    /// Stops watching `geid`'s publisher requests.
    pub fn unwatch_publisher(&self, geid: GlobalEncodingId) {
        if let Ok(mut p) = self.shared.publishers.lock() {
            p.remove(&geid);
        }
    }

    /// The conference's active speakers as the SFU last sent them.
    pub fn active_speakers(&self) -> watch::Receiver<Option<ActiveSpeakers>> {
        self.shared.speakers.subscribe()
    }

    /// Control messages that no subscription or publisher took.
    pub fn events(&self) -> broadcast::Receiver<FlowEvent> {
        self.shared.events.subscribe()
    }

    /// Opens a reliable data stream to the SFU: ordered (one stream for many messages) or
    /// single-message (the stream ends after one message).
    pub async fn open_data_stream(&self, ordered: bool) -> Result<DataStream, TransportError> {
        let mut send = self.shared.conn.open_uni().await?;
        let kind = if ordered {
            STREAM_KIND_ORDERED
        } else {
            STREAM_KIND_SINGLE
        };
        send.write_all(&[kind]).await?;
        Ok(DataStream {
            send,
            ordered,
            written: 0,
        })
    }

    /// Flow metrics now (draft §6.6).
    pub fn metrics(&self) -> FlowMetrics {
        let conn = &self.shared.conn;
        let stats = conn.stats();
        let mut local = self
            .shared
            .endpoint
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        if let Some(ip) = conn.local_ip() {
            local.set_ip(ip);
        }
        FlowMetrics {
            state: match conn.close_reason() {
                None => ConnectivityState::Connected,
                Some(reason) => ConnectivityState::Closed(reason.to_string()),
            },
            bits_sent: stats.udp_tx.bytes.saturating_mul(8),
            bits_received: stats.udp_rx.bytes.saturating_mul(8),
            packets_sent: stats.path.sent_packets,
            packets_lost: stats.path.lost_packets,
            rtt: conn.rtt(),
            far_fingerprint: peer_fingerprint(conn),
            five_tuple: FiveTuple {
                local,
                remote: conn.remote_address(),
                protocol: "udp",
            },
            max_datagram: conn.max_datagram_size(),
            datagrams_routed: self.shared.counters.routed.load(Relaxed),
            datagrams_dropped: self.shared.counters.dropped.load(Relaxed),
        }
    }

    /// Closes the flow with application code 0.
    pub fn close(&self) {
        self.shared.conn.close(0u32.into(), b"bye");
    }

    /// Resolves when the flow has closed, with the reason.
    pub async fn closed(&self) -> String {
        self.shared.conn.closed().await.to_string()
    }
}

fn refused_reason(conn: &quinn::Connection) -> TransportError {
    match conn.close_reason() {
        Some(reason) => TransportError::Refused(reason.to_string()),
        None => TransportError::Refused("the SFU closed the control stream".into()),
    }
}

/// A reliable data stream we write sealed RTP3 messages to.
#[derive(Debug)]
pub struct DataStream {
    send: quinn::SendStream,
    ordered: bool,
    written: u64,
}

impl DataStream {
    /// Writes one sealed RTP3 message (at most [`MAX_STREAM_MESSAGE`] bytes). On a
    /// single-message stream, the stream ends after it.
    pub async fn write_message(&mut self, message: &[u8]) -> Result<(), TransportError> {
        if message.len() > MAX_STREAM_MESSAGE {
            return Err(TransportError::MessageTooLarge(message.len()));
        }
        if !self.ordered && self.written > 0 {
            return Err(TransportError::StreamFinished);
        }
        let mut frame = Vec::with_capacity(message.len() + 4);
        encode_frame(message, &mut frame)
            .map_err(|_| TransportError::MessageTooLarge(message.len()))?;
        self.send.write_all(&frame).await?;
        self.written += 1;
        if !self.ordered {
            let _ = self.send.finish();
        }
        Ok(())
    }

    /// Ends the stream after what was written.
    pub fn finish(&mut self) {
        let _ = self.send.finish();
    }

    /// Ends the stream and waits until the SFU has received all of it (or stopped it), so
    /// closing the flow afterwards loses nothing.
    pub async fn finish_and_wait(&mut self) {
        let _ = self.send.finish();
        let _ = self.send.stopped().await;
    }
}

/// Drains the pacer within its limit until the flow is gone (and whatever is queued when the
/// limit is lifted).
async fn run_pacer(shared: std::sync::Weak<Shared>) {
    loop {
        let Some(s) = shared.upgrade() else {
            return;
        };
        let wake = {
            let Ok(mut pacer) = s.pacing.pacer.lock() else {
                return;
            };
            let now = clock::now();
            while let Some(t) = pacer.poll_transmit(now) {
                let _ = s.conn.send_datagram(t.datagram);
            }
            pacer.poll_timeout()
        };
        let wake_up = s.pacing.wake.clone();
        let closed = s.conn.clone();
        drop(s);
        tokio::select! {
            () = wake_up.notified() => {}
            () = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            } => {}
            _ = closed.closed() => return,
        }
    }
}

async fn read_datagrams(shared: std::sync::Weak<Shared>, conn: quinn::Connection) {
    while let Ok(datagram) = conn.read_datagram().await {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let Ok(view) = HeaderView::parse(&datagram) else {
            shared.counters.dropped.fetch_add(1, Relaxed);
            continue;
        };
        let geid = view.global_encoding_id();
        let routes = shared.datagram_routes.load();
        let delivered = routes
            .get(&geid)
            .is_some_and(|to| to.try_send(datagram.clone()).is_ok());
        let counter = if delivered {
            &shared.counters.routed
        } else {
            &shared.counters.dropped
        };
        counter.fetch_add(1, Relaxed);
    }
}

async fn accept_streams(shared: std::sync::Weak<Shared>, conn: quinn::Connection) {
    while let Ok(recv) = conn.accept_uni().await {
        tokio::spawn(read_data_stream(shared.clone(), recv));
    }
}

/// Reads one data stream from the SFU (PROTOCOL.md §13, proto's [`DataStreamReader`]) and
/// routes each message. A stream that breaks the layout is stopped with `protocol_error`;
/// other streams carry on.
async fn read_data_stream(shared: std::sync::Weak<Shared>, mut recv: quinn::RecvStream) {
    let mut reader = DataStreamReader::new();
    loop {
        let chunk = match recv.read_chunk(64 * 1024, true).await {
            Ok(Some(chunk)) => chunk.bytes,
            _ => return,
        };
        reader.push(&chunk);
        loop {
            let frame = match reader.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(_) => {
                    let _ = recv.stop(STREAM_PROTOCOL_ERROR.into());
                    return;
                }
            };
            let message = frame.message();
            let Some(s) = shared.upgrade() else {
                return;
            };
            let Ok(view) = HeaderView::parse(&message) else {
                s.counters.dropped.fetch_add(1, Relaxed);
                continue;
            };
            let to = s
                .stream_routes
                .load()
                .get(&view.global_encoding_id())
                .cloned();
            drop(s);
            match to {
                Some(to) if to.send(message).await.is_ok() => {}
                _ => {
                    if let Some(s) = shared.upgrade() {
                        s.counters.dropped.fetch_add(1, Relaxed);
                    }
                }
            }
        }
    }
}

async fn read_control(
    shared: std::sync::Weak<Shared>,
    mut recv: quinn::RecvStream,
    mut reader: ControlReader,
) {
    let mut buf = vec![0u8; 8192];
    loop {
        loop {
            let decoded = reader.next_message();
            let Some(s) = shared.upgrade() else {
                return;
            };
            match decoded {
                Ok(Some(Decoded::Message(m))) => dispatch_control(&s, m),
                Ok(Some(Decoded::Unknown { kind })) => {
                    let _ = s.events.send(FlowEvent::Unknown { kind });
                }
                Ok(None) => break,
                Err(e) if e.is_fatal() => {
                    s.conn.close(3u32.into(), b"control framing");
                    return;
                }
                Err(e) => {
                    let _ = s.events.send(FlowEvent::Malformed(e.to_string()));
                }
            }
        }
        match recv.read(&mut buf).await {
            Ok(Some(n)) => reader.push(buf.get(..n).unwrap_or_default()),
            _ => return,
        }
    }
}

fn dispatch_control(s: &Shared, message: ControlMessage) {
    match message {
        ControlMessage::SubscribeResult(r) => {
            to_subscription(s, r.request_id, SubscriptionEvent::Result(r));
        }
        ControlMessage::Error(e) => match e.request_id {
            Some(id) if has_subscription(s, id) => {
                to_subscription(s, id, SubscriptionEvent::Error(e));
            }
            _ => {
                let _ = s.events.send(FlowEvent::Error(e));
            }
        },
        ControlMessage::ActiveSpeakers(a) => {
            s.speakers.send_replace(Some(a));
        }
        ControlMessage::IntraFrameRequest(IntraFrameRequest { encoding }) => {
            to_publisher(s, encoding, PublisherRequest::IntraFrame);
        }
        ControlMessage::MaxRateRequest(MaxRateRequest {
            encoding,
            max_bitrate,
        }) => to_publisher(s, encoding, PublisherRequest::MaxRate(max_bitrate)),
        ControlMessage::RetransmissionRequest(r) => {
            to_publisher(s, r.encoding, PublisherRequest::Retransmission(r));
        }
        ControlMessage::RetransmissionUnavailable(u) => {
            let tx = s
                .encoding_watchers
                .lock()
                .ok()
                .and_then(|w| w.get(&u.encoding).cloned());
            if let Some(tx) = tx {
                let _ = tx.try_send(SubscriptionEvent::Unavailable(u));
            }
        }
        // A second Hello, or messages only clients send: ignore.
        ControlMessage::Hello(_)
        | ControlMessage::Subscribe(_)
        | ControlMessage::Unsubscribe(_)
        | ControlMessage::ReceiverReport(_) => {}
    }
}

fn has_subscription(s: &Shared, request_id: u64) -> bool {
    s.subscriptions
        .lock()
        .is_ok_and(|m| m.contains_key(&request_id))
}

fn to_subscription(s: &Shared, request_id: u64, event: SubscriptionEvent) {
    let tx = s
        .subscriptions
        .lock()
        .ok()
        .and_then(|m| m.get(&request_id).cloned());
    if let Some(tx) = tx {
        let _ = tx.try_send(event);
    }
}

fn to_publisher(s: &Shared, geid: GlobalEncodingId, request: PublisherRequest) {
    let tx = s.publishers.lock().ok().and_then(|m| m.get(&geid).cloned());
    if let Some(tx) = tx {
        let _ = tx.try_send(request);
    }
}
