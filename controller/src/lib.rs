//! # newmedia-controller
//!
//! The controller of the New Media Stack (docs/contracts.md, PROTOCOL.md §14): call
//! signaling, Snowflake pair selection and consent, and the SFU node registry and placement.
//!
//! - **Signaling.** Clients open `GET /v1/ws` with a client token, send their advertisement
//!   (draft §8.1.1) and receive one proposal (draft §8.1.2) per conference they are in, which
//!   they accept or reject whole; the controller records the answer in the conference's state.
//!   Apps use REST with an API key: tokens, endpoints, conferences (create from named parties,
//!   join, leave, end). The media plan is in [`plan`].
//! - **Placement.** SFU nodes register and heart-beat; a conference goes to the least-loaded
//!   live node with room, which the controller prepares through its admin API (conference,
//!   each endpoint's fingerprint with its publications) before any proposal is sent. A node
//!   that misses 3 heartbeats is dead: its conferences are placed again and every party gets a
//!   new proposal ([`service`]).
//! - **Snowflake.** After a party accepts, the controller orders checks of the best-ranked
//!   paths (uplink over the WebSocket, downlink through the node for relay candidates and,
//!   for a client that advertises a relay, for its direct paths too),
//!   matches the receivers' reports and gives the sender the secret (`consent`); a new
//!   advertisement with other candidates starts a new round. Only after consent does the SDK
//!   send media on a pair.
//!
//! ## Ranking
//!
//! Which pairs are checked, in which order, is the controller's alone ([`snowflake::rank()`]):
//!
//! 1. **History** first: outcomes are kept per client network (the /24 of an IPv4 address or
//!    the /64 of an IPv6 address, of the client's reflexive candidate, else the address its
//!    WebSocket came from, else its first local candidate) and per candidate-type pair
//!    (`"stun>local"`: client kind > node kind). A pair type whose last outcome within the
//!    history window (a day) was a success is tried first; one whose last outcome was a
//!    failure is tried last.
//! 2. **Candidate type**: a client `local` candidate on the node's network (both loopback,
//!    the same /24 or /64, or both globally routable) > `stun` (reflexive) > another `local`
//!    > `relay`.
//! 3. **Address family**: IPv6 before IPv4. Pairs of different families are never checked.
//! 4. Advertisement order.
//!
//! The top `parallel_checks` (3) paths are checked in parallel; the first consented one wins.
//! A path not consented within `check_timeout_ms` (5 s) is recorded as a failure, a consented
//! one as a success.
//!
//! ## State
//!
//! Everything lives behind [`store::Store`]: in memory by default, or in Redis so that
//! several controllers serve the same conferences; messages for a client connected to
//! another controller travel over Redis pub/sub ([`hub`]).
//!
//! What it does not do: carry media, or talk STUN2 or QUIC itself. Join grants (PROTOCOL.md
//! §11), FEC streams in the media plan, ingest sessions and the configuration web UI are not
//! here yet.

#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod config;
pub mod embedded;
pub mod error;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod model;
pub mod node_client;
pub mod plan;
pub mod service;
pub mod snowflake;
pub mod store;

pub use app::{RunningController, StartError, start};
pub use config::ControllerConfig;
