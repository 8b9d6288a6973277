//! Frame sizes of a synthetic video encoding.
//!
//! A group of pictures lasts the reference interval: one reference (key) frame
//! [`KEY_FRAME_RATIO`] times the size of the frames between, chosen so that the group averages
//! the target bitrate; each frame varies by ±10 %. A requested intra frame (the SFU asks for
//! one when a viewer switches to the encoding) starts a new group at once. A *fixed* encoding
//! (the `fanout` scenario) sends every frame at exactly the configured size instead.

use super::stamp::STAMP_LEN;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A reference frame is this many times larger than a frame between references.
pub const KEY_FRAME_RATIO: f64 = 4.0;

/// One frame to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoFrame {
    /// Payload size, bytes (at least [`STAMP_LEN`]).
    pub size: usize,
    /// A reference (key) frame.
    pub reference: bool,
}

/// How frame sizes are chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sizing {
    /// Average `bitrate` bit/s at the frame rate, with large reference frames.
    Bitrate(u64),
    /// Every frame exactly this many bytes.
    Fixed(usize),
}

/// The frame-size schedule of one encoding.
#[derive(Debug, Clone)]
pub struct VideoSizer {
    sizing: Sizing,
    fps: f64,
    /// Frames per group of pictures (at least 1).
    gop: u64,
    /// Frames since the last reference frame.
    since_reference: u64,
    started: bool,
    rng: ChaCha8Rng,
}

impl VideoSizer {
    /// An encoding at `fps` frames/s with a reference frame every `reference_interval_secs`
    /// (at least every frame), its variation seeded by `seed`.
    pub fn new(sizing: Sizing, fps: f64, reference_interval_secs: f64, seed: u64) -> Self {
        let fps = fps.max(0.1);
        let gop = (fps * reference_interval_secs).round().max(1.0) as u64;
        Self {
            sizing,
            fps,
            gop,
            since_reference: 0,
            started: false,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Frames per group of pictures.
    pub fn gop(&self) -> u64 {
        self.gop
    }

    /// The next frame; `intra_requested` makes it a reference frame.
    pub fn next_frame(&mut self, intra_requested: bool) -> VideoFrame {
        let reference = !self.started || intra_requested || self.since_reference >= self.gop;
        self.started = true;
        if reference {
            self.since_reference = 1;
        } else {
            self.since_reference += 1;
        }
        let size = match self.sizing {
            Sizing::Fixed(bytes) => bytes,
            Sizing::Bitrate(bitrate) => {
                let group_bytes = bitrate as f64 / 8.0 / self.fps * self.gop as f64;
                let between = group_bytes / (KEY_FRAME_RATIO + self.gop as f64 - 1.0);
                let nominal = if reference {
                    between * KEY_FRAME_RATIO
                } else {
                    between
                };
                (nominal * self.rng.gen_range(0.9..1.1)) as usize
            }
        };
        VideoFrame {
            size: size.max(STAMP_LEN),
            reference,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_averages_the_bitrate_with_a_large_reference_frame() {
        let mut v = VideoSizer::new(Sizing::Bitrate(1_200_000), 30.0, 2.0, 3);
        assert_eq!(v.gop(), 60);
        let frames: Vec<_> = (0..600).map(|_| v.next_frame(false)).collect();
        let total: usize = frames.iter().map(|f| f.size).sum();
        let bitrate = total as f64 * 8.0 / 20.0;
        assert!((1_140_000.0..1_260_000.0).contains(&bitrate), "{bitrate}");
        let refs: Vec<_> = frames
            .iter()
            .enumerate()
            .filter(|(_, f)| f.reference)
            .collect();
        assert_eq!(refs.len(), 10);
        assert!(refs.iter().all(|(i, _)| i % 60 == 0));
        let key = frames[0].size as f64;
        let between = frames[1].size as f64;
        assert!(
            key / between > 3.0 && key / between < 5.0,
            "{key} {between}"
        );
    }

    #[test]
    fn an_intra_request_starts_a_new_group() {
        let mut v = VideoSizer::new(Sizing::Fixed(4000), 30.0, 1.0, 0);
        assert!(v.next_frame(false).reference);
        for _ in 0..9 {
            assert!(!v.next_frame(false).reference);
        }
        assert!(v.next_frame(true).reference);
        for _ in 0..29 {
            assert!(!v.next_frame(false).reference);
        }
        assert!(v.next_frame(false).reference);
    }

    #[test]
    fn fixed_frames_have_exactly_the_size() {
        let mut v = VideoSizer::new(Sizing::Fixed(4000), 30.0, 2.0, 0);
        assert!((0..100).all(|_| v.next_frame(false).size == 4000));
        let mut tiny = VideoSizer::new(Sizing::Fixed(1), 30.0, 2.0, 0);
        assert_eq!(tiny.next_frame(false).size, STAMP_LEN);
    }
}
