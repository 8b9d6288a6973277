//! The statistics of one received track (one subscription).
//!
//! **Loss** comes from the stamps' per-encoding sequence numbers: a jump from `n` to `n + k`
//! counts `k - 1` frames lost when the frame revealing it was captured in the window; a lost
//! frame that arrives later (the SDK recovered it, or it was only reordered) is taken back.
//! Frames the publisher sent in the window after the last one that arrived (tail) are lost
//! too. A subscription that moves to another simulcast encoding resumes that encoding's count
//! where it picks up, since the frames in between were not meant for it. For audio that the
//! SFU gates by active speaker, gaps are kept aside and judged at the end against the
//! [`SpeakerHistory`].
//!
//! **Latency** is arrival minus capture (both wall-clock microseconds, same machine), of the
//! frames that arrived in order; frames that arrive after a later one (recovered by a
//! retransmission, or reordered) have their own histogram.
//! **Jitter** is RFC 3550's interarrival jitter (J += (|D| - J) / 16) of those transit times.
//! **Freezes** are gaps of more than [`FREEZE_GAP_MICROS`] between consecutive frames of a
//! video track, including one from the last frame to the end of the window.

use super::speakers::SpeakerHistory;
use super::summary::{latency_histogram, record};
use crate::media::stamp::Stamp;
use hdrhistogram::Histogram;

/// A video track that shows no new frame for longer than this is frozen, microseconds.
pub const FREEZE_GAP_MICROS: u64 = 200_000;

/// Lost frames remembered per encoding for taking them back when they arrive late.
const MISSING_REMEMBERED: usize = 512;

/// What a track carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackKind {
    /// Audio.
    Audio,
    /// Video.
    Video,
}

/// A gap in a gated audio track, judged at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The publishing endpoint.
    pub sender: u64,
    /// Arrival of the frame before the gap, wall-clock microseconds.
    pub from: u64,
    /// Arrival of the frame after it (or the window's end).
    pub to: u64,
    /// Frames missing (less those that arrived late).
    pub frames: u64,
}

/// Where a missing frame was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counted {
    /// Outside the window: not counted.
    No,
    /// In `lost`.
    Lost,
    /// In `gaps[i]`.
    Gap(usize),
}

#[derive(Debug, Clone)]
struct EncodingSeq {
    key: u64,
    last: u64,
    last_arrival: u64,
    missing: Vec<(u64, Counted)>,
}

/// The frames the publisher of an encoding captured inside the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentRange {
    /// First sequence number captured in the window.
    pub first: u64,
    /// Last sequence number captured in the window.
    pub last: u64,
}

/// One arriving frame.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// Its encoding (GlobalEncodingID as an integer).
    pub encoding: u64,
    /// The publishing endpoint.
    pub sender: u64,
    /// Its stamp.
    pub stamp: Stamp,
    /// Payload bytes.
    pub size: usize,
    /// Arrival, wall-clock microseconds.
    pub arrival: u64,
    /// Whether it was captured inside the window.
    pub in_window: bool,
}

/// Statistics of one track.
#[derive(Debug, Clone)]
pub struct TrackStats {
    /// What it carries.
    pub kind: TrackKind,
    gated: bool,
    encodings: Vec<EncodingSeq>,
    current: Option<u64>,
    sender: Option<u64>,
    /// Frames received at any time.
    pub frames_total: u64,
    /// Arrival of the first frame, wall-clock microseconds.
    pub first_arrival: Option<u64>,
    /// Frames captured in the window that arrived.
    pub frames: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// Frames of the window that never arrived.
    pub lost: u64,
    /// Frames first counted lost that arrived later.
    pub recovered: u64,
    /// Latency of the window's frames that arrived in order, microseconds.
    pub latency: Histogram<u32>,
    /// Latency of the window's frames that arrived after a later one (recovered by a
    /// retransmission, or reordered), microseconds.
    pub late_latency: Histogram<u32>,
    jitter: f64,
    last_transit: Option<i64>,
    last_arrival: Option<u64>,
    /// Freezes (video).
    pub freezes: u64,
    /// Their total length, microseconds.
    pub freeze_micros: u64,
    gaps: Vec<Gap>,
}

impl TrackStats {
    /// Whether the SFU may withhold this track by active-speaker selection.
    pub fn gated(&self) -> bool {
        self.gated
    }

    /// A track of `kind`; `gated` when the SFU may withhold it by active-speaker selection.
    pub fn new(kind: TrackKind, gated: bool) -> Self {
        Self {
            kind,
            gated,
            encodings: Vec::new(),
            current: None,
            sender: None,
            frames_total: 0,
            first_arrival: None,
            frames: 0,
            bytes: 0,
            lost: 0,
            recovered: 0,
            latency: latency_histogram(),
            late_latency: latency_histogram(),
            jitter: 0.0,
            last_transit: None,
            last_arrival: None,
            freezes: 0,
            freeze_micros: 0,
            gaps: Vec::new(),
        }
    }

    /// RFC 3550 interarrival jitter, microseconds.
    pub fn jitter_micros(&self) -> f64 {
        self.jitter
    }

    /// The encoding the last frame came on.
    pub fn current_encoding(&self) -> Option<u64> {
        self.current
    }

    /// The gaps kept aside so far (gated audio).
    pub fn gaps(&self) -> &[Gap] {
        &self.gaps
    }

    /// Takes one frame.
    pub fn on_frame(&mut self, a: Arrival) {
        let seq = a.stamp.sequence;
        let resumed = self.current != Some(a.encoding);
        let (index, created) = match self.encodings.iter().position(|e| e.key == a.encoding) {
            Some(i) => (i, false),
            None => {
                self.encodings.push(EncodingSeq {
                    key: a.encoding,
                    last: seq,
                    last_arrival: a.arrival,
                    missing: Vec::new(),
                });
                (self.encodings.len() - 1, true)
            }
        };
        let Some(enc) = self.encodings.get_mut(index) else {
            return;
        };
        let late = !(created || seq > enc.last);
        if !late {
            let missed = seq.saturating_sub(enc.last).saturating_sub(1);
            if missed > 0 && !resumed {
                let counted = if !a.in_window {
                    Counted::No
                } else if self.gated {
                    self.gaps.push(Gap {
                        sender: a.sender,
                        from: enc.last_arrival,
                        to: a.arrival,
                        frames: missed,
                    });
                    Counted::Gap(self.gaps.len() - 1)
                } else {
                    self.lost += missed;
                    Counted::Lost
                };
                let first_remembered = seq
                    .saturating_sub(MISSING_REMEMBERED as u64)
                    .max(enc.last + 1);
                enc.missing
                    .extend((first_remembered..seq).map(|s| (s, counted)));
                if enc.missing.len() > MISSING_REMEMBERED {
                    let excess = enc.missing.len() - MISSING_REMEMBERED;
                    enc.missing.drain(..excess);
                }
            }
            enc.last = seq;
            enc.last_arrival = a.arrival;
        } else {
            // Late: a frame counted missing arrives; anything else is a duplicate.
            let Some(pos) = enc.missing.iter().position(|(s, _)| *s == seq) else {
                return;
            };
            let (_, counted) = enc.missing.remove(pos);
            match counted {
                Counted::No => {}
                Counted::Lost => {
                    self.lost = self.lost.saturating_sub(1);
                    self.recovered += 1;
                }
                Counted::Gap(i) => {
                    if let Some(g) = self.gaps.get_mut(i) {
                        g.frames = g.frames.saturating_sub(1);
                    }
                    self.recovered += 1;
                }
            }
        }
        self.frames_total += 1;
        self.first_arrival.get_or_insert(a.arrival);
        let latency = a.arrival.saturating_sub(a.stamp.capture_micros);
        if late {
            // Kept apart: a frame recovered a second later says how recovery behaves, not
            // how fast the path is; it must not disturb jitter, freeze or switch accounting.
            if a.in_window {
                self.frames += 1;
                self.bytes += a.size as u64;
                record(&mut self.late_latency, latency);
            }
            return;
        }
        self.current = Some(a.encoding);
        self.sender = Some(a.sender);
        let previous_arrival = self.last_arrival.replace(a.arrival);
        if !a.in_window {
            return;
        }
        self.frames += 1;
        self.bytes += a.size as u64;
        record(&mut self.latency, latency);
        let transit = a.arrival as i64 - a.stamp.capture_micros as i64;
        if let Some(prev) = self.last_transit {
            let d = (transit - prev).unsigned_abs() as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
        if self.kind == TrackKind::Video
            && let Some(prev) = previous_arrival
        {
            self.note_freeze(a.arrival.saturating_sub(prev));
        }
    }

    fn note_freeze(&mut self, gap: u64) {
        if gap > FREEZE_GAP_MICROS {
            self.freezes += 1;
            self.freeze_micros += gap;
        }
    }

    /// Ends the track: counts the tail (frames of the window the publisher sent after the
    /// last that arrived, from `sent`, the current encoding's range), a final freeze up to
    /// `window_end`, and judges the gated gaps against `speakers`.
    pub fn finish(
        &mut self,
        window_start: u64,
        window_end: u64,
        sent: Option<SentRange>,
        speakers: Option<&SpeakerHistory>,
    ) {
        let current = self
            .current
            .and_then(|c| self.encodings.iter().find(|e| e.key == c));
        if let (Some(enc), Some(sent)) = (current, sent) {
            let counted_up_to = enc.last.max(sent.first.saturating_sub(1));
            let tail = sent.last.saturating_sub(counted_up_to);
            if tail > 0 {
                if self.gated {
                    let sender = self.sender.unwrap_or_default();
                    let from = enc.last_arrival;
                    self.gaps.push(Gap {
                        sender,
                        from,
                        to: window_end,
                        frames: tail,
                    });
                } else {
                    self.lost += tail;
                }
            }
        }
        if self.kind == TrackKind::Video
            && let Some(last) = self.last_arrival
        {
            let from = last.max(window_start);
            self.note_freeze(window_end.saturating_sub(from));
        }
        for g in std::mem::take(&mut self.gaps) {
            let explained = speakers.is_some_and(|h| h.changed_between(g.sender, g.from, g.to));
            if !explained {
                self.lost += g.frames;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1000;

    fn frame(encoding: u64, seq: u64, arrival_ms: u64, in_window: bool) -> Arrival {
        Arrival {
            encoding,
            sender: 7,
            stamp: Stamp {
                sequence: seq,
                capture_micros: arrival_ms * MS - 2 * MS,
            },
            size: 1000,
            arrival: arrival_ms * MS,
            in_window,
        }
    }

    #[test]
    fn contiguous_frames_lose_nothing() {
        let mut t = TrackStats::new(TrackKind::Video, false);
        for i in 0..100 {
            t.on_frame(frame(1, i, 1000 + i * 33, true));
        }
        t.finish(
            0,
            1000 * MS + 99 * 33 * MS + 10 * MS,
            Some(SentRange { first: 0, last: 99 }),
            None,
        );
        assert_eq!((t.frames, t.lost, t.freezes), (100, 0, 0));
        assert_eq!(t.bytes, 100_000);
        let p50 = t.latency.value_at_quantile(0.5);
        assert!((1980..=2020).contains(&p50), "{p50}");
        assert!(t.jitter_micros() < 1.0);
    }

    #[test]
    fn gaps_are_lost_and_late_arrivals_taken_back() {
        let mut t = TrackStats::new(TrackKind::Video, false);
        for s in [0, 1, 2, 5, 6] {
            t.on_frame(frame(1, s, 1000 + s * 33, true));
        }
        assert_eq!(t.lost, 2);
        t.on_frame(frame(1, 3, 1200, true)); // recovered
        assert_eq!((t.lost, t.recovered, t.frames), (1, 1, 6));
        assert_eq!((t.latency.len(), t.late_latency.len()), (5, 1));
        t.on_frame(frame(1, 3, 1201, true)); // duplicate: ignored
        assert_eq!((t.lost, t.recovered, t.frames), (1, 1, 6));
    }

    #[test]
    fn gaps_revealed_outside_the_window_do_not_count() {
        let mut t = TrackStats::new(TrackKind::Audio, false);
        t.on_frame(frame(1, 0, 1000, false));
        t.on_frame(frame(1, 5, 1100, false));
        t.on_frame(frame(1, 6, 1120, true));
        assert_eq!((t.lost, t.frames, t.frames_total), (0, 1, 3));
        // The one lost outside the window arriving late changes nothing.
        t.on_frame(frame(1, 2, 1130, true));
        assert_eq!((t.lost, t.recovered), (0, 0));
    }

    #[test]
    fn the_tail_after_the_last_arrival_is_lost() {
        let mut t = TrackStats::new(TrackKind::Audio, false);
        for s in 10..20 {
            t.on_frame(frame(1, s, 1000 + s * 20, true));
        }
        t.finish(
            0,
            2_000 * MS,
            Some(SentRange {
                first: 10,
                last: 24,
            }),
            None,
        );
        assert_eq!(t.lost, 5);
        // A publisher range that starts after the last arrival counts only its own frames.
        let mut u = TrackStats::new(TrackKind::Audio, false);
        u.on_frame(frame(1, 3, 1000, false));
        u.finish(
            0,
            2_000 * MS,
            Some(SentRange {
                first: 10,
                last: 14,
            }),
            None,
        );
        assert_eq!(u.lost, 5);
    }

    #[test]
    fn switching_encodings_is_not_loss() {
        let mut t = TrackStats::new(TrackKind::Video, false);
        for s in 0..10 {
            t.on_frame(frame(1, s, 1000 + s * 33, true));
        }
        // Switched to encoding 2 (its numbers are its own), later back to 1.
        for s in 50..60 {
            t.on_frame(frame(2, s, 1400 + s, true));
        }
        for s in 40..45 {
            t.on_frame(frame(1, s, 1500 + s, true));
        }
        assert_eq!((t.lost, t.frames), (0, 25));
        assert_eq!(t.current_encoding(), Some(1));
    }

    #[test]
    fn video_freezes_are_gaps_over_200_ms() {
        let mut t = TrackStats::new(TrackKind::Video, false);
        t.on_frame(frame(1, 0, 1000, true));
        t.on_frame(frame(1, 1, 1200, true)); // exactly 200 ms: not a freeze
        t.on_frame(frame(1, 2, 1450, true)); // 250 ms
        assert_eq!((t.freezes, t.freeze_micros), (1, 250 * MS));
        // The video stops 500 ms before the window ends: a final freeze.
        t.finish(0, 1950 * MS, None, None);
        assert_eq!((t.freezes, t.freeze_micros), (2, 750 * MS));
        // Audio never freezes.
        let mut a = TrackStats::new(TrackKind::Audio, false);
        a.on_frame(frame(1, 0, 1000, true));
        a.on_frame(frame(1, 1, 2000, true));
        a.finish(0, 5000 * MS, None, None);
        assert_eq!(a.freezes, 0);
    }

    #[test]
    fn jitter_follows_rfc3550() {
        let mut t = TrackStats::new(TrackKind::Audio, false);
        // Transit alternates 2 ms and 4 ms: |D| = 2000 µs each time.
        for i in 0..200u64 {
            let mut a = frame(1, i, 1000 + i * 20, true);
            if i % 2 == 1 {
                a.arrival += 2 * MS;
            }
            t.on_frame(a);
        }
        assert!(
            (t.jitter_micros() - 2000.0).abs() < 10.0,
            "{}",
            t.jitter_micros()
        );
    }

    #[test]
    fn gated_gaps_are_judged_against_the_speaker_history() {
        let mut t = TrackStats::new(TrackKind::Audio, true);
        t.on_frame(frame(1, 0, 1000, true));
        t.on_frame(frame(1, 100, 4000, true)); // gated from 1.0 s to 4.0 s
        t.on_frame(frame(1, 150, 5000, true));
        t.on_frame(frame(1, 152, 5040, true)); // one real loss, far from any change
        assert_eq!(t.lost, 0);
        assert_eq!(t.gaps().len(), 3);
        let mut h = SpeakerHistory::default();
        h.update(900 * MS, &[7]);
        h.update(1010 * MS, &[]);
        h.update(3990 * MS, &[7]);
        t.finish(0, 5000 * MS, None, Some(&h));
        assert_eq!(t.lost, 1);
        // Without any history every gap is loss.
        let mut u = TrackStats::new(TrackKind::Audio, true);
        u.on_frame(frame(1, 0, 1000, true));
        u.on_frame(frame(1, 10, 1200, true));
        u.finish(0, 5000 * MS, None, None);
        assert_eq!(u.lost, 9);
    }
}
