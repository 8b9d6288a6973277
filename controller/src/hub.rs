//! Delivering messages to WebSocket clients wherever they are connected, and telling
//! waiters that a conference changed.
//!
//! Each controller keeps its own clients' send queues. A message for a client connected
//! here goes straight into its queue; otherwise, with Redis, it is published on the channel
//! `<prefix>:bus` as `{"origin", "event"}`, and the controller that holds the client delivers
//! it. Conference changes are published the same way, so a REST call waiting for proposal
//! results on one controller hears of answers that arrived at another.

use futures_util::StreamExt as _;
use newmedia_proto::signaling::ServerMessage;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc};

/// What travels between controllers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum BusEvent {
    /// A message for one client.
    ToClient {
        /// The client.
        client_id: String,
        /// The message.
        message: Box<ServerMessage>,
    },
    /// A conference's state changed.
    ConferenceChanged {
        /// The conference.
        conference_id: u64,
    },
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    origin: String,
    event: BusEvent,
}

/// One connected client's queue, with the connection's serial number (a reconnect replaces
/// the queue; the old connection's cleanup must not remove the new one).
type Queue = (u64, mpsc::UnboundedSender<ServerMessage>);

/// The message hub of one controller.
#[derive(Debug)]
pub struct Hub {
    controller_id: String,
    local: Mutex<HashMap<String, Queue>>,
    changes: broadcast::Sender<u64>,
    redis: Option<(redis::aio::MultiplexedConnection, String)>,
    serial: std::sync::atomic::AtomicU64,
}

impl Hub {
    /// A hub; with `redis` (connection, channel) messages reach other controllers.
    pub fn new(
        controller_id: String,
        redis: Option<(redis::aio::MultiplexedConnection, String)>,
    ) -> Arc<Self> {
        Arc::new(Self {
            controller_id,
            local: Mutex::new(HashMap::new()),
            changes: broadcast::channel(256).0,
            redis,
            serial: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// This controller's ID.
    pub fn controller_id(&self) -> &str {
        &self.controller_id
    }

    fn local(&self) -> std::sync::MutexGuard<'_, HashMap<String, Queue>> {
        self.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a connected client; returns its serial and queue.
    pub fn connect(&self, client_id: &str) -> (u64, mpsc::UnboundedReceiver<ServerMessage>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let serial = self
            .serial
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.local().insert(client_id.to_owned(), (serial, tx));
        (serial, rx)
    }

    /// Removes a client's queue if it is still connection `serial`'s.
    pub fn disconnect(&self, client_id: &str, serial: u64) -> bool {
        let mut local = self.local();
        if local.get(client_id).is_some_and(|(s, _)| *s == serial) {
            local.remove(client_id);
            true
        } else {
            false
        }
    }

    /// Whether the client is connected to this controller.
    pub fn is_local(&self, client_id: &str) -> bool {
        self.local().contains_key(client_id)
    }

    fn deliver_local(&self, client_id: &str, message: &ServerMessage) -> bool {
        match self.local().get(client_id) {
            Some((_, tx)) => tx.send(message.clone()).is_ok(),
            None => false,
        }
    }

    /// Sends `message` to `client_id`, here or through Redis.
    pub async fn send(&self, client_id: &str, message: ServerMessage) {
        if self.deliver_local(client_id, &message) {
            return;
        }
        self.publish(BusEvent::ToClient {
            client_id: client_id.to_owned(),
            message: Box::new(message),
        })
        .await;
    }

    /// Tells waiters (here and elsewhere) that `conference_id` changed.
    pub async fn conference_changed(&self, conference_id: u64) {
        let _ = self.changes.send(conference_id);
        self.publish(BusEvent::ConferenceChanged { conference_id })
            .await;
    }

    /// Conference changes, as they happen.
    pub fn subscribe_changes(&self) -> broadcast::Receiver<u64> {
        self.changes.subscribe()
    }

    async fn publish(&self, event: BusEvent) {
        let Some((conn, channel)) = &self.redis else {
            return;
        };
        let envelope = Envelope {
            origin: self.controller_id.clone(),
            event,
        };
        let Ok(text) = serde_json::to_string(&envelope) else {
            return;
        };
        let mut conn = conn.clone();
        if let Err(e) = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(text)
            .query_async::<i64>(&mut conn)
            .await
        {
            tracing::warn!(error = %e, "cannot publish on the Redis bus");
        }
    }

    /// Handles one event from another controller.
    fn receive(&self, text: &str) {
        let Ok(envelope) = serde_json::from_str::<Envelope>(text) else {
            tracing::warn!("ignoring a malformed bus message");
            return;
        };
        if envelope.origin == self.controller_id {
            return;
        }
        match envelope.event {
            BusEvent::ToClient { client_id, message } => {
                self.deliver_local(&client_id, &message);
            }
            BusEvent::ConferenceChanged { conference_id } => {
                let _ = self.changes.send(conference_id);
            }
        }
    }
}

/// Subscribes to the bus channel and feeds every event to `hub` until the connection ends.
/// Returns once subscribed, so nothing published afterwards is missed.
pub async fn run_subscriber(
    hub: Arc<Hub>,
    client: redis::Client,
    channel: String,
) -> Result<tokio::task::JoinHandle<()>, redis::RedisError> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(&channel).await?;
    Ok(tokio::spawn(async move {
        let mut messages = pubsub.into_on_message();
        while let Some(msg) = messages.next().await {
            if let Ok(text) = msg.get_payload::<String>() {
                hub.receive(&text);
            }
        }
        tracing::warn!("Redis bus subscription ended");
    }))
}
