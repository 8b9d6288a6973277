//! The controller's HTTP server: the REST API under `/v1` ([`rest`]), the WebSocket
//! `GET /v1/ws` ([`ws`]), `GET /v1/openapi.json`, `/metrics`, `/healthz`, `/readyz`.
//!
//! Every `/v1` route but the OpenAPI document needs `Authorization: Bearer <credential>`: an
//! app API key, a node key, or a client token (the WebSocket also takes `?token=`, since
//! browsers cannot set headers on it). Bodies are read as JSON whatever their
//! `Content-Type`; failures answer `{"error": {"code", "message"}}` (PROTOCOL.md §14).

pub mod rest;
pub mod ws;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::service::{Service, now_ms};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The OpenAPI 3 document of this API, served at `GET /v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The logic.
    pub service: Arc<Service>,
    /// False while shutting down (`/readyz` answers 503).
    pub ready: Arc<AtomicBool>,
}

/// The caller of a request, with the bearer it presented.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub principal: Principal,
    /// Whether the bearer is a node key.
    pub node_key: bool,
}

impl Caller {
    /// An app, else 403.
    pub fn app(&self) -> Result<(), ApiError> {
        match self.principal {
            Principal::App => Ok(()),
            _ => Err(ApiError::Forbidden(
                "this call needs an app API key".to_owned(),
            )),
        }
    }

    /// A node key, else 403.
    pub fn node(&self) -> Result<(), ApiError> {
        if self.node_key {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this call needs a node API key".to_owned(),
            ))
        }
    }

    /// An app, or the client `client_id` itself, else 403.
    pub fn app_or_client(&self, client_id: &str) -> Result<(), ApiError> {
        match &self.principal {
            Principal::App => Ok(()),
            Principal::Client(c) if c == client_id => Ok(()),
            _ => Err(ApiError::Forbidden(
                "a client token may only act for its own client".to_owned(),
            )),
        }
    }
}

/// The bearer of `Authorization: Bearer <x>`.
pub fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        let credentials = &state.service.credentials;
        let principal = credentials
            .identify(token, now_ms() / 1000)
            .ok_or(ApiError::Unauthorized)?;
        Ok(Caller {
            node_key: credentials.is_node_key(token),
            principal,
        })
    }
}

/// A JSON body whose failures answer 400 `bad_json`.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::BadJson("the request body could not be read".to_owned()))?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| ApiError::BadJson(e.to_string()))
    }
}

/// Path parameters whose failures answer 400 `bad_request`.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|_| {
                ApiError::BadRequest(
                    "bad path parameter (conference IDs are unsigned integers)".to_owned(),
                )
            })
    }
}

/// Every route, as `(method, path)` in OpenAPI spelling; a test checks the OpenAPI document
/// has each.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/openapi.json"),
    ("post", "/v1/tokens"),
    ("get", "/v1/endpoints"),
    ("get", "/v1/endpoints/{clientID}"),
    ("put", "/v1/endpoints/{clientID}/advertisement"),
    ("get", "/v1/conferences"),
    ("post", "/v1/conferences"),
    ("get", "/v1/conferences/{conferenceID}"),
    ("delete", "/v1/conferences/{conferenceID}"),
    ("post", "/v1/conferences/{conferenceID}/parties"),
    (
        "delete",
        "/v1/conferences/{conferenceID}/parties/{clientID}",
    ),
    ("get", "/v1/nodes"),
    ("post", "/v1/nodes"),
    ("put", "/v1/nodes/{nodeID}/heartbeat"),
    ("post", "/v1/nodes/{nodeID}/checks"),
    ("get", "/v1/ws"),
    ("get", "/metrics"),
    ("get", "/healthz"),
    ("get", "/readyz"),
];

/// The router on `state`. Serve it with `axum::serve` (with
/// `into_make_service_with_connect_info::<SocketAddr>()` so the WebSocket sees peer
/// addresses); tests call it with `tower::ServiceExt::oneshot`.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/openapi.json", get(openapi))
        .route("/tokens", post(rest::issue_token))
        .route("/endpoints", get(rest::list_endpoints))
        .route("/endpoints/{client_id}", get(rest::get_endpoint))
        .route(
            "/endpoints/{client_id}/advertisement",
            put(rest::put_advertisement),
        )
        .route(
            "/conferences",
            get(rest::list_conferences).post(rest::create_conference),
        )
        .route(
            "/conferences/{conference_id}",
            get(rest::get_conference).delete(rest::end_conference),
        )
        .route("/conferences/{conference_id}/parties", post(rest::join))
        .route(
            "/conferences/{conference_id}/parties/{client_id}",
            delete(rest::leave),
        )
        .route("/nodes", get(rest::list_nodes).post(rest::register_node))
        .route("/nodes/{node_id}/heartbeat", put(rest::heartbeat))
        .route("/nodes/{node_id}/checks", post(rest::node_checks))
        .route("/ws", get(ws::upgrade));
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .nest("/v1", v1)
        .fallback(no_route)
        .with_state(state)
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    match state.service.metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics encoding failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "metrics unavailable\n").into_response()
        }
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    }
}

async fn no_route() -> ApiError {
    ApiError::NotFound
}

/// A ready flag for [`AppState`].
pub fn ready_flag() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(true))
}
