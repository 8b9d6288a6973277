//! Sealing and opening RTP3 payloads with one encoding's key.

use super::{Algorithm, kdf, nonce};
use crate::ids::GlobalEncodingId;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce, Tag};
use thiserror::Error;

/// Length of the GCM authentication tag.
pub const TAG_LEN: usize = 16;

/// Why a payload could not be sealed or opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CryptoError {
    /// The tag did not verify: a header or payload byte changed, or the key or salt is wrong.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// The sealed payload is shorter than the tag.
    #[error("sealed payload of {0} bytes is shorter than the {TAG_LEN}-byte tag")]
    TooShort(usize),
    /// The payload is too long for one GCM invocation.
    #[error("payload too long to seal")]
    TooLong,
}

enum Cipher {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
    Null,
}

/// The key of one encoding, ready to seal or open its messages. Derive it once per encoding
/// (HKDF and the AES key schedule are not per-message work) and keep it.
pub struct MessageKey {
    cipher: Cipher,
    encoding: GlobalEncodingId,
}

impl std::fmt::Debug for MessageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("MessageKey")
            .field("algorithm", &self.algorithm())
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

impl MessageKey {
    /// Derives the key of `encoding` (sent by `endpoint_id` in `conference_id`) from the
    /// proposal's `secret`, as PROTOCOL.md "Message keys" describes.
    pub fn derive(
        algorithm: Algorithm,
        secret: &[u8],
        conference_id: u64,
        endpoint_id: u64,
        encoding: GlobalEncodingId,
    ) -> Self {
        let mut key = [0u8; 32];
        let cipher = match algorithm {
            Algorithm::Null => Cipher::Null,
            Algorithm::Aes128Gcm => {
                let k = &mut key[..16];
                kdf::derive_message_key(secret, conference_id, endpoint_id, encoding, k);
                Cipher::Aes128(Box::new(Aes128Gcm::new(
                    aes_gcm::Key::<Aes128Gcm>::from_slice(k),
                )))
            }
            Algorithm::Aes256Gcm => {
                kdf::derive_message_key(secret, conference_id, endpoint_id, encoding, &mut key);
                Cipher::Aes256(Box::new(Aes256Gcm::new(
                    aes_gcm::Key::<Aes256Gcm>::from_slice(&key),
                )))
            }
        };
        key.fill(0);
        Self { cipher, encoding }
    }

    /// The algorithm this key is for.
    pub fn algorithm(&self) -> Algorithm {
        match self.cipher {
            Cipher::Aes128(_) => Algorithm::Aes128Gcm,
            Cipher::Aes256(_) => Algorithm::Aes256Gcm,
            Cipher::Null => Algorithm::Null,
        }
    }

    /// The encoding this key belongs to.
    pub fn encoding(&self) -> GlobalEncodingId {
        self.encoding
    }

    /// Bytes the seal adds after the payload (the tag; 0 for NULL).
    pub fn overhead(&self) -> usize {
        self.algorithm().tag_len()
    }

    /// Encrypts `payload` in place, authenticating `aad`, and returns the tag (empty for NULL).
    pub fn seal_in_place(
        &self,
        salt: &[u8; nonce::SALT_LEN],
        sequence_id: u64,
        aad: &[u8],
        payload: &mut [u8],
    ) -> Result<Option<[u8; TAG_LEN]>, CryptoError> {
        let iv = nonce::message_nonce(salt, self.encoding, sequence_id);
        let iv = Nonce::from_slice(&iv);
        let tag = match &self.cipher {
            Cipher::Null => return Ok(None),
            Cipher::Aes128(c) => c.encrypt_in_place_detached(iv, aad, payload),
            Cipher::Aes256(c) => c.encrypt_in_place_detached(iv, aad, payload),
        }
        .map_err(|_| CryptoError::TooLong)?;
        Ok(Some(tag.into()))
    }

    /// Verifies and decrypts `sealed` (ciphertext followed by the tag) in place, returning the
    /// length of the plaintext at the front of `sealed`. For NULL the whole input is plaintext.
    pub fn open_in_place(
        &self,
        salt: &[u8; nonce::SALT_LEN],
        sequence_id: u64,
        aad: &[u8],
        sealed: &mut [u8],
    ) -> Result<usize, CryptoError> {
        if matches!(self.cipher, Cipher::Null) {
            return Ok(sealed.len());
        }
        let len = sealed.len();
        let plain_len = len.checked_sub(TAG_LEN).ok_or(CryptoError::TooShort(len))?;
        let (ciphertext, tag) = sealed.split_at_mut(plain_len);
        let tag = Tag::clone_from_slice(tag);
        let iv = nonce::message_nonce(salt, self.encoding, sequence_id);
        let iv = Nonce::from_slice(&iv);
        match &self.cipher {
            Cipher::Aes128(c) => c.decrypt_in_place_detached(iv, aad, ciphertext, &tag),
            Cipher::Aes256(c) => c.decrypt_in_place_detached(iv, aad, ciphertext, &tag),
            Cipher::Null => Ok(()),
        }
        .map_err(|_| CryptoError::AuthenticationFailed)?;
        Ok(plain_len)
    }
}
