//! The H.264 sequence parameter set (ITU-T H.264 §7.3.2.1.1 and Annex E.1.1), read as far as
//! the VUI timing information: what the SDK needs to report a stream's coded size and frame
//! rate (the receive metrics' encoded width/height; timestamps for Annex B files, which carry
//! none).
//!
//! Read: profile and level, chroma format and bit depths (high profiles), scaling matrices
//! (skipped over), frame_num and picture order count fields (skipped over), the picture size
//! in macroblocks, frame/field coding, the cropping rectangle, and from the VUI the aspect
//! ratio, video signal and chroma location fields (skipped over) and the timing information.
//! Not read: the HRD parameters and everything after them.

/// What went wrong while reading an SPS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpsError {
    /// The NAL unit is not an SPS (type 7).
    #[error("NAL unit type {0} is not a sequence parameter set (7)")]
    NotSps(u8),
    /// The SPS ends before a field it must have.
    #[error("sequence parameter set truncated")]
    Truncated,
    /// An Exp-Golomb code has more than 31 leading zero bits.
    #[error("Exp-Golomb code too long in the sequence parameter set")]
    ExpGolombTooLong,
    /// A field has a value the standard does not allow.
    #[error("sequence parameter set field {0} out of range")]
    OutOfRange(&'static str),
}

/// VUI timing information (Annex E.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpsTiming {
    /// num_units_in_tick.
    pub num_units_in_tick: u32,
    /// time_scale (Hz).
    pub time_scale: u32,
    /// fixed_frame_rate_flag.
    pub fixed_frame_rate: bool,
}

/// The SPS fields the SDK uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceParameterSet {
    /// profile_idc (66 baseline, 77 main, 100 high, ...).
    pub profile_idc: u8,
    /// The constraint_set flags byte.
    pub constraint_flags: u8,
    /// level_idc (e.g. 31 for level 3.1).
    pub level_idc: u8,
    /// seq_parameter_set_id.
    pub id: u32,
    /// chroma_format_idc: 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4.
    pub chroma_format_idc: u32,
    /// separate_colour_plane_flag.
    pub separate_colour_plane: bool,
    /// Luma bit depth.
    pub bit_depth_luma: u32,
    /// Chroma bit depth.
    pub bit_depth_chroma: u32,
    /// pic_width_in_mbs_minus1 + 1.
    pub width_in_mbs: u32,
    /// pic_height_in_map_units_minus1 + 1.
    pub height_in_map_units: u32,
    /// frame_mbs_only_flag.
    pub frame_mbs_only: bool,
    /// frame_crop_{left,right,top,bottom}_offset, in crop units.
    pub crop: [u32; 4],
    /// The VUI timing information, when the SPS has a VUI with timing_info_present_flag.
    pub timing: Option<SpsTiming>,
}

/// Profiles whose SPS carries chroma format, bit depth and scaling matrix fields.
const HIGH_PROFILES: [u8; 12] = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134];

/// A bit reader over the RBSP of a NAL unit (emulation prevention bytes removed first).
struct Bits {
    rbsp: Vec<u8>,
    pos: usize,
}

impl Bits {
    fn new(nal_payload: &[u8]) -> Self {
        let mut rbsp = Vec::with_capacity(nal_payload.len());
        let mut zeros = 0;
        for &b in nal_payload {
            if zeros >= 2 && b == 3 {
                zeros = 0;
                continue;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            rbsp.push(b);
        }
        Bits { rbsp, pos: 0 }
    }

    fn bit(&mut self) -> Result<bool, SpsError> {
        let byte = self.rbsp.get(self.pos / 8).ok_or(SpsError::Truncated)?;
        let b = (byte >> (7 - self.pos % 8)) & 1 == 1;
        self.pos += 1;
        Ok(b)
    }

    fn bits(&mut self, n: u32) -> Result<u32, SpsError> {
        let mut v = 0u32;
        for _ in 0..n {
            v = (v << 1) | u32::from(self.bit()?);
        }
        Ok(v)
    }

    fn ue(&mut self) -> Result<u32, SpsError> {
        let mut zeros = 0;
        while !self.bit()? {
            zeros += 1;
            if zeros > 31 {
                return Err(SpsError::ExpGolombTooLong);
            }
        }
        let suffix = u64::from(self.bits(zeros)?);
        u32::try_from((1u64 << zeros) - 1 + suffix).map_err(|_| SpsError::ExpGolombTooLong)
    }

    fn se(&mut self) -> Result<i64, SpsError> {
        let k = i64::from(self.ue()?);
        Ok(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }

    /// ue(v) that must be at most `max`.
    fn ue_max(&mut self, max: u32, field: &'static str) -> Result<u32, SpsError> {
        let v = self.ue()?;
        if v > max {
            return Err(SpsError::OutOfRange(field));
        }
        Ok(v)
    }
}

fn skip_scaling_list(bits: &mut Bits, size: usize) -> Result<(), SpsError> {
    let (mut last, mut next) = (8i64, 8i64);
    for _ in 0..size {
        if next != 0 {
            let delta = bits.se()?;
            if !(-128..=127).contains(&delta) {
                return Err(SpsError::OutOfRange("delta_scale"));
            }
            next = (last + delta + 256) % 256;
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

impl SequenceParameterSet {
    /// Parses an SPS NAL unit: header byte and payload as in the byte stream (emulation
    /// prevention bytes still in), e.g. [`super::h264::NalUnit::nal`].
    pub fn parse(nal: &[u8]) -> Result<Self, SpsError> {
        let (&header, payload) = nal.split_first().ok_or(SpsError::Truncated)?;
        if header & 0x1F != 7 {
            return Err(SpsError::NotSps(header & 0x1F));
        }
        let mut b = Bits::new(payload);
        let profile_idc = b.bits(8)? as u8;
        let constraint_flags = b.bits(8)? as u8;
        let level_idc = b.bits(8)? as u8;
        let id = b.ue_max(31, "seq_parameter_set_id")?;
        let (mut chroma_format_idc, mut separate_colour_plane) = (1, false);
        let (mut bit_depth_luma, mut bit_depth_chroma) = (8, 8);
        if HIGH_PROFILES.contains(&profile_idc) || profile_idc == 135 {
            chroma_format_idc = b.ue_max(3, "chroma_format_idc")?;
            if chroma_format_idc == 3 {
                separate_colour_plane = b.bit()?;
            }
            bit_depth_luma = b.ue_max(6, "bit_depth_luma_minus8")? + 8;
            bit_depth_chroma = b.ue_max(6, "bit_depth_chroma_minus8")? + 8;
            let _qpprime_y_zero_transform_bypass = b.bit()?;
            if b.bit()? {
                let lists = if chroma_format_idc == 3 { 12 } else { 8 };
                for i in 0..lists {
                    if b.bit()? {
                        skip_scaling_list(&mut b, if i < 6 { 16 } else { 64 })?;
                    }
                }
            }
        }
        let _log2_max_frame_num_minus4 = b.ue_max(12, "log2_max_frame_num_minus4")?;
        match b.ue_max(2, "pic_order_cnt_type")? {
            0 => {
                b.ue_max(12, "log2_max_pic_order_cnt_lsb_minus4")?;
            }
            1 => {
                let _delta_pic_order_always_zero = b.bit()?;
                b.se()?;
                b.se()?;
                let cycle = b.ue_max(255, "num_ref_frames_in_pic_order_cnt_cycle")?;
                for _ in 0..cycle {
                    b.se()?;
                }
            }
            _ => {}
        }
        let _max_num_ref_frames = b.ue()?;
        let _gaps_in_frame_num_allowed = b.bit()?;
        let width_in_mbs = b
            .ue()?
            .checked_add(1)
            .ok_or(SpsError::OutOfRange("width"))?;
        let height_in_map_units = b
            .ue()?
            .checked_add(1)
            .ok_or(SpsError::OutOfRange("height"))?;
        let frame_mbs_only = b.bit()?;
        if !frame_mbs_only {
            let _mb_adaptive_frame_field = b.bit()?;
        }
        let _direct_8x8_inference = b.bit()?;
        let mut crop = [0u32; 4];
        if b.bit()? {
            for c in &mut crop {
                *c = b.ue()?;
            }
        }
        let mut timing = None;
        if b.bit()? {
            timing = read_vui_timing(&mut b)?;
        }
        let sps = SequenceParameterSet {
            profile_idc,
            constraint_flags,
            level_idc,
            id,
            chroma_format_idc,
            separate_colour_plane,
            bit_depth_luma,
            bit_depth_chroma,
            width_in_mbs,
            height_in_map_units,
            frame_mbs_only,
            crop,
            timing,
        };
        sps.checked_size()?;
        Ok(sps)
    }

    /// (CropUnitX, CropUnitY) of §7.4.2.1.1.
    fn crop_units(&self) -> (u64, u64) {
        let field = if self.frame_mbs_only { 1 } else { 2 };
        let chroma_array_type = if self.separate_colour_plane {
            0
        } else {
            self.chroma_format_idc
        };
        match chroma_array_type {
            1 => (2, 2 * field),
            2 => (2, field),
            _ => (1, field),
        }
    }

    fn checked_size(&self) -> Result<(u32, u32), SpsError> {
        let (ux, uy) = self.crop_units();
        let [left, right, top, bottom] = self.crop.map(u64::from);
        let full_w = u64::from(self.width_in_mbs) * 16;
        let full_h =
            u64::from(self.height_in_map_units) * 16 * if self.frame_mbs_only { 1 } else { 2 };
        let w = full_w
            .checked_sub(ux * (left + right))
            .filter(|&w| w > 0)
            .ok_or(SpsError::OutOfRange("frame_crop_left/right_offset"))?;
        let h = full_h
            .checked_sub(uy * (top + bottom))
            .filter(|&h| h > 0)
            .ok_or(SpsError::OutOfRange("frame_crop_top/bottom_offset"))?;
        let w = u32::try_from(w).map_err(|_| SpsError::OutOfRange("width"))?;
        let h = u32::try_from(h).map_err(|_| SpsError::OutOfRange("height"))?;
        Ok((w, h))
    }

    /// Width and height of the decoded (cropped) picture in pixels.
    pub fn size(&self) -> (u32, u32) {
        // parse() checked it.
        self.checked_size().unwrap_or_default()
    }

    /// Frame rate as (numerator, denominator) = (time_scale, 2 * num_units_in_tick), from
    /// the VUI timing information; `None` without it or with a zero field.
    pub fn frame_rate(&self) -> Option<(u32, u32)> {
        let t = self.timing?;
        let den = t.num_units_in_tick.checked_mul(2)?;
        (den != 0 && t.time_scale != 0).then_some((t.time_scale, den))
    }
}

fn read_vui_timing(b: &mut Bits) -> Result<Option<SpsTiming>, SpsError> {
    if b.bit()? {
        // aspect_ratio_idc; Extended_SAR carries sar_width and sar_height.
        if b.bits(8)? == 255 {
            b.bits(16)?;
            b.bits(16)?;
        }
    }
    if b.bit()? {
        let _overscan_appropriate = b.bit()?;
    }
    if b.bit()? {
        // video_format, video_full_range_flag.
        b.bits(4)?;
        if b.bit()? {
            // colour_primaries, transfer_characteristics, matrix_coefficients.
            b.bits(24)?;
        }
    }
    if b.bit()? {
        b.ue_max(5, "chroma_sample_loc_type_top_field")?;
        b.ue_max(5, "chroma_sample_loc_type_bottom_field")?;
    }
    if !b.bit()? {
        return Ok(None);
    }
    Ok(Some(SpsTiming {
        num_units_in_tick: b.bits(32)?,
        time_scale: b.bits(32)?,
        fixed_frame_rate: b.bit()?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A bit writer to build SPS by hand.
    #[derive(Default)]
    struct W {
        bits: Vec<bool>,
    }

    impl W {
        fn u(&mut self, n: u32, v: u64) -> &mut Self {
            for i in (0..n).rev() {
                self.bits.push((v >> i) & 1 == 1);
            }
            self
        }
        fn ue(&mut self, v: u64) -> &mut Self {
            let x = v + 1;
            let len = 64 - x.leading_zeros();
            self.u(len - 1, 0).u(len, x)
        }
        fn se(&mut self, v: i64) -> &mut Self {
            self.ue(if v > 0 {
                2 * v as u64 - 1
            } else {
                (-2 * v) as u64
            })
        }
        /// RBSP trailing bits, then emulation prevention, behind an SPS NAL header.
        fn nal(&mut self) -> Vec<u8> {
            self.bits.push(true);
            while !self.bits.len().is_multiple_of(8) {
                self.bits.push(false);
            }
            let rbsp: Vec<u8> = self
                .bits
                .chunks(8)
                .map(|c| c.iter().fold(0u8, |a, &b| (a << 1) | u8::from(b)))
                .collect();
            let mut out = vec![0x67];
            let mut zeros = 0;
            for b in rbsp {
                if zeros >= 2 && b <= 3 {
                    out.push(3);
                    zeros = 0;
                }
                zeros = if b == 0 { zeros + 1 } else { 0 };
                out.push(b);
            }
            out
        }
    }

    /// Baseline SPS of 1920x1080 (68 map units, cropped by 8 lines) with VUI timing 30 fps.
    fn baseline_1080p() -> Vec<u8> {
        let mut w = W::default();
        w.u(8, 66).u(8, 0xC0).u(8, 40).ue(0); // profile, constraints, level, id
        w.ue(0).ue(0).ue(0); // log2_max_frame_num, poc type 0, log2_max_poc_lsb
        w.ue(3).u(1, 0); // max_num_ref_frames, gaps
        w.ue(119).ue(67).u(1, 1).u(1, 1); // 120 x 68 MBs, frame_mbs_only, direct_8x8
        w.u(1, 1).ue(0).ue(0).ue(0).ue(4); // cropping: bottom 4 units = 8 lines
        w.u(1, 1); // vui
        w.u(1, 1).u(8, 255).u(16, 1).u(16, 1); // Extended_SAR 1:1
        w.u(1, 0).u(1, 1).u(3, 5).u(1, 0).u(1, 1).u(24, 0x010101); // video signal
        w.u(1, 1).ue(0).ue(0); // chroma loc
        w.u(1, 1).u(32, 1).u(32, 60).u(1, 1); // timing: 60 / (2 * 1) = 30 fps
        w.nal()
    }

    #[test]
    fn baseline_with_vui_timing() {
        let sps = SequenceParameterSet::parse(&baseline_1080p()).unwrap();
        assert_eq!((sps.profile_idc, sps.level_idc), (66, 40));
        assert_eq!(sps.size(), (1920, 1080));
        assert_eq!(sps.frame_rate(), Some((60, 2)));
        assert!(sps.timing.unwrap().fixed_frame_rate);
    }

    #[test]
    fn high_profile_with_scaling_lists_poc1_and_fields() {
        let mut w = W::default();
        w.u(8, 100).u(8, 0).u(8, 31).ue(1);
        w.ue(2).ue(2).ue(0).u(1, 0); // 4:2:2, 10-bit luma, 8-bit chroma, bypass 0
        w.u(1, 1); // scaling matrix present
        for i in 0..8 {
            if i == 1 {
                w.u(1, 1);
                // A list that ends early: deltas to 0 stop the list.
                w.se(-8);
            } else {
                w.u(1, 0);
            }
        }
        w.ue(0).ue(1).u(1, 0).se(-1).se(2).ue(2).se(1).se(-3); // poc type 1
        w.ue(1).u(1, 0);
        w.ue(39).ue(14).u(1, 0).u(1, 1).u(1, 1); // 40 x 15 map units, fields
        w.u(1, 1).ue(1).ue(1).ue(0).ue(0); // crop 2 left, 2 right units (x2 px)
        w.u(1, 0); // no VUI
        let sps = SequenceParameterSet::parse(&w.nal()).unwrap();
        assert_eq!(sps.chroma_format_idc, 2);
        assert_eq!((sps.bit_depth_luma, sps.bit_depth_chroma), (10, 8));
        assert!(!sps.frame_mbs_only);
        // 640 - 2 * (1 + 1) = 636 wide; 15 * 16 * 2 = 480 high.
        assert_eq!(sps.size(), (636, 480));
        assert_eq!(sps.frame_rate(), None);
    }

    #[test]
    fn errors() {
        let good = baseline_1080p();
        assert_eq!(
            SequenceParameterSet::parse(&[0x68, 0]),
            Err(SpsError::NotSps(8))
        );
        assert_eq!(SequenceParameterSet::parse(&[]), Err(SpsError::Truncated));
        for cut in 1..good.len() - 12 {
            assert!(
                SequenceParameterSet::parse(&good[..cut]).is_err(),
                "cut {cut}"
            );
        }
        // Cropping more than the picture.
        let mut w = W::default();
        w.u(8, 66)
            .u(8, 0)
            .u(8, 30)
            .ue(0)
            .ue(0)
            .ue(0)
            .ue(0)
            .ue(1)
            .u(1, 0);
        w.ue(0)
            .ue(0)
            .u(1, 1)
            .u(1, 1)
            .u(1, 1)
            .ue(8)
            .ue(0)
            .ue(0)
            .ue(0)
            .u(1, 0);
        assert_eq!(
            SequenceParameterSet::parse(&w.nal()),
            Err(SpsError::OutOfRange("frame_crop_left/right_offset"))
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut nal = vec![0x67];
            nal.extend_from_slice(&data);
            if let Ok(sps) = SequenceParameterSet::parse(&nal) {
                let (w, h) = sps.size();
                prop_assert!(w > 0 && h > 0);
            }
        }

        #[test]
        fn sizes_round_trip(mbs_w in 1u64..400, units_h in 1u64..300, crop_r in 0u64..8, crop_b in 0u64..8) {
            let mut w = W::default();
            w.u(8, 66).u(8, 0).u(8, 30).ue(0).ue(0).ue(0).ue(0).ue(1).u(1, 0);
            w.ue(mbs_w - 1).ue(units_h - 1).u(1, 1).u(1, 1);
            w.u(1, 1).ue(0).ue(crop_r).ue(0).ue(crop_b).u(1, 0);
            let r = SequenceParameterSet::parse(&w.nal());
            let (fw, fh) = (mbs_w * 16, units_h * 16);
            if 2 * crop_r < fw && 2 * crop_b < fh {
                prop_assert_eq!(r.unwrap().size(), ((fw - 2 * crop_r) as u32, (fh - 2 * crop_b) as u32));
            } else {
                prop_assert!(r.is_err());
            }
        }
    }
}
