//! Assembling a node from its configuration: TLS identity, endpoints, forwarding, HTTP, the
//! metrics sampler, and drain. `main.rs` and the tests start nodes through [`start`].

use crate::admission::registry::Registry;
use crate::admission::tls::{Identity, TlsError, server_crypto};
use crate::forward::{self, ForwardConfig, Node, close};
use crate::ops::config::SfuConfig;
use crate::ops::drain::{Drain, DrainOutcome, wait_until};
use crate::ops::http::{HttpState, LiveStats, router};
use crate::ops::metrics::{MetricsError, SfuMetrics};
use crate::policy::keyframe::KeyframeConfig;
use crate::policy::speaker::SpeakerConfig;
use crate::relay::{self, Relay, RelayConfig, RelayError};
use crate::snowflake::controller::{NodeCandidate, Registration, Turn2Service};
use crate::snowflake::{
    ControllerClient, ControllerError, DownlinkChecks, SnowflakeStats, registration, reports,
};
use crate::transport::{self, Stun2ResponderConfig, TransportError, TransportStats};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use thiserror::Error;
use tokio::task::JoinHandle;
use tracing::info;

/// Why a node could not start.
#[derive(Debug, Error)]
pub enum StartError {
    /// The TLS identity or configuration.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Binding or building the QUIC endpoints.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// Binding the HTTP listener.
    #[error("cannot listen for HTTP on {addr}: {source}")]
    Http {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Registering metrics.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// Starting the TURN2 relay.
    #[error(transparent)]
    Relay(#[from] RelayError),
    /// Building the controller client.
    #[error(transparent)]
    Controller(#[from] ControllerError),
}

/// A running node.
#[derive(Debug)]
pub struct RunningSfu {
    /// The UDP address of the QUIC/STUN2 endpoints (with the real port when 0 was asked).
    pub media_addr: SocketAddr,
    /// The HTTP address of `/metrics`, `/healthz`, `/readyz` and the admin API.
    pub http_addr: SocketAddr,
    /// SHA-256 of the node's certificate, the `tlsFingerprintSHA256` of its candidates.
    pub fingerprint: [u8; 32],
    /// The admin API's bearer token.
    pub admin_token: String,
    /// Forwarding state.
    pub node: Arc<Node>,
    /// Authorization state, as the admin API sees it.
    pub registry: Arc<Registry>,
    /// Prometheus metrics.
    pub metrics: Arc<SfuMetrics>,
    /// Drain state.
    pub drain: Arc<Drain>,
    /// Socket-level counters (STUN2, DSCP, demux).
    pub transport_stats: Arc<TransportStats>,
    /// The TURN2 relay, when `turn2_listen` is set.
    pub relay: Option<Relay>,
    /// The relay's TCP address (with the real port when 0 was asked).
    pub turn2_addr: Option<SocketAddr>,
    /// Downlink checks and the downlinks they installed.
    pub downlinks: Arc<DownlinkChecks>,
    /// Snowflake counters (registration, reports, downlinks).
    pub snowflake: Arc<SnowflakeStats>,
    endpoints: Vec<quinn::Endpoint>,
    tasks: Vec<JoinHandle<()>>,
    grace: Duration,
}

/// Starts a node: binds `config.listen` with `config.workers` SO_REUSEPORT endpoints and
/// `config.http_listen`, and serves until [`RunningSfu::drain`] or drop.
pub async fn start(mut config: SfuConfig) -> Result<RunningSfu, StartError> {
    let admin_token = config.ensure_admin_token().to_owned();
    let identity = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Identity::from_pem_files(cert, key)?,
        _ => Identity::self_signed(vec!["localhost".into(), config.listen.ip().to_string()])?,
    };
    let fingerprint = identity.fingerprint();

    let mut server = quinn::ServerConfig::with_crypto(server_crypto(&identity)?);
    server.transport_config(Arc::new(transport_config(&config)));
    let snowflake = Arc::new(SnowflakeStats::default());
    let downlinks = Arc::new(DownlinkChecks::new(snowflake.clone()));
    let controller = match (&config.controller_url, &config.controller_token) {
        (Some(url), Some(token)) => Some(ControllerClient::new(url, token)?),
        _ => None,
    };
    let mut stun = Stun2ResponderConfig::default();
    stun.secret(config.stun_secret.as_bytes())
        .public_server(config.public_stun)
        .response_observer(downlinks.clone());
    let check_reports = controller.as_ref().map(|_| {
        let (tx, rx) = tokio::sync::mpsc::channel(reports::QUEUE);
        stun.observer(Arc::new(tx));
        rx
    });
    let endpoints = transport::bind_endpoints(config.listen, config.workers, server, &stun)?;
    downlinks.attach(endpoints.sockets.clone(), endpoints.redirects.clone());

    let registry = Arc::new(Registry::new());
    let metrics = Arc::new(SfuMetrics::new()?);
    let drain = Arc::new(Drain::new());
    let node = Node::new(
        registry.clone(),
        config.trusted_grant_keys(),
        forward_config(&config),
        Some(endpoints.dscp.clone()),
    );

    let mut tasks = Vec::new();
    for endpoint in &endpoints.endpoints {
        tasks.push(tokio::spawn(forward::serve(node.clone(), endpoint.clone())));
    }

    let (relay, turn2_addr) = match config.turn2_listen {
        Some(listen) => {
            let running = relay::start(listen, relay_config(&config), &identity).await?;
            tasks.push(running.task);
            info!(turn2 = %running.local_addr, "TURN2 relay listening");
            (Some(running.relay), Some(running.local_addr))
        }
        None => (None, None),
    };

    let listener = tokio::net::TcpListener::bind(config.http_listen)
        .await
        .map_err(|source| StartError::Http {
            addr: config.http_listen,
            source,
        })?;
    let http_addr = listener.local_addr().map_err(|source| StartError::Http {
        addr: config.http_listen,
        source,
    })?;
    let live = live_stats(node.clone(), endpoints.stats.clone());
    let mut http_state = HttpState::new(
        registry.clone(),
        metrics.clone(),
        drain.clone(),
        &admin_token,
        live,
    );
    if let Some(relay) = &relay {
        http_state = http_state.with_relay(relay.clone());
    }
    http_state = http_state.with_downlinks(downlinks.clone());
    let app = router(http_state);
    tasks.push(tokio::spawn(async move {
        // Admin calls and reports are small requests: no Nagle delay behind a delayed ACK.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let _ = axum::serve(listener, app).await;
    }));
    tasks.push(tokio::spawn(sample_metrics(
        node.clone(),
        metrics.clone(),
        endpoints.stats.clone(),
        relay.clone(),
        downlinks.clone(),
    )));
    if let (Some(client), Some(check_reports)) = (controller, check_reports) {
        let node_id = config.node_id.clone().unwrap_or_else(hostname);
        let candidates = if config.public_candidates.is_empty() {
            vec![endpoints.local_addr]
        } else {
            config.public_candidates.clone()
        };
        let registration = Registration {
            node_id: node_id.clone(),
            candidates: candidates
                .iter()
                .map(|c| NodeCandidate {
                    local: *c,
                    stun_secret: config.stun_secret.clone(),
                })
                .collect(),
            tls_fingerprint_sha256: hex::encode(fingerprint),
            admin_url: config
                .admin_url
                .clone()
                .unwrap_or_else(|| format!("http://{http_addr}")),
            admin_token: admin_token.clone(),
            capacity: config.capacity,
            turn2: relay.as_ref().map(|r| Turn2Service {
                service: r.outbound(),
            }),
        };
        tasks.push(tokio::spawn(registration::run(
            client.clone(),
            registration,
            node.clone(),
            snowflake.clone(),
        )));
        tasks.push(tokio::spawn(reports::run(
            client,
            node_id,
            check_reports,
            endpoints.local_addr.port(),
            candidates,
            snowflake.clone(),
        )));
    }

    info!(
        media = %endpoints.local_addr,
        http = %http_addr,
        workers = endpoints.endpoints.len(),
        fingerprint = %crate::admission::tls::fingerprint_text(&fingerprint),
        "newmedia-sfu listening"
    );
    Ok(RunningSfu {
        media_addr: endpoints.local_addr,
        http_addr,
        fingerprint,
        admin_token,
        node,
        registry,
        metrics,
        drain,
        transport_stats: endpoints.stats,
        relay,
        turn2_addr,
        downlinks,
        snowflake,
        endpoints: endpoints.endpoints,
        tasks,
        grace: config.drain_grace(),
    })
}

fn transport_config(config: &SfuConfig) -> quinn::TransportConfig {
    let mut t = quinn::TransportConfig::default();
    t.datagram_send_buffer_size(config.datagram_send_buffer)
        .datagram_receive_buffer_size(Some(config.datagram_send_buffer.max(1 << 20)))
        .max_idle_timeout(Some(quinn::IdleTimeout::from(quinn::VarInt::from_u32(
            30_000,
        ))))
        .max_concurrent_bidi_streams(quinn::VarInt::from_u32(16))
        .max_concurrent_uni_streams(quinn::VarInt::from_u32(128));
    // Ask every client to acknowledge less often (at least every 25 ms or RTT still): at
    // 30 frames/s of 3 packets, one ACK per frame instead of two, and each ACK is a packet the
    // node receives, decrypts and processes.
    let mut ack = quinn::AckFrequencyConfig::default();
    ack.ack_eliciting_threshold(quinn::VarInt::from_u32(config.ack_threshold));
    t.ack_frequency_config(Some(ack));
    t
}

fn forward_config(config: &SfuConfig) -> ForwardConfig {
    let mut f = ForwardConfig::default();
    f.speakers(SpeakerConfig::default().max_speakers(config.top_speakers))
        .keyframes(KeyframeConfig::default().min_interval(config.keyframe_min_interval()))
        .retransmit_capacity(config.retransmit_cache)
        .datagram_send_buffer(config.datagram_send_buffer);
    f
}

fn relay_config(config: &SfuConfig) -> RelayConfig {
    let mut r = RelayConfig::default();
    r.inbound_ip(config.turn2_inbound_ip)
        .public_ip(config.turn2_public_ip)
        .max_allocations(config.turn2_max_allocations)
        .max_lifetime(config.turn2_max_lifetime_secs)
        .queue_frames(config.turn2_queue_frames);
    r
}

fn live_stats(node: Arc<Node>, transport: Arc<TransportStats>) -> LiveStats {
    Arc::new(move || {
        let s = &node.stats;
        serde_json::json!({
            "connections": node.connection_count(),
            "conferences": node.conference_count(),
            "subscriptions": node.subscription_count(),
            "draining": node.is_draining(),
            "datagramsIn": s.datagrams_in.load(Relaxed),
            "datagramsOut": s.datagrams_out.load(Relaxed),
            "bytesIn": s.bytes_in.load(Relaxed),
            "bytesOut": s.bytes_out.load(Relaxed),
            "stunAnswered": transport.snapshot().stun_requests_answered,
        })
    })
}

/// Copies the forwarding and transport counters into Prometheus once a second (the hot path
/// never touches Prometheus).
async fn sample_metrics(
    node: Arc<Node>,
    metrics: Arc<SfuMetrics>,
    transport: Arc<TransportStats>,
    relay: Option<Relay>,
    downlinks: Arc<DownlinkChecks>,
) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticker.tick().await;
        let s = &node.stats;
        let m = &metrics;
        m.connections.set(node.connection_count() as i64);
        m.conferences.set(node.conference_count() as i64);
        m.subscriptions.set(node.subscription_count() as i64);
        m.queue_depth_bytes.set(node.queued_bytes() as i64);
        catch_up(&m.datagrams_in_total, s.datagrams_in.load(Relaxed));
        catch_up(&m.bytes_in_total, s.bytes_in.load(Relaxed));
        catch_up(&m.datagrams_out_total, s.datagrams_out.load(Relaxed));
        catch_up(&m.bytes_out_total, s.bytes_out.load(Relaxed));
        catch_up(&m.speaker_switches_total, s.speaker_switches.load(Relaxed));
        catch_up(
            &m.retransmissions_served_total,
            s.retransmissions_served.load(Relaxed),
        );
        catch_up(
            &m.retransmissions_unavailable_total
                .with_label_values(&["withheld"]),
            s.retransmissions_withheld.load(Relaxed),
        );
        catch_up(
            &m.retransmissions_unavailable_total
                .with_label_values(&["not_cached"]),
            s.retransmissions_not_cached.load(Relaxed),
        );
        catch_up(
            &m.keyframe_requests_total,
            s.keyframe_requests.load(Relaxed),
        );
        catch_up(
            &m.full_set_requests_total,
            s.full_set_requests.load(Relaxed),
        );
        catch_up(&m.layer_switches_total, s.layer_switches.load(Relaxed));
        for reason in crate::ops::metrics::DropReason::ALL {
            catch_up(m.drop_counter(reason), s.dropped(reason));
            catch_up(m.stream_drop_counter(reason), s.stream_dropped(reason));
        }
        catch_up(
            &m.stream_messages_in_total,
            s.stream_messages_in.load(Relaxed),
        );
        catch_up(&m.stream_bytes_in_total, s.stream_bytes_in.load(Relaxed));
        catch_up(
            &m.stream_messages_out_total,
            s.stream_messages_out.load(Relaxed),
        );
        catch_up(&m.stream_resets_total, s.stream_resets.load(Relaxed));
        let t = transport.snapshot();
        use crate::ops::metrics::StunResult;
        catch_up(
            m.stun_counter(StunResult::Answered),
            t.stun_requests_answered,
        );
        catch_up(m.stun_counter(StunResult::Bad), t.stun_bad);
        catch_up(
            m.stun_counter(StunResult::SendError),
            t.stun_response_send_dropped,
        );
        if let Some(relay) = &relay {
            sample_relay(m, relay);
        }
        sample_snowflake(m, &downlinks);
    }
}

fn sample_snowflake(m: &SfuMetrics, downlinks: &DownlinkChecks) {
    let s = downlinks.stats();
    m.controller_registered.set(s.registered as i64);
    catch_up(&m.controller_registrations_total, s.registrations);
    catch_up(&m.controller_heartbeats_total, s.heartbeats);
    catch_up(&m.controller_failures_total, s.controller_failures);
    let reports = [
        ("reported", s.checks_reported),
        ("failed", s.checks_report_failed),
        ("unauthenticated", s.checks_unauthenticated),
    ];
    for (result, total) in reports {
        catch_up(&m.check_reports_total.with_label_values(&[result]), total);
    }
    catch_up(&m.downlink_checks_total, s.downlink_checks);
    catch_up(&m.downlink_requests_total, s.downlink_requests_sent);
    catch_up(&m.downlinks_installed_total, s.downlinks_installed);
    m.downlinks
        .set(downlinks.redirects().map_or(0, |r| r.len()) as i64);
}

/// The host name, the default node ID.
fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "newmedia-sfu".to_owned())
}

fn sample_relay(m: &SfuMetrics, relay: &Relay) {
    let r = relay.stats();
    m.turn2_connections.set(r.connections as i64);
    m.turn2_allocations.set(r.allocations as i64);
    catch_up(&m.turn2_relayed_packets_total, r.relayed_packets);
    catch_up(&m.turn2_relayed_bytes_total, r.relayed_bytes);
    let drops = [
        ("queue_full", r.dropped_queue_full),
        ("no_connection", r.dropped_no_connection),
    ];
    for (reason, total) in drops {
        catch_up(&m.turn2_drops_total.with_label_values(&[reason]), total);
    }
    for (label, total) in crate::ops::metrics::TURN2_ERROR_LABELS.iter().zip(r.errors) {
        catch_up(&m.turn2_errors_total.with_label_values(&[label]), total);
    }
}

/// Raises a Prometheus counter to `total` (counters only go up; the source is monotonic).
fn catch_up(counter: &prometheus::IntCounter, total: u64) {
    let current = counter.get();
    if total > current {
        counter.inc_by(total - current);
    }
}

impl RunningSfu {
    /// Drains: readiness turns false, new admissions are refused, and connections may finish
    /// until none are left or the grace period passes; then the rest are closed with the
    /// `DRAINING` code and the endpoints shut down.
    pub async fn drain(self) -> DrainOutcome {
        self.drain.start();
        self.node.start_draining();
        info!(grace = ?self.grace, "draining");
        let node = self.node.clone();
        let outcome = wait_until(move || node.connection_count() == 0, self.grace).await;
        self.node.close_all(close::DRAINING, b"server draining");
        for endpoint in &self.endpoints {
            endpoint.close(close::DRAINING, b"server draining");
        }
        for endpoint in &self.endpoints {
            endpoint.wait_idle().await;
        }
        for task in &self.tasks {
            task.abort();
        }
        info!(?outcome, "drained");
        outcome
    }

    /// The node's endpoints (e.g. to open SFU-to-SFU links).
    pub fn endpoints(&self) -> &[quinn::Endpoint] {
        &self.endpoints
    }
}

impl Drop for RunningSfu {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for endpoint in &self.endpoints {
            endpoint.close(close::NORMAL, b"shutdown");
        }
    }
}
