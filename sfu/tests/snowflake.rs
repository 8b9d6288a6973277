//! The node's Snowflake side against a fake controller (an axum stub in the test):
//! registration, heartbeats, check reports, downlink checks and the redirect they install.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{post, put};
use axum::{Json, Router};
use common::*;
use newmedia_proto::stun2::{SenderSecret, Stun2Keys, Stun2Request, Stun2Response, TransactionId};
use newmedia_sfu::admission::tls::{Identity, client_crypto};
use newmedia_sfu::app::RunningSfu;
use newmedia_sfu::ops::config::SfuConfig;
use newmedia_sfu::testing::{RelayFrame, Turn2TestClient, client_endpoint};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use tokio::sync::mpsc;

/// What the fake controller received.
#[derive(Debug)]
enum Call {
    Register(Value),
    Heartbeat(String, Value),
    Checks(String, Value),
}

#[derive(Clone)]
struct Stub {
    calls: mpsc::UnboundedSender<Call>,
    /// Answer the next heartbeat with 404 (a controller that forgot the node).
    forget_next: Arc<AtomicBool>,
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .is_some_and(|v| v == "Bearer node-key")
}

async fn register(
    State(stub): State<Stub>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if !authorized(&headers) {
        return (StatusCode::UNAUTHORIZED, Json(json!({})));
    }
    let _ = stub.calls.send(Call::Register(body));
    (StatusCode::OK, Json(json!({"heartbeatIntervalMs": 50})))
}

async fn heartbeat(
    State(stub): State<Stub>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> StatusCode {
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED;
    }
    if stub.forget_next.swap(false, Relaxed) {
        return StatusCode::NOT_FOUND;
    }
    let _ = stub.calls.send(Call::Heartbeat(id, body));
    StatusCode::NO_CONTENT
}

async fn checks(
    State(stub): State<Stub>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> StatusCode {
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED;
    }
    let _ = stub.calls.send(Call::Checks(id, body));
    StatusCode::NO_CONTENT
}

/// Serves the fake controller on `listener`.
fn fake_controller(
    listener: tokio::net::TcpListener,
    forget_first_heartbeat: bool,
) -> mpsc::UnboundedReceiver<Call> {
    let (tx, rx) = mpsc::unbounded_channel();
    let stub = Stub {
        calls: tx,
        forget_next: Arc::new(AtomicBool::new(forget_first_heartbeat)),
    };
    let app = Router::new()
        .route("/v1/nodes", post(register))
        .route("/v1/nodes/{id}/heartbeat", put(heartbeat))
        .route("/v1/nodes/{id}/checks", post(checks))
        .with_state(stub);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    rx
}

fn node_config(controller: SocketAddr) -> SfuConfig {
    let mut c = config();
    c.controller_url = Some(format!("http://{controller}"));
    c.controller_token = Some("node-key".into());
    c.node_id = Some("sfu-test".into());
    c.stun_secret = "node-secret".into();
    c.turn2_listen = Some("127.0.0.1:0".parse().unwrap());
    c
}

async fn next_call(calls: &mut mpsc::UnboundedReceiver<Call>) -> Call {
    within("a controller call", calls.recv()).await.unwrap()
}

fn stun_request(secret: &[u8], id: u8, sender_secret: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Stun2Request {
        transaction_id: TransactionId([id; 12]),
        sender_secret: Some(SenderSecret::new(sender_secret).unwrap()),
    }
    .encode(&Stun2Keys::new(secret), &mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_heartbeats_reregisters_and_reports_checks() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let controller = listener.local_addr().unwrap();
    let mut calls = fake_controller(listener, true);
    let sfu = start_with(node_config(controller)).await;

    let Call::Register(body) = next_call(&mut calls).await else {
        panic!("registration first");
    };
    assert_eq!(body["nodeID"], "sfu-test");
    assert_eq!(body["candidates"][0]["local"], sfu.media_addr.to_string());
    assert_eq!(body["candidates"][0]["stunSecret"], "node-secret");
    assert_eq!(body["tlsFingerprintSHA256"], hex::encode(sfu.fingerprint));
    assert_eq!(body["adminURL"], format!("http://{}", sfu.http_addr));
    assert_eq!(body["adminToken"], sfu.admin_token);
    assert_eq!(body["capacity"], 1000);
    assert_eq!(
        body["turn2"]["service"],
        sfu.turn2_addr.unwrap().to_string()
    );

    // The first heartbeat answers 404: the node registers again, then heart-beats.
    assert!(matches!(next_call(&mut calls).await, Call::Register(_)));
    let Call::Heartbeat(id, beat) = next_call(&mut calls).await else {
        panic!("a heartbeat");
    };
    assert_eq!(id, "sfu-test");
    assert_eq!(beat["endpoints"], 0);
    assert_eq!(beat["conferences"], 0);
    let cpu = beat["cpu"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&cpu));

    // A check under the node's secret is reported; one under the public secret is not.
    let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client
        .send_to(&stun_request(b"", 1, b"public"), sfu.media_addr)
        .await
        .unwrap();
    client
        .send_to(
            &stun_request(b"node-secret", 2, b"consent!"),
            sfu.media_addr,
        )
        .await
        .unwrap();
    let report = within("a check report", async {
        loop {
            if let Call::Checks(id, body) = next_call(&mut calls).await {
                return (id, body);
            }
        }
    })
    .await;
    assert_eq!(report.0, "sfu-test");
    let checks = report.1["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0]["from"], client.local_addr().unwrap().to_string());
    assert_eq!(checks[0]["to"], sfu.media_addr.to_string());
    assert_eq!(checks[0]["transactionID"], "02".repeat(12));
    assert_eq!(checks[0]["senderSecret"], hex::encode(b"consent!"));
    eventually("counters", || {
        let s = sfu.snowflake.snapshot();
        s.checks_reported == 1 && s.checks_unauthenticated == 1 && s.registrations == 2
    })
    .await;
    eventually("metrics", || {
        let text = sfu.metrics.encode_text();
        text.contains("newmedia_sfu_controller_registered 1")
            && text.contains("newmedia_sfu_check_reports_total{result=\"reported\"} 1")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_while_the_controller_is_down_and_registers_once_it_is_up() {
    // A port with nobody listening (yet).
    let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let controller = probe.local_addr().unwrap();
    drop(probe);
    let sfu = start_with(node_config(controller)).await;
    eventually("a failed registration", || {
        sfu.snowflake.snapshot().controller_failures >= 1
    })
    .await;
    // The node serves meanwhile.
    let health = reqwest::get(format!("http://{}/healthz", sfu.http_addr))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let v = video(1, 1, 320, 180, 300_000);
    let publisher = join(&sfu, 3, 1, vec![v.clone()]).await;
    drop(publisher);

    let listener = tokio::net::TcpListener::bind(controller).await.unwrap();
    let mut calls = fake_controller(listener, false);
    assert!(matches!(next_call(&mut calls).await, Call::Register(_)));
    assert!(matches!(next_call(&mut calls).await, Call::Heartbeat(..)));
}

async fn admin(
    sfu: &RunningSfu,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::StatusCode {
    let mut request = reqwest::Client::new()
        .request(method, format!("http://{}{}", sfu.http_addr, path))
        .bearer_auth(&sfu.admin_token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap().status()
}

/// Decodes a downlink check's request under the client's secret: its sender secret.
fn sender_secret_of(datagram: &[u8]) -> Vec<u8> {
    let request = Stun2Request::decode(&Stun2Keys::new(b"client-secret"), datagram).unwrap();
    request.sender_secret.unwrap().as_bytes().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downlink_check_reaches_a_udp_socket_and_its_response_ends_it() {
    let sfu = start().await;
    let candidate = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let to = candidate.local_addr().unwrap();
    let check = json!({"checkID": "c1", "to": to.to_string(), "stunSecret": "client-secret"});
    assert_eq!(
        admin(
            &sfu,
            reqwest::Method::POST,
            "/v1/checks",
            Some(check.clone())
        )
        .await,
        202
    );
    assert_eq!(
        admin(&sfu, reqwest::Method::POST, "/v1/checks", Some(check)).await,
        409
    );

    let mut buf = [0u8; 1500];
    let (n, from) = within("the check's request", candidate.recv_from(&mut buf))
        .await
        .unwrap();
    assert_eq!(from, sfu.media_addr);
    let secret = sender_secret_of(&buf[..n]);
    assert_eq!(secret.len(), 16);
    // Answer it, as a client's STUN2 responder would.
    let request = Stun2Request::decode(&Stun2Keys::new(b"client-secret"), &buf[..n]).unwrap();
    let mut response = Vec::new();
    Stun2Response {
        transaction_id: request.transaction_id,
        observed: from,
    }
    .encode(&Stun2Keys::new(b"client-secret"), &mut response);
    candidate.send_to(&response, sfu.media_addr).await.unwrap();
    eventually("the response seen", || {
        sfu.downlinks.answered("c1") == Some(true)
    })
    .await;

    // Installing needs the exact secret.
    let observed: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let wrong =
        json!({"checkID": "c1", "senderSecret": "00".repeat(16), "observed": observed.to_string()});
    assert_eq!(
        admin(&sfu, reqwest::Method::POST, "/v1/downlinks", Some(wrong)).await,
        409
    );
    let unknown = json!({"checkID": "nope", "senderSecret": hex::encode(&secret), "observed": observed.to_string()});
    assert_eq!(
        admin(&sfu, reqwest::Method::POST, "/v1/downlinks", Some(unknown)).await,
        404
    );
    let right = json!({"checkID": "c1", "senderSecret": hex::encode(&secret), "observed": observed.to_string()});
    assert_eq!(
        admin(&sfu, reqwest::Method::POST, "/v1/downlinks", Some(right)).await,
        204
    );
    assert_eq!(
        admin(
            &sfu,
            reqwest::Method::DELETE,
            "/v1/downlinks/127.0.0.1:9",
            None
        )
        .await,
        204
    );
    assert_eq!(
        admin(
            &sfu,
            reqwest::Method::DELETE,
            "/v1/downlinks/127.0.0.1:9",
            None
        )
        .await,
        404
    );
    let s = sfu.snowflake.snapshot();
    assert_eq!(
        (
            s.downlink_checks,
            s.downlink_responses,
            s.downlinks_installed
        ),
        (1, 1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nodes_quic_packets_for_a_client_go_through_its_relay() {
    let mut c = config();
    c.turn2_listen = Some("127.0.0.1:0".parse().unwrap());
    let sfu = start_with(c).await;
    let identity = Identity::self_signed(vec!["client".into()]).unwrap();
    sfu.relay.as_ref().unwrap().allow(identity.fingerprint());
    let mut relay = within(
        "relay",
        Turn2TestClient::connect(sfu.turn2_addr.unwrap(), sfu.fingerprint, &identity),
    )
    .await
    .unwrap();
    relay.register(None).await.unwrap();
    let RelayFrame::Allocation { inbound, .. } = within("allocation", relay.next_frame())
        .await
        .unwrap()
        .unwrap()
    else {
        panic!("allocation");
    };

    // The downlink check goes to the relay's inbound address and arrives as Relayed.
    let check = json!({"checkID": "c2", "to": inbound.to_string(), "stunSecret": "client-secret"});
    assert_eq!(
        admin(&sfu, reqwest::Method::POST, "/v1/checks", Some(check)).await,
        202
    );
    let (source, packet) = match within("relayed check", relay.next_frame()).await.unwrap() {
        Some(RelayFrame::Relayed { source, packet }) => (source, packet),
        other => panic!("expected Relayed, got {other:?}"),
    };
    assert_eq!(source, sfu.media_addr);
    let secret = sender_secret_of(&packet);

    // The client's own UDP address (as the uplink check observed it) is redirected there.
    let endpoint = client_endpoint("127.0.0.1:0".parse().unwrap()).unwrap();
    let observed = endpoint.local_addr().unwrap();
    let install = json!({"checkID": "c2", "senderSecret": hex::encode(&secret), "observed": observed.to_string()});
    assert_eq!(
        admin(&sfu, reqwest::Method::POST, "/v1/downlinks", Some(install)).await,
        204
    );

    // The client sends its QUIC Initial from that address; the node's answer comes back
    // through the relay, from the node's media address, not to the client's socket.
    let config = quinn::ClientConfig::new(client_crypto(&identity, sfu.fingerprint).unwrap());
    let connecting = endpoint
        .connect_with(config, sfu.media_addr, "newmedia-sfu")
        .unwrap();
    let handshake = tokio::spawn(connecting);
    let quic = within("the node's QUIC packet, relayed", async {
        loop {
            match relay.next_frame().await.unwrap() {
                // Retransmissions of the check may come first.
                Some(RelayFrame::Relayed { source, packet }) if packet[0] & 0x40 != 0 => {
                    return (source, packet);
                }
                Some(_) => continue,
                None => panic!("relay closed"),
            }
        }
    })
    .await;
    assert_eq!(quic.0, sfu.media_addr);
    // A QUIC long header (Initial or Handshake) of version 1.
    assert_eq!(quic.1[0] & 0xC0, 0xC0);
    assert_eq!(&quic.1[1..5], &[0, 0, 0, 1]);
    // Nothing reached the client's own socket, so its handshake cannot complete directly.
    assert!(!handshake.is_finished());
    handshake.abort();
    eventually("metrics", || {
        sfu.metrics
            .encode_text()
            .contains("newmedia_sfu_downlinks 1")
    })
    .await;
}
