//! An address change keeps the call: a client (the `netns_agent` example, its own process)
//! in a network namespace receives video from a publisher in the root namespace; its address
//! changes (a second address on its veth, the agent rebinds to it, the old address is
//! removed), its QUIC flow migrates, the controller checks the new candidates and consents
//! again (`AgentEvent::Migrated`), and the video keeps arriving on the same call. The
//! agent's controller connection moves to the new network as well: the controller still
//! reaches it after the old address is gone.
//!
//! Needs root and `ip netns` (skipped with a message otherwise, except in CI where that is a
//! failure).
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_address_changes_keeps_receiving_media() {
    if !netns_or_skip("a_client_whose_address_changes_keeps_receiving_media") {
        return;
    }
    logs();
    let agent_bin = netns_agent();
    let ns = Netns::create("move");
    // The old address goes away while the new one, in the same subnet, stays: it must be
    // promoted rather than removed with it.
    ns.exec(
        "sysctl",
        &[
            "-q",
            "-w",
            &format!("net.ipv4.conf.{}.promote_secondaries=1", ns.inner_dev),
        ],
    );

    let host = ns.outer_ip();
    let mut config = EmbeddedConfig::default();
    config.controller.listen = SocketAddr::new(host, 0);
    config.sfu.listen = SocketAddr::new(host, 0);
    config.sfu.turn2_listen = None;
    config.sfu.stun_secret = "node-stun-secret".to_owned();
    let stack = embedded::start(config).await.unwrap();
    let url = stack.url();
    let rest = RestClient::new(&url, stack.api_key());

    let mut publisher = party(&url, &rest, "publisher", SocketAddr::new(host, 0)).await;
    let token = rest.token("mover", None).await.unwrap().token;
    let old_ip = ns.inner_ip();
    let mut mover = ns.spawn(
        &agent_bin,
        &[
            "--controller",
            &url,
            "--token",
            &token,
            "--client-id",
            "mover",
            "--bind",
            &SocketAddr::new(old_ip, 0).to_string(),
        ]
        .map(str::to_owned),
    );
    mover
        .until("the welcome", |w| (w[0] == "welcome").then_some(()))
        .await;

    let state = rest
        .create_conference(&CreateConference {
            parties: vec!["publisher".into(), "mover".into()],
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
    mover
        .until("the mover's call", |w| (w[0] == "joined").then_some(()))
        .await;
    let _sending = Publishing::start(Arc::new(call), Arc::new(AtomicU32::new(0)));
    let before = mover.frames(10).await;

    // The network changes under the call.
    let new_ip = ns.addr(3);
    ns.ip(&["addr", "add", &format!("{new_ip}/24"), "dev", &ns.inner_dev]);
    // The new network becomes the preferred route (new connections, such as the agent's
    // new controller connection, go out from it), as when a device switches networks
    // before the old one is gone.
    ns.ip(&[
        "route",
        "replace",
        &format!("{}.0/24", ns.net),
        "dev",
        &ns.inner_dev,
        "src",
        &new_ip.to_string(),
    ]);
    mover
        .send(&format!("rebind {}", SocketAddr::new(new_ip, 0)))
        .await;
    let rebound: SocketAddr = mover
        .until("the rebind", |w| {
            (w[0] == "rebound").then(|| w[1].parse().unwrap())
        })
        .await;
    assert_eq!(rebound.ip(), new_ip);
    ns.ip(&["addr", "del", &format!("{old_ip}/24"), "dev", &ns.inner_dev]);
    assert!(
        !ns.exec("ip", &["-4", "addr", "show", "dev", &ns.inner_dev])
            .contains(&format!("{old_ip}/")),
        "the old address is gone"
    );
    mover.send("mark").await;

    // The controller checked the new address and consented again: the flow migrated.
    let observed: SocketAddr = mover
        .until("the new consent", |w| match w[0] {
            "migrated" => Some(w[2].parse().unwrap()),
            "joined" => panic!("the call was set up again instead of migrating"),
            _ => None,
        })
        .await;
    assert_eq!(observed, rebound, "the node sees the new address");
    // Everything after the mark arrived once the old address was gone.
    if !mover.seen.iter().any(|l| l == "mark") {
        mover
            .until("the mark", |w| (w[0] == "mark").then_some(()))
            .await;
    }
    let marked = mover
        .seen
        .iter()
        .position(|l| l == "mark")
        .expect("the mark was read");
    let mut after: Vec<u32> = mover.seen[marked..]
        .iter()
        .filter_map(|l| l.strip_prefix("frame "))
        .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect();
    if after.len() < 10 {
        after.extend(mover.frames(10 - after.len()).await);
    }
    assert!(
        after.iter().all(|s| s > before.last().unwrap()),
        "new frames after the move: {after:?}"
    );
    let joins = mover
        .seen
        .iter()
        .filter(|l| l.starts_with("joined "))
        .count();
    assert_eq!(joins, 1, "one call throughout");

    // The controller's view: the mover's consented path is the new address.
    let view = rest.conference(state.conference_id).await.unwrap();
    let consented = view
        .parties
        .iter()
        .find(|p| p.client_id == "mover")
        .and_then(|p| p.consented.clone())
        .expect("the mover's path was consented");
    assert!(consented.starts_with(&rebound.to_string()), "{consented}");

    // The controller still reaches the client: its connection moved to the new network too.
    rest.end(state.conference_id).await.unwrap();
    let ended = mover
        .until("the end of the conference", |w| {
            (w[0] == "ended").then(|| (w[1].parse::<u64>().unwrap(), w[2].to_owned()))
        })
        .await;
    assert_eq!(ended, (state.conference_id, "ended".to_owned()));
}
