//! The client's WebSocket to the controller.

use super::SignalingClientError;
use futures_util::{SinkExt as _, StreamExt as _};
use newmedia_proto::signaling::{
    Advertisement, AdvertisementMessage, ChannelError, ChannelErrorMessage, CheckCommand,
    CheckReceived, ClientMessage, ConferenceEnded, Consent, Ping, ProposalMessage, ProposalResult,
    ServerMessage, Welcome, proposal_id_of,
};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// What the controller told the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalingEvent {
    /// The answer to an advertisement.
    Welcome(Welcome),
    /// A valid proposal: apply it whole or reject it whole, then answer.
    Proposal(ProposalMessage),
    /// A proposal that failed validation; it was rejected already.
    InvalidProposal {
        /// Its ID.
        proposal_id: String,
        /// Why.
        error: String,
    },
    /// Send a STUN2 request (uplink check).
    Check(CheckCommand),
    /// The receiver saw a check: compare the secret, then use the pair.
    Consent(Consent),
    /// A conference ended or the client left it.
    ConferenceEnded(ConferenceEnded),
    /// The controller could not handle a message of ours.
    Error(ChannelErrorMessage),
    /// The answer to a ping.
    Pong(Ping),
    /// A message this SDK does not know (from a newer controller), by its type.
    Unknown(String),
}

/// The controller's WebSocket URL for an HTTP base URL: `http://h:p` → `ws://h:p/v1/ws`,
/// `https://` → `wss://`.
pub fn ws_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    let ws = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_owned()
    };
    format!("{ws}/v1/ws")
}

/// An open WebSocket to the controller. Dropping it closes the connection.
#[derive(Debug)]
pub struct SignalingClient {
    outgoing: mpsc::UnboundedSender<ClientMessage>,
    events: mpsc::UnboundedReceiver<SignalingEvent>,
    close: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SignalingClient {
    /// Opens `url` (`ws://.../v1/ws`, see [`ws_url`]) with the client `token`.
    pub async fn connect(url: &str, token: &str) -> Result<Self, SignalingClientError> {
        let mut request = url
            .into_client_request()
            .map_err(|e| SignalingClientError::WebSocket(Box::new(e)))?;
        let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|e| SignalingClientError::Unexpected(format!("token: {e}")))?;
        request.headers_mut().insert("authorization", bearer);
        // TCP_NODELAY: accepts, check reports and the like are small messages that must not
        // wait for the controller's delayed ACK behind Nagle's algorithm (40 ms on Linux).
        let (socket, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
            .await
            .map_err(|e| SignalingClientError::WebSocket(Box::new(e)))?;
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<ClientMessage>();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let rejects = out_tx.clone();
        let (close_tx, mut close_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let (mut sink, mut stream) = socket.split();
            loop {
                tokio::select! {
                    _ = &mut close_rx => break,
                    out = out_rx.recv() => {
                        let Some(message) = out else { break };
                        if sink.send(Message::Text(message.to_json().into())).await.is_err() {
                            break;
                        }
                    }
                    frame = stream.next() => {
                        let Some(Ok(frame)) = frame else { break };
                        let text = match frame {
                            Message::Text(t) => t,
                            Message::Close(_) => break,
                            _ => continue,
                        };
                        let Some(event) = read_event(text.as_str(), &rejects) else {
                            continue;
                        };
                        if ev_tx.send(event).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = sink.close().await;
        });
        Ok(Self {
            outgoing: out_tx,
            events: ev_rx,
            close: Some(close_tx),
            task: Some(task),
        })
    }

    /// Sends any message.
    pub fn send(&self, message: ClientMessage) -> Result<(), SignalingClientError> {
        self.outgoing
            .send(message)
            .map_err(|_| SignalingClientError::Closed)
    }

    /// Sends the advertisement (first, and again whenever candidates change). `client_id`
    /// may be given to have the controller check it against the token.
    pub fn advertise(
        &self,
        client_id: Option<&str>,
        fingerprint: &str,
        advertisement: Advertisement,
    ) -> Result<(), SignalingClientError> {
        self.send(ClientMessage::Advertisement(AdvertisementMessage {
            client_id: client_id.map(str::to_owned),
            fingerprint: fingerprint.to_owned(),
            advertisement,
        }))
    }

    /// Accepts a proposal whole.
    pub fn accept(&self, proposal_id: &str) -> Result<(), SignalingClientError> {
        self.send(ClientMessage::ProposalResult(ProposalResult {
            proposal_id: proposal_id.to_owned(),
            accepted: true,
            reason: None,
        }))
    }

    /// Rejects a proposal whole.
    pub fn reject(&self, proposal_id: &str, reason: &str) -> Result<(), SignalingClientError> {
        self.send(ClientMessage::ProposalResult(ProposalResult {
            proposal_id: proposal_id.to_owned(),
            accepted: false,
            reason: Some(reason.to_owned()),
        }))
    }

    /// Reports a STUN2 request with a sender secret that arrived (downlink check).
    pub fn check_received(&self, report: CheckReceived) -> Result<(), SignalingClientError> {
        self.send(ClientMessage::CheckReceived(report))
    }

    /// The next event; `None` once the connection is closed.
    pub async fn next_event(&mut self) -> Option<SignalingEvent> {
        self.events.recv().await
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SignalingClient {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Turns one text frame into an event; rejects invalid proposals on the way.
fn read_event(
    text: &str,
    rejects: &mpsc::UnboundedSender<ClientMessage>,
) -> Option<SignalingEvent> {
    match ServerMessage::from_json(text) {
        Ok(ServerMessage::Welcome(w)) => Some(SignalingEvent::Welcome(w)),
        Ok(ServerMessage::Proposal(p)) => Some(SignalingEvent::Proposal(p)),
        Ok(ServerMessage::Check(c)) => Some(SignalingEvent::Check(c)),
        Ok(ServerMessage::Consent(c)) => Some(SignalingEvent::Consent(c)),
        Ok(ServerMessage::ConferenceEnded(c)) => Some(SignalingEvent::ConferenceEnded(c)),
        Ok(ServerMessage::Error(e)) => Some(SignalingEvent::Error(e)),
        Ok(ServerMessage::Pong(p)) => Some(SignalingEvent::Pong(p)),
        Err(ChannelError::UnknownType(t)) => Some(SignalingEvent::Unknown(t)),
        Err(ChannelError::Invalid { source, .. }) => {
            let proposal_id = proposal_id_of(text)?;
            let error = source.to_string();
            let _ = rejects.send(ClientMessage::ProposalResult(ProposalResult {
                proposal_id: proposal_id.clone(),
                accepted: false,
                reason: Some(error.clone()),
            }));
            Some(SignalingEvent::InvalidProposal { proposal_id, error })
        }
        Err(ChannelError::Malformed(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(ws_url("http://127.0.0.1:7000"), "ws://127.0.0.1:7000/v1/ws");
        assert_eq!(ws_url("https://c.example/"), "wss://c.example/v1/ws");
    }

    #[test]
    fn invalid_proposal_is_rejected() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let text = r#"{"type":"proposal","proposalID":"9.1.1","conferenceID":9,"endpointID":1,
            "proposal":{"sendStreams":[{"conferenceID":9,"endpointID":1,"sourceID":1,
            "encodingID":1,"codecName":"opus","AEAD":"AES128-GCM"}]}}"#;
        let event = read_event(text, &tx).unwrap();
        assert!(
            matches!(event, SignalingEvent::InvalidProposal { ref proposal_id, .. } if proposal_id == "9.1.1")
        );
        let ClientMessage::ProposalResult(r) = rx.try_recv().unwrap() else {
            panic!("no rejection");
        };
        assert!(!r.accepted);
        assert!(r.reason.unwrap().contains("needs a secret"));
        assert_eq!(
            read_event(r#"{"type":"future"}"#, &tx),
            Some(SignalingEvent::Unknown("future".into()))
        );
        assert_eq!(read_event("[]", &tx), None);
    }
}
