//! Hello: the first message each side sends on a control stream.

use super::codec::{Enc, Slot, bad, for_each_field};
use super::{Body, ControlError, kind};
use serde::{Deserialize, Serialize};

/// The control protocol version this implementation speaks (the highest and only one).
pub const CONTROL_VERSION: u64 = 1;

/// The version both sides use on a stream: the lower of the two Hellos' versions. A side that
/// cannot speak the result sends an [`Error`](super::ErrorMessage) with code
/// [`UNSUPPORTED_VERSION`](super::ErrorCode::UNSUPPORTED_VERSION) and closes the stream.
pub fn negotiate_version(ours: u64, theirs: u64) -> u64 {
    ours.min(theirs)
}

/// Optional features a side announces in its Hello. Bits this implementation does not know are
/// kept as they are and must be ignored by a receiver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Capabilities(pub u64);

impl Capabilities {
    /// No optional features.
    pub const NONE: Self = Self(0);
    /// The sender answers RetransmissionRequest from a cache.
    pub const RETRANSMISSION: Self = Self(1 << 0);
    /// The sender (an SFU) resolves `ActiveSpeakerVideo` subscriptions and sends ActiveSpeakers.
    pub const ACTIVE_SPEAKERS: Self = Self(1 << 1);
    /// The sender reads ECN marks, so the ECN counters of its receiver reports are meaningful.
    pub const ECN: Self = Self(1 << 2);
    /// The sender forwards or honours layer filters (`max_layer` in Subscribe).
    pub const LAYER_FILTER: Self = Self(1 << 3);

    /// True when every bit of `other` is set in `self`.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of two sets.
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// The first message on a control stream, sent by each side. It fixes the control protocol
/// version for the stream (the frame version byte covers the framing only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The highest control protocol version the sender speaks, at least 1.
    pub version: u64,
    /// A client's own endpoint ID; in the SFU's Hello, the endpoint ID the SFU admitted the
    /// client as.
    pub endpoint_id: u64,
    /// Optional features of the sender (empty when absent on the wire).
    #[serde(default)]
    pub capabilities: Capabilities,
    /// A client's signed join grant (PROTOCOL.md "Join grant"), when it is admitted by grant
    /// rather than by a registered certificate fingerprint. Never sent by an SFU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<Vec<u8>>,
}

impl Hello {
    /// A Hello for [`CONTROL_VERSION`].
    pub fn new(endpoint_id: u64, capabilities: Capabilities) -> Self {
        Self {
            version: CONTROL_VERSION,
            endpoint_id,
            capabilities,
            grant: None,
        }
    }
}

const VERSION: u64 = 1;
const ENDPOINT_ID: u64 = 2;
const CAPABILITIES: u64 = 3;
const GRANT: u64 = 4;

impl Body for Hello {
    const KIND: u64 = kind::HELLO;
    const NAME: &'static str = "Hello";

    fn encode_body(&self, enc: &mut Enc<'_>) -> Result<(), ControlError> {
        if self.version == 0 {
            return Err(bad(Self::NAME, "version", "must be at least 1"));
        }
        enc.uint(VERSION, "version", self.version)?;
        enc.uint(ENDPOINT_ID, "endpoint_id", self.endpoint_id)?;
        enc.uint_or(CAPABILITIES, "capabilities", self.capabilities.0, 0)?;
        match &self.grant {
            Some(grant) => enc.bytes(GRANT, "grant", grant),
            None => Ok(()),
        }
    }

    fn decode_body(body: &[u8]) -> Result<Self, ControlError> {
        let mut version = Slot::<u64>::new(Self::NAME, "version");
        let mut endpoint_id = Slot::<u64>::new(Self::NAME, "endpoint_id");
        let mut capabilities = Slot::<u64>::new(Self::NAME, "capabilities");
        let mut grant = Slot::<&[u8]>::new(Self::NAME, "grant");
        for_each_field(Self::NAME, body, |f| match f.tag {
            VERSION => version.take(&f),
            ENDPOINT_ID => endpoint_id.take(&f),
            CAPABILITIES => capabilities.take(&f),
            GRANT => grant.take(&f),
            _ => Ok(()),
        })?;
        let version = version.required()?;
        if version == 0 {
            return Err(bad(Self::NAME, "version", "must be at least 1"));
        }
        Ok(Self {
            version,
            endpoint_id: endpoint_id.required()?,
            capabilities: Capabilities(capabilities.optional().unwrap_or(0)),
            grant: grant.optional().map(<[u8]>::to_vec),
        })
    }
}
