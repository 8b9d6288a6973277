//! RTP3 messages (draft §5): TLV headers followed by the payload field.
//!
//! - [`Headers`] holds every header value; it is also the sender's builder, writing headers
//!   in the order the draft requires.
//! - [`HeaderView`] parses a received message in place, without allocating; the SFU forwards
//!   by it.
//! - [`Sealer`] and [`Opener`] add and remove the end-to-end AEAD (draft §5.1).
//!
//! Wire layout: PROTOCOL.md "RTP3 message".

mod error;
mod headers;
mod seal;
pub mod tag;
mod value;
mod view;
mod walk;

pub use error::Rtp3Error;
pub use headers::{Chunk, Headers, MAX_ACTIVE_LEVEL, MAX_DSCP};
pub use seal::{Opener, Sealer};
pub use view::HeaderView;

#[cfg(test)]
mod tests;
