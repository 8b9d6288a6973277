//! Codec helpers (draft §5.5): the mandatory codecs' framing, and G.711 itself.
//!
//! - [`g711`]: G.711 µ-law and A-law encode/decode, bit-exact with ffmpeg.

pub mod g711;
