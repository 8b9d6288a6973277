//! Shared set-up for the SFU's end-to-end tests: a node on loopback, admitted clients, RTP3
//! messages. Waits are bounded by generous timeouts that only turn a hang into a failure;
//! no test asserts on how long anything took.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::field_reassign_with_default,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use bytes::Bytes;
use newmedia_proto::control::ControlMessage;
use newmedia_proto::crypto::{Algorithm, MessageKey};
use newmedia_proto::grant::{MediaKind, Publication};
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::{Headers, Sealer};
use newmedia_sfu::admission::registry::EndpointAdmission;
use newmedia_sfu::admission::tls::Identity;
use newmedia_sfu::app::{self, RunningSfu};
use newmedia_sfu::ops::config::SfuConfig;
use newmedia_sfu::testing::{TestClient, client_endpoint};
use std::future::Future;
use std::time::Duration;

/// Upper bound on any single wait; only reached when something is broken.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Waits until `condition` holds, re-checking every few milliseconds: for counters that the
/// SFU updates just after the event a test observed. Fails only after [`PATIENCE`].
pub async fn eventually(what: &str, condition: impl Fn() -> bool) {
    within(what, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

pub fn config() -> SfuConfig {
    let mut c = SfuConfig::default();
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.http_listen = "127.0.0.1:0".parse().unwrap();
    c.workers = 2;
    c.admin_token = Some("test-token".into());
    c.drain_grace_secs = 2;
    c
}

pub async fn start() -> RunningSfu {
    start_with(config()).await
}

pub async fn start_with(config: SfuConfig) -> RunningSfu {
    app::start(config).await.expect("SFU starts")
}

pub fn audio(source_id: u64) -> Publication {
    Publication {
        source_id,
        encoding_id: 1,
        kind: MediaKind::Audio,
        width: None,
        height: None,
        max_bitrate: Some(64_000),
        frame_rate: None,
    }
}

pub fn video(
    source_id: u64,
    encoding_id: u64,
    width: u32,
    height: u32,
    bitrate: u64,
) -> Publication {
    Publication {
        source_id,
        encoding_id,
        kind: MediaKind::Video,
        width: Some(width),
        height: Some(height),
        max_bitrate: Some(bitrate),
        frame_rate: Some(30),
    }
}

/// A client endpoint, its identity, and its admitted connection.
pub struct Peer {
    pub client: TestClient,
    pub endpoint: quinn::Endpoint,
    pub conference_id: u64,
    pub endpoint_id: u64,
}

impl Peer {
    pub fn geid(&self, p: &Publication) -> GlobalEncodingId {
        p.global_encoding_id(self.conference_id, self.endpoint_id)
    }

    pub async fn send(&mut self, message: ControlMessage) {
        within("control send", self.client.send_control(message))
            .await
            .unwrap();
    }

    /// The next control message that `pick` accepts (others are skipped).
    pub async fn expect_control<T>(
        &mut self,
        what: &str,
        mut pick: impl FnMut(ControlMessage) -> Option<T>,
    ) -> T {
        within(what, async {
            loop {
                let m = self.client.next_control().await.expect("control stream");
                if let Some(t) = pick(m) {
                    return t;
                }
            }
        })
        .await
    }

    pub async fn recv(&self) -> Bytes {
        within("a datagram", self.client.recv_datagram())
            .await
            .expect("datagram")
    }

    /// Every datagram that arrives within `window` (a bounded window, also when a stream
    /// keeps flowing).
    pub async fn drain_datagrams(&self, window: Duration) -> Vec<Bytes> {
        let deadline = tokio::time::Instant::now() + window;
        let mut out = Vec::new();
        while let Ok(Ok(d)) = tokio::time::timeout_at(deadline, self.client.recv_datagram()).await {
            out.push(d);
        }
        out
    }
}

/// Registers a fresh identity for (conference, endpoint) with the given publications and
/// connects it.
pub async fn join(
    sfu: &RunningSfu,
    conference_id: u64,
    endpoint_id: u64,
    publications: Vec<Publication>,
) -> Peer {
    let identity = Identity::self_signed(vec!["client".into()]).unwrap();
    let _ = sfu.registry.create_conference(conference_id);
    sfu.registry
        .admit_endpoint(
            conference_id,
            EndpointAdmission {
                endpoint_id,
                fingerprint: identity.fingerprint(),
                publications,
            },
        )
        .unwrap();
    connect(sfu, &identity, endpoint_id, None)
        .await
        .expect("admitted")
}

pub async fn connect(
    sfu: &RunningSfu,
    identity: &Identity,
    endpoint_id: u64,
    grant: Option<Vec<u8>>,
) -> Result<Peer, newmedia_sfu::testing::ClientError> {
    let endpoint = client_endpoint("127.0.0.1:0".parse().unwrap()).unwrap();
    let client = within(
        "connect",
        TestClient::connect(
            &endpoint,
            sfu.media_addr,
            sfu.fingerprint,
            identity,
            endpoint_id,
            grant,
        ),
    )
    .await?;
    let conference_id = sfu
        .registry
        .by_fingerprint(&identity.fingerprint())
        .map(|a| a.conference_id)
        .unwrap_or(0);
    Ok(Peer {
        endpoint_id: client.sfu_hello.endpoint_id,
        client,
        endpoint,
        conference_id,
    })
}

/// Builds RTP3 messages of one encoding (NULL AEAD unless given a key).
pub struct Encoder {
    pub geid: GlobalEncodingId,
    sealer: Sealer,
    next: u64,
}

impl Encoder {
    pub fn new(geid: GlobalEncodingId) -> Self {
        Self {
            geid,
            sealer: Sealer::new(
                MessageKey::derive(Algorithm::Null, b"", 0, 0, geid),
                [0; 12],
            ),
            next: 0,
        }
    }

    pub fn aes(geid: GlobalEncodingId, conference_id: u64, endpoint_id: u64) -> Self {
        let key = MessageKey::derive(
            Algorithm::Aes128Gcm,
            b"test secret",
            conference_id,
            endpoint_id,
            geid,
        );
        Self {
            geid,
            sealer: Sealer::new(key, [9; 12]),
            next: 0,
        }
    }

    /// The next message, customised by `f`.
    pub fn message(&mut self, payload: &[u8], f: impl FnOnce(&mut Headers)) -> Bytes {
        let mut h = Headers::new(self.geid, self.next);
        self.next += 1;
        f(&mut h);
        let mut out = Vec::new();
        self.sealer.seal(&h, payload, &mut out).unwrap();
        Bytes::from(out)
    }
}
