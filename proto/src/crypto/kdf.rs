//! Key derivation for RTP3 message keys (HKDF-SHA256, RFC 5869).
//!
//! ```text
//! PRK = HKDF-Extract(salt = "newmedia rtp3 v1", IKM = secret)
//! key = HKDF-Expand(PRK, info = "rtp3 key" | conferenceID | endpointID | GlobalEncodingID, L)
//! ```
//!
//! The IDs are 8-byte big-endian. Binding the conference and endpoint IDs makes every key unique
//! to them, as draft §5.1 asks; binding the GlobalEncodingID as well gives every encoding its own
//! key, which is what makes the nonce rule in [`super::nonce`] collision-free.

use crate::ids::GlobalEncodingId;
use hkdf::Hkdf;
use sha2::Sha256;

/// HKDF-Extract salt for RTP3 message keys.
pub const RTP3_EXTRACT_SALT: &[u8] = b"newmedia rtp3 v1";
/// HKDF-Expand info prefix for RTP3 message keys.
pub const RTP3_KEY_LABEL: &[u8] = b"rtp3 key";

/// Derives the `out.len()`-byte key (16 for AES-128-GCM, 32 for AES-256-GCM) of one encoding from the proposal's secret.
pub fn derive_message_key(
    secret: &[u8],
    conference_id: u64,
    endpoint_id: u64,
    encoding: GlobalEncodingId,
    out: &mut [u8],
) {
    let hk = Hkdf::<Sha256>::new(Some(RTP3_EXTRACT_SALT), secret);
    let mut info = [0u8; 8 + 24];
    info[..8].copy_from_slice(RTP3_KEY_LABEL);
    info[8..16].copy_from_slice(&conference_id.to_be_bytes());
    info[16..24].copy_from_slice(&endpoint_id.to_be_bytes());
    info[24..].copy_from_slice(&encoding.to_bytes());
    // Expand fails only for outputs over 255 * 32 bytes; our keys are 16 or 32.
    if hk.expand(&info, out).is_err() {
        out.fill(0);
    }
}
