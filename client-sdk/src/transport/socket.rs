//! The UDP socket a client's QUIC endpoint and its STUN2 agent share (draft §4: the transport
//! "needs to be able to ensure that it has a very small chance of being confused with the STUN2
//! traffic it will be multiplexed with").
//!
//! [`ClientSocket`] implements `quinn::AsyncUdpSocket`. On receive it classifies every datagram
//! by its first byte ([`classify`]): QUIC goes to quinn, STUN2 goes to the [`StunAgent`]
//! (responses complete the agent's transactions, requests are answered and reported as
//! Snowflake checks), anything else is dropped and counted. It also takes packets *injected*
//! by a TURN2 relay client ([`Injector`]): they come out of `poll_recv` exactly as if they had
//! arrived on the socket from their original source, so QUIC and STUN2 need no change to work
//! through a relay.
//!
//! UDP GRO is turned off on the socket so that every receive entry is one datagram (a client
//! receives far less than a node, and per-datagram demux stays simple); GSO on send is kept.

use super::stats::SocketStats;
use super::stun::{StunAgent, StunSource};
use bytes::Bytes;
use newmedia_proto::stun2::{PacketKind, classify};
use quinn::udp::{RecvMeta, Transmit, UdpSocketState};
use quinn::{AsyncUdpSocket, UdpPoller};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker, ready};
use tokio::io::Interest;

/// Most injected packets waiting for quinn; beyond it new ones are dropped (and counted), as
/// a full socket receive buffer would.
pub const INJECT_QUEUE_LIMIT: usize = 4096;

/// Kernel socket buffer size asked for (best effort): media bursts of a key frame overflow the
/// default ~200 KiB in a few milliseconds.
pub const SOCKET_BUFFER_BYTES: usize = 4 << 20;

/// One packet relayed to us: where it originally came from, the relay address it reached us
/// through (the allocation's inbound address), and its bytes.
#[derive(Debug, Clone)]
struct Injected {
    source: SocketAddr,
    via: SocketAddr,
    packet: Bytes,
}

#[derive(Debug, Default)]
struct InjectQueue {
    packets: VecDeque<Injected>,
    waker: Option<Waker>,
}

/// Hands packets that a TURN2 relay delivered to the client's socket. Cheap to clone; stays
/// valid across [`rebind`](super::ClientEndpoint::rebind)s.
#[derive(Debug, Clone, Default)]
pub struct Injector {
    queue: Arc<Mutex<InjectQueue>>,
    stats: Arc<SocketStats>,
}

impl Injector {
    pub(crate) fn new(stats: Arc<SocketStats>) -> Self {
        Self {
            queue: Arc::default(),
            stats,
        }
    }

    /// Delivers `packet` as if it had arrived on the socket from `source`; `via` is the relay
    /// address it was sent to (reported as the `to` of a Snowflake check it carries). Returns
    /// `false` if the queue was full and the packet was dropped.
    pub fn inject(&self, source: SocketAddr, via: SocketAddr, packet: Bytes) -> bool {
        let waker = {
            let Ok(mut q) = self.queue.lock() else {
                return false;
            };
            if q.packets.len() >= INJECT_QUEUE_LIMIT {
                drop(q);
                self.stats.count_inject_dropped();
                return false;
            }
            q.packets.push_back(Injected {
                source,
                via,
                packet,
            });
            q.waker.take()
        };
        self.stats.count_injected();
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    fn pop(&self, cx: &mut Context<'_>) -> Option<Injected> {
        let mut q = self.queue.lock().ok()?;
        let next = q.packets.pop_front();
        if next.is_none() {
            // Register before the socket is polled so a packet injected meanwhile wakes us.
            match &q.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => q.waker = Some(cx.waker().clone()),
            }
        }
        next
    }
}

/// A UDP socket shared by a quinn client endpoint, the STUN2 agent and injected relay traffic.
pub struct ClientSocket {
    io: tokio::net::UdpSocket,
    state: UdpSocketState,
    stun: Arc<StunAgent>,
    injector: Injector,
    stats: Arc<SocketStats>,
}

impl fmt::Debug for ClientSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSocket")
            .field("local_addr", &self.io.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl ClientSocket {
    /// Binds `addr` (port 0 picks one) and wraps it. Must be called inside a tokio runtime.
    pub(crate) fn bind(
        addr: SocketAddr,
        stun: Arc<StunAgent>,
        injector: Injector,
        stats: Arc<SocketStats>,
    ) -> io::Result<Self> {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        let _ = socket.set_recv_buffer_size(SOCKET_BUFFER_BYTES);
        let _ = socket.set_send_buffer_size(SOCKET_BUFFER_BYTES);
        if addr.is_ipv6() {
            // A v6 candidate is v6 only; v4 gets its own socket and candidate.
            socket.set_only_v6(true)?;
        }
        socket.bind(&addr.into())?;
        let socket: std::net::UdpSocket = socket.into();
        let state = UdpSocketState::new((&socket).into())?;
        // One datagram per receive entry (see the module docs). Best effort: a kernel without
        // UDP_GRO never coalesces anyway.
        let _ =
            nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::UdpGroSegment, &false);
        socket.set_nonblocking(true)?;
        let io = tokio::net::UdpSocket::from_std(socket)?;
        Ok(Self {
            io,
            state,
            stun,
            injector,
            stats,
        })
    }

    /// Sends one datagram outside QUIC (a STUN2 request or response). Never blocks: when the
    /// socket buffer is full the datagram is dropped, as UDP would (STUN2 retransmits).
    pub(crate) fn send_raw(&self, destination: SocketAddr, datagram: &[u8]) -> io::Result<()> {
        let transmit = Transmit {
            destination,
            ecn: None,
            contents: datagram,
            segment_size: None,
            src_ip: None,
        };
        // Straight to the non-blocking socket rather than through tokio's readiness: a fresh
        // socket is not marked writable until the reactor has polled it once, and a STUN2
        // answer must not be lost to that. A real `WouldBlock` still drops the datagram.
        self.state.send((&self.io).into(), &transmit)
    }

    /// The address the socket is bound to.
    pub(crate) fn bound_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    /// Looks at one received datagram; `true` if it is QUIC and goes to quinn.
    fn keep_for_quic(&self, datagram: &[u8], source: StunSource) -> bool {
        match classify(datagram) {
            PacketKind::Quic => {
                self.stats.count_quic_in();
                true
            }
            PacketKind::Stun2Request => {
                self.stun.handle_request(self, datagram, source);
                false
            }
            PacketKind::Stun2Response => {
                self.stun.handle_response(datagram);
                false
            }
            PacketKind::Unknown => {
                self.stats.count_unknown_in();
                false
            }
        }
    }

    /// Copies one injected packet into the first receive entry, or consumes it when it is not
    /// for quinn. `true` when an entry was filled.
    fn fill_injected(
        &self,
        packet: Injected,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> bool {
        let source = StunSource::Relayed {
            source: packet.source,
            via: packet.via,
        };
        if !self.keep_for_quic(&packet.packet, source) {
            return false;
        }
        let (Some(buf), Some(m)) = (bufs.first_mut(), meta.first_mut()) else {
            return false;
        };
        let Some(dst) = buf.get_mut(..packet.packet.len()) else {
            // Larger than quinn's receive buffer: quinn would have dropped it too.
            self.stats.count_inject_dropped();
            return false;
        };
        dst.copy_from_slice(&packet.packet);
        *m = RecvMeta {
            addr: packet.source,
            len: packet.packet.len(),
            stride: packet.packet.len(),
            ecn: None,
            dst_ip: None,
        };
        true
    }
}

impl AsyncUdpSocket for ClientSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(WritablePoller {
            socket: self,
            waiting: None,
        })
    }

    fn try_send(&self, transmit: &Transmit<'_>) -> io::Result<()> {
        self.io.try_io(Interest::WRITABLE, || {
            self.state.send((&self.io).into(), transmit)
        })
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        // Relayed packets first: they have already waited in the relay's TLS stream.
        while let Some(packet) = self.injector.pop(cx) {
            if self.fill_injected(packet, bufs, meta) {
                return Poll::Ready(Ok(1));
            }
        }
        loop {
            ready!(self.io.poll_recv_ready(cx))?;
            let Ok(received) = self.io.try_io(Interest::READABLE, || {
                self.state.recv((&self.io).into(), bufs, meta)
            }) else {
                // WouldBlock cleared readiness, or an ICMP error was consumed: poll again.
                continue;
            };
            let mut kept = 0;
            for i in 0..received.min(bufs.len()).min(meta.len()) {
                let (Some(buf), Some(m)) = (bufs.get(i), meta.get(i)) else {
                    break;
                };
                let len = m.len.min(buf.len());
                let datagram = buf.get(..len).unwrap_or_default();
                let source = StunSource::Direct {
                    source: m.addr,
                    local_ip: m.dst_ip,
                };
                if self.keep_for_quic(datagram, source) {
                    if i != kept {
                        bufs.swap(i, kept);
                        meta.swap(i, kept);
                    }
                    kept += 1;
                }
            }
            if kept > 0 {
                return Poll::Ready(Ok(kept));
            }
            // Only STUN2 or junk in this batch: read on (tokio's budget bounds the loop).
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        self.state.max_gso_segments()
    }

    fn max_receive_segments(&self) -> usize {
        1
    }

    fn may_fragment(&self) -> bool {
        self.state.may_fragment()
    }
}

/// Writability for one waiting connection (each poller owns its own `writable()` future, so
/// several connections can wait at once).
struct WritablePoller {
    socket: Arc<ClientSocket>,
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
            this.waiting = None;
        }
        result
    }
}

impl fmt::Debug for WritablePoller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WritablePoller").finish_non_exhaustive()
    }
}
