//! TURN2 end to end: a client that cannot receive UDP still gets its media.
//!
//! The client (the `netns_agent` example, its own process) runs in a network namespace whose
//! inbound UDP is dropped by iptables, while TCP to the controller and to the node's TURN2
//! relay still works. It allocates at the node's relay and advertises the relay candidate;
//! the controller orders the downlink check through the node, the client reports it (the
//! check reached it through the relay), the node installs the downlink redirect, the
//! controller consents, the client connects over QUIC (its packets to the node go out
//! directly, the node's come back through the relay) and receives the video a publisher in
//! the root namespace sends.
//!
//! Needs root and `ip netns` (skipped with a message otherwise, except in CI where that is a
//! failure) and iptables (`.ci/setup` installs it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod e2e;

use e2e::*;
use newmedia_client::signaling::RestClient;
use newmedia_controller::embedded::{self, EmbeddedConfig};
use newmedia_proto::signaling::rest::CreateConference;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

/// Packets the namespace's INPUT DROP rule dropped.
fn dropped_udp(ns: &Netns) -> u64 {
    let table = ns.exec("iptables", &["-L", "INPUT", "-v", "-x", "-n"]);
    table
        .lines()
        .find(|l| l.contains("DROP"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no DROP rule in\n{table}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_without_inbound_udp_receives_media_through_the_relay() {
    if !netns_or_skip("client_without_inbound_udp_receives_media_through_the_relay") {
        return;
    }
    logs();
    assert!(
        std::process::Command::new("iptables")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "iptables is needed to drop the namespace's inbound UDP (.ci/setup installs it)"
    );
    let agent_bin = netns_agent();
    let ns = Netns::create("turn");
    ns.exec("iptables", &["-A", "INPUT", "-p", "udp", "-j", "DROP"]);

    // Controller, node and relay on the root end of the veth, reachable from the namespace.
    let host = ns.outer_ip();
    let mut config = EmbeddedConfig::default();
    config.controller.listen = SocketAddr::new(host, 0);
    config.sfu.listen = SocketAddr::new(host, 0);
    config.sfu.turn2_listen = Some(SocketAddr::new(host, 0));
    config.sfu.turn2_inbound_ip = host;
    config.sfu.stun_secret = "node-stun-secret".to_owned();
    let stack = embedded::start(config).await.unwrap();
    let url = stack.url();
    let rest = RestClient::new(&url, stack.api_key());

    let mut publisher = party(&url, &rest, "publisher", SocketAddr::new(host, 0)).await;
    let token = rest.token("viewer", None).await.unwrap().token;
    let bind = SocketAddr::new(ns.inner_ip(), 0).to_string();
    let mut viewer = ns.spawn(
        &agent_bin,
        &[
            "--controller",
            &url,
            "--token",
            &token,
            "--client-id",
            "viewer",
            "--bind",
            &bind,
            "--relay",
        ]
        .map(str::to_owned),
    );
    viewer
        .until("the welcome", |w| (w[0] == "welcome").then_some(()))
        .await;
    let inbound: SocketAddr = viewer
        .until("the relay allocation", |w| {
            (w[0] == "relayed").then(|| w[1].parse().unwrap())
        })
        .await;
    assert_eq!(inbound.ip(), host, "the allocation is on the node's relay");
    // The controller's answer to the advertisement with the relay candidate.
    viewer
        .until("the welcome of the relay advertisement", |w| {
            (w[0] == "welcome").then_some(())
        })
        .await;

    let state = rest
        .create_conference(&CreateConference {
            parties: vec!["publisher".into(), "viewer".into()],
            simulcast: false,
            keys: Default::default(),
            aead: None,
            wait: false,
        })
        .await
        .unwrap();
    let (_, mut call) = within("the publisher's call", publisher.next_call())
        .await
        .unwrap();
    drop(call.take_subscriptions());
    viewer
        .until("the viewer's call", |w| (w[0] == "joined").then_some(()))
        .await;

    let _sending = Publishing::start(Arc::new(call), Arc::new(AtomicU32::new(0)));
    let seqs = viewer.frames(20).await;
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "frames play out in order: {seqs:?}"
    );

    // It came through the relay: the node's packets were injected by the relay client, the
    // direct ones were dropped, and the node redirected the viewer's downlink.
    viewer.send("stats").await;
    let injected: u64 = viewer
        .until("the viewer's socket stats", |w| {
            (w[0] == "stats").then(|| w[1].strip_prefix("injected=").unwrap().parse().unwrap())
        })
        .await;
    assert!(
        injected >= 20,
        "relayed packets reached the viewer: {injected}"
    );
    assert!(dropped_udp(&ns) > 0, "direct UDP to the viewer was dropped");
    let node = stack.sfu.snowflake.snapshot();
    assert!(node.downlinks_installed >= 1, "{node:?}");
    let relay = stack.sfu.relay.as_ref().unwrap().stats();
    assert!(relay.relayed_packets >= 20, "{relay:?}");

    // The controller consented the viewer's relay path (its direct path never got the
    // node's downlink check through).
    let history = stack
        .controller
        .service
        .store
        .history(&format!("v4:{}.0/24", ns.net))
        .await
        .unwrap();
    assert!(history["relay>local"].successes >= 1, "{history:?}");
    let view = rest.conference(state.conference_id).await.unwrap();
    let consented = view
        .parties
        .iter()
        .find(|p| p.client_id == "viewer")
        .and_then(|p| p.consented.clone())
        .expect("the viewer's path was consented");
    assert!(
        consented.starts_with(&ns.inner_ip().to_string()),
        "{consented}"
    );
}
