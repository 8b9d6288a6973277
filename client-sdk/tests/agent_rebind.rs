//! `Agent::rebind` opens a new controller connection before advertising the new candidates:
//! the old WebSocket's TCP connection went out from the old address and dies with it, so the
//! controller's new checks and consent must come on a connection from the new network.
//! Against a stand-in controller (a WebSocket server that welcomes every advertisement).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use futures_util::{SinkExt as _, StreamExt as _};
use newmedia_client::agent::{Agent, AgentConfig, AgentEvent};
use newmedia_client::client::{Client, ClientConfig};
use newmedia_proto::signaling::{ClientMessage, ServerMessage, Welcome};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

/// What the stand-in controller saw.
#[derive(Debug)]
enum Seen {
    /// Connection `n` advertised these local candidates.
    Advertised(usize, Vec<SocketAddr>),
    /// Connection `n` closed.
    Closed(usize),
}

/// Accepts WebSocket connections, numbers them, answers each advertisement with a welcome.
async fn stand_in_controller() -> (String, mpsc::UnboundedReceiver<Seen>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        for n in 0.. {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
                while let Some(Ok(frame)) = ws.next().await {
                    let Message::Text(text) = frame else { continue };
                    if let Ok(ClientMessage::Advertisement(ad)) = ClientMessage::from_json(&text) {
                        let local = ad
                            .advertisement
                            .receive_at()
                            .iter()
                            .filter_map(|c| c.address().map(|(_, a)| a.socket_addr()))
                            .collect();
                        let _ = tx.send(Seen::Advertised(n, local));
                        let welcome = ServerMessage::Welcome(Welcome {
                            client_id: "alice".into(),
                            relays: Vec::new(),
                        });
                        let _ = ws.send(Message::Text(welcome.to_json().into())).await;
                    }
                }
                let _ = tx.send(Seen::Closed(n));
            });
        }
    });
    (url, rx)
}

async fn next(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(WAIT, seen.recv())
        .await
        .expect("the stand-in controller saw nothing in time")
        .unwrap()
}

#[tokio::test]
async fn rebind_advertises_the_new_address_on_a_new_controller_connection() {
    let (url, mut seen) = stand_in_controller().await;
    let client = Client::start(ClientConfig::default()).unwrap();
    let first = client.endpoint().local_addr().unwrap();
    let mut agent = Agent::start(
        client,
        AgentConfig {
            controller: url,
            token: "a token".into(),
            ..AgentConfig::default()
        },
    )
    .await
    .unwrap();
    match next(&mut seen).await {
        Seen::Advertised(0, local) => assert_eq!(local, vec![first]),
        other => panic!("expected the first advertisement, got {other:?}"),
    }
    assert!(matches!(
        tokio::time::timeout(WAIT, agent.next_event())
            .await
            .unwrap(),
        Some(AgentEvent::Welcome { .. })
    ));

    let moved = agent.rebind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    assert_ne!(moved, first);
    // The new candidates go out on connection 1, and connection 0 is closed.
    let mut advertised = None;
    let mut closed = false;
    while advertised.is_none() || !closed {
        match next(&mut seen).await {
            Seen::Advertised(1, local) => advertised = Some(local),
            Seen::Closed(0) => closed = true,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(advertised.unwrap(), vec![moved]);
    // The agent follows the new connection.
    assert!(matches!(
        tokio::time::timeout(WAIT, agent.next_event())
            .await
            .unwrap(),
        Some(AgentEvent::Welcome { .. })
    ));
}
