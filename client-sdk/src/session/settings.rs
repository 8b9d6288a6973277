//! Per-stream settings of the media configuration API (draft §6.4) that the proposal does not
//! carry: the application sets them on the SDK, the proposal's values (bitrate, packet time,
//! size, frame rate) bound them.

use std::time::Duration;

/// How an audio encoder should process its input (draft §6.4 "process as one of").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AudioMode {
    /// Let the encoder decide.
    #[default]
    Auto,
    /// No processing (music production, test signals).
    Raw,
    /// Voice: favour intelligibility and low delay.
    Speech,
    /// Music: favour fidelity.
    Music,
}

/// How a video encoder should trade quality (draft §6.4 "process as one of").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VideoMode {
    /// Let the encoder decide.
    #[default]
    Auto,
    /// Rapidly changing video: keep the frame rate, drop resolution first.
    Motion,
    /// Fine detail (screen content): keep resolution, drop frame rate first.
    Detail,
}

/// Settings of a transmitted audio stream (draft §6.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioSendSettings {
    /// Codec name (from the proposal).
    pub codec: String,
    /// The media source (microphone) connected, its source ID.
    pub source_id: u64,
    /// Max encoded bitrate, bit/s. Default: the proposal's `maxBitrate`, else none.
    pub max_bitrate: Option<u64>,
    /// Sample rate, Hz. Default 48 000 (8 000 for G.711).
    pub sample_rate: u32,
    /// Sample size, bits. Default 16.
    pub sample_size: u32,
    /// Channels to encode. Default 1.
    pub channels: u32,
    /// Packetization time: media per message. Default: the proposal's `packetTime`, else
    /// 20 ms. The publisher sends at most one frame per packet time.
    pub packet_time: Duration,
    /// Processing mode. Default [`AudioMode::Auto`].
    pub mode: AudioMode,
    /// DSCP for the stream's packets (0-63). Default none.
    pub dscp: Option<u8>,
    /// Constant bit rate. Default `false`.
    pub cbr: bool,
}

impl AudioSendSettings {
    /// Defaults for `codec` on `source_id`.
    pub fn new(codec: impl Into<String>, source_id: u64) -> Self {
        let codec = codec.into();
        let sample_rate = if codec.eq_ignore_ascii_case("g711")
            || codec.eq_ignore_ascii_case("pcmu")
            || codec.eq_ignore_ascii_case("pcma")
        {
            8_000
        } else {
            48_000
        };
        Self {
            codec,
            source_id,
            max_bitrate: None,
            sample_rate,
            sample_size: 16,
            channels: 1,
            packet_time: Duration::from_millis(20),
            mode: AudioMode::Auto,
            dscp: None,
            cbr: false,
        }
    }
}

/// Settings of a transmitted video stream (draft §6.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoSendSettings {
    /// Codec name (from the proposal).
    pub codec: String,
    /// The media source (camera) connected, its source ID.
    pub source_id: u64,
    /// Max width, pixels (the proposal's `width`).
    pub max_width: Option<u32>,
    /// Max height, pixels (the proposal's `height`).
    pub max_height: Option<u32>,
    /// Max encoded bitrate, bit/s.
    pub max_bitrate: Option<u64>,
    /// Max pixel rate, pixels/s.
    pub max_pixel_rate: Option<u64>,
    /// Processing mode. Default [`VideoMode::Auto`].
    pub mode: VideoMode,
    /// DSCP for the stream's packets (0-63). Default none.
    pub dscp: Option<u8>,
    /// Layer ID of this encoding for a layered codec; its messages carry it.
    pub layer_id: Option<u64>,
    /// The layer IDs this layer depends on.
    pub depends_on: Vec<u64>,
}

impl VideoSendSettings {
    /// Defaults for `codec` on `source_id`: no limits, automatic mode.
    pub fn new(codec: impl Into<String>, source_id: u64) -> Self {
        Self {
            codec: codec.into(),
            source_id,
            max_width: None,
            max_height: None,
            max_bitrate: None,
            max_pixel_rate: None,
            mode: VideoMode::Auto,
            dscp: None,
            layer_id: None,
            depends_on: Vec::new(),
        }
    }
}

/// Settings of a received stream (draft §6.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiveSettings {
    /// Codec name (from the proposal).
    pub codec: String,
    /// The media sink (speaker, screen) connected, its sink ID.
    pub sink_id: u64,
    /// Play in sync with the other lip-synced streams of the same sender. Default `true` for
    /// audio and video.
    pub lip_sync: bool,
}
