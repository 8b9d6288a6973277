//! The TURN2 relay client (draft §3.3, PROTOCOL.md §8): a TLS-over-TCP connection to a relay
//! (an SFU node's, docs/contracts.md §5) that gives this endpoint an inbound UDP address and
//! hands it every datagram that reaches that address, with the datagram's source.
//!
//! [`RelayClient::connect`] connects (TLS 1.3, pinning the relay's certificate fingerprint,
//! presenting the endpoint's [`Identity`]), registers the identity's fingerprint and returns
//! once the relay has answered with an [`Allocation`]. If the allocation's outbound address
//! is not the one it connected to, it moves to that address first. Then a task owned by the
//! client refreshes the allocation at half its lifetime and delivers relayed datagrams as
//! `(source, packet)` on a bounded channel: the SDK's transport feeds them into its QUIC
//! socket as if they had arrived there from `source`, so QUIC and STUN2 work unchanged. When
//! the channel is full a datagram is dropped and counted ([`RelayClient::dropped_packets`]);
//! the relay connection is never stalled by a slow consumer.
//!
//! [`RelayClient::close`] releases the allocation and waits for the relay to confirm; dropping
//! the client releases it too, without waiting.
//!
//! Errors the relay reports come back as [`RelayError`] variants, one per TURN2 error code;
//! [`RelayError::is_bad_credential`] is draft §6.1's "bad TURN2 credential".
//!
//! What it does not do: send through the relay (TURN2 cannot), pick a relay (the controller's
//! welcome names them), or reconnect after the relay connection breaks (the caller connects
//! again; the allocation outlives its connections until its lifetime ends).

mod driver;
mod error;
mod link;
#[cfg(test)]
mod tests;

pub use error::RelayError;

use crate::identity::{Fingerprint, Identity};
use bytes::Bytes;
use newmedia_proto::turn2::Turn2Frame;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// The ALPN protocol ID this client offers to relays.
pub const TURN2_ALPN: &[u8] = b"newmedia-turn2/1";

/// One relayed datagram: the address it came from, and its payload.
pub type RelayedPacket = (SocketAddr, Bytes);

/// A relay allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocation {
    /// The public UDP address whose datagrams are relayed to this client: a `relay`
    /// candidate for the advertisement.
    pub inbound: SocketAddr,
    /// The relay's TLS service address this client is connected to.
    pub outbound: SocketAddr,
    /// Seconds the allocation lives without a refresh (0: released).
    pub lifetime: u32,
}

/// Settings of a relay client. `Default` suits a client that allocates at start-up; every
/// setter documents its default and unit.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    lifetime: Option<u32>,
    queue_packets: usize,
    timeout: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            lifetime: None,
            queue_packets: 1024,
            timeout: Duration::from_secs(10),
        }
    }
}

impl RelayConfig {
    /// Lifetime to ask for in Register and Refresh, seconds; `None` lets the relay choose
    /// (600 s recommended). The relay may grant less. Default: `None`.
    pub fn lifetime(&mut self, secs: Option<u32>) -> &mut Self {
        self.lifetime = secs.filter(|s| *s > 0);
        self
    }

    /// Relayed datagrams queued for the consumer before new ones are dropped. Default 1024.
    pub fn queue_packets(&mut self, packets: usize) -> &mut Self {
        self.queue_packets = packets.max(1);
        self
    }

    /// Limit on connecting (TCP, TLS) and on waiting for the relay's answer to Register,
    /// each. Default 10 s.
    pub fn timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }
}

/// What the driver task reports.
#[derive(Debug, Clone, Default)]
struct State {
    allocation: Option<Allocation>,
    ended: Option<RelayError>,
}

/// Requests to the driver task.
#[derive(Debug)]
enum Command {
    Refresh(oneshot::Sender<Result<Allocation, RelayError>>),
    Close(oneshot::Sender<Result<(), RelayError>>),
}

/// Counters shared with the driver.
#[derive(Debug, Default)]
struct Counters {
    dropped: AtomicU64,
    refreshes: AtomicU64,
}

/// A live relay allocation and the connection that receives for it. Dropping it releases
/// the allocation.
#[derive(Debug)]
pub struct RelayClient {
    commands: mpsc::Sender<Command>,
    state: watch::Receiver<State>,
    counters: Arc<Counters>,
}

impl RelayClient {
    /// Connects to the relay at `service` (pinning `relay_fingerprint`, the node's
    /// `tlsFingerprintSHA256`), registers `identity`'s fingerprint and waits for the
    /// allocation. Returns the client and the receiver of relayed datagrams.
    pub async fn connect(
        identity: &Identity,
        service: SocketAddr,
        relay_fingerprint: Fingerprint,
        config: &RelayConfig,
    ) -> Result<(Self, mpsc::Receiver<RelayedPacket>), RelayError> {
        let (packets, receiver) = mpsc::channel(config.queue_packets);
        let counters = Arc::new(Counters::default());
        let (mut reader, mut writer) =
            link::connect(identity, service, relay_fingerprint, config.timeout).await?;
        let register = Turn2Frame::Register {
            fingerprint: *identity.fingerprint().as_bytes(),
            lifetime: config.lifetime,
        };
        writer.send(&register).await?;
        let mut allocation =
            driver::await_allocation(&mut reader, &packets, &counters, config.timeout).await?;
        if allocation.outbound != service {
            // PROTOCOL.md §8 step 4: receive on the outbound address, same certificate.
            let (mut moved_reader, mut moved_writer) = link::connect(
                identity,
                allocation.outbound,
                relay_fingerprint,
                config.timeout,
            )
            .await?;
            moved_writer.send(&register).await?;
            allocation =
                driver::await_allocation(&mut moved_reader, &packets, &counters, config.timeout)
                    .await?;
            writer.shutdown().await;
            (reader, writer) = (moved_reader, moved_writer);
        }
        tracing::info!(inbound = %allocation.inbound, lifetime = allocation.lifetime, "relay allocation");
        let (commands, command_rx) = mpsc::channel(8);
        let (state_tx, state) = watch::channel(State {
            allocation: Some(allocation),
            ended: None,
        });
        let driver = driver::Driver::new(
            reader,
            writer,
            packets,
            command_rx,
            state_tx,
            counters.clone(),
            config.lifetime,
            allocation.lifetime,
        );
        tokio::spawn(driver.run());
        Ok((
            Self {
                commands,
                state,
                counters,
            },
            receiver,
        ))
    }

    /// The current allocation; `None` once it has ended (see [`closed`](Self::closed)).
    pub fn allocation(&self) -> Option<Allocation> {
        self.state.borrow().allocation
    }

    /// Relayed datagrams dropped because the receiver was full (or gone).
    pub fn dropped_packets(&self) -> u64 {
        self.counters.dropped.load(Relaxed)
    }

    /// Refreshes sent automatically so far (one at each half lifetime).
    pub fn automatic_refreshes(&self) -> u64 {
        self.counters.refreshes.load(Relaxed)
    }

    /// Refreshes the allocation now; the relay's answer.
    pub async fn refresh(&self) -> Result<Allocation, RelayError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Refresh(tx))
            .await
            .map_err(|_| self.end_reason())?;
        rx.await.map_err(|_| self.end_reason())?
    }

    /// Releases the allocation (Refresh with lifetime 0) and waits, at most `timeout`, for
    /// the relay to confirm; then closes the connection.
    pub async fn close(self, timeout: Duration) -> Result<(), RelayError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Close(tx))
            .await
            .map_err(|_| self.end_reason())?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(self.end_reason()),
            Err(_) => Err(RelayError::Timeout),
        }
    }

    /// Waits until the relay connection ends; why it did.
    pub async fn closed(&self) -> RelayError {
        let mut state = self.state.clone();
        match state.wait_for(|s| s.ended.is_some()).await {
            Ok(s) => s.ended.clone().unwrap_or(RelayError::Closed),
            Err(_) => self.end_reason(),
        }
    }

    fn end_reason(&self) -> RelayError {
        self.state
            .borrow()
            .ended
            .clone()
            .unwrap_or(RelayError::Closed)
    }
}
