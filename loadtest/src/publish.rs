//! Publisher tasks: one per published encoding, sending synthetic frames through the SDK's
//! [`Publisher`] on a fixed schedule until told to stop.
//!
//! Each frame is stamped ([`Stamp`]) with its sequence number within the encoding and its
//! capture time; the task remembers which sequence numbers it captured inside the
//! measurement window ([`SentRange`]) so receivers can count the frames that never came.
//! Video honours the SFU's intra-frame requests (a viewer switching to this encoding) by
//! making the next frame a reference frame.

use crate::clock;
use crate::media::stamp::Stamp;
use crate::media::talk::{AUDIO_PACKETS_PER_SEC, Talker};
use crate::media::video::VideoSizer;
use crate::stats::SentRange;
use crate::stats::Window;
use newmedia_client::session::{OutgoingFrame, Publisher};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

/// What a publisher task reports when it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublisherOutcome {
    /// The encoding (GlobalEncodingID as an integer).
    pub encoding: u64,
    /// The frames it captured inside the window.
    pub sent: Option<SentRange>,
    /// Frames sent in all.
    pub frames: u64,
    /// Frames the SDK refused to send.
    pub errors: u64,
}

/// What a publisher sends.
#[derive(Debug, Clone)]
pub enum Source {
    /// Audio at 50 packets/s following a talk pattern.
    Audio(Talker),
    /// Video at `fps` with sizes from the sizer; `size` is the encoded size for the metrics.
    Video {
        /// The frame sizes.
        sizer: VideoSizer,
        /// Frames per second.
        fps: f64,
        /// Encoded width and height.
        size: Option<(u32, u32)>,
    },
}

impl Source {
    fn period(&self) -> Duration {
        match self {
            Source::Audio(_) => Duration::from_secs(1) / AUDIO_PACKETS_PER_SEC,
            Source::Video { fps, .. } => Duration::from_secs_f64(1.0 / fps.max(0.1)),
        }
    }
}

/// Sends `source` on `publisher` until `stop` turns true.
pub async fn run(
    publisher: Publisher,
    mut source: Source,
    window: Arc<Window>,
    mut stop: watch::Receiver<bool>,
) -> PublisherOutcome {
    let mut ticker = tokio::time::interval(source.period());
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut outcome = PublisherOutcome {
        encoding: publisher.global_encoding_id().0,
        sent: None,
        frames: 0,
        errors: 0,
    };
    let mut payload = Vec::new();
    let mut sequence = 0u64;
    loop {
        tokio::select! {
            biased;
            () = stopped(&mut stop) => break,
            _ = ticker.tick() => {}
        }
        let capture = clock::wall_micros();
        let mut frame = OutgoingFrame::new(&[], clock::ntp_millis_of(capture));
        let size = match &mut source {
            Source::Audio(talker) => {
                let p = talker.packet(capture);
                frame.active_level = Some(p.level);
                p.size
            }
            Source::Video { sizer, size, .. } => {
                let f = sizer.next_frame(publisher.take_intra_request());
                frame.reference = f.reference;
                if let Some((w, h)) = size {
                    frame.width = Some(*w);
                    frame.height = Some(*h);
                }
                f.size
            }
        };
        payload.clear();
        payload.resize(size.max(crate::media::stamp::STAMP_LEN), 0);
        Stamp {
            sequence,
            capture_micros: capture,
        }
        .write(&mut payload);
        frame.payload = &payload;
        match publisher.send(&frame).await {
            Ok(_) => outcome.frames += 1,
            Err(e) => {
                outcome.errors += 1;
                tracing::debug!(error = %e, "frame not sent");
                if publisher.flow().connection().close_reason().is_some() {
                    break;
                }
            }
        }
        if window.contains(capture) {
            let range = outcome.sent.get_or_insert(SentRange {
                first: sequence,
                last: sequence,
            });
            range.last = sequence;
        }
        sequence += 1;
    }
    outcome
}

/// Resolves once `stop` turns true (or its sender is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
