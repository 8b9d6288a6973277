//! Why a relay operation failed: one variant per TURN2 Error code (PROTOCOL.md §8), and the
//! transport failures around them.

use newmedia_proto::turn2::{ErrorCode, Turn2Error};
use std::net::SocketAddr;
use std::sync::Arc;
use thiserror::Error;

/// A relay client failure. Cloneable, so every waiter on one connection can be told why it
/// ended.
#[derive(Debug, Clone, Error)]
pub enum RelayError {
    /// The TLS configuration could not be built (an unusable identity).
    #[error(transparent)]
    Tls(#[from] Arc<crate::tls::TlsError>),
    /// The TCP connection could not be made.
    #[error("cannot connect to the relay at {addr}: {source}")]
    Connect {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: Arc<std::io::Error>,
    },
    /// The TLS handshake failed (for example: the relay's certificate is not the pinned one).
    #[error("TLS handshake with the relay at {addr} failed: {source}")]
    Handshake {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: Arc<std::io::Error>,
    },
    /// Reading or writing the relay connection failed.
    #[error("relay connection: {0}")]
    Io(Arc<std::io::Error>),
    /// The relay sent bytes that are not a valid TURN2 frame, or a frame only a client sends.
    #[error("the relay broke the protocol: {0}")]
    Protocol(String),
    /// Error 1: the relay could not parse what we sent (it closes the connection).
    #[error("the relay refused a malformed frame: {reason}")]
    MalformedFrame {
        /// The relay's reason.
        reason: String,
    },
    /// Error 2: the relay was not told about our certificate's fingerprint. Together with
    /// [`FingerprintMismatch`](Self::FingerprintMismatch) this is draft §6.1's "bad TURN2
    /// credential" ([`is_bad_credential`](Self::is_bad_credential)).
    #[error("the relay does not know this client's fingerprint: {reason}")]
    UnknownFingerprint {
        /// The relay's reason.
        reason: String,
    },
    /// Error 3: the fingerprint we registered is not our TLS certificate's.
    #[error("the relay saw another certificate than the registered fingerprint: {reason}")]
    FingerprintMismatch {
        /// The relay's reason.
        reason: String,
    },
    /// Error 4: the relay has no allocation left for us.
    #[error("the relay's allocation quota is exhausted: {reason}")]
    QuotaExceeded {
        /// The relay's reason.
        reason: String,
    },
    /// Error 5: a Refresh found no live allocation (released or expired).
    #[error("the relay has no allocation for this client: {reason}")]
    NoAllocation {
        /// The relay's reason.
        reason: String,
    },
    /// Error 6, or a code this client does not know (treated like 6).
    #[error("relay internal error (code {code}): {reason}")]
    Internal {
        /// The code as received.
        code: u64,
        /// The relay's reason.
        reason: String,
    },
    /// The relay did not answer in time.
    #[error("the relay did not answer in time")]
    Timeout,
    /// The relay closed the connection.
    #[error("the relay closed the connection")]
    Closed,
    /// The allocation ended (released by this client, expired, or withdrawn by the relay).
    #[error("the relay allocation ended")]
    Released,
}

impl RelayError {
    /// The error for an Error frame with `code` and `reason`.
    pub fn from_code(code: ErrorCode, reason: &str) -> Self {
        let reason = reason.to_owned();
        match code {
            ErrorCode::MALFORMED_FRAME => Self::MalformedFrame { reason },
            ErrorCode::UNKNOWN_FINGERPRINT => Self::UnknownFingerprint { reason },
            ErrorCode::FINGERPRINT_MISMATCH => Self::FingerprintMismatch { reason },
            ErrorCode::QUOTA_EXCEEDED => Self::QuotaExceeded { reason },
            ErrorCode::NO_ALLOCATION => Self::NoAllocation { reason },
            other => Self::Internal {
                code: other.0,
                reason,
            },
        }
    }

    /// The TURN2 error code, for errors the relay reported.
    pub fn code(&self) -> Option<ErrorCode> {
        Some(match self {
            Self::MalformedFrame { .. } => ErrorCode::MALFORMED_FRAME,
            Self::UnknownFingerprint { .. } => ErrorCode::UNKNOWN_FINGERPRINT,
            Self::FingerprintMismatch { .. } => ErrorCode::FINGERPRINT_MISMATCH,
            Self::QuotaExceeded { .. } => ErrorCode::QUOTA_EXCEEDED,
            Self::NoAllocation { .. } => ErrorCode::NO_ALLOCATION,
            Self::Internal { code, .. } => ErrorCode(*code),
            _ => return None,
        })
    }

    /// Whether this is draft §6.1's "bad TURN2 credential": the relay does not accept this
    /// client's certificate (unknown fingerprint, or a fingerprint that is not the
    /// certificate's). An app reports it; retrying with the same identity will not help.
    pub fn is_bad_credential(&self) -> bool {
        matches!(
            self,
            Self::UnknownFingerprint { .. } | Self::FingerprintMismatch { .. }
        )
    }

    pub(super) fn io(error: std::io::Error) -> Self {
        Self::Io(Arc::new(error))
    }

    pub(super) fn protocol(error: Turn2Error) -> Self {
        Self::Protocol(error.to_string())
    }
}
