//! The IVF container (as written by libvpx, libaom and ffmpeg's `ivf` muxer): the file format
//! the SDK reads AV1 (and VP8/VP9) frames from and a subscriber writes them back to.
//!
//! Layout, all integers little-endian:
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | signature `DKIF` |
//! | 4 | 2 | version, 0 |
//! | 6 | 2 | header size in bytes, 32 |
//! | 8 | 4 | codec FourCC, e.g. `AV01` |
//! | 12 | 2 | width in pixels |
//! | 14 | 2 | height in pixels |
//! | 16 | 4 | timebase denominator (e.g. frame rate 30) |
//! | 20 | 4 | timebase numerator (e.g. 1) |
//! | 24 | 4 | number of frames |
//! | 28 | 4 | unused |
//!
//! followed by frames, each a 12-byte frame header (frame size `u32`, presentation timestamp
//! `u64` in timebase units) and the frame's bytes. For AV1 one frame is one temporal unit.
//!
//! [`IvfReader`] accepts a header size larger than 32 (the extra bytes are skipped, and kept in
//! [`IvfReader::header_bytes`]); [`write_ivf_header`] always writes 32 bytes, version 0.

/// The IVF signature.
pub const IVF_SIGNATURE: [u8; 4] = *b"DKIF";
/// Size of the file header [`write_ivf_header`] writes.
pub const IVF_HEADER_LEN: usize = 32;
/// Size of a frame header.
pub const IVF_FRAME_HEADER_LEN: usize = 12;

/// What went wrong while reading or writing IVF. Offsets are byte offsets into the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IvfError {
    /// The input is shorter than the file header.
    #[error("IVF file header truncated: {len} bytes")]
    TruncatedHeader {
        /// Bytes available.
        len: usize,
    },
    /// The file does not start with `DKIF`.
    #[error("not an IVF file (signature {found:02x?})")]
    BadSignature {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// The version field is not 0.
    #[error("unsupported IVF version {0}")]
    UnsupportedVersion(u16),
    /// The header size field is below 32.
    #[error("IVF header size {0} is below 32")]
    BadHeaderSize(u16),
    /// A frame header is cut off by the end of the file.
    #[error("IVF frame header at offset {offset} truncated")]
    TruncatedFrameHeader {
        /// Offset of the frame header.
        offset: usize,
    },
    /// A frame's size runs past the end of the file.
    #[error("IVF frame at offset {offset} declares {size} bytes, {available} available")]
    TruncatedFrame {
        /// Offset of the frame header.
        offset: usize,
        /// Declared frame size.
        size: u32,
        /// Bytes left after the frame header.
        available: usize,
    },
    /// A frame to write is larger than the 32-bit size field allows.
    #[error("frame of {0} bytes does not fit IVF's 32-bit size field")]
    FrameTooLarge(usize),
}

/// The fields of an IVF file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvfHeader {
    /// Codec FourCC, e.g. `*b"AV01"`, `*b"VP90"`.
    pub fourcc: [u8; 4],
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Timebase denominator (offset 16; the frame rate for constant-rate streams).
    pub timebase_den: u32,
    /// Timebase numerator (offset 20).
    pub timebase_num: u32,
    /// Number of frames in the file, as the header claims.
    pub frame_count: u32,
    /// The unused field at offset 28, kept so a rewrite is byte-identical.
    pub unused: u32,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn array4(b: &[u8], at: usize) -> Option<[u8; 4]> {
    b.get(at..at + 4)?.try_into().ok()
}

/// A reader over an IVF file held in memory.
#[derive(Debug, Clone)]
pub struct IvfReader<'a> {
    header: IvfHeader,
    header_bytes: &'a [u8],
    body: &'a [u8],
}

impl<'a> IvfReader<'a> {
    /// Parses the file header of `data`; frames are read with [`IvfReader::frames`].
    pub fn new(data: &'a [u8]) -> Result<Self, IvfError> {
        let truncated = IvfError::TruncatedHeader { len: data.len() };
        let sig = array4(data, 0).ok_or(truncated.clone())?;
        if sig != IVF_SIGNATURE {
            return Err(IvfError::BadSignature { found: sig });
        }
        let version = u16_at(data, 4).ok_or(truncated.clone())?;
        if version != 0 {
            return Err(IvfError::UnsupportedVersion(version));
        }
        let header_size = u16_at(data, 6).ok_or(truncated.clone())?;
        if usize::from(header_size) < IVF_HEADER_LEN {
            return Err(IvfError::BadHeaderSize(header_size));
        }
        let (header_bytes, body) = (
            data.get(..usize::from(header_size)),
            data.get(usize::from(header_size)..),
        );
        let (Some(header_bytes), Some(body)) = (header_bytes, body) else {
            return Err(truncated);
        };
        let parse = || -> Option<IvfHeader> {
            Some(IvfHeader {
                fourcc: array4(header_bytes, 8)?,
                width: u16_at(header_bytes, 12)?,
                height: u16_at(header_bytes, 14)?,
                timebase_den: u32_at(header_bytes, 16)?,
                timebase_num: u32_at(header_bytes, 20)?,
                frame_count: u32_at(header_bytes, 24)?,
                unused: u32_at(header_bytes, 28)?,
            })
        };
        let header = parse().ok_or(truncated)?;
        Ok(IvfReader {
            header,
            header_bytes,
            body,
        })
    }

    /// The parsed file header.
    pub fn header(&self) -> &IvfHeader {
        &self.header
    }

    /// The file header exactly as it is in the file (32 bytes, or the declared header size).
    pub fn header_bytes(&self) -> &'a [u8] {
        self.header_bytes
    }

    /// The frames that follow the header.
    pub fn frames(&self) -> IvfFrames<'a> {
        IvfFrames {
            rest: self.body,
            offset: self.header_bytes.len(),
        }
    }
}

/// One IVF frame, borrowed from the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvfFrame<'a> {
    /// Presentation timestamp in timebase units.
    pub pts: u64,
    /// The frame's bytes (for AV1, one temporal unit).
    pub data: &'a [u8],
    /// Offset of the frame header in the file.
    pub offset: usize,
}

/// Iterator over the frames of an IVF file. After an error it yields `None`.
#[derive(Debug, Clone)]
pub struct IvfFrames<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for IvfFrames<'a> {
    type Item = Result<IvfFrame<'a>, IvfError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let offset = self.offset;
        let rest = std::mem::take(&mut self.rest);
        let (Some(size), Some(pts)) = (u32_at(rest, 0), u64_at(rest, 4)) else {
            return Some(Err(IvfError::TruncatedFrameHeader { offset }));
        };
        let after = rest.get(IVF_FRAME_HEADER_LEN..).unwrap_or_default();
        let len = size as usize;
        let (Some(data), Some(tail)) = (after.get(..len), after.get(len..)) else {
            return Some(Err(IvfError::TruncatedFrame {
                offset,
                size,
                available: after.len(),
            }));
        };
        self.rest = tail;
        self.offset = offset + IVF_FRAME_HEADER_LEN + len;
        Some(Ok(IvfFrame { pts, data, offset }))
    }
}

/// Appends a 32-byte IVF file header (version 0) to `out`.
pub fn write_ivf_header(out: &mut Vec<u8>, header: &IvfHeader) {
    out.extend_from_slice(&IVF_SIGNATURE);
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(IVF_HEADER_LEN as u16).to_le_bytes());
    out.extend_from_slice(&header.fourcc);
    out.extend_from_slice(&header.width.to_le_bytes());
    out.extend_from_slice(&header.height.to_le_bytes());
    out.extend_from_slice(&header.timebase_den.to_le_bytes());
    out.extend_from_slice(&header.timebase_num.to_le_bytes());
    out.extend_from_slice(&header.frame_count.to_le_bytes());
    out.extend_from_slice(&header.unused.to_le_bytes());
}

/// Appends one frame (12-byte frame header and `data`) to `out`.
pub fn write_ivf_frame(out: &mut Vec<u8>, pts: u64, data: &[u8]) -> Result<(), IvfError> {
    let size = u32::try_from(data.len()).map_err(|_| IvfError::FrameTooLarge(data.len()))?;
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&pts.to_le_bytes());
    out.extend_from_slice(data);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample_header() -> IvfHeader {
        IvfHeader {
            fourcc: *b"AV01",
            width: 320,
            height: 240,
            timebase_den: 30,
            timebase_num: 1,
            frame_count: 2,
            unused: 0,
        }
    }

    #[test]
    fn header_bytes_by_hand() {
        let mut out = Vec::new();
        write_ivf_header(&mut out, &sample_header());
        assert_eq!(
            hex::encode(&out),
            "444b494600002000415630314001f0001e000000010000000200000000000000"
        );
        write_ivf_frame(&mut out, 7, &[0xAA, 0xBB]).unwrap();
        assert_eq!(hex::encode(&out[32..]), "020000000700000000000000aabb");
    }

    #[test]
    fn round_trip() {
        let mut out = Vec::new();
        write_ivf_header(&mut out, &sample_header());
        write_ivf_frame(&mut out, 0, &[1, 2, 3]).unwrap();
        write_ivf_frame(&mut out, 1, &[]).unwrap();
        write_ivf_frame(&mut out, u64::MAX, &[4]).unwrap();
        let r = IvfReader::new(&out).unwrap();
        assert_eq!(*r.header(), sample_header());
        assert_eq!(r.header_bytes(), &out[..32]);
        let frames: Vec<_> = r.frames().collect::<Result<_, _>>().unwrap();
        assert_eq!(frames.len(), 3);
        assert_eq!(
            (frames[0].pts, frames[0].data, frames[0].offset),
            (0, &[1u8, 2, 3][..], 32)
        );
        assert_eq!(
            (frames[1].pts, frames[1].data, frames[1].offset),
            (1, &[][..], 47)
        );
        assert_eq!((frames[2].pts, frames[2].data), (u64::MAX, &[4u8][..]));
        let mut again = r.header_bytes().to_vec();
        for f in &frames {
            write_ivf_frame(&mut again, f.pts, f.data).unwrap();
        }
        assert_eq!(again, out);
    }

    #[test]
    fn longer_header_is_skipped_and_kept() {
        let mut out = Vec::new();
        write_ivf_header(&mut out, &sample_header());
        out[6] = 36;
        out.extend_from_slice(&[9, 9, 9, 9]);
        write_ivf_frame(&mut out, 5, &[1]).unwrap();
        let r = IvfReader::new(&out).unwrap();
        assert_eq!(r.header_bytes().len(), 36);
        let f: Vec<_> = r.frames().collect();
        assert_eq!(
            f,
            vec![Ok(IvfFrame {
                pts: 5,
                data: &[1],
                offset: 36
            })]
        );
    }

    #[test]
    fn header_errors() {
        let mut good = Vec::new();
        write_ivf_header(&mut good, &sample_header());
        assert_eq!(
            IvfReader::new(&good[..31]).unwrap_err(),
            IvfError::TruncatedHeader { len: 31 }
        );
        assert_eq!(
            IvfReader::new(&[]).unwrap_err(),
            IvfError::TruncatedHeader { len: 0 }
        );
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(
            IvfReader::new(&bad).unwrap_err(),
            IvfError::BadSignature { found: *b"XKIF" }
        );
        let mut bad = good.clone();
        bad[4] = 1;
        assert_eq!(
            IvfReader::new(&bad).unwrap_err(),
            IvfError::UnsupportedVersion(1)
        );
        let mut bad = good.clone();
        bad[6] = 31;
        assert_eq!(
            IvfReader::new(&bad).unwrap_err(),
            IvfError::BadHeaderSize(31)
        );
        let mut bad = good.clone();
        bad[6] = 40;
        assert_eq!(
            IvfReader::new(&bad).unwrap_err(),
            IvfError::TruncatedHeader { len: 32 }
        );
    }

    #[test]
    fn frame_errors() {
        let mut out = Vec::new();
        write_ivf_header(&mut out, &sample_header());
        write_ivf_frame(&mut out, 0, &[1, 2, 3]).unwrap();
        let full = out.clone();
        // Truncated frame header.
        out.extend_from_slice(&[1, 0, 0, 0, 0]);
        let f: Vec<_> = IvfReader::new(&out).unwrap().frames().collect();
        assert_eq!(f.len(), 2);
        assert_eq!(f[1], Err(IvfError::TruncatedFrameHeader { offset: 47 }));
        // Truncated frame body.
        let f: Vec<_> = IvfReader::new(&full[..full.len() - 1])
            .unwrap()
            .frames()
            .collect();
        assert_eq!(
            f,
            vec![Err(IvfError::TruncatedFrame {
                offset: 32,
                size: 3,
                available: 2
            })]
        );
        // Huge declared size.
        let mut out = full[..32].to_vec();
        out.extend_from_slice(&[0xFF; 12]);
        let f: Vec<_> = IvfReader::new(&out).unwrap().frames().collect();
        assert_eq!(f.len(), 1);
        assert!(matches!(
            f[0],
            Err(IvfError::TruncatedFrame { size: u32::MAX, .. })
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(r) = IvfReader::new(&data) {
                for f in r.frames() {
                    let _ = f;
                }
            }
        }

        #[test]
        fn arbitrary_body_never_panics(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut data = Vec::new();
            write_ivf_header(&mut data, &sample_header());
            data.extend_from_slice(&body);
            let r = IvfReader::new(&data).unwrap();
            let _ = r.frames().count();
        }

        #[test]
        fn write_read_round_trip(frames in proptest::collection::vec((any::<u64>(), proptest::collection::vec(any::<u8>(), 0..64)), 0..8)) {
            let mut out = Vec::new();
            write_ivf_header(&mut out, &sample_header());
            for (pts, d) in &frames {
                write_ivf_frame(&mut out, *pts, d).unwrap();
            }
            let r = IvfReader::new(&out).unwrap();
            let got: Vec<(u64, Vec<u8>)> = r.frames().map(|f| f.map(|f| (f.pts, f.data.to_vec()))).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(got, frames);
        }
    }
}
