//! A client driven by the controller (draft §3.1, §7; PROTOCOL.md §14; docs/contracts.md §3):
//! [`Agent`] connects the [`Client`] to the controller's WebSocket, advertises what it can do
//! and where it receives, and then does what the controller says, with no application code in
//! the loop:
//!
//! 1. **Proposal**: checked whole against the client's capabilities and key provider and
//!    accepted or rejected whole (the controller learns which).
//! 2. **Check**: a STUN2 request from our socket to the SFU candidate named, with a fresh
//!    random sender secret and the transaction ID the controller chose.
//! 3. **Checks to us** (downlink checks, direct or through our TURN2 relay): answered by the
//!    socket and reported to the controller (`checkReceived`).
//! 4. **Consent**: the secret the SFU saw is compared with the one we sent; only on a match is
//!    QUIC opened on that pair and the proposal's streams set up. The application receives
//!    the [`Call`] as [`AgentEvent::Joined`].
//!
//! When the local address changes ([`Agent::rebind`]), the socket moves (QUIC migrates the
//! flows on it), the controller connection is opened again from the new network (the old
//! one's TCP connection ends with the old address), the new candidates are advertised on it,
//! and the controller's new checks and consent confirm the new pair. When the controller sends a new proposal for a conference
//! (its node failed and it was placed again), the agent joins it on the new node and hands
//! over the new call.
//!
//! With [`RelayPolicy::Use`] the agent allocates at the first TURN2 relay the controller
//! offers (draft §3.3), advertises its inbound address as a `relay` candidate, and feeds
//! every relayed packet into the socket, so a client that cannot receive UDP directly still
//! gets its media.

use crate::client::{Call, Client, ClientError, RelayAllocation, TurnServer};
use crate::control::{AppliedProposal, ProposalRejection};
use crate::identity::Fingerprint;
use crate::relay::{Allocation, RelayConfig, RelayError};
use crate::signaling::{SignalingClient, SignalingClientError, SignalingEvent};
use crate::transport::{FlowOptions, ReceivedCheck, TransportError};
use newmedia_proto::control::{Capabilities as ControlCaps, Hello};
use newmedia_proto::signaling::{
    Address, Candidate, CandidateKind, CheckCommand, CheckReceived, Consent, HexSecret,
    HexTransactionId, Proposal, ProposalMessage, RelayInfo, parse_fingerprint,
};
use newmedia_proto::stun2::TransactionId;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Why the agent could not start or act.
#[derive(Debug, Error)]
pub enum AgentError {
    /// The controller connection failed.
    #[error(transparent)]
    Signaling(#[from] SignalingClientError),
    /// The client failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The advertisement could not be built from the capabilities.
    #[error("advertisement: {0}")]
    Advertisement(String),
    /// The TURN2 relay refused or failed (a bad credential is
    /// [`RelayError::is_bad_credential`], draft §6.1).
    #[error(transparent)]
    Relay(#[from] RelayError),
    /// The agent's task has ended.
    #[error("the agent has stopped")]
    Stopped,
}

/// Whether the agent uses a TURN2 relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelayPolicy {
    /// Never allocate; advertise only our own addresses (the default).
    #[default]
    Never,
    /// Allocate at the first relay the controller offers and advertise it as well.
    Use,
}

/// How the agent reaches the controller. `Default` has no URL: set [`AgentConfig::controller`]
/// and [`AgentConfig::token`].
#[derive(Debug, Clone, Default)]
pub struct AgentConfig {
    /// The controller's HTTP base URL, e.g. `http://127.0.0.1:7000`.
    pub controller: String,
    /// A client token from the controller (`POST /v1/tokens` with the app's API key).
    pub token: String,
    /// Our client ID, when the token's must be confirmed. Default `None`.
    pub client_id: Option<String>,
    /// TURN2 use. Default [`RelayPolicy::Never`].
    pub relay: RelayPolicy,
    /// Relay client settings. Default: [`RelayConfig::default`].
    pub relay_config: RelayConfig,
}

/// What the agent reports to the application.
#[derive(Debug)]
pub enum AgentEvent {
    /// The controller took our advertisement; it knows us as `client_id`.
    Welcome {
        /// Our client ID.
        client_id: String,
        /// The relays it offered.
        relays: Vec<RelayInfo>,
    },
    /// A relay allocation was made and advertised (the `Welcome` that follows is the
    /// controller's answer to that advertisement).
    Relayed(Allocation),
    /// A proposal was rejected whole (we told the controller).
    Rejected {
        /// The conference it was for.
        conference_id: u64,
        /// Why.
        reason: ProposalRejection,
    },
    /// A proposal was accepted, consent was proven and the call is connected.
    Joined {
        /// The conference.
        conference_id: u64,
        /// Our endpoint ID in it.
        endpoint_id: u64,
        /// The call: publishers and subscriptions.
        call: Call,
    },
    /// A new consent for a conference we are in arrived for the address the call already
    /// uses (for example after [`Agent::rebind`]): the flow migrated and goes on.
    Migrated {
        /// The conference.
        conference_id: u64,
        /// Our address as the SFU sees it now.
        observed: SocketAddr,
    },
    /// A conference ended or we left it.
    Ended {
        /// The conference.
        conference_id: u64,
        /// `"ended"` or `"left"`.
        reason: String,
    },
    /// Something failed that the application should know about (the agent goes on).
    Error(String),
}

enum Command {
    Rebind(SocketAddr, oneshot::Sender<Result<SocketAddr, AgentError>>),
}

/// A [`Client`] that follows the controller. Dropping it stops following (the calls handed
/// out keep running until dropped).
#[derive(Debug)]
pub struct Agent {
    client: Arc<Client>,
    events: mpsc::Receiver<AgentEvent>,
    commands: mpsc::Sender<Command>,
    task: JoinHandle<()>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Rebind(addr, _) => write!(f, "Rebind({addr})"),
        }
    }
}

impl Agent {
    /// Connects `client` to the controller and sends its advertisement.
    pub async fn start(client: Client, config: AgentConfig) -> Result<Self, AgentError> {
        let client = Arc::new(client);
        let url = crate::signaling::ws_url(&config.controller);
        let signaling = SignalingClient::connect(&url, &config.token).await?;
        let (events_tx, events) = mpsc::channel(64);
        let (commands, commands_rx) = mpsc::channel(8);
        let mut driver = Driver {
            client: client.clone(),
            signaling,
            config,
            events: events_tx,
            pending: HashMap::new(),
            checks: HashMap::new(),
            joined: HashMap::new(),
            relay: None,
        };
        driver.advertise()?;
        let task = tokio::spawn(driver.run(commands_rx));
        Ok(Self {
            client,
            events,
            commands,
            task,
        })
    }

    /// The client (identity, capabilities, endpoint).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The next event; `None` once the agent stopped (the controller closed the WebSocket).
    pub async fn next_event(&mut self) -> Option<AgentEvent> {
        self.events.recv().await
    }

    /// Waits for the next [`AgentEvent::Joined`] and returns its call, passing over other
    /// events (an error if the agent stops first).
    pub async fn next_call(&mut self) -> Result<(u64, Call), AgentError> {
        loop {
            match self.next_event().await.ok_or(AgentError::Stopped)? {
                AgentEvent::Joined {
                    conference_id,
                    call,
                    ..
                } => return Ok((conference_id, call)),
                AgentEvent::Rejected { reason, .. } => {
                    return Err(AgentError::Client(ClientError::Rejected(reason)));
                }
                _ => {}
            }
        }
    }

    /// Moves the client to a new local address (a network change): its flows migrate, the
    /// controller connection is opened again (from the new network), and the new candidates
    /// are advertised on it so the controller checks the new pairs. Returns the new local
    /// address.
    pub async fn rebind(&self, addr: SocketAddr) -> Result<SocketAddr, AgentError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Rebind(addr, tx))
            .await
            .map_err(|_| AgentError::Stopped)?;
        rx.await.map_err(|_| AgentError::Stopped)?
    }
}

struct PendingProposal {
    endpoint_id: u64,
    proposal: Proposal,
    applied: AppliedProposal,
}

struct SentCheck {
    conference_id: u64,
    to: SocketAddr,
    sender_secret: Vec<u8>,
}

struct Driver {
    client: Arc<Client>,
    signaling: SignalingClient,
    config: AgentConfig,
    events: mpsc::Sender<AgentEvent>,
    pending: HashMap<u64, PendingProposal>,
    checks: HashMap<String, SentCheck>,
    /// Conference -> the SFU address its call's flow goes to.
    joined: HashMap<u64, SocketAddr>,
    relay: Option<RelayAllocation>,
}

impl Driver {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        loop {
            tokio::select! {
                event = self.signaling.next_event() => match event {
                    Some(event) => self.handle(event).await,
                    None => return,
                },
                check = self.client.next_received_check() => {
                    if let Some(check) = check {
                        self.report(check);
                    }
                }
                command = commands.recv() => match command {
                    Some(Command::Rebind(addr, done)) => {
                        let result = self.rebind(addr).await;
                        let _ = done.send(result);
                    }
                    None => return,
                },
            }
        }
    }

    fn emit(&self, event: AgentEvent) {
        // The application may not be listening; the agent goes on either way.
        let _ = self.events.try_send(event);
    }

    /// Our candidates: the socket's address (one per interface address when bound to a
    /// wildcard) and the relay allocation's inbound address.
    fn candidates(&self) -> Result<Vec<Candidate>, AgentError> {
        let _gathering = self.client.begin_gathering();
        let endpoint = self.client.endpoint();
        let secret = String::from_utf8_lossy(endpoint.stun_secret()).into_owned();
        let bound = endpoint.local_addr()?;
        let mut out = Vec::new();
        if bound.ip().is_unspecified() {
            let caps = self.client.transport_capabilities()?;
            for a in caps.local_addresses {
                if a.ip.is_ipv4() == bound.is_ipv4() {
                    let addr = SocketAddr::new(a.ip, bound.port());
                    out.push(Candidate::new(
                        CandidateKind::Local,
                        Address::new(addr),
                        secret.clone(),
                    ));
                }
            }
        } else {
            out.push(Candidate::new(
                CandidateKind::Local,
                Address::new(bound),
                secret.clone(),
            ));
        }
        if let Some(a) = self.relay.as_ref().and_then(|r| r.relay().allocation()) {
            out.push(Candidate::new(
                CandidateKind::Relay,
                Address::new(a.inbound),
                secret,
            ));
        }
        Ok(out)
    }

    fn advertise(&mut self) -> Result<(), AgentError> {
        let candidates = self.candidates()?;
        let ad = self
            .client
            .capabilities()
            .advertisement(&candidates)
            .map_err(|e| AgentError::Advertisement(e.to_string()))?;
        self.signaling.advertise(
            self.config.client_id.as_deref(),
            &self.client.fingerprint().to_hex(),
            ad,
        )?;
        Ok(())
    }

    /// Moves the socket, then opens a new controller connection before advertising the new
    /// candidates: the WebSocket's TCP connection went out from the old network and dies
    /// with its address, so the new checks and consent would never arrive on it. If the new
    /// connection cannot be opened, the old one is kept (it may still work) and the failure
    /// is reported as an [`AgentEvent::Error`].
    async fn rebind(&mut self, addr: SocketAddr) -> Result<SocketAddr, AgentError> {
        let new = self.client.endpoint().rebind(addr)?;
        let url = crate::signaling::ws_url(&self.config.controller);
        match SignalingClient::connect(&url, &self.config.token).await {
            // The old connection closes as it is dropped.
            Ok(signaling) => self.signaling = signaling,
            Err(e) => self.emit(AgentEvent::Error(format!(
                "cannot reconnect to the controller after the address change: {e}"
            ))),
        }
        self.advertise()?;
        Ok(new)
    }

    async fn handle(&mut self, event: SignalingEvent) {
        match event {
            SignalingEvent::Welcome(w) => {
                let relays = w.relays.clone();
                self.emit(AgentEvent::Welcome {
                    client_id: w.client_id,
                    relays: w.relays,
                });
                if self.config.relay == RelayPolicy::Use && self.relay.is_none() {
                    self.allocate(&relays).await;
                }
            }
            SignalingEvent::Proposal(message) => self.proposal(message),
            SignalingEvent::InvalidProposal { proposal_id, error } => {
                self.emit(AgentEvent::Error(format!(
                    "proposal {proposal_id} was invalid and rejected: {error}"
                )));
            }
            SignalingEvent::Check(check) => self.check(check),
            SignalingEvent::Consent(consent) => self.consent(consent),
            SignalingEvent::ConferenceEnded(ended) => {
                self.pending.remove(&ended.conference_id);
                self.joined.remove(&ended.conference_id);
                self.emit(AgentEvent::Ended {
                    conference_id: ended.conference_id,
                    reason: ended.reason,
                });
            }
            SignalingEvent::Error(e) => {
                self.emit(AgentEvent::Error(format!("{}: {}", e.code, e.message)));
            }
            SignalingEvent::Pong(_) | SignalingEvent::Unknown(_) => {}
        }
    }

    async fn allocate(&mut self, relays: &[RelayInfo]) {
        let Some(info) = relays.first() else {
            self.emit(AgentEvent::Error(
                "a relay is wanted but the controller offered none".into(),
            ));
            return;
        };
        let Some(pin) = parse_fingerprint(&info.tls_fingerprint_sha256) else {
            self.emit(AgentEvent::Error(format!(
                "relay {} has no usable fingerprint",
                info.service.as_str()
            )));
            return;
        };
        let server = TurnServer {
            service: info.service.socket_addr(),
            fingerprint: Fingerprint(pin),
        };
        match self
            .client
            .allocate_relay(&server, &self.config.relay_config)
            .await
        {
            Ok(relay) => {
                let allocation = relay.allocation();
                self.relay = Some(relay);
                // Advertised first: `Relayed` says the relay candidate is on its way to the
                // controller (whose next `welcome` confirms it took it).
                match self.advertise() {
                    Ok(()) => self.emit(AgentEvent::Relayed(allocation)),
                    Err(e) => self.emit(AgentEvent::Error(e.to_string())),
                }
            }
            Err(e) => self.emit(AgentEvent::Error(format!("relay allocation failed: {e}"))),
        }
    }

    fn proposal(&mut self, message: ProposalMessage) {
        match self.client.check_proposal(&message.proposal) {
            Ok(applied) => {
                if let Err(e) = self.signaling.accept(&message.proposal_id) {
                    self.emit(AgentEvent::Error(e.to_string()));
                    return;
                }
                self.pending.insert(
                    message.conference_id,
                    PendingProposal {
                        endpoint_id: message.endpoint_id,
                        proposal: message.proposal,
                        applied,
                    },
                );
            }
            Err(reason) => {
                let _ = self
                    .signaling
                    .reject(&message.proposal_id, &reason.to_string());
                self.emit(AgentEvent::Rejected {
                    conference_id: message.conference_id,
                    reason,
                });
            }
        }
    }

    fn check(&mut self, command: CheckCommand) {
        let sender_secret: [u8; 16] = rand::random();
        let to = command.to.socket_addr();
        self.checks.insert(
            command.check_id.clone(),
            SentCheck {
                conference_id: command.conference_id,
                to,
                sender_secret: sender_secret.to_vec(),
            },
        );
        let endpoint = self.client.endpoint().clone();
        let events = self.events.clone();
        let secret = command.stun_secret.into_bytes();
        let id = TransactionId(command.transaction_id.0);
        tokio::spawn(async move {
            // Unanswered is fine: the receiver's report to the controller is what counts
            // (our inbound UDP may be blocked, the answer then never reaches us).
            if let Err(e) = endpoint
                .check_with_id(to, &secret, &sender_secret, Some(id))
                .await
            {
                let _ = events.try_send(AgentEvent::Error(format!("check to {to}: {e}")));
            }
        });
    }

    fn report(&self, check: ReceivedCheck) {
        let report = CheckReceived {
            from: Address::new(check.from),
            to: Address::new(check.to),
            transaction_id: HexTransactionId(check.transaction_id.0),
            sender_secret: HexSecret(check.sender_secret.as_bytes().to_vec()),
        };
        if let Err(e) = self.signaling.check_received(report) {
            self.emit(AgentEvent::Error(e.to_string()));
        }
    }

    fn consent(&mut self, consent: Consent) {
        let Some(sent) = self.checks.remove(&consent.check_id) else {
            self.emit(AgentEvent::Error(format!(
                "consent for unknown check {}",
                consent.check_id
            )));
            return;
        };
        if !consent
            .sender_secret
            .constant_time_eq(&HexSecret(sent.sender_secret.clone()))
        {
            self.emit(AgentEvent::Error(format!(
                "consent for check {} carries another secret than we sent; not using the pair",
                consent.check_id
            )));
            return;
        }
        let conference_id = sent.conference_id;
        if self.joined.get(&conference_id) == Some(&sent.to) {
            self.emit(AgentEvent::Migrated {
                conference_id,
                observed: consent.observed.socket_addr(),
            });
            return;
        }
        let Some(pending) = self.pending.get(&conference_id) else {
            self.emit(AgentEvent::Error(format!(
                "consent for conference {conference_id} without an accepted proposal"
            )));
            return;
        };
        let target = pending
            .applied
            .send_to
            .iter()
            .find(|t| t.address.socket_addr() == sent.to)
            .or_else(|| pending.applied.send_to.first());
        let Some(target) = target else {
            self.emit(AgentEvent::Error(format!(
                "the proposal for conference {conference_id} has no sendTo"
            )));
            return;
        };
        self.joined.insert(conference_id, sent.to);
        let pin = Fingerprint(target.fingerprint);
        let endpoint_id = pending.endpoint_id;
        let proposal = pending.proposal.clone();
        let client = self.client.clone();
        let events = self.events.clone();
        let to = sent.to;
        tokio::spawn(async move {
            let hello = Hello::new(endpoint_id, ControlCaps::RETRANSMISSION);
            let joined = async {
                let flow = client
                    .endpoint()
                    .connect(to, pin, hello, FlowOptions::default())
                    .await
                    .map_err(ClientError::from)?;
                client.join_on(&proposal, flow).await
            };
            let event = match joined.await {
                Ok(call) => AgentEvent::Joined {
                    conference_id,
                    endpoint_id,
                    call,
                },
                Err(e) => AgentEvent::Error(format!(
                    "joining conference {conference_id} at {to} failed: {e}"
                )),
            };
            let _ = events.send(event).await;
        });
    }
}
