//! One local address of the client: a [`ClientSocket`] bound to it, the quinn endpoint on top,
//! and the STUN2 agent beside it. Flows to SFUs are opened from here ([`ClientEndpoint::connect`]),
//! Snowflake checks are sent from here ([`ClientEndpoint::check`]), and when the address
//! changes the endpoint moves to a new socket ([`ClientEndpoint::rebind`]) and every flow on it
//! migrates (QUIC connection migration), so media continues.

use super::TransportError;
use super::flow::{Flow, FlowOptions};
use super::socket::{ClientSocket, Injector};
use super::stats::{SocketStats, SocketStatsSnapshot};
use super::stun::{ReceivedCheck, StunAgent, StunOutcome};
use crate::identity::{Fingerprint, Identity};
use crate::tls;
use newmedia_proto::control::Hello;
use newmedia_proto::stun2::{TransactionConfig, TransactionId};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Settings of a [`ClientEndpoint`]. `Default` binds nothing by itself; see each setter.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    stun_secret: Vec<u8>,
    stun_transactions: TransactionConfig,
    keep_alive: Duration,
    idle_timeout: Duration,
    datagram_receive_buffer: usize,
    datagram_send_buffer: usize,
    ack_threshold: u32,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            stun_secret: Vec::new(),
            stun_transactions: TransactionConfig::default(),
            keep_alive: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            datagram_receive_buffer: 4 << 20,
            datagram_send_buffer: 1 << 20,
            ack_threshold: 10,
        }
    }
}

impl EndpointConfig {
    /// The `stunSecret` of this endpoint's candidates: STUN2 requests to us must open under
    /// it. Default: empty, which [`Client::start`](crate::client::Client::start) replaces by
    /// a random secret (an endpoint bound directly answers only the public, empty secret).
    pub fn stun_secret(&mut self, secret: impl Into<Vec<u8>>) -> &mut Self {
        self.stun_secret = secret.into();
        self
    }

    /// Retransmission schedule of our STUN2 requests. Default: proto's
    /// [`TransactionConfig::default`] (libwebrtc's timers).
    pub fn stun_transactions(&mut self, config: TransactionConfig) -> &mut Self {
        self.stun_transactions = config;
        self
    }

    /// QUIC keep-alive interval. Default 5 s.
    pub fn keep_alive(&mut self, interval: Duration) -> &mut Self {
        self.keep_alive = interval;
        self
    }

    /// QUIC idle timeout: a flow that hears nothing for this long is closed. Default 30 s.
    pub fn idle_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.idle_timeout = timeout;
        self
    }

    /// Bytes of received datagrams quinn buffers before dropping. Default 4 MiB.
    pub fn datagram_receive_buffer(&mut self, bytes: usize) -> &mut Self {
        self.datagram_receive_buffer = bytes;
        self
    }

    /// How many ack-eliciting packets the SFU may receive from us before it must acknowledge
    /// them (QUIC ACK frequency extension; it still acknowledges at least every 25 ms or RTT).
    /// A publisher's media needs no per-packet ACKs, and every ACK costs the SFU a packet to
    /// send. 1 is QUIC's own default (every other packet). Default 10.
    pub fn ack_threshold(&mut self, packets: u32) -> &mut Self {
        self.ack_threshold = packets;
        self
    }

    /// Bytes of outgoing datagrams quinn queues before dropping the oldest. Default 1 MiB.
    pub fn datagram_send_buffer(&mut self, bytes: usize) -> &mut Self {
        self.datagram_send_buffer = bytes;
        self
    }

    /// The STUN2 secret set.
    pub fn stun_secret_value(&self) -> &[u8] {
        &self.stun_secret
    }

    pub(crate) fn quic_transport(&self) -> quinn::TransportConfig {
        let mut t = quinn::TransportConfig::default();
        t.keep_alive_interval(Some(self.keep_alive));
        if let Ok(idle) = quinn::IdleTimeout::try_from(self.idle_timeout) {
            t.max_idle_timeout(Some(idle));
        }
        t.datagram_receive_buffer_size(Some(self.datagram_receive_buffer));
        t.datagram_send_buffer_size(self.datagram_send_buffer);
        let mut ack = quinn::AckFrequencyConfig::default();
        ack.ack_eliciting_threshold(quinn::VarInt::from_u32(self.ack_threshold));
        t.ack_frequency_config(Some(ack));
        t
    }
}

#[derive(Debug)]
struct Inner {
    endpoint: quinn::Endpoint,
    socket: Mutex<Arc<ClientSocket>>,
    stun: Arc<StunAgent>,
    injector: Injector,
    stats: Arc<SocketStats>,
    identity: Identity,
    config: EndpointConfig,
}

/// A client's QUIC + STUN2 endpoint on one local address. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct ClientEndpoint {
    inner: Arc<Inner>,
}

impl ClientEndpoint {
    /// Binds `addr` (port 0 picks a free port) for `identity`. Returns the endpoint and the
    /// checks others send to it (Snowflake receiver reports). Must be called inside a tokio
    /// runtime.
    pub fn bind(
        addr: SocketAddr,
        identity: Identity,
        config: EndpointConfig,
    ) -> Result<(Self, mpsc::Receiver<ReceivedCheck>), TransportError> {
        let stats = Arc::new(SocketStats::default());
        let (mut agent, checks) = StunAgent::new(&config.stun_secret, stats.clone());
        agent.set_transaction_config(config.stun_transactions);
        let stun = Arc::new(agent);
        let injector = Injector::new(stats.clone());
        let socket = Arc::new(
            ClientSocket::bind(addr, stun.clone(), injector.clone(), stats.clone())
                .map_err(|source| TransportError::Bind { addr, source })?,
        );
        let mut quic = quinn::EndpointConfig::default();
        // STUN2 shares the socket: QUIC's fixed bit must stay set (PROTOCOL.md §7).
        quic.grease_quic_bit(false);
        let endpoint = quinn::Endpoint::new_with_abstract_socket(
            quic,
            None,
            socket.clone(),
            Arc::new(quinn::TokioRuntime),
        )
        .map_err(|source| TransportError::Bind { addr, source })?;
        let inner = Inner {
            endpoint,
            socket: Mutex::new(socket),
            stun,
            injector,
            stats,
            identity,
            config,
        };
        Ok((
            Self {
                inner: Arc::new(inner),
            },
            checks,
        ))
    }

    /// The local address in use now (changes on [`rebind`](Self::rebind)).
    pub fn local_addr(&self) -> Result<SocketAddr, TransportError> {
        self.inner.endpoint.local_addr().map_err(TransportError::Io)
    }

    /// Our identity (certificate and key).
    pub fn identity(&self) -> &Identity {
        &self.inner.identity
    }

    /// Our certificate's fingerprint (what the controller registers for us).
    pub fn fingerprint(&self) -> Fingerprint {
        self.inner.identity.fingerprint()
    }

    /// Where a TURN2 relay client hands the packets it receives for us.
    pub fn injector(&self) -> Injector {
        self.inner.injector.clone()
    }

    /// The socket counters (cumulative across rebinds).
    pub fn stats(&self) -> SocketStatsSnapshot {
        self.inner.stats.snapshot()
    }

    fn socket(&self) -> Result<Arc<ClientSocket>, TransportError> {
        self.inner
            .socket
            .lock()
            .map(|s| Arc::clone(&s))
            .map_err(|_| TransportError::Closed)
    }

    /// Asks the STUN2 server at `server` (whose secret is `secret`, empty for a public
    /// server) for our address as it sees it: the server-reflexive candidate (draft §6.1).
    pub async fn reflexive_address(
        &self,
        server: SocketAddr,
        secret: &[u8],
    ) -> Result<StunOutcome, TransportError> {
        let socket = self.socket()?;
        Ok(self
            .inner
            .stun
            .transact(&socket, server, secret, None, None)
            .await?)
    }

    /// Sends a Snowflake check (docs/contracts.md §3): a STUN2 request from this endpoint to
    /// `to`, keyed by the receiver's `stun_secret`, carrying `sender_secret`. Resolves when the
    /// receiver answers; an unanswered check (the receiver cannot answer us directly, e.g.
    /// our inbound UDP is blocked) still proves itself to the controller through the
    /// receiver's report.
    pub async fn check(
        &self,
        to: SocketAddr,
        stun_secret: &[u8],
        sender_secret: &[u8],
    ) -> Result<StunOutcome, TransportError> {
        self.check_with_id(to, stun_secret, sender_secret, None)
            .await
    }

    /// [`check`](Self::check) with the transaction ID the controller chose (PROTOCOL.md §14:
    /// it matches the receiver's report by it); `None` picks one at random.
    pub async fn check_with_id(
        &self,
        to: SocketAddr,
        stun_secret: &[u8],
        sender_secret: &[u8],
        transaction_id: Option<TransactionId>,
    ) -> Result<StunOutcome, TransportError> {
        let socket = self.socket()?;
        Ok(self
            .inner
            .stun
            .transact(
                &socket,
                to,
                stun_secret,
                Some(sender_secret),
                transaction_id,
            )
            .await?)
    }

    /// The `stunSecret` our candidates carry: STUN2 requests to us must open under it.
    pub fn stun_secret(&self) -> &[u8] {
        &self.inner.config.stun_secret
    }

    /// Moves to a new local address (network change). Every flow on this endpoint migrates:
    /// quinn sends from the new socket and the far side validates the new path. Returns the
    /// new local address.
    pub fn rebind(&self, addr: SocketAddr) -> Result<SocketAddr, TransportError> {
        let socket = Arc::new(
            ClientSocket::bind(
                addr,
                self.inner.stun.clone(),
                self.inner.injector.clone(),
                self.inner.stats.clone(),
            )
            .map_err(|source| TransportError::Bind { addr, source })?,
        );
        self.inner
            .endpoint
            .rebind_abstract(socket.clone())
            .map_err(|source| TransportError::Bind { addr, source })?;
        if let Ok(mut current) = self.inner.socket.lock() {
            *current = socket;
        }
        self.local_addr()
    }

    /// Opens a flow (draft §6.3) to the SFU at `remote`, accepting only the certificate with
    /// fingerprint `pin`, and introduces us with `hello`. Resolves once the SFU's Hello
    /// arrives, or with [`TransportError::Refused`] and the SFU's reason.
    pub async fn connect(
        &self,
        remote: SocketAddr,
        pin: Fingerprint,
        hello: Hello,
        options: FlowOptions,
    ) -> Result<Flow, TransportError> {
        let crypto = tls::quic_client_config(&self.inner.identity, pin, options.cipher)?;
        let mut config = quinn::ClientConfig::new(crypto);
        config.transport_config(Arc::new(self.inner.config.quic_transport()));
        let connecting = self
            .inner
            .endpoint
            .connect_with(config, remote, "newmedia-sfu")?;
        let conn = connecting.await?;
        Flow::establish(self.clone(), conn, pin, hello, options).await
    }

    /// Closes every flow on this endpoint with application code 0 and waits until the
    /// far sides were told (bounded by quinn's own close timeout).
    pub async fn close(&self) {
        self.inner.endpoint.close(0u32.into(), b"bye");
        self.inner.endpoint.wait_idle().await;
    }
}
