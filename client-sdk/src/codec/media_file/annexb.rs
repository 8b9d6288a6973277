//! H.264 Annex B files: one frame per access unit, no side information.

use bytes::Bytes;

use super::{FileFrame, Framed, MediaFileError, expect_no_side_info};
use crate::codec::h264::{AccessUnits, NAL_SPS, NalUnits};
use crate::codec::h264_sps::SequenceParameterSet;

/// Milliseconds from the start of frame `index` at `rate` = (frames, per seconds).
fn frame_time_ms(index: u64, rate: (u32, u32)) -> u64 {
    let (frames, seconds) = (u128::from(rate.0.max(1)), u128::from(rate.1));
    u64::try_from(u128::from(index) * 1000 * seconds / frames).unwrap_or(u64::MAX)
}

/// Frames an Annex B byte stream; the frame rate comes from the first access unit's SPS
/// when it has VUI timing info, else `fallback`.
pub(super) fn read(data: &Bytes, fallback: (u32, u32)) -> Framed {
    let mut units = Vec::new();
    let mut error = None;
    for au in AccessUnits::new(data) {
        match au {
            Ok(au) => units.push((au.range(), au.is_idr)),
            Err(e) => {
                error = Some(MediaFileError::H264(e));
                break;
            }
        }
    }
    let rate = units
        .first()
        .and_then(|(range, _)| {
            NalUnits::new(data.get(range.clone())?)
                .map_while(Result::ok)
                .find(|n| n.header.nal_unit_type == NAL_SPS)
        })
        .and_then(|n| SequenceParameterSet::parse(n.nal).ok())
        .and_then(|sps| sps.frame_rate())
        .unwrap_or(fallback);
    let frames = units
        .into_iter()
        .enumerate()
        .map(|(i, (range, is_idr))| {
            let start = frame_time_ms(i as u64, rate);
            let end = frame_time_ms(i as u64 + 1, rate);
            FileFrame {
                payload: data.slice(range),
                timestamp_ms: start,
                duration_ms: u32::try_from(end - start).unwrap_or(u32::MAX),
                reference: is_idr,
                layer_id: None,
                side_info: Bytes::new(),
            }
        })
        .collect();
    Framed {
        header: Bytes::new(),
        frames,
        error,
    }
}

/// Concatenates access units.
#[derive(Debug, Default)]
pub(super) struct Writer {
    out: Vec<u8>,
}

impl Writer {
    pub(super) fn new(header: &[u8]) -> Result<Self, MediaFileError> {
        expect_no_side_info(header)?;
        Ok(Writer::default())
    }

    /// Appends one access unit after checking that its NAL units parse.
    pub(super) fn write_frame(
        &mut self,
        payload: &[u8],
        side_info: &[u8],
    ) -> Result<(), MediaFileError> {
        expect_no_side_info(side_info)?;
        if payload.is_empty() {
            return Err(MediaFileError::EmptyPayload);
        }
        for nal in NalUnits::new(payload) {
            nal?;
        }
        self.out.extend_from_slice(payload);
        Ok(())
    }

    pub(super) fn finish(self) -> Vec<u8> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_times() {
        assert_eq!(frame_time_ms(0, (30, 1)), 0);
        assert_eq!(frame_time_ms(1, (30, 1)), 33);
        assert_eq!(frame_time_ms(3, (30, 1)), 100);
        assert_eq!(frame_time_ms(1, (60, 2)), 33);
        assert_eq!(frame_time_ms(1001, (30000, 1001)), 33_400);
        assert_eq!(frame_time_ms(u64::MAX, (1, 1000)), u64::MAX);
    }
}
