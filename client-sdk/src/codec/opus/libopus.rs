//! Opus encoder and decoder over libopus (the `opus` crate), with this module's errors and
//! the draft §6.4 settings.

use super::{
    MAX_PACKET_SAMPLES_48K, OpusApplication, OpusError, OpusSignal, ProcessAs, check_sample_rate,
    frame_samples,
};

/// The largest packet libopus is asked to produce (its documented recommendation).
const MAX_PACKET_BYTES: usize = 4000;

impl From<opus::Error> for OpusError {
    fn from(e: opus::Error) -> Self {
        OpusError::Libopus {
            function: e.function(),
            description: e.description(),
        }
    }
}

fn channels(n: u8) -> Result<opus::Channels, OpusError> {
    match n {
        1 => Ok(opus::Channels::Mono),
        2 => Ok(opus::Channels::Stereo),
        other => Err(OpusError::UnsupportedChannels(other)),
    }
}

/// Settings of an [`OpusEncoder`]: draft §6.4's sample rate, channels, max encoded bitrate,
/// packetization time, "process as" and constant bit rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusEncoderConfig {
    sample_rate: u32,
    channels: u8,
    frame_duration_us: u32,
    bitrate: Option<u32>,
    constant_bitrate: bool,
    application: OpusApplication,
    signal: OpusSignal,
    inband_fec: bool,
    packet_loss_percent: u8,
}

impl Default for OpusEncoderConfig {
    fn default() -> Self {
        OpusEncoderConfig {
            sample_rate: 48_000,
            channels: 1,
            frame_duration_us: 20_000,
            bitrate: None,
            constant_bitrate: false,
            application: OpusApplication::Voip,
            signal: OpusSignal::Auto,
            inband_fec: false,
            packet_loss_percent: 0,
        }
    }
}

impl OpusEncoderConfig {
    /// Input sample rate in Hz: 8000, 12000, 16000, 24000 or 48000. Default 48000.
    pub fn sample_rate(mut self, hz: u32) -> Self {
        self.sample_rate = hz;
        self
    }

    /// Channels: 1 (mono) or 2 (stereo, interleaved). Default 1.
    pub fn channels(mut self, channels: u8) -> Self {
        self.channels = channels;
        self
    }

    /// Packetization time in µs: 2500, 5000, 10000, 20000, 40000 or 60000. Default 20000.
    pub fn frame_duration_us(mut self, us: u32) -> Self {
        self.frame_duration_us = us;
        self
    }

    /// Target (or, with [`Self::constant_bitrate`], exact) bitrate in bit/s, 500..=512000;
    /// `None` lets libopus choose from the sample rate and channels. Default `None`.
    pub fn bitrate(mut self, bits_per_second: Option<u32>) -> Self {
        self.bitrate = bits_per_second;
        self
    }

    /// Constant bit rate (draft §6.4 flag): every packet of a frame duration has the same
    /// size. Default false (unconstrained VBR).
    pub fn constant_bitrate(mut self, cbr: bool) -> Self {
        self.constant_bitrate = cbr;
        self
    }

    /// libopus application. Default [`OpusApplication::Voip`].
    pub fn application(mut self, application: OpusApplication) -> Self {
        self.application = application;
        self
    }

    /// libopus signal hint. Default [`OpusSignal::Auto`].
    pub fn signal(mut self, signal: OpusSignal) -> Self {
        self.signal = signal;
        self
    }

    /// Sets application and signal from draft §6.4's "process as" (see [`ProcessAs`]).
    /// Default [`ProcessAs::Auto`].
    pub fn process_as(self, p: ProcessAs) -> Self {
        self.application(p.application()).signal(p.signal())
    }

    /// In-band forward error correction (LBRR, SILK and hybrid modes only). Default false.
    pub fn inband_fec(mut self, on: bool) -> Self {
        self.inband_fec = on;
        self
    }

    /// Expected packet loss in percent (0..=100), which tunes FEC. Default 0.
    pub fn packet_loss_percent(mut self, percent: u8) -> Self {
        self.packet_loss_percent = percent.min(100);
        self
    }

    /// The input sample rate in Hz.
    pub fn get_sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The channel count.
    pub fn get_channels(&self) -> u8 {
        self.channels
    }

    /// The packetization time in µs.
    pub fn get_frame_duration_us(&self) -> u32 {
        self.frame_duration_us
    }
}

/// An Opus encoder: one frame of interleaved 16-bit PCM in, one Opus packet out.
pub struct OpusEncoder {
    inner: opus::Encoder,
    config: OpusEncoderConfig,
    frame_samples: usize,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl OpusEncoder {
    /// An encoder with `config`; fails on an unsupported setting.
    pub fn new(config: &OpusEncoderConfig) -> Result<Self, OpusError> {
        let frame_samples = frame_samples(config.sample_rate, config.frame_duration_us)?;
        let ch = channels(config.channels)?;
        let application = match config.application {
            OpusApplication::Voip => opus::Application::Voip,
            OpusApplication::Audio => opus::Application::Audio,
            OpusApplication::LowDelay => opus::Application::LowDelay,
        };
        let mut inner = opus::Encoder::new(config.sample_rate, ch, application)?;
        let bitrate = match config.bitrate {
            None => opus::Bitrate::Auto,
            Some(b @ 500..=512_000) => opus::Bitrate::Bits(b as i32),
            Some(b) => return Err(OpusError::UnsupportedBitrate(b)),
        };
        inner.set_bitrate(bitrate)?;
        inner.set_vbr(!config.constant_bitrate)?;
        inner.set_signal(match config.signal {
            OpusSignal::Auto => opus::Signal::Auto,
            OpusSignal::Voice => opus::Signal::Voice,
            OpusSignal::Music => opus::Signal::Music,
        })?;
        inner.set_inband_fec(config.inband_fec)?;
        inner.set_packet_loss_perc(i32::from(config.packet_loss_percent))?;
        Ok(OpusEncoder {
            inner,
            config: config.clone(),
            frame_samples,
        })
    }

    /// The settings the encoder was made with.
    pub fn config(&self) -> &OpusEncoderConfig {
        &self.config
    }

    /// Samples per channel in one frame (what [`Self::encode`] takes, divided by channels).
    pub fn frame_samples(&self) -> usize {
        self.frame_samples
    }

    /// The encoder's lookahead in samples at its sample rate: what Ogg Opus calls pre-skip
    /// (scaled to 48 kHz).
    pub fn lookahead(&mut self) -> Result<u32, OpusError> {
        Ok(self.inner.get_lookahead()?.max(0) as u32)
    }

    /// Encodes one frame: `pcm` holds `frame_samples() * channels` interleaved samples.
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>, OpusError> {
        let expected = self.frame_samples * usize::from(self.config.channels);
        if pcm.len() != expected {
            return Err(OpusError::WrongFrameLength {
                expected,
                got: pcm.len(),
            });
        }
        let mut out = vec![0u8; MAX_PACKET_BYTES];
        let n = self.inner.encode(pcm, &mut out)?;
        out.truncate(n);
        Ok(out)
    }
}

/// An Opus decoder: one packet in, interleaved 16-bit PCM out at the decoder's rate.
pub struct OpusDecoder {
    inner: opus::Decoder,
    sample_rate: u32,
    channels: u8,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("sample_rate", &self.sample_rate)
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

impl OpusDecoder {
    /// A decoder producing `channels` (1 or 2) channels at `sample_rate` Hz (8000, 12000,
    /// 16000, 24000 or 48000), whatever the packets were encoded with.
    pub fn new(sample_rate: u32, channels: u8) -> Result<Self, OpusError> {
        check_sample_rate(sample_rate)?;
        let inner = opus::Decoder::new(sample_rate, self::channels(channels)?)?;
        Ok(OpusDecoder {
            inner,
            sample_rate,
            channels,
        })
    }

    fn max_samples(&self) -> usize {
        MAX_PACKET_SAMPLES_48K as usize * self.sample_rate as usize / 48_000
            * usize::from(self.channels)
    }

    /// Decodes one packet; returns its interleaved samples. The packet is checked with
    /// [`super::OpusPacket::parse`] first, so malformed input gets this module's error.
    pub fn decode(&mut self, packet: &[u8]) -> Result<Vec<i16>, OpusError> {
        super::OpusPacket::parse(packet)?;
        let mut out = vec![0i16; self.max_samples()];
        let per_channel = self.inner.decode(packet, &mut out, false)?;
        out.truncate(per_channel * usize::from(self.channels));
        Ok(out)
    }

    /// Conceals a lost packet of `samples_per_channel` samples (packet loss concealment;
    /// a multiple of 2.5 ms at the decoder's rate, at most 120 ms).
    pub fn decode_lost(&mut self, samples_per_channel: usize) -> Result<Vec<i16>, OpusError> {
        let n = (samples_per_channel * usize::from(self.channels)).min(self.max_samples());
        let mut out = vec![0i16; n];
        let per_channel = self.inner.decode(&[], &mut out, false)?;
        out.truncate(per_channel * usize::from(self.channels));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::OpusPacket;
    use super::*;
    use proptest::prelude::*;

    fn sine(rate: u32, channels: u8, freq: f64, samples: usize) -> Vec<i16> {
        (0..samples)
            .flat_map(|i| {
                let v = (f64::from(i as u32) * 2.0 * std::f64::consts::PI * freq / f64::from(rate))
                    .sin()
                    * 10_000.0;
                std::iter::repeat_n(v as i16, usize::from(channels))
            })
            .collect()
    }

    /// Encodes 1 s of a 440 Hz sine, decodes it, and returns (SNR in dB of the decoded
    /// signal against the input after aligning by the lookahead, packets).
    fn round_trip(config: &OpusEncoderConfig) -> (f64, Vec<Vec<u8>>) {
        let rate = config.get_sample_rate();
        let ch = config.get_channels();
        let mut enc = OpusEncoder::new(config).unwrap();
        let mut dec = OpusDecoder::new(rate, ch).unwrap();
        let n = enc.frame_samples();
        let frames = (rate as usize) / n;
        let input = sine(rate, ch, 440.0, n * frames);
        let mut output = Vec::new();
        let mut packets = Vec::new();
        for f in input.chunks(n * usize::from(ch)) {
            let p = enc.encode(f).unwrap();
            output.extend(dec.decode(&p).unwrap());
            packets.push(p);
        }
        assert_eq!(output.len(), input.len());
        let delay = enc.lookahead().unwrap() as usize * usize::from(ch);
        // Skip the first 100 ms (encoder start-up), compare the rest.
        let skip = rate as usize / 10 * usize::from(ch);
        let (mut sig, mut noise) = (0f64, 0f64);
        for i in skip..input.len() - delay {
            let x = f64::from(input[i]);
            let y = f64::from(output[i + delay]);
            sig += x * x;
            noise += (x - y) * (x - y);
        }
        (10.0 * (sig / noise.max(1.0)).log10(), packets)
    }

    #[test]
    fn sine_survives_encode_decode_at_every_rate() {
        for rate in [8000, 12000, 16000, 24000, 48000] {
            for ch in [1, 2] {
                let cfg = OpusEncoderConfig::default()
                    .sample_rate(rate)
                    .channels(ch)
                    .bitrate(Some(64_000))
                    .process_as(ProcessAs::Music);
                let (snr, packets) = round_trip(&cfg);
                assert!(snr > 10.0, "{rate} Hz {ch} ch: SNR {snr:.1} dB");
                for p in &packets {
                    let parsed = OpusPacket::parse(p).unwrap();
                    assert_eq!(parsed.toc.stereo, ch == 2 && parsed.toc.stereo);
                    assert_eq!(parsed.samples(rate) as usize, rate as usize / 50);
                }
            }
        }
    }

    #[test]
    fn toc_durations_match_libopus_for_every_frame_duration() {
        for us in [2500, 5000, 10_000, 20_000, 40_000, 60_000] {
            for p in [ProcessAs::Speech, ProcessAs::Music, ProcessAs::Raw] {
                let cfg = OpusEncoderConfig::default()
                    .frame_duration_us(us)
                    .process_as(p);
                let mut enc = OpusEncoder::new(&cfg).unwrap();
                let n = enc.frame_samples();
                let pcm = sine(48000, 1, 300.0, n);
                let packet = enc.encode(&pcm).unwrap();
                let ours = OpusPacket::parse(&packet).unwrap();
                assert_eq!(ours.samples_48k() as usize, n, "{us} µs {p:?}");
                assert_eq!(
                    opus::packet::get_nb_samples(&packet, 48000).unwrap(),
                    ours.samples_48k() as usize
                );
                assert_eq!(
                    opus::packet::get_nb_frames(&packet).unwrap(),
                    ours.frame_count()
                );
            }
        }
    }

    #[test]
    fn constant_bitrate_gives_equal_packet_sizes() {
        let cfg = OpusEncoderConfig::default()
            .bitrate(Some(32_000))
            .constant_bitrate(true)
            .process_as(ProcessAs::Music);
        let (_, packets) = round_trip(&cfg);
        // 32 kbit/s at 20 ms = 80 bytes a packet.
        assert!(packets.iter().all(|p| p.len() == 80), "CBR sizes");
        let vbr = cfg.constant_bitrate(false);
        let (_, packets) = round_trip(&vbr);
        let first = packets[0].len();
        assert!(packets.iter().any(|p| p.len() != first), "VBR varies");
    }

    #[test]
    fn speech_and_raw_pick_their_modes() {
        use super::super::OpusMode;
        let mode = |p: ProcessAs| {
            let cfg = OpusEncoderConfig::default()
                .sample_rate(16000)
                .bitrate(Some(16_000))
                .process_as(p);
            let (_, packets) = round_trip(&cfg);
            OpusPacket::parse(packets.last().unwrap())
                .unwrap()
                .toc
                .mode()
        };
        assert_eq!(mode(ProcessAs::Speech), OpusMode::Silk);
        assert_eq!(mode(ProcessAs::Raw), OpusMode::Celt);
    }

    #[test]
    fn settings_are_checked() {
        let bad = [
            OpusEncoderConfig::default().sample_rate(44100),
            OpusEncoderConfig::default().channels(3),
            OpusEncoderConfig::default().frame_duration_us(15_000),
            OpusEncoderConfig::default().bitrate(Some(100)),
        ];
        for cfg in &bad {
            assert!(OpusEncoder::new(cfg).is_err(), "{cfg:?}");
        }
        let mut enc = OpusEncoder::new(&OpusEncoderConfig::default()).unwrap();
        assert_eq!(
            enc.encode(&[0; 100]).unwrap_err(),
            OpusError::WrongFrameLength {
                expected: 960,
                got: 100
            }
        );
        assert!(OpusDecoder::new(11025, 1).is_err());
        assert!(OpusDecoder::new(48000, 0).is_err());
        let mut dec = OpusDecoder::new(48000, 1).unwrap();
        assert!(matches!(
            dec.decode(&[]),
            Err(OpusError::InvalidPacket { .. })
        ));
        assert_eq!(dec.decode_lost(960).unwrap().len(), 960);
    }

    proptest! {
        #[test]
        fn packet_parse_agrees_with_libopus(data in proptest::collection::vec(any::<u8>(), 1..400)) {
            let ours = OpusPacket::parse(&data);
            let theirs = opus::packet::parse(&data);
            match (ours, theirs) {
                (Ok(o), Ok(t)) => {
                    prop_assert_eq!(o.toc.to_byte(), t.toc);
                    prop_assert_eq!(o.payload_offset, t.payload_offset);
                    let ours: Vec<&[u8]> = o.frames().collect();
                    prop_assert_eq!(ours, t.frames);
                }
                (Err(_), Err(_)) => {}
                (o, t) => prop_assert!(false, "ours {:?}, libopus {:?}", o.map(|p| p.frame_count()), t.map(|p| p.frames.len())),
            }
        }

        #[test]
        fn decoder_never_fails_on_packets_we_accept(data in proptest::collection::vec(any::<u8>(), 1..200)) {
            let mut dec = OpusDecoder::new(48000, 2).unwrap();
            if let Ok(p) = OpusPacket::parse(&data) {
                let pcm = dec.decode(&data).unwrap();
                prop_assert_eq!(pcm.len(), p.samples_48k() as usize * 2);
            }
        }
    }
}
