//! Sending one quinn transmit with a full TOS / traffic-class byte (DSCP and ECN).

use quinn::udp::Transmit;
use std::{io, os::fd::AsRawFd};

/// The TOS / traffic-class byte for `dscp` (6 bits) and the transmit's ECN codepoint (2 bits).
#[inline]
pub(crate) fn tos_byte(dscp: u8, transmit: &Transmit<'_>) -> u8 {
    let ecn = transmit.ecn.map_or(0, |ecn| ecn as u8);
    ((dscp & super::MAX_DSCP) << 2) | (ecn & 0b11)
}

/// Sends `transmit` on `socket` (non-blocking) with `sendmsg(2)` and the control messages
/// quinn-udp would write, except that the `IP_TOS` / `IPV6_TCLASS` byte is `dscp << 2 | ecn`
/// instead of ECN alone:
///
/// - `IP_TOS` for an IPv4 destination and for an IPv4-mapped one (an IPv6 socket sending to an
///   IPv4 peer: Linux takes the IPv4 options there), `IPV6_TCLASS` otherwise — as quinn-udp;
/// - `UDP_SEGMENT` when the transmit holds several segments (GSO), only when the segment size
///   is smaller than the contents, as quinn-udp does (some drivers reject a one-segment GSO);
/// - `IP_PKTINFO` / `IPV6_PKTINFO` with the source address, when quinn chose one.
///
/// Returns the raw error: `EAGAIN` as [`io::ErrorKind::WouldBlock`]; `EINTR` is retried. The
/// caller decides which errors to swallow.
///
/// Cost: nix's `sendmsg` allocates its small control-message buffer on every call (one ~100
/// byte allocation per transmit, next to a system call).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn send_with_tos(
    socket: &impl AsRawFd,
    transmit: &Transmit<'_>,
    dscp: u8,
) -> io::Result<()> {
    use nix::{
        errno::Errno,
        libc,
        sys::socket::{ControlMessage, MsgFlags, SockaddrStorage, sendmsg},
    };
    use std::net::IpAddr;

    let tos = tos_byte(dscp, transmit);
    let tclass = i32::from(tos);
    let ipv4_path = match transmit.destination.ip() {
        IpAddr::V4(_) => true,
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some(),
    };
    let tos_message = if ipv4_path {
        ControlMessage::Ipv4Tos(&tos)
    } else {
        ControlMessage::Ipv6TClass(&tclass)
    };

    let segment_size = match transmit
        .segment_size
        .filter(|size| *size < transmit.contents.len())
    {
        Some(size) => Some(u16::try_from(size).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "GSO segment size above 65535")
        })?),
        None => None,
    };
    let pktinfo4 = match transmit.src_ip {
        Some(IpAddr::V4(v4)) => Some(libc::in_pktinfo {
            ipi_ifindex: 0,
            ipi_spec_dst: libc::in_addr {
                s_addr: u32::from_ne_bytes(v4.octets()),
            },
            ipi_addr: libc::in_addr { s_addr: 0 },
        }),
        _ => None,
    };
    let pktinfo6 = match transmit.src_ip {
        Some(IpAddr::V6(v6)) => Some(libc::in6_pktinfo {
            ipi6_addr: libc::in6_addr {
                s6_addr: v6.octets(),
            },
            ipi6_ifindex: 0,
        }),
        _ => None,
    };

    // At most three messages: TOS, GSO, source address. No Vec: a fixed array and a length.
    let mut messages = [tos_message; 3];
    let mut used = 1;
    let extra = [
        segment_size.as_ref().map(ControlMessage::UdpGsoSegments),
        pktinfo4.as_ref().map(ControlMessage::Ipv4PacketInfo),
        pktinfo6.as_ref().map(ControlMessage::Ipv6PacketInfo),
    ];
    for message in extra.into_iter().flatten() {
        if let Some(slot) = messages.get_mut(used) {
            *slot = message;
            used += 1;
        }
    }
    let messages = messages.get(..used).unwrap_or_default();

    let destination = SockaddrStorage::from(transmit.destination);
    let iov = [io::IoSlice::new(transmit.contents)];
    loop {
        match sendmsg(
            socket.as_raw_fd(),
            &iov,
            messages,
            MsgFlags::empty(),
            Some(&destination),
        ) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(io::Error::from(errno)),
        }
    }
}

/// Elsewhere the control messages differ; the caller falls back to quinn-udp (no DSCP).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn send_with_tos(
    _socket: &impl AsRawFd,
    _transmit: &Transmit<'_>,
    _dscp: u8,
) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use quinn::udp::EcnCodepoint;

    #[test]
    fn tos_is_dscp_then_ecn() {
        let mut transmit = Transmit {
            destination: "127.0.0.1:1".parse().unwrap(),
            ecn: None,
            contents: &[],
            segment_size: None,
            src_ip: None,
        };
        assert_eq!(tos_byte(46, &transmit), 0xB8);
        transmit.ecn = Some(EcnCodepoint::Ect0);
        assert_eq!(tos_byte(46, &transmit), 0xBA);
        transmit.ecn = Some(EcnCodepoint::Ce);
        assert_eq!(tos_byte(0xFF, &transmit), 0xFF);
        assert_eq!(tos_byte(0, &transmit), 0x03);
    }
}
