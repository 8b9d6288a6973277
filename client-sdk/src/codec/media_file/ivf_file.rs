//! AV1 in IVF: one frame per IVF frame (one temporal unit); the file header and each
//! frame's pts travel as side information.

use bytes::Bytes;

use super::side_info::{TAG_IVF_V1, decode_ivf_frame, encode_ivf_frame, untag};
use super::{FileFrame, Framed, MediaFileError};
use crate::codec::av1::TemporalUnit;
use crate::codec::ivf::{IvfReader, write_ivf_frame};

fn ms(pts: u64, num: u32, den: u32) -> u64 {
    let v = u128::from(pts) * u128::from(num) * 1000 / u128::from(den.max(1));
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// Checks the header: an IVF file header of AV1 with a usable timebase.
fn check_header(reader: &IvfReader<'_>) -> Result<(u32, u32), MediaFileError> {
    let h = reader.header();
    if &h.fourcc != b"AV01" {
        return Err(MediaFileError::NotAv1(h.fourcc));
    }
    if h.timebase_num == 0 || h.timebase_den == 0 {
        return Err(MediaFileError::BadTimebase {
            num: h.timebase_num,
            den: h.timebase_den,
        });
    }
    Ok((h.timebase_num, h.timebase_den))
}

pub(super) fn read(data: &Bytes) -> Result<Framed, MediaFileError> {
    let reader = IvfReader::new(data)?;
    let (num, den) = check_header(&reader)?;
    let mut header = vec![TAG_IVF_V1];
    header.extend_from_slice(reader.header_bytes());
    let mut parsed = Vec::new();
    let mut error = None;
    for frame in reader.frames() {
        let step = frame.map_err(MediaFileError::from).and_then(|f| {
            let tu = TemporalUnit::parse(f.data)?;
            let side_info = encode_ivf_frame(f.pts)?;
            Ok((f, tu, side_info))
        });
        match step {
            Ok((f, tu, side_info)) => {
                let layer_id = match (tu.max_spatial_id, tu.max_temporal_id) {
                    (None, None) => None,
                    (s, t) => Some(8 * u64::from(s.unwrap_or(0)) + u64::from(t.unwrap_or(0))),
                };
                let start = f.offset + crate::codec::ivf::IVF_FRAME_HEADER_LEN;
                parsed.push((
                    f.pts,
                    FileFrame {
                        payload: data.slice(start..start + f.data.len()),
                        timestamp_ms: ms(f.pts, num, den),
                        duration_ms: 0,
                        reference: tu.is_key_frame,
                        layer_id,
                        side_info: Bytes::from(side_info),
                    },
                ));
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    // Duration: to the next frame; the last repeats the one before (one tick if alone).
    let pts: Vec<u64> = parsed.iter().map(|(p, _)| *p).collect();
    let mut duration = ms(1, num, den);
    let frames = parsed
        .into_iter()
        .enumerate()
        .map(|(i, (p, mut frame))| {
            if let Some(&next) = pts.get(i + 1) {
                duration = ms(next.saturating_sub(p), num, den);
            }
            frame.duration_ms = u32::try_from(duration).unwrap_or(u32::MAX);
            frame
        })
        .collect();
    Ok(Framed {
        header: Bytes::from(header),
        frames,
        error,
    })
}

/// Writes the kept file header, then each frame with its pts.
#[derive(Debug)]
pub(super) struct Writer {
    out: Vec<u8>,
}

impl Writer {
    pub(super) fn new(header: &[u8]) -> Result<Self, MediaFileError> {
        let file_header = untag(header, TAG_IVF_V1)?;
        let reader = IvfReader::new(file_header)?;
        check_header(&reader)?;
        if reader.header_bytes().len() != file_header.len() {
            return Err(MediaFileError::BadSideInfo {
                reason: "bytes after the IVF file header",
            });
        }
        Ok(Writer {
            out: file_header.to_vec(),
        })
    }

    /// Appends one temporal unit after checking that its OBUs parse.
    pub(super) fn write_frame(
        &mut self,
        payload: &[u8],
        side_info: &[u8],
    ) -> Result<(), MediaFileError> {
        let pts = decode_ivf_frame(side_info)?;
        if payload.is_empty() {
            return Err(MediaFileError::EmptyPayload);
        }
        TemporalUnit::parse(payload)?;
        write_ivf_frame(&mut self.out, pts, payload)?;
        Ok(())
    }

    pub(super) fn finish(self) -> Vec<u8> {
        self.out
    }
}
