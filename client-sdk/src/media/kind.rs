//! What kind of media a stream carries, as the pacer and the reporter need to know it.

/// The media type of a stream (draft §6.4: audio, video or data streams).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MediaKind {
    /// Audio: small, regular, latency-critical messages.
    Audio,
    /// Video: large, bursty frames.
    Video,
    /// Data messages sent as unreliable datagrams (draft §5.3).
    Data,
}

impl MediaKind {
    /// All kinds, in the pacer's priority order (audio first).
    pub const ALL: [MediaKind; 3] = [MediaKind::Audio, MediaKind::Video, MediaKind::Data];
}
