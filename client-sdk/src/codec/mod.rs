//! Codec helpers (draft §5.5): the mandatory codecs' framing, and G.711 itself.
//!
//! - [`g711`]: G.711 µ-law and A-law encode/decode, bit-exact with ffmpeg.
//! - [`data`]: the data codec (§5.3): raw bytes with reliable / in-order delivery flags.

pub mod data;
pub mod g711;
