//! `GET /v1/ws`: the client's WebSocket (PROTOCOL.md §14).
//!
//! The client authenticates with its token (`Authorization: Bearer`, or `?token=`), sends an
//! `advertisement` and gets `welcome`, then any proposal it has pending. From then on the
//! controller sends proposals, checks, consents and `conferenceEnded`; the client answers with
//! `proposalResult` and reports downlink checks with `checkReceived`. A message that cannot be
//! handled gets an `error` and the connection stays open.

use super::AppState;
use crate::error::ApiError;
use crate::service::{Service, now_ms};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::response::Response;
use futures_util::{SinkExt as _, StreamExt as _};
use newmedia_proto::signaling::rest::ErrorCode;
use newmedia_proto::signaling::{ChannelError, ChannelErrorMessage, ClientMessage, ServerMessage};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The largest message a client may send, bytes.
const MAX_MESSAGE: usize = 256 * 1024;

#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    token: Option<String>,
}

/// The peer address when the server was started with connect info (absent under `oneshot`).
pub(crate) struct Peer(Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
                .await
                .ok()
                .map(|ConnectInfo(a)| a),
        ))
    }
}

/// Authenticates, then upgrades.
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    Peer(peer): Peer,
    Query(query): Query<TokenQuery>,
    parts: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let header_token = parts
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let token = header_token.or(query.token).ok_or(ApiError::Unauthorized)?;
    let client_id = state
        .service
        .credentials
        .verify_token(&token, now_ms() / 1000)
        .ok_or(ApiError::Unauthorized)?;
    let service = state.service.clone();
    Ok(ws
        .max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| serve(service, client_id, peer.map(|p| p.ip()), socket)))
}

fn error(code: ErrorCode, message: impl Into<String>) -> ServerMessage {
    ServerMessage::Error(ChannelErrorMessage {
        code: code.as_str().to_owned(),
        message: message.into(),
    })
}

fn api_error(e: &ApiError) -> ServerMessage {
    error(e.code(), e.public_message())
}

async fn serve(service: Arc<Service>, client_id: String, peer: Option<IpAddr>, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (serial, mut queue) = service.hub.connect(&client_id);
    service.metrics.ws_connections.inc();
    if let Err(e) = service
        .store
        .set_presence(&client_id, Some(service.hub.controller_id()))
        .await
    {
        tracing::warn!(error = %e, "presence not recorded");
    }
    tracing::info!(client = %client_id, "WebSocket open");

    let writer = tokio::spawn(async move {
        while let Some(message) = queue.recv().await {
            if sink
                .send(Message::Text(message.to_json().into()))
                .await
                .is_err()
            {
                break;
            }
        }
        let _ = sink.close().await;
    });

    let mut advertised = false;
    while let Some(Ok(frame)) = stream.next().await {
        let text = match frame {
            Message::Text(t) => t,
            Message::Close(_) => break,
            Message::Binary(_) => {
                service
                    .hub
                    .send(
                        &client_id,
                        error(ErrorCode::BadJson, "messages are JSON text frames"),
                    )
                    .await;
                continue;
            }
            _ => continue,
        };
        let reply = handle(&service, &client_id, peer, &mut advertised, text.as_str()).await;
        if let Some(reply) = reply {
            service.hub.send(&client_id, reply).await;
        }
    }

    if service.hub.disconnect(&client_id, serial)
        && let Err(e) = service.store.set_presence(&client_id, None).await
    {
        tracing::warn!(error = %e, "presence not cleared");
    }
    writer.abort();
    service.metrics.ws_connections.dec();
    tracing::info!(client = %client_id, "WebSocket closed");
}

/// Handles one message; returns the direct reply, if any.
async fn handle(
    service: &Service,
    client_id: &str,
    peer: Option<IpAddr>,
    advertised: &mut bool,
    text: &str,
) -> Option<ServerMessage> {
    let message = match ClientMessage::from_json(text) {
        Ok(m) => m,
        Err(ChannelError::Invalid { source, .. }) => {
            return Some(error(ErrorCode::BadAdvertisement, source.to_string()));
        }
        Err(e) => return Some(error(ErrorCode::BadJson, e.to_string())),
    };
    match message {
        ClientMessage::Advertisement(ad) => {
            if ad.client_id.as_deref().is_some_and(|c| c != client_id) {
                return Some(error(
                    ErrorCode::ClientMismatch,
                    format!("the token is for {client_id:?}"),
                ));
            }
            match service
                .advertise(client_id, &ad.fingerprint, ad.advertisement, peer)
                .await
            {
                Ok(welcome) => {
                    *advertised = true;
                    service
                        .hub
                        .send(client_id, ServerMessage::Welcome(welcome))
                        .await;
                    if let Err(e) = service.resend_pending(client_id).await {
                        return Some(api_error(&e));
                    }
                    None
                }
                Err(e) => Some(api_error(&e)),
            }
        }
        ClientMessage::Ping(ping) => Some(ServerMessage::Pong(ping)),
        _ if !*advertised => Some(error(
            ErrorCode::NotAdvertised,
            "send an advertisement first",
        )),
        ClientMessage::ProposalResult(result) => service
            .proposal_result(client_id, result)
            .await
            .err()
            .map(|e| api_error(&e)),
        ClientMessage::CheckReceived(report) => service
            .client_report(client_id, report)
            .await
            .err()
            .map(|e| api_error(&e)),
    }
}
