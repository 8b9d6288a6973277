//! The node's UDP transport: sockets shared by QUIC and STUN2, and the quinn endpoints on them.
//!
//! # The shared socket
//!
//! Clients reach the SFU on one UDP port for both QUIC and STUN2 (draft §3.2; PROTOCOL.md §7),
//! so a client's reflexive address is the address its QUIC packets come from. quinn owns the
//! socket through [`quinn::AsyncUdpSocket`]; [`SharedUdpSocket`] implements that trait and sits
//! between the kernel and quinn:
//!
//! - **Demux on receive.** After each `recvmmsg`, every datagram — every GRO segment of a
//!   coalesced buffer — is classified by its first bytes ([`newmedia_proto::stun2::classify`]):
//!   QUIC (fixed bit 0x40 set) stays in the batch untouched; a STUN2 request (`0E 04 "NMSQ"`)
//!   is removed and answered on the spot; a STUN2 response or anything else is removed and
//!   counted. Removing a segment from the middle of a GRO buffer moves the later segments down
//!   one stride, so quinn still sees uniform `stride`-sized datagrams and a correct `len`.
//!   The demux is unambiguous only because the endpoints do not negotiate greasing of the QUIC
//!   fixed bit ([`endpoint_config`]).
//! - **STUN2 responder.** [`Stun2Responder`] opens a request under the node's secret (and the
//!   empty secret if it is also a public server), answers with the observed source address,
//!   from the address the request arrived on, with a plain non-blocking send (dropped and
//!   counted if the socket is full), and hands requests carrying a sender secret to an optional
//!   [`StunObserver`] (Snowflake consent).
//! - **DSCP on send.** quinn-udp puts an `IP_TOS` / `IPV6_TCLASS` control message carrying
//!   only the ECN bits on every packet, which overrides any DSCP set on the socket with
//!   `setsockopt`, and a socket shared by many connections could only carry one DSCP anyway.
//!   So the socket looks each transmit's destination up in a [`DscpTable`]: without an entry,
//!   quinn-udp sends as usual; with one, the socket calls `sendmsg` itself with
//!   `dscp << 2 | ecn` in that control message, keeping GSO and the source address.
//!
//! - **Redirects on send.** A transmit whose destination is in the [`RedirectTable`] goes to
//!   the table's target instead (a client's TURN2 relay allocation, for Snowflake downlinks);
//!   DSCP is still chosen by the original destination. STUN2 responses are redirected too.
//! - **STUN2 responses** (to the node's own downlink checks) go to an optional
//!   [`StunResponseObserver`]; without one they are dropped and counted.
//!
//! # Several endpoints per node
//!
//! One quinn endpoint is driven by one task behind one lock, so one endpoint pins receiving to
//! one core. [`bind_reuseport`] binds several sockets to the same port with `SO_REUSEPORT`; the
//! kernel spreads clients over them by 4-tuple hash, and [`bind_endpoints`] builds one endpoint
//! per socket, all sharing one [`DscpTable`] and one [`TransportStats`]. A client whose address
//! changes (NAT rebinding, migration) may hash to another socket whose endpoint does not know
//! the connection; the shared stateless-reset key makes that endpoint's reset valid, so the
//! client fails fast and reconnects.

mod addr;
mod demux;
mod dscp;
mod endpoint;
mod error;
mod redirect;
mod reuseport;
mod socket;
mod stats;
mod stun_responder;
mod tos_send;

pub use addr::canonical_addr;
pub use dscp::{DSCP_EF, DscpTable, MAX_DSCP};
pub use endpoint::{TransportEndpoints, bind_endpoints, endpoint_config, endpoints_on_sockets};
pub use error::TransportError;
pub use redirect::RedirectTable;
pub use reuseport::{SOCKET_BUFFER_BYTES, bind_reuseport};
pub use socket::SharedUdpSocket;
pub use stats::{TransportStats, TransportStatsSnapshot};
pub use stun_responder::{
    CheckReport, ReceivedStunCheck, Stun2Responder, Stun2ResponderConfig, StunObserver,
    StunResponseObserver,
};
