//! The AES-GCM nonce of an RTP3 message (draft §5.1, adapted to GCM's 96-bit nonce).
//!
//! The draft XORs the salt with `GlobalEncodingID | low 64 bits of sequence ID`, 128 bits;
//! AES-GCM takes 96. We use a 96-bit salt and
//!
//! ```text
//! nonce = salt XOR (low 32 bits of GlobalEncodingID | sequence ID as 64-bit big-endian)
//! ```
//!
//! Why no nonce repeats under one key: each encoding has its own key (see [`super::kdf`]), so
//! under one key only the sequence ID varies; a sender numbers the messages of an encoding
//! 0, 1, 2, ... and never reuses a sequence ID while it keeps its salt; and it picks a fresh
//! random salt whenever it (re)starts an encoding (after a crash the key is the same, the salt
//! is not). Two epochs' nonce sets overlap only if the random salts are within the sequence
//! range of each other: for 2^32 messages per epoch and 2^32 restarts the chance is below 2^-32.

use crate::ids::GlobalEncodingId;

/// Length of the salt and of the nonce, in bytes.
pub const SALT_LEN: usize = 12;

/// Computes the nonce for message `sequence_id` of `encoding` under `salt`.
#[inline]
pub fn message_nonce(
    salt: &[u8; SALT_LEN],
    encoding: GlobalEncodingId,
    sequence_id: u64,
) -> [u8; SALT_LEN] {
    let mut iv = [0u8; SALT_LEN];
    iv[..4].copy_from_slice(&(encoding.0 as u32).to_be_bytes());
    iv[4..].copy_from_slice(&sequence_id.to_be_bytes());
    for (b, s) in iv.iter_mut().zip(salt) {
        *b ^= s;
    }
    iv
}
