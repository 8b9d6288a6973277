//! One client connection: admission over the control stream, then the datagram loop (the
//! publish path) alongside the control loop and the path sampler.

use super::clock;
use super::close;
use super::member::Member;
use super::node::{Admission, Node};
use super::route::Route;
use super::stats::{DropReason, LocalCounts};
use crate::admission::tls::peer_fingerprint;
use crate::policy::retransmit::RetransmitConfig;
use bytes::Bytes;
use newmedia_proto::control::{
    Capabilities, ControlMessage, ControlReader, Decoded, ErrorMessage, Hello,
};
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::HeaderView;
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Capabilities the SFU announces in its Hello.
const SFU_CAPABILITIES: Capabilities = Capabilities(
    Capabilities::RETRANSMISSION.0 | Capabilities::ACTIVE_SPEAKERS.0 | Capabilities::LAYER_FILTER.0,
);

/// Control messages queued toward one client before new ones are dropped.
const CONTROL_QUEUE: usize = 256;

/// Runs one incoming connection to its end.
pub(crate) async fn run(node: Arc<Node>, incoming: quinn::Incoming) {
    let remote = incoming.remote_address();
    let conn = match incoming.await {
        Ok(c) => c,
        Err(e) => {
            debug!(%remote, error = %e, "handshake failed");
            return;
        }
    };
    let Some((admission, control_send, reader, control_recv)) = admit(&node, &conn).await else {
        return;
    };
    info!(
        %remote,
        conference = admission.conference_id,
        endpoint = admission.endpoint_id,
        by = ?admission.by,
        "admitted"
    );
    let (tx, rx) = mpsc::channel(CONTROL_QUEUE);
    let member = Arc::new(Member::new(
        admission.conference_id,
        admission.endpoint_id,
        conn.clone(),
        tx,
        admission.publications.clone(),
        node.config.datagram_send_buffer,
    ));
    let (conference, replaced) = node.join(&member);
    if let Some(old) = replaced {
        old.conn
            .close(close::REPLACED, b"replaced by a newer connection");
    }
    let now = clock::now();
    let cache = RetransmitConfig::default().capacity_per_encoding(node.config.retransmit_capacity);
    let routes: Arc<[(GlobalEncodingId, Arc<Route>)]> = admission
        .publications
        .iter()
        .map(|p| {
            let route = Arc::new(Route::new(member.clone(), p.clone(), &cache));
            conference.add_route(route.clone(), now);
            (route.geid, route)
        })
        .collect();

    let writer = tokio::spawn(write_control(control_send, rx));
    let data = tokio::spawn(super::data::accept_streams(
        node.clone(),
        member.clone(),
        routes.clone(),
    ));
    let control = tokio::spawn(super::control::run(
        node.clone(),
        conference.clone(),
        member.clone(),
        reader,
        control_recv,
    ));
    let path = tokio::spawn(super::path_task::run(
        node.clone(),
        conn.clone(),
        Arc::downgrade(&conference),
        Arc::downgrade(&member),
    ));

    forward_datagrams(&node, &member, &routes).await;

    control.abort();
    writer.abort();
    data.abort();
    // The path task ends by itself once the connection is closed, after counting the
    // connection's last sends.
    let _ = path.await;
    node.leave(&member);
    info!(
        %remote,
        conference = member.conference_id,
        endpoint = member.endpoint_id,
        reason = %conn.close_reason().map(|r| r.to_string()).unwrap_or_default(),
        "left"
    );
}

/// Waits for the client's control stream and Hello and admits it, or refuses and closes.
async fn admit(
    node: &Node,
    conn: &quinn::Connection,
) -> Option<(
    Admission,
    quinn::SendStream,
    ControlReader,
    quinn::RecvStream,
)> {
    let fingerprint = peer_fingerprint(conn);
    let opened = tokio::time::timeout(node.config.hello_timeout, async {
        let (send, mut recv) = conn.accept_bi().await.ok()?;
        let mut reader = ControlReader::new();
        let mut buf = vec![0u8; 4096];
        loop {
            match reader.next_message() {
                Ok(Some(Decoded::Message(ControlMessage::Hello(hello)))) => {
                    return Some((send, recv, reader, hello));
                }
                Ok(Some(_)) | Err(_) => return None,
                Ok(None) => {}
            }
            let n = recv.read(&mut buf).await.ok()??;
            reader.push(buf.get(..n)?);
        }
    })
    .await;
    let Ok(Some((mut send, recv, reader, hello))) = opened else {
        conn.close(
            close::PROTOCOL_ERROR,
            b"expected a control stream starting with Hello",
        );
        return None;
    };
    match node.admit(fingerprint, hello.grant.as_deref()) {
        Ok(admission) => {
            let ours = Hello::new(admission.endpoint_id, SFU_CAPABILITIES);
            let bytes = ControlMessage::Hello(ours).to_vec().ok()?;
            send.write_all(&bytes).await.ok()?;
            Some((admission, send, reader, recv))
        }
        Err(refusal) => {
            warn!(remote = %conn.remote_address(), reason = %refusal.reason, "admission refused");
            let error = ErrorMessage::new(None, refusal.code, &refusal.reason);
            if let Ok(bytes) = ControlMessage::Error(error).to_vec() {
                let _ = send.write_all(&bytes).await;
                let _ = send.finish();
            }
            let code = if node.is_draining() {
                close::DRAINING
            } else {
                close::UNAUTHORIZED
            };
            // Give the Error frame a moment to leave before the close discards the stream.
            let _ =
                tokio::time::timeout(std::time::Duration::from_millis(200), send.stopped()).await;
            conn.close(code, b"unauthorized");
            None
        }
    }
}

/// Drains the control queue onto the control stream.
async fn write_control(mut send: quinn::SendStream, mut rx: mpsc::Receiver<ControlMessage>) {
    let mut buf = Vec::with_capacity(1024);
    while let Some(message) = rx.recv().await {
        buf.clear();
        if message.encode(&mut buf).is_err() {
            continue;
        }
        if send.write_all(&buf).await.is_err() {
            return;
        }
    }
}

/// Most datagrams forwarded as one batch (taken from what quinn has already queued).
pub(crate) const BATCH: usize = 16;

/// The publish path: every datagram from this client, parsed in place and forwarded by its
/// GlobalEncodingID. Returns when the connection closes.
///
/// Datagrams that are already queued when one arrives (a frame's messages come together)
/// are forwarded as a batch, subscriber by subscriber: each subscriber connection is handed
/// the whole run at once, so its driver wakes once and sends the run in one GSO `sendmsg`
/// rather than one packet per wake-up.
async fn forward_datagrams(
    node: &Node,
    member: &Member,
    routes: &[(GlobalEncodingId, Arc<Route>)],
) {
    let mut counts = LocalCounts::default();
    // Allocated once; `Bytes` handles move in and out.
    let mut batch: Vec<Bytes> = Vec::with_capacity(BATCH);
    loop {
        // Take what is already queued without suspending; only when the queue is empty (or
        // after a batch) do the local counts go to the shared atomics, so counters are exact
        // whenever the publisher pauses and cheap while it streams.
        let next = match ready_now(member.conn.read_datagram()) {
            Some(next) => next,
            None => {
                counts.flush(&node.stats);
                member.conn.read_datagram().await
            }
        };
        let Ok(first) = next else { break };
        batch.push(first);
        while batch.len() < BATCH {
            match ready_now(member.conn.read_datagram()) {
                Some(Ok(datagram)) => batch.push(datagram),
                // Nothing more queued, or the connection closed (the next read says so).
                _ => break,
            }
        }
        for datagram in &batch {
            counts.datagrams_in += 1;
            counts.bytes_in += datagram.len() as u64;
        }
        forward_batch(node, member, routes, &batch, &mut counts);
        batch.clear();
        if counts.datagrams_in >= LocalCounts::FLUSH_EVERY {
            counts.flush(&node.stats);
        }
    }
    counts.flush(&node.stats);
}

/// Polls `future` once; its output if it was ready. quinn's datagram queue is guarded by a
/// `Notify`, so a poll that finds it empty and is then dropped leaves nothing behind.
fn ready_now<F: std::future::Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => Some(output),
        std::task::Poll::Pending => None,
    }
}

/// Forwards a batch: each run of consecutive messages of one encoding goes through its
/// route in one pass over the subscribers. No allocation: the views live on the stack.
#[inline]
fn forward_batch(
    node: &Node,
    member: &Member,
    routes: &[(GlobalEncodingId, Arc<Route>)],
    batch: &[Bytes],
    counts: &mut LocalCounts,
) {
    let mut views: [Option<HeaderView<'_>>; BATCH] = [None; BATCH];
    for (slot, datagram) in views.iter_mut().zip(batch) {
        match HeaderView::parse(datagram) {
            Ok(view) => *slot = Some(view),
            Err(_) => counts.drop_one(DropReason::Malformed),
        }
    }
    let n = batch.len().min(BATCH);
    let now = clock::now();
    let mut i = 0;
    while i < n {
        let Some(geid) = views
            .get(i)
            .copied()
            .flatten()
            .map(|v| v.global_encoding_id())
        else {
            i += 1;
            continue;
        };
        // The run of messages of this encoding starting here.
        let mut end = i + 1;
        while end < n
            && views
                .get(end)
                .copied()
                .flatten()
                .is_some_and(|v| v.global_encoding_id() == geid)
        {
            end += 1;
        }
        let run = (views.get(i..end), batch.get(i..end));
        i = end;
        let (Some(run_views), Some(run_datagrams)) = run else {
            break;
        };
        // A publisher has a handful of encodings: a linear scan beats hashing.
        let Some(route) = routes.iter().find(|(g, _)| *g == geid).map(|(_, r)| r) else {
            for _ in run_views {
                counts.drop_one(DropReason::UnauthorizedEncoding);
            }
            continue;
        };
        if route.is_audio() {
            for level in run_views.iter().flatten().filter_map(|v| v.active_level()) {
                member.record_level(level);
            }
        }
        if let Some(dscp) = route.forward(run_views, run_datagrams, now, counts) {
            for sub in route.subscriptions().iter() {
                node.mark_egress(&sub.subscriber, Some(dscp));
            }
        }
    }
}
