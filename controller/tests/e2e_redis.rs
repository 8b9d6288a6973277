//! Two controllers on one real Redis serve one conference end to end: one SFU node registers
//! at controller one, alice's agent is connected to controller one and bob's to controller
//! two, the conference is created through controller two, and video flows both ways between
//! them. The node's check reports reach controller one while bob's checks and consent go
//! out from controller two's WebSocket, so Snowflake crosses the Redis bus both ways.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
mod e2e;

use common::{API_KEY, Redis, config};
use e2e::*;
use newmedia_client::signaling::RestClient;
use newmedia_proto::signaling::rest::CreateConference;
use newmedia_sfu::ops::config::SfuConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_on_two_controllers_sharing_redis_exchange_media() {
    logs();
    let redis = Redis::start();
    let shared = |id: &str| {
        let mut cfg = config();
        cfg.redis_url = Some(redis.url.clone());
        cfg.controller_id = Some(id.to_owned());
        cfg
    };
    let one = newmedia_controller::start(shared("one")).await.unwrap();
    let two = newmedia_controller::start(shared("two")).await.unwrap();

    // The node registers and reports at controller one (app keys serve nodes here).
    let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
    let sfu = newmedia_sfu::app::start(SfuConfig {
        listen: loopback(0),
        http_listen: loopback(0),
        workers: 1,
        node_id: Some("sfu-redis".to_owned()),
        stun_secret: "node-stun-secret".to_owned(),
        controller_url: Some(one.url()),
        controller_token: Some(API_KEY.to_owned()),
        ..SfuConfig::default()
    })
    .await
    .unwrap();
    // Controller two sees it live through Redis.
    within("the node at controller two", async {
        loop {
            if let Ok(list) = two.service.node_list().await
                && list
                    .nodes
                    .iter()
                    .any(|n| n.node_id == "sfu-redis" && n.alive)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;

    let api_one = RestClient::new(&one.url(), API_KEY);
    let api_two = RestClient::new(&two.url(), API_KEY);
    let mut alice = party(&one.url(), &api_one, "alice", loopback(0)).await;
    let mut bob = party(&two.url(), &api_two, "bob", loopback(0)).await;

    let state = api_two
        .create_conference(&CreateConference {
            parties: vec!["alice".into(), "bob".into()],
            simulcast: false,
            keys: Default::default(),
            aead: None,
            wait: false,
        })
        .await
        .unwrap();
    assert_eq!(state.node_id, "sfu-redis");
    let (_, mut alice_call) = within("alice's call", alice.next_call()).await.unwrap();
    let (_, mut bob_call) = within("bob's call", bob.next_call()).await.unwrap();
    let mut alice_sees_bob = video_subscription(&mut alice_call);
    let mut bob_sees_alice = video_subscription(&mut bob_call);

    let _alice_sends = Publishing::start(Arc::new(alice_call), Arc::new(AtomicU32::new(0)));
    let _bob_sends = Publishing::start(Arc::new(bob_call), Arc::new(AtomicU32::new(1_000_000)));
    let at_bob = receive(&mut bob_sees_alice, 10).await;
    let at_alice = receive(&mut alice_sees_bob, 10).await;
    assert!(at_bob.windows(2).all(|w| w[0] < w[1]), "{at_bob:?}");
    assert!(at_alice.iter().all(|s| *s >= 1_000_000), "{at_alice:?}");

    // Both controllers show both parties consented on the one node.
    for api in [&api_one, &api_two] {
        let view = api.conference(state.conference_id).await.unwrap();
        assert_eq!(view.node_id, "sfu-redis");
        assert!(
            view.parties.iter().all(|p| p.consented.is_some()),
            "{view:?}"
        );
    }
    assert!(sfu.snowflake.snapshot().checks_reported >= 2);

    drop((alice, bob));
    one.shutdown().await;
    two.shutdown().await;
    drop(redis);
}
