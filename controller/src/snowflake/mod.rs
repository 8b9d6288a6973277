//! Snowflake (docs/contracts.md §3): which pairs are checked ([`rank()`]), the client network
//! histories are keyed by ([`network`]), and how receiver reports find their check
//! ([`uplink_match_key`], [`downlink_match_key`]). The flow itself (commands, reports,
//! consent) is driven by [`crate::service`].

pub mod network;
pub mod rank;

pub use network::{client_network, network_key, same_network};
pub use rank::{RankInput, RankedPath, pair_type, rank};

use newmedia_proto::signaling::{Address, HexTransactionId};
use std::net::SocketAddr;

/// An uplink report (node → controller) is matched by the transaction ID the controller
/// chose for the check.
pub fn uplink_match_key(transaction_id: &HexTransactionId) -> String {
    format!("up:{transaction_id}")
}

/// A downlink report (client → controller) is matched by the client and the addresses: the
/// node candidate it came from and the relay candidate it reached.
pub fn downlink_match_key(client_id: &str, from: &Address, to: &Address) -> String {
    format!(
        "down:{client_id}:{}:{}",
        canonical(from.socket_addr()),
        canonical(to.socket_addr())
    )
}

/// One spelling per socket address (IPv4-mapped IPv6 as IPv4).
fn canonical(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::from((v4, v6.port())).to_string(),
            None => addr.to_string(),
        },
        SocketAddr::V4(_) => addr.to_string(),
    }
}

/// Whether a node's reported local address `reported` is the check's `to`: equal, or the
/// same port on an unspecified address (a node bound to `0.0.0.0` reports that).
pub fn same_destination(reported: &Address, expected: &Address) -> bool {
    let (r, e) = (reported.socket_addr(), expected.socket_addr());
    canonical(r) == canonical(e) || (r.ip().is_unspecified() && r.port() == e.port())
}
