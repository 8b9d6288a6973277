//! A node killed mid-call: two real `newmedia-sfu` processes register with the controller, a
//! call between two agents runs on one of them, and that process is killed (SIGKILL: no
//! goodbye to anyone). The controller notices the missed heartbeats, places the conference
//! on the other node and sends new proposals; both agents accept, check, get consent and
//! join again (a new `AgentEvent::Joined`), and video sent after the kill arrives through
//! the new node.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
mod e2e;

use common::{API_KEY, config};
use e2e::*;
use newmedia_client::signaling::RestClient;
use newmedia_proto::signaling::rest::CreateConference;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A `newmedia-sfu` process, killed (SIGKILL) on drop.
struct SfuProcess {
    child: std::process::Child,
}

impl SfuProcess {
    fn start(node_id: &str, controller: &str) -> Self {
        let child = std::process::Command::new(sfu_binary())
            .env("NEWMEDIA_SFU_LISTEN", "127.0.0.1:0")
            .env("NEWMEDIA_SFU_HTTP_LISTEN", "127.0.0.1:0")
            .env("NEWMEDIA_SFU_WORKERS", "1")
            .env("NEWMEDIA_SFU_NODE_ID", node_id)
            .env("NEWMEDIA_SFU_STUN_SECRET", format!("{node_id}-stun-secret"))
            .env("NEWMEDIA_SFU_CONTROLLER_URL", controller)
            .env("NEWMEDIA_SFU_CONTROLLER_TOKEN", API_KEY)
            .env("NEWMEDIA_SFU_LOG_LEVEL", "warn")
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("starting newmedia-sfu");
        Self { child }
    }

    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for SfuProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_moves_to_another_node_when_its_node_is_killed() {
    logs();
    let controller = newmedia_controller::start(config()).await.unwrap();
    let url = controller.url();
    let mut nodes = [
        ("sfu-a", SfuProcess::start("sfu-a", &url)),
        ("sfu-b", SfuProcess::start("sfu-b", &url)),
    ];
    within("both nodes registered", async {
        loop {
            let list = controller.service.node_list().await.unwrap();
            if list.nodes.iter().filter(|n| n.alive).count() == 2 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;

    let rest = RestClient::new(&url, API_KEY);
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut alice = party(&url, &rest, "alice", loopback).await;
    let mut bob = party(&url, &rest, "bob", loopback).await;
    let state = rest
        .create_conference(&CreateConference {
            parties: vec!["alice".into(), "bob".into()],
            simulcast: false,
            keys: Default::default(),
            aead: None,
            wait: false,
        })
        .await
        .unwrap();
    let first_node = state.node_id.clone();
    let (_, mut alice_call) = within("alice's call", alice.next_call()).await.unwrap();
    let (_, mut bob_call) = within("bob's call", bob.next_call()).await.unwrap();
    drop(alice_call.take_subscriptions());
    let mut bob_sees_alice = video_subscription(&mut bob_call);
    let next = Arc::new(AtomicU32::new(0));
    let sending = Publishing::start(Arc::new(alice_call), next.clone());
    receive(&mut bob_sees_alice, 10).await;

    // The call's node dies.
    let (_, process) = nodes
        .iter_mut()
        .find(|(id, _)| *id == first_node)
        .expect("the conference is on one of the two nodes");
    process.kill();
    let killed_at = next.load(Ordering::Relaxed);

    // Both agents are proposed the other node, and join there.
    let (_, mut alice_call) = within("alice's new call", alice.next_call()).await.unwrap();
    let (_, mut bob_call) = within("bob's new call", bob.next_call()).await.unwrap();
    drop(sending);
    drop(alice_call.take_subscriptions());
    let mut bob_sees_alice = video_subscription(&mut bob_call);
    let _sending = Publishing::start(Arc::new(alice_call), next.clone());
    let after = receive(&mut bob_sees_alice, 10).await;
    assert!(
        after.iter().all(|s| *s >= killed_at),
        "frames sent after the kill (from {killed_at}): {after:?}"
    );

    let view = rest.conference(state.conference_id).await.unwrap();
    assert_ne!(view.node_id, first_node, "placed again on the other node");
    assert_eq!(view.placements, 2);
    assert!(
        view.parties.iter().all(|p| p.consented.is_some()),
        "{view:?}"
    );
    let dead = controller.service.node_list().await.unwrap();
    assert!(
        dead.nodes
            .iter()
            .any(|n| n.node_id == first_node && !n.alive),
        "{dead:?}"
    );
    drop((alice, bob));
    controller.shutdown().await;
}
