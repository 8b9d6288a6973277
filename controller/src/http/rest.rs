//! The REST handlers (PROTOCOL.md §14 lists each route with its body and answers).

use super::{ApiJson, ApiPath, AppState, Caller};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::service::{check_client_id, now_ms};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use newmedia_proto::signaling::rest::{
    AdvertisementUpload, ConferenceList, ConferenceState, CreateConference, EndpointInfo,
    EndpointList, JoinRequest, NodeCheckReports, NodeHeartbeat, NodeList, NodeRegistered,
    NodeRegistration, TokenRequest, TokenResponse,
};

type Body<T> = Result<ApiJson<T>, ApiError>;

/// `POST /v1/tokens`.
pub async fn issue_token(
    State(state): State<AppState>,
    caller: Caller,
    body: Body<TokenRequest>,
) -> Result<Response, ApiError> {
    caller.app()?;
    let ApiJson(request) = body?;
    check_client_id(&request.client_id)?;
    let max = state.service.config.token_ttl.as_secs().max(1);
    let ttl = request.ttl_secs.unwrap_or(max);
    if ttl == 0 || ttl > max {
        return Err(ApiError::BadRequest(format!("ttlSecs must be 1 to {max}")));
    }
    let expires_at = now_ms() / 1000 + ttl;
    let token = state
        .service
        .credentials
        .issue(&request.client_id, expires_at);
    Ok((
        StatusCode::CREATED,
        Json(TokenResponse {
            token,
            client_id: request.client_id,
            expires_at,
        }),
    )
        .into_response())
}

/// `GET /v1/endpoints`.
pub async fn list_endpoints(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<EndpointList>, ApiError> {
    caller.app()?;
    Ok(Json(state.service.endpoints().await?))
}

/// `GET /v1/endpoints/{clientID}`.
pub async fn get_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(client_id): ApiPath<String>,
) -> Result<Json<EndpointInfo>, ApiError> {
    caller.app_or_client(&client_id)?;
    Ok(Json(state.service.endpoint(&client_id).await?))
}

/// `PUT /v1/endpoints/{clientID}/advertisement`.
pub async fn put_advertisement(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(client_id): ApiPath<String>,
    body: Body<AdvertisementUpload>,
) -> Result<Json<EndpointInfo>, ApiError> {
    caller.app_or_client(&client_id)?;
    let ApiJson(upload) = body?;
    state
        .service
        .advertise(&client_id, &upload.fingerprint, upload.advertisement, None)
        .await?;
    Ok(Json(state.service.endpoint(&client_id).await?))
}

/// `GET /v1/conferences`.
pub async fn list_conferences(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ConferenceList>, ApiError> {
    caller.app()?;
    Ok(Json(state.service.conferences().await?))
}

/// `POST /v1/conferences`.
pub async fn create_conference(
    State(state): State<AppState>,
    caller: Caller,
    body: Body<CreateConference>,
) -> Result<Response, ApiError> {
    caller.app()?;
    let ApiJson(request) = body?;
    let wait = request.wait;
    let conference = state.service.create_conference(request).await?;
    let status = if wait {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(conference)).into_response())
}

/// `GET /v1/conferences/{id}`.
pub async fn get_conference(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<ConferenceState>, ApiError> {
    let conference = state.service.conference_state(id).await?;
    if let Principal::Client(c) = &caller.principal {
        if !conference.parties.iter().any(|p| &p.client_id == c) {
            return Err(ApiError::Forbidden(
                "a client may only read its own conferences".to_owned(),
            ));
        }
    } else {
        caller.app()?;
    }
    Ok(Json(conference))
}

/// `DELETE /v1/conferences/{id}`.
pub async fn end_conference(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<u64>,
) -> Result<StatusCode, ApiError> {
    caller.app()?;
    state.service.end(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/conferences/{id}/parties`.
pub async fn join(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<u64>,
    body: Body<JoinRequest>,
) -> Result<Json<ConferenceState>, ApiError> {
    let ApiJson(request) = body?;
    caller.app_or_client(&request.client_id)?;
    Ok(Json(
        state
            .service
            .join(id, &request.client_id, request.wait)
            .await?,
    ))
}

/// `DELETE /v1/conferences/{id}/parties/{clientID}`.
pub async fn leave(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, client_id)): ApiPath<(u64, String)>,
) -> Result<StatusCode, ApiError> {
    caller.app_or_client(&client_id)?;
    state.service.leave(id, &client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/nodes`.
pub async fn list_nodes(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<NodeList>, ApiError> {
    caller.app()?;
    Ok(Json(state.service.node_list().await?))
}

/// `POST /v1/nodes`.
pub async fn register_node(
    State(state): State<AppState>,
    caller: Caller,
    body: Body<NodeRegistration>,
) -> Result<Json<NodeRegistered>, ApiError> {
    caller.node()?;
    let ApiJson(registration) = body?;
    Ok(Json(state.service.register_node(registration).await?))
}

/// `PUT /v1/nodes/{id}/heartbeat`.
pub async fn heartbeat(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(node_id): ApiPath<String>,
    body: Body<NodeHeartbeat>,
) -> Result<StatusCode, ApiError> {
    caller.node()?;
    let ApiJson(load) = body?;
    state.service.heartbeat(&node_id, load).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/nodes/{id}/checks`.
pub async fn node_checks(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(node_id): ApiPath<String>,
    body: Body<NodeCheckReports>,
) -> Result<StatusCode, ApiError> {
    caller.node()?;
    let ApiJson(reports) = body?;
    state.service.node_reports(&node_id, reports.checks).await?;
    Ok(StatusCode::NO_CONTENT)
}
