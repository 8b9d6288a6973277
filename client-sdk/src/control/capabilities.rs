//! Media capabilities (draft §6.2): the codecs each source can send and each sink can receive,
//! with their limits, and the AEADs this endpoint supports. [`Capabilities::advertisement`]
//! turns them into the advertisement the SDK sends, so the advertisement and the checks of
//! [`super::MediaConfiguration::apply`] come from the same values.

use newmedia_proto::{
    crypto::Algorithm,
    signaling::{Advertisement, Candidate, Codec, MediaType, SignalingError, Sink, Source},
};

/// An audio codec a source can send or a sink can receive (§6.2). `None` means "no limit".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioCodec {
    /// Codec name, e.g. `"opus"`, `"g711"`.
    pub name: String,
    /// Max sample rate, samples per second.
    pub max_sample_rate: Option<u32>,
    /// Max sample size, bits per sample.
    pub max_sample_size: Option<u32>,
    /// Max bitrate, bits per second.
    pub max_bitrate: Option<u64>,
    /// Max channels (§6.4).
    pub max_channels: Option<u32>,
}

impl AudioCodec {
    /// A codec with a name and no limits.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            max_sample_rate: None,
            max_sample_size: None,
            max_bitrate: None,
            max_channels: None,
        }
    }

    /// Sets the max sample rate (samples per second).
    pub fn max_sample_rate(mut self, hz: u32) -> Self {
        self.max_sample_rate = Some(hz);
        self
    }

    /// Sets the max sample size (bits per sample).
    pub fn max_sample_size(mut self, bits: u32) -> Self {
        self.max_sample_size = Some(bits);
        self
    }

    /// Sets the max bitrate (bits per second).
    pub fn max_bitrate(mut self, bps: u64) -> Self {
        self.max_bitrate = Some(bps);
        self
    }

    /// Sets the max number of channels.
    pub fn max_channels(mut self, channels: u32) -> Self {
        self.max_channels = Some(channels);
        self
    }
}

/// A video codec a source can send or a sink can receive (§6.2). `None` means "no limit".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoCodec {
    /// Codec name, e.g. `"av1"`, `"h264"`.
    pub name: String,
    /// Max width, pixels.
    pub max_width: Option<u32>,
    /// Max height, pixels.
    pub max_height: Option<u32>,
    /// Max frame rate, frames per second.
    pub max_frame_rate: Option<u32>,
    /// Max pixel depth, bits per colour component.
    pub max_pixel_depth: Option<u32>,
    /// Max bitrate, bits per second.
    pub max_bitrate: Option<u64>,
    /// Max pixel rate, pixels per second.
    pub max_pixel_rate: Option<u64>,
}

impl VideoCodec {
    /// A codec with a name and no limits.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            max_width: None,
            max_height: None,
            max_frame_rate: None,
            max_pixel_depth: None,
            max_bitrate: None,
            max_pixel_rate: None,
        }
    }

    /// Sets the max width and height (pixels).
    pub fn max_size(mut self, width: u32, height: u32) -> Self {
        self.max_width = Some(width);
        self.max_height = Some(height);
        self
    }

    /// Sets the max frame rate (frames per second).
    pub fn max_frame_rate(mut self, fps: u32) -> Self {
        self.max_frame_rate = Some(fps);
        self
    }

    /// Sets the max pixel depth (bits per colour component).
    pub fn max_pixel_depth(mut self, bits: u32) -> Self {
        self.max_pixel_depth = Some(bits);
        self
    }

    /// Sets the max bitrate (bits per second).
    pub fn max_bitrate(mut self, bps: u64) -> Self {
        self.max_bitrate = Some(bps);
        self
    }

    /// Sets the max pixel rate (pixels per second).
    pub fn max_pixel_rate(mut self, pps: u64) -> Self {
        self.max_pixel_rate = Some(pps);
        self
    }
}

/// A codec that is neither audio nor video: FEC (`"flex-fec-rs"`, §5.4) or a data codec
/// (§5.3). Its only limit is the bitrate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericCodec {
    /// Codec name.
    pub name: String,
    /// Max bitrate, bits per second.
    pub max_bitrate: Option<u64>,
}

impl GenericCodec {
    /// A codec with a name and no limit.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            max_bitrate: None,
        }
    }

    /// The Reed-Solomon FEC codec (`"flex-fec-rs"`).
    pub fn fec() -> Self {
        Self::new(newmedia_proto::signaling::FEC_CODEC)
    }
}

/// One codec of a source or sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecCapability {
    /// An audio codec.
    Audio(AudioCodec),
    /// A video codec.
    Video(VideoCodec),
    /// FEC or data.
    Generic(GenericCodec),
}

impl CodecCapability {
    /// The codec name.
    pub fn name(&self) -> &str {
        match self {
            CodecCapability::Audio(c) => &c.name,
            CodecCapability::Video(c) => &c.name,
            CodecCapability::Generic(c) => &c.name,
        }
    }

    /// The max bitrate (bits per second), if limited.
    pub fn max_bitrate(&self) -> Option<u64> {
        match self {
            CodecCapability::Audio(c) => c.max_bitrate,
            CodecCapability::Video(c) => c.max_bitrate,
            CodecCapability::Generic(c) => c.max_bitrate,
        }
    }

    /// The codec as it appears in an advertisement.
    pub fn to_signaling(&self) -> Codec {
        let mut out = Codec::new(self.name());
        out.max_bitrate = self.max_bitrate();
        match self {
            CodecCapability::Audio(c) => {
                out.max_sample_rate = c.max_sample_rate;
                out.max_sample_size = c.max_sample_size;
                out.max_channels = c.max_channels;
            }
            CodecCapability::Video(c) => {
                out.max_width = c.max_width;
                out.max_height = c.max_height;
                out.max_frame_rate = c.max_frame_rate;
                out.max_pixel_depth = c.max_pixel_depth;
                out.max_pixel_rate = c.max_pixel_rate;
            }
            CodecCapability::Generic(_) => {}
        }
        out
    }
}

impl From<AudioCodec> for CodecCapability {
    fn from(c: AudioCodec) -> Self {
        CodecCapability::Audio(c)
    }
}

impl From<VideoCodec> for CodecCapability {
    fn from(c: VideoCodec) -> Self {
        CodecCapability::Video(c)
    }
}

impl From<GenericCodec> for CodecCapability {
    fn from(c: GenericCodec) -> Self {
        CodecCapability::Generic(c)
    }
}

/// Something this endpoint can send (a microphone, a camera, a data source) and its codecs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSource {
    /// The advertised `sourceID` (at most 2^62-1, unique among sources).
    pub id: u64,
    /// Audio, video or data.
    pub kind: MediaType,
    /// The codecs it can send, in order of preference.
    pub codecs: Vec<CodecCapability>,
}

/// Something this endpoint can receive into (a speaker, a screen, a data sink) and its codecs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSink {
    /// The advertised `sinkID` (at most 2^62-1, unique among sinks).
    pub id: u64,
    /// Audio, video or data.
    pub kind: MediaType,
    /// The codecs it can receive, in order of preference.
    pub codecs: Vec<CodecCapability>,
}

macro_rules! endpoint_media {
    ($ty:ident) => {
        impl $ty {
            /// An audio one with these codecs.
            pub fn audio(id: u64, codecs: impl IntoIterator<Item = AudioCodec>) -> Self {
                Self {
                    id,
                    kind: MediaType::Audio,
                    codecs: codecs.into_iter().map(CodecCapability::Audio).collect(),
                }
            }

            /// A video one with these codecs.
            pub fn video(id: u64, codecs: impl IntoIterator<Item = VideoCodec>) -> Self {
                Self {
                    id,
                    kind: MediaType::Video,
                    codecs: codecs.into_iter().map(CodecCapability::Video).collect(),
                }
            }

            /// A data one (draft §5.3) with these codecs (e.g. `data;reliable=1;ordered=1`).
            pub fn data(id: u64, codecs: impl IntoIterator<Item = GenericCodec>) -> Self {
                Self {
                    id,
                    kind: MediaType::Data,
                    codecs: codecs.into_iter().map(CodecCapability::Generic).collect(),
                }
            }

            /// Adds a codec (e.g. [`GenericCodec::fec`] to a video one).
            pub fn with_codec(mut self, codec: impl Into<CodecCapability>) -> Self {
                self.codecs.push(codec.into());
                self
            }

            /// The codec with this name, if supported.
            pub fn codec(&self, name: &str) -> Option<&CodecCapability> {
                self.codecs.iter().find(|c| c.name() == name)
            }

            fn signaling_codecs(&self) -> Vec<Codec> {
                self.codecs
                    .iter()
                    .map(CodecCapability::to_signaling)
                    .collect()
            }
        }
    };
}

endpoint_media!(MediaSource);
endpoint_media!(MediaSink);

/// What this endpoint can do: its sources, sinks and AEADs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// What it can send.
    pub sources: Vec<MediaSource>,
    /// What it can receive.
    pub sinks: Vec<MediaSink>,
    /// The AEADs it accepts in a proposal. Default: [`Algorithm::ALL`].
    pub aeads: Vec<Algorithm>,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self::new()
    }
}

impl Capabilities {
    /// No sources, no sinks, every AEAD of [`Algorithm::ALL`].
    pub fn new() -> Self {
        Self {
            sources: Vec::new(),
            sinks: Vec::new(),
            aeads: Algorithm::ALL.to_vec(),
        }
    }

    /// Adds a source.
    pub fn source(mut self, source: MediaSource) -> Self {
        self.sources.push(source);
        self
    }

    /// Adds a sink.
    pub fn sink(mut self, sink: MediaSink) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Restricts the accepted AEADs (e.g. to refuse `NULL`).
    pub fn aeads(mut self, aeads: impl IntoIterator<Item = Algorithm>) -> Self {
        self.aeads = aeads.into_iter().collect();
        self
    }

    /// The source with this `sourceID`.
    pub fn find_source(&self, id: u64) -> Option<&MediaSource> {
        self.sources.iter().find(|s| s.id == id)
    }

    /// The sink with this `sinkID`.
    pub fn find_sink(&self, id: u64) -> Option<&MediaSink> {
        self.sinks.iter().find(|s| s.id == id)
    }

    /// Whether a proposal may use this AEAD.
    pub fn supports_aead(&self, aead: Algorithm) -> bool {
        self.aeads.contains(&aead)
    }

    /// The advertisement (draft §8) of these capabilities, receiving at `receive_at` (the
    /// gathered local candidates). Empty lists are left out. The result is validated, so
    /// duplicate source or sink IDs, IDs above 2^62-1 and empty codec names are errors.
    pub fn advertisement(&self, receive_at: &[Candidate]) -> Result<Advertisement, SignalingError> {
        let sources: Vec<Source> = self
            .sources
            .iter()
            .map(|s| Source {
                source_id: s.id,
                source_type: s.kind.clone(),
                codecs: s.signaling_codecs(),
            })
            .collect();
        let sinks: Vec<Sink> = self
            .sinks
            .iter()
            .map(|s| Sink {
                sink_id: s.id,
                source_type: s.kind.clone(),
                codecs: s.signaling_codecs(),
            })
            .collect();
        let ad = Advertisement {
            receive_at: (!receive_at.is_empty()).then(|| receive_at.to_vec()),
            sources: (!sources.is_empty()).then_some(sources),
            sinks: (!sinks.is_empty()).then_some(sinks),
        };
        ad.validate()?;
        Ok(ad)
    }
}
