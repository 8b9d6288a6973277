//! The Ogg container (RFC 3533) and the Ogg Opus mapping (RFC 7845): what `.opus` files are.
//!
//! - [`OggPage::parse`], [`OggPages`]: pages, checked (capture pattern `OggS`, version 0,
//!   segments present, CRC-32 with polynomial 0x04C11DB7); [`write_page`] writes one with
//!   its checksum, so a page read and written back is byte-identical.
//! - [`OggPackets`]: the packets of the pages, reassembled across page boundaries, one
//!   partial packet per serial number (multiplexed streams work; nothing is skipped).
//! - [`OpusHead`], [`OpusTags`]: the Ogg Opus header packets (channels, pre-skip, mapping,
//!   vendor and comments); granule positions of Ogg Opus count 48 kHz samples
//!   ([`GRANULE_RATE`]) and include the pre-skip ([`OpusHead::pcm_position`]).
//!
//! Page layout on disk (RFC 3533 §6), integers little-endian:
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 4 | capture pattern `OggS` |
//! | 4 | 1 | version, 0 |
//! | 5 | 1 | header type: 0x01 continued packet, 0x02 first page (BOS), 0x04 last page (EOS) |
//! | 6 | 8 | granule position of the last packet that ends on the page, -1 if none |
//! | 14 | 4 | bitstream serial number |
//! | 18 | 4 | page sequence number |
//! | 22 | 4 | CRC-32 of the page with this field zero |
//! | 26 | 1 | number of segments *n* |
//! | 27 | *n* | lacing values; a value below 255 ends a packet |
//!
//! followed by the segments' bytes.
//!
//! What it does not do: resynchronise after damage (every reader here reads whole files and
//! stops at the first bad page), or seek. The byte-exact framing of `.opus` files into
//! publishable packets and back is [`super::media_file`]'s job.

mod crc;
mod opus_head;
mod packets;
mod page;

pub use opus_head::{
    ChannelMapping, GRANULE_RATE, OPUS_HEAD_MAGIC, OPUS_TAGS_MAGIC, OpusHead, OpusTags,
};
pub use packets::{OggPacket, OggPackets};
pub use page::{
    CAPTURE_PATTERN, FLAG_BOS, FLAG_CONTINUED, FLAG_EOS, MAX_SEGMENTS, NO_GRANULE, OggPage,
    OggPages, PAGE_HEADER_LEN, PageHeader, lacing_values, set_page_flags, write_page,
};

/// What went wrong while reading or writing Ogg. Offsets are byte offsets into the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OggError {
    /// The page is cut off by the end of the input.
    #[error("Ogg page at offset {offset} truncated")]
    TruncatedPage {
        /// Offset of the page.
        offset: usize,
    },
    /// The page does not start with `OggS`.
    #[error("no Ogg capture pattern at offset {offset}")]
    BadCapturePattern {
        /// Offset where a page was expected.
        offset: usize,
    },
    /// The stream structure version is not 0.
    #[error("unsupported Ogg version {version} in the page at offset {offset}")]
    UnsupportedVersion {
        /// Offset of the page.
        offset: usize,
        /// The version byte.
        version: u8,
    },
    /// The page's CRC does not match its bytes.
    #[error("Ogg page at offset {offset}: checksum {stored:08x}, computed {computed:08x}")]
    BadChecksum {
        /// Offset of the page.
        offset: usize,
        /// Checksum stored in the page.
        stored: u32,
        /// Checksum of the page's bytes.
        computed: u32,
    },
    /// A page continues a packet but its stream has none in progress.
    #[error("Ogg page at offset {offset} continues a packet that was never started")]
    ContinuationWithoutPacket {
        /// Offset of the page.
        offset: usize,
    },
    /// A packet in progress is not continued by the next page of its stream.
    #[error("Ogg page at offset {offset} does not continue the packet in progress")]
    PacketCutOff {
        /// Offset of the page.
        offset: usize,
    },
    /// The input ends inside a packet.
    #[error("Ogg input ends inside the packet started on the page at offset {offset}")]
    TruncatedPacket {
        /// Offset of the page the packet starts on.
        offset: usize,
    },
    /// A page to write has more than 255 segments.
    #[error("an Ogg page holds at most 255 segments, not {0}")]
    TooManySegments(usize),
    /// A page to write has data of another length than its lacing values add up to.
    #[error("Ogg lacing values add up to {laced} bytes, the page data has {data}")]
    LacingMismatch {
        /// Sum of the lacing values.
        laced: usize,
        /// Bytes of data.
        data: usize,
    },
    /// An `OpusHead` or `OpusTags` packet is malformed.
    #[error("bad Ogg Opus header: {reason}")]
    BadOpusHeader {
        /// What is wrong.
        reason: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header(header_type: u8, granule: u64, seq: u32) -> PageHeader {
        PageHeader {
            header_type,
            granule_position: granule,
            serial: 0x1234_5678,
            sequence: seq,
        }
    }

    #[test]
    fn page_bytes_by_hand() {
        let mut out = Vec::new();
        write_page(&mut out, &header(FLAG_BOS, 0, 0), &[3], b"abc").unwrap();
        // Header fields at their offsets, CRC at 22..26, one segment of 3 bytes.
        assert_eq!(&out[..4], b"OggS");
        assert_eq!(out[4], 0);
        assert_eq!(out[5], FLAG_BOS);
        assert_eq!(&out[6..14], &[0; 8]);
        assert_eq!(&out[14..18], &[0x78, 0x56, 0x34, 0x12]);
        assert_eq!(&out[18..22], &[0; 4]);
        assert_eq!(&out[26..], &[1, 3, b'a', b'b', b'c']);
        let mut zeroed = out.clone();
        zeroed[22..26].fill(0);
        assert_eq!(
            u32::from_le_bytes(out[22..26].try_into().unwrap()),
            crc::update(0, &zeroed)
        );
        let page = OggPage::parse(&out, 0).unwrap();
        assert_eq!(page.header, header(FLAG_BOS, 0, 0));
        assert_eq!((page.lacing, page.data), (&[3u8][..], &b"abc"[..]));
        assert!(page.header.is_bos() && !page.header.is_eos() && !page.header.is_continued());
    }

    #[test]
    fn page_errors() {
        let mut good = Vec::new();
        write_page(&mut good, &header(0, 5, 1), &[255, 10], &[7; 265]).unwrap();
        for cut in [0, 3, 26, 27, 28, good.len() - 1] {
            assert_eq!(
                OggPage::parse(&good[..cut], 9),
                Err(OggError::TruncatedPage { offset: 9 })
            );
        }
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(
            OggPage::parse(&bad, 0),
            Err(OggError::BadCapturePattern { offset: 0 })
        );
        let mut bad = good.clone();
        bad[4] = 1;
        assert_eq!(
            OggPage::parse(&bad, 0),
            Err(OggError::UnsupportedVersion {
                offset: 0,
                version: 1
            })
        );
        let mut bad = good.clone();
        bad[40] ^= 1;
        assert!(matches!(
            OggPage::parse(&bad, 0),
            Err(OggError::BadChecksum { .. })
        ));
        assert_eq!(
            write_page(
                &mut Vec::new(),
                &header(0, 0, 0),
                &[255; 256],
                &[0; 255 * 256]
            ),
            Err(OggError::TooManySegments(256))
        );
        assert_eq!(
            write_page(&mut Vec::new(), &header(0, 0, 0), &[2], &[0; 3]),
            Err(OggError::LacingMismatch { laced: 2, data: 3 })
        );
    }

    #[test]
    fn set_flags_keeps_the_checksum_right() {
        let mut out = Vec::new();
        write_page(&mut out, &header(0, 5, 1), &[1], &[9]).unwrap();
        let one = out.len();
        write_page(&mut out, &header(0, 6, 2), &[1], &[8]).unwrap();
        set_page_flags(&mut out, FLAG_EOS, true).unwrap();
        let page = OggPage::parse(&out, 0).unwrap();
        assert!(page.header.is_eos());
        assert!(!OggPage::parse(&out[one..], 0).unwrap().header.is_eos());
        set_page_flags(&mut out, FLAG_EOS, false).unwrap();
        assert!(!OggPage::parse(&out, 0).unwrap().header.is_eos());
    }

    /// Lays `packets` into pages, cutting a page after `cuts[i]` lacing values (cycling),
    /// with each page's granule the index of its last completed packet.
    fn paginate(packets: &[Vec<u8>], cuts: &[usize]) -> Vec<u8> {
        let mut lacing: Vec<(u8, Option<usize>)> = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            let values: Vec<u8> = lacing_values(p.len()).collect();
            let n = values.len();
            for (j, v) in values.into_iter().enumerate() {
                lacing.push((v, (j == n - 1).then_some(i)));
            }
        }
        let data: Vec<u8> = packets.concat();
        let mut out = Vec::new();
        let (mut li, mut di, mut seq, mut continued) = (0, 0, 0u32, false);
        let mut cut = cuts.iter().cycle();
        while li < lacing.len() {
            let n = (*cut.next().unwrap()).clamp(1, 255).min(lacing.len() - li);
            let page = &lacing[li..li + n];
            let bytes: usize = page.iter().map(|(v, _)| usize::from(*v)).sum();
            let granule = page
                .iter()
                .filter_map(|(_, done)| *done)
                .next_back()
                .map_or(NO_GRANULE, |i| i as u64);
            let values: Vec<u8> = page.iter().map(|(v, _)| *v).collect();
            let mut flags = if continued { FLAG_CONTINUED } else { 0 };
            if seq == 0 {
                flags |= FLAG_BOS;
            }
            if li + n == lacing.len() {
                flags |= FLAG_EOS;
            }
            write_page(
                &mut out,
                &header(flags, granule, seq),
                &values,
                &data[di..di + bytes],
            )
            .unwrap();
            continued = values.last() == Some(&255);
            li += n;
            di += bytes;
            seq += 1;
        }
        out
    }

    #[test]
    fn packets_across_pages() {
        let packets = vec![vec![1u8; 600], vec![2u8; 255], vec![], vec![3u8; 10]];
        // Lacing: [255 255 90] [255 0] [0] [10]; cut after 2, 2, 1, 3.
        let file = paginate(&packets, &[2, 2, 1, 3]);
        let got: Vec<_> = OggPackets::new(&file).collect::<Result<_, _>>().unwrap();
        let data: Vec<Vec<u8>> = got.iter().map(|p| p.data.to_vec()).collect();
        assert_eq!(data, packets);
        assert!(got[0].bos && !got[1].bos);
        assert!(got[3].eos);
        assert_eq!(got[0].first_page_offset, 0);
        assert!(got[0].last_page_offset > 0);
        assert_eq!(got[0].granule_position, Some(0));
        assert_eq!(got[3].granule_position, Some(3));
        assert!(matches!(got[0].data, std::borrow::Cow::Owned(_)));
        assert!(matches!(got[3].data, std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn continuation_errors() {
        let file = paginate(&[vec![1u8; 300]], &[1]);
        // Drop the first page: the second continues nothing.
        let first = OggPage::parse(&file, 0).unwrap().bytes.len();
        let r: Vec<_> = OggPackets::new(&file[first..]).collect();
        assert_eq!(
            r,
            vec![Err(OggError::ContinuationWithoutPacket { offset: 0 })]
        );
        // Only the first page: the input ends inside the packet.
        let r: Vec<_> = OggPackets::new(&file[..first]).collect();
        assert_eq!(r, vec![Err(OggError::TruncatedPacket { offset: 0 })]);
        // First page, then a fresh (not continued) page of the same stream.
        let mut cut = file[..first].to_vec();
        write_page(&mut cut, &header(0, 0, 1), &[1], &[5]).unwrap();
        let r: Vec<_> = OggPackets::new(&cut).collect();
        assert_eq!(r, vec![Err(OggError::PacketCutOff { offset: first })]);
    }

    #[test]
    fn opus_head_round_trip_and_errors() {
        let head = OpusHead {
            version: 1,
            channels: 2,
            pre_skip: 312,
            input_sample_rate: 48000,
            output_gain: -256,
            mapping_family: 0,
            mapping: None,
        };
        let mut b = Vec::new();
        head.write(&mut b);
        assert_eq!(b.len(), 19);
        assert_eq!(
            b,
            [
                b"OpusHead".as_slice(),
                &[1, 2, 0x38, 0x01, 0x80, 0xBB, 0, 0, 0x00, 0xFF, 0]
            ]
            .concat()
        );
        assert_eq!(OpusHead::parse(&b).unwrap(), head);
        assert_eq!(head.pcm_position(312 + 960), Some(960));
        assert_eq!(head.pcm_position(100), None);
        let surround = OpusHead {
            channels: 6,
            mapping_family: 1,
            mapping: Some(ChannelMapping {
                stream_count: 4,
                coupled_count: 2,
                mapping: vec![0, 4, 1, 2, 3, 5],
            }),
            ..head.clone()
        };
        let mut s = Vec::new();
        surround.write(&mut s);
        assert_eq!(OpusHead::parse(&s).unwrap(), surround);
        for cut in 0..s.len() {
            assert!(OpusHead::parse(&s[..cut]).is_err());
        }
        let mut bad = b.clone();
        bad[8] = 0x10;
        assert!(OpusHead::parse(&bad).is_err());
        let mut bad = b.clone();
        bad[9] = 3; // family 0 with 3 channels
        assert!(OpusHead::parse(&bad).is_err());
        let mut bad = s.clone();
        bad[21] = 6; // 6 >= 4 + 2
        assert!(OpusHead::parse(&bad).is_err());
    }

    #[test]
    fn opus_tags_round_trip() {
        let tags = OpusTags {
            vendor: b"Lavf59.27.100",
            comments: vec![b"encoder=Lavc59.37.100 libopus", b"TITLE=x"],
            extra: &[],
        };
        let mut b = Vec::new();
        tags.write(&mut b).unwrap();
        assert_eq!(OpusTags::parse(&b).unwrap(), tags);
        for cut in 8..b.len() {
            assert!(OpusTags::parse(&b[..cut]).is_err(), "cut {cut}");
        }
        let mut huge = b"OpusTags".to_vec();
        huge.extend_from_slice(&0u32.to_le_bytes());
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(OpusTags::parse(&huge).is_err());
    }

    proptest! {
        #[test]
        fn pages_round_trip(
            header_type in any::<u8>(), granule in any::<u64>(), serial in any::<u32>(),
            sequence in any::<u32>(), lacing in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let h = PageHeader { header_type, granule_position: granule, serial, sequence };
            let len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut out = Vec::new();
            write_page(&mut out, &h, &lacing, &data).unwrap();
            let page = OggPage::parse(&out, 0).unwrap();
            prop_assert_eq!(page.header, h);
            prop_assert_eq!(page.lacing, &lacing[..]);
            prop_assert_eq!(page.data, &data[..]);
            prop_assert_eq!(page.bytes, &out[..]);
            let mut again = Vec::new();
            write_page(&mut again, &page.header, page.lacing, page.data).unwrap();
            prop_assert_eq!(again, out);
        }

        #[test]
        fn packets_round_trip(
            sizes in proptest::collection::vec(0usize..700, 1..12),
            cuts in proptest::collection::vec(1usize..12, 1..6),
        ) {
            let packets: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, &n)| vec![i as u8; n]).collect();
            let file = paginate(&packets, &cuts);
            let pages: Vec<_> = OggPages::new(&file).collect::<Result<_, _>>().unwrap();
            let mut rewritten = Vec::new();
            for p in &pages {
                write_page(&mut rewritten, &p.header, p.lacing, p.data).unwrap();
            }
            prop_assert_eq!(&rewritten, &file);
            let got: Vec<_> = OggPackets::new(&file).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(got.len(), packets.len());
            for (i, (g, p)) in got.iter().zip(&packets).enumerate() {
                prop_assert_eq!(&g.data[..], &p[..]);
                if let Some(gp) = g.granule_position {
                    prop_assert_eq!(gp, i as u64);
                }
            }
            prop_assert!(got.last().unwrap().eos);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = OggPages::new(&data).count();
            let _ = OggPackets::new(&data).count();
            let _ = OpusHead::parse(&data);
            let _ = OpusTags::parse(&data);
            let mut tags = b"OpusTags".to_vec();
            tags.extend_from_slice(&data);
            let _ = OpusTags::parse(&tags);
        }

        #[test]
        fn capture_pattern_then_arbitrary_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut file = b"OggS\0".to_vec();
            file.extend_from_slice(&data);
            let _ = OggPackets::new(&file).count();
        }
    }
}
