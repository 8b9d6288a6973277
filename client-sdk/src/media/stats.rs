//! Per-stream metrics of draft §6.7 ("Stream Metrics API") as plain accumulators.
//!
//! The shell updates them as it sends and receives, and the app reads a snapshot whenever it
//! likes; nothing here reads a clock or has a schedule of its own.
//!
//! | draft §6.7 | send side ([`SendStreamSnapshot`]) | receive side ([`ReceiveStreamSnapshot`]) |
//! | --- | --- | --- |
//! | bits sent / received | `bits_sent` | `bits_received` |
//! | packets lost | `packets_lost` (as the receivers' reports say) | `packets_lost` (given up after recovery) |
//! | capture time / endpoint ID of the most recent packet | — | `last_capture_time`, `last_endpoint_id` |
//! | video: width and height | `width`, `height` (as the app says) | `width`, `height` (when the decoder knows) |
//! | video: frame rate | `frame_rate` (as the app says) | `frame_rate` (measured from capture times) |

use newmedia_proto::control::ReportBlock;
use std::collections::BTreeSet;

/// Capture-time span over which the receive frame rate is measured, ms.
pub const FRAME_RATE_WINDOW_MS: u64 = 1000;

/// The current encoded format of a video stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoFormat {
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// Frames per second.
    pub frame_rate: f64,
}

/// A sending stream's metrics at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SendStreamSnapshot {
    /// Bits of RTP3 messages sent (whole messages, headers included).
    pub bits_sent: u64,
    /// Messages sent.
    pub packets_sent: u64,
    /// Messages lost, as the latest receiver report says (its cumulative count).
    pub packets_lost: u64,
    /// The latest report's fraction lost, in 1/256.
    pub fraction_lost: u8,
    /// Current encoded width, pixels (video, as the app set it).
    pub width: Option<u32>,
    /// Current encoded height, pixels.
    pub height: Option<u32>,
    /// Current encoded frame rate, frames per second.
    pub frame_rate: Option<f64>,
}

/// Accumulates a sending stream's metrics.
#[derive(Debug, Clone, Default)]
pub struct SendStreamStats {
    snapshot: SendStreamSnapshot,
}

impl SendStreamStats {
    /// No traffic yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one message of `bytes` bytes handed to the transport.
    pub fn on_sent(&mut self, bytes: usize) {
        self.snapshot.bits_sent += bytes as u64 * 8;
        self.snapshot.packets_sent += 1;
    }

    /// Takes the loss a receiver report gives for this stream's encoding.
    pub fn on_report_block(&mut self, block: &ReportBlock) {
        self.snapshot.packets_lost = block.cumulative_lost;
        self.snapshot.fraction_lost = block.fraction_lost;
    }

    /// Sets the format the app encodes at now (`None` for audio or unknown).
    pub fn set_video_format(&mut self, format: Option<VideoFormat>) {
        self.snapshot.width = format.map(|f| f.width);
        self.snapshot.height = format.map(|f| f.height);
        self.snapshot.frame_rate = format.map(|f| f.frame_rate);
    }

    /// The metrics now.
    pub fn snapshot(&self) -> SendStreamSnapshot {
        self.snapshot
    }
}

/// A receiving stream's metrics at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReceiveStreamSnapshot {
    /// Bits of RTP3 messages received (every copy, headers included).
    pub bits_received: u64,
    /// Messages received.
    pub packets_received: u64,
    /// Messages lost for good (given up after recovery).
    pub packets_lost: u64,
    /// Capture time of the most recently received message that carried one.
    pub last_capture_time: Option<u64>,
    /// Endpoint ID of the most recently received message that carried one (messages carry
    /// it at least once a second).
    pub last_endpoint_id: Option<u64>,
    /// Frames per second over the last second of capture time, once two frames are known.
    pub frame_rate: Option<f64>,
    /// Decoded width, pixels, when known.
    pub width: Option<u32>,
    /// Decoded height, pixels, when known.
    pub height: Option<u32>,
}

/// Accumulates a receiving stream's metrics.
#[derive(Debug, Clone, Default)]
pub struct ReceiveStreamStats {
    snapshot: ReceiveStreamSnapshot,
    frame_captures: BTreeSet<u64>,
}

impl ReceiveStreamStats {
    /// No traffic yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one received message of `bytes` bytes with the headers it carried.
    pub fn on_message(
        &mut self,
        bytes: usize,
        capture_time: Option<u64>,
        endpoint_id: Option<u64>,
    ) {
        let s = &mut self.snapshot;
        s.bits_received += bytes as u64 * 8;
        s.packets_received += 1;
        s.last_capture_time = capture_time.or(s.last_capture_time);
        s.last_endpoint_id = endpoint_id.or(s.last_endpoint_id);
    }

    /// Notes a complete frame captured at `capture_time` (frames may come in any order).
    pub fn on_frame(&mut self, capture_time: u64) {
        self.frame_captures.insert(capture_time);
        if let Some(&newest) = self.frame_captures.last() {
            let oldest_kept = newest.saturating_sub(FRAME_RATE_WINDOW_MS);
            self.frame_captures = self.frame_captures.split_off(&oldest_kept);
        }
    }

    /// Sets the messages lost for good (e.g. [`ReassemblerStats::messages_lost`](super::ReassemblerStats::messages_lost)).
    pub fn set_packets_lost(&mut self, lost: u64) {
        self.snapshot.packets_lost = lost;
    }

    /// Sets the decoded size, when the decoder knows it.
    pub fn set_dimensions(&mut self, width: u32, height: u32) {
        self.snapshot.width = Some(width);
        self.snapshot.height = Some(height);
    }

    /// The metrics now.
    pub fn snapshot(&self) -> ReceiveStreamSnapshot {
        ReceiveStreamSnapshot {
            frame_rate: self.frame_rate(),
            ..self.snapshot
        }
    }

    fn frame_rate(&self) -> Option<f64> {
        let first = *self.frame_captures.first()?;
        let last = *self.frame_captures.last()?;
        let n = self.frame_captures.len();
        (last > first).then(|| (n - 1) as f64 * 1000.0 / (last - first) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use newmedia_proto::ids::GlobalEncodingId;

    #[test]
    fn send_side_counts_and_takes_reports() {
        let mut s = SendStreamStats::new();
        assert_eq!(s.snapshot(), SendStreamSnapshot::default());
        for _ in 0..10 {
            s.on_sent(1200);
        }
        s.on_report_block(&ReportBlock {
            encoding: GlobalEncodingId(1),
            highest_sequence: 9,
            cumulative_lost: 2,
            fraction_lost: 51,
            jitter_us: 0,
            bytes_received: 9600,
        });
        s.set_video_format(Some(VideoFormat {
            width: 1280,
            height: 720,
            frame_rate: 30.0,
        }));
        let snap = s.snapshot();
        assert_eq!(snap.bits_sent, 96_000);
        assert_eq!(snap.packets_sent, 10);
        assert_eq!((snap.packets_lost, snap.fraction_lost), (2, 51));
        assert_eq!(
            (snap.width, snap.height, snap.frame_rate),
            (Some(1280), Some(720), Some(30.0))
        );
        s.set_video_format(None);
        assert_eq!(s.snapshot().width, None);
    }

    #[test]
    fn receive_side_counts_and_measures_frame_rate() {
        let mut r = ReceiveStreamStats::new();
        assert_eq!(r.snapshot().frame_rate, None);
        // 30 fps captured, completed a little out of order, for 3 s.
        let captures: Vec<u64> = (0..90).map(|i| 1_000_000 + i * 1000 / 30).collect();
        for pair in captures.chunks(2) {
            for c in pair.iter().rev() {
                r.on_frame(*c);
                r.on_message(1000, Some(*c), (*c % 7 == 0).then_some(42));
            }
        }
        let snap = r.snapshot();
        let fps = snap.frame_rate.unwrap();
        assert!((29.5..=30.5).contains(&fps), "{fps}");
        assert_eq!(snap.bits_received, 90 * 8000);
        assert_eq!(snap.packets_received, 90);
        assert_eq!(
            snap.last_capture_time,
            Some(captures[88]),
            "the last one received"
        );
        assert_eq!(snap.last_endpoint_id, Some(42));
        // A message without the headers keeps the last known values.
        r.on_message(10, None, None);
        assert_eq!(r.snapshot().last_capture_time, Some(captures[88]));
        // Frame rate drops to 10 fps: the one-second window follows within a second.
        let last = *captures.last().unwrap();
        for i in 1..=15 {
            r.on_frame(last + i * 100);
        }
        let fps = r.snapshot().frame_rate.unwrap();
        assert!((9.9..=10.1).contains(&fps), "{fps}");
        r.set_packets_lost(3);
        r.set_dimensions(640, 360);
        let snap = r.snapshot();
        assert_eq!(
            (snap.packets_lost, snap.width, snap.height),
            (3, Some(640), Some(360))
        );
    }
}
