//! Reliable data through the SFU (PROTOCOL.md §13): a publisher's QUIC unidirectional
//! streams of sealed RTP3 messages, fanned out to the subscribers of each message's
//! GlobalEncodingID on streams of the same kind.
//!
//! - Each publisher stream is read by its own task ([`read_stream`]). A frame whose message
//!   does not parse, or whose GlobalEncodingID the publisher may not publish, is dropped and
//!   counted; the stream goes on. A framing error stops the stream (STOP_SENDING, code
//!   [`PROTOCOL_ERROR`]).
//! - Every subscriber has one [`DataSink`] per (encoding, kind), created on first use and
//!   kept in its [`Member`]. The publisher's task only ever *queues* a frame on a sink (an
//!   unbounded channel whose bytes are bounded by [`MAX_PENDING`] through an atomic counter),
//!   so it never waits for a subscriber. The sink's own task writes to QUIC: for an ordered
//!   sink one long-lived stream, for a single-message sink a fresh stream per message.
//! - A sink whose queued bytes would exceed [`MAX_PENDING`] (bytes QUIC flow control has not
//!   yet let it write) is reset with code [`TOO_SLOW`] and forgotten; the frame is dropped,
//!   and the next frame of that encoding opens a new stream.
//! - When the publisher finishes an ordered stream, the subscriber streams it fed are
//!   finished; when it resets it, they are reset with [`SOURCE_RESET`].
//!
//! Not the datagram hot path: a frame costs a mutex lock of each subscriber's sink table and
//! a channel push; the frame's bytes are shared, never copied.

use super::conference::lock;
use super::data_stream::{DataFrame, DataStreamReader, StreamKind};
use super::member::Member;
use super::node::Node;
use super::route::Route;
use super::stats::{DropReason, ForwardStats};
use bytes::Bytes;
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::HeaderView;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use tokio::io::AsyncReadExt;
use tokio::sync::{Notify, mpsc};

/// Bytes a subscriber's data stream may have waiting before it is reset: 1 MiB.
pub const MAX_PENDING: usize = 1 << 20;

/// Stream error code: the subscriber fell more than [`MAX_PENDING`] behind (`too_slow`).
pub const TOO_SLOW: quinn::VarInt = quinn::VarInt::from_u32(1);
/// Stream error code: the publisher reset the stream that fed this one (`source_reset`).
pub const SOURCE_RESET: quinn::VarInt = quinn::VarInt::from_u32(2);
/// STOP_SENDING code toward a publisher whose stream broke the framing (`protocol_error`).
pub const PROTOCOL_ERROR: quinn::VarInt = quinn::VarInt::from_u32(3);

/// How much to read from a publisher stream at a time.
const READ_CHUNK: usize = 16 * 1024;

/// What a sink's task is asked to do.
#[derive(Debug)]
enum SinkCommand {
    /// Write one frame (`length | message`, as received).
    Frame(Bytes),
    /// The publisher finished its stream: finish ours.
    Finish,
    /// The publisher reset its stream: reset ours.
    Abort,
}

/// What a sink and its task share.
#[derive(Debug, Default)]
struct SinkShared {
    /// Bytes queued and not yet accepted by QUIC.
    pending: AtomicUsize,
    /// Set when the subscriber is too slow: the task resets its stream and ends.
    too_slow: Notify,
}

/// One subscriber's outgoing data for one (encoding, kind). Dropping it (with its sender)
/// lets the task finish what is queued and end.
#[derive(Debug)]
pub(crate) struct DataSink {
    tx: mpsc::UnboundedSender<SinkCommand>,
    shared: Arc<SinkShared>,
}

impl DataSink {
    /// A sink writing to `conn`, with its task.
    fn spawn(conn: quinn::Connection, kind: StreamKind, stats: Arc<ForwardStats>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(SinkShared::default());
        tokio::spawn(write_sink(conn, kind, rx, shared.clone(), stats));
        Self { tx, shared }
    }
}

/// The sink table of one subscriber: `(encoding, kind) -> sink`.
pub(crate) type SinkTable =
    std::sync::Mutex<std::collections::HashMap<(GlobalEncodingId, StreamKind), Arc<DataSink>>>;

/// Accepts the client's unidirectional streams until the connection closes, reading each on
/// its own task.
pub(crate) async fn accept_streams(
    node: Arc<Node>,
    member: Arc<Member>,
    routes: Arc<[(GlobalEncodingId, Arc<Route>)]>,
) {
    while let Ok(recv) = member.conn.accept_uni().await {
        tokio::spawn(read_stream(node.stats.clone(), routes.clone(), recv));
    }
}

/// Where a publisher stream's frames went, to finish or reset those streams at its end.
#[derive(Default)]
struct Fed {
    /// Subscribers whose sinks this stream created or used, with the encoding.
    sinks: Vec<(Weak<Member>, GlobalEncodingId)>,
    /// Subscribers already served for the current frame (a member may hold several
    /// subscriptions to one encoding); cleared per frame, so it allocates only while growing.
    seen: HashSet<usize>,
}

/// Reads one publisher stream to its end.
async fn read_stream(
    stats: Arc<ForwardStats>,
    routes: Arc<[(GlobalEncodingId, Arc<Route>)]>,
    mut recv: quinn::RecvStream,
) {
    let mut reader = DataStreamReader::new();
    let mut fed = Fed::default();
    loop {
        loop {
            match reader.next_frame() {
                Ok(Some(frame)) => {
                    let kind = reader.kind().unwrap_or(StreamKind::Ordered);
                    forward_frame(&stats, &routes, kind, &frame, &mut fed);
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::debug!(%error, "data stream refused");
                    stats.stream_drop(DropReason::Malformed);
                    let _ = recv.stop(PROTOCOL_ERROR);
                    end_fed(&fed, reader.kind(), SinkEnd::Abort);
                    return;
                }
            }
        }
        reader.buffer_mut().reserve(READ_CHUNK);
        match recv.read_buf(reader.buffer_mut()).await {
            Ok(0) => {
                if reader.finish().is_err() {
                    stats.stream_drop(DropReason::Malformed);
                }
                end_fed(&fed, reader.kind(), SinkEnd::Finish);
                return;
            }
            Ok(_) => {}
            Err(_) => {
                // Reset by the publisher, or the connection is gone.
                end_fed(&fed, reader.kind(), SinkEnd::Abort);
                return;
            }
        }
    }
}

#[derive(Clone, Copy)]
enum SinkEnd {
    Finish,
    Abort,
}

/// Ends the ordered subscriber streams a publisher stream fed (single-message streams end by
/// themselves).
fn end_fed(fed: &Fed, kind: Option<StreamKind>, end: SinkEnd) {
    if kind != Some(StreamKind::Ordered) {
        return;
    }
    for (member, geid) in &fed.sinks {
        let Some(member) = member.upgrade() else {
            continue;
        };
        let sink = lock(&member.data_sinks).remove(&(*geid, StreamKind::Ordered));
        if let Some(sink) = sink {
            let _ = sink.tx.send(match end {
                SinkEnd::Finish => SinkCommand::Finish,
                SinkEnd::Abort => SinkCommand::Abort,
            });
        }
    }
}

/// Checks one frame against the publisher's routes and queues it for every subscriber.
fn forward_frame(
    stats: &Arc<ForwardStats>,
    routes: &[(GlobalEncodingId, Arc<Route>)],
    kind: StreamKind,
    frame: &DataFrame,
    fed: &mut Fed,
) {
    stats.stream_messages_in.fetch_add(1, Relaxed);
    stats
        .stream_bytes_in
        .fetch_add(frame.message_len() as u64, Relaxed);
    let message = frame.message();
    let Ok(view) = HeaderView::parse(&message) else {
        stats.stream_drop(DropReason::Malformed);
        return;
    };
    let geid = view.global_encoding_id();
    let Some(route) = routes.iter().find(|(g, _)| *g == geid).map(|(_, r)| r) else {
        stats.stream_drop(DropReason::UnauthorizedEncoding);
        return;
    };
    fed.seen.clear();
    let subscriptions = route.subscriptions();
    for sub in subscriptions.iter() {
        let subscriber = &sub.subscriber;
        if !fed.seen.insert(Arc::as_ptr(subscriber) as usize) {
            continue;
        }
        if deliver(stats, subscriber, geid, kind, frame.frame()) {
            fed.sinks.push((Arc::downgrade(subscriber), geid));
        }
    }
}

/// Queues `frame` on the subscriber's sink for (geid, kind), creating it on first use.
/// Returns whether a sink was created. Never waits.
fn deliver(
    stats: &Arc<ForwardStats>,
    subscriber: &Member,
    geid: GlobalEncodingId,
    kind: StreamKind,
    frame: &Bytes,
) -> bool {
    let (sink, created) = {
        let mut sinks = lock(&subscriber.data_sinks);
        match sinks.get(&(geid, kind)) {
            Some(sink) => (sink.clone(), false),
            None => {
                let sink = Arc::new(DataSink::spawn(
                    subscriber.conn.clone(),
                    kind,
                    stats.clone(),
                ));
                sinks.insert((geid, kind), sink.clone());
                (sink, true)
            }
        }
    };
    let len = frame.len();
    let pending = sink.shared.pending.fetch_add(len, Relaxed) + len;
    if pending > MAX_PENDING {
        // Too slow: reset its stream, forget the sink; the next frame opens a new stream.
        sink.shared.pending.fetch_sub(len, Relaxed);
        sink.shared.too_slow.notify_one();
        forget(subscriber, geid, kind, &sink);
        stats.stream_resets.fetch_add(1, Relaxed);
        stats.stream_drop(DropReason::QueueFull);
        return created;
    }
    if sink.tx.send(SinkCommand::Frame(frame.clone())).is_err() {
        // The task ended: the connection is gone.
        sink.shared.pending.fetch_sub(len, Relaxed);
        forget(subscriber, geid, kind, &sink);
        stats.stream_drop(DropReason::SendError);
    }
    created
}

/// Removes `sink` from the subscriber's table if it is still the current one.
fn forget(subscriber: &Member, geid: GlobalEncodingId, kind: StreamKind, sink: &Arc<DataSink>) {
    let mut sinks = lock(&subscriber.data_sinks);
    if sinks
        .get(&(geid, kind))
        .is_some_and(|current| Arc::ptr_eq(current, sink))
    {
        sinks.remove(&(geid, kind));
    }
}

/// A sink's task: writes queued frames to the subscriber's stream(s).
async fn write_sink(
    conn: quinn::Connection,
    kind: StreamKind,
    mut rx: mpsc::UnboundedReceiver<SinkCommand>,
    shared: Arc<SinkShared>,
    stats: Arc<ForwardStats>,
) {
    let kind_byte = Bytes::from_static(match kind {
        StreamKind::Ordered => &[StreamKind::ORDERED],
        StreamKind::Single => &[StreamKind::SINGLE],
    });
    let mut stream: Option<quinn::SendStream> = None;
    loop {
        let command = tokio::select! {
            biased;
            _ = shared.too_slow.notified() => {
                if let Some(s) = stream.as_mut() {
                    let _ = s.reset(TOO_SLOW);
                }
                return;
            }
            command = rx.recv() => command,
        };
        let frame = match command {
            Some(SinkCommand::Frame(frame)) => frame,
            Some(SinkCommand::Finish) | None => {
                if let Some(s) = stream.as_mut() {
                    let _ = s.finish();
                }
                return;
            }
            Some(SinkCommand::Abort) => {
                if let Some(s) = stream.as_mut() {
                    let _ = s.reset(SOURCE_RESET);
                }
                return;
            }
        };
        let len = frame.len();
        let mut chunks = [kind_byte.clone(), frame];
        let fresh = stream.is_none();
        let written = tokio::select! {
            biased;
            _ = shared.too_slow.notified() => {
                if let Some(s) = stream.as_mut() {
                    let _ = s.reset(TOO_SLOW);
                }
                return;
            }
            written = write_frame(&conn, &mut stream, &mut chunks, fresh) => written,
        };
        shared.pending.fetch_sub(len, Relaxed);
        if !written {
            return;
        }
        stats.stream_messages_out.fetch_add(1, Relaxed);
        if kind == StreamKind::Single
            && let Some(mut s) = stream.take()
        {
            let _ = s.finish();
        }
    }
}

/// Opens the stream if there is none (writing the kind byte first) and writes the frame.
/// Returns `false` when the connection is gone.
async fn write_frame(
    conn: &quinn::Connection,
    stream: &mut Option<quinn::SendStream>,
    chunks: &mut [Bytes; 2],
    fresh: bool,
) -> bool {
    if stream.is_none() {
        match conn.open_uni().await {
            Ok(s) => *stream = Some(s),
            Err(_) => return false,
        }
    }
    let Some(s) = stream.as_mut() else {
        return false;
    };
    let chunks: &mut [Bytes] = if fresh {
        chunks
    } else {
        chunks.get_mut(1..).unwrap_or_default()
    };
    s.write_all_chunks(chunks).await.is_ok()
}
