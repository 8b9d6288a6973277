//! Codec helpers (draft §5.5): the mandatory codecs' framing, G.711 and Opus themselves, and
//! the media files the examples publish from and record to.
//!
//! - [`g711`]: G.711 µ-law and A-law encode/decode, bit-exact with ffmpeg.
//! - [`data`]: the data codec (§5.3): raw bytes with reliable / in-order delivery flags.
//! - [`h264`]: H.264 Annex B byte streams split into NAL units and access units (one
//!   published frame each), with IDR detection.
//! - [`av1`]: AV1 OBUs of a temporal unit (one published frame), key frame detection, and
//!   the temporal/spatial layer IDs of the OBU extension headers.
//! - [`ivf`]: the IVF container AV1 files come in: reader and byte-identical writer.
//! - [`h264_sps`]: the H.264 sequence parameter set: coded size (cropping) and VUI frame rate.
//! - [`av1_sequence`]: the AV1 sequence header: maximum frame size.
//! - [`opus`]: Opus packet TOC parsing (RFC 6716, pure Rust) and, with the default `libopus`
//!   feature, an encoder and decoder over the system libopus with the draft §6.4 settings.
//! - [`ogg`]: Ogg pages and packets (RFC 3533) and the Ogg Opus headers (RFC 7845).
//! - [`media_file`]: lossless framing of `.h264`, `.ivf`, `.opus` and `.ulaw` files into
//!   publishable frames plus side information, and back byte for byte (PROTOCOL.md §15);
//!   [`media_file::video_size`] for the receive metrics' encoded width and height.

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
