//! The SDK's async shell around the sans-IO media pipeline: publishers and subscriptions on a
//! [`Flow`](crate::transport::Flow), the keys that open what arrives, and the draft §6.4
//! per-stream settings.
//!
//! - [`Publisher`]: one encoding; the app hands encoded frames ([`OutgoingFrame`]).
//! - [`Subscription`]: one Subscribe to the SFU; the app reads [`ReceivedFrame`]s.
//! - [`DataPublisher`]: data messages, reliable or not (draft §5.3).
//! - [`KeyRing`]: publishers' secrets, to open what arrives.

mod data;
mod fec;
mod keys;
mod publisher;
mod settings;
mod subscription;

pub use data::DataPublisher;
pub use fec::{FEC_MESSAGE_OVERHEAD, FecSender};
pub use keys::{KeyRing, PublisherSecret};
pub use publisher::{OutgoingFrame, Publisher, PublisherKind, SendStreamMetrics};
pub use settings::{AudioMode, AudioSendSettings, ReceiveSettings, VideoMode, VideoSendSettings};
pub use subscription::{
    FecReceive, MID_STREAM_SEQUENCE, PENDING_LIMIT, Playout, ReceiveStreamMetrics, ReceivedFrame,
    StreamStart, Subscription, SubscriptionConfig,
};

use thiserror::Error;

/// Why a publisher or subscription operation failed.
#[derive(Debug, Error)]
pub enum SessionError {
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
    /// A frame could not be packetized.
    #[error(transparent)]
    Packetize(#[from] crate::media::PacketizeError),
    /// The SFU does not take datagrams on this flow.
    #[error("the SFU does not accept QUIC datagrams on this flow")]
    DatagramsUnsupported,
    /// The SFU refused a subscription; its error code and text.
    #[error("subscription refused: {0}")]
    Refused(String),
    /// The flow closed.
    #[error("the flow closed")]
    Closed,
    /// Forward error correction failed (a configuration the scheme cannot carry).
    #[error("FEC: {0}")]
    Fec(crate::media::fec::FecError),
    /// Internal state was poisoned by a panic elsewhere.
    #[error("internal state poisoned")]
    Poisoned,
}
