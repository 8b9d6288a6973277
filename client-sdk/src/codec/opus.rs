//! Opus (RFC 6716, draft §5.5): packet parsing in pure Rust, and encode/decode through libopus.
//!
//! - [`OpusPacket::parse`] / [`OpusToc`]: the TOC byte (§3.1: configuration, mode, bandwidth,
//!   frame duration, stereo flag) and the frame packing (§3.2: codes 0-3, frame count,
//!   padding), with the checks libopus applies. The SDK uses it to time Opus packets (their
//!   duration in 48 kHz samples) without decoding them, e.g. when framing Ogg Opus files.
//! - `OpusEncoder` / `OpusDecoder` (feature `libopus`, on by default): thin wrappers over
//!   the `opus` crate (system libopus, found with pkg-config) that check their arguments and
//!   report this module's [`OpusError`]. They carry the draft §6.4 audio settings:
//!   sample rate, channels, max encoded bitrate, packetization time, "process as"
//!   ([`ProcessAs`]) and constant bit rate.
//!
//! What it does not do: resample, mix, or run the Opus multistream (surround) API.

mod packet;
pub use packet::{
    MAX_FRAME_BYTES, MAX_FRAMES, MAX_PACKET_SAMPLES_48K, OpusBandwidth, OpusMode, OpusPacket,
    OpusToc, packet_samples_48k,
};

#[cfg(feature = "libopus")]
mod libopus;
#[cfg(feature = "libopus")]
pub use libopus::{OpusDecoder, OpusEncoder, OpusEncoderConfig};

/// What went wrong with an Opus packet, a setting or libopus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpusError {
    /// The packet breaks a rule of RFC 6716 §3.2 (see [`OpusPacket::parse`]).
    #[error("invalid Opus packet: {reason}")]
    InvalidPacket {
        /// Which rule.
        reason: &'static str,
    },
    /// A sample rate other than 8000, 12000, 16000, 24000 or 48000 Hz.
    #[error("Opus does not support a sample rate of {0} Hz (8000, 12000, 16000, 24000, 48000)")]
    UnsupportedSampleRate(u32),
    /// A channel count other than 1 or 2.
    #[error("Opus channel count must be 1 or 2, not {0}")]
    UnsupportedChannels(u8),
    /// A packetization time other than 2.5, 5, 10, 20, 40 or 60 ms (given in µs).
    #[error("Opus frame duration must be 2.5, 5, 10, 20, 40 or 60 ms, not {0} µs")]
    UnsupportedFrameDuration(u32),
    /// A bitrate outside 500..=512000 bit/s.
    #[error("Opus bitrate must be 500..=512000 bit/s, not {0}")]
    UnsupportedBitrate(u32),
    /// The PCM given to the encoder is not one frame of the configured duration.
    #[error("expected {expected} interleaved samples (one frame), got {got}")]
    WrongFrameLength {
        /// Samples (all channels) one frame has.
        expected: usize,
        /// Samples given.
        got: usize,
    },
    /// libopus reported an error.
    #[error("libopus {function}: {description}")]
    Libopus {
        /// The libopus function.
        function: &'static str,
        /// libopus' description of the error code.
        description: &'static str,
    },
}

/// How the encoder should treat the audio: draft §6.4 "process as one of: automatically set,
/// raw, speech, music".
///
/// Mapped onto libopus' application and signal hints by [`ProcessAs::application`] and
/// [`ProcessAs::signal`] when `OpusEncoderConfig::process_as` is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProcessAs {
    /// Let the encoder decide (voice/music detection): application VoIP, signal auto.
    #[default]
    Auto,
    /// Code the waveform as it is, with the lowest delay and no speech-specific processing:
    /// application restricted-low-delay (CELT only).
    Raw,
    /// Speech: application VoIP (intelligibility first), signal voice.
    Speech,
    /// Music: application audio (fidelity first), signal music.
    Music,
}

/// libopus' application setting (`OPUS_APPLICATION_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OpusApplication {
    /// VoIP / conferencing: listening quality and intelligibility.
    #[default]
    Voip,
    /// Broadcast / high fidelity: closest to the input.
    Audio,
    /// Restricted low delay: CELT only, lowest algorithmic delay.
    LowDelay,
}

/// libopus' signal hint (`OPUS_SET_SIGNAL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OpusSignal {
    /// Let the encoder detect it.
    #[default]
    Auto,
    /// Bias towards the speech (SILK / hybrid) modes.
    Voice,
    /// Bias towards the music (CELT) modes.
    Music,
}

impl ProcessAs {
    /// The libopus application this maps to.
    pub fn application(self) -> OpusApplication {
        match self {
            ProcessAs::Auto | ProcessAs::Speech => OpusApplication::Voip,
            ProcessAs::Raw => OpusApplication::LowDelay,
            ProcessAs::Music => OpusApplication::Audio,
        }
    }

    /// The libopus signal hint this maps to.
    pub fn signal(self) -> OpusSignal {
        match self {
            ProcessAs::Auto | ProcessAs::Raw => OpusSignal::Auto,
            ProcessAs::Speech => OpusSignal::Voice,
            ProcessAs::Music => OpusSignal::Music,
        }
    }
}

/// Sample rates Opus encodes and decodes at, in Hz.
pub const SAMPLE_RATES: [u32; 5] = [8000, 12000, 16000, 24000, 48000];

/// Checks a sample rate against [`SAMPLE_RATES`].
pub fn check_sample_rate(hz: u32) -> Result<u32, OpusError> {
    if SAMPLE_RATES.contains(&hz) {
        Ok(hz)
    } else {
        Err(OpusError::UnsupportedSampleRate(hz))
    }
}

/// Checks a packetization time in µs (2500, 5000, 10000, 20000, 40000 or 60000) and returns
/// how many samples a channel has in one frame at `sample_rate`.
pub fn frame_samples(sample_rate: u32, frame_duration_us: u32) -> Result<usize, OpusError> {
    check_sample_rate(sample_rate)?;
    if ![2500, 5000, 10_000, 20_000, 40_000, 60_000].contains(&frame_duration_us) {
        return Err(OpusError::UnsupportedFrameDuration(frame_duration_us));
    }
    Ok((u64::from(sample_rate) * u64::from(frame_duration_us) / 1_000_000) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_samples_per_rate() {
        assert_eq!(frame_samples(48000, 20_000), Ok(960));
        assert_eq!(frame_samples(8000, 2500), Ok(20));
        assert_eq!(frame_samples(12000, 60_000), Ok(720));
        assert_eq!(
            frame_samples(44100, 20_000),
            Err(OpusError::UnsupportedSampleRate(44100))
        );
        assert_eq!(
            frame_samples(48000, 30_000),
            Err(OpusError::UnsupportedFrameDuration(30_000))
        );
    }

    #[test]
    fn process_as_mapping() {
        assert_eq!(ProcessAs::default().application(), OpusApplication::Voip);
        assert_eq!(ProcessAs::Speech.signal(), OpusSignal::Voice);
        assert_eq!(ProcessAs::Music.application(), OpusApplication::Audio);
        assert_eq!(ProcessAs::Music.signal(), OpusSignal::Music);
        assert_eq!(ProcessAs::Raw.application(), OpusApplication::LowDelay);
    }
}
