//! The per-destination DSCP table the shared sockets consult on every send.

use super::canonical_addr;
use dashmap::DashMap;
use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicIsize, Ordering::Relaxed},
    },
};

/// Largest DSCP value (6 bits).
pub const MAX_DSCP: u8 = 0x3F;

/// DSCP codepoint EF (expedited forwarding, 46), the usual marking for audio.
pub const DSCP_EF: u8 = 46;

/// Which DSCP to put on the packets to each destination.
///
/// quinn-udp writes an `IP_TOS` / `IPV6_TCLASS` control message carrying only the ECN bits on
/// every packet, which overrides any DSCP set on the socket with `setsockopt`. So the shared
/// socket looks each transmit's destination up here; with a DSCP set, it sends the packet
/// itself with `dscp << 2 | ecn` in that control message.
///
/// A cheap handle: clones share one table, used by every socket of a node. Addresses are
/// stored in canonical form ([`canonical_addr`]), so an IPv4 peer may be named by its plain or
/// its IPv4-mapped address. Lookups take a shard read lock of a [`DashMap`] and are skipped
/// entirely while the table is empty.
#[derive(Debug, Clone, Default)]
pub struct DscpTable {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    map: DashMap<SocketAddr, u8>,
    /// Entries, maintained beside the map so the send path can skip the lookup without
    /// touching every shard. May be off by one for an instant while a `set` and a `clear` race,
    /// which at worst sends one packet with or without the old marking.
    entries: AtomicIsize,
}

impl DscpTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks packets to `addr` with `dscp` from now on. Only the low 6 bits of `dscp` are used
    /// (a DSCP has 6 bits; the 2 bits below it in the TOS byte are ECN, set by QUIC).
    pub fn set(&self, addr: SocketAddr, dscp: u8) {
        let previous = self.inner.map.insert(canonical_addr(addr), dscp & MAX_DSCP);
        if previous.is_none() {
            self.inner.entries.fetch_add(1, Relaxed);
        }
    }

    /// Stops marking packets to `addr` (they go out with DSCP 0, the default class).
    pub fn clear(&self, addr: SocketAddr) {
        if self.inner.map.remove(&canonical_addr(addr)).is_some() {
            self.inner.entries.fetch_sub(1, Relaxed);
        }
    }

    /// The DSCP set for `addr`, if any.
    #[inline]
    pub fn get(&self, addr: SocketAddr) -> Option<u8> {
        if self.inner.entries.load(Relaxed) <= 0 {
            return None;
        }
        self.inner.map.get(&canonical_addr(addr)).map(|dscp| *dscp)
    }

    /// Number of destinations with a DSCP.
    pub fn len(&self) -> usize {
        self.inner.map.len()
    }

    /// Whether no destination has a DSCP.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_clear_and_canonical_keys() {
        let table = DscpTable::new();
        let v4: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:192.0.2.1]:5000".parse().unwrap();
        assert_eq!(table.get(v4), None);
        table.set(mapped, DSCP_EF);
        assert_eq!(table.get(v4), Some(DSCP_EF));
        assert_eq!(table.get(mapped), Some(DSCP_EF));
        // Overwrite, masking to 6 bits.
        let clone = table.clone();
        clone.set(v4, 0xFF);
        assert_eq!(table.get(v4), Some(MAX_DSCP));
        assert_eq!(table.len(), 1);
        table.clear(v4);
        assert_eq!(table.get(mapped), None);
        assert!(table.is_empty());
        // Clearing twice does not drive the counter negative for good.
        table.clear(v4);
        table.set(v4, 10);
        assert_eq!(table.get(v4), Some(10));
    }
}
