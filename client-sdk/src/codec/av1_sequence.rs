//! The AV1 sequence header OBU (AV1 specification §5.5), read as far as the maximum frame
//! size: what the SDK reports as an AV1 stream's encoded width and height.
//!
//! Read: profile, still picture flags, timing and decoder model info (skipped over), the
//! operating points (skipped over), and `max_frame_width_minus_1` /
//! `max_frame_height_minus_1`. Not read: frame ID numbers, tool flags, colour config. The
//! size is the maximum the sequence allows; frames may be smaller (render size and
//! `frame_size_override_flag`), which this does not follow.

use super::av1::{OBU_SEQUENCE_HEADER, Obus};

/// What went wrong while reading a sequence header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequenceHeaderError {
    /// The sequence header ends before a field it must have.
    #[error("AV1 sequence header truncated")]
    Truncated,
    /// A field has a value the specification does not allow.
    #[error("AV1 sequence header field {0} out of range")]
    OutOfRange(&'static str),
}

/// Timing info of a sequence header (§5.5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Av1Timing {
    /// num_units_in_display_tick.
    pub num_units_in_display_tick: u32,
    /// time_scale (Hz).
    pub time_scale: u32,
    /// num_ticks_per_picture_minus_1 + 1 when equal_picture_interval is set.
    pub ticks_per_picture: Option<u64>,
}

/// The sequence header fields the SDK uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceHeader {
    /// seq_profile (0 main, 1 high, 2 professional).
    pub seq_profile: u8,
    /// still_picture.
    pub still_picture: bool,
    /// reduced_still_picture_header.
    pub reduced_still_picture_header: bool,
    /// seq_level_idx of operating point 0.
    pub seq_level_idx: u8,
    /// Timing info, when present.
    pub timing: Option<Av1Timing>,
    /// max_frame_width_minus_1 + 1, in pixels.
    pub max_frame_width: u32,
    /// max_frame_height_minus_1 + 1, in pixels.
    pub max_frame_height: u32,
}

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn f(&mut self, n: u32) -> Result<u32, SequenceHeaderError> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = self
                .data
                .get(self.pos / 8)
                .ok_or(SequenceHeaderError::Truncated)?;
            v = (v << 1) | u32::from((byte >> (7 - self.pos % 8)) & 1);
            self.pos += 1;
        }
        Ok(v)
    }

    fn flag(&mut self) -> Result<bool, SequenceHeaderError> {
        Ok(self.f(1)? == 1)
    }

    /// uvlc() (§4.10.3).
    fn uvlc(&mut self) -> Result<u64, SequenceHeaderError> {
        let mut leading = 0u32;
        while !self.flag()? {
            leading += 1;
            if leading >= 32 {
                return Ok(u64::from(u32::MAX));
            }
        }
        Ok(u64::from(self.f(leading)?) + (1u64 << leading) - 1)
    }
}

impl SequenceHeader {
    /// Parses the payload of a sequence header OBU (e.g. [`super::av1::Obu::payload`]).
    pub fn parse(payload: &[u8]) -> Result<Self, SequenceHeaderError> {
        let mut b = Bits {
            data: payload,
            pos: 0,
        };
        let seq_profile = b.f(3)? as u8;
        if seq_profile > 2 {
            return Err(SequenceHeaderError::OutOfRange("seq_profile"));
        }
        let still_picture = b.flag()?;
        let reduced_still_picture_header = b.flag()?;
        let mut timing = None;
        let seq_level_idx;
        if reduced_still_picture_header {
            seq_level_idx = b.f(5)? as u8;
        } else {
            let mut decoder_model_info_present = false;
            let mut buffer_delay_length = 0;
            if b.flag()? {
                let num_units_in_display_tick = b.f(32)?;
                let time_scale = b.f(32)?;
                let ticks_per_picture = if b.flag()? { Some(b.uvlc()? + 1) } else { None };
                timing = Some(Av1Timing {
                    num_units_in_display_tick,
                    time_scale,
                    ticks_per_picture,
                });
                decoder_model_info_present = b.flag()?;
                if decoder_model_info_present {
                    buffer_delay_length = b.f(5)? + 1;
                    b.f(32)?; // num_units_in_decoding_tick
                    b.f(5)?; // buffer_removal_time_length_minus_1
                    b.f(5)?; // frame_presentation_time_length_minus_1
                }
            }
            let initial_display_delay_present = b.flag()?;
            let operating_points = b.f(5)? + 1;
            let mut level0 = 0;
            for i in 0..operating_points {
                b.f(12)?; // operating_point_idc
                let level = b.f(5)? as u8;
                if i == 0 {
                    level0 = level;
                }
                if level > 7 {
                    b.f(1)?; // seq_tier
                }
                if decoder_model_info_present && b.flag()? {
                    b.f(buffer_delay_length)?; // decoder_buffer_delay
                    b.f(buffer_delay_length)?; // encoder_buffer_delay
                    b.f(1)?; // low_delay_mode_flag
                }
                if initial_display_delay_present && b.flag()? {
                    b.f(4)?; // initial_display_delay_minus_1
                }
            }
            seq_level_idx = level0;
        }
        let width_bits = b.f(4)? + 1;
        let height_bits = b.f(4)? + 1;
        let max_frame_width = b.f(width_bits)? + 1;
        let max_frame_height = b.f(height_bits)? + 1;
        Ok(SequenceHeader {
            seq_profile,
            still_picture,
            reduced_still_picture_header,
            seq_level_idx,
            timing,
            max_frame_width,
            max_frame_height,
        })
    }

    /// The first sequence header OBU of a temporal unit, parsed; `None` when it has none or
    /// its OBUs or the header do not parse.
    pub fn find_in_temporal_unit(temporal_unit: &[u8]) -> Option<Self> {
        Obus::new(temporal_unit)
            .map_while(Result::ok)
            .find(|o| o.header.obu_type == OBU_SEQUENCE_HEADER)
            .and_then(|o| SequenceHeader::parse(o.payload).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Default)]
    struct W(Vec<bool>);

    impl W {
        fn f(&mut self, n: u32, v: u64) -> &mut Self {
            for i in (0..n).rev() {
                self.0.push((v >> i) & 1 == 1);
            }
            self
        }
        fn bytes(&self) -> Vec<u8> {
            self.0
                .chunks(8)
                .map(|c| {
                    let mut b = c.iter().fold(0u8, |a, &x| (a << 1) | u8::from(x));
                    b <<= 8 - c.len();
                    b
                })
                .collect()
        }
    }

    #[test]
    fn reduced_still_picture() {
        let mut w = W::default();
        w.f(3, 0).f(1, 1).f(1, 1).f(5, 8); // profile 0, still, reduced, level 8
        w.f(4, 10).f(4, 9).f(11, 1279).f(10, 719);
        let h = SequenceHeader::parse(&w.bytes()).unwrap();
        assert_eq!((h.max_frame_width, h.max_frame_height), (1280, 720));
        assert!(h.reduced_still_picture_header);
        assert_eq!(h.seq_level_idx, 8);
    }

    #[test]
    fn full_header_with_timing_decoder_model_and_operating_points() {
        let mut w = W::default();
        w.f(3, 1).f(1, 0).f(1, 0);
        w.f(1, 1).f(32, 1001).f(32, 60000).f(1, 1).f(5, 0b00101); // uvlc 2 leading zeros: "00101" = 4
        w.f(1, 1).f(5, 9).f(32, 1).f(5, 4).f(5, 4); // decoder model, buffer delay 10 bits
        w.f(1, 1).f(5, 1); // initial display delay present, 2 operating points
        // op 0: idc, level 9 (> 7: tier), decoder model present, display delay present.
        w.f(12, 0x103)
            .f(5, 9)
            .f(1, 0)
            .f(1, 1)
            .f(10, 5)
            .f(10, 6)
            .f(1, 0)
            .f(1, 1)
            .f(4, 3);
        // op 1: level 4, no model, no delay.
        w.f(12, 0x101).f(5, 4).f(1, 0).f(1, 0);
        w.f(4, 11).f(4, 10).f(12, 1919).f(11, 1079);
        let h = SequenceHeader::parse(&w.bytes()).unwrap();
        assert_eq!(h.seq_profile, 1);
        assert_eq!(h.seq_level_idx, 9);
        assert_eq!(
            h.timing,
            Some(Av1Timing {
                num_units_in_display_tick: 1001,
                time_scale: 60000,
                ticks_per_picture: Some(5),
            })
        );
        assert_eq!((h.max_frame_width, h.max_frame_height), (1920, 1080));
        let bytes = w.bytes();
        for cut in 0..bytes.len() - 1 {
            assert_eq!(
                SequenceHeader::parse(&bytes[..cut]),
                Err(SequenceHeaderError::Truncated),
                "cut {cut}"
            );
        }
        assert_eq!(
            SequenceHeader::parse(&[0xE0]),
            Err(SequenceHeaderError::OutOfRange("seq_profile"))
        );
    }

    #[test]
    fn found_in_a_temporal_unit() {
        let mut w = W::default();
        w.f(3, 0)
            .f(1, 1)
            .f(1, 1)
            .f(5, 0)
            .f(4, 8)
            .f(4, 7)
            .f(9, 319)
            .f(8, 239);
        let payload = w.bytes();
        // Temporal delimiter, then the sequence header, both with size fields.
        let mut tu = vec![0x12, 0x00, 0x0A, payload.len() as u8];
        tu.extend_from_slice(&payload);
        let h = SequenceHeader::find_in_temporal_unit(&tu).unwrap();
        assert_eq!((h.max_frame_width, h.max_frame_height), (320, 240));
        assert_eq!(SequenceHeader::find_in_temporal_unit(&[0x12, 0x00]), None);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(h) = SequenceHeader::parse(&data) {
                prop_assert!(h.max_frame_width >= 1 && h.max_frame_height >= 1);
            }
            let _ = SequenceHeader::find_in_temporal_unit(&data);
        }
    }
}
