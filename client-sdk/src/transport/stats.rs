//! Counters of a client socket, readable while it runs.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What a client socket has seen, cumulative. Shared by the socket, its STUN2 agent and the
/// relay injector; survives rebinds.
#[derive(Debug, Default)]
pub(crate) struct SocketStats {
    quic_in: AtomicU64,
    unknown_in: AtomicU64,
    stun_requests_answered: AtomicU64,
    stun_requests_bad: AtomicU64,
    stun_responses: AtomicU64,
    stun_responses_unmatched: AtomicU64,
    checks_reported: AtomicU64,
    checks_dropped: AtomicU64,
    injected: AtomicU64,
    inject_dropped: AtomicU64,
}

/// A copy of a socket's counters at one moment ([`ClientEndpoint::stats`](super::ClientEndpoint::stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketStatsSnapshot {
    /// QUIC datagrams handed to quinn (direct and relayed).
    pub quic_in: u64,
    /// Datagrams that were neither QUIC nor STUN2 (dropped).
    pub unknown_in: u64,
    /// STUN2 requests opened under our secret and answered.
    pub stun_requests_answered: u64,
    /// STUN2 requests that did not open (wrong secret, malformed).
    pub stun_requests_bad: u64,
    /// STUN2 responses that completed one of our transactions.
    pub stun_responses: u64,
    /// STUN2 responses for no pending transaction, or that did not open.
    pub stun_responses_unmatched: u64,
    /// Received checks (requests with a sender secret) handed to the application.
    pub checks_reported: u64,
    /// Received checks dropped because the application did not read them fast enough.
    pub checks_dropped: u64,
    /// Packets injected by a relay client.
    pub injected: u64,
    /// Injected packets dropped (queue full or larger than a datagram buffer).
    pub inject_dropped: u64,
}

macro_rules! counters {
    ($($field:ident => $method:ident),* $(,)?) => {
        impl SocketStats {
            $(
                pub(crate) fn $method(&self) {
                    self.$field.fetch_add(1, Relaxed);
                }
            )*

            /// The counters now.
            pub(crate) fn snapshot(&self) -> SocketStatsSnapshot {
                SocketStatsSnapshot { $($field: self.$field.load(Relaxed),)* }
            }
        }
    };
}

counters! {
    quic_in => count_quic_in,
    unknown_in => count_unknown_in,
    stun_requests_answered => count_stun_answered,
    stun_requests_bad => count_stun_bad,
    stun_responses => count_stun_response,
    stun_responses_unmatched => count_stun_unmatched,
    checks_reported => count_check_reported,
    checks_dropped => count_check_dropped,
    injected => count_injected,
    inject_dropped => count_inject_dropped,
}
