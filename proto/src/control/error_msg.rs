//! Error: tells the peer a request failed or the session is ending.

use super::codec::{Enc, Slot, bad, for_each_field};
use super::{Body, ControlError, kind};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest error text, in bytes of UTF-8.
pub const MAX_ERROR_TEXT: usize = 256;

/// A stable, machine-readable error code. Codes this implementation does not know are kept
/// as they are; a receiver treats an unknown code as a failure of the request it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ErrorCode(pub u64);

impl ErrorCode {
    /// The sender is not allowed to do this (not admitted to the conference, not a
    /// subscriber of the encoding, ...).
    pub const UNAUTHORIZED: Self = Self(1);
    /// The GlobalEncodingID (or source, or conference) is not known to the SFU.
    pub const UNKNOWN_ENCODING: Self = Self(2);
    /// The message was malformed or made no sense (a decode error, an unexpected message).
    pub const BAD_REQUEST: Self = Self(3);
    /// Too many requests; try again later.
    pub const RATE_LIMITED: Self = Self(4);
    /// The SFU is draining: no new subscriptions; reconnect elsewhere.
    pub const SERVER_DRAINING: Self = Self(5);
    /// The receiver failed for reasons of its own.
    pub const INTERNAL: Self = Self(6);
    /// No control protocol version both sides speak; the stream closes after this.
    pub const UNSUPPORTED_VERSION: Self = Self(7);
    /// The request ID names no live subscription (Unsubscribe of an unknown request).
    pub const UNKNOWN_REQUEST: Self = Self(8);

    /// Every code defined here, in numeric order.
    pub const ALL: [Self; 8] = [
        Self::UNAUTHORIZED,
        Self::UNKNOWN_ENCODING,
        Self::BAD_REQUEST,
        Self::RATE_LIMITED,
        Self::SERVER_DRAINING,
        Self::INTERNAL,
        Self::UNSUPPORTED_VERSION,
        Self::UNKNOWN_REQUEST,
    ];

    /// The code's snake_case name, or `None` for a code not defined here.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::UNAUTHORIZED => "unauthorized",
            Self::UNKNOWN_ENCODING => "unknown_encoding",
            Self::BAD_REQUEST => "bad_request",
            Self::RATE_LIMITED => "rate_limited",
            Self::SERVER_DRAINING => "server_draining",
            Self::INTERNAL => "internal",
            Self::UNSUPPORTED_VERSION => "unsupported_version",
            Self::UNKNOWN_REQUEST => "unknown_request",
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "error {}", self.0),
        }
    }
}

/// An Error message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ErrorMessage {
    /// The request that failed, when the error is about one (a Subscribe's request ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<u64>,
    /// What went wrong.
    pub code: ErrorCode,
    /// Human-readable detail, at most [`MAX_ERROR_TEXT`] bytes; empty when absent.
    #[serde(default)]
    pub text: String,
}

impl ErrorMessage {
    /// An error with `text` cut to at most [`MAX_ERROR_TEXT`] bytes at a character boundary.
    pub fn new(request_id: Option<u64>, code: ErrorCode, text: &str) -> Self {
        let mut end = text.len().min(MAX_ERROR_TEXT);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Self {
            request_id,
            code,
            text: text.get(..end).unwrap_or_default().to_owned(),
        }
    }
}

// Error body tags.
const REQUEST_ID: u64 = 1;
const CODE: u64 = 2;
const TEXT: u64 = 3;

const TEXT_TOO_LONG: &str = "longer than 256 bytes";

impl Body for ErrorMessage {
    const KIND: u64 = kind::ERROR;
    const NAME: &'static str = "Error";

    fn encode_body(&self, enc: &mut Enc<'_>) -> Result<(), ControlError> {
        if self.text.len() > MAX_ERROR_TEXT {
            return Err(bad(Self::NAME, "text", TEXT_TOO_LONG));
        }
        enc.opt_uint(REQUEST_ID, "request_id", self.request_id)?;
        enc.uint(CODE, "code", self.code.0)?;
        if !self.text.is_empty() {
            enc.bytes(TEXT, "text", self.text.as_bytes())?;
        }
        Ok(())
    }

    fn decode_body(body: &[u8]) -> Result<Self, ControlError> {
        let mut request_id = Slot::<u64>::new(Self::NAME, "request_id");
        let mut code = Slot::<u64>::new(Self::NAME, "code");
        let mut text = Slot::<&[u8]>::new(Self::NAME, "text");
        for_each_field(Self::NAME, body, |f| match f.tag {
            REQUEST_ID => request_id.take(&f),
            CODE => code.take(&f),
            TEXT => text.take(&f),
            _ => Ok(()),
        })?;
        let text = text.optional().unwrap_or_default();
        if text.len() > MAX_ERROR_TEXT {
            return Err(bad(Self::NAME, "text", TEXT_TOO_LONG));
        }
        let text = std::str::from_utf8(text).map_err(|_| bad(Self::NAME, "text", "not UTF-8"))?;
        Ok(Self {
            request_id: request_id.optional(),
            code: ErrorCode(code.required()?),
            text: text.to_owned(),
        })
    }
}
