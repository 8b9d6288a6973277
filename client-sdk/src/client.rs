//! The object a conference app embeds: [`Client`] holds the endpoint's identity, its
//! capabilities (draft §6.1/§6.2) and its QUIC/STUN2 endpoint; [`Client::join`] applies a
//! proposal (draft §7, §8) in one call — accepted whole and connected, or rejected whole with
//! the reason — and returns the [`Call`] with its publishers and subscriptions.

use crate::codec::data::DataCodec;
use crate::control::{
    AppliedProposal, AppliedReceiveStream, AppliedSendStream, Capabilities, KeyProvider,
    MediaConfiguration, ProposalRejection, StaticKeys,
};
use crate::identity::{Fingerprint, Identity, IdentityError};
use crate::media::EncodingIds;
use crate::media::{MediaKind, Reporter, ReporterConfig, ReporterStats, SyncGroup};
use crate::relay::{Allocation, RelayClient, RelayConfig, RelayError};
use crate::session::{
    AudioSendSettings, DataPublisher, KeyRing, Publisher, PublisherKind, PublisherSecret,
    ReceiveSettings, SessionError, Subscription, SubscriptionConfig, VideoSendSettings,
};
use crate::session::{FecReceive, FecSender, Playout};
use crate::transport::gather::{self, GatherPolicy, LocalAddress};
use crate::transport::{
    ClientEndpoint, EndpointConfig, Flow, FlowMetrics, FlowOptions, ReceivedCheck, StunOutcome,
    TransportError,
};
use newmedia_proto::control::{Capabilities as ControlCaps, Hello, SubscribeTarget};
use newmedia_proto::crypto::Algorithm;
use newmedia_proto::signaling::{MediaType, Proposal};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, watch};

/// Why a client could not start or join.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The identity could not be made.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The transport failed (bind, connect, refused).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The proposal was rejected whole; nothing changed.
    #[error("proposal rejected: {0}")]
    Rejected(#[from] ProposalRejection),
    /// The proposal was valid but no `sendTo` candidate could be connected.
    #[error("no sendTo candidate could be connected: {0}")]
    Unreachable(String),
    /// A publisher or subscription could not be set up.
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// A TURN2 server to allocate at (draft §6.1 "set the IP, port, and credential for each TURN2
/// server"): its TLS service address and the fingerprint of its certificate (the credential
/// is our own certificate, registered with the relay out of band).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnServer {
    /// TCP address of the relay's TLS service.
    pub service: SocketAddr,
    /// SHA-256 of the relay's certificate.
    pub fingerprint: Fingerprint,
}

/// A TURN2 allocation whose relayed packets are fed into the client's socket (draft §3.3,
/// §6.1). Dropping it releases the allocation and stops the feed.
#[derive(Debug)]
pub struct RelayAllocation {
    relay: RelayClient,
    allocation: Allocation,
    feed: tokio::task::JoinHandle<()>,
}

impl RelayAllocation {
    /// The allocation: its `inbound` address is the `relay` candidate to advertise.
    pub fn allocation(&self) -> Allocation {
        self.allocation
    }

    /// The relay client (refresh, close, counters).
    pub fn relay(&self) -> &RelayClient {
        &self.relay
    }
}

impl Drop for RelayAllocation {
    fn drop(&mut self) {
        self.feed.abort();
    }
}

/// Gathering state (draft §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatheringState {
    /// Nothing gathered yet.
    New,
    /// Gathering candidates.
    Gathering,
    /// Every candidate source answered or gave up.
    Complete,
}

/// What the transport can do (draft §6.1).
#[derive(Debug, Clone)]
pub struct TransportCapabilities {
    /// The host's interface addresses usable for receiving media.
    pub local_addresses: Vec<LocalAddress>,
    /// Where our endpoint is bound now.
    pub bound: SocketAddr,
    /// SHA-256 fingerprint of our certificate.
    pub fingerprint: Fingerprint,
    /// The AEADs our messages can use.
    pub aeads: Vec<Algorithm>,
    /// The TURN2 servers configured.
    pub turn_servers: Vec<TurnServer>,
}

/// How a [`Client`] starts. `Default`: a fresh self-signed identity, no sources or sinks,
/// bound to `127.0.0.1:0`, no key provider entries.
pub struct ClientConfig {
    identity: Option<Identity>,
    capabilities: Capabilities,
    keys: Arc<dyn KeyProvider + Send + Sync>,
    bind: SocketAddr,
    endpoint: EndpointConfig,
    subscription: SubscriptionConfig,
    turn_servers: Vec<TurnServer>,
    connect_timeout: Duration,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("bind", &self.bind)
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            identity: None,
            capabilities: Capabilities::new(),
            keys: Arc::new(StaticKeys::new()),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            endpoint: EndpointConfig::default(),
            subscription: SubscriptionConfig::default(),
            turn_servers: Vec::new(),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl ClientConfig {
    /// The certificate and key to use. Default: a fresh self-signed one.
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// What the endpoint can send and receive (draft §6.2). Default: nothing.
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Where `secretRef`s are resolved (draft §5.6). Default: an empty [`StaticKeys`].
    pub fn keys(mut self, keys: impl KeyProvider + Send + Sync + 'static) -> Self {
        self.keys = Arc::new(keys);
        self
    }

    /// The local address to bind (port 0 picks one). Default `127.0.0.1:0`.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Endpoint settings (STUN2 secret, QUIC timers, buffers). Default:
    /// [`EndpointConfig::default`].
    pub fn endpoint(mut self, config: EndpointConfig) -> Self {
        self.endpoint = config;
        self
    }

    /// Subscription pipeline settings. Default: [`SubscriptionConfig::default`].
    pub fn subscription(mut self, config: SubscriptionConfig) -> Self {
        self.subscription = config;
        self
    }

    /// TURN2 servers to allocate at (draft §6.1). Default: none.
    pub fn turn_servers(mut self, servers: Vec<TurnServer>) -> Self {
        self.turn_servers = servers;
        self
    }

    /// How long joining waits for each `sendTo` candidate. Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// A conference endpoint: identity, capabilities, endpoint. Cheap to share behind an `Arc`.
pub struct Client {
    config: ClientConfig,
    endpoint: ClientEndpoint,
    checks: tokio::sync::Mutex<mpsc::Receiver<ReceivedCheck>>,
    media: Mutex<MediaConfiguration>,
    gathering: Gathering,
}

/// The gathering state (draft §6.5) and how many gatherings run: `Gathering` while any does,
/// `Complete` once the last one ended.
struct Gathering {
    state: watch::Sender<GatheringState>,
    running: Mutex<usize>,
}

impl Gathering {
    fn begin(&self) -> GatheringGuard<'_> {
        if let Ok(mut n) = self.running.lock() {
            *n += 1;
            self.state.send_replace(GatheringState::Gathering);
        }
        GatheringGuard(self)
    }
}

/// One gathering in progress; dropping it ends it.
pub(crate) struct GatheringGuard<'a>(&'a Gathering);

impl Drop for GatheringGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut n) = self.0.running.lock() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.0.state.send_replace(GatheringState::Complete);
            }
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts a client: makes or takes the identity and binds the endpoint. Must run inside a
    /// tokio runtime.
    pub fn start(mut config: ClientConfig) -> Result<Self, ClientError> {
        let identity = match config.identity.take() {
            Some(i) => i,
            None => Identity::self_signed()?,
        };
        let mut endpoint_config = config.endpoint.clone();
        if endpoint_config.stun_secret_value().is_empty() {
            // Our candidates' stunSecret: only those given it by signaling can check us.
            let secret: [u8; 16] = rand::random();
            let text: String = secret.iter().map(|b| format!("{b:02x}")).collect();
            endpoint_config.stun_secret(text.into_bytes());
        }
        let (endpoint, checks) = ClientEndpoint::bind(config.bind, identity, endpoint_config)?;
        let (state, _) = watch::channel(GatheringState::New);
        Ok(Self {
            config,
            endpoint,
            checks: tokio::sync::Mutex::new(checks),
            media: Mutex::new(MediaConfiguration::new()),
            gathering: Gathering {
                state,
                running: Mutex::new(0),
            },
        })
    }

    /// The endpoint (for Snowflake checks, rebinding, relay injection).
    pub fn endpoint(&self) -> &ClientEndpoint {
        &self.endpoint
    }

    /// Our identity (certificate and key).
    pub fn identity(&self) -> &Identity {
        self.endpoint.identity()
    }

    /// Our certificate's fingerprint (draft §6.1).
    pub fn fingerprint(&self) -> Fingerprint {
        self.endpoint.fingerprint()
    }

    /// The media capabilities (draft §6.2).
    pub fn capabilities(&self) -> &Capabilities {
        &self.config.capabilities
    }

    /// The transport capabilities (draft §6.1).
    pub fn transport_capabilities(&self) -> Result<TransportCapabilities, ClientError> {
        let local_addresses = gather::local_addresses(GatherPolicy {
            loopback: true,
            ..GatherPolicy::default()
        })
        .map_err(TransportError::Io)?;
        Ok(TransportCapabilities {
            local_addresses,
            bound: self.endpoint.local_addr()?,
            fingerprint: self.fingerprint(),
            aeads: self.config.capabilities.aeads.clone(),
            turn_servers: self.config.turn_servers.clone(),
        })
    }

    /// Our server-reflexive address as the STUN2 server at `server` sees it (draft §6.1:
    /// "return the IP, port tuple for the remote side to send to"); updates the gathering
    /// state (draft §6.5).
    pub async fn reflexive_address(
        &self,
        server: SocketAddr,
        secret: &[u8],
    ) -> Result<StunOutcome, ClientError> {
        let gathering = self.gathering.begin();
        let result = self.endpoint.reflexive_address(server, secret).await;
        drop(gathering);
        Ok(result?)
    }

    /// Allocates at the TURN2 server (draft §6.1 "set the IP, port, and credential for each
    /// TURN2 server"; our certificate is the credential) and feeds every relayed packet into
    /// our socket, so QUIC and STUN2 work through the relay. A bad credential (a fingerprint
    /// the relay does not know, or another one) is an error with
    /// [`RelayError::is_bad_credential`].
    pub async fn allocate_relay(
        &self,
        server: &TurnServer,
        config: &RelayConfig,
    ) -> Result<RelayAllocation, RelayError> {
        let gathering = self.gathering.begin();
        let connected =
            RelayClient::connect(self.identity(), server.service, server.fingerprint, config).await;
        drop(gathering);
        let (relay, mut packets) = connected?;
        let allocation = relay.allocation().ok_or(RelayError::Closed)?;
        let injector = self.endpoint.injector();
        let via = allocation.inbound;
        let feed = tokio::spawn(async move {
            while let Some((source, packet)) = packets.recv().await {
                injector.inject(source, via, packet);
            }
        });
        Ok(RelayAllocation {
            relay,
            allocation,
            feed,
        })
    }

    /// Allocates at every configured TURN2 server ([`ClientConfig::turn_servers`]), in order;
    /// each result separately, so one bad server does not hide the others.
    pub async fn allocate_configured_relays(
        &self,
        config: &RelayConfig,
    ) -> Vec<Result<RelayAllocation, RelayError>> {
        let mut out = Vec::new();
        for server in &self.config.turn_servers {
            out.push(self.allocate_relay(server, config).await);
        }
        out
    }

    /// Gathering state (draft §6.5): `New` until candidates are first gathered, `Gathering`
    /// while any gathering runs (local addresses, a STUN2 reflexive address, a TURN2
    /// allocation), `Complete` once every one has ended.
    pub fn gathering_state(&self) -> watch::Receiver<GatheringState> {
        self.gathering.state.subscribe()
    }

    /// Marks a gathering of candidates in progress until the guard is dropped.
    pub(crate) fn begin_gathering(&self) -> GatheringGuard<'_> {
        self.gathering.begin()
    }

    /// The next STUN2 check someone sent us (for the controller, draft §3.1).
    pub async fn next_received_check(&self) -> Option<ReceivedCheck> {
        self.checks.lock().await.recv().await
    }

    /// The proposal in force, if one was accepted.
    pub fn current_proposal(&self) -> Option<AppliedProposal> {
        self.media.lock().ok().and_then(|m| m.current().cloned())
    }

    /// Checks `proposal` without applying it: what [`join`](Self::join) would accept.
    pub fn check_proposal(
        &self,
        proposal: &Proposal,
    ) -> Result<AppliedProposal, ProposalRejection> {
        MediaConfiguration::new().apply(
            proposal,
            &self.config.capabilities,
            self.config.keys.as_ref(),
        )
    }

    /// Applies `proposal` in one call: checks it whole against our capabilities and key
    /// provider ([`ClientError::Rejected`] changes nothing), connects to its `sendTo`
    /// candidates in order until one admits us, then sets up every send stream and
    /// subscribes every receive stream.
    pub async fn join(&self, proposal: &Proposal) -> Result<Call, ClientError> {
        let applied = self.check_proposal(proposal)?;
        let flow = self.connect_first(&applied, FlowOptions::default()).await?;
        let call = Call::build(flow, &applied, &self.config.subscription).await?;
        if let Ok(mut m) = self.media.lock() {
            let _ = m.accept(
                proposal,
                &self.config.capabilities,
                self.config.keys.as_ref(),
            );
        }
        Ok(call)
    }

    /// Like [`join`](Self::join) but on a flow the caller opened (after Snowflake consent on
    /// a chosen pair, for instance).
    pub async fn join_on(&self, proposal: &Proposal, flow: Flow) -> Result<Call, ClientError> {
        let applied = self.check_proposal(proposal)?;
        let call = Call::build(flow, &applied, &self.config.subscription).await?;
        if let Ok(mut m) = self.media.lock() {
            let _ = m.accept(
                proposal,
                &self.config.capabilities,
                self.config.keys.as_ref(),
            );
        }
        Ok(call)
    }

    async fn connect_first(
        &self,
        applied: &AppliedProposal,
        options: FlowOptions,
    ) -> Result<Flow, ClientError> {
        let endpoint_id = own_endpoint_id(applied);
        let mut errors = Vec::new();
        for target in &applied.send_to {
            let addr = target.address.socket_addr();
            let hello = Hello::new(endpoint_id, ControlCaps::RETRANSMISSION);
            let attempt = tokio::time::timeout(
                self.config.connect_timeout,
                self.endpoint.connect(
                    addr,
                    Fingerprint(target.fingerprint),
                    hello,
                    options.clone(),
                ),
            )
            .await;
            match attempt {
                Ok(Ok(flow)) => return Ok(flow),
                Ok(Err(e)) => errors.push(format!("{addr}: {e}")),
                Err(_) => errors.push(format!("{addr}: timed out")),
            }
        }
        if errors.is_empty() {
            errors.push("the proposal has no sendTo candidate".into());
        }
        Err(ClientError::Unreachable(errors.join("; ")))
    }

    /// Closes every flow and waits until the far sides were told.
    pub async fn close(&self) {
        self.endpoint.close().await;
    }
}

/// Our endpoint ID: the one our send streams carry (every send stream of a proposal is ours).
fn own_endpoint_id(applied: &AppliedProposal) -> u64 {
    applied
        .send_streams
        .first()
        .map(|s| s.endpoint_id)
        .unwrap_or_default()
}

/// (conference, endpoint) of a sender, as a receive stream names it.
type SenderKey = (Option<u64>, Option<u64>);

/// A publisher of a call: media or data.
#[derive(Debug)]
pub enum CallPublisher {
    /// Audio or video.
    Media(Publisher),
    /// A data encoding.
    Data(DataPublisher, DataCodec),
}

/// A subscription of a call, with the receive settings it came with.
#[derive(Debug)]
pub struct CallSubscription {
    /// The receive stream's settings (codec, sink, lip-sync flag).
    pub settings: ReceiveSettings,
    /// The publishing endpoint, when the proposal named it.
    pub endpoint_id: Option<u64>,
    /// The publisher's source, when the proposal named it.
    pub source_id: Option<u64>,
    /// The subscription.
    pub subscription: Subscription,
}

/// An applied, connected proposal: the flow, a publisher per send stream, a subscription per
/// receive stream.
#[derive(Debug)]
pub struct Call {
    flow: Flow,
    publishers: Vec<(AppliedSendStream, CallPublisher)>,
    subscriptions: Vec<Option<CallSubscription>>,
    reporter: Arc<Mutex<Reporter>>,
    reports: tokio::task::JoinHandle<()>,
}

impl Drop for Call {
    fn drop(&mut self) {
        self.reports.abort();
    }
}

/// How often the report task looks again while the reporter has no report scheduled
/// (nothing received yet): its schedule puts at least 100 ms between reports anyway.
const REPORT_IDLE_POLL: Duration = Duration::from_millis(100);

/// Sends the designated reporter's compound ReceiverReports to the SFU when they are due,
/// waking at the reporter's own schedule rather than polling it.
async fn send_reports(flow: Flow, reporter: Arc<Mutex<Reporter>>) {
    loop {
        let due = {
            let Ok(r) = reporter.lock() else { return };
            r.poll_timeout()
        };
        match due {
            Some(at) => tokio::time::sleep_until(at.into()).await,
            None => tokio::time::sleep(REPORT_IDLE_POLL).await,
        }
        let frame = {
            let Ok(mut r) = reporter.lock() else { return };
            r.set_rtt(Some(flow.connection().rtt()));
            r.poll_report(crate::clock::now())
        };
        match frame {
            Ok(Some(frame)) => {
                if flow.send_control_frame(&frame).await.is_err() {
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => tracing::debug!(error = %e, "receiver report skipped"),
        }
    }
}

impl Call {
    async fn build(
        flow: Flow,
        applied: &AppliedProposal,
        config: &SubscriptionConfig,
    ) -> Result<Self, ClientError> {
        let mut publishers = Vec::new();
        for s in &applied.send_streams {
            publishers.push((s.clone(), make_publisher(&flow, s)?));
        }
        protect_with_fec(&publishers)?;
        let keys = key_ring(&applied.receive_streams);
        let mut subscriptions = Vec::new();
        // The endpoint's one designated reporter for every stream it receives (seed 003).
        let reporter = Arc::new(Mutex::new(Reporter::new(
            flow.endpoint_id(),
            ReporterConfig::default(),
        )));
        // One lip-sync group per sending endpoint (draft §6.4 note on lip sync).
        let mut groups: HashMap<SenderKey, Arc<Mutex<SyncGroup>>> = HashMap::new();
        let fec_of = fec_receive_streams(&applied.receive_streams);
        for (i, r) in applied.receive_streams.iter().enumerate() {
            let Some(target) = receive_target(r) else {
                subscriptions.push(None);
                continue;
            };
            if r.fec.is_some() {
                // A FEC stream is received inside the subscription it protects.
                subscriptions.push(None);
                continue;
            }
            let mut c = config.clone();
            if let Some((fec_index, fec_geid)) = fec_of.get(&i) {
                c.fec = Some(FecReceive {
                    encoding: *fec_geid,
                    request_id: *fec_index as u64 + 1,
                });
            }
            let media = matches!(r.kind, MediaType::Audio | MediaType::Video);
            let kind = match r.kind {
                MediaType::Audio => MediaKind::Audio,
                MediaType::Video => MediaKind::Video,
                _ => MediaKind::Data,
            };
            c.reporter = Some((reporter.clone(), kind));
            if media {
                if c.lip_sync.is_none() && c.playout == Playout::Jittered {
                    let group = groups
                        .entry((r.conference_id, r.endpoint_id))
                        .or_default()
                        .clone();
                    c.lip_sync = Some((group, i as u64));
                }
            } else {
                // Data: every message at once; reliable data needs no recovery, and
                // unreliable data is not worth waiting for.
                c.playout = Playout::Immediate;
                c.recovery = None;
            }
            // The flag says what happens: a stream played in its sender's lip-sync group.
            let lip_synced = c.lip_sync.is_some();
            let subscription =
                Subscription::start(&flow, i as u64 + 1, target, None, keys.clone(), c).await?;
            subscriptions.push(Some(CallSubscription {
                settings: ReceiveSettings {
                    codec: r.codec.name().to_owned(),
                    sink_id: r.sink_id,
                    lip_sync: lip_synced,
                },
                endpoint_id: r.endpoint_id,
                source_id: r.source_id,
                subscription,
            }));
        }
        let reports = tokio::spawn(send_reports(flow.clone(), reporter.clone()));
        Ok(Self {
            flow,
            publishers,
            subscriptions,
            reporter,
            reports,
        })
    }

    /// The flow to the SFU.
    pub fn flow(&self) -> &Flow {
        &self.flow
    }

    /// Flow metrics (draft §6.6).
    pub fn flow_metrics(&self) -> FlowMetrics {
        self.flow.metrics()
    }

    /// The media publisher of our `source_id`/`encoding_id`.
    pub fn publisher(&self, source_id: u64, encoding_id: u64) -> Option<&Publisher> {
        self.publishers.iter().find_map(|(s, p)| match p {
            CallPublisher::Media(p) if s.source_id == source_id && s.encoding_id == encoding_id => {
                Some(p)
            }
            _ => None,
        })
    }

    /// Every media publisher of `source_id` (its simulcast encodings), in proposal order.
    pub fn encodings_of(&self, source_id: u64) -> Vec<&Publisher> {
        self.publishers
            .iter()
            .filter_map(|(s, p)| match p {
                CallPublisher::Media(p) if s.source_id == source_id => Some(p),
                _ => None,
            })
            .collect()
    }

    /// The data publisher of our `source_id`, with the data codec the proposal chose.
    pub fn data_publisher(&self, source_id: u64) -> Option<(&DataPublisher, DataCodec)> {
        self.publishers.iter().find_map(|(s, p)| match p {
            CallPublisher::Data(d, codec) if s.source_id == source_id => Some((d, *codec)),
            _ => None,
        })
    }

    /// Every publisher with the send stream it came from.
    pub fn publishers(&self) -> &[(AppliedSendStream, CallPublisher)] {
        &self.publishers
    }

    /// Takes the subscription of receive stream `index` (proposal order), to read it from
    /// its own task. `None` if taken already or the stream named no publisher.
    pub fn take_subscription(&mut self, index: usize) -> Option<CallSubscription> {
        self.subscriptions.get_mut(index)?.take()
    }

    /// Takes every subscription not taken yet.
    pub fn take_subscriptions(&mut self) -> Vec<CallSubscription> {
        self.subscriptions
            .iter_mut()
            .filter_map(Option::take)
            .collect()
    }

    /// What the designated reporter has sent so far (compound ReceiverReports, seed 003).
    pub fn report_stats(&self) -> ReporterStats {
        self.reporter.lock().map(|r| r.stats()).unwrap_or_default()
    }

    /// Sets the flow's total max bandwidth for sending, bit/s (draft §6.3); `None` lifts it.
    pub fn set_max_bandwidth(&self, bits_per_second: Option<u64>) {
        self.flow.set_max_bandwidth(bits_per_second);
    }

    /// Leaves: closes the flow (the SFU forgets our subscriptions and routes).
    pub fn leave(self) {
        self.flow.close();
    }
}

fn make_publisher(flow: &Flow, s: &AppliedSendStream) -> Result<CallPublisher, ClientError> {
    let ids = EncodingIds {
        conference_id: s.conference_id,
        endpoint_id: s.endpoint_id,
        source_id: s.source_id,
        encoding_id: s.encoding_id,
    };
    let secret = s.secret.as_bytes();
    let codec_name = s.codec.name();
    let kind = match s.kind {
        MediaType::Audio => {
            let mut a = AudioSendSettings::new(codec_name, s.source_id);
            a.max_bitrate = s.limits.max_bitrate.or(s.codec.max_bitrate());
            if let Some(ms) = s.limits.packet_time {
                a.packet_time = Duration::from_millis(u64::from(ms));
            }
            PublisherKind::Audio(a)
        }
        MediaType::Video => {
            let mut v = VideoSendSettings::new(codec_name, s.source_id);
            v.max_width = s.limits.width;
            v.max_height = s.limits.height;
            v.max_bitrate = s.limits.max_bitrate.or(s.codec.max_bitrate());
            v.max_pixel_rate = match (s.limits.width, s.limits.height, s.limits.frame_rate) {
                (Some(w), Some(h), Some(f)) => Some(u64::from(w) * u64::from(h) * u64::from(f)),
                _ => None,
            };
            PublisherKind::Video(v)
        }
        MediaType::Data | MediaType::Other(_) => {
            let codec: DataCodec = codec_name.parse().unwrap_or_default();
            let p = Publisher::new(flow.clone(), ids, s.aead, secret, PublisherKind::Data)?;
            return Ok(CallPublisher::Data(DataPublisher::new(p), codec));
        }
    };
    Ok(CallPublisher::Media(Publisher::new(
        flow.clone(),
        ids,
        s.aead,
        secret,
        kind,
    )?))
}

/// Hands every FEC send stream's publisher (codec `flex-fec-rs`, draft §8.4) to the
/// publishers of the encodings it repairs.
fn protect_with_fec(publishers: &[(AppliedSendStream, CallPublisher)]) -> Result<(), ClientError> {
    for (fec_stream, fec_publisher) in publishers {
        let (Some(repair), CallPublisher::Media(fec_publisher)) = (&fec_stream.fec, fec_publisher)
        else {
            continue;
        };
        let protected: Vec<&Publisher> = publishers
            .iter()
            .filter_map(|(s, p)| match p {
                CallPublisher::Media(p)
                    if s.fec.is_none()
                        && s.conference_id == fec_stream.conference_id
                        && s.endpoint_id == fec_stream.endpoint_id
                        && s.source_id == fec_stream.source_id
                        && repair.encoding_ids.contains(&s.encoding_id) =>
                {
                    Some(p)
                }
                _ => None,
            })
            .collect();
        let (sender, max_datagram) = FecSender::start(
            fec_publisher.clone(),
            protected.iter().map(|p| p.global_encoding_id()),
            repair.window_ms,
        )?;
        for p in protected {
            p.set_fec(sender.clone(), max_datagram);
        }
    }
    Ok(())
}

/// For each receive stream a FEC stream repairs: the FEC stream's index and GlobalEncodingID.
fn fec_receive_streams(
    streams: &[AppliedReceiveStream],
) -> HashMap<usize, (usize, newmedia_proto::ids::GlobalEncodingId)> {
    let mut out = HashMap::new();
    for (fi, f) in streams.iter().enumerate() {
        let (Some(repair), Some(fec_geid)) = (&f.fec, f.global_encoding_id) else {
            continue;
        };
        for (pi, p) in streams.iter().enumerate() {
            if p.fec.is_none()
                && p.global_encoding_id.is_some()
                && p.conference_id == f.conference_id
                && p.endpoint_id == f.endpoint_id
                && p.source_id == f.source_id
                && p.encoding_id
                    .is_some_and(|e| repair.encoding_ids.contains(&e))
            {
                out.insert(pi, (fi, fec_geid));
            }
        }
    }
    out
}

/// The publishers' secrets named by the receive streams.
fn key_ring(streams: &[AppliedReceiveStream]) -> KeyRing {
    let mut keys = KeyRing::new();
    for r in streams {
        let (Some(conference), Some(endpoint)) = (r.conference_id, r.endpoint_id) else {
            continue;
        };
        keys.insert(
            conference,
            endpoint,
            PublisherSecret {
                aead: r.aead,
                secret: r.secret.clone(),
            },
        );
        if let Some(geid) = r.global_encoding_id {
            keys.set_owner(geid, conference, endpoint);
        }
    }
    keys
}

/// What to ask the SFU for: the exact encoding when the proposal names it, else the source.
fn receive_target(r: &AppliedReceiveStream) -> Option<SubscribeTarget> {
    if let Some(geid) = r.global_encoding_id {
        return Some(SubscribeTarget::Encoding(geid));
    }
    Some(SubscribeTarget::Source {
        conference_id: r.conference_id?,
        endpoint_id: r.endpoint_id?,
        source_id: r.source_id?,
        constraints: newmedia_proto::control::Constraints {
            max_width: r.limits.width.map(u64::from),
            max_height: r.limits.height.map(u64::from),
            max_bitrate: r.limits.max_bitrate,
            max_frame_rate: r.limits.frame_rate.map(u64::from),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::{Gathering, GatheringState};
    use std::sync::Mutex;
    use tokio::sync::watch;

    #[test]
    fn gathering_is_complete_only_when_every_gathering_ended() {
        let (state, rx) = watch::channel(GatheringState::New);
        let g = Gathering {
            state,
            running: Mutex::new(0),
        };
        assert_eq!(*rx.borrow(), GatheringState::New);
        let reflexive = g.begin();
        let relay = g.begin();
        assert_eq!(*rx.borrow(), GatheringState::Gathering);
        drop(reflexive);
        assert_eq!(
            *rx.borrow(),
            GatheringState::Gathering,
            "the relay still gathers"
        );
        drop(relay);
        assert_eq!(*rx.borrow(), GatheringState::Complete);
        // Gathering again (a network change) goes back to Gathering.
        let again = g.begin();
        assert_eq!(*rx.borrow(), GatheringState::Gathering);
        drop(again);
        assert_eq!(*rx.borrow(), GatheringState::Complete);
    }
}
