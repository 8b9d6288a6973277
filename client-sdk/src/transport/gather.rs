//! Local address gathering (draft §6.1: "gather local IP, port, protocol tuples for receiving
//! media"): the host's interface addresses that a client can bind and offer as `local`
//! candidates.

use std::net::IpAddr;

/// One local interface address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAddress {
    /// The interface name (`eth0`, `lo`, ...).
    pub interface: String,
    /// The address.
    pub ip: IpAddr,
    /// Whether it is a loopback address.
    pub loopback: bool,
}

/// Which addresses [`local_addresses`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GatherPolicy {
    /// Include loopback addresses (useful on a laptop and in tests). Default `false`.
    pub loopback: bool,
    /// Include IPv6 link-local addresses (need a scope ID to be usable). Default `false`.
    pub link_local_v6: bool,
}

/// The interface addresses of this host that are up, filtered by `policy`, IPv6 first (the
/// controller ranks families; the order here is only a default).
pub fn local_addresses(policy: GatherPolicy) -> std::io::Result<Vec<LocalAddress>> {
    let mut out = Vec::new();
    for ifaddr in nix::ifaddrs::getifaddrs().map_err(std::io::Error::from)? {
        if !ifaddr.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP) {
            continue;
        }
        let Some(addr) = ifaddr.address else { continue };
        let ip = if let Some(v4) = addr.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else if let Some(v6) = addr.as_sockaddr_in6() {
            IpAddr::V6(v6.ip())
        } else {
            continue;
        };
        let loopback = ip.is_loopback();
        if loopback && !policy.loopback {
            continue;
        }
        if let IpAddr::V6(v6) = ip
            && v6.is_unicast_link_local()
            && !policy.link_local_v6
        {
            continue;
        }
        out.push(LocalAddress {
            interface: ifaddr.interface_name,
            ip,
            loopback,
        });
    }
    out.sort_by_key(|a| (a.ip.is_ipv4(), a.loopback));
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_gathered_only_when_asked() {
        let with = local_addresses(GatherPolicy {
            loopback: true,
            ..Default::default()
        })
        .unwrap();
        assert!(with.iter().any(|a| a.ip == IpAddr::from([127, 0, 0, 1])));
        let without = local_addresses(GatherPolicy::default()).unwrap();
        assert!(without.iter().all(|a| !a.loopback));
    }
}
