//! QUIC application close codes the SFU uses, so clients can tell why they were closed.

use quinn::VarInt;

/// Normal end (the client left, or the session ended cleanly).
pub const NORMAL: VarInt = VarInt::from_u32(0);
/// Neither a registered fingerprint nor a valid join grant.
pub const UNAUTHORIZED: VarInt = VarInt::from_u32(1);
/// The node is draining; reconnect elsewhere.
pub const DRAINING: VarInt = VarInt::from_u32(2);
/// The control stream broke the protocol (no Hello, bad framing).
pub const PROTOCOL_ERROR: VarInt = VarInt::from_u32(3);
/// The admin API removed the endpoint or its conference.
pub const REVOKED: VarInt = VarInt::from_u32(4);
/// A newer connection of the same endpoint replaced this one.
pub const REPLACED: VarInt = VarInt::from_u32(5);
