//! A running node's HTTP surface and drain.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use newmedia_sfu::admission::tls::Identity;
use newmedia_sfu::forward::close;
use newmedia_sfu::ops::drain::DrainOutcome;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A minimal HTTP/1.1 request over a fresh TCP connection: (status, body).
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: sfu\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_health_metrics_and_the_admin_api() {
    let sfu = start().await;
    let addr = sfu.http_addr;
    assert_eq!(http(addr, "GET", "/healthz", None, "").await.0, 200);
    assert_eq!(http(addr, "GET", "/readyz", None, "").await.0, 200);
    let (status, metrics) = http(addr, "GET", "/metrics", None, "").await;
    assert_eq!(status, 200);
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "newmedia_sfu_datagrams_in_total",
    ] {
        assert!(metrics.contains(name), "{name} missing");
    }

    // The admin API admits an endpoint, which can then connect.
    assert_eq!(
        http(
            addr,
            "POST",
            "/v1/conferences",
            None,
            r#"{"conferenceID": 12}"#
        )
        .await
        .0,
        401
    );
    assert_eq!(
        http(
            addr,
            "POST",
            "/v1/conferences",
            Some("test-token"),
            r#"{"conferenceID": 12}"#
        )
        .await
        .0,
        201
    );
    let identity = Identity::self_signed(vec!["via-http".into()]).unwrap();
    let fp = hex::encode(identity.fingerprint());
    let body = format!(
        r#"{{"fingerprint": "{fp}", "publications": [{{"sourceID": 1, "encodingID": 1, "kind": "audio"}}]}}"#
    );
    assert_eq!(
        http(
            addr,
            "PUT",
            "/v1/conferences/12/endpoints/3",
            Some("test-token"),
            &body
        )
        .await
        .0,
        201
    );
    let peer = connect(&sfu, &identity, 3, None)
        .await
        .expect("admitted via the admin API");
    assert_eq!(peer.client.sfu_hello.endpoint_id, 3);
    eventually("gauges sampled", || sfu.metrics.connections.get() == 1).await;
    let (_, stats) = http(addr, "GET", "/v1/stats", Some("test-token"), "").await;
    assert!(stats.contains("\"connections\":1"), "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_turns_unready_refuses_newcomers_and_closes_the_rest() {
    let sfu = start().await;
    let (addr, media, fingerprint) = (sfu.http_addr, sfu.media_addr, sfu.fingerprint);
    let peer = join(&sfu, 60, 1, vec![]).await;
    let newcomer = Identity::self_signed(vec!["late".into()]).unwrap();
    sfu.registry
        .admit_endpoint(
            60,
            newmedia_sfu::admission::registry::EndpointAdmission {
                endpoint_id: 2,
                fingerprint: newcomer.fingerprint(),
                publications: vec![],
            },
        )
        .unwrap();
    let drain = sfu.drain.clone();
    let draining = tokio::spawn(sfu.drain());
    eventually("draining", || drain.is_draining()).await;
    assert_eq!(http(addr, "GET", "/readyz", None, "").await.0, 503);
    assert_eq!(http(addr, "GET", "/healthz", None, "").await.0, 200);

    let endpoint = newmedia_sfu::testing::client_endpoint("127.0.0.1:0".parse().unwrap()).unwrap();
    let refused = within(
        "refusal",
        newmedia_sfu::testing::TestClient::connect(
            &endpoint,
            media,
            fingerprint,
            &newcomer,
            2,
            None,
        ),
    )
    .await;
    assert!(
        refused.is_err(),
        "a newcomer is not admitted while draining"
    );

    // The connected peer is closed with the draining code once the grace period ends.
    match within("close", peer.client.conn.closed()).await {
        quinn::ConnectionError::ApplicationClosed(c) => assert_eq!(c.error_code, close::DRAINING),
        other => panic!("closed by {other:?}"),
    }
    assert_eq!(
        within("drain", draining).await.unwrap(),
        DrainOutcome::GraceExpired
    );
}
