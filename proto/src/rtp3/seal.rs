//! Building sealed messages (sender) and opening them (receiver).

use super::{HeaderView, Headers, Rtp3Error, tag};
use crate::crypto::{MessageKey, SALT_LEN};
use crate::varint;

/// A sender's state for one encoding: its key and its salt.
///
/// Pick the salt at random each time the encoding (re)starts and keep it for the encoding's
/// life; number messages 0, 1, 2, ... (PROTOCOL.md "Nonce").
#[derive(Debug)]
pub struct Sealer {
    key: MessageKey,
    salt: [u8; SALT_LEN],
}

impl Sealer {
    /// A sealer for `key`'s encoding with the given salt.
    pub fn new(key: MessageKey, salt: [u8; SALT_LEN]) -> Self {
        Self { key, salt }
    }

    /// The salt to put in the salt header (at least once a second, draft §5).
    pub fn salt(&self) -> &[u8; SALT_LEN] {
        &self.salt
    }

    /// Bytes a sealed message adds to `payload_len` beyond the headers: the payload field's
    /// tag and length, and the AEAD tag.
    pub fn payload_overhead(&self, payload_len: usize) -> usize {
        let sealed = payload_len + self.key.overhead();
        1 + varint::encoded_len(sealed as u64).unwrap_or(8) + self.key.overhead()
    }

    /// Appends the message `headers | payload field` to `out`, with `payload` encrypted and
    /// the headers authenticated. Reuse `out` across messages to avoid allocating.
    pub fn seal(
        &self,
        headers: &Headers,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), Rtp3Error> {
        if headers.global_encoding_id != self.key.encoding() {
            return Err(Rtp3Error::WrongKey);
        }
        if headers.salt.is_some_and(|s| s != self.salt) {
            return Err(Rtp3Error::SaltMismatch);
        }
        let start = out.len();
        let sealed_len = payload.len() + self.key.overhead();
        headers.write(out)?;
        varint::write(tag::PAYLOAD, out)?;
        varint::write(sealed_len as u64, out)?;
        let payload_start = out.len();
        out.extend_from_slice(payload);
        let (head, body) = out.split_at_mut(payload_start);
        let aad = head.get(start..).unwrap_or_default();
        let sealed = self
            .key
            .seal_in_place(&self.salt, headers.sequence_id, aad, body);
        match sealed {
            Ok(Some(tag)) => out.extend_from_slice(&tag),
            Ok(None) => {}
            Err(e) => {
                out.truncate(start);
                return Err(e.into());
            }
        }
        Ok(())
    }
}

/// A receiver's state for one encoding: its key and the salt last announced by the sender.
#[derive(Debug)]
pub struct Opener {
    key: MessageKey,
    salt: Option<[u8; SALT_LEN]>,
}

impl Opener {
    /// An opener that learns the salt from the first message carrying one.
    pub fn new(key: MessageKey) -> Self {
        Self { key, salt: None }
    }

    /// The salt in use, once known.
    pub fn salt(&self) -> Option<&[u8; SALT_LEN]> {
        self.salt.as_ref()
    }

    /// Verifies and decrypts `message` into `out` (cleared first) and returns the plaintext.
    ///
    /// A message that carries a salt header is opened with that salt, and on success that salt
    /// becomes the one used for later messages without a salt header. On failure nothing
    /// changes, so a forged message cannot switch the salt.
    pub fn open<'o>(
        &mut self,
        message: &HeaderView<'_>,
        out: &'o mut Vec<u8>,
    ) -> Result<&'o [u8], Rtp3Error> {
        if message.global_encoding_id() != self.key.encoding() {
            return Err(Rtp3Error::WrongKey);
        }
        let salt = message
            .salt()
            .copied()
            .or(self.salt)
            .ok_or(Rtp3Error::SaltUnknown)?;
        out.clear();
        out.extend_from_slice(message.sealed_payload());
        let len = self
            .key
            .open_in_place(&salt, message.sequence_id(), message.aad(), out)?;
        out.truncate(len);
        self.salt = Some(salt);
        Ok(out.as_slice())
    }
}
