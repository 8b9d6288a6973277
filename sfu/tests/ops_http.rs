//! The HTTP routes, called with `tower::ServiceExt::oneshot` (no socket).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use newmedia_sfu::admission::registry::{Registry, Revocation};
use newmedia_sfu::ops::{Drain, HttpState, SfuMetrics, router};
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

const TOKEN: &str = "test-admin-token";
const FP_HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

struct Node {
    registry: Arc<Registry>,
    metrics: Arc<SfuMetrics>,
    drain: Arc<Drain>,
    app: Router,
}

fn node() -> Node {
    let registry = Arc::new(Registry::new());
    let metrics = Arc::new(SfuMetrics::new().unwrap());
    let drain = Arc::new(Drain::new());
    let state = HttpState::new(
        Arc::clone(&registry),
        Arc::clone(&metrics),
        Arc::clone(&drain),
        TOKEN,
        Arc::new(|| json!({"connections": 2, "forwarded": 1234})),
    );
    Node {
        registry,
        metrics,
        drain,
        app: router(state),
    }
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    /// Asserts the API error format with `code`.
    fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{}", self.text());
        let body = self.json();
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "application/json",
            "{body}"
        );
    }
}

async fn call(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

fn request(method: Method, uri: &str, token: Option<&str>, body: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if body.is_some() {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    builder
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
        .unwrap()
}

async fn admin(app: &Router, method: Method, uri: &str, body: Option<Value>) -> Reply {
    let body = body.map(|b| b.to_string());
    call(app, request(method, uri, Some(TOKEN), body.as_deref())).await
}

fn admit_body(fingerprint: &str) -> Value {
    json!({
        "fingerprint": fingerprint,
        "publications": [
            {"sourceID": 1, "encodingID": 1, "kind": "audio"},
            {"sourceID": 2, "encodingID": 1, "kind": "video", "width": 1280, "height": 720,
             "maxBitrate": 1500000, "frameRate": 30}
        ]
    })
}

#[tokio::test]
async fn healthz_is_ok() {
    let n = node();
    let r = call(&n.app, request(Method::GET, "/healthz", None, None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text().trim(), "ok");
    n.drain.start();
    let r = call(&n.app, request(Method::GET, "/healthz", None, None)).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "liveness does not depend on draining"
    );
}

#[tokio::test]
async fn readyz_turns_503_while_draining() {
    let n = node();
    let r = call(&n.app, request(Method::GET, "/readyz", None, None)).await;
    assert_eq!(r.status, StatusCode::OK);
    n.drain.start();
    let r = call(&n.app, request(Method::GET, "/readyz", None, None)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.text().trim(), "draining");
}

#[tokio::test]
async fn metrics_serve_the_text_format_without_auth() {
    let n = node();
    n.metrics.connections.set(3);
    let r = call(&n.app, request(Method::GET, "/metrics", None, None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = r.text();
    assert!(text.contains("\nnewmedia_sfu_connections 3\n"), "{text}");
    #[cfg(target_os = "linux")]
    assert!(text.contains("process_resident_memory_bytes"));
}

#[tokio::test]
async fn admin_api_needs_the_bearer_token() {
    let n = node();
    let routes = [
        (
            Method::POST,
            "/v1/conferences",
            Some(r#"{"conferenceID": 1}"#),
        ),
        (Method::GET, "/v1/conferences", None),
        (Method::DELETE, "/v1/conferences/1", None),
        (Method::PUT, "/v1/conferences/1/endpoints/2", Some("{}")),
        (Method::DELETE, "/v1/conferences/1/endpoints/2", None),
        (Method::GET, "/v1/stats", None),
    ];
    for (method, uri, body) in routes {
        for token in [
            None,
            Some("wrong"),
            Some(""),
            Some("test-admin-token-and-more"),
        ] {
            let r = call(&n.app, request(method.clone(), uri, token, body)).await;
            r.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
            assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
        }
    }
    // Other schemes are refused; the scheme name is case-insensitive.
    let basic = Request::builder()
        .uri("/v1/stats")
        .header(header::AUTHORIZATION, format!("Basic {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    call(&n.app, basic)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    let lower = Request::builder()
        .uri("/v1/stats")
        .header(header::AUTHORIZATION, format!("bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&n.app, lower).await.status, StatusCode::OK);
    assert!(
        !n.registry.conference_exists(1),
        "nothing happened unauthorized"
    );
}

#[tokio::test]
async fn conferences_are_created_listed_and_deleted() {
    let n = node();
    let r = admin(
        &n.app,
        Method::POST,
        "/v1/conferences",
        Some(json!({"conferenceID": 42})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json(), json!({"conferenceID": 42}));
    assert_eq!(r.headers[header::LOCATION], "/v1/conferences/42");
    assert!(n.registry.conference_exists(42));

    admin(
        &n.app,
        Method::POST,
        "/v1/conferences",
        Some(json!({"conferenceID": 42})),
    )
    .await
    .assert_error(StatusCode::CONFLICT, "already_exists");

    admin(
        &n.app,
        Method::POST,
        "/v1/conferences",
        Some(json!({"conferenceID": 7})),
    )
    .await;
    let r = admin(&n.app, Method::GET, "/v1/conferences", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"conferences": [
            {"conferenceID": 7, "endpointCount": 0},
            {"conferenceID": 42, "endpointCount": 0}
        ]})
    );

    let mut revocations = n.registry.revocations();
    let r = admin(&n.app, Method::DELETE, "/v1/conferences/42", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.body.is_empty());
    assert_eq!(revocations.try_recv().unwrap(), Revocation::Conference(42));
    admin(&n.app, Method::DELETE, "/v1/conferences/42", None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn endpoints_are_admitted_replaced_and_removed() {
    let n = node();
    n.registry.create_conference(5).unwrap();
    let uri = "/v1/conferences/5/endpoints/9";

    let r = admin(&n.app, Method::PUT, uri, Some(admit_body(FP_HEX))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json(), json!({"conferenceID": 5, "endpointID": 9}));
    let fp: [u8; 32] = hex::decode(FP_HEX).unwrap().try_into().unwrap();
    let a = n.registry.by_fingerprint(&fp).unwrap();
    assert_eq!((a.conference_id, a.endpoint_id), (5, 9));
    assert_eq!(a.publications.len(), 2);
    assert_eq!(a.publications[1].width, Some(1280));

    // The same admission again (a retry): 200, nothing revoked.
    let mut revocations = n.registry.revocations();
    let r = admin(&n.app, Method::PUT, uri, Some(admit_body(FP_HEX))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(revocations.try_recv().is_err());

    // Colon-separated uppercase pairs name the same fingerprint; fewer publications replace.
    let colons = FP_HEX
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap().to_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    let r = admin(
        &n.app,
        Method::PUT,
        uri,
        Some(json!({"fingerprint": colons, "publications": []})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        n.registry
            .by_fingerprint(&fp)
            .unwrap()
            .publications
            .is_empty()
    );
    assert_eq!(
        revocations.try_recv().unwrap(),
        Revocation::Endpoint {
            conference_id: 5,
            endpoint_id: 9
        }
    );

    let r = admin(&n.app, Method::GET, "/v1/conferences", None).await;
    assert_eq!(r.json()["conferences"][0]["endpointCount"], 1);

    let r = admin(&n.app, Method::DELETE, uri, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(n.registry.by_fingerprint(&fp), None);
    admin(&n.app, Method::DELETE, uri, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    admin(
        &n.app,
        Method::DELETE,
        "/v1/conferences/6/endpoints/9",
        None,
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn publications_may_be_omitted_for_receive_only_endpoints() {
    let n = node();
    n.registry.create_conference(1).unwrap();
    let r = admin(
        &n.app,
        Method::PUT,
        "/v1/conferences/1/endpoints/1",
        Some(json!({"fingerprint": FP_HEX})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
}

#[tokio::test]
async fn admitting_into_a_missing_conference_is_not_found() {
    let n = node();
    admin(
        &n.app,
        Method::PUT,
        "/v1/conferences/3/endpoints/1",
        Some(admit_body(FP_HEX)),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_fingerprint_in_use_elsewhere_is_a_conflict_that_names_nobody() {
    let n = node();
    n.registry.create_conference(1).unwrap();
    n.registry.create_conference(2).unwrap();
    let r = admin(
        &n.app,
        Method::PUT,
        "/v1/conferences/1/endpoints/77",
        Some(admit_body(FP_HEX)),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = admin(
        &n.app,
        Method::PUT,
        "/v1/conferences/2/endpoints/8",
        Some(admit_body(FP_HEX)),
    )
    .await;
    r.assert_error(StatusCode::CONFLICT, "fingerprint_in_use");
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(!message.contains("77"), "{message}");
}

#[tokio::test]
async fn malformed_requests_are_bad_requests() {
    let n = node();
    n.registry.create_conference(1).unwrap();
    let cases: [(Method, &str, &str); 10] = [
        (Method::POST, "/v1/conferences", "{not json"),
        (Method::POST, "/v1/conferences", ""),
        (Method::POST, "/v1/conferences", r#"{"conferenceID": -1}"#),
        (Method::POST, "/v1/conferences", r#"{"conferenceID": "1"}"#),
        (
            Method::POST,
            "/v1/conferences",
            r#"{"conferenceID": 1, "x": 2}"#,
        ),
        (
            Method::PUT,
            "/v1/conferences/1/endpoints/1",
            r#"{"fingerprint": "abcd"}"#,
        ),
        (
            Method::PUT,
            "/v1/conferences/1/endpoints/1",
            r#"{"publications": []}"#,
        ),
        (
            Method::PUT,
            "/v1/conferences/1/endpoints/1",
            r#"{"fingerprint": "0011223344556677889900112233445566778899001122334455667788990011",
                "publications": [{"sourceID": 1, "encodingID": 1, "kind": "smell"}]}"#,
        ),
        (
            Method::PUT,
            "/v1/conferences/1/endpoints/1",
            r#"{"fingerprint": "0011223344556677889900112233445566778899001122334455667788990011",
                "publications": [{"sourceID": 1, "encodingID": 1, "kind": "audio"},
                                 {"sourceID": 1, "encodingID": 1, "kind": "video"}]}"#,
        ),
        (
            Method::PUT,
            "/v1/conferences/one/endpoints/1",
            r#"{"fingerprint": "0011223344556677889900112233445566778899001122334455667788990011"}"#,
        ),
    ];
    for (method, uri, body) in cases {
        let r = call(&n.app, request(method, uri, Some(TOKEN), Some(body))).await;
        r.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    admin(&n.app, Method::DELETE, "/v1/conferences/-5", None)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(n.registry.conferences()[0].endpoint_count, 0);
}

#[tokio::test]
async fn json_is_read_without_a_content_type() {
    let n = node();
    let r = Request::builder()
        .method(Method::POST)
        .uri("/v1/conferences")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(r#"{"conferenceID": 9}"#))
        .unwrap();
    assert_eq!(call(&n.app, r).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn draining_refuses_new_conferences_and_endpoints_but_not_deletions() {
    let n = node();
    n.registry.create_conference(1).unwrap();
    n.registry.create_conference(2).unwrap();
    n.drain.start();
    admin(
        &n.app,
        Method::POST,
        "/v1/conferences",
        Some(json!({"conferenceID": 3})),
    )
    .await
    .assert_error(StatusCode::SERVICE_UNAVAILABLE, "draining");
    admin(
        &n.app,
        Method::PUT,
        "/v1/conferences/1/endpoints/1",
        Some(admit_body(FP_HEX)),
    )
    .await
    .assert_error(StatusCode::SERVICE_UNAVAILABLE, "draining");
    assert!(!n.registry.conference_exists(3));
    let r = admin(&n.app, Method::DELETE, "/v1/conferences/2", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = admin(&n.app, Method::GET, "/v1/conferences", None).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn stats_come_from_the_supplied_closure() {
    let n = node();
    let r = admin(&n.app, Method::GET, "/v1/stats", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"connections": 2, "forwarded": 1234}));
}

#[tokio::test]
async fn unknown_routes_are_json_not_found() {
    let n = node();
    for uri in ["/nope", "/v1/nope", "/v1/conferences/1/whatever"] {
        call(&n.app, request(Method::GET, uri, Some(TOKEN), None))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }
}
