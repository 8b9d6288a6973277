//! Which message secret opens which encoding (draft §5.1, §5.6): every receive stream of a
//! proposal names the publishing endpoint and carries its secret; an encoding's key is derived
//! from that secret, the conference and endpoint IDs and the GlobalEncodingID (PROTOCOL.md §5.2).

use crate::control::Secret;
use newmedia_proto::crypto::{Algorithm, MessageKey};
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::{HeaderView, Opener};
use std::collections::HashMap;

/// The AEAD and secret of one publishing endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherSecret {
    /// The AEAD its messages use.
    pub aead: Algorithm,
    /// Its message secret (empty for NULL).
    pub secret: Secret,
}

/// Secrets by (conference, endpoint), and encodings whose publisher is known in advance.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    secrets: HashMap<(u64, u64), PublisherSecret>,
    owners: HashMap<GlobalEncodingId, (u64, u64)>,
}

impl KeyRing {
    /// An empty ring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the secret of `endpoint_id` in `conference_id`.
    pub fn insert(&mut self, conference_id: u64, endpoint_id: u64, secret: PublisherSecret) {
        self.secrets.insert((conference_id, endpoint_id), secret);
    }

    /// Records that `geid` is published by `endpoint_id` of `conference_id`.
    pub fn set_owner(&mut self, geid: GlobalEncodingId, conference_id: u64, endpoint_id: u64) {
        self.owners.insert(geid, (conference_id, endpoint_id));
    }

    /// The publisher of `geid`: recorded in advance, or named by the message's conference and
    /// endpoint ID headers (the full set, sent at least once a second).
    pub fn owner(&self, message: &HeaderView<'_>) -> Option<(u64, u64)> {
        if let Some(owner) = self.owners.get(&message.global_encoding_id()) {
            return Some(*owner);
        }
        let h = message.headers();
        Some((h.conference_id?, h.endpoint_id?))
    }

    /// An opener for the encoding of `message`, when its publisher and secret are known.
    pub fn opener(&self, message: &HeaderView<'_>) -> Option<(Opener, u64)> {
        let (conference_id, endpoint_id) = self.owner(message)?;
        let s = self.secrets.get(&(conference_id, endpoint_id))?;
        let key = MessageKey::derive(
            s.aead,
            s.secret.as_bytes(),
            conference_id,
            endpoint_id,
            message.global_encoding_id(),
        );
        Some((Opener::new(key), endpoint_id))
    }
}
