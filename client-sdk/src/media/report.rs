//! Receiver statistics and the endpoint's compound reception reports (seed 003,
//! draft-wu-avtcore-multiplex-multisource-endpoint; PROTOCOL.md §9 "ReceiverReport").
//!
//! - [`ReceiveStatistics`]: per received encoding, what RFC 3550 §6.4.1 keeps: the highest
//!   sequence ID, the cumulative number lost, the fraction lost since the last report, the
//!   interarrival jitter over (arrival - capture time), and the bytes received.
//! - [`Reporter`]: the endpoint's **one designated reporter** (seed 003 §5.2: one reporting
//!   source per multi-source endpoint instead of one report per local/remote pair). It
//!   produces **one compound ReceiverReport** with a block per received encoding, audio and
//!   video mixed, **bounded by the path MTU** (§5.4), written with proto's
//!   [`ReceiverReport::encode_bounded`]: blocks that do not fit go first into the next
//!   report; otherwise the blocks reported longest ago go first.
//!
//! ## Schedule (seed 003 §5.1 and §5.3)
//!
//! Report bandwidth is bounded **per media type** (§5.1: the audio share must not be derived
//! from the video's session bandwidth): each type may use at most
//! [`ReporterConfig::bandwidth_fraction`] (default 2.5 %) of the bitrate received for it,
//! measured over the last report interval (RTP3 headers included, which is the packet
//! overhead §5.1's formula adds for audio). As in RFC 3550 §6.2 with the endpoint counted as
//! one member (§5.2), a type's interval is its report bytes divided by its report bandwidth,
//! clamped to [`ReporterConfig::min_interval`]..[`ReporterConfig::max_interval`]:
//!
//! ```text
//! T_video = bytes(fixed fields + video blocks) * 8 / (fraction * received video bit/s)
//! T_audio = bytes(audio blocks)                * 8 / (fraction * received audio bit/s)
//! ```
//!
//! (data encodings report on the video schedule). §5.3 sends audio and video blocks in the
//! same compound report with the audio interval a multiple of the video interval,
//! `k = max(1, floor(T_audio / T_video))`. §5.3 reaches the multiple by shortening the audio
//! interval to `k * T_video`, which can nearly double audio's report bandwidth; we keep the
//! same `k` but lengthen the video interval instead, to `max(T_video, T_audio / k)`, so the
//! audio interval is exactly `k` report intervals and neither type exceeds its share. A
//! report therefore goes out every `max(T_video, T_audio / k)` and carries the audio blocks
//! every `k`-th time. With only audio (or only video) the report interval is that type's.
//! The first report goes `min_interval` after the first message. Intervals are not
//! randomized (RFC 3550's reason, many members starting at once, does not apply to one
//! reporter per endpoint).
//!
//! ## Run-loop contract
//!
//! One [`Reporter`] per endpoint. [`Reporter::add_encoding`] for each encoding received
//! (with its [`MediaKind`]); [`Reporter::handle_message`] for every RTP3 message received
//! (before or after opening it; retransmissions included); [`Reporter::set_rtt`] /
//! [`Reporter::set_ecn`] as the transport learns them; at [`Reporter::poll_timeout`],
//! [`Reporter::poll_report`] gives the frame to write to the control stream.

use super::kind::MediaKind;
use super::lipsync::{capture_diff_ms, signed_us};
use newmedia_proto::control::{
    ControlError, ControlMessage, EcnCounts, ReceiverReport, ReportBlock,
};
use newmedia_proto::ids::GlobalEncodingId;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Why no report could be written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReportError {
    /// The size budget cannot hold even one block (or the fixed fields); the schedule moved
    /// on and the blocks wait for the next report.
    #[error(transparent)]
    Encode(#[from] ControlError),
}

/// RFC 3550 §6.4.1 / A.3 reception statistics of one encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiveStatistics {
    encoding: GlobalEncodingId,
    kind: MediaKind,
    lowest: Option<u64>,
    highest: u64,
    received: u64,
    bytes: u64,
    epoch: Option<(Instant, u64)>,
    last_transit_us: Option<i64>,
    jitter_us: f64,
    expected_prior: u64,
    received_prior: u64,
}

impl ReceiveStatistics {
    /// Empty statistics for `encoding`.
    pub fn new(encoding: GlobalEncodingId, kind: MediaKind) -> Self {
        Self {
            encoding,
            kind,
            lowest: None,
            highest: 0,
            received: 0,
            bytes: 0,
            epoch: None,
            last_transit_us: None,
            jitter_us: 0.0,
            expected_prior: 0,
            received_prior: 0,
        }
    }

    /// The encoding.
    pub fn encoding(&self) -> GlobalEncodingId {
        self.encoding
    }

    /// Its media kind.
    pub fn kind(&self) -> MediaKind {
        self.kind
    }

    /// Counts one message of `bytes` bytes (the whole RTP3 message) with its sequence ID and
    /// capture time, arrived at `now`.
    pub fn on_message(
        &mut self,
        sequence_id: u64,
        capture_time: Option<u64>,
        bytes: usize,
        now: Instant,
    ) {
        self.lowest = Some(self.lowest.map_or(sequence_id, |l| l.min(sequence_id)));
        self.highest = self.highest.max(sequence_id);
        self.received += 1;
        self.bytes += bytes as u64;
        if let Some(capture) = capture_time {
            let (t0, c0) = *self.epoch.get_or_insert((now, capture));
            let transit = signed_us(t0, now)
                .saturating_sub(capture_diff_ms(c0, capture).saturating_mul(1000));
            if let Some(last) = self.last_transit_us {
                let d = transit.saturating_sub(last).unsigned_abs() as f64;
                self.jitter_us += (d - self.jitter_us) / 16.0;
            }
            self.last_transit_us = Some(transit);
        }
    }

    /// The highest sequence ID received, if any.
    pub fn highest_sequence(&self) -> Option<u64> {
        self.lowest.map(|_| self.highest)
    }

    /// Messages received (every copy, as RFC 3550 counts).
    pub fn messages_received(&self) -> u64 {
        self.received
    }

    /// Bytes of RTP3 messages received.
    pub fn bytes_received(&self) -> u64 {
        self.bytes
    }

    /// Messages expected: from the lowest to the highest sequence ID seen.
    pub fn expected(&self) -> u64 {
        self.lowest.map_or(0, |l| self.highest - l + 1)
    }

    /// Expected minus received, floored at 0.
    pub fn cumulative_lost(&self) -> u64 {
        self.expected().saturating_sub(self.received)
    }

    /// The interarrival jitter estimate.
    pub fn jitter(&self) -> Duration {
        Duration::from_micros(self.jitter_us as u64)
    }

    /// The report block as of now (`fraction_lost` over the interval since the last
    /// [`start_interval`](Self::start_interval)), or `None` before the first message.
    pub fn block(&self) -> Option<ReportBlock> {
        let highest_sequence = self.highest_sequence()?;
        let expected = self.expected() - self.expected_prior.min(self.expected());
        let received = self.received.saturating_sub(self.received_prior);
        let lost = expected.saturating_sub(received);
        let fraction_lost = if expected == 0 || lost == 0 {
            0
        } else {
            u8::try_from((lost << 8) / expected).unwrap_or(u8::MAX)
        };
        Some(ReportBlock {
            encoding: self.encoding,
            highest_sequence,
            cumulative_lost: self.cumulative_lost(),
            fraction_lost,
            jitter_us: self.jitter_us as u64,
            bytes_received: self.bytes,
        })
    }

    /// Starts a new loss interval (call when the block was sent).
    pub fn start_interval(&mut self) {
        self.expected_prior = self.expected();
        self.received_prior = self.received;
    }
}

/// Settings of a [`Reporter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReporterConfig {
    max_report_size: usize,
    bandwidth_fraction: f64,
    min_interval: Duration,
    max_interval: Duration,
}

impl Default for ReporterConfig {
    fn default() -> Self {
        Self {
            max_report_size: 1100,
            bandwidth_fraction: 0.025,
            min_interval: Duration::from_millis(100),
            max_interval: Duration::from_secs(5),
        }
    }
}

impl ReporterConfig {
    /// Most bytes of one report frame (header included): the path MTU minus the QUIC and
    /// UDP/IP overhead. Default 1100 (a 1200-byte path less 48 bytes of IPv6/UDP and about
    /// 50 of QUIC short header, STREAM frame header and AEAD tag).
    pub fn max_report_size(mut self, bytes: usize) -> Self {
        self.max_report_size = bytes;
        self
    }

    /// Share of each media type's received bitrate its reports may use. Default 0.025.
    pub fn bandwidth_fraction(mut self, fraction: f64) -> Self {
        self.bandwidth_fraction = fraction;
        self
    }

    /// Shortest report interval. Default 100 ms.
    pub fn min_interval(mut self, interval: Duration) -> Self {
        self.min_interval = interval;
        self
    }

    /// Longest report interval. Default 5 s.
    pub fn max_interval(mut self, interval: Duration) -> Self {
        self.max_interval = interval;
        self
    }
}

/// Counters of a [`Reporter`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReporterStats {
    /// Report frames produced.
    pub reports: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Bytes of those frames charged to audio: the audio blocks.
    pub audio_bytes: u64,
    /// Bytes charged to video (and data): the fixed fields and the other blocks.
    pub video_bytes: u64,
    /// Blocks sent.
    pub blocks: u64,
    /// Blocks that did not fit and were carried to the next report.
    pub postponed: u64,
}

#[derive(Debug, Clone)]
struct Tracked {
    stats: ReceiveStatistics,
    last_reported: Option<Instant>,
    pending: bool,
}

/// The endpoint's designated reporter. See the module docs.
#[derive(Debug, Clone)]
pub struct Reporter {
    reporter: u64,
    config: ReporterConfig,
    streams: BTreeMap<u64, Tracked>,
    rtt: Option<Duration>,
    ecn: Option<EcnCounts>,
    next_report: Option<Instant>,
    last_report: Option<Instant>,
    /// Bytes of other (video, data) encodings received by the last report.
    other_bytes_at_last: u64,
    /// When audio blocks were last sent, and the audio bytes received by then: audio's rate
    /// is measured over its own (longer) interval.
    audio_mark: Option<(Instant, u64)>,
    /// The audio interval computed when audio blocks were last sent.
    audio_interval: Duration,
    /// Reports to send before the next one that carries audio.
    ticks_until_audio: u64,
    /// The report interval and the audio multiple in force.
    interval: Option<Duration>,
    audio_every: u64,
    stats: ReporterStats,
}

impl Reporter {
    /// The reporter of endpoint `reporter` (our own endpoint ID).
    pub fn new(reporter: u64, config: ReporterConfig) -> Self {
        let config = ReporterConfig {
            bandwidth_fraction: if config.bandwidth_fraction.is_finite()
                && config.bandwidth_fraction > 0.0
            {
                config.bandwidth_fraction
            } else {
                ReporterConfig::default().bandwidth_fraction
            },
            max_interval: config.max_interval.max(config.min_interval),
            ..config
        };
        Self {
            reporter,
            config,
            streams: BTreeMap::new(),
            rtt: None,
            ecn: None,
            next_report: None,
            last_report: None,
            other_bytes_at_last: 0,
            audio_mark: None,
            audio_interval: config.max_interval,
            ticks_until_audio: 0,
            interval: None,
            audio_every: 1,
            stats: ReporterStats::default(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> ReporterStats {
        self.stats
    }

    /// The report interval and the audio multiple (audio blocks go in every k-th report)
    /// chosen at the last report.
    pub fn schedule(&self) -> Option<(Duration, u64)> {
        self.interval.map(|i| (i, self.audio_every))
    }

    /// Starts reporting on `encoding` (no effect if it is already tracked).
    pub fn add_encoding(&mut self, encoding: GlobalEncodingId, kind: MediaKind) {
        self.streams.entry(encoding.0).or_insert_with(|| Tracked {
            stats: ReceiveStatistics::new(encoding, kind),
            last_reported: None,
            pending: false,
        });
    }

    /// Stops reporting on `encoding`.
    pub fn remove_encoding(&mut self, encoding: GlobalEncodingId) {
        self.streams.remove(&encoding.0);
    }

    /// The statistics of `encoding`, if tracked.
    pub fn statistics(&self, encoding: GlobalEncodingId) -> Option<&ReceiveStatistics> {
        self.streams.get(&encoding.0).map(|t| &t.stats)
    }

    /// Sets the RTT estimate the reports carry.
    pub fn set_rtt(&mut self, rtt: Option<Duration>) {
        self.rtt = rtt;
    }

    /// Sets the ECN counters the reports carry (`None` when ECN cannot be read).
    pub fn set_ecn(&mut self, ecn: Option<EcnCounts>) {
        self.ecn = ecn;
    }

    /// Counts one received message of a tracked encoding. Returns false (and counts
    /// nothing) for an encoding not added.
    pub fn handle_message(
        &mut self,
        encoding: GlobalEncodingId,
        sequence_id: u64,
        capture_time: Option<u64>,
        bytes: usize,
        now: Instant,
    ) -> bool {
        let Some(t) = self.streams.get_mut(&encoding.0) else {
            return false;
        };
        t.stats.on_message(sequence_id, capture_time, bytes, now);
        if self.next_report.is_none() {
            self.next_report = Some(now + self.config.min_interval);
            self.last_report = Some(now);
            self.audio_mark = Some((now, 0));
        }
        true
    }

    /// When the next report is due, once something was received.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_report
    }

    /// The report frame due at `now`, if one is: one ReceiverReport frame of at most the
    /// configured size.
    pub fn poll_report(&mut self, now: Instant) -> Result<Option<Vec<u8>>, ReportError> {
        let Some(due) = self.next_report else {
            return Ok(None);
        };
        if now < due {
            return Ok(None);
        }
        let elapsed = self
            .last_report
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        self.last_report = Some(now);
        let (audio_bytes, other_bytes) = self.bytes_by_class();
        let other_rate = rate(other_bytes - self.other_bytes_at_last, elapsed);
        self.other_bytes_at_last = other_bytes;

        let has_audio = self.has(true);
        let has_other = self.has(false);
        let audio_now = !has_other || self.ticks_until_audio == 0;
        let audio_rate = if audio_now {
            let (since, bytes) = self.audio_mark.unwrap_or((now, audio_bytes));
            self.audio_mark = Some((now, audio_bytes));
            Some(rate(
                audio_bytes - bytes,
                now.saturating_duration_since(since),
            ))
        } else {
            None
        };

        // The blocks of this report: pending first, then longest unreported first.
        let mut chosen: Vec<(bool, Option<Instant>, u64)> = self
            .streams
            .iter()
            .filter(|(_, t)| t.stats.highest_sequence().is_some())
            .filter(|(_, t)| t.pending || !is_audio(t) || audio_now)
            .map(|(k, t)| (!t.pending, t.last_reported, *k))
            .collect();
        chosen.sort();
        let blocks: Vec<ReportBlock> = chosen
            .iter()
            .filter_map(|(_, _, k)| self.streams.get(k).and_then(|t| t.stats.block()))
            .collect();
        let report = ReceiverReport {
            reporter: self.reporter,
            rtt_us: self
                .rtt
                .map(|r| u64::try_from(r.as_micros()).unwrap_or(u64::MAX)),
            ecn: self.ecn,
            blocks,
        };

        let result = self.write(&report, &chosen, now);
        self.schedule_next(
            now,
            &report,
            has_audio,
            has_other,
            audio_now,
            (audio_rate, other_rate),
        );
        result
    }

    fn write(
        &mut self,
        report: &ReceiverReport,
        chosen: &[(bool, Option<Instant>, u64)],
        now: Instant,
    ) -> Result<Option<Vec<u8>>, ReportError> {
        let mut out = Vec::new();
        let written = match report.encode_bounded(self.config.max_report_size, &mut out) {
            Ok(n) => n,
            Err(e) => {
                for (_, _, k) in chosen {
                    if let Some(t) = self.streams.get_mut(k) {
                        t.pending = true;
                    }
                }
                return Err(e.into());
            }
        };
        let fixed = report_size(&fixed_part(report));
        self.stats.reports += 1;
        self.stats.bytes += out.len() as u64;
        self.stats.video_bytes += fixed as u64;
        for (i, (_, _, k)) in chosen.iter().enumerate() {
            let Some(t) = self.streams.get_mut(k) else {
                continue;
            };
            if i < written {
                let size = report.blocks.get(i).map_or(0, block_size) as u64;
                if is_audio(t) {
                    self.stats.audio_bytes += size;
                } else {
                    self.stats.video_bytes += size;
                }
                t.stats.start_interval();
                t.last_reported = Some(now);
                t.pending = false;
                self.stats.blocks += 1;
            } else {
                t.pending = true;
                self.stats.postponed += 1;
            }
        }
        Ok(Some(out))
    }

    /// Picks the next report time (see the module docs).
    fn schedule_next(
        &mut self,
        now: Instant,
        report: &ReceiverReport,
        has_audio: bool,
        has_other: bool,
        audio_sent: bool,
        (audio_rate, other_rate): (Option<f64>, f64),
    ) {
        let fixed = report_size(&fixed_part(report));
        let (mut audio_size, mut other_size) = (0usize, fixed);
        for t in self.streams.values() {
            if let Some(b) = t.stats.block() {
                if is_audio(t) {
                    audio_size += block_size(&b);
                } else {
                    other_size += block_size(&b);
                }
            }
        }
        if !has_other {
            audio_size += fixed;
        }
        let t_other = self.interval_for(other_size, other_rate);
        if let Some(r) = audio_rate {
            self.audio_interval = self.interval_for(audio_size, r);
        }
        let t_audio = self.audio_interval;
        // The audio multiple is chosen when audio blocks go out and kept until the next time.
        let k = match (has_audio, has_other) {
            (true, true) if audio_sent => {
                ((t_audio.as_secs_f64() / t_other.as_secs_f64()).floor() as u64).max(1)
            }
            (true, true) => self.audio_every.max(1),
            _ => 1,
        };
        let interval = match (has_audio, has_other) {
            (true, true) => t_other.max(t_audio.div_f64(k as f64)),
            (true, false) => t_audio,
            _ => t_other,
        };
        self.ticks_until_audio = if audio_sent {
            k - 1
        } else {
            self.ticks_until_audio.saturating_sub(1)
        };
        self.audio_every = k;
        self.interval = Some(interval);
        self.next_report = Some(now + interval);
    }

    /// `size` bytes at `fraction` of `rate_bps`, within the interval bounds.
    fn interval_for(&self, size: usize, rate_bps: f64) -> Duration {
        let budget = self.config.bandwidth_fraction * rate_bps;
        let secs = size as f64 * 8.0 / budget;
        if !secs.is_finite() || secs <= 0.0 {
            return self.config.max_interval;
        }
        Duration::try_from_secs_f64(secs)
            .unwrap_or(self.config.max_interval)
            .clamp(self.config.min_interval, self.config.max_interval)
    }

    fn has(&self, audio: bool) -> bool {
        self.streams.values().any(|t| is_audio(t) == audio)
    }

    fn bytes_by_class(&self) -> (u64, u64) {
        let mut audio = 0;
        let mut other = 0;
        for t in self.streams.values() {
            if is_audio(t) {
                audio += t.stats.bytes_received();
            } else {
                other += t.stats.bytes_received();
            }
        }
        (audio, other)
    }
}

fn is_audio(t: &Tracked) -> bool {
    t.stats.kind() == MediaKind::Audio
}

/// Bits per second of `bytes` over `elapsed`.
fn rate(bytes: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        0.0
    } else {
        bytes as f64 * 8.0 / secs
    }
}

/// The encoded size of a whole report frame.
fn report_size(report: &ReceiverReport) -> usize {
    ControlMessage::ReceiverReport(report.clone())
        .to_vec()
        .map_or(0, |v| v.len())
}

/// The bytes one block adds to a report body (its TLV field).
fn block_size(block: &ReportBlock) -> usize {
    let empty = ReceiverReport {
        reporter: 0,
        rtt_us: None,
        ecn: None,
        blocks: Vec::new(),
    };
    let one = ReceiverReport {
        blocks: vec![*block],
        ..empty.clone()
    };
    report_size(&one).saturating_sub(report_size(&empty))
}

/// The report's fixed fields alone (reporter, RTT, ECN).
fn fixed_part(report: &ReceiverReport) -> ReceiverReport {
    ReceiverReport {
        reporter: report.reporter,
        rtt_us: report.rtt_us,
        ecn: report.ecn,
        blocks: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
