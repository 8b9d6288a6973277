//! Codec helpers (draft §5.5): the mandatory codecs' framing, and G.711 itself.
//!
//! - [`g711`]: G.711 µ-law and A-law encode/decode, bit-exact with ffmpeg.
//! - [`data`]: the data codec (§5.3): raw bytes with reliable / in-order delivery flags.
//! - [`h264`]: H.264 Annex B byte streams split into NAL units and access units (one
//!   published frame each), with IDR detection.
//! - [`av1`]: AV1 OBUs of a temporal unit (one published frame), key frame detection, and
//!   the temporal/spatial layer IDs of the OBU extension headers.
//! - [`ivf`]: the IVF container AV1 files come in: reader and byte-identical writer.

pub mod av1;
pub mod av1_sequence;
pub mod data;
pub mod g711;
pub mod h264;
pub mod h264_sps;
pub mod ivf;
pub mod media_file;
pub mod ogg;
pub mod opus;
