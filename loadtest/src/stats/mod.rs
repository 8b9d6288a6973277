//! What the receiving side measures, sans-IO: every function takes the times it is about.
//!
//! - [`Window`]: the measurement window (frames *captured* inside it count), shared by every
//!   task of a run.
//! - [`TrackStats`]: one received track (a subscription): frames and bytes, losses from the
//!   stamps' sequence numbers (with late arrivals taken back), latency histogram, RFC 3550
//!   interarrival jitter, freezes (gaps over [`FREEZE_GAP_MICROS`] in a video track).
//! - [`SpeakerHistory`]: when each endpoint entered or left the SFU's active-speaker set as one
//!   subscriber saw it, so gaps that speaker selection made in an audio track are not counted
//!   as loss.
//! - [`Summary`]: percentiles of a list of samples or of a histogram.

mod speakers;
mod summary;
mod track;
mod window;

pub use speakers::{GATING_MARGIN_MICROS, SpeakerHistory};
pub use summary::{Summary, latency_histogram, percentile};
pub use track::{Arrival, FREEZE_GAP_MICROS, Gap, SentRange, TrackKind, TrackStats};
pub use window::Window;
