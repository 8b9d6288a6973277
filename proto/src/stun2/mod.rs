//! STUN2 (draft §3.2): a small encrypted request/response that tells a client the address its
//! packet came from, and lets the receiver of a request prove it received it.
//!
//! A datagram is `magic TLV | transaction-ID TLV | ciphertext | 16-byte tag`:
//!
//! - the magic TLV is `0E 04 "NMSQ"` in a request and `0F 04 "NMSR"` in a response, so the first
//!   byte alone tells STUN2 from QUIC on a shared socket ([`classify`]);
//! - the transaction-ID TLV is `01 0C` and 12 random bytes chosen by the client;
//! - the ciphertext is a TLV list encrypted with AES-128-GCM-SIV, nonce = transaction ID,
//!   AAD = the 20 bytes of the two leading TLVs, under a key derived from the shared secret and
//!   the direction ([`Stun2Keys`]).
//!
//! A request's plaintext may carry a sender secret (tag 0x02); a response's carries the observed
//! address (tag 0x03, [`crate::addr`] encoding). Unknown plaintext tags are ignored.
//!
//! [`Transaction`] is the client's sans-IO retransmission state machine, with libwebrtc's STUN
//! timers.
//!
//! ```
//! use newmedia_proto::stun2::{Stun2Keys, Stun2Request, Stun2Response, TransactionId};
//!
//! let keys = Stun2Keys::new(b"shared secret");
//! let request = Stun2Request { transaction_id: TransactionId([7; 12]), sender_secret: None };
//! let mut datagram = Vec::new();
//! request.encode(&keys, &mut datagram);
//! assert_eq!(Stun2Request::decode(&keys, &datagram), Ok(request));
//!
//! let response = Stun2Response {
//!     transaction_id: TransactionId([7; 12]),
//!     observed: "192.0.2.1:40000".parse().unwrap(),
//! };
//! datagram.clear();
//! response.encode(&keys, &mut datagram);
//! assert_eq!(Stun2Response::decode(&keys, &datagram), Ok(response));
//! ```

mod classify;
mod keys;
mod packet;
mod transaction;

pub use classify::{PacketKind, classify};
pub use keys::{Direction, Stun2Keys, derive_key};
pub use packet::{SenderSecret, Stun2Request, Stun2Response, TransactionId, transaction_id};
pub use transaction::{Transaction, TransactionConfig, TransactionState, Transmit};

use crate::{addr::AddrError, tlv::TlvError};
use thiserror::Error;

/// Tag of the magic TLV that starts every request.
pub const TAG_REQUEST_MAGIC: u8 = 0x0E;
/// Tag of the magic TLV that starts every response.
pub const TAG_RESPONSE_MAGIC: u8 = 0x0F;
/// Tag of the transaction-ID TLV (second TLV of every datagram).
pub const TAG_TRANSACTION_ID: u8 = 0x01;
/// Plaintext tag of a request's sender secret (opaque bytes, at most [`MAX_SENDER_SECRET`]).
pub const TAG_SENDER_SECRET: u64 = 0x02;
/// Plaintext tag of a response's observed address ([`crate::addr`] encoding).
pub const TAG_OBSERVED_ADDRESS: u64 = 0x03;

/// The magic TLV of a request: tag 0x0E, length 4, ASCII `NMSQ`.
pub const REQUEST_MAGIC_TLV: [u8; 6] = [TAG_REQUEST_MAGIC, 4, b'N', b'M', b'S', b'Q'];
/// The magic TLV of a response: tag 0x0F, length 4, ASCII `NMSR`.
pub const RESPONSE_MAGIC_TLV: [u8; 6] = [TAG_RESPONSE_MAGIC, 4, b'N', b'M', b'S', b'R'];

/// Length of a transaction ID in bytes.
pub const TRANSACTION_ID_LEN: usize = 12;
/// Length of the cleartext header: magic TLV (6) and transaction-ID TLV (14).
pub const HEADER_LEN: usize = 6 + 2 + TRANSACTION_ID_LEN;
/// Length of the AES-128-GCM-SIV tag at the end of every datagram.
pub const AEAD_TAG_LEN: usize = 16;
/// Smallest datagram: header and tag around an empty plaintext.
pub const MIN_DATAGRAM: usize = HEADER_LEN + AEAD_TAG_LEN;
/// Largest datagram a decoder accepts (QUIC's minimum path MTU payload).
pub const MAX_DATAGRAM: usize = 1200;
/// Largest plaintext a decoder accepts.
pub const MAX_PLAINTEXT: usize = MAX_DATAGRAM - MIN_DATAGRAM;
/// Longest sender secret in bytes.
pub const MAX_SENDER_SECRET: usize = 255;

/// Why a STUN2 datagram could not be read, or a request built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Stun2Error {
    /// Shorter than a header plus tag ([`MIN_DATAGRAM`] bytes).
    #[error("STUN2 datagram of {0} bytes is shorter than the minimum {MIN_DATAGRAM}")]
    Truncated(usize),
    /// Longer than [`MAX_DATAGRAM`].
    #[error("STUN2 datagram of {0} bytes exceeds the maximum {MAX_DATAGRAM}")]
    TooLong(usize),
    /// The datagram does not start with the expected magic TLV (request or response).
    #[error("not a STUN2 {expected}: bad magic")]
    BadMagic {
        /// `"request"` or `"response"`.
        expected: &'static str,
    },
    /// The second TLV is not tag 0x01 with length 12.
    #[error("STUN2 transaction-ID field must be 01 0C, got {0:02x} {1:02x}")]
    BadTransactionIdField(u8, u8),
    /// The tag did not verify: wrong secret, wrong direction, or corrupted bytes.
    #[error("STUN2 authentication failed")]
    Authentication,
    /// The decrypted plaintext is not a valid TLV list.
    #[error("STUN2 plaintext: {0}")]
    Plaintext(TlvError),
    /// A known plaintext field appeared twice.
    #[error("STUN2 plaintext field with tag {0} appears twice")]
    DuplicateField(u64),
    /// A response carried no observed address (tag 0x03).
    #[error("STUN2 response without an observed address")]
    MissingObservedAddress,
    /// The observed address was malformed.
    #[error("STUN2 observed address: {0}")]
    BadAddress(AddrError),
    /// A sender secret longer than [`MAX_SENDER_SECRET`] bytes.
    #[error("STUN2 sender secret of {0} bytes exceeds the maximum {MAX_SENDER_SECRET}")]
    SenderSecretTooLong(usize),
}
