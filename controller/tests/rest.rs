//! REST happy paths and every error code, through `oneshot` on the router (no controller
//! socket); tokens and API keys; the OpenAPI document covers every route.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use http_body_util::BodyExt as _;
use newmedia_controller::auth::Credentials;
use newmedia_controller::http::{AppState, ROUTES, ready_flag, router};
use newmedia_controller::hub::Hub;
use newmedia_controller::metrics::Metrics;
use newmedia_controller::node_client::NodeClient;
use newmedia_controller::service::{Service, ServiceConfig};
use newmedia_controller::store::MemoryStore;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt as _;

const NODE_KEY: &str = "node-key";

fn service(proposal_timeout: Duration) -> Arc<Service> {
    Service::new(
        Arc::new(MemoryStore::new()),
        Hub::new("test".into(), None),
        NodeClient::new(Duration::from_secs(2)),
        Credentials::new(&[API_KEY.into()], &[NODE_KEY.into()], b"secret"),
        ServiceConfig {
            proposal_timeout,
            ..ServiceConfig::default()
        },
        Metrics::new().unwrap(),
    )
}

struct Api {
    router: axum::Router,
}

impl Api {
    fn new(service: Arc<Service>) -> Self {
        Self {
            router: router(AppState {
                service,
                ready: ready_flag(),
            }),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(b) = bearer {
            req = req.header("authorization", format!("Bearer {b}"));
        }
        let req = req
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
            .unwrap();
        let response = self.router.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    async fn json(
        &self,
        method: &str,
        path: &str,
        bearer: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        self.call(method, path, Some(bearer), Some(&body.to_string()))
            .await
    }
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<none>")
}

fn upload(fp: u8) -> Value {
    json!({"fingerprint": fingerprint(fp), "advertisement": advertisement(&[candidate(
        newmedia_proto::signaling::CandidateKind::Local, "127.0.0.1:40000", "s")])})
}

#[tokio::test]
async fn happy_paths_and_every_error_code() {
    let api = Api::new(service(Duration::from_millis(100)));
    let mut node = FakeNode::start("sfu-1", "127.0.0.1:4433").await;
    let reg = serde_json::to_value(node.registration(3, None)).unwrap();

    // Health, metrics, OpenAPI, unknown routes.
    assert_eq!(
        api.call("GET", "/healthz", None, None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        api.call("GET", "/readyz", None, None).await.0,
        StatusCode::OK
    );
    let (s, metrics) = api.call("GET", "/metrics", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("newmedia_controller_proposals_sent_total")
    );
    let (s, doc) = api.call("GET", "/v1/openapi.json", None, None).await;
    assert_eq!(
        (s, doc["openapi"].as_str().unwrap().starts_with("3.")),
        (StatusCode::OK, true)
    );
    let (s, v) = api.call("GET", "/v1/nope", Some(API_KEY), None).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"));

    // unauthorized / forbidden.
    let (s, v) = api.call("GET", "/v1/endpoints", None, None).await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let (s, v) = api.call("GET", "/v1/endpoints", Some("wrong"), None).await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let (s, v) = api.json("POST", "/v1/nodes", API_KEY, reg.clone()).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::FORBIDDEN, "forbidden"),
        "app key is not a node key"
    );
    let (s, v) = api
        .json("POST", "/v1/tokens", NODE_KEY, json!({"clientID": "a"}))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"));

    // Tokens.
    let (s, v) = api
        .json(
            "POST",
            "/v1/tokens",
            API_KEY,
            json!({"clientID": "alice", "ttlSecs": 60}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let alice_token = v["token"].as_str().unwrap().to_owned();
    assert_eq!(v["clientID"], "alice");
    let (s, v) = api
        .json(
            "POST",
            "/v1/tokens",
            API_KEY,
            json!({"clientID": "alice", "ttlSecs": 601}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_request"));
    let (s, v) = api
        .json("POST", "/v1/tokens", API_KEY, json!({"clientID": ""}))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_request"));
    let expired = Credentials::new(&[], &[], b"secret").issue("alice", 1);
    let (s, v) = api
        .call("GET", "/v1/endpoints/alice", Some(&expired), None)
        .await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let forged = Credentials::new(&[], &[], b"other").issue("alice", u64::MAX);
    let (s, _) = api
        .call("GET", "/v1/endpoints/alice", Some(&forged), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // bad_json.
    let (s, v) = api
        .call("POST", "/v1/tokens", Some(API_KEY), Some("{not json"))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_json"));

    // Advertisements: a client's own, by its token; not another's.
    let (s, v) = api
        .json(
            "PUT",
            "/v1/endpoints/alice/advertisement",
            &alice_token,
            upload(1),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["fingerprint"], fingerprint(1));
    let (s, v) = api
        .json(
            "PUT",
            "/v1/endpoints/bob/advertisement",
            &alice_token,
            upload(2),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"));
    let (s, v) = api
        .json("PUT", "/v1/endpoints/bob/advertisement", API_KEY, upload(2))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut bad = upload(3);
    bad["advertisement"]["sources"][1]["sourceID"] = json!(1);
    let (s, v) = api
        .json("PUT", "/v1/endpoints/carol/advertisement", API_KEY, bad)
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "bad_advertisement")
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sources[1]")
    );
    let mut bad = upload(3);
    bad["fingerprint"] = json!("1283938");
    let (s, v) = api
        .json("PUT", "/v1/endpoints/carol/advertisement", API_KEY, bad)
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_request"));
    let (s, v) = api
        .call("GET", "/v1/endpoints/carol", Some(API_KEY), None)
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "unknown_endpoint"));
    let (s, v) = api.call("GET", "/v1/endpoints", Some(API_KEY), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["endpoints"].as_array().unwrap().len(), 2);

    // no_node_capacity before any node registers.
    let create = json!({"parties": ["alice", "bob"]});
    let (s, v) = api
        .json("POST", "/v1/conferences", API_KEY, create.clone())
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::SERVICE_UNAVAILABLE, "no_node_capacity")
    );

    // Nodes.
    let mut bad_reg = reg.clone();
    bad_reg["tlsFingerprintSHA256"] = json!("xyz");
    let (s, v) = api.json("POST", "/v1/nodes", NODE_KEY, bad_reg).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_request"));
    let (s, v) = api.json("POST", "/v1/nodes", NODE_KEY, reg.clone()).await;
    assert_eq!(
        (s, v["heartbeatIntervalMs"].as_u64()),
        (StatusCode::OK, Some(1000))
    );
    let hb = json!({"endpoints": 1, "conferences": 1, "cpu": 0.5});
    let (s, _) = api
        .json("PUT", "/v1/nodes/sfu-1/heartbeat", NODE_KEY, hb.clone())
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = api
        .json("PUT", "/v1/nodes/sfu-9/heartbeat", NODE_KEY, hb)
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "unknown_node"));
    let (s, v) = api
        .json(
            "POST",
            "/v1/nodes/sfu-9/checks",
            NODE_KEY,
            json!({"checks": []}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "unknown_node"));
    let (s, v) = api.call("GET", "/v1/nodes", Some(API_KEY), None).await;
    assert_eq!(
        (s, v["nodes"][0]["load"]["cpu"].as_f64()),
        (StatusCode::OK, Some(0.5))
    );

    // Conferences.
    let (s, v) = api
        .json("POST", "/v1/conferences", API_KEY, json!({"parties": []}))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_request"));
    let (s, v) = api
        .json(
            "POST",
            "/v1/conferences",
            API_KEY,
            json!({"parties": ["alice", "alice"]}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_request"));
    let (s, v) = api
        .json(
            "POST",
            "/v1/conferences",
            API_KEY,
            json!({"parties": ["zed"]}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "unknown_endpoint"));
    let (s, v) = api
        .json(
            "POST",
            "/v1/conferences",
            API_KEY,
            json!({"parties": ["alice"], "AEAD": "ROT13"}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_json"));
    let (s, v) = api
        .json("POST", "/v1/conferences", API_KEY, create.clone())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["conferenceID"].as_u64().unwrap();
    assert_eq!(v["nodeID"], "sfu-1");
    assert_eq!(v["parties"][0]["proposal"], "pending");
    node.next_call(|c| matches!(c, NodeCall::CreateConference(x) if x == id).then_some(()))
        .await;

    let (s, v) = api
        .call(
            "GET",
            &format!("/v1/conferences/{id}"),
            Some(&alice_token),
            None,
        )
        .await;
    assert_eq!((s, v["conferenceID"].as_u64()), (StatusCode::OK, Some(id)));
    let (s, v) = api
        .call("GET", "/v1/conferences/12", Some(API_KEY), None)
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "unknown_conference"));
    let (s, v) = api
        .call("GET", "/v1/conferences/x", Some(API_KEY), None)
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_request"));
    let (s, v) = api
        .call("GET", "/v1/conferences", Some(API_KEY), None)
        .await;
    assert_eq!(
        (s, v["conferences"].as_array().unwrap().len()),
        (StatusCode::OK, 1)
    );

    let join = |c: &str| json!({"clientID": c});
    let (s, v) = api
        .json(
            "POST",
            &format!("/v1/conferences/{id}/parties"),
            API_KEY,
            join("bob"),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "already_party"));
    let (s, v) = api
        .call(
            "DELETE",
            &format!("/v1/conferences/{id}/parties/zed"),
            Some(API_KEY),
            None,
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_party"));

    // proposal_timeout: nobody answers within 100 ms (no WebSocket is open).
    let (s, v) = api
        .json(
            "PUT",
            "/v1/endpoints/dave/advertisement",
            API_KEY,
            upload(4),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = api
        .json(
            "POST",
            &format!("/v1/conferences/{id}/parties"),
            API_KEY,
            json!({"clientID": "dave", "wait": true}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::GATEWAY_TIMEOUT, "proposal_timeout")
    );
    // The node (capacity 3) is now full.
    let (s, v) = api
        .json(
            "PUT",
            "/v1/endpoints/erin/advertisement",
            API_KEY,
            upload(5),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = api
        .json(
            "POST",
            &format!("/v1/conferences/{id}/parties"),
            API_KEY,
            join("erin"),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::SERVICE_UNAVAILABLE, "no_node_capacity")
    );

    let (s, _) = api
        .call(
            "DELETE",
            &format!("/v1/conferences/{id}/parties/dave"),
            Some(API_KEY),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api
        .call(
            "DELETE",
            &format!("/v1/conferences/{id}"),
            Some(API_KEY),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    // node_failed: the node refuses new conferences.
    *node.fail.lock().unwrap() = true;
    let (s, v) = api
        .json(
            "POST",
            "/v1/conferences",
            API_KEY,
            json!({"parties": ["erin"]}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_GATEWAY, "node_failed"));
}

#[tokio::test]
async fn websocket_error_codes() {
    let c = controller().await;
    let node = FakeNode::start("sfu-1", "127.0.0.1:4433").await;
    register(&c, &node.registration(10, None)).await;
    let token = app(&c).token("alice", None).await.unwrap().token;
    let url = newmedia_client::signaling::ws_url(&c.url());
    // No token: the upgrade is refused.
    assert!(
        newmedia_client::signaling::SignalingClient::connect(&url, "v1.bad.token")
            .await
            .is_err()
    );
    let mut ws = newmedia_client::signaling::SignalingClient::connect(&url, &token)
        .await
        .unwrap();
    let expect = async |ws: &mut newmedia_client::signaling::SignalingClient, want: &str| {
        let e = next_where(ws, |e| match e {
            newmedia_client::signaling::SignalingEvent::Error(e) => Some(e),
            _ => None,
        })
        .await;
        assert_eq!(e.code, want, "{}", e.message);
    };
    ws.reject("1.1.1", "x").unwrap();
    expect(&mut ws, "not_advertised").await;
    ws.advertise(Some("mallory"), &fingerprint(1), advertisement(&[]))
        .unwrap();
    expect(&mut ws, "client_mismatch").await;
    ws.advertise(None, "nope", advertisement(&[])).unwrap();
    expect(&mut ws, "bad_request").await;
    ws.advertise(Some("alice"), &fingerprint(1), advertisement(&[]))
        .unwrap();
    next_where(&mut ws, |e| {
        matches!(e, newmedia_client::signaling::SignalingEvent::Welcome(_)).then_some(())
    })
    .await;
    ws.accept("77.1.1").unwrap();
    expect(&mut ws, "unknown_proposal").await;
    ws.send(newmedia_proto::signaling::ClientMessage::Ping(
        newmedia_proto::signaling::Ping {
            nonce: Some("n".into()),
        },
    ))
    .unwrap();
    let pong = next_where(&mut ws, |e| match e {
        newmedia_client::signaling::SignalingEvent::Pong(p) => Some(p),
        _ => None,
    })
    .await;
    assert_eq!(pong.nonce.as_deref(), Some("n"));
    c.shutdown().await;
}

#[test]
fn openapi_documents_every_route() {
    let doc: Value = serde_json::from_str(newmedia_controller::http::OPENAPI).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (method, path) in ROUTES {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not in controller/openapi.json"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "openapi.json documents a route the router lacks"
    );
}
