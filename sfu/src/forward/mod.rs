//! Forwarding: sessions, routes and the publish path.
//!
//! Each connection runs a session (`session`): it admits the client over the control
//! stream, creates one `route::Route` per encoding the client may publish, and then loops
//! over incoming datagrams: parse the headers in place ([`newmedia_proto::rtp3::HeaderView`]),
//! find the route among the session's own few routes (no shared map), and hand the same
//! refcounted buffer to each admitting subscriber's connection. Subscriber lists are
//! copy-on-write snapshots ([`arc_swap`]), so the publish path takes no lock shared with other
//! publishers; the only per-datagram locks are the route's own retransmission cache and, for
//! simulcast subscriptions, that subscription's switch state, both uncontended.
//!
//! Reliable data ([`data_stream`], PROTOCOL.md §13) travels on unidirectional streams: each
//! publisher stream is read on its own task, each frame checked against the publisher's
//! routes like a datagram and queued, without waiting, on one stream per (subscriber,
//! encoding) or one stream per message; a subscriber more than 1 MiB behind has its stream
//! reset.
//!
//! Slow subscribers: each connection's quinn datagram send buffer is the per-subscriber queue.
//! When less than a quarter of it is free, non-reference messages are dropped (counted) and
//! reference-frame messages still go in, so a slow path loses deltas first and never holds up
//! the publisher or other subscribers.

mod clock;
pub mod close;
mod conference;
mod control;
mod data;
pub use newmedia_proto::data_stream;
mod member;
mod node;
mod path_task;
mod route;
mod server;
mod session;
mod speaker_task;
pub mod stats;
mod subscription;

pub use data::{MAX_PENDING, PROTOCOL_ERROR, SOURCE_RESET, TOO_SLOW};
pub use node::{AdmittedBy, EgressMarker, ForwardConfig, Node};
pub use server::serve;
pub use stats::{DropReason, ForwardStats};
