//! The controller's REST API for apps (API key) and clients (token).

use super::SignalingClientError;
use newmedia_proto::signaling::Advertisement;
use newmedia_proto::signaling::rest::{
    AdvertisementUpload, ConferenceState, CreateConference, EndpointInfo, EndpointList, ErrorBody,
    JoinRequest, TokenRequest, TokenResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// A REST client for one controller and one credential.
#[derive(Debug, Clone)]
pub struct RestClient {
    http: reqwest::Client,
    base: String,
    bearer: String,
}

impl RestClient {
    /// A client for `base` (`http://127.0.0.1:7000`) that presents `bearer` (an API key or a
    /// client token); calls give up after 10 s.
    pub fn new(base: &str, bearer: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            bearer: bearer.to_owned(),
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Option<T>, SignalingClientError> {
        let response = request.bearer_auth(&self.bearer).send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => SignalingClientError::Api {
                    status: status.as_u16(),
                    code: body.error.code,
                    message: body.error.message,
                },
                Err(_) => SignalingClientError::Unexpected(format!("status {status}")),
            });
        }
        if bytes.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| SignalingClientError::Unexpected(e.to_string()))
    }

    async fn json<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, SignalingClientError> {
        self.call(request)
            .await?
            .ok_or_else(|| SignalingClientError::Unexpected("empty answer".to_owned()))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn post<B: Serialize>(&self, path: &str, body: &B) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).json(body)
    }

    /// `POST /v1/tokens`: a client token for `client_id` (API key).
    pub async fn token(
        &self,
        client_id: &str,
        ttl_secs: Option<u64>,
    ) -> Result<TokenResponse, SignalingClientError> {
        let body = TokenRequest {
            client_id: client_id.to_owned(),
            ttl_secs,
        };
        self.json(self.post("/v1/tokens", &body)).await
    }

    /// `PUT /v1/endpoints/{clientID}/advertisement`.
    pub async fn put_advertisement(
        &self,
        client_id: &str,
        fingerprint: &str,
        advertisement: Advertisement,
    ) -> Result<EndpointInfo, SignalingClientError> {
        let body = AdvertisementUpload {
            fingerprint: fingerprint.to_owned(),
            advertisement,
        };
        let path = format!("/v1/endpoints/{client_id}/advertisement");
        self.json(self.http.put(self.url(&path)).json(&body)).await
    }

    /// `GET /v1/endpoints`.
    pub async fn endpoints(&self) -> Result<EndpointList, SignalingClientError> {
        self.json(self.http.get(self.url("/v1/endpoints"))).await
    }

    /// `POST /v1/conferences`.
    pub async fn create_conference(
        &self,
        request: &CreateConference,
    ) -> Result<ConferenceState, SignalingClientError> {
        self.json(self.post("/v1/conferences", request)).await
    }

    /// `GET /v1/conferences/{id}`.
    pub async fn conference(&self, id: u64) -> Result<ConferenceState, SignalingClientError> {
        self.json(self.http.get(self.url(&format!("/v1/conferences/{id}"))))
            .await
    }

    /// `POST /v1/conferences/{id}/parties`: join.
    pub async fn join(
        &self,
        id: u64,
        client_id: &str,
        wait: bool,
    ) -> Result<ConferenceState, SignalingClientError> {
        let body = JoinRequest {
            client_id: client_id.to_owned(),
            wait,
        };
        self.json(self.post(&format!("/v1/conferences/{id}/parties"), &body))
            .await
    }

    /// `DELETE /v1/conferences/{id}/parties/{clientID}`: leave.
    pub async fn leave(&self, id: u64, client_id: &str) -> Result<(), SignalingClientError> {
        let path = format!("/v1/conferences/{id}/parties/{client_id}");
        self.call::<serde_json::Value>(self.http.delete(self.url(&path)))
            .await
            .map(drop)
    }

    /// `DELETE /v1/conferences/{id}`: end.
    pub async fn end(&self, id: u64) -> Result<(), SignalingClientError> {
        self.call::<serde_json::Value>(self.http.delete(self.url(&format!("/v1/conferences/{id}"))))
            .await
            .map(drop)
    }
}
