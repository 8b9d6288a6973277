//! H.264 Annex B byte streams: NAL units and access units (draft §5.5, ITU-T H.264 Annex B
//! and §7.4.1.2.3).
//!
//! A publisher hands the SDK one access unit (one coded picture with its parameter sets and SEI)
//! per frame. [`AccessUnits`] splits an Annex B byte stream into access units without copying:
//! every [`AccessUnit::bytes`] is a slice of the input, start codes included, and the access
//! units of a stream concatenated give back the input byte for byte.
//!
//! Byte ownership between NAL units: a NAL unit's [`NalUnit::bytes`] starts at its start code
//! (`00 00 01`), preceded by one `zero_byte` (`00`) when present (the four-byte start code), and
//! runs up to the next NAL unit's bytes, so any `trailing_zero_8bits` belong to the NAL unit
//! before them. The first NAL unit also owns any `leading_zero_8bits` of the stream.
//!
//! Access unit boundaries follow a simplified form of §7.4.1.2.3 that holds for streams with
//! one primary coded picture per access unit (what encoders emit): once the current access unit
//! holds a VCL NAL unit, a new access unit begins at
//! - an access unit delimiter (type 9, which also starts a new access unit whenever the current
//!   one is not empty), or at an SEI, SPS, PPS or type 13..=18 NAL unit, or
//! - a slice (type 1, 2 or 5) whose `first_mb_in_slice` is 0.
//!
//! Redundant pictures and arbitrary slice order (where a later picture may begin with a slice
//! whose `first_mb_in_slice` is not 0) are not detected; the other §7.4.1.2.4 tests
//! (frame_num, pic_parameter_set_id, ...) are not applied.
//!
//! Errors stop an iterator: after it yields an `Err` it yields `None`.

use std::ops::Range;

/// NAL unit type of a non-IDR coded slice.
pub const NAL_SLICE: u8 = 1;
/// NAL unit type of slice data partition A.
pub const NAL_SLICE_DPA: u8 = 2;
/// NAL unit type of slice data partition B.
pub const NAL_SLICE_DPB: u8 = 3;
/// NAL unit type of slice data partition C.
pub const NAL_SLICE_DPC: u8 = 4;
/// NAL unit type of an IDR coded slice.
pub const NAL_IDR_SLICE: u8 = 5;
/// NAL unit type of supplemental enhancement information.
pub const NAL_SEI: u8 = 6;
/// NAL unit type of a sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// NAL unit type of a picture parameter set.
pub const NAL_PPS: u8 = 8;
/// NAL unit type of an access unit delimiter.
pub const NAL_AUD: u8 = 9;

/// What went wrong while reading an Annex B byte stream. Offsets are byte offsets into the
/// input given to [`NalUnits::new`] or [`AccessUnits::new`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum H264Error {
    /// The input is not empty but holds no start code (`00 00 01`).
    #[error("no Annex B start code (00 00 01) in the input")]
    NoStartCode,
    /// A byte other than zero precedes the first start code.
    #[error("non-zero byte at offset {offset} before the first start code")]
    GarbageBeforeStartCode {
        /// Offset of the offending byte.
        offset: usize,
    },
    /// A start code is followed directly by another start code or by the end of the input.
    #[error("empty NAL unit at offset {offset}")]
    EmptyNalUnit {
        /// Offset of the NAL unit's bytes.
        offset: usize,
    },
    /// The NAL header's forbidden_zero_bit is 1.
    #[error("forbidden_zero_bit set in the NAL unit at offset {offset}")]
    ForbiddenBit {
        /// Offset of the NAL unit's bytes.
        offset: usize,
    },
    /// A slice NAL unit ends before its `first_mb_in_slice`.
    #[error("slice header truncated in the NAL unit at offset {offset}")]
    TruncatedSliceHeader {
        /// Offset of the NAL unit's bytes.
        offset: usize,
    },
    /// `first_mb_in_slice` is an Exp-Golomb code with more than 31 leading zero bits.
    #[error("Exp-Golomb code too long in the NAL unit at offset {offset}")]
    ExpGolombTooLong {
        /// Offset of the NAL unit's bytes.
        offset: usize,
    },
}

/// The one-byte NAL unit header (H.264 §7.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NalHeader {
    /// forbidden_zero_bit (always false in a header [`NalUnits`] yields; it rejects the NAL
    /// unit otherwise).
    pub forbidden_zero_bit: bool,
    /// nal_ref_idc, 0..=3.
    pub nal_ref_idc: u8,
    /// nal_unit_type, 0..=31.
    pub nal_unit_type: u8,
}

impl NalHeader {
    /// Splits a NAL header byte into its fields.
    pub fn from_byte(b: u8) -> Self {
        NalHeader {
            forbidden_zero_bit: b & 0x80 != 0,
            nal_ref_idc: (b >> 5) & 0x03,
            nal_unit_type: b & 0x1f,
        }
    }

    /// Whether this is a coded slice or slice data partition (types 1..=5).
    pub fn is_vcl(&self) -> bool {
        (NAL_SLICE..=NAL_IDR_SLICE).contains(&self.nal_unit_type)
    }
}

/// One NAL unit, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NalUnit<'a> {
    /// The NAL unit as it sits in the byte stream: start code (with a `zero_byte` or, for the
    /// first NAL unit, all leading zero bytes) through any trailing zero bytes.
    pub bytes: &'a [u8],
    /// Offset of `bytes` in the input.
    pub offset: usize,
    /// The NAL unit proper: header byte and payload (still with emulation prevention bytes),
    /// without start code and trailing zero bytes.
    pub nal: &'a [u8],
    /// The parsed header byte.
    pub header: NalHeader,
}

impl NalUnit<'_> {
    /// `first_mb_in_slice` of a slice (types 1, 2 and 5); `None` for other NAL units.
    pub fn first_mb_in_slice(&self) -> Result<Option<u32>, H264Error> {
        match self.header.nal_unit_type {
            NAL_SLICE | NAL_SLICE_DPA | NAL_IDR_SLICE => {
                let body = self.nal.get(1..).unwrap_or_default();
                read_ue(body, self.offset).map(Some)
            }
            _ => Ok(None),
        }
    }
}

/// Finds the next `00 00 01` at or after `from`; returns its position.
fn find_start_code(data: &[u8], from: usize) -> Option<usize> {
    let rest = data.get(from..)?;
    rest.windows(3)
        .position(|w| w == [0, 0, 1])
        .map(|p| p + from)
}

/// Iterator over the NAL units of an Annex B byte stream, borrowing the input.
#[derive(Debug, Clone)]
pub struct NalUnits<'a> {
    data: &'a [u8],
    /// Start of the next NAL unit's bytes and where its `00 00 01` sits; `None` when done.
    next: Option<(usize, usize)>,
    error: Option<H264Error>,
}

impl<'a> NalUnits<'a> {
    /// Starts reading `data`, which must begin with optional zero bytes and a start code.
    /// An empty input has no NAL units.
    pub fn new(data: &'a [u8]) -> Self {
        let mut it = NalUnits {
            data,
            next: None,
            error: None,
        };
        if data.is_empty() {
            return it;
        }
        match find_start_code(data, 0) {
            None => it.error = Some(H264Error::NoStartCode),
            Some(sc) => {
                let head = data.get(..sc).unwrap_or_default();
                if let Some(bad) = head.iter().position(|&b| b != 0) {
                    it.error = Some(H264Error::GarbageBeforeStartCode { offset: bad });
                } else {
                    it.next = Some((0, sc));
                }
            }
        }
        it
    }

    fn unit(&mut self, start: usize, sc: usize) -> Result<NalUnit<'a>, H264Error> {
        let nal_start = sc + 3;
        let (end, next) = match find_start_code(self.data, nal_start) {
            Some(next_sc) => {
                // One zero byte before the next start code is its zero_byte, unless it is
                // this NAL unit's own start code.
                let prev = next_sc.checked_sub(1);
                let next_start = match prev {
                    Some(p) if p >= nal_start && self.data.get(p) == Some(&0) => p,
                    _ => next_sc,
                };
                (next_start, Some((next_start, next_sc)))
            }
            None => (self.data.len(), None),
        };
        self.next = next;
        let bytes = self.data.get(start..end).unwrap_or_default();
        let body = self.data.get(nal_start..end).unwrap_or_default();
        let trimmed = body.len() - body.iter().rev().take_while(|&&b| b == 0).count();
        let nal = body.get(..trimmed).unwrap_or_default();
        let Some(&first) = nal.first() else {
            return Err(H264Error::EmptyNalUnit { offset: start });
        };
        let header = NalHeader::from_byte(first);
        if header.forbidden_zero_bit {
            return Err(H264Error::ForbiddenBit { offset: start });
        }
        Ok(NalUnit {
            bytes,
            offset: start,
            nal,
            header,
        })
    }
}

impl<'a> Iterator for NalUnits<'a> {
    type Item = Result<NalUnit<'a>, H264Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.error.take() {
            self.next = None;
            return Some(Err(e));
        }
        let (start, sc) = self.next.take()?;
        let r = self.unit(start, sc);
        if r.is_err() {
            self.next = None;
        }
        Some(r)
    }
}

/// Reads an unsigned Exp-Golomb code (`ue(v)`) from the start of a NAL unit payload, skipping
/// emulation prevention bytes (`00 00 03`).
fn read_ue(payload: &[u8], offset: usize) -> Result<u32, H264Error> {
    let mut bits = RbspBits::new(payload);
    let truncated = H264Error::TruncatedSliceHeader { offset };
    let mut zeros = 0u32;
    loop {
        match bits.bit() {
            None => return Err(truncated),
            Some(true) => break,
            Some(false) => {
                zeros += 1;
                if zeros > 31 {
                    return Err(H264Error::ExpGolombTooLong { offset });
                }
            }
        }
    }
    let mut suffix = 0u64;
    for _ in 0..zeros {
        let b = bits.bit().ok_or(truncated.clone())?;
        suffix = (suffix << 1) | u64::from(b);
    }
    let value = (1u64 << zeros) - 1 + suffix;
    u32::try_from(value).map_err(|_| H264Error::ExpGolombTooLong { offset })
}

/// A bit reader over RBSP bytes that drops emulation prevention bytes.
struct RbspBits<'a> {
    data: &'a [u8],
    pos: usize,
    zeros: u8,
    byte: u8,
    left: u8,
}

impl<'a> RbspBits<'a> {
    fn new(data: &'a [u8]) -> Self {
        RbspBits {
            data,
            pos: 0,
            zeros: 0,
            byte: 0,
            left: 0,
        }
    }

    fn bit(&mut self) -> Option<bool> {
        if self.left == 0 {
            let mut b = *self.data.get(self.pos)?;
            self.pos += 1;
            if self.zeros >= 2 && b == 3 {
                self.zeros = 0;
                b = *self.data.get(self.pos)?;
                self.pos += 1;
            }
            self.zeros = if b == 0 {
                self.zeros.saturating_add(1)
            } else {
                0
            };
            self.byte = b;
            self.left = 8;
        }
        self.left -= 1;
        Some((self.byte >> self.left) & 1 == 1)
    }
}

/// One access unit, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessUnit<'a> {
    /// The whole access unit, start codes included.
    pub bytes: &'a [u8],
    /// Offset of `bytes` in the input.
    pub offset: usize,
    /// Whether it holds an IDR slice (type 5): a decoder can start here.
    pub is_idr: bool,
    /// Bit `t` is set when the access unit holds a NAL unit of type `t`.
    pub nal_types: u32,
    /// How many NAL units it holds.
    pub nal_count: usize,
}

impl<'a> AccessUnit<'a> {
    /// Whether the access unit holds a NAL unit of type `nal_unit_type`.
    pub fn has_nal_type(&self, nal_unit_type: u8) -> bool {
        nal_unit_type < 32 && self.nal_types & (1 << nal_unit_type) != 0
    }

    /// The access unit's NAL units (already checked when the access unit was yielded).
    pub fn nal_units(&self) -> NalUnits<'a> {
        NalUnits::new(self.bytes)
    }

    /// The byte range of the access unit in the input.
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.bytes.len()
    }
}

/// Iterator over the access units of an Annex B byte stream, borrowing the input.
///
/// Each access unit is yielded once the first NAL unit of the next one (or the end of the
/// input) has been seen.
#[derive(Debug, Clone)]
pub struct AccessUnits<'a> {
    data: &'a [u8],
    nals: NalUnits<'a>,
    /// A NAL unit read ahead that starts the next access unit.
    pending: Option<NalUnit<'a>>,
    error: Option<H264Error>,
}

impl<'a> AccessUnits<'a> {
    /// Starts reading `data` (see [`NalUnits::new`]).
    pub fn new(data: &'a [u8]) -> Self {
        AccessUnits {
            data,
            nals: NalUnits::new(data),
            pending: None,
            error: None,
        }
    }
}

/// Accumulates NAL units of one access unit.
struct AuBuilder {
    start: usize,
    end: usize,
    is_idr: bool,
    nal_types: u32,
    nal_count: usize,
    seen_vcl: bool,
}

impl AuBuilder {
    fn new(first: &NalUnit<'_>) -> Self {
        let mut b = AuBuilder {
            start: first.offset,
            end: first.offset,
            is_idr: false,
            nal_types: 0,
            nal_count: 0,
            seen_vcl: false,
        };
        b.push(first);
        b
    }

    fn push(&mut self, nal: &NalUnit<'_>) {
        let t = nal.header.nal_unit_type;
        self.end = nal.offset + nal.bytes.len();
        self.is_idr |= t == NAL_IDR_SLICE;
        self.nal_types |= 1 << t;
        self.nal_count += 1;
        self.seen_vcl |= nal.header.is_vcl();
    }

    /// Whether `nal` begins a new access unit after the NAL units pushed so far.
    fn starts_new(&self, nal: &NalUnit<'_>) -> Result<bool, H264Error> {
        let t = nal.header.nal_unit_type;
        if t == NAL_AUD {
            return Ok(true);
        }
        if !self.seen_vcl {
            return Ok(false);
        }
        if matches!(t, NAL_SEI | NAL_SPS | NAL_PPS | 13..=18) {
            return Ok(true);
        }
        Ok(nal.first_mb_in_slice()? == Some(0))
    }
}

impl<'a> Iterator for AccessUnits<'a> {
    type Item = Result<AccessUnit<'a>, H264Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.error.take() {
            return Some(Err(e));
        }
        let first = match self.pending.take() {
            Some(n) => n,
            None => match self.nals.next()? {
                Ok(n) => n,
                Err(e) => return Some(Err(e)),
            },
        };
        // Check the first slice's header too, so every slice is validated.
        if let Err(e) = first.first_mb_in_slice() {
            self.nals = NalUnits::new(&[]);
            return Some(Err(e));
        }
        let mut au = AuBuilder::new(&first);
        for nal in self.nals.by_ref() {
            let nal = match nal {
                Ok(n) => n,
                Err(e) => {
                    // Yield what we have; report the error next time.
                    self.error = Some(e);
                    break;
                }
            };
            match au.starts_new(&nal) {
                Ok(true) => {
                    self.pending = Some(nal);
                    break;
                }
                Ok(false) => au.push(&nal),
                Err(e) => {
                    self.error = Some(e);
                    self.nals = NalUnits::new(&[]);
                    break;
                }
            }
        }
        Some(Ok(AccessUnit {
            bytes: self.data.get(au.start..au.end).unwrap_or_default(),
            offset: au.start,
            is_idr: au.is_idr,
            nal_types: au.nal_types,
            nal_count: au.nal_count,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn nals(data: &[u8]) -> Vec<NalUnit<'_>> {
        NalUnits::new(data).collect::<Result<_, _>>().unwrap()
    }

    fn aus(data: &[u8]) -> Vec<AccessUnit<'_>> {
        AccessUnits::new(data).collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn nal_header_fields() {
        let h = NalHeader::from_byte(0x65);
        assert_eq!(
            h,
            NalHeader {
                forbidden_zero_bit: false,
                nal_ref_idc: 3,
                nal_unit_type: 5
            }
        );
        assert!(h.is_vcl());
        let h = NalHeader::from_byte(0x06);
        assert_eq!((h.nal_ref_idc, h.nal_unit_type, h.is_vcl()), (0, 6, false));
        assert!(NalHeader::from_byte(0x80).forbidden_zero_bit);
    }

    #[test]
    fn three_and_four_byte_start_codes() {
        // leading zero_byte, 4-byte code, 3-byte code, 4-byte code with trailing zeros.
        let data = [
            0, 0, 0, 1, 0x67, 0xAA, //
            0, 0, 1, 0x68, 0xBB, 0, 0, //
            0, 0, 0, 1, 0x65, 0x88, 0x80,
        ];
        let n = nals(&data);
        assert_eq!(n.len(), 3);
        assert_eq!(n[0].bytes, &data[0..6]);
        assert_eq!(n[0].nal, &[0x67, 0xAA]);
        assert_eq!(n[1].offset, 6);
        assert_eq!(n[1].bytes, &data[6..13]);
        assert_eq!(n[1].nal, &[0x68, 0xBB], "trailing zeros are not NAL bytes");
        assert_eq!(n[2].offset, 13);
        assert_eq!(n[2].bytes, &data[13..]);
        assert_eq!(n[2].nal, &[0x65, 0x88, 0x80]);
        assert_eq!(n[2].header.nal_unit_type, 5);
        let joined: Vec<u8> = n.iter().flat_map(|n| n.bytes.iter().copied()).collect();
        assert_eq!(joined, data);
    }

    #[test]
    fn many_leading_zeros_belong_to_first_nal() {
        let data = [0, 0, 0, 0, 0, 1, 0x09, 0xF0];
        let n = nals(&data);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].bytes, &data[..]);
        assert_eq!(n[0].header.nal_unit_type, NAL_AUD);
    }

    #[test]
    fn nal_errors() {
        assert_eq!(NalUnits::new(&[]).count(), 0);
        let e: Vec<_> = NalUnits::new(&[1, 2, 3]).collect();
        assert_eq!(e, vec![Err(H264Error::NoStartCode)]);
        let e: Vec<_> = NalUnits::new(&[0, 7, 0, 0, 1, 0x65]).collect();
        assert_eq!(
            e,
            vec![Err(H264Error::GarbageBeforeStartCode { offset: 1 })]
        );
        let e: Vec<_> = NalUnits::new(&[0, 0, 1]).collect();
        assert_eq!(e, vec![Err(H264Error::EmptyNalUnit { offset: 0 })]);
        let e: Vec<_> = NalUnits::new(&[0, 0, 1, 0x67, 0, 0, 1, 0xE5, 1]).collect();
        assert_eq!(e.len(), 2);
        assert_eq!(e[1], Err(H264Error::ForbiddenBit { offset: 4 }));
        // Errors stop the iterator.
        let mut it = NalUnits::new(&[0, 0, 1, 0, 0, 0, 1, 0x67]);
        assert_eq!(it.next(), Some(Err(H264Error::EmptyNalUnit { offset: 0 })));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn exp_golomb() {
        // 1 -> 0; 010 -> 1; 011 -> 2; 00100 -> 3; 0001000 -> 7
        assert_eq!(read_ue(&[0x80], 0), Ok(0));
        assert_eq!(read_ue(&[0x40], 0), Ok(1));
        assert_eq!(read_ue(&[0x60], 0), Ok(2));
        assert_eq!(read_ue(&[0x20], 0), Ok(3));
        assert_eq!(read_ue(&[0x10], 0), Ok(7));
        // 16 zeros, 1, suffix 0000000_00000000_1: 2^16 - 1 + 1 = 65536; the RBSP bytes
        // 00 00 80 00 80 carry an emulation prevention byte: 00 00 03 80 00 80.
        assert_eq!(read_ue(&[0, 0, 3, 0x80, 0, 0x80], 0), Ok(65536));
        // 31 zeros then 1 then 31 ones: u32::MAX - 1 + ... = 2^32 - 2
        let mut bits = vec![0u8; 4];
        bits[3] = 0x01; // 31 zeros, then the 1
        bits.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFE]);
        assert_eq!(read_ue(&bits, 0), Ok(u32::MAX - 1));
        assert_eq!(
            read_ue(&[0, 0, 0, 0, 0x80], 9),
            Err(H264Error::ExpGolombTooLong { offset: 9 })
        );
        assert_eq!(
            read_ue(&[0x00], 4),
            Err(H264Error::TruncatedSliceHeader { offset: 4 })
        );
        assert_eq!(
            read_ue(&[0x08], 4),
            Err(H264Error::TruncatedSliceHeader { offset: 4 })
        );
        assert_eq!(
            read_ue(&[], 4),
            Err(H264Error::TruncatedSliceHeader { offset: 4 })
        );
    }

    const SPS: [u8; 6] = [0, 0, 0, 1, 0x67, 0x42];
    const PPS: [u8; 5] = [0, 0, 1, 0x68, 0xCE];
    const SEI: [u8; 5] = [0, 0, 1, 0x06, 0x05];
    const AUD: [u8; 5] = [0, 0, 1, 0x09, 0xF0];
    /// IDR slice, first_mb_in_slice 0.
    const IDR0: [u8; 6] = [0, 0, 1, 0x65, 0x88, 0x84];
    /// IDR slice, first_mb_in_slice 2 (011).
    const IDR2: [u8; 6] = [0, 0, 1, 0x65, 0x68, 0x84];
    /// Non-IDR slice, first_mb_in_slice 0.
    const P0: [u8; 5] = [0, 0, 1, 0x41, 0x9A];
    /// Non-IDR slice, first_mb_in_slice 1 (010).
    const P1: [u8; 5] = [0, 0, 1, 0x41, 0x5A];

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn access_units_split_at_first_mb_zero() {
        let data = cat(&[&SPS, &PPS, &IDR0, &IDR2, &P0, &P1, &P0]);
        let a = aus(&data);
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].bytes, cat(&[&SPS, &PPS, &IDR0, &IDR2]).as_slice());
        assert!(a[0].is_idr);
        assert_eq!(a[0].nal_count, 4);
        assert!(a[0].has_nal_type(NAL_SPS) && a[0].has_nal_type(NAL_PPS));
        assert!(!a[0].has_nal_type(NAL_SLICE) && !a[0].has_nal_type(40));
        assert_eq!(a[1].bytes, cat(&[&P0, &P1]).as_slice());
        assert!(!a[1].is_idr);
        assert_eq!(a[2].bytes, &P0[..]);
        assert_eq!(a[2].range(), data.len() - P0.len()..data.len());
        let joined: Vec<u8> = a.iter().flat_map(|a| a.bytes.iter().copied()).collect();
        assert_eq!(joined, data);
        let types: Vec<u8> = a[0]
            .nal_units()
            .map(|n| n.unwrap().header.nal_unit_type)
            .collect();
        assert_eq!(types, vec![7, 8, 5, 5]);
    }

    #[test]
    fn non_vcl_between_pictures_belongs_to_next_au() {
        let data = cat(&[&P0, &SEI, &SPS, &PPS, &IDR0, &P0, &AUD, &P0]);
        let a = aus(&data);
        assert_eq!(a.len(), 4);
        assert_eq!(a[0].bytes, &P0[..]);
        assert_eq!(a[1].bytes, cat(&[&SEI, &SPS, &PPS, &IDR0]).as_slice());
        assert!(a[1].is_idr && !a[0].is_idr);
        assert_eq!(a[2].bytes, &P0[..]);
        assert_eq!(a[3].bytes, cat(&[&AUD, &P0]).as_slice());
        assert!(a[3].has_nal_type(NAL_AUD));
    }

    #[test]
    fn aud_always_starts_an_au() {
        let data = cat(&[&AUD, &SPS, &AUD, &P0, &AUD, &PPS, &P0]);
        let a = aus(&data);
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].bytes, cat(&[&AUD, &SPS]).as_slice());
        assert_eq!(a[1].bytes, cat(&[&AUD, &P0]).as_slice());
        assert_eq!(a[2].bytes, cat(&[&AUD, &PPS, &P0]).as_slice());
    }

    #[test]
    fn access_unit_errors() {
        // A truncated slice header is an error.
        let data = cat(&[&P0, &[0, 0, 1, 0x41, 0x00]]);
        let r: Vec<_> = AccessUnits::new(&data).collect();
        assert_eq!(r.len(), 2);
        assert!(r[0].is_ok());
        assert_eq!(r[1], Err(H264Error::TruncatedSliceHeader { offset: 5 }));
        // Also on the first NAL unit.
        let r: Vec<_> = AccessUnits::new(&[0, 0, 1, 0x65]).collect();
        assert_eq!(r, vec![Err(H264Error::TruncatedSliceHeader { offset: 0 })]);
        // A NAL error after a complete AU: the AU, then the error, then the end.
        let data = cat(&[&P0, &[0, 0, 1, 0xC1, 0x80]]);
        let r: Vec<_> = AccessUnits::new(&data).collect();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].as_ref().unwrap().bytes, &P0[..]);
        assert_eq!(r[1], Err(H264Error::ForbiddenBit { offset: 5 }));
        let r: Vec<_> = AccessUnits::new(b"garbage").collect();
        assert_eq!(r, vec![Err(H264Error::NoStartCode)]);
        assert_eq!(AccessUnits::new(&[]).count(), 0);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut total = 0;
            let mut ok = true;
            for au in AccessUnits::new(&data) {
                match au {
                    Ok(au) => total += au.bytes.len(),
                    Err(_) => ok = false,
                }
            }
            if ok {
                prop_assert_eq!(total, data.len());
            }
            for n in NalUnits::new(&data).flatten() {
                let _ = n.first_mb_in_slice();
            }
        }

        #[test]
        fn start_code_heavy_bytes_never_panic(
            data in proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(3u8), Just(0x65u8), Just(0x41u8), any::<u8>()], 0..256)
        ) {
            let mut total = 0;
            let mut ok = true;
            for au in AccessUnits::new(&data) {
                match au {
                    Ok(au) => total += au.bytes.len(),
                    Err(_) => ok = false,
                }
            }
            if ok {
                prop_assert_eq!(total, data.len());
            }
        }
    }
}
