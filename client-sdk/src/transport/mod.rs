//! The client's transport (draft §3-4): UDP sockets shared by QUIC and STUN2, QUIC flows to
//! SFUs with the far side's certificate fingerprint pinned, STUN2 requests and answers, packets
//! injected by a TURN2 relay, and connection migration when the local address changes.
//!
//! - [`ClientEndpoint`]: one local address: socket + quinn endpoint + STUN2 agent. Opens
//!   [`Flow`]s, sends Snowflake checks, learns its reflexive address, rebinds.
//! - [`Flow`]: one admitted QUIC connection to an SFU: datagrams (media), reliable data
//!   streams, the control stream, metrics (draft §6.6).
//! - [`ClientSocket`]/[`Injector`]: the shared socket and where relayed packets go in.
//! - [`ReceivedCheck`]: a STUN2 check someone sent us, for the controller.
//! - [`gather`]: local addresses to offer as candidates (draft §6.1).
//!
//! What it does not do: decide which pairs to check (the controller's job, draft §3.1),
//! packetize or encrypt media ([`crate::media`]), or talk to the controller
//! ([`crate::signaling`]).

mod endpoint;
mod flow;
pub mod gather;
mod socket;
mod stats;
mod stun;

pub use endpoint::{ClientEndpoint, EndpointConfig};
pub use flow::{
    ConnectivityState, DataStream, FiveTuple, Flow, FlowEvent, FlowMetrics, FlowOptions,
    MAX_STREAM_MESSAGE, PublisherRequest, STREAM_KIND_ORDERED, STREAM_KIND_SINGLE,
    SubscriptionEvent,
};
pub use socket::{ClientSocket, INJECT_QUEUE_LIMIT, Injector, SOCKET_BUFFER_BYTES};
pub use stats::SocketStatsSnapshot;
pub use stun::{CHECK_QUEUE, ReceivedCheck, StunError, StunOutcome, StunSource};

use std::net::SocketAddr;
use thiserror::Error;

/// Why a transport operation failed.
#[derive(Debug, Error)]
pub enum TransportError {
    /// A socket could not be bound (or rebound) to the address.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Another socket error.
    #[error("socket: {0}")]
    Io(std::io::Error),
    /// The TLS configuration could not be built.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// quinn refused to start connecting.
    #[error("connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    /// The connection failed or closed.
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    /// Writing a stream failed.
    #[error("stream write: {0}")]
    Write(#[from] quinn::WriteError),
    /// Reading a stream failed.
    #[error("stream read: {0}")]
    Read(#[from] quinn::ReadError),
    /// A datagram could not be sent (too large for the path, or datagrams unsupported).
    #[error("datagram: {0}")]
    Datagram(#[from] quinn::SendDatagramError),
    /// A control message could not be encoded or decoded.
    #[error("control: {0}")]
    Control(#[from] newmedia_proto::control::ControlError),
    /// The SFU refused us; its reason.
    #[error("refused by the SFU: {0}")]
    Refused(String),
    /// A STUN2 transaction failed.
    #[error(transparent)]
    Stun(#[from] StunError),
    /// A data stream message above [`MAX_STREAM_MESSAGE`] bytes.
    #[error("data message of {0} bytes exceeds {MAX_STREAM_MESSAGE}")]
    MessageTooLarge(usize),
    /// A single-message data stream already carried its message.
    #[error("the single-message stream already carried its message")]
    StreamFinished,
    /// The endpoint was shut down.
    #[error("the endpoint is closed")]
    Closed,
}
