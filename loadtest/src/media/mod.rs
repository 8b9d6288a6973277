//! Synthetic media with realistic sizes and timing (sans-IO: every function takes the time
//! it is asked about).
//!
//! - [`stamp`]: the first bytes of every frame payload: a per-encoding frame sequence number
//!   and the capture time in wall-clock microseconds, so the receiving side can count losses
//!   and measure latency exactly (the RTP3 capture time has only millisecond resolution).
//! - [`talk`]: who is talking when: random talk spurts and pauses (conference participants) or
//!   round-robin turns (audio-room speakers), and the active level (0-100) and Opus-like packet
//!   size that follow from it.
//! - [`video`]: frame sizes of an encoding at a bitrate and frame rate, with periodic (or
//!   requested) reference frames several times larger than the frames between them.
//!
//! What it does not do: encode real audio or video. Payloads are the stamp plus filler; the
//! SFU and the SDK never look inside them, so only their sizes and timing matter.

pub mod stamp;
pub mod talk;
pub mod video;
