//! One spelling for each peer address.

use std::net::{SocketAddr, SocketAddrV4};

/// `addr` with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) turned into plain IPv4.
///
/// A dual-stack IPv6 socket reports IPv4 peers as mapped addresses. The transport speaks of
/// peers in this canonical form (the STUN2 observed address, [`ReceivedStunCheck::from`]) and
/// the [`DscpTable`] looks destinations up by it, so a caller may use either spelling.
///
/// [`ReceivedStunCheck::from`]: super::ReceivedStunCheck::from
/// [`DscpTable`]: super::DscpTable
#[inline]
pub fn canonical_addr(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, v6.port())),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_becomes_v4_and_others_stay() {
        let mapped: SocketAddr = "[::ffff:192.0.2.1]:4433".parse().unwrap();
        assert_eq!(canonical_addr(mapped), "192.0.2.1:4433".parse().unwrap());
        for same in ["192.0.2.1:1", "[2001:db8::1]:2", "[::1]:3", "[::]:4"] {
            let addr: SocketAddr = same.parse().unwrap();
            assert_eq!(canonical_addr(addr), addr);
        }
    }
}
