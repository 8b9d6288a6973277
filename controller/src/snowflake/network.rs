//! The network a client is on, as its history key: the /24 of an IPv4 address or the /64 of
//! an IPv6 address, taken from what the world sees of the client (its reflexive candidate, or
//! the address its WebSocket came from, or else its first local candidate).

use newmedia_proto::signaling::{Advertisement, CandidateKind};
use std::net::IpAddr;

/// `"v4:203.0.113.0/24"` or `"v6:2001:db8:1:2::/64"`; IPv4-mapped IPv6 counts as IPv4.
pub fn network_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("v4:{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return network_key(IpAddr::V4(v4));
            }
            let s = v6.segments();
            let prefix = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("v6:{prefix}/64")
        }
    }
}

/// The client's network key: its first `stun` candidate, else `observed` (the WebSocket
/// peer), else its first `local` candidate, else `"unknown"`.
pub fn client_network(ad: &Advertisement, observed: Option<IpAddr>) -> String {
    let first = |kind: CandidateKind| {
        ad.receive_at()
            .iter()
            .filter_map(|c| c.address())
            .find(|(k, _)| *k == kind)
            .map(|(_, a)| a.socket_addr().ip())
    };
    first(CandidateKind::Stun)
        .or(observed)
        .or_else(|| first(CandidateKind::Local))
        .map_or_else(|| "unknown".to_owned(), network_key)
}

/// Whether two addresses are on one network: both loopback, the same /24 or /64, or both
/// globally routable (no NAT between them is assumed then).
pub fn same_network(a: IpAddr, b: IpAddr) -> bool {
    if a.is_loopback() && b.is_loopback() {
        return true;
    }
    if a.is_ipv4() != b.is_ipv4() {
        return false;
    }
    network_key(a) == network_key(b) || (is_global(a) && is_global(b))
}

/// Not loopback, private, link-local, unique-local, CGNAT, documentation or unspecified.
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_documentation()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(
            network_key("203.0.113.77".parse().unwrap()),
            "v4:203.0.113.0/24"
        );
        assert_eq!(
            network_key("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            "v6:2001:db8:1:2::/64"
        );
        assert_eq!(
            network_key("::ffff:10.1.2.3".parse().unwrap()),
            "v4:10.1.2.0/24"
        );
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(same_network(ip("127.0.0.1"), ip("127.0.0.2")));
        assert!(same_network(ip("192.168.1.2"), ip("192.168.1.200")));
        assert!(!same_network(ip("192.168.1.2"), ip("192.168.2.2")));
        assert!(same_network(ip("8.8.8.8"), ip("1.1.1.1")));
        assert!(!same_network(ip("8.8.8.8"), ip("10.0.0.1")));
    }
}
