//! Forwarding: sessions, routes and the publish path.
//!
//! Each connection runs a session ([`session`]): it admits the client over the control
//! stream, creates one [`route::Route`] per encoding the client may publish, and then loops
//! over incoming datagrams: parse the headers in place ([`newmedia_proto::rtp3::HeaderView`]),
//! find the route among the session's own few routes (no shared map), and hand the same
//! refcounted buffer to each admitting subscriber's connection. Subscriber lists are
//! copy-on-write snapshots ([`arc_swap`]), so the publish path takes no lock shared with other
//! publishers; the only per-datagram locks are the route's own retransmission cache and, for
//! simulcast subscriptions, that subscription's switch state, both uncontended.
//!
//! Slow subscribers: each connection's quinn datagram send buffer is the per-subscriber queue.
//! When less than a quarter of it is free, non-reference messages are dropped (counted) and
//! reference-frame messages still go in, so a slow path loses deltas first and never holds up
//! the publisher or other subscribers.

mod clock;
pub mod close;
mod conference;
mod control;
mod member;
mod node;
mod path_task;
mod route;
mod server;
mod session;
mod speaker_task;
pub mod stats;
mod subscription;

pub use node::{AdmittedBy, EgressMarker, ForwardConfig, Node};
pub use server::serve;
pub use stats::{DropReason, ForwardStats};
