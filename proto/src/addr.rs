//! The socket address value shared by STUN2, TURN2 and the control messages.
//!
//! `family (1 byte: 4 or 6) | address (4 or 16 bytes) | port (2 bytes, big-endian)`: 7 bytes
//! for IPv4, 19 for IPv6. The value is always carried inside a TLV field, whose length must be
//! exactly 7 or 19 and match the family.
//!
//! Every address has exactly one encoding: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what
//! a dual-stack socket reports for an IPv4 peer) is written as family 4, and a decoder rejects
//! family 6 carrying a mapped address. IPv6 flow info and scope ID are not carried (a decoded
//! IPv6 address has both zero).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use thiserror::Error;

/// Family byte of an IPv4 address.
pub const FAMILY_IPV4: u8 = 4;
/// Family byte of an IPv6 address.
pub const FAMILY_IPV6: u8 = 6;
/// Encoded length of an IPv4 socket address.
pub const IPV4_LEN: usize = 7;
/// Encoded length of an IPv6 socket address.
pub const IPV6_LEN: usize = 19;

/// Why a socket address value could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum AddrError {
    /// The value was empty.
    #[error("empty socket address")]
    Empty,
    /// The family byte was neither 4 nor 6.
    #[error("unknown address family {0} (expected 4 or 6)")]
    UnknownFamily(u8),
    /// The value's length does not match its family (7 bytes for 4, 19 for 6).
    #[error("socket address of family {family} must be {expected} bytes, got {got}")]
    BadLength {
        /// The family byte.
        family: u8,
        /// The length the family requires.
        expected: usize,
        /// The length found.
        got: usize,
    },
    /// Family 6 carried an IPv4-mapped address, which must be sent as family 4.
    #[error("IPv4-mapped IPv6 address {0} must be encoded as family 4")]
    MappedIpv4(Ipv6Addr),
}

/// Encoded length of `addr` (7 or 19), after mapping IPv4-mapped IPv6 addresses to IPv4.
pub fn encoded_len(addr: &SocketAddr) -> usize {
    match addr.ip().to_canonical() {
        IpAddr::V4(_) => IPV4_LEN,
        IpAddr::V6(_) => IPV6_LEN,
    }
}

/// Appends the encoding of `addr` to `out`. An IPv4-mapped IPv6 address is written as IPv4;
/// IPv6 flow info and scope ID are dropped.
pub fn encode_socket_addr(addr: &SocketAddr, out: &mut Vec<u8>) {
    match addr.ip().to_canonical() {
        IpAddr::V4(ip) => {
            out.push(FAMILY_IPV4);
            out.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.push(FAMILY_IPV6);
            out.extend_from_slice(&ip.octets());
        }
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

/// Reads a socket address from `bytes`, which must hold exactly one encoded value.
pub fn decode_socket_addr(bytes: &[u8]) -> Result<SocketAddr, AddrError> {
    let (&family, rest) = bytes.split_first().ok_or(AddrError::Empty)?;
    let bad_length = |expected| AddrError::BadLength {
        family,
        expected,
        got: bytes.len(),
    };
    match family {
        FAMILY_IPV4 => {
            let (ip, port) = split_ip_port::<4>(rest).ok_or_else(|| bad_length(IPV4_LEN))?;
            Ok(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
        }
        FAMILY_IPV6 => {
            let (ip, port) = split_ip_port::<16>(rest).ok_or_else(|| bad_length(IPV6_LEN))?;
            let ip = Ipv6Addr::from(ip);
            if ip.to_ipv4_mapped().is_some() {
                return Err(AddrError::MappedIpv4(ip));
            }
            Ok(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0)))
        }
        other => Err(AddrError::UnknownFamily(other)),
    }
}

/// Splits `N` address bytes and a 2-byte port, requiring nothing after them.
fn split_ip_port<const N: usize>(rest: &[u8]) -> Option<([u8; N], u16)> {
    let (ip, port) = rest.split_first_chunk::<N>()?;
    let port: [u8; 2] = port.try_into().ok()?;
    Some((*ip, u16::from_be_bytes(port)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(addr: &str) -> String {
        let mut out = Vec::new();
        encode_socket_addr(&addr.parse().unwrap(), &mut out);
        hex::encode(out)
    }

    #[test]
    fn known_encodings() {
        assert_eq!(enc("192.0.2.1:3478"), "04c00002010d96");
        assert_eq!(
            enc("[2001:db8::1]:443"),
            "0620010db800000000000000000000000101bb"
        );
        // IPv4-mapped IPv6 is written as IPv4.
        assert_eq!(enc("[::ffff:192.0.2.1]:3478"), "04c00002010d96");
    }

    #[test]
    fn decode_checks_length_and_family() {
        assert_eq!(decode_socket_addr(&[]), Err(AddrError::Empty));
        assert_eq!(
            decode_socket_addr(&[5, 0, 0]),
            Err(AddrError::UnknownFamily(5))
        );
        assert_eq!(
            decode_socket_addr(&[4, 1, 2, 3, 4, 0]),
            Err(AddrError::BadLength {
                family: 4,
                expected: 7,
                got: 6
            })
        );
        assert_eq!(
            decode_socket_addr(&[4, 1, 2, 3, 4, 0, 1, 9]),
            Err(AddrError::BadLength {
                family: 4,
                expected: 7,
                got: 8
            })
        );
        let mapped = hex::decode("0600000000000000000000ffffc00002010d96").unwrap();
        assert!(matches!(
            decode_socket_addr(&mapped),
            Err(AddrError::MappedIpv4(_))
        ));
        assert_eq!(
            decode_socket_addr(&hex::decode("04c00002010d96").unwrap()),
            Ok("192.0.2.1:3478".parse().unwrap())
        );
    }

    proptest! {
        #[test]
        fn roundtrip(addr in any::<SocketAddr>()) {
            let mut out = Vec::new();
            encode_socket_addr(&addr, &mut out);
            prop_assert_eq!(out.len(), encoded_len(&addr));
            let back = decode_socket_addr(&out).unwrap();
            let expected = match addr {
                SocketAddr::V6(v6) => SocketAddr::new(v6.ip().to_canonical(), v6.port()),
                v4 => v4,
            };
            prop_assert_eq!(back, expected);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
            let _ = decode_socket_addr(&bytes);
        }
    }
}
