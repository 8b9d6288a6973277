//! The redirect table the shared sockets consult on every send (Snowflake downlinks through a
//! TURN2 relay, docs/contracts.md §3).

use super::canonical_addr;
use dashmap::DashMap;
use std::net::{SocketAddr, SocketAddrV6};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

/// Where to send the packets meant for a destination instead.
///
/// When a client cannot receive UDP directly, the node sends everything it would send to the
/// client's observed address to the client's TURN2 relay allocation instead (the relay then
/// hands the packets to the client with the node's address as source). Every socket of a node
/// shares one table, so a connection is redirected whichever socket carries it.
///
/// A cheap handle (clones share one table). Keys are canonical ([`canonical_addr`]); a lookup
/// is skipped entirely while the table is empty, so the common send path pays one atomic load.
#[derive(Debug, Clone, Default)]
pub struct RedirectTable {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    map: DashMap<SocketAddr, SocketAddr>,
    /// Entries, beside the map so the send path can skip the lookup (may lag a racing
    /// insert/remove by an instant).
    entries: AtomicIsize,
}

impl RedirectTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on, packets to `from` go to `to`. Returns the previous target.
    pub fn set(&self, from: SocketAddr, to: SocketAddr) -> Option<SocketAddr> {
        let previous = self
            .inner
            .map
            .insert(canonical_addr(from), canonical_addr(to));
        if previous.is_none() {
            self.inner.entries.fetch_add(1, Relaxed);
        }
        previous
    }

    /// Stops redirecting `from`. Returns the target it had.
    pub fn remove(&self, from: SocketAddr) -> Option<SocketAddr> {
        let removed = self
            .inner
            .map
            .remove(&canonical_addr(from))
            .map(|(_, to)| to);
        if removed.is_some() {
            self.inner.entries.fetch_sub(1, Relaxed);
        }
        removed
    }

    /// Where packets to `destination` go instead, in the same address family as
    /// `destination` (an IPv4 target is written IPv4-mapped when the destination is, so a
    /// dual-stack socket can send to it).
    #[inline]
    pub fn get(&self, destination: SocketAddr) -> Option<SocketAddr> {
        if self.inner.entries.load(Relaxed) <= 0 {
            return None;
        }
        let to = *self.inner.map.get(&canonical_addr(destination))?;
        Some(match (destination, to) {
            (SocketAddr::V6(_), SocketAddr::V4(v4)) => {
                SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
            }
            _ => to,
        })
    }

    /// Number of redirected destinations.
    pub fn len(&self) -> usize {
        self.inner.map.len()
    }

    /// Whether nothing is redirected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_remove_and_families() {
        let table = RedirectTable::new();
        let client: SocketAddr = "198.51.100.7:5000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:198.51.100.7]:5000".parse().unwrap();
        let relay: SocketAddr = "203.0.113.1:40000".parse().unwrap();
        assert_eq!(table.get(client), None);
        assert_eq!(table.set(mapped, relay), None);
        assert_eq!(table.get(client), Some(relay));
        assert_eq!(
            table.get(mapped),
            Some("[::ffff:203.0.113.1]:40000".parse().unwrap())
        );
        assert_eq!(table.len(), 1);
        let other: SocketAddr = "203.0.113.2:1".parse().unwrap();
        assert_eq!(table.clone().set(client, other), Some(relay));
        assert_eq!(table.get(client), Some(other));
        assert_eq!(table.remove(client), Some(other));
        assert_eq!(table.remove(client), None);
        assert!(table.is_empty());
        assert_eq!(table.get(client), None);
    }
}
