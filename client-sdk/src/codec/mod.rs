//! Codec helpers (draft §5.5): the mandatory codecs' framing, and G.711 itself.
//!
//! - [`h264`]: H.264 Annex B byte streams split into NAL units and access units (one
//!   published frame each), with IDR detection.
//! - [`av1`]: AV1 OBUs of a temporal unit (one published frame), key frame detection, and
//!   the temporal/spatial layer IDs of the OBU extension headers.
//! - [`ivf`]: the IVF container AV1 files come in: reader and byte-identical writer.

pub mod av1;
pub mod h264;
pub mod ivf;
