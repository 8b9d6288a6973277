//! Shared fixtures: controllers on loopback, SDK signaling clients, a fake SFU node admin API,
//! and a real `redis-server`.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, post, put};
use newmedia_client::control::{AudioCodec, Capabilities, MediaSink, MediaSource, VideoCodec};
use newmedia_client::signaling::{RestClient, SignalingClient, SignalingEvent, ws_url};
use newmedia_controller::{ControllerConfig, RunningController};
use newmedia_proto::signaling::rest::{NodeCheckCommand, NodeDownlink, NodeRegistration};
use newmedia_proto::signaling::{Address, Advertisement, Candidate, CandidateKind};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Every bounded wait in these tests.
pub const WAIT: Duration = Duration::from_secs(15);

pub const API_KEY: &str = "test-app-key";

pub fn config() -> ControllerConfig {
    ControllerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        api_keys: vec![API_KEY.to_owned()],
        token_secret: Some("test-token-secret".to_owned()),
        ..ControllerConfig::default()
    }
}

pub async fn controller() -> RunningController {
    newmedia_controller::start(config()).await.unwrap()
}

pub fn app(c: &RunningController) -> RestClient {
    RestClient::new(&c.url(), API_KEY)
}

/// An audio + video client's capabilities (the SDK's own model).
pub fn capabilities() -> Capabilities {
    let opus = AudioCodec::new("opus").max_bitrate(128_000);
    let av1 = VideoCodec::new("av1")
        .max_size(1920, 1080)
        .max_frame_rate(30)
        .max_bitrate(4_000_000);
    Capabilities::new()
        .source(MediaSource::audio(1, [opus.clone()]))
        .source(MediaSource::video(2, [av1.clone()]))
        .sink(MediaSink::audio(1, [opus]))
        .sink(MediaSink::video(2, [av1]))
}

pub fn candidate(kind: CandidateKind, addr: &str, secret: &str) -> Candidate {
    Candidate::new(kind, Address::parse(addr).unwrap(), secret)
}

pub fn advertisement(candidates: &[Candidate]) -> Advertisement {
    capabilities().advertisement(candidates).unwrap()
}

pub fn fingerprint(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

/// An SDK signaling client connected and welcomed.
pub struct TestClient {
    pub id: String,
    pub ws: SignalingClient,
    pub welcome: newmedia_proto::signaling::Welcome,
}

pub async fn client_at(
    c: &RunningController,
    id: &str,
    fp: u8,
    candidates: &[Candidate],
) -> TestClient {
    client_advertising(c, id, fp, advertisement(candidates)).await
}

/// A receive-only (audio + video sinks) client's advertisement on one local candidate.
pub fn viewer_advertisement(fp: u8) -> Advertisement {
    let mut caps = capabilities();
    caps.sources.clear();
    caps.advertisement(&[candidate(
        CandidateKind::Local,
        &format!("127.0.0.1:{}", 40000 + u16::from(fp)),
        &format!("cs{fp}"),
    )])
    .unwrap()
}

pub async fn client_advertising(
    c: &RunningController,
    id: &str,
    fp: u8,
    advertisement: Advertisement,
) -> TestClient {
    let token = app(c).token(id, None).await.unwrap().token;
    let mut ws = SignalingClient::connect(&ws_url(&c.url()), &token)
        .await
        .unwrap();
    ws.advertise(Some(id), &fingerprint(fp), advertisement)
        .unwrap();
    let welcome = match next(&mut ws).await {
        SignalingEvent::Welcome(w) => w,
        other => panic!("expected welcome, got {other:?}"),
    };
    TestClient {
        id: id.to_owned(),
        ws,
        welcome,
    }
}

pub async fn client(c: &RunningController, id: &str, fp: u8) -> TestClient {
    client_at(
        c,
        id,
        fp,
        &[candidate(
            CandidateKind::Local,
            &format!("127.0.0.1:{}", 40000 + u16::from(fp)),
            &format!("cs{fp}"),
        )],
    )
    .await
}

pub async fn next(ws: &mut SignalingClient) -> SignalingEvent {
    tokio::time::timeout(WAIT, ws.next_event())
        .await
        .expect("no event in time")
        .expect("connection closed")
}

/// The next event `f` maps to `Some`, skipping others.
pub async fn next_where<T>(
    ws: &mut SignalingClient,
    mut f: impl FnMut(SignalingEvent) -> Option<T>,
) -> T {
    loop {
        if let Some(t) = f(next(ws).await) {
            return t;
        }
    }
}

pub async fn next_proposal(ws: &mut SignalingClient) -> newmedia_proto::signaling::ProposalMessage {
    next_where(ws, |e| match e {
        SignalingEvent::Proposal(p) => Some(p),
        _ => None,
    })
    .await
}

/// What a fake node's admin API was asked.
#[derive(Debug, Clone)]
pub enum NodeCall {
    CreateConference(u64),
    DeleteConference(u64),
    Admit {
        conference: u64,
        endpoint: u64,
        body: serde_json::Value,
    },
    RemoveEndpoint(u64, u64),
    RelayFingerprint(String),
    Check(NodeCheckCommand),
    Downlink(NodeDownlink),
}

/// An axum stub of a node's admin API that records every call.
pub struct FakeNode {
    pub id: String,
    pub admin: SocketAddr,
    pub media: String,
    pub calls: mpsc::UnboundedReceiver<NodeCall>,
    /// When set, `POST /v1/conferences` answers 500.
    pub fail: Arc<Mutex<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Stub {
    tx: mpsc::UnboundedSender<NodeCall>,
    fail: Arc<Mutex<bool>>,
}

impl FakeNode {
    pub async fn start(id: &str, media: &str) -> Self {
        let (tx, calls) = mpsc::unbounded_channel();
        let fail = Arc::new(Mutex::new(false));
        let stub = Stub {
            tx,
            fail: fail.clone(),
        };
        let app = axum::Router::new()
            .route(
                "/v1/conferences",
                post(
                    |State(s): State<Stub>, Json(b): Json<serde_json::Value>| async move {
                        if *s.fail.lock().unwrap() {
                            return StatusCode::INTERNAL_SERVER_ERROR;
                        }
                        let _ = s.tx.send(NodeCall::CreateConference(
                            b["conferenceID"].as_u64().unwrap(),
                        ));
                        StatusCode::CREATED
                    },
                ),
            )
            .route(
                "/v1/conferences/{id}",
                delete(|State(s): State<Stub>, Path(id): Path<u64>| async move {
                    let _ = s.tx.send(NodeCall::DeleteConference(id));
                    StatusCode::NO_CONTENT
                }),
            )
            .route(
                "/v1/conferences/{id}/endpoints/{ep}",
                put(
                    |State(s): State<Stub>,
                     Path((id, ep)): Path<(u64, u64)>,
                     Json(b): Json<serde_json::Value>| async move {
                        let _ = s.tx.send(NodeCall::Admit {
                            conference: id,
                            endpoint: ep,
                            body: b,
                        });
                        StatusCode::CREATED
                    },
                )
                .delete(
                    |State(s): State<Stub>, Path((id, ep)): Path<(u64, u64)>| async move {
                        let _ = s.tx.send(NodeCall::RemoveEndpoint(id, ep));
                        StatusCode::NO_CONTENT
                    },
                ),
            )
            .route(
                "/v1/relay/fingerprints/{fp}",
                put(|State(s): State<Stub>, Path(fp): Path<String>| async move {
                    let _ = s.tx.send(NodeCall::RelayFingerprint(fp));
                    StatusCode::NO_CONTENT
                }),
            )
            .route(
                "/v1/checks",
                post(
                    |State(s): State<Stub>, Json(b): Json<NodeCheckCommand>| async move {
                        let _ = s.tx.send(NodeCall::Check(b));
                        StatusCode::ACCEPTED
                    },
                ),
            )
            .route(
                "/v1/downlinks",
                post(
                    |State(s): State<Stub>, Json(b): Json<NodeDownlink>| async move {
                        let _ = s.tx.send(NodeCall::Downlink(b));
                        StatusCode::NO_CONTENT
                    },
                ),
            )
            .with_state(stub);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            id: id.to_owned(),
            admin,
            media: media.to_owned(),
            calls,
            fail,
            task,
        }
    }

    pub fn registration(&self, capacity: u64, turn2: Option<&str>) -> NodeRegistration {
        NodeRegistration {
            node_id: self.id.clone(),
            candidates: vec![candidate(
                CandidateKind::Local,
                &self.media,
                "node-stun-secret",
            )],
            tls_fingerprint_sha256: fingerprint(0xee),
            admin_url: format!("http://{}", self.admin),
            admin_token: "node-admin-token".to_owned(),
            capacity,
            turn2: turn2.map(|s| newmedia_proto::signaling::rest::Turn2Service {
                service: Address::parse(s).unwrap(),
            }),
        }
    }

    /// The next call `f` maps to `Some`.
    pub async fn next_call<T>(&mut self, mut f: impl FnMut(NodeCall) -> Option<T>) -> T {
        loop {
            let call = tokio::time::timeout(WAIT, self.calls.recv())
                .await
                .expect("no node call in time")
                .expect("stub gone");
            if let Some(t) = f(call) {
                return t;
            }
        }
    }
}

/// Registers a node with the controller over REST (as the node would).
pub async fn register(c: &RunningController, registration: &NodeRegistration) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/nodes", c.url()))
        .bearer_auth(API_KEY)
        .json(registration)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// Heart-beats for `node_id` every `every` until dropped.
pub fn heartbeat_forever(
    c: &RunningController,
    node_id: &str,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    let url = format!("{}/v1/nodes/{node_id}/heartbeat", c.url());
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        loop {
            let _ = http
                .put(&url)
                .bearer_auth(API_KEY)
                .json(&serde_json::json!({"endpoints": 0, "conferences": 0, "cpu": 0.0}))
                .send()
                .await;
            tokio::time::sleep(every).await;
        }
    })
}

/// A `redis-server` on a free loopback port, stopped on drop.
pub struct Redis {
    child: std::process::Child,
    pub url: String,
}

impl Redis {
    pub fn start() -> Self {
        use std::io::BufRead as _;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("redis-server (installed by .ci/setup)");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("Ready to accept connections") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(WAIT).expect("redis-server did not start");
        Self {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
