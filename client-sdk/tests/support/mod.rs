//! Shared set-up for the SDK's tests against a real SFU on loopback. Waits are bounded only to
//! turn a hang into a failure; nothing asserts on how long anything took.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::field_reassign_with_default
)]

pub mod admin;
pub mod lossy_proxy;

use newmedia_client::identity::Identity;
use newmedia_proto::grant::{MediaKind, Publication};
use newmedia_sfu::admission::registry::EndpointAdmission;
use newmedia_sfu::app::{self, RunningSfu};
use newmedia_sfu::ops::config::SfuConfig;
use std::future::Future;
use std::time::Duration;

/// Upper bound on any single wait; reached only when something is broken.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// An SFU on loopback with ephemeral ports, answering public STUN2.
pub async fn sfu() -> RunningSfu {
    sfu_with(|_| {}).await
}

/// [`sfu`] with more settings changed by `configure`.
pub async fn sfu_with(configure: impl FnOnce(&mut SfuConfig)) -> RunningSfu {
    let mut c = SfuConfig::default();
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.http_listen = "127.0.0.1:0".parse().unwrap();
    c.workers = 1;
    c.admin_token = Some("test-token".into());
    c.public_stun = true;
    configure(&mut c);
    app::start(c).await.expect("SFU starts")
}

pub fn publication(source_id: u64, encoding_id: u64, kind: MediaKind) -> Publication {
    Publication {
        source_id,
        encoding_id,
        kind,
        width: None,
        height: None,
        max_bitrate: None,
        frame_rate: None,
    }
}

/// A fresh identity admitted to `conference` as `endpoint` with `publications`.
pub fn admit(
    sfu: &RunningSfu,
    conference: u64,
    endpoint: u64,
    publications: Vec<Publication>,
) -> Identity {
    let identity = Identity::self_signed().unwrap();
    let _ = sfu.registry.create_conference(conference);
    sfu.registry
        .admit_endpoint(
            conference,
            EndpointAdmission {
                endpoint_id: endpoint,
                fingerprint: identity.fingerprint().0,
                publications,
            },
        )
        .unwrap();
    identity
}
