//! The side-information byte formats (see the [`super`] module docs and PROTOCOL.md
//! "Media file side information"). Varints are the protocol's canonical QUIC varints.

use newmedia_proto::varint;

use super::MediaFileError;

/// First byte of IVF side information: kind 1, format version 1.
pub(super) const TAG_IVF_V1: u8 = 0x11;
/// First byte of Ogg Opus side information: kind 2, format version 1.
pub(super) const TAG_OGG_OPUS_V1: u8 = 0x21;

/// Ogg Opus header flag: the file's last page has the EOS flag.
pub(super) const OGG_HEADER_ENDS_WITH_EOS: u8 = 0x01;

const BREAK_EXPLICIT_GRANULE: u8 = 0x01;
const BREAK_EXPLICIT_SEQUENCE: u8 = 0x02;

fn bad(reason: &'static str) -> MediaFileError {
    MediaFileError::BadSideInfo { reason }
}

/// Checks the tag byte and returns what follows it.
pub(super) fn untag(side_info: &[u8], tag: u8) -> Result<&[u8], MediaFileError> {
    match side_info.split_first() {
        None => Err(bad("side information is empty")),
        Some((&t, rest)) if t == tag => Ok(rest),
        Some((&t, _)) => Err(MediaFileError::UnsupportedSideInfo { tag: t }),
    }
}

fn put_varint(v: u64, out: &mut Vec<u8>, what: &'static str) -> Result<(), MediaFileError> {
    varint::write(v, out).map_err(|_| MediaFileError::ValueTooLarge { what, value: v })
}

/// IVF frame side information: the frame's pts.
pub(super) fn encode_ivf_frame(pts: u64) -> Result<Vec<u8>, MediaFileError> {
    let mut out = vec![TAG_IVF_V1];
    put_varint(pts, &mut out, "IVF pts")?;
    Ok(out)
}

/// Reads IVF frame side information.
pub(super) fn decode_ivf_frame(side_info: &[u8]) -> Result<u64, MediaFileError> {
    let body = untag(side_info, TAG_IVF_V1)?;
    let mut r = varint::Reader::new(body);
    let pts = r
        .varint()
        .map_err(|_| bad("IVF pts is not a canonical varint"))?;
    if !r.is_empty() {
        return Err(bad("bytes after the IVF pts"));
    }
    Ok(pts)
}

/// Where a page ended inside or right after an Ogg Opus packet, and what its header said
/// beyond what the writer derives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PageBreak {
    /// Lacing values of the packet on this and earlier pages, 1..=its lacing count.
    pub(super) lacing_index: usize,
    /// The page's header type with the continued flag (which the writer derives) cleared.
    pub(super) header_type: u8,
    /// The page's granule position when it differs from the derived one.
    pub(super) granule: Option<u64>,
    /// The page's sequence number when it is not the previous page's plus one.
    pub(super) sequence: Option<u32>,
}

/// Ogg Opus frame side information.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct OggFrameInfo {
    /// Index of the packet among the file's audio packets, from 0: lets a writer see where
    /// packets are missing.
    pub(super) packet: u64,
    /// Granule position of a page on which this packet is the last to end.
    pub(super) granule: u64,
    /// Page boundaries inside and right after the packet, in order.
    pub(super) breaks: Vec<PageBreak>,
}

pub(super) fn encode_ogg_frame(info: &OggFrameInfo) -> Result<Vec<u8>, MediaFileError> {
    let mut out = vec![TAG_OGG_OPUS_V1];
    put_varint(info.packet, &mut out, "packet index")?;
    put_varint(info.granule, &mut out, "Ogg granule position")?;
    put_varint(info.breaks.len() as u64, &mut out, "page break count")?;
    for b in &info.breaks {
        put_varint(b.lacing_index as u64, &mut out, "lacing index")?;
        out.push(b.header_type);
        let extras = if b.granule.is_some() {
            BREAK_EXPLICIT_GRANULE
        } else {
            0
        } | if b.sequence.is_some() {
            BREAK_EXPLICIT_SEQUENCE
        } else {
            0
        };
        out.push(extras);
        if let Some(g) = b.granule {
            out.extend_from_slice(&g.to_le_bytes());
        }
        if let Some(s) = b.sequence {
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
    Ok(out)
}

pub(super) fn decode_ogg_frame(side_info: &[u8]) -> Result<OggFrameInfo, MediaFileError> {
    let body = untag(side_info, TAG_OGG_OPUS_V1)?;
    let mut r = varint::Reader::new(body);
    let truncated = || bad("Ogg Opus frame side information truncated");
    let packet = r.varint().map_err(|_| truncated())?;
    let granule = r.varint().map_err(|_| truncated())?;
    let count = r.varint().map_err(|_| truncated())?;
    // Each break takes at least 3 bytes: bound the count before allocating.
    if count > (body.len() / 3) as u64 {
        return Err(bad("page break count larger than the side information"));
    }
    let mut breaks = Vec::with_capacity(count as usize);
    let mut last = 0usize;
    for _ in 0..count {
        let k = usize::try_from(r.varint().map_err(|_| truncated())?)
            .map_err(|_| bad("lacing index too large"))?;
        if k == 0 || k < last {
            return Err(bad("lacing indexes must be 1 or more and non-decreasing"));
        }
        last = k;
        let fixed = r.bytes(2).map_err(|_| truncated())?;
        let (header_type, extras) = match fixed {
            &[h, e] => (h, e),
            _ => return Err(truncated()),
        };
        if header_type & crate::codec::ogg::FLAG_CONTINUED != 0 {
            return Err(bad("page break header type has the continued flag"));
        }
        if extras & !(BREAK_EXPLICIT_GRANULE | BREAK_EXPLICIT_SEQUENCE) != 0 {
            return Err(bad("unknown page break extras"));
        }
        let granule = if extras & BREAK_EXPLICIT_GRANULE != 0 {
            let b: [u8; 8] = r
                .bytes(8)
                .map_err(|_| truncated())?
                .try_into()
                .map_err(|_| truncated())?;
            Some(u64::from_le_bytes(b))
        } else {
            None
        };
        let sequence = if extras & BREAK_EXPLICIT_SEQUENCE != 0 {
            let b: [u8; 4] = r
                .bytes(4)
                .map_err(|_| truncated())?
                .try_into()
                .map_err(|_| truncated())?;
            Some(u32::from_le_bytes(b))
        } else {
            None
        };
        breaks.push(PageBreak {
            lacing_index: k,
            header_type,
            granule,
            sequence,
        });
    }
    if !r.is_empty() {
        return Err(bad("bytes after the Ogg Opus frame side information"));
    }
    Ok(OggFrameInfo {
        packet,
        granule,
        breaks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ivf_bytes() {
        assert_eq!(encode_ivf_frame(0).unwrap(), [0x11, 0x00]);
        assert_eq!(encode_ivf_frame(300).unwrap(), [0x11, 0x41, 0x2c]);
        assert_eq!(decode_ivf_frame(&[0x11, 0x41, 0x2c]), Ok(300));
        assert!(encode_ivf_frame(u64::MAX).is_err());
        assert!(decode_ivf_frame(&[0x11, 0x40, 0x05]).is_err()); // overlong
        assert!(decode_ivf_frame(&[0x11, 0x05, 0x00]).is_err()); // trailing
        assert_eq!(
            decode_ivf_frame(&[0x12, 0x00]),
            Err(MediaFileError::UnsupportedSideInfo { tag: 0x12 })
        );
        assert!(decode_ivf_frame(&[]).is_err());
    }

    #[test]
    fn ogg_bytes() {
        let info = OggFrameInfo {
            packet: 70,
            granule: 48_312,
            breaks: vec![
                PageBreak {
                    lacing_index: 3,
                    header_type: 0,
                    granule: None,
                    sequence: None,
                },
                PageBreak {
                    lacing_index: 3,
                    header_type: 0x04,
                    granule: Some(u64::MAX),
                    sequence: Some(7),
                },
            ],
        };
        let b = encode_ogg_frame(&info).unwrap();
        assert_eq!(
            hex::encode(&b),
            concat!(
                "21",
                "4046",
                "8000bcb8",
                "02", // tag, packet 70, granule 48312, 2 breaks
                "03",
                "00",
                "00", // after 3 lacing values, plain page
                "03",
                "04",
                "03",
                "ffffffffffffffff",
                "07000000", // EOS, granule -1, seq 7
            )
        );
        assert_eq!(decode_ogg_frame(&b).unwrap(), info);
        assert_eq!(
            hex::encode(
                encode_ogg_frame(&OggFrameInfo {
                    packet: 1,
                    granule: 960,
                    breaks: vec![]
                })
                .unwrap()
            ),
            "210143c000"
        );
        for cut in 0..b.len() {
            assert!(decode_ogg_frame(&b[..cut]).is_err(), "cut {cut}");
        }
        let mut bad = b.clone();
        bad[9] = 0x01; // continued flag in a break
        assert!(decode_ogg_frame(&bad).is_err());
        let mut bad = b.clone();
        bad[10] = 0x04; // unknown extras
        assert!(decode_ogg_frame(&bad).is_err());
        let mut bad = b.clone();
        bad[11] = 0x02; // lacing index goes down
        assert!(decode_ogg_frame(&bad).is_err());
        assert!(decode_ogg_frame(&[0x21, 0x00, 0x00, 0x3f]).is_err()); // count too large
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_ivf_frame(&data);
            let _ = decode_ogg_frame(&data);
            let mut tagged = vec![TAG_OGG_OPUS_V1];
            tagged.extend_from_slice(&data);
            if let Ok(info) = decode_ogg_frame(&tagged) {
                prop_assert_eq!(encode_ogg_frame(&info).unwrap(), tagged);
            }
        }
    }
}
