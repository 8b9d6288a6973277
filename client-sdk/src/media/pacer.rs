//! Send pacing for one flow (draft §6.3 "total max bandwidth for flow") and audio frame
//! pacing (draft §6.4 "packetization time").
//!
//! - [`Pacer`]: sealed datagrams are queued by [`MediaKind`] and released within the flow's
//!   maximum bitrate, audio first, then video, then data; FIFO within a kind. Without a
//!   bitrate limit everything goes out at once (still audio first). Up to
//!   [`PacerConfig::burst`] of unused sending time is banked, so a datagram after an idle
//!   period is not delayed.
//! - [`AudioFramePacer`]: audio frames handed over faster than real time (an app that
//!   "publishes as fast as allowed", or a file source) are released one per packet time, so
//!   audio still leaves at its packet rate; frames that come slower go out as they come.
//!
//! Each queue is bounded; a datagram or frame that does not fit is refused with
//! [`PacerError::QueueFull`] and counted, and everything already queued stays.
//!
//! ## Run-loop contract
//!
//! - Publisher: for every frame of an audio source `audio.push(frame, now)`; then `while let
//!   Some(f) = audio.poll_frame(now)` packetize `f` and `pacer.enqueue(MediaKind::Audio,
//!   datagram, now)` each message. Video and data messages are enqueued as they are
//!   packetized.
//! - `while let Some(t) = pacer.poll_transmit(now)` send `t.datagram` (one QUIC datagram).
//! - Wake up at the earliest of [`Pacer::poll_timeout`] and [`AudioFramePacer::poll_timeout`].
//!
//! Neither reads a clock.

use super::kind::MediaKind;
use bytes::Bytes;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Why something was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PacerError {
    /// The queue for this kind is full; the datagram or frame was dropped.
    #[error("{kind:?} queue full ({queued} queued, limit {limit}); dropped")]
    QueueFull {
        /// The queue's kind.
        kind: MediaKind,
        /// What the queue holds (bytes for the [`Pacer`], frames for the
        /// [`AudioFramePacer`]).
        queued: usize,
        /// Its limit, in the same unit.
        limit: usize,
    },
}

/// Settings of a [`Pacer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacerConfig {
    max_bitrate: Option<u64>,
    burst: Duration,
    max_queue_bytes: usize,
}

impl Default for PacerConfig {
    fn default() -> Self {
        Self {
            max_bitrate: None,
            burst: Duration::from_millis(5),
            max_queue_bytes: 1 << 20,
        }
    }
}

impl PacerConfig {
    /// The flow's maximum bitrate in bit/s (datagram bytes × 8); `None` (the default) sends
    /// everything at once.
    pub fn max_bitrate(mut self, bits_per_second: Option<u64>) -> Self {
        self.max_bitrate = bits_per_second;
        self
    }

    /// Most unused sending time banked while idle. Default 5 ms.
    pub fn burst(mut self, burst: Duration) -> Self {
        self.burst = burst;
        self
    }

    /// Most bytes queued per media kind. Default 1 MiB.
    pub fn max_queue_bytes(mut self, bytes: usize) -> Self {
        self.max_queue_bytes = bytes;
        self
    }
}

/// A datagram the pacer releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Its kind.
    pub kind: MediaKind,
    /// The sealed RTP3 message.
    pub datagram: Bytes,
    /// When it was enqueued.
    pub enqueued_at: Instant,
}

/// Counters of one media kind's queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Datagrams (or frames) queued.
    pub enqueued: u64,
    /// Datagrams (or frames) released.
    pub sent: u64,
    /// Bytes released.
    pub bytes_sent: u64,
    /// Datagrams (or frames) refused because the queue was full.
    pub dropped: u64,
}

#[derive(Debug, Clone, Default)]
struct Queue {
    items: VecDeque<(Bytes, Instant)>,
    bytes: usize,
    stats: QueueStats,
}

/// The send pacer of one flow. See the module docs.
#[derive(Debug, Clone)]
pub struct Pacer {
    config: PacerConfig,
    audio: Queue,
    video: Queue,
    data: Queue,
    /// Earliest instant the next datagram may leave (with a bitrate limit).
    next_send: Option<Instant>,
}

impl Pacer {
    /// An empty pacer.
    pub fn new(config: PacerConfig) -> Self {
        Self {
            config: PacerConfig {
                max_bitrate: config.max_bitrate.filter(|r| *r > 0),
                ..config
            },
            audio: Queue::default(),
            video: Queue::default(),
            data: Queue::default(),
            next_send: None,
        }
    }

    /// Changes the maximum bitrate (`None`: unlimited). Takes effect for the next datagram.
    pub fn set_max_bitrate(&mut self, bits_per_second: Option<u64>) {
        self.config.max_bitrate = bits_per_second.filter(|r| *r > 0);
    }

    /// The maximum bitrate in force.
    pub fn max_bitrate(&self) -> Option<u64> {
        self.config.max_bitrate
    }

    /// The counters of one kind's queue.
    pub fn stats(&self, kind: MediaKind) -> QueueStats {
        self.queue(kind).stats
    }

    /// Bytes queued for `kind`.
    pub fn queued_bytes(&self, kind: MediaKind) -> usize {
        self.queue(kind).bytes
    }

    /// Datagrams queued, all kinds.
    pub fn len(&self) -> usize {
        MediaKind::ALL
            .iter()
            .map(|k| self.queue(*k).items.len())
            .sum()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues `datagram` of `kind`. Refuses it (and counts it dropped) when the kind's queue
    /// would exceed its byte limit.
    pub fn enqueue(
        &mut self,
        kind: MediaKind,
        datagram: Bytes,
        now: Instant,
    ) -> Result<(), PacerError> {
        let limit = self.config.max_queue_bytes;
        let q = self.queue_mut(kind);
        if q.bytes + datagram.len() > limit {
            q.stats.dropped += 1;
            return Err(PacerError::QueueFull {
                kind,
                queued: q.bytes,
                limit,
            });
        }
        q.bytes += datagram.len();
        q.stats.enqueued += 1;
        q.items.push_back((datagram, now));
        Ok(())
    }

    /// The next datagram to send at `now`, if the bitrate allows one.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        if let (Some(_), Some(next)) = (self.config.max_bitrate, self.next_send)
            && next > now
        {
            return None;
        }
        let kind = MediaKind::ALL
            .into_iter()
            .find(|k| !self.queue(*k).items.is_empty())?;
        let q = self.queue_mut(kind);
        let (datagram, enqueued_at) = q.items.pop_front()?;
        q.bytes -= datagram.len();
        q.stats.sent += 1;
        q.stats.bytes_sent += datagram.len() as u64;
        if let Some(rate) = self.config.max_bitrate {
            let earliest = now.checked_sub(self.config.burst).unwrap_or(now);
            let start = self.next_send.map_or(earliest, |t| t.max(earliest));
            let nanos = (datagram.len() as u128 * 8 * 1_000_000_000) / u128::from(rate);
            self.next_send =
                Some(start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)));
        }
        Some(Transmit {
            kind,
            datagram,
            enqueued_at,
        })
    }

    /// When [`poll_transmit`](Self::poll_transmit) next has a datagram, if any is queued
    /// (an instant in the past means "now").
    pub fn poll_timeout(&self) -> Option<Instant> {
        let oldest = MediaKind::ALL
            .iter()
            .filter_map(|k| self.queue(*k).items.front().map(|(_, t)| *t))
            .min()?;
        match (self.config.max_bitrate, self.next_send) {
            (Some(_), Some(next)) => Some(next.max(oldest)),
            _ => Some(oldest),
        }
    }

    fn queue(&self, kind: MediaKind) -> &Queue {
        match kind {
            MediaKind::Audio => &self.audio,
            MediaKind::Video => &self.video,
            MediaKind::Data => &self.data,
        }
    }

    fn queue_mut(&mut self, kind: MediaKind) -> &mut Queue {
        match kind {
            MediaKind::Audio => &mut self.audio,
            MediaKind::Video => &mut self.video,
            MediaKind::Data => &mut self.data,
        }
    }
}

/// Releases audio frames no faster than one per packet time. See the module docs.
#[derive(Debug, Clone)]
pub struct AudioFramePacer<T> {
    packet_time: Duration,
    max_frames: usize,
    queue: VecDeque<(T, Instant)>,
    next_slot: Option<Instant>,
    stats: QueueStats,
}

impl<T> AudioFramePacer<T> {
    /// A pacer for frames of `packet_time` each (the stream's packetization time, e.g.
    /// 20 ms) that holds at most `max_frames` (at least 1).
    pub fn new(packet_time: Duration, max_frames: usize) -> Self {
        Self {
            packet_time,
            max_frames: max_frames.max(1),
            queue: VecDeque::new(),
            next_slot: None,
            stats: QueueStats::default(),
        }
    }

    /// The packet time.
    pub fn packet_time(&self) -> Duration {
        self.packet_time
    }

    /// Frames waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no frame waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The counters (`bytes_sent` stays 0: frames have no size here).
    pub fn stats(&self) -> QueueStats {
        self.stats
    }

    /// Queues one frame handed over at `now`. Refuses (drops and counts) it when
    /// `max_frames` are waiting.
    pub fn push(&mut self, frame: T, now: Instant) -> Result<(), PacerError> {
        if self.queue.len() >= self.max_frames {
            self.stats.dropped += 1;
            return Err(PacerError::QueueFull {
                kind: MediaKind::Audio,
                queued: self.queue.len(),
                limit: self.max_frames,
            });
        }
        self.stats.enqueued += 1;
        self.queue.push_back((frame, now));
        Ok(())
    }

    /// The next frame, if its slot has come: the first frame goes when handed over, each
    /// next one a packet time after the previous one's slot, or when handed over if that is
    /// later.
    pub fn poll_frame(&mut self, now: Instant) -> Option<T> {
        let slot = self.poll_timeout()?;
        if slot > now {
            return None;
        }
        let (frame, _) = self.queue.pop_front()?;
        self.next_slot = Some(slot + self.packet_time);
        self.stats.sent += 1;
        Some(frame)
    }

    /// When [`poll_frame`](Self::poll_frame) next has a frame, if any waits.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let (_, handed) = self.queue.front()?;
        Some(self.next_slot.map_or(*handed, |s| s.max(*handed)))
    }
}

#[cfg(test)]
mod tests;
