//! Building the node's quinn endpoints over shared sockets.

use super::{
    DscpTable, RedirectTable, SharedUdpSocket, Stun2Responder, Stun2ResponderConfig,
    TransportError, TransportStats, bind_reuseport,
};
use quinn::{Endpoint, EndpointConfig, ServerConfig, TokioRuntime};
use std::{net::SocketAddr, sync::Arc};

/// quinn's default endpoint configuration with QUIC-bit greasing (RFC 9287) off: peers must
/// keep the fixed bit 0x40 set in every packet they send us, which the STUN2/QUIC demux on the
/// shared socket relies on.
///
/// One value is cloned into every endpoint of a node, so they share the stateless-reset key:
/// when a client's address changes and its packets land on another SO_REUSEPORT socket, that
/// endpoint's stateless reset is valid and the client learns at once that the connection is
/// gone, instead of waiting for its idle timeout.
pub fn endpoint_config() -> EndpointConfig {
    let mut config = EndpointConfig::default();
    config.grease_quic_bit(false);
    config
}

/// A node's endpoints, one per socket on the same port, and what they share.
#[derive(Debug)]
pub struct TransportEndpoints {
    /// One quinn endpoint per socket. Accept on all of them.
    pub endpoints: Vec<Endpoint>,
    /// The DSCP table all sockets read: set a connection's remote address here to mark the
    /// packets sent to it.
    pub dscp: DscpTable,
    /// Counters of all sockets together.
    pub stats: Arc<TransportStats>,
    /// The redirect table all sockets read (Snowflake downlinks).
    pub redirects: RedirectTable,
    /// The sockets, to send the node's own datagrams (downlink checks) from.
    pub sockets: Vec<Arc<SharedUdpSocket>>,
    /// The address the sockets are bound to (with the actual port when 0 was asked).
    pub local_addr: SocketAddr,
}

/// Binds `count` SO_REUSEPORT sockets on `addr` ([`bind_reuseport`]) and builds a server
/// endpoint on each ([`endpoints_on_sockets`]). Must be called inside a tokio runtime.
pub fn bind_endpoints(
    addr: SocketAddr,
    count: usize,
    server_config: ServerConfig,
    stun: &Stun2ResponderConfig,
) -> Result<TransportEndpoints, TransportError> {
    let sockets =
        bind_reuseport(addr, count).map_err(|source| TransportError::Bind { addr, source })?;
    endpoints_on_sockets(sockets, server_config, stun)
}

/// Wraps each socket in a [`SharedUdpSocket`] (one STUN2 responder, DSCP table and counters
/// for all) and builds a quinn endpoint on it with [`endpoint_config`] and `server_config`.
/// Endpoints can also open client connections (SFU-to-SFU links) with
/// `Endpoint::connect_with`. Must be called inside a tokio runtime; each endpoint's driver is a
/// separate task, so a multi-threaded runtime receives on several cores.
pub fn endpoints_on_sockets(
    sockets: Vec<std::net::UdpSocket>,
    server_config: ServerConfig,
    stun: &Stun2ResponderConfig,
) -> Result<TransportEndpoints, TransportError> {
    let responder = Arc::new(Stun2Responder::new(stun));
    let dscp = DscpTable::new();
    let redirects = RedirectTable::new();
    let stats = Arc::new(TransportStats::new());
    let mut shared = Vec::with_capacity(sockets.len());
    let config = endpoint_config();
    let mut endpoints = Vec::with_capacity(sockets.len());
    let mut local_addr = None;
    for socket in sockets {
        let socket = SharedUdpSocket::new(socket, responder.clone(), dscp.clone(), stats.clone())
            .map_err(TransportError::Socket)?
            .with_redirects(redirects.clone());
        let socket = Arc::new(socket);
        shared.push(socket.clone());
        let endpoint = Endpoint::new_with_abstract_socket(
            config.clone(),
            Some(server_config.clone()),
            socket,
            Arc::new(TokioRuntime),
        )
        .map_err(TransportError::Endpoint)?;
        if local_addr.is_none() {
            local_addr = Some(endpoint.local_addr().map_err(TransportError::Socket)?);
        }
        endpoints.push(endpoint);
    }
    let local_addr = local_addr.ok_or_else(|| {
        TransportError::Socket(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "no sockets to build endpoints on",
        ))
    })?;
    Ok(TransportEndpoints {
        endpoints,
        dscp,
        stats,
        redirects,
        sockets: shared,
        local_addr,
    })
}
