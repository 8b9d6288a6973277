//! The UDP socket quinn and STUN2 share: `quinn::AsyncUdpSocket` with demux and DSCP.

use super::{
    DscpTable, RedirectTable, Stun2Responder, TransportStats, demux::retain_datagrams,
    stats::BatchCounts, stun_responder::CheckReport, tos_send::send_with_tos,
};
use newmedia_proto::stun2::{PacketKind, classify};
use quinn::{
    AsyncUdpSocket, UdpPoller,
    udp::{RecvMeta, Transmit, UdpSocketState},
};
use std::{
    fmt,
    future::Future,
    io::{self, IoSliceMut},
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};
use tokio::io::Interest;

/// A UDP socket shared by a quinn endpoint and the node's STUN2 responder.
///
/// - **Receive**: every datagram of a batch (every GRO segment) is classified by its first
///   bytes ([`classify`]). QUIC goes to quinn untouched; STUN2 requests are answered right here
///   by the [`Stun2Responder`] and removed from the batch; STUN2 responses and anything else
///   are dropped. All of it is counted in [`TransportStats`].
/// - **Send**: a transmit whose destination has a DSCP in the [`DscpTable`] is sent with
///   `dscp << 2 | ecn` in its TOS / traffic-class byte; every other transmit goes through
///   quinn-udp unchanged (GSO, ECN, source address selection).
///
/// Built like quinn's own tokio socket: a `tokio::net::UdpSocket` for readiness and a
/// `quinn_udp::UdpSocketState` for `sendmsg`/`recvmmsg` with segmentation offload.
#[derive(Debug)]
pub struct SharedUdpSocket {
    io: tokio::net::UdpSocket,
    state: UdpSocketState,
    responder: Arc<Stun2Responder>,
    dscp: DscpTable,
    redirects: RedirectTable,
    stats: Arc<TransportStats>,
}

impl SharedUdpSocket {
    /// Wraps a bound socket (made non-blocking here; quinn-udp also enables GRO, `IP_RECVTOS`,
    /// packet info and disables fragmentation). Must be called inside a tokio runtime with I/O
    /// enabled; returns an error when there is no runtime at all.
    pub fn new(
        socket: std::net::UdpSocket,
        responder: Arc<Stun2Responder>,
        dscp: DscpTable,
        stats: Arc<TransportStats>,
    ) -> io::Result<Self> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other(
                "SharedUdpSocket::new must be called inside a tokio runtime",
            ));
        }
        let state = UdpSocketState::new((&socket).into())?;
        let io = tokio::net::UdpSocket::from_std(socket)?;
        Ok(Self {
            io,
            state,
            responder,
            dscp,
            redirects: RedirectTable::new(),
            stats,
        })
    }

    /// Uses `redirects` (shared with the node's other sockets) on the send path instead of
    /// this socket's own empty table.
    pub fn with_redirects(mut self, redirects: RedirectTable) -> Self {
        self.redirects = redirects;
        self
    }

    /// The redirect table this socket reads.
    pub fn redirects(&self) -> &RedirectTable {
        &self.redirects
    }

    /// Sends one datagram of the node's own (a STUN2 request of a downlink check) from this
    /// socket, waiting while the socket buffer is full. Redirects and DSCP apply as to QUIC.
    pub async fn send_to(&self, destination: SocketAddr, contents: &[u8]) -> io::Result<()> {
        let transmit = Transmit {
            destination,
            ecn: None,
            contents,
            segment_size: None,
            src_ip: None,
        };
        loop {
            self.io.writable().await?;
            match self
                .io
                .try_io(Interest::WRITABLE, || self.send_now(&transmit))
            {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return other,
            }
        }
    }

    /// The DSCP table this socket reads (shared with the node's other sockets).
    pub fn dscp_table(&self) -> &DscpTable {
        &self.dscp
    }

    /// The counters this socket adds to.
    pub fn stats(&self) -> &Arc<TransportStats> {
        &self.stats
    }

    /// Sends now, without touching tokio's readiness (callers wrap this in `try_io`).
    fn send_now(&self, transmit: &Transmit<'_>) -> io::Result<()> {
        let dscp = self.dscp.get(transmit.destination);
        let redirected;
        let transmit = match self.redirects.get(transmit.destination) {
            None => transmit,
            Some(destination) => {
                redirected = Transmit {
                    destination,
                    ecn: transmit.ecn,
                    contents: transmit.contents,
                    segment_size: transmit.segment_size,
                    src_ip: transmit.src_ip,
                };
                &redirected
            }
        };
        match dscp {
            None => self.state.send((&self.io).into(), transmit),
            Some(dscp) => self.send_marked(transmit, dscp),
        }
    }

    /// The DSCP path, with quinn-udp's error policy: only `WouldBlock` reaches quinn (any
    /// other error from `try_send` would close the endpoint); `EMSGSIZE` (MTU probes) and other
    /// errors are swallowed, the latter counted and logged at debug level.
    fn send_marked(&self, transmit: &Transmit<'_>, dscp: u8) -> io::Result<()> {
        let error = match send_with_tos(&self.io, transmit, dscp) {
            Ok(()) => {
                self.stats.count_dscp_transmit();
                return Ok(());
            }
            Err(error) => error,
        };
        match (error.kind(), error.raw_os_error()) {
            (io::ErrorKind::WouldBlock, _) => Err(error),
            (_, Some(code)) if code == nix::libc::EMSGSIZE => Ok(()),
            // A NIC without GSO (EIO, EINVAL), a kernel that refuses the TOS control message
            // (EINVAL, Linux < 3.13), or a platform without these control messages: let
            // quinn-udp send it. It learns from the same error (turns GSO off, or stops
            // writing the TOS byte) and retries; the datagram goes out unmarked at worst.
            (_, Some(code))
                if code == nix::libc::EINVAL
                    || (code == nix::libc::EIO && transmit.segment_size.is_some()) =>
            {
                self.state.send((&self.io).into(), transmit)
            }
            (io::ErrorKind::Unsupported, _) => self.state.send((&self.io).into(), transmit),
            _ => {
                self.stats.count_send_error();
                tracing::debug!(
                    %error,
                    destination = %transmit.destination,
                    dscp,
                    "sendmsg with DSCP failed; datagram dropped"
                );
                Ok(())
            }
        }
    }

    /// Classifies a received batch, answers STUN2 requests, and leaves only QUIC in it.
    fn demux(&self, bufs: &mut [IoSliceMut<'_>], metas: &mut [RecvMeta], received: usize) -> usize {
        let mut counts = BatchCounts::default();
        // Allocated only if a request is answered.
        let mut response = Vec::new();
        let kept = retain_datagrams(bufs, metas, received, |datagram, meta| {
            match classify(datagram) {
                PacketKind::Quic => {
                    counts.quic += 1;
                    return true;
                }
                PacketKind::Stun2Request => self.answer(datagram, meta, &mut response, &mut counts),
                PacketKind::Stun2Response => {
                    if !self.responder.handle_response(datagram, meta.addr) {
                        counts.stun_responses += 1;
                    }
                }
                PacketKind::Unknown => counts.unknown += 1,
            }
            false
        });
        self.stats.add_batch(&counts);
        kept
    }

    fn answer(
        &self,
        request: &[u8],
        meta: &RecvMeta,
        response: &mut Vec<u8>,
        counts: &mut BatchCounts,
    ) {
        let report = match self
            .responder
            .handle_request(request, meta.addr, meta.dst_ip, response)
        {
            Ok(report) => report,
            Err(_) => {
                counts.stun_bad += 1;
                return;
            }
        };
        counts.stun_answered += 1;
        match report {
            CheckReport::NotReported => {}
            CheckReport::Observed => counts.checks_observed += 1,
            CheckReport::ObserverDropped => counts.checks_observer_dropped += 1,
        }
        // Back to the source, from the address the request arrived on.
        let transmit = Transmit {
            destination: meta.addr,
            ecn: None,
            contents: response,
            segment_size: None,
            src_ip: meta.dst_ip,
        };
        if self
            .io
            .try_io(Interest::WRITABLE, || self.send_now(&transmit))
            .is_err()
        {
            counts.stun_send_dropped += 1;
        }
    }
}

impl AsyncUdpSocket for SharedUdpSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(WritablePoller {
            socket: self,
            waiting: None,
        })
    }

    fn try_send(&self, transmit: &Transmit<'_>) -> io::Result<()> {
        self.io
            .try_io(Interest::WRITABLE, || self.send_now(transmit))
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.io.poll_recv_ready(cx))?;
            // As quinn's tokio socket: a failed read (WouldBlock clears readiness; an ICMP
            // error is consumed by the read) means poll again.
            let Ok(received) = self.io.try_io(Interest::READABLE, || {
                self.state.recv((&self.io).into(), bufs, meta)
            }) else {
                continue;
            };
            let kept = self.demux(bufs, meta, received);
            if kept > 0 {
                return Poll::Ready(Ok(kept));
            }
            // Nothing for quinn in this batch (all STUN2 or junk): read on. tokio's
            // cooperative budget in `poll_recv_ready` bounds this loop under a flood.
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        self.state.max_gso_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.state.gro_segments()
    }

    fn may_fragment(&self) -> bool {
        self.state.may_fragment()
    }
}

/// Writability for one waiting task. Each poller holds its own `writable()` future, so any
/// number of connections can wait on the socket at once (a single `poll_send_ready` would keep
/// only the last waker). The future is boxed once per wait, which only happens when the socket
/// buffer is full.
struct WritablePoller {
    socket: Arc<SharedUdpSocket>,
    waiting: Option<Pin<Box<dyn Future<Output = io::Result<()>> + Send + Sync>>>,
}

impl UdpPoller for WritablePoller {
    fn poll_writable(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let socket = &this.socket;
        let waiting = this.waiting.get_or_insert_with(|| {
            let socket = socket.clone();
            Box::pin(async move { socket.io.writable().await })
        });
        let result = waiting.as_mut().poll(cx);
        if result.is_ready() {
            // A finished future must not be polled again; the next wait makes a new one.
            this.waiting = None;
        }
        result
    }
}

impl fmt::Debug for WritablePoller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WritablePoller")
            .field("waiting", &self.waiting.is_some())
            .finish_non_exhaustive()
    }
}
