//! The Ogg Opus header packets (RFC 7845 §5): the identification header `OpusHead` and the
//! comment header `OpusTags`, and the timing rules around them (pre-skip, granule positions
//! in 48 kHz samples, §4).

use super::OggError;

/// Magic signature of the identification header.
pub const OPUS_HEAD_MAGIC: [u8; 8] = *b"OpusHead";
/// Magic signature of the comment header.
pub const OPUS_TAGS_MAGIC: [u8; 8] = *b"OpusTags";
/// Granule positions of Ogg Opus count samples at this rate, whatever the input rate.
pub const GRANULE_RATE: u32 = 48_000;

/// The channel mapping table of a mapping family other than 0 (RFC 7845 §5.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelMapping {
    /// Number of Opus streams in each packet (N >= 1).
    pub stream_count: u8,
    /// How many of them are coupled (stereo) streams (M <= N).
    pub coupled_count: u8,
    /// For each output channel, the decoded channel it comes from (255: silence).
    pub mapping: Vec<u8>,
}

/// The identification header (RFC 7845 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusHead {
    /// Version; the upper four bits (major version) must be 0. Files have 1.
    pub version: u8,
    /// Output channel count, at least 1.
    pub channels: u8,
    /// Samples (at 48 kHz) to discard from the decoder output at the start.
    pub pre_skip: u16,
    /// Sample rate of the original input, informational (0: unspecified).
    pub input_sample_rate: u32,
    /// Gain to apply to the output, Q7.8 dB.
    pub output_gain: i16,
    /// Channel mapping family: 0 (mono/stereo, RTP order), 1 (Vorbis order), 255, ...
    pub mapping_family: u8,
    /// The mapping table, present when `mapping_family` is not 0.
    pub mapping: Option<ChannelMapping>,
}

fn bad(reason: &'static str) -> OggError {
    OggError::BadOpusHeader { reason }
}

fn array<const N: usize>(b: &[u8]) -> Result<[u8; N], OggError> {
    b.try_into().map_err(|_| bad("OpusHead truncated"))
}

impl OpusHead {
    /// Parses an `OpusHead` packet. Bytes after the fields RFC 7845 defines are allowed (a
    /// later minor version may add fields) and ignored.
    pub fn parse(packet: &[u8]) -> Result<Self, OggError> {
        if packet.get(..8) != Some(&OPUS_HEAD_MAGIC[..]) {
            return Err(bad("OpusHead magic missing"));
        }
        let field = |at: usize, n: usize| packet.get(at..at + n).ok_or(bad("OpusHead truncated"));
        let &[version, channels] = field(8, 2)? else {
            return Err(bad("OpusHead truncated"));
        };
        if version >> 4 != 0 {
            return Err(bad("OpusHead major version is not 0"));
        }
        if channels == 0 {
            return Err(bad("OpusHead channel count is 0"));
        }
        let pre_skip = u16::from_le_bytes(array(field(10, 2)?)?);
        let input_sample_rate = u32::from_le_bytes(array(field(12, 4)?)?);
        let output_gain = i16::from_le_bytes(array(field(16, 2)?)?);
        let &[mapping_family] = field(18, 1)? else {
            return Err(bad("OpusHead truncated"));
        };
        let mapping = if mapping_family == 0 {
            if channels > 2 {
                return Err(bad("mapping family 0 with more than 2 channels"));
            }
            None
        } else {
            let &[stream_count, coupled_count] = field(19, 2)? else {
                return Err(bad("OpusHead truncated"));
            };
            if stream_count == 0 {
                return Err(bad("OpusHead stream count is 0"));
            }
            if coupled_count > stream_count {
                return Err(bad("OpusHead coupled count above stream count"));
            }
            let mapping = field(21, usize::from(channels))?.to_vec();
            let decoded = u16::from(stream_count) + u16::from(coupled_count);
            if mapping.iter().any(|&m| m != 255 && u16::from(m) >= decoded) {
                return Err(bad("OpusHead channel mapping out of range"));
            }
            Some(ChannelMapping {
                stream_count,
                coupled_count,
                mapping,
            })
        };
        Ok(OpusHead {
            version,
            channels,
            pre_skip,
            input_sample_rate,
            output_gain,
            mapping_family,
            mapping,
        })
    }

    /// Appends the packet (19 bytes, plus the mapping table when present).
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&OPUS_HEAD_MAGIC);
        out.push(self.version);
        out.push(self.channels);
        out.extend_from_slice(&self.pre_skip.to_le_bytes());
        out.extend_from_slice(&self.input_sample_rate.to_le_bytes());
        out.extend_from_slice(&self.output_gain.to_le_bytes());
        out.push(self.mapping_family);
        if let Some(m) = &self.mapping {
            out.push(m.stream_count);
            out.push(m.coupled_count);
            out.extend_from_slice(&m.mapping);
        }
    }

    /// The PCM sample position (48 kHz, pre-skip removed) a granule position stands for;
    /// `None` for positions before the pre-skip ends.
    pub fn pcm_position(&self, granule_position: u64) -> Option<u64> {
        granule_position.checked_sub(u64::from(self.pre_skip))
    }
}

/// The comment header (RFC 7845 §5.2): vendor string and `NAME=value` comments, borrowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusTags<'a> {
    /// The vendor string (UTF-8 by the RFC; kept as bytes).
    pub vendor: &'a [u8],
    /// The user comments, each `NAME=value` (kept as bytes).
    pub comments: Vec<&'a [u8]>,
    /// Bytes after the comments (binary data when the first has its lowest bit set).
    pub extra: &'a [u8],
}

impl<'a> OpusTags<'a> {
    /// Parses an `OpusTags` packet.
    pub fn parse(packet: &'a [u8]) -> Result<Self, OggError> {
        if packet.get(..8) != Some(&OPUS_TAGS_MAGIC[..]) {
            return Err(bad("OpusTags magic missing"));
        }
        let mut pos = 8usize;
        let mut take = |n: usize| -> Result<&'a [u8], OggError> {
            let s = packet
                .get(pos..pos.checked_add(n).ok_or(bad("OpusTags truncated"))?)
                .ok_or(bad("OpusTags truncated"))?;
            pos += n;
            Ok(s)
        };
        let len = |b: &[u8]| -> usize {
            b.try_into()
                .map(u32::from_le_bytes)
                .map(|n| n as usize)
                .unwrap_or(usize::MAX)
        };
        let vendor_len = len(take(4)?);
        let vendor = take(vendor_len)?;
        let count = len(take(4)?);
        // Each comment takes at least its 4-byte length: bound the count by the packet.
        if count > packet.len() / 4 {
            return Err(bad("OpusTags comment count larger than the packet"));
        }
        let mut comments = Vec::with_capacity(count);
        for _ in 0..count {
            let n = len(take(4)?);
            comments.push(take(n)?);
        }
        let extra = packet.get(pos..).unwrap_or_default();
        Ok(OpusTags {
            vendor,
            comments,
            extra,
        })
    }

    /// Appends the packet.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), OggError> {
        let len = |n: usize| u32::try_from(n).map_err(|_| bad("OpusTags field too long"));
        out.extend_from_slice(&OPUS_TAGS_MAGIC);
        out.extend_from_slice(&len(self.vendor.len())?.to_le_bytes());
        out.extend_from_slice(self.vendor);
        out.extend_from_slice(&len(self.comments.len())?.to_le_bytes());
        for c in &self.comments {
            out.extend_from_slice(&len(c.len())?.to_le_bytes());
            out.extend_from_slice(c);
        }
        out.extend_from_slice(self.extra);
        Ok(())
    }
}
