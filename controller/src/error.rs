//! The controller's one error type, answered over HTTP as
//! `{"error": {"code": "...", "message": "..."}}` with a stable code (PROTOCOL.md §14).

use crate::store::StoreError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use newmedia_proto::signaling::rest::{ErrorBody, ErrorCode, ErrorDetail};
use thiserror::Error;

/// Why a request failed.
#[derive(Debug, Error)]
pub enum ApiError {
    /// The body is not JSON of the expected shape.
    #[error("invalid JSON body: {0}")]
    BadJson(String),
    /// Well-formed but invalid.
    #[error("{0}")]
    BadRequest(String),
    /// The advertisement fails validation.
    #[error("invalid advertisement: {0}")]
    BadAdvertisement(String),
    /// Missing or invalid credential.
    #[error("missing or invalid API key or token")]
    Unauthorized,
    /// Valid credential, not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// No such client endpoint.
    #[error("no endpoint {0:?} has advertised")]
    UnknownEndpoint(String),
    /// No such conference.
    #[error("no conference {0}")]
    UnknownConference(u64),
    /// No such node.
    #[error("no node {0:?}")]
    UnknownNode(String),
    /// No such route.
    #[error("no such resource")]
    NotFound,
    /// Already a party.
    #[error("{client} is already a party of conference {conference}")]
    AlreadyParty {
        /// Client.
        client: String,
        /// Conference.
        conference: u64,
    },
    /// Not a party.
    #[error("{client} is not a party of conference {conference}")]
    NotParty {
        /// Client.
        client: String,
        /// Conference.
        conference: u64,
    },
    /// A party rejected its proposal.
    #[error("{client} rejected its proposal: {reason}")]
    ProposalRejected {
        /// Client.
        client: String,
        /// Its reason.
        reason: String,
    },
    /// Parties did not answer in time.
    #[error("no answer to the proposals of {0} in time")]
    ProposalTimeout(String),
    /// No node with room.
    #[error("no live SFU node has room for {0} more endpoints")]
    NoNodeCapacity(usize),
    /// The node refused or failed.
    #[error("SFU node {0:?} did not accept the conference")]
    NodeFailed(String),
    /// A `proposalResult` for a proposal that is not the client's current one.
    #[error("unknown proposal {0:?}")]
    UnknownProposal(String),
    /// A `checkReceived` that matches no pending check.
    #[error("the report matches no pending check")]
    UnknownCheck,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadJson(_) => ErrorCode::BadJson,
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::BadAdvertisement(_) => ErrorCode::BadAdvertisement,
            ApiError::Unauthorized => ErrorCode::Unauthorized,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::UnknownEndpoint(_) => ErrorCode::UnknownEndpoint,
            ApiError::UnknownConference(_) => ErrorCode::UnknownConference,
            ApiError::UnknownNode(_) => ErrorCode::UnknownNode,
            ApiError::NotFound => ErrorCode::NotFound,
            ApiError::AlreadyParty { .. } => ErrorCode::AlreadyParty,
            ApiError::NotParty { .. } => ErrorCode::NotParty,
            ApiError::ProposalRejected { .. } => ErrorCode::ProposalRejected,
            ApiError::ProposalTimeout(_) => ErrorCode::ProposalTimeout,
            ApiError::NoNodeCapacity(_) => ErrorCode::NoNodeCapacity,
            ApiError::NodeFailed(_) => ErrorCode::NodeFailed,
            ApiError::UnknownProposal(_) => ErrorCode::UnknownProposal,
            ApiError::UnknownCheck => ErrorCode::UnknownCheck,
            ApiError::Store(_) => ErrorCode::Internal,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self.code() {
            ErrorCode::BadJson | ErrorCode::BadRequest | ErrorCode::BadAdvertisement => {
                StatusCode::BAD_REQUEST
            }
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::UnknownEndpoint
            | ErrorCode::UnknownConference
            | ErrorCode::UnknownNode
            | ErrorCode::NotFound
            | ErrorCode::NotParty
            | ErrorCode::UnknownProposal
            | ErrorCode::UnknownCheck => StatusCode::NOT_FOUND,
            ErrorCode::AlreadyParty | ErrorCode::ProposalRejected => StatusCode::CONFLICT,
            ErrorCode::ProposalTimeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::NoNodeCapacity => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::NodeFailed => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message shown: never the store's internals.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                "the controller's state store failed".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.public_message(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        if matches!(self, ApiError::Unauthorized) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"newmedia-controller\""),
            );
        }
        response
    }
}
