//! # newmedia-proto
//!
//! Everything the New Media Stack puts on the wire, as plain data and pure functions:
//!
//! - [`varint`] and [`tlv`]: the variable-length integer and tag-length-value coding every
//!   binary format here is made of.
//! - [`rtp3`]: RTP3 messages: the sender's builder, the SFU's zero-copy [`rtp3::HeaderView`],
//!   sealing and opening.
//! - [`ids`]: GlobalEncodingID and GlobalMessageID.
//! - [`crypto`]: the AEADs that protect RTP3 messages end to end.
//! - [`grant`]: signed, expiring join grants an SFU admits endpoints by.
//! - [`frame`]: framing of the reliable streams (control, TURN2).
//! - [`data_stream`]: the layout of reliable data streams (PROTOCOL.md §13).
//! - [`signaling`]: the advertisement and proposal JSON, with validation.
//! - [`control`]: the client<->SFU control messages (Hello, subscriptions, retransmission,
//!   max-rate and intra-frame requests, compound receiver reports, active speakers, errors).
//! - [`addr`]: the socket address value used by STUN2, TURN2 and the control messages.
//! - [`stun2`]: STUN2 requests and responses, datagram classification (STUN2 vs QUIC), and the
//!   client's sans-IO retransmission state machine.
//! - [`turn2`]: the frames on a client's TLS stream to a TURN2 relay.
//!
//! What this crate does **not** do: no sockets, no async runtime, no clock. State machines
//! take the current time as an argument, so they can be driven in virtual time. Every decoder
//! of network or user bytes returns an error on bad input and never panics.
//!
//! The normative description of every byte is `PROTOCOL.md` at the repository root.

#![forbid(unsafe_code)]

pub mod addr;
pub mod control;
pub mod crypto;
pub mod data_stream;
pub mod frame;
pub mod grant;
pub mod ids;
pub mod rtp3;
pub mod signaling;
pub mod stun2;
pub mod tlv;
pub mod turn2;
pub mod varint;
