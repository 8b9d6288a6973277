//! The node's HTTP server: `/metrics`, `/healthz`, `/readyz`, and the admin API under `/v1`.
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /metrics` | Prometheus text exposition |
//! | `GET /healthz` | 200 `ok` while the process runs (liveness) |
//! | `GET /readyz` | 200 `ready`, or 503 `draining` (readiness) |
//! | `POST /v1/conferences` `{"conferenceID": n}` | 201, 409 `already_exists` |
//! | `GET /v1/conferences` | 200 `{"conferences": [{"conferenceID", "endpointCount"}]}` |
//! | `DELETE /v1/conferences/{id}` | 204, 404 `not_found` |
//! | `PUT /v1/conferences/{id}/endpoints/{endpointID}` `{"fingerprint", "publications"}` | 201 created, 200 replaced or unchanged; 404, 409 `fingerprint_in_use` |
//! | `DELETE /v1/conferences/{id}/endpoints/{endpointID}` | 204, 404 |
//! | `GET /v1/stats` | 200, the live statistics the node supplies |
//! | `POST /v1/checks` `{"checkID", "to", "stunSecret"}` | 202: the node sends a STUN2 request from its media socket to `to`; 409 `already_exists`, 503 `too_many_checks` |
//! | `POST /v1/downlinks` `{"checkID", "senderSecret", "observed"}` | 204: packets to `observed` now go to the check's `to`; 404 unknown check, 409 `secret_mismatch` |
//! | `DELETE /v1/downlinks/{observed}` | 204, 404 |
//! | `PUT /v1/relay/fingerprints/{64 hex}` | 204; 400 bad fingerprint, 404 `relay_disabled` |
//! | `DELETE /v1/relay/fingerprints/{64 hex}` | 204 (its allocation is released, its connections closed); 404 `not_found`, `relay_disabled` |
//!
//! Every `/v1` call needs `Authorization: Bearer <admin token>` (else 401 `unauthorized`).
//! While the node drains, creating conferences and admitting endpoints answer 503 `draining`;
//! deletions still work. Errors are `{"error": {"code": ..., "message": ...}}` with a stable
//! code; messages describe the request, never the node's internals. Bodies are read as JSON
//! whatever their `Content-Type`, so `curl -d` works without `-H`.

use crate::admission::registry::{AdmitOutcome, EndpointAdmission, Registry, RegistryError};
use crate::ops::drain::Drain;
use crate::ops::metrics::{self, SfuMetrics};
use crate::snowflake::{DownlinkChecks, DownlinkError};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use newmedia_proto::grant::Publication;
use newmedia_proto::signaling::parse_fingerprint;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;
use thiserror::Error;

/// The node's live statistics for `GET /v1/stats`, supplied by the forwarding code.
pub type LiveStats = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// What the HTTP handlers share.
#[derive(Clone)]
pub struct HttpState {
    /// The authorization registry the admin API mutates.
    pub registry: Arc<Registry>,
    /// The metrics `/metrics` exposes.
    pub metrics: Arc<SfuMetrics>,
    /// The drain state `/readyz` reports.
    pub drain: Arc<Drain>,
    /// The live statistics `GET /v1/stats` returns.
    pub live_stats: LiveStats,
    /// The TURN2 relay, when the node runs one.
    pub relay: Option<crate::relay::Relay>,
    /// Downlink checks and downlinks (Snowflake), when the node's sockets are attached.
    pub downlinks: Option<Arc<DownlinkChecks>>,
    /// SHA-256 of the admin token; the token itself is not kept.
    admin_token_digest: [u8; 32],
}

impl HttpState {
    /// Handler state with the admin token `admin_token` (see
    /// [`crate::ops::SfuConfig::ensure_admin_token`]). An empty token admits nobody.
    pub fn new(
        registry: Arc<Registry>,
        metrics: Arc<SfuMetrics>,
        drain: Arc<Drain>,
        admin_token: &str,
        live_stats: LiveStats,
    ) -> Self {
        HttpState {
            registry,
            metrics,
            drain,
            live_stats,
            relay: None,
            downlinks: None,
            admin_token_digest: Sha256::digest(admin_token.as_bytes()).into(),
        }
    }

    /// Serves `POST /v1/checks`, `POST /v1/downlinks` and `DELETE /v1/downlinks/{observed}`
    /// for `downlinks` (without it they answer 404).
    pub fn with_downlinks(mut self, downlinks: Arc<DownlinkChecks>) -> Self {
        self.downlinks = Some(downlinks);
        self
    }

    /// Serves `PUT/DELETE /v1/relay/fingerprints/{hex}` for `relay` (without one they answer
    /// 404 `relay_disabled`).
    pub fn with_relay(mut self, relay: crate::relay::Relay) -> Self {
        self.relay = Some(relay);
        self
    }

    /// Whether `presented` is the admin token, in time independent of both tokens: the
    /// digests are compared (so length and prefix do not show), without early exit.
    fn token_matches(&self, presented: &str) -> bool {
        if presented.is_empty() {
            return false;
        }
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let diff = self
            .admin_token_digest
            .iter()
            .zip(digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

impl fmt::Debug for HttpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpState")
            .field("registry", &self.registry)
            .field("drain", &self.drain)
            .finish_non_exhaustive()
    }
}

/// The stable machine-readable error codes of the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The conference or endpoint does not exist, or no such route (404).
    NotFound,
    /// The conference already exists (409).
    AlreadyExists,
    /// The certificate fingerprint is admitted as another endpoint (409).
    FingerprintInUse,
    /// The request is malformed: bad JSON, bad path parameter, bad fingerprint (400).
    BadRequest,
    /// Missing or wrong bearer token (401).
    Unauthorized,
    /// The node is draining and accepts no new conferences or endpoints (503).
    Draining,
    /// The node runs no TURN2 relay (404).
    RelayDisabled,
    /// A downlink's sender secret is not the one the node's check carried (409).
    SecretMismatch,
    /// Too many downlink checks are in progress (503).
    TooManyChecks,
}

/// An admin API failure, answered as `{"error": {"code", "message"}}`.
#[derive(Debug, Error)]
pub enum ApiError {
    /// The request is malformed; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// Missing or wrong bearer token.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// The node is draining.
    #[error("the node is draining and accepts no new conferences or endpoints")]
    Draining,
    /// No such route.
    #[error("no such resource")]
    NoRoute,
    /// The node runs no TURN2 relay.
    #[error("this node runs no TURN2 relay")]
    RelayDisabled,
    /// The fingerprint is not registered with the relay.
    #[error("fingerprint not registered")]
    UnknownFingerprint,
    /// A downlink check or downlink failed.
    #[error(transparent)]
    Downlink(#[from] DownlinkError),
    /// The registry refused the change.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

impl ApiError {
    /// The error code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::Unauthorized => ErrorCode::Unauthorized,
            ApiError::Draining => ErrorCode::Draining,
            ApiError::NoRoute | ApiError::UnknownFingerprint => ErrorCode::NotFound,
            ApiError::RelayDisabled => ErrorCode::RelayDisabled,
            ApiError::Downlink(e) => match e {
                DownlinkError::DuplicateCheck(_) => ErrorCode::AlreadyExists,
                DownlinkError::TooManyChecks | DownlinkError::NotReady => ErrorCode::TooManyChecks,
                DownlinkError::UnknownCheck => ErrorCode::NotFound,
                DownlinkError::SecretMismatch => ErrorCode::SecretMismatch,
                DownlinkError::BadSecret => ErrorCode::BadRequest,
            },
            ApiError::Registry(e) => match e {
                RegistryError::AlreadyExists(_) => ErrorCode::AlreadyExists,
                RegistryError::NotFound { .. } => ErrorCode::NotFound,
                RegistryError::FingerprintInUse { .. } => ErrorCode::FingerprintInUse,
                RegistryError::DuplicatePublication { .. } => ErrorCode::BadRequest,
            },
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self.code() {
            ErrorCode::NotFound | ErrorCode::RelayDisabled => StatusCode::NOT_FOUND,
            ErrorCode::AlreadyExists | ErrorCode::FingerprintInUse | ErrorCode::SecretMismatch => {
                StatusCode::CONFLICT
            }
            ErrorCode::TooManyChecks => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Draining => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The message shown to the client.
    fn public_message(&self) -> String {
        match self {
            // Which endpoint holds the fingerprint is not the caller's business.
            ApiError::Registry(RegistryError::FingerprintInUse { .. }) => {
                "the fingerprint is already admitted as another endpoint".to_owned()
            }
            other => other.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code(), "message": self.public_message()}});
        let mut response = (self.status(), Json(body)).into_response();
        if matches!(self, ApiError::Unauthorized) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"newmedia-sfu\""),
            );
        }
        response
    }
}

/// A JSON body whose failures answer 400 `bad_request` in the API's error format.
struct ApiJson<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::BadRequest("the request body could not be read".to_owned()))?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
    }
}

/// Path parameters whose failures answer 400 `bad_request` in the API's error format.
struct ApiPath<T>(T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|_| {
                ApiError::BadRequest("conference and endpoint IDs are unsigned integers".into())
            })
    }
}

/// The routes above on `state`. Serve it with `axum::serve`; tests call it with
/// `tower::ServiceExt::oneshot`.
pub fn router(state: HttpState) -> Router {
    let admin = Router::new()
        .route(
            "/conferences",
            post(create_conference).get(list_conferences),
        )
        .route("/conferences/{conference_id}", delete(delete_conference))
        .route(
            "/conferences/{conference_id}/endpoints/{endpoint_id}",
            put(admit_endpoint).delete(remove_endpoint),
        )
        .route("/stats", get(stats))
        .route("/checks", post(start_check))
        .route("/downlinks", post(install_downlink))
        .route("/downlinks/{observed}", delete(remove_downlink))
        .route(
            "/relay/fingerprints/{fingerprint}",
            put(allow_fingerprint).delete(revoke_fingerprint),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_bearer,
        ));
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .nest("/v1", admin)
        .fallback(no_route)
        .with_state(state)
}

async fn require_bearer(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match token {
        Some(token) if state.token_matches(token) => next.run(request).await,
        _ => ApiError::Unauthorized.into_response(),
    }
}

async fn metrics_text(State(state): State<HttpState>) -> Response {
    match state.metrics.try_encode_text() {
        Ok(text) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "metrics encoding failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "metrics unavailable\n").into_response()
        }
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<HttpState>) -> Response {
    if state.drain.readiness() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response()
    }
}

async fn no_route() -> ApiError {
    ApiError::NoRoute
}

/// Body of `POST /v1/conferences`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateConference {
    #[serde(rename = "conferenceID")]
    conference_id: u64,
}

async fn create_conference(
    State(state): State<HttpState>,
    body: Result<ApiJson<CreateConference>, ApiError>,
) -> Result<Response, ApiError> {
    if state.drain.is_draining() {
        return Err(ApiError::Draining);
    }
    let ApiJson(CreateConference { conference_id }) = body?;
    state.registry.create_conference(conference_id)?;
    tracing::info!(conference_id, "conference created");
    let location = format!("/v1/conferences/{conference_id}");
    let mut response = (
        StatusCode::CREATED,
        Json(json!({"conferenceID": conference_id})),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn list_conferences(State(state): State<HttpState>) -> Json<serde_json::Value> {
    Json(json!({"conferences": state.registry.conferences()}))
}

async fn delete_conference(
    State(state): State<HttpState>,
    ApiPath(conference_id): ApiPath<u64>,
) -> Result<StatusCode, ApiError> {
    state.registry.delete_conference(conference_id)?;
    tracing::info!(conference_id, "conference deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `PUT /v1/conferences/{id}/endpoints/{endpointID}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdmitBody {
    /// SHA-256 of the endpoint's certificate: 64 hex digits, optionally colon-separated pairs.
    fingerprint: String,
    /// What it may publish; none for a receive-only endpoint.
    #[serde(default)]
    publications: Vec<Publication>,
}

async fn admit_endpoint(
    State(state): State<HttpState>,
    ApiPath((conference_id, endpoint_id)): ApiPath<(u64, u64)>,
    body: Result<ApiJson<AdmitBody>, ApiError>,
) -> Result<Response, ApiError> {
    if state.drain.is_draining() {
        return Err(ApiError::Draining);
    }
    let ApiJson(AdmitBody {
        fingerprint,
        publications,
    }) = body?;
    let fingerprint = parse_fingerprint(&fingerprint).ok_or_else(|| {
        ApiError::BadRequest(
            "fingerprint must be 64 hex digits, optionally as colon-separated pairs".to_owned(),
        )
    })?;
    let outcome = state.registry.admit(
        conference_id,
        EndpointAdmission {
            endpoint_id,
            fingerprint,
            publications,
        },
    )?;
    tracing::info!(conference_id, endpoint_id, ?outcome, "endpoint admitted");
    let status = match outcome {
        AdmitOutcome::Created => StatusCode::CREATED,
        AdmitOutcome::Replaced | AdmitOutcome::Unchanged => StatusCode::OK,
    };
    let body = json!({"conferenceID": conference_id, "endpointID": endpoint_id});
    Ok((status, Json(body)).into_response())
}

async fn remove_endpoint(
    State(state): State<HttpState>,
    ApiPath((conference_id, endpoint_id)): ApiPath<(u64, u64)>,
) -> Result<StatusCode, ApiError> {
    state.registry.remove_endpoint(conference_id, endpoint_id)?;
    tracing::info!(conference_id, endpoint_id, "endpoint removed");
    Ok(StatusCode::NO_CONTENT)
}

async fn stats(State(state): State<HttpState>) -> Json<serde_json::Value> {
    Json((state.live_stats)())
}

/// A fingerprint path parameter: 64 hex digits, optionally colon-separated pairs.
fn relay_fingerprint(
    state: &HttpState,
    text: &str,
) -> Result<(crate::relay::Relay, [u8; 32]), ApiError> {
    let relay = state.relay.clone().ok_or(ApiError::RelayDisabled)?;
    let fingerprint = parse_fingerprint(text).ok_or_else(|| {
        ApiError::BadRequest(
            "fingerprint must be 64 hex digits, optionally as colon-separated pairs".to_owned(),
        )
    })?;
    Ok((relay, fingerprint))
}

async fn allow_fingerprint(
    State(state): State<HttpState>,
    Path(text): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (relay, fingerprint) = relay_fingerprint(&state, &text)?;
    if relay.allow(fingerprint) {
        tracing::info!(fingerprint = %hex::encode(fingerprint), "relay fingerprint allowed");
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke_fingerprint(
    State(state): State<HttpState>,
    Path(text): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (relay, fingerprint) = relay_fingerprint(&state, &text)?;
    if !relay.revoke(&fingerprint) {
        return Err(ApiError::UnknownFingerprint);
    }
    tracing::info!(fingerprint = %hex::encode(fingerprint), "relay fingerprint revoked");
    Ok(StatusCode::NO_CONTENT)
}

fn downlinks(state: &HttpState) -> Result<Arc<DownlinkChecks>, ApiError> {
    state.downlinks.clone().ok_or(ApiError::NoRoute)
}

/// Body of `POST /v1/checks`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    #[serde(rename = "checkID")]
    check_id: String,
    to: std::net::SocketAddr,
    #[serde(rename = "stunSecret")]
    stun_secret: String,
}

async fn start_check(
    State(state): State<HttpState>,
    body: Result<ApiJson<CheckBody>, ApiError>,
) -> Result<Response, ApiError> {
    let checks = downlinks(&state)?;
    let ApiJson(CheckBody {
        check_id,
        to,
        stun_secret,
    }) = body?;
    if check_id.is_empty() || check_id.len() > 256 {
        return Err(ApiError::BadRequest(
            "checkID must be 1 to 256 characters".to_owned(),
        ));
    }
    checks.start(&check_id, to, &stun_secret)?;
    tracing::debug!(check = %check_id, %to, "downlink check started");
    Ok((StatusCode::ACCEPTED, Json(json!({"checkID": check_id}))).into_response())
}

/// Body of `POST /v1/downlinks`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DownlinkBody {
    #[serde(rename = "checkID")]
    check_id: String,
    #[serde(rename = "senderSecret")]
    sender_secret: String,
    observed: std::net::SocketAddr,
}

async fn install_downlink(
    State(state): State<HttpState>,
    body: Result<ApiJson<DownlinkBody>, ApiError>,
) -> Result<StatusCode, ApiError> {
    let checks = downlinks(&state)?;
    let ApiJson(DownlinkBody {
        check_id,
        sender_secret,
        observed,
    }) = body?;
    checks.install(&check_id, &sender_secret, observed)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_downlink(
    State(state): State<HttpState>,
    Path(observed): Path<String>,
) -> Result<StatusCode, ApiError> {
    let checks = downlinks(&state)?;
    let observed: std::net::SocketAddr = observed.parse().map_err(|_| {
        ApiError::BadRequest("observed must be an address such as 192.0.2.1:5000".to_owned())
    })?;
    if checks.remove(observed) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NoRoute)
    }
}
