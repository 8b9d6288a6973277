//! The signaling module's one error type.

use newmedia_proto::signaling::rest::ErrorCode;
use thiserror::Error;

/// Why a signaling call failed.
#[derive(Debug, Error)]
pub enum SignalingClientError {
    /// The WebSocket could not be opened or failed.
    #[error("WebSocket: {0}")]
    WebSocket(#[from] Box<tokio_tungstenite::tungstenite::Error>),
    /// The connection is closed.
    #[error("the signaling connection is closed")]
    Closed,
    /// An HTTP call failed before an answer (connection, timeout, bad URL).
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    /// The controller answered with an error.
    #[error("controller error {status} {code:?}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Stable code.
        code: ErrorCode,
        /// Its message.
        message: String,
    },
    /// The controller's answer is not the expected JSON.
    #[error("unexpected answer from the controller: {0}")]
    Unexpected(String),
}
