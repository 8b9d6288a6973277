//! Errors of the transport module.

use std::{io, net::SocketAddr};
use thiserror::Error;

/// Why the node's sockets or endpoints could not be set up.
#[derive(Debug, Error)]
pub enum TransportError {
    /// Binding the SO_REUSEPORT sockets failed (address in use, no permission, count 0).
    #[error("binding UDP sockets on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The system error.
        source: io::Error,
    },
    /// Wrapping a socket for quinn failed (no tokio runtime, socket options refused).
    #[error("preparing UDP socket for QUIC: {0}")]
    Socket(#[source] io::Error),
    /// quinn refused to build an endpoint on the socket.
    #[error("creating QUIC endpoint: {0}")]
    Endpoint(#[source] io::Error),
}
