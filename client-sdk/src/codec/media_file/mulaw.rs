//! Raw µ-law (8 kHz mono): 160-byte (20 ms) frames, no side information; the writer fills
//! gaps in the timestamps with silence.

use bytes::Bytes;

use super::{
    FileFrame, Framed, MAX_GAP_MS, MULAW_FRAME_BYTES, MediaFileError, expect_no_side_info,
};

/// µ-law bytes per ms at 8 kHz.
const BYTES_PER_MS: u64 = 8;
/// The µ-law code of a zero sample (G.711: 0 encodes as 0xFF).
const SILENCE: u8 = 0xFF;

pub(super) fn read(data: &Bytes) -> Framed {
    let frames = (0..data.len())
        .step_by(MULAW_FRAME_BYTES)
        .enumerate()
        .map(|(i, start)| {
            let end = (start + MULAW_FRAME_BYTES).min(data.len());
            FileFrame {
                payload: data.slice(start..end),
                timestamp_ms: i as u64 * (MULAW_FRAME_BYTES as u64 / BYTES_PER_MS),
                duration_ms: ((end - start) as u64 / BYTES_PER_MS) as u32,
                reference: true,
                layer_id: None,
                side_info: Bytes::new(),
            }
        })
        .collect();
    Framed {
        header: Bytes::new(),
        frames,
        error: None,
    }
}

/// Appends audio, with silence for missing time.
#[derive(Debug, Default)]
pub(super) struct Writer {
    out: Vec<u8>,
}

impl Writer {
    pub(super) fn new(header: &[u8]) -> Result<Self, MediaFileError> {
        expect_no_side_info(header)?;
        Ok(Writer::default())
    }

    pub(super) fn write_frame(
        &mut self,
        payload: &[u8],
        timestamp_ms: u64,
        side_info: &[u8],
    ) -> Result<(), MediaFileError> {
        expect_no_side_info(side_info)?;
        let written_ms = self.out.len() as u64 / BYTES_PER_MS;
        let gap =
            timestamp_ms
                .checked_sub(written_ms)
                .ok_or(MediaFileError::TimestampWentBack {
                    timestamp_ms,
                    written_ms,
                })?;
        if gap > MAX_GAP_MS {
            return Err(MediaFileError::GapTooLong(gap));
        }
        let fill = (gap * BYTES_PER_MS) as usize;
        self.out.resize(self.out.len() + fill, SILENCE);
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
    fn silence_is_the_code_of_zero() {
        assert_eq!(crate::codec::g711::mulaw_encode(0), SILENCE);
    }

    #[test]
    fn gaps_are_filled_and_going_back_is_refused() {
        let mut w = Writer::new(&[]).unwrap();
        w.write_frame(&[1; 160], 0, &[]).unwrap();
        w.write_frame(&[2; 160], 40, &[]).unwrap(); // 20..40 ms missing
        assert_eq!(
            w.write_frame(&[3; 160], 40, &[]),
            Err(MediaFileError::TimestampWentBack {
                timestamp_ms: 40,
                written_ms: 60
            })
        );
        assert_eq!(
            w.write_frame(&[3; 160], 60 + MAX_GAP_MS + 1, &[]),
            Err(MediaFileError::GapTooLong(MAX_GAP_MS + 1))
        );
        assert!(w.write_frame(&[3; 160], 60, &[0x11]).is_err());
        let out = w.finish();
        assert_eq!(out.len(), 480);
        assert!(out[..160].iter().all(|&b| b == 1));
        assert!(out[160..320].iter().all(|&b| b == SILENCE));
        assert!(out[320..].iter().all(|&b| b == 2));
    }
}
