//! AV1 OBUs and temporal units (draft §5.5; AV1 bitstream specification §5.3, §5.5, §5.9).
//!
//! A publisher hands the SDK one temporal unit per frame (in IVF files, one IVF frame).
//! [`Obus`] iterates the OBUs of a temporal unit without copying; [`TemporalUnit::parse`]
//! checks every OBU and reports whether the temporal unit is a key frame and the highest
//! temporal and spatial layer IDs its OBU extension headers carry.
//!
//! Key frame detection is deliberately shallow: a temporal unit is a key frame when it holds a
//! sequence header OBU and, after it, a frame header or frame OBU with `show_existing_frame`
//! 0 and `frame_type` KEY_FRAME (0). Only the sequence header's first five bits are read
//! (`seq_profile`, `still_picture`, `reduced_still_picture_header`); when
//! `reduced_still_picture_header` is 1 every frame is a shown key frame (spec §5.9.2), else the
//! frame header's first bit is `show_existing_frame` and the next two `frame_type`. A key
//! frame shown later through `show_existing_frame` does not count, and no other header field
//! (operating points, timing info, frame IDs) is read.
//!
//! `obu_size` is leb128 (spec §4.10.5): at most 8 bytes and at most `2^32 - 1`; non-minimal
//! encodings are accepted, as the spec allows them (encoders use them to reserve space). An OBU
//! without `obu_has_size_field` runs to the end of the temporal unit.

/// OBU type of a sequence header.
pub const OBU_SEQUENCE_HEADER: u8 = 1;
/// OBU type of a temporal delimiter.
pub const OBU_TEMPORAL_DELIMITER: u8 = 2;
/// OBU type of a frame header.
pub const OBU_FRAME_HEADER: u8 = 3;
/// OBU type of a tile group.
pub const OBU_TILE_GROUP: u8 = 4;
/// OBU type of metadata.
pub const OBU_METADATA: u8 = 5;
/// OBU type of a frame (frame header and tile group).
pub const OBU_FRAME: u8 = 6;
/// OBU type of a redundant frame header.
pub const OBU_REDUNDANT_FRAME_HEADER: u8 = 7;
/// OBU type of a tile list.
pub const OBU_TILE_LIST: u8 = 8;
/// OBU type of padding.
pub const OBU_PADDING: u8 = 15;

/// What went wrong while reading AV1 OBUs. Offsets are byte offsets into the temporal unit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Av1Error {
    /// The OBU header (or its extension byte) is cut off.
    #[error("OBU header at offset {offset} truncated")]
    TruncatedHeader {
        /// Offset of the OBU.
        offset: usize,
    },
    /// The OBU header's forbidden bit is 1.
    #[error("forbidden bit set in the OBU at offset {offset}")]
    ForbiddenBit {
        /// Offset of the OBU.
        offset: usize,
    },
    /// `obu_size` ends before its last byte.
    #[error("obu_size of the OBU at offset {offset} truncated")]
    TruncatedSize {
        /// Offset of the OBU.
        offset: usize,
    },
    /// `obu_size` uses more than 8 leb128 bytes.
    #[error("obu_size of the OBU at offset {offset} is longer than 8 bytes")]
    OverlongSize {
        /// Offset of the OBU.
        offset: usize,
    },
    /// `obu_size` is above `2^32 - 1`.
    #[error("obu_size of the OBU at offset {offset} exceeds 2^32 - 1")]
    SizeTooLarge {
        /// Offset of the OBU.
        offset: usize,
    },
    /// `obu_size` runs past the end of the temporal unit.
    #[error("OBU at offset {offset} declares {size} bytes, {available} available")]
    TruncatedObu {
        /// Offset of the OBU.
        offset: usize,
        /// Declared payload size.
        size: u64,
        /// Bytes left after the header.
        available: usize,
    },
    /// A sequence header OBU is too short for its first fields.
    #[error("sequence header OBU at offset {offset} truncated")]
    TruncatedSequenceHeader {
        /// Offset of the OBU.
        offset: usize,
    },
    /// A frame header or frame OBU is too short for its first fields.
    #[error("frame header OBU at offset {offset} truncated")]
    TruncatedFrameHeader {
        /// Offset of the OBU.
        offset: usize,
    },
}

/// Reads a leb128 value (spec §4.10.5) from the start of `data`: returns the value and the
/// number of bytes it took. Errors carry `offset`.
pub fn read_leb128(data: &[u8], offset: usize) -> Result<(u64, usize), Av1Error> {
    let mut value = 0u64;
    for i in 0..8 {
        let Some(&b) = data.get(i) else {
            return Err(Av1Error::TruncatedSize { offset });
        };
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if value > u64::from(u32::MAX) {
                return Err(Av1Error::SizeTooLarge { offset });
            }
            return Ok((value, i + 1));
        }
    }
    Err(Av1Error::OverlongSize { offset })
}

/// An OBU header (spec §5.3.2, §5.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObuHeader {
    /// obu_type, 0..=15.
    pub obu_type: u8,
    /// obu_extension_flag: an extension byte with layer IDs follows the header byte.
    pub has_extension: bool,
    /// obu_has_size_field.
    pub has_size_field: bool,
    /// temporal_id (3 bits); 0 without an extension.
    pub temporal_id: u8,
    /// spatial_id (2 bits); 0 without an extension.
    pub spatial_id: u8,
}

/// One OBU, borrowed from the temporal unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Obu<'a> {
    /// The parsed header.
    pub header: ObuHeader,
    /// The whole OBU: header, extension, size field and payload.
    pub bytes: &'a [u8],
    /// The payload alone.
    pub payload: &'a [u8],
    /// Offset of `bytes` in the temporal unit.
    pub offset: usize,
}

/// Iterator over the OBUs of a temporal unit, borrowing it. After an error it yields `None`.
#[derive(Debug, Clone)]
pub struct Obus<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Obus<'a> {
    /// Starts reading the OBUs of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Obus {
            rest: data,
            offset: 0,
        }
    }

    fn read(&self, data: &'a [u8]) -> Result<Obu<'a>, Av1Error> {
        let offset = self.offset;
        let &b0 = data.first().ok_or(Av1Error::TruncatedHeader { offset })?;
        if b0 & 0x80 != 0 {
            return Err(Av1Error::ForbiddenBit { offset });
        }
        let obu_type = (b0 >> 3) & 0x0f;
        let has_extension = b0 & 0x04 != 0;
        let has_size_field = b0 & 0x02 != 0;
        let (mut temporal_id, mut spatial_id, mut pos) = (0, 0, 1);
        if has_extension {
            let &b1 = data.get(1).ok_or(Av1Error::TruncatedHeader { offset })?;
            temporal_id = b1 >> 5;
            spatial_id = (b1 >> 3) & 0x03;
            pos = 2;
        }
        let after = data.get(pos..).unwrap_or_default();
        let (size, len) = if has_size_field {
            let (size, n) = read_leb128(after, offset)?;
            (size, n)
        } else {
            (after.len() as u64, 0)
        };
        let body = after.get(len..).unwrap_or_default();
        let payload = usize::try_from(size)
            .ok()
            .and_then(|s| body.get(..s))
            .ok_or(Av1Error::TruncatedObu {
                offset,
                size,
                available: body.len(),
            })?;
        let total = pos + len + payload.len();
        Ok(Obu {
            header: ObuHeader {
                obu_type,
                has_extension,
                has_size_field,
                temporal_id,
                spatial_id,
            },
            bytes: data.get(..total).unwrap_or_default(),
            payload,
            offset,
        })
    }
}

impl<'a> Iterator for Obus<'a> {
    type Item = Result<Obu<'a>, Av1Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let data = std::mem::take(&mut self.rest);
        let obu = self.read(data);
        if let Ok(o) = &obu {
            self.rest = data.get(o.bytes.len()..).unwrap_or_default();
            self.offset += o.bytes.len();
        }
        Some(obu)
    }
}

/// The first fields of a sequence header OBU (spec §5.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceHeaderStart {
    /// seq_profile (3 bits).
    pub seq_profile: u8,
    /// still_picture.
    pub still_picture: bool,
    /// reduced_still_picture_header.
    pub reduced_still_picture_header: bool,
}

impl SequenceHeaderStart {
    /// Reads the first byte of a sequence header OBU's payload.
    pub fn parse(obu: &Obu<'_>) -> Result<Self, Av1Error> {
        let &b = obu
            .payload
            .first()
            .ok_or(Av1Error::TruncatedSequenceHeader { offset: obu.offset })?;
        Ok(SequenceHeaderStart {
            seq_profile: b >> 5,
            still_picture: b & 0x10 != 0,
            reduced_still_picture_header: b & 0x08 != 0,
        })
    }
}

/// Whether a frame header or frame OBU starts a key frame (show_existing_frame 0, frame_type
/// KEY_FRAME), given the sequence header's reduced_still_picture_header.
fn frame_is_key(obu: &Obu<'_>, reduced_still_picture_header: bool) -> Result<bool, Av1Error> {
    if reduced_still_picture_header {
        return Ok(true);
    }
    let &b = obu
        .payload
        .first()
        .ok_or(Av1Error::TruncatedFrameHeader { offset: obu.offset })?;
    let show_existing_frame = b & 0x80 != 0;
    let frame_type = (b >> 5) & 0x03;
    Ok(!show_existing_frame && frame_type == 0)
}

/// A checked temporal unit and what the SDK needs to know about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemporalUnit<'a> {
    /// The temporal unit's bytes.
    pub bytes: &'a [u8],
    /// Whether it is a key frame (see the module documentation).
    pub is_key_frame: bool,
    /// Whether it holds a sequence header OBU.
    pub has_sequence_header: bool,
    /// Highest temporal_id of the OBUs with an extension header; `None` when none has one.
    pub max_temporal_id: Option<u8>,
    /// Highest spatial_id of the OBUs with an extension header; `None` when none has one.
    pub max_spatial_id: Option<u8>,
    /// Number of OBUs.
    pub obu_count: usize,
    /// Bit `t` is set when the temporal unit holds an OBU of type `t`.
    pub obu_types: u16,
}

impl<'a> TemporalUnit<'a> {
    /// Checks every OBU of `data` (one temporal unit) and reports its properties.
    pub fn parse(data: &'a [u8]) -> Result<Self, Av1Error> {
        let mut tu = TemporalUnit {
            bytes: data,
            is_key_frame: false,
            has_sequence_header: false,
            max_temporal_id: None,
            max_spatial_id: None,
            obu_count: 0,
            obu_types: 0,
        };
        let mut reduced: Option<bool> = None;
        for obu in Obus::new(data) {
            let obu = obu?;
            let h = obu.header;
            tu.obu_count += 1;
            tu.obu_types |= 1 << h.obu_type;
            if h.has_extension {
                tu.max_temporal_id = tu.max_temporal_id.max(Some(h.temporal_id));
                tu.max_spatial_id = tu.max_spatial_id.max(Some(h.spatial_id));
            }
            match h.obu_type {
                OBU_SEQUENCE_HEADER => {
                    let seq = SequenceHeaderStart::parse(&obu)?;
                    tu.has_sequence_header = true;
                    reduced = Some(seq.reduced_still_picture_header);
                }
                OBU_FRAME_HEADER | OBU_FRAME => {
                    if let Some(r) = reduced {
                        tu.is_key_frame |= frame_is_key(&obu, r)?;
                    } else if obu.payload.is_empty() {
                        return Err(Av1Error::TruncatedFrameHeader { offset: obu.offset });
                    }
                }
                _ => {}
            }
        }
        Ok(tu)
    }

    /// Whether the temporal unit holds an OBU of type `obu_type`.
    pub fn has_obu_type(&self, obu_type: u8) -> bool {
        obu_type < 16 && self.obu_types & (1 << obu_type) != 0
    }

    /// The temporal unit's OBUs (already checked by [`TemporalUnit::parse`]).
    pub fn obus(&self) -> Obus<'a> {
        Obus::new(self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An OBU with a size field and optional extension.
    fn obu(obu_type: u8, ext: Option<(u8, u8)>, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![(obu_type << 3) | 0x02 | if ext.is_some() { 0x04 } else { 0 }];
        if let Some((t, s)) = ext {
            v.push((t << 5) | (s << 3));
        }
        assert!(payload.len() < 128);
        v.push(payload.len() as u8);
        v.extend_from_slice(payload);
        v
    }

    const TD: [u8; 2] = [0x12, 0x00];
    /// Sequence header starting with profile 0, still 0, reduced 0.
    const SEQ: [u8; 3] = [0x0A, 0x01, 0x00];

    #[test]
    fn leb128() {
        assert_eq!(read_leb128(&[0x00], 0), Ok((0, 1)));
        assert_eq!(read_leb128(&[0x7f, 0xff], 0), Ok((127, 1)));
        assert_eq!(read_leb128(&[0x80, 0x01], 0), Ok((128, 2)));
        assert_eq!(read_leb128(&[0xE5, 0x8E, 0x26], 0), Ok((624_485, 3)));
        // Non-minimal (padded) encodings are allowed.
        assert_eq!(read_leb128(&[0x85, 0x80, 0x80, 0x00], 0), Ok((5, 4)));
        assert_eq!(
            read_leb128(&[0xFF, 0xFF, 0xFF, 0xFF, 0x0F], 0),
            Ok((u64::from(u32::MAX), 5))
        );
        assert_eq!(
            read_leb128(&[0x80, 0x80, 0x80, 0x80, 0x10], 3),
            Err(Av1Error::SizeTooLarge { offset: 3 })
        );
        assert_eq!(
            read_leb128(&[0x80; 8], 3),
            Err(Av1Error::OverlongSize { offset: 3 })
        );
        assert_eq!(
            read_leb128(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 0),
            Ok((0, 8))
        );
        assert_eq!(
            read_leb128(&[0x80, 0x80], 3),
            Err(Av1Error::TruncatedSize { offset: 3 })
        );
        assert_eq!(
            read_leb128(&[], 1),
            Err(Av1Error::TruncatedSize { offset: 1 })
        );
    }

    #[test]
    fn obu_headers() {
        let data = [
            TD.as_slice(),
            &obu(OBU_FRAME, Some((2, 1)), &[0x10, 0x20]),
            &[0x78, 0xAB, 0xCD], // padding OBU (type 15) without size field: runs to the end
        ]
        .concat();
        let obus: Vec<_> = Obus::new(&data).collect::<Result<_, _>>().unwrap();
        assert_eq!(obus.len(), 3);
        assert_eq!(obus[0].header.obu_type, OBU_TEMPORAL_DELIMITER);
        assert!(obus[0].payload.is_empty());
        assert_eq!(
            obus[1].header,
            ObuHeader {
                obu_type: OBU_FRAME,
                has_extension: true,
                has_size_field: true,
                temporal_id: 2,
                spatial_id: 1
            }
        );
        assert_eq!(obus[1].payload, &[0x10, 0x20]);
        assert_eq!(obus[1].offset, 2);
        assert_eq!(obus[1].bytes, &data[2..7]);
        assert_eq!(obus[2].header.obu_type, OBU_PADDING);
        assert!(!obus[2].header.has_size_field);
        assert_eq!(obus[2].payload, &[0xAB, 0xCD]);
        let joined: Vec<u8> = obus.iter().flat_map(|o| o.bytes.iter().copied()).collect();
        assert_eq!(joined, data);
    }

    #[test]
    fn obu_errors() {
        let e: Vec<_> = Obus::new(&[0x92, 0x00]).collect();
        assert_eq!(e, vec![Err(Av1Error::ForbiddenBit { offset: 0 })]);
        let e: Vec<_> = Obus::new(&[0x12, 0x00, 0x36]).collect();
        assert_eq!(e[1], Err(Av1Error::TruncatedHeader { offset: 2 }));
        let e: Vec<_> = Obus::new(&[0x32, 0x85]).collect();
        assert_eq!(e, vec![Err(Av1Error::TruncatedSize { offset: 0 })]);
        let e: Vec<_> = Obus::new(&[0x32, 0x03, 0x01]).collect();
        assert_eq!(
            e,
            vec![Err(Av1Error::TruncatedObu {
                offset: 0,
                size: 3,
                available: 1
            })]
        );
        let mut big = vec![0x32];
        big.extend_from_slice(&[0xFF; 9]);
        let e: Vec<_> = Obus::new(&big).collect();
        assert_eq!(e, vec![Err(Av1Error::OverlongSize { offset: 0 })]);
        let e: Vec<_> = Obus::new(&[0x32, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F]).collect();
        assert_eq!(e, vec![Err(Av1Error::SizeTooLarge { offset: 0 })]);
        // Errors stop the iterator.
        let mut it = Obus::new(&[0x92, 0x00, 0x12, 0x00]);
        assert!(it.next().unwrap().is_err());
        assert_eq!(it.next(), None);
        assert_eq!(Obus::new(&[]).count(), 0);
    }

    #[test]
    fn key_frame_needs_sequence_header_and_key_frame_type() {
        // show_existing_frame 0, frame_type 0 (KEY_FRAME): 0b0000_0000
        let key = obu(OBU_FRAME, None, &[0x10, 0xFF]);
        // frame_type 1 (INTER_FRAME): 0b0010_0000
        let inter = obu(OBU_FRAME, None, &[0x30, 0xFF]);
        // show_existing_frame 1
        let shown = obu(OBU_FRAME_HEADER, None, &[0x80]);
        let tu = [TD.as_slice(), &SEQ, &key].concat();
        let t = TemporalUnit::parse(&tu).unwrap();
        assert!(t.is_key_frame && t.has_sequence_header);
        assert_eq!(t.obu_count, 3);
        assert!(t.has_obu_type(OBU_FRAME) && !t.has_obu_type(OBU_TILE_GROUP));
        assert!(!t.has_obu_type(16));
        assert_eq!((t.max_temporal_id, t.max_spatial_id), (None, None));
        assert_eq!(t.obus().count(), 3);
        // A key frame header without a sequence header is not a key frame.
        let buf = [TD.as_slice(), &key].concat();
        let t = TemporalUnit::parse(&buf).unwrap();
        assert!(!t.is_key_frame);
        // Sequence header and an inter frame.
        let buf = [TD.as_slice(), &SEQ, &inter].concat();
        let t = TemporalUnit::parse(&buf).unwrap();
        assert!(!t.is_key_frame);
        // show_existing_frame.
        let buf = [TD.as_slice(), &SEQ, &shown].concat();
        let t = TemporalUnit::parse(&buf).unwrap();
        assert!(!t.is_key_frame);
        // A frame header OBU (type 3) that is a key frame also counts.
        let fh = obu(OBU_FRAME_HEADER, None, &[0x00]);
        let buf = [TD.as_slice(), &SEQ, &fh].concat();
        let t = TemporalUnit::parse(&buf).unwrap();
        assert!(t.is_key_frame);
        // Sequence header only.
        let buf = [TD.as_slice(), &SEQ].concat();
        let t = TemporalUnit::parse(&buf).unwrap();
        assert!(!t.is_key_frame && t.has_sequence_header);
    }

    #[test]
    fn reduced_still_picture_header_means_key_frame() {
        // seq_profile 0, still_picture 1, reduced_still_picture_header 1: 0b0001_1000
        let seq = obu(OBU_SEQUENCE_HEADER, None, &[0x18]);
        let s = SequenceHeaderStart::parse(&Obus::new(&seq).next().unwrap().unwrap()).unwrap();
        assert_eq!(
            s,
            SequenceHeaderStart {
                seq_profile: 0,
                still_picture: true,
                reduced_still_picture_header: true
            }
        );
        // The frame's first bits would say INTER_FRAME, but they are not read.
        let frame = obu(OBU_FRAME, None, &[0x30]);
        let buf = [seq, frame].concat();
        let t = TemporalUnit::parse(&buf).unwrap();
        assert!(t.is_key_frame);
        let seq = obu(OBU_SEQUENCE_HEADER, None, &[0x40]);
        let s = SequenceHeaderStart::parse(&Obus::new(&seq).next().unwrap().unwrap()).unwrap();
        assert_eq!(s.seq_profile, 2);
        assert!(!s.still_picture && !s.reduced_still_picture_header);
    }

    #[test]
    fn layer_ids_from_extensions() {
        let tu = [
            obu(OBU_TEMPORAL_DELIMITER, None, &[]),
            obu(OBU_FRAME, Some((1, 0)), &[0x30]),
            obu(OBU_FRAME, Some((0, 2)), &[0x30]),
            obu(OBU_FRAME, Some((7, 3)), &[0x30]),
        ]
        .concat();
        let t = TemporalUnit::parse(&tu).unwrap();
        assert_eq!((t.max_temporal_id, t.max_spatial_id), (Some(7), Some(3)));
        assert!(!t.is_key_frame);
        let ids: Vec<_> = t
            .obus()
            .map(|o| {
                let h = o.unwrap().header;
                (h.temporal_id, h.spatial_id)
            })
            .collect();
        assert_eq!(ids, vec![(0, 0), (1, 0), (0, 2), (7, 3)]);
    }

    #[test]
    fn temporal_unit_errors() {
        let empty_seq = obu(OBU_SEQUENCE_HEADER, None, &[]);
        assert_eq!(
            TemporalUnit::parse(&[TD.as_slice(), &empty_seq].concat()),
            Err(Av1Error::TruncatedSequenceHeader { offset: 2 })
        );
        let empty_frame = obu(OBU_FRAME, None, &[]);
        assert_eq!(
            TemporalUnit::parse(&[TD.as_slice(), &SEQ, &empty_frame].concat()),
            Err(Av1Error::TruncatedFrameHeader { offset: 5 })
        );
        assert_eq!(
            TemporalUnit::parse(&empty_frame),
            Err(Av1Error::TruncatedFrameHeader { offset: 0 })
        );
        assert_eq!(
            TemporalUnit::parse(&[0x12, 0x05]),
            Err(Av1Error::TruncatedObu {
                offset: 0,
                size: 5,
                available: 0
            })
        );
        let t = TemporalUnit::parse(&[]).unwrap();
        assert_eq!(t.obu_count, 0);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = TemporalUnit::parse(&data);
            let mut total = 0;
            let mut ok = true;
            for o in Obus::new(&data) {
                match o {
                    Ok(o) => total += o.bytes.len(),
                    Err(_) => ok = false,
                }
            }
            if ok {
                prop_assert_eq!(total, data.len());
            }
        }
    }
}
