//! A connected endpoint: its QUIC connection, its control channel, and the send side of the
//! forwarding path with the per-subscriber drop policy.

use super::stats::{DropReason, LocalCounts};
use super::subscription::Subscription;
use bytes::Bytes;
use newmedia_proto::control::ControlMessage;
use newmedia_proto::grant::Publication;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// One endpoint connected to a conference on this node.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) conference_id: u64,
    pub(crate) endpoint_id: u64,
    pub(crate) conn: quinn::Connection,
    /// Control messages to this endpoint; the session's writer task drains it.
    control: mpsc::Sender<ControlMessage>,
    /// What the endpoint may publish.
    pub(crate) publications: Arc<[Publication]>,
    /// Whether the endpoint is one of its conference's active speakers.
    pub(crate) speaking: AtomicBool,
    /// Sum and count of active levels since the last speaker tick, packed as
    /// `sum << 20 | count` so one atomic add records a message (100 * 2^20 fits easily).
    levels: AtomicU64,
    /// Bytes of quinn's datagram send buffer kept free for reference-frame messages.
    reserve: usize,
    /// This endpoint's subscriptions by request ID (control path only).
    pub(crate) subscriptions: Mutex<HashMap<u64, Arc<Subscription>>>,
    /// Its outgoing reliable data streams, per (encoding, kind) (PROTOCOL.md §13).
    pub(crate) data_sinks: super::data::SinkTable,
}

const COUNT_BITS: u32 = 20;

impl Member {
    pub(crate) fn new(
        conference_id: u64,
        endpoint_id: u64,
        conn: quinn::Connection,
        control: mpsc::Sender<ControlMessage>,
        publications: Arc<[Publication]>,
        send_buffer: usize,
    ) -> Self {
        Self {
            conference_id,
            endpoint_id,
            conn,
            control,
            publications,
            speaking: AtomicBool::new(false),
            levels: AtomicU64::new(0),
            reserve: send_buffer / 4,
            subscriptions: Mutex::new(HashMap::new()),
            data_sinks: Default::default(),
        }
    }

    /// Queues a copy of `datagram` for this endpoint, or drops it when the send buffer is too
    /// full: a non-reference message needs room beyond the reserve, a reference-frame message
    /// is always queued (quinn then evicts the oldest queued datagrams). Never blocks.
    #[inline]
    pub(crate) fn send(&self, datagram: &Bytes, reference: bool, counts: &mut LocalCounts) {
        if !reference && self.conn.datagram_send_buffer_space() < datagram.len() + self.reserve {
            counts.drop_one(DropReason::QueueFull);
            return;
        }
        match self.conn.send_datagram(datagram.clone()) {
            Ok(()) => counts.copies_queued += 1,
            Err(_) => counts.drop_one(DropReason::SendError),
        }
    }

    /// Records the active level of one of the endpoint's audio messages.
    #[inline]
    pub(crate) fn record_level(&self, level: u8) {
        self.levels
            .fetch_add((u64::from(level) << COUNT_BITS) | 1, Relaxed);
    }

    /// The mean active level since the last call, if any message carried one.
    pub(crate) fn take_mean_level(&self) -> Option<u8> {
        let packed = self.levels.swap(0, Relaxed);
        let count = packed & ((1 << COUNT_BITS) - 1);
        (count > 0).then(|| ((packed >> COUNT_BITS) / count).min(100) as u8)
    }

    /// Sends a control message to the endpoint without waiting; a full channel (a client that
    /// does not read its control stream) loses the message rather than stalling the caller.
    pub(crate) fn notify(&self, message: ControlMessage) -> bool {
        self.control.try_send(message).is_ok()
    }
}
