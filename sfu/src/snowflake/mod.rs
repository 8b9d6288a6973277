//! The node's side of Snowflake (docs/contracts.md §2-§3): it registers with the controller
//! and heart-beats ([`registration`]), reports the STUN2 checks it receives ([`reports`]),
//! and runs downlink checks and the downlinks they prove ([`downlink`]) for clients that can
//! only receive through a TURN2 relay.
//!
//! The controller decides which pairs are checked and when; the node only sends what it is
//! told to, reports what it saw, and redirects what the controller proved. Nothing here is on
//! the forwarding path: check reports leave the receive path through a bounded channel, and
//! the redirect table costs one atomic load per send while it is empty.

pub mod controller;
pub mod downlink;
pub mod registration;
pub mod reports;
mod stats;

pub use controller::{ControllerClient, ControllerError};
pub use downlink::{DownlinkChecks, DownlinkError};
pub use stats::{SnowflakeStats, SnowflakeStatsSnapshot};
