//! Several UDP sockets on one port (SO_REUSEPORT), one per quinn endpoint.

use socket2::{Domain, Protocol, Socket, Type};
use std::{io, net::SocketAddr};

/// Send and receive buffer size asked for each socket: 4 MiB. A burst of forwarded video to
/// many subscribers, or a publisher's keyframe, must not overflow the kernel's queues; Linux's
/// default (about 208 KiB) holds only ~180 full datagrams. The kernel caps the request at
/// `net.core.rmem_max` / `wmem_max`; that is logged, not an error.
pub const SOCKET_BUFFER_BYTES: usize = 4 * 1024 * 1024;

/// Binds `count` non-blocking UDP sockets to `addr`, all with `SO_REUSEPORT`, so the kernel
/// spreads clients over them by a hash of the 4-tuple and each socket's quinn endpoint can be
/// driven on its own core. A client's packets keep arriving on one socket as long as its
/// address does not change.
///
/// If `addr` has port 0, the first socket gets a port from the kernel and the others bind to
/// that port. Each socket asks for [`SOCKET_BUFFER_BYTES`] of send and receive buffer
/// (best effort). `count` must be at least 1.
///
/// Any process of the same user can join the group by binding the same address with
/// `SO_REUSEPORT` and receive part of the traffic; run the node under its own user.
pub fn bind_reuseport(addr: SocketAddr, count: usize) -> io::Result<Vec<std::net::UdpSocket>> {
    if count == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bind_reuseport needs at least one socket",
        ));
    }
    let first = bind_one(addr)?;
    log_buffer_caps(&first);
    let addr = first.local_addr()?.as_socket().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, "bound socket has no IP address")
    })?;
    let mut sockets = Vec::with_capacity(count);
    sockets.push(first.into());
    for _ in 1..count {
        sockets.push(bind_one(addr)?.into());
    }
    Ok(sockets)
}

fn bind_one(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    // Best effort: a capped buffer is still a working socket.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER_BYTES);
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// Logs once per group when the kernel gave less buffer than asked. Linux reports twice the
/// usable size it granted, so anything below the request means it was capped.
fn log_buffer_caps(socket: &Socket) {
    let sizes = [
        ("SO_RCVBUF", "net.core.rmem_max", socket.recv_buffer_size()),
        ("SO_SNDBUF", "net.core.wmem_max", socket.send_buffer_size()),
    ];
    for (option, sysctl, granted) in sizes {
        match granted {
            Ok(granted) if granted < SOCKET_BUFFER_BYTES => tracing::info!(
                option,
                requested = SOCKET_BUFFER_BYTES,
                granted,
                "kernel capped the UDP socket buffer; raise {sysctl} for bursty fan-out"
            ),
            Ok(_) => {}
            Err(error) => tracing::debug!(option, %error, "could not read the socket buffer size"),
        }
    }
}
