//! Lossless framing of media files: a file becomes the frames a publisher sends (each the
//! real codec bitstream) plus *side information* (what the container holds beyond the codec
//! bitstream), and a writer fed the same header and frames rebuilds the file byte for byte.
//!
//! | kind | extensions | one frame | header side info | frame side info |
//! | --- | --- | --- | --- | --- |
//! | [`MediaFileKind::H264AnnexB`] | `.h264` `.264` | one access unit, start codes included | empty | empty |
//! | [`MediaFileKind::Av1Ivf`] | `.ivf` | one temporal unit (one IVF frame) | IVF file header | the frame's pts |
//! | [`MediaFileKind::OggOpus`] | `.opus` `.ogg` | one Opus packet | the header pages | packet index, granule, page boundaries |
//! | [`MediaFileKind::Mulaw`] | `.ulaw` `.mulaw` `.pcmu` | 20 ms = 160 bytes of G.711 µ-law (8 kHz mono; the last may be shorter) | empty | empty |
//!
//! Frames: [`FileFrame::timestamp_ms`] counts from the start of the file:
//! - H.264 Annex B carries no timestamps: frame *i* is at `i * 1000 / fps` ms (decode order),
//!   with the frame rate of the first access unit's SPS VUI timing info
//!   (`time_scale / (2 * num_units_in_tick)`) or else [`ReaderConfig::h264_frame_rate`].
//! - IVF: `pts * timebase_num / timebase_den` seconds.
//! - Ogg Opus: the packet's first sample in 48 kHz granule units (pre-skip included, as RTP
//!   timestamps count), divided by 48; never decreasing, even where a file's granule
//!   positions do.
//! - µ-law: 20 ms per frame.
//!
//! [`FileFrame::duration_ms`] is the time to the next frame (the last video frame repeats
//! the one before it), an Opus packet's TOC duration, or the µ-law bytes / 8.
//! [`FileFrame::reference`] is set on IDR access units, AV1 key frames and every audio
//! frame. [`FileFrame::layer_id`] is set for AV1 temporal units with OBU extension headers:
//! `8 * max spatial_id + max temporal_id`.
//!
//! # Side information formats (version 1)
//!
//! Every non-empty side information starts with a tag byte, `kind << 4 | version`: `0x11`
//! for IVF, `0x21` for Ogg Opus. A reader rejects a tag it does not know. Varints are the
//! protocol's QUIC varints (PROTOCOL.md §1, canonical). The same description, normative for
//! the examples, is PROTOCOL.md §15.
//!
//! - IVF header: `11 | the IVF file header as in the file` (32 bytes, or its declared size).
//! - IVF frame: `11 | varint pts`.
//! - Ogg Opus header: `21 | flags (1 byte; 0x01: the file's last page has EOS) | the pages
//!   before the first page holding audio data, as in the file` (the `OpusHead` page, the
//!   `OpusTags` pages and any empty pages after them).
//! - Ogg Opus frame: `21 | varint packet | varint granule | varint n | n page breaks`, each
//!   `varint k | header_type (1 byte) | extras (1 byte) | [granule u64le if extras & 1] |
//!   [sequence u32le if extras & 2]`.
//!
//! The Ogg Opus frame fields: `packet` is the packet's index among the audio packets (from
//! 0), so a writer sees where packets are missing. `granule` is the granule position a page
//! ending right after this packet carries: exactly the page's when the packet is the last to end on its page;
//! else the later of the previous packet's plus this packet's duration and the page's minus
//! the durations of the packets after it on the page, but at most the page's. A page break
//! says a page ends after `k` of the packet's lacing values (`1 <= k <= len / 255 + 1`,
//! non-decreasing; several breaks at one `k` are empty pages). `header_type` is the page's,
//! with the continued flag 0x01 clear (the writer derives it). The writer derives a page's
//! granule position (that of the last packet ending on it, or -1) and sequence number (the
//! previous page's plus one); `extras` carries them only where the file differs.
//!
//! # Lost frames
//!
//! A writer given only some of the frames (in order) still writes a valid file:
//! H.264 and IVF simply lack the missing frames (the IVF header is kept as given); µ-law
//! fills a gap in the timestamps with silence (0xFF), up to [`MAX_GAP_MS`], so later audio
//! keeps its time. Ogg Opus sees missing packets from the packet index and puts packets of
//! zero-length frames in their place (RFC 7845 §4.1: decoders conceal them; the previous
//! packet's configuration, then CELT 2.5 ms frames), so granule positions stay gapless and
//! every packet keeps its time; packets lost before the first one written are not
//! replaced (the stream then starts later, which RFC 7845 allows). Pages whose boundary a
//! missing packet carried merge with the next (split at 255 segments), sequence numbers
//! stay consecutive, and the last page gets EOS when the original's did. Ogg Opus frames
//! must come in packet order: a repeated or earlier packet index is refused.
//!
//! What it does not do: multiplexed or chained Ogg streams (one logical stream only), Ogg
//! files whose audio starts on the page where `OpusTags` ends (RFC 7845 forbids it), IVF
//! files of codecs other than AV1, or seeking.

mod annexb;
mod ivf_file;
mod mulaw;
mod ogg_opus_reader;
mod ogg_opus_writer;
mod side_info;

use std::path::Path;

use bytes::Bytes;

use super::av1::Av1Error;
use super::av1_sequence::SequenceHeader;
use super::h264::{H264Error, NAL_SPS, NalUnits};
use super::h264_sps::SequenceParameterSet;
use super::ivf::IvfError;
use super::ogg::OggError;
use super::opus::OpusError;

/// Longest run of missing audio a writer fills (µ-law: silence, Opus: concealment
/// packets), in ms (60 s); a longer gap is refused.
pub const MAX_GAP_MS: u64 = 60_000;
/// µ-law bytes per frame: 20 ms at 8 kHz.
pub const MULAW_FRAME_BYTES: usize = 160;

/// The kinds of media file this module frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaFileKind {
    /// H.264 Annex B byte stream (`.h264`, `.264`).
    H264AnnexB,
    /// AV1 in IVF (`.ivf`).
    Av1Ivf,
    /// Opus in Ogg (`.opus`, `.ogg`).
    OggOpus,
    /// Raw G.711 µ-law, 8 kHz mono (`.ulaw`, `.mulaw`, `.pcmu`).
    Mulaw,
}

impl MediaFileKind {
    /// The kind a file extension (without the dot, any case) stands for.
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "h264" | "264" => Some(MediaFileKind::H264AnnexB),
            "ivf" => Some(MediaFileKind::Av1Ivf),
            "opus" | "ogg" => Some(MediaFileKind::OggOpus),
            "ulaw" | "mulaw" | "pcmu" => Some(MediaFileKind::Mulaw),
            _ => None,
        }
    }

    /// The kind of a file by its extension.
    pub fn from_path(path: &Path) -> Option<Self> {
        Self::from_extension(path.extension()?.to_str()?)
    }

    /// The codec name signaling uses for it (PROTOCOL.md §10): `h264`, `av1`, `opus`, `g711`.
    pub fn codec_name(self) -> &'static str {
        match self {
            MediaFileKind::H264AnnexB => "h264",
            MediaFileKind::Av1Ivf => "av1",
            MediaFileKind::OggOpus => "opus",
            MediaFileKind::Mulaw => "g711",
        }
    }

    /// Whether it is a video kind.
    pub fn is_video(self) -> bool {
        matches!(self, MediaFileKind::H264AnnexB | MediaFileKind::Av1Ivf)
    }
}

/// One frame of a media file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFrame {
    /// The codec bitstream of the frame (shares the file's buffer when it can).
    pub payload: Bytes,
    /// Time of the frame from the start of the file, in ms (see the module docs).
    pub timestamp_ms: u64,
    /// Duration in ms.
    pub duration_ms: u32,
    /// IDR, AV1 key frame, or audio.
    pub reference: bool,
    /// AV1 layer (`8 * spatial_id + temporal_id`) when the temporal unit says.
    pub layer_id: Option<u64>,
    /// Container information for this frame (possibly empty), for [`MediaFileWriter`].
    pub side_info: Bytes,
}

/// What went wrong while framing or rebuilding a media file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaFileError {
    /// The H.264 byte stream does not parse.
    #[error(transparent)]
    H264(#[from] H264Error),
    /// The IVF container does not parse.
    #[error(transparent)]
    Ivf(#[from] IvfError),
    /// An AV1 temporal unit does not parse.
    #[error(transparent)]
    Av1(#[from] Av1Error),
    /// The Ogg container does not parse.
    #[error(transparent)]
    Ogg(#[from] OggError),
    /// An Opus packet does not parse.
    #[error(transparent)]
    Opus(#[from] OpusError),
    /// The IVF file is not AV1.
    #[error("IVF codec {0:?} is not AV1 (AV01)")]
    NotAv1([u8; 4]),
    /// The IVF timebase has a zero field.
    #[error("IVF timebase {num}/{den} has a zero field")]
    BadTimebase {
        /// Numerator.
        num: u32,
        /// Denominator.
        den: u32,
    },
    /// The Ogg file is not one Ogg Opus stream this module can frame.
    #[error("not a supported Ogg Opus file: {reason}")]
    NotOggOpus {
        /// Why.
        reason: &'static str,
    },
    /// A page of the Ogg Opus file breaks a rule of RFC 3533/7845.
    #[error("Ogg Opus page at offset {offset}: {reason}")]
    BadOggOpusPage {
        /// Offset of the page.
        offset: usize,
        /// Which rule.
        reason: &'static str,
    },
    /// A value does not fit the side information's varint (2^62 - 1).
    #[error("{what} {value} does not fit a varint")]
    ValueTooLarge {
        /// What value.
        what: &'static str,
        /// The value.
        value: u64,
    },
    /// Side information is malformed.
    #[error("bad side information: {reason}")]
    BadSideInfo {
        /// What is wrong.
        reason: &'static str,
    },
    /// Side information of a kind or version this writer does not know.
    #[error("unsupported side information (tag {tag:#04x})")]
    UnsupportedSideInfo {
        /// The tag byte.
        tag: u8,
    },
    /// A frame's payload is empty where the kind needs bytes.
    #[error("empty frame payload")]
    EmptyPayload,
    /// A µ-law frame's timestamp is before the end of the audio already written.
    #[error("µ-law frame at {timestamp_ms} ms, but the audio written runs to {written_ms} ms")]
    TimestampWentBack {
        /// The frame's timestamp.
        timestamp_ms: u64,
        /// End of the audio written so far.
        written_ms: u64,
    },
    /// A gap in the audio longer than [`MAX_GAP_MS`].
    #[error("audio gap of {0} ms is longer than the {MAX_GAP_MS} ms a writer fills")]
    GapTooLong(u64),
    /// An Ogg Opus frame whose packet index is not after the last one written (a duplicate
    /// or a reordered frame).
    #[error("Ogg Opus packet {index} after packet {expected} was due")]
    PacketOutOfOrder {
        /// The frame's packet index.
        index: u64,
        /// The index the writer expected (the last written plus one).
        expected: u64,
    },
    /// A frame arrived after the page that ended the Ogg stream.
    #[error("Ogg Opus frame after the end-of-stream page")]
    FrameAfterEos,
}

/// Reader settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderConfig {
    h264_frame_rate: (u32, u32),
}

impl Default for ReaderConfig {
    fn default() -> Self {
        ReaderConfig {
            h264_frame_rate: (30, 1),
        }
    }
}

impl ReaderConfig {
    /// Frame rate of H.264 streams whose SPS has no VUI timing info, as frames per
    /// `per_seconds` seconds (e.g. `(30000, 1001)`). Default 30 frames per 1 s. Zero fields
    /// are replaced by 1.
    pub fn h264_frame_rate(mut self, frames: u32, per_seconds: u32) -> Self {
        self.h264_frame_rate = (frames.max(1), per_seconds.max(1));
        self
    }
}

/// Splits a media file held in memory into its header side information and frames.
///
/// The whole file is framed when the reader is made (frames share the file's buffer); a
/// file that stops parsing part-way yields the frames before the fault and then the error.
#[derive(Debug, Clone)]
pub struct MediaFileReader {
    kind: MediaFileKind,
    header: Bytes,
    frames: std::vec::IntoIter<FileFrame>,
    error: Option<MediaFileError>,
}

/// What each format's reader produces.
struct Framed {
    header: Bytes,
    frames: Vec<FileFrame>,
    error: Option<MediaFileError>,
}

impl MediaFileReader {
    /// Frames `data` as a file of `kind` with the default [`ReaderConfig`]. Fails when the
    /// file's header does not parse.
    pub fn new(kind: MediaFileKind, data: Bytes) -> Result<Self, MediaFileError> {
        Self::with_config(kind, data, &ReaderConfig::default())
    }

    /// Frames `data` as a file of `kind`.
    pub fn with_config(
        kind: MediaFileKind,
        data: Bytes,
        config: &ReaderConfig,
    ) -> Result<Self, MediaFileError> {
        let framed = match kind {
            MediaFileKind::H264AnnexB => annexb::read(&data, config.h264_frame_rate),
            MediaFileKind::Av1Ivf => ivf_file::read(&data)?,
            MediaFileKind::OggOpus => ogg_opus_reader::read(&data)?,
            MediaFileKind::Mulaw => mulaw::read(&data),
        };
        Ok(MediaFileReader {
            kind,
            header: framed.header,
            frames: framed.frames.into_iter(),
            error: framed.error,
        })
    }

    /// The kind of file.
    pub fn kind(&self) -> MediaFileKind {
        self.kind
    }

    /// The header side information (empty for H.264 and µ-law), for
    /// [`MediaFileWriter::new`].
    pub fn header(&self) -> Bytes {
        self.header.clone()
    }

    /// Frames not yet returned by [`Self::next_frame`].
    pub fn remaining(&self) -> usize {
        self.frames.len()
    }

    /// The next frame; `Ok(None)` at the end, an error once if the file is damaged there.
    pub fn next_frame(&mut self) -> Result<Option<FileFrame>, MediaFileError> {
        match self.frames.next() {
            Some(f) => Ok(Some(f)),
            None => match self.error.take() {
                Some(e) => Err(e),
                None => Ok(None),
            },
        }
    }
}

impl Iterator for MediaFileReader {
    type Item = Result<FileFrame, MediaFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_frame().transpose()
    }
}

#[derive(Debug)]
enum Writer {
    H264(annexb::Writer),
    Ivf(ivf_file::Writer),
    Ogg(Box<ogg_opus_writer::Writer>),
    Mulaw(mulaw::Writer),
}

/// Rebuilds a media file from its header side information and frames (in order); with all
/// the frames a reader produced, byte for byte the file it read.
#[derive(Debug)]
pub struct MediaFileWriter {
    kind: MediaFileKind,
    writer: Writer,
}

impl MediaFileWriter {
    /// A writer of `kind` starting from `header` (the reader's [`MediaFileReader::header`]).
    pub fn new(kind: MediaFileKind, header: &[u8]) -> Result<Self, MediaFileError> {
        let writer = match kind {
            MediaFileKind::H264AnnexB => Writer::H264(annexb::Writer::new(header)?),
            MediaFileKind::Av1Ivf => Writer::Ivf(ivf_file::Writer::new(header)?),
            MediaFileKind::OggOpus => Writer::Ogg(Box::new(ogg_opus_writer::Writer::new(header)?)),
            MediaFileKind::Mulaw => Writer::Mulaw(mulaw::Writer::new(header)?),
        };
        Ok(MediaFileWriter { kind, writer })
    }

    /// The kind of file.
    pub fn kind(&self) -> MediaFileKind {
        self.kind
    }

    /// Appends one frame: its payload, its timestamp (used by µ-law to fill gaps) and its
    /// side information. A frame that is rejected leaves the file as it was.
    pub fn write_frame(
        &mut self,
        payload: &[u8],
        timestamp_ms: u64,
        side_info: &[u8],
    ) -> Result<(), MediaFileError> {
        match &mut self.writer {
            Writer::H264(w) => w.write_frame(payload, side_info),
            Writer::Ivf(w) => w.write_frame(payload, side_info),
            Writer::Ogg(w) => w.write_frame(payload, side_info),
            Writer::Mulaw(w) => w.write_frame(payload, timestamp_ms, side_info),
        }
    }

    /// Appends a frame as a reader produced it.
    pub fn write_file_frame(&mut self, frame: &FileFrame) -> Result<(), MediaFileError> {
        self.write_frame(&frame.payload, frame.timestamp_ms, &frame.side_info)
    }

    /// Finishes the file (Ogg: the last page) and returns its bytes.
    pub fn finish(self) -> Result<Vec<u8>, MediaFileError> {
        match self.writer {
            Writer::H264(w) => Ok(w.finish()),
            Writer::Ivf(w) => Ok(w.finish()),
            Writer::Ogg(w) => w.finish(),
            Writer::Mulaw(w) => Ok(w.finish()),
        }
    }
}

/// Rejects non-empty side information for kinds that have none.
fn expect_no_side_info(side_info: &[u8]) -> Result<(), MediaFileError> {
    match side_info.first() {
        None => Ok(()),
        Some(&tag) => Err(MediaFileError::UnsupportedSideInfo { tag }),
    }
}

/// The coded picture size a video frame announces: from the SPS of an H.264 access unit
/// (cropped size) or the sequence header of an AV1 temporal unit (max frame size). `None`
/// for audio, and for frames without an SPS or sequence header (only key frames carry one)
/// or whose SPS or sequence header does not parse.
pub fn video_size(kind: MediaFileKind, payload: &[u8]) -> Option<(u32, u32)> {
    match kind {
        MediaFileKind::H264AnnexB => NalUnits::new(payload)
            .map_while(Result::ok)
            .find(|n| n.header.nal_unit_type == NAL_SPS)
            .and_then(|n| SequenceParameterSet::parse(n.nal).ok())
            .map(|s| s.size()),
        MediaFileKind::Av1Ivf => SequenceHeader::find_in_temporal_unit(payload)
            .map(|h| (h.max_frame_width, h.max_frame_height)),
        MediaFileKind::OggOpus | MediaFileKind::Mulaw => None,
    }
}

#[cfg(test)]
mod tests;
