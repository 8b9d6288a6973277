//! What the `publish` and `subscribe` examples share: the "container track", a reliable
//! ordered data stream (draft §5.3) that carries what a media file holds beyond the codec
//! bitstream, so the subscriber can write a byte-identical file (PROTOCOL.md, "Media file side
//! information").
//!
//! Every message is one byte of type and its fields, integers as QUIC varints:
//!
//! | type | message | fields |
//! | --- | --- | --- |
//! | 1 | Header | file kind (1 H.264, 2 AV1/IVF, 3 Ogg Opus, 4 µ-law), the container header bytes |
//! | 2 | Frame | frame index, capture time (NTP ms), timestamp (ms from file start), side information bytes |
//! | 3 | End | number of frames |

#![allow(dead_code, missing_docs)]

use anyhow::{Context, bail};
use newmedia_client::codec::media_file::MediaFileKind;
use newmedia_proto::varint;
use std::path::Path;

/// One container-track message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TrackMessage {
    /// The file kind and its container header.
    Header {
        kind: MediaFileKind,
        header: Vec<u8>,
    },
    /// One frame's place in the file.
    Frame {
        index: u64,
        capture_time: u64,
        timestamp_ms: u64,
        side_info: Vec<u8>,
    },
    /// The file had this many frames.
    End { frames: u64 },
}

fn kind_code(kind: MediaFileKind) -> u8 {
    match kind {
        MediaFileKind::H264AnnexB => 1,
        MediaFileKind::Av1Ivf => 2,
        MediaFileKind::OggOpus => 3,
        MediaFileKind::Mulaw => 4,
    }
}

fn kind_of(code: u8) -> anyhow::Result<MediaFileKind> {
    Ok(match code {
        1 => MediaFileKind::H264AnnexB,
        2 => MediaFileKind::Av1Ivf,
        3 => MediaFileKind::OggOpus,
        4 => MediaFileKind::Mulaw,
        other => bail!("unknown file kind {other}"),
    })
}

impl TrackMessage {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            TrackMessage::Header { kind, header } => {
                out.push(1);
                out.push(kind_code(*kind));
                out.extend_from_slice(header);
            }
            TrackMessage::Frame {
                index,
                capture_time,
                timestamp_ms,
                side_info,
            } => {
                out.push(2);
                for v in [*index, *capture_time, *timestamp_ms] {
                    let _ = varint::write(v, &mut out);
                }
                out.extend_from_slice(side_info);
            }
            TrackMessage::End { frames } => {
                out.push(3);
                let _ = varint::write(*frames, &mut out);
            }
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> anyhow::Result<Self> {
        let (&ty, rest) = bytes.split_first().context("empty track message")?;
        Ok(match ty {
            1 => {
                let (&kind, header) = rest.split_first().context("header without kind")?;
                TrackMessage::Header {
                    kind: kind_of(kind)?,
                    header: header.to_vec(),
                }
            }
            2 => {
                let mut r = varint::Reader::new(rest);
                let index = r.varint()?;
                let capture_time = r.varint()?;
                let timestamp_ms = r.varint()?;
                TrackMessage::Frame {
                    index,
                    capture_time,
                    timestamp_ms,
                    side_info: r.remaining().to_vec(),
                }
            }
            3 => TrackMessage::End {
                frames: varint::Reader::new(rest).varint()?,
            },
            other => bail!("unknown track message type {other}"),
        })
    }
}

/// The media file kind of `path`, or a clear error.
pub(crate) fn file_kind(path: &Path) -> anyhow::Result<MediaFileKind> {
    MediaFileKind::from_path(path).with_context(|| {
        format!(
            "{}: unknown media file kind (expected .h264, .ivf, .opus/.ogg or .ulaw)",
            path.display()
        )
    })
}

/// Reads a proposal (draft §8 JSON) from a file.
pub(crate) fn read_proposal(path: &Path) -> anyhow::Result<newmedia_proto::signaling::Proposal> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read proposal {}", path.display()))?;
    newmedia_proto::signaling::Proposal::from_json(&text)
        .with_context(|| format!("{}: not a valid proposal", path.display()))
}
