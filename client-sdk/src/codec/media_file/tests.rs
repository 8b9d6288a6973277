//! Round trips of synthetic files of every kind (the ffmpeg-made ones are in
//! `tests/media_files_ffmpeg.rs`), damaged input, and writers given only some frames.

use proptest::prelude::*;

use super::*;
use crate::codec::ivf::{IvfHeader, write_ivf_frame, write_ivf_header};
use crate::codec::ogg::{
    FLAG_BOS, FLAG_CONTINUED, FLAG_EOS, NO_GRANULE, OggPackets, OggPages, OpusHead, OpusTags,
    PageHeader, lacing_values, write_page,
};

fn read_all(kind: MediaFileKind, file: &[u8]) -> (Bytes, Vec<FileFrame>) {
    let mut r = MediaFileReader::new(kind, Bytes::copy_from_slice(file)).unwrap();
    let header = r.header();
    let frames: Vec<FileFrame> = r.by_ref().collect::<Result<_, _>>().unwrap();
    (header, frames)
}

fn rewrite(kind: MediaFileKind, header: &[u8], frames: &[FileFrame]) -> Vec<u8> {
    let mut w = MediaFileWriter::new(kind, header).unwrap();
    for f in frames {
        w.write_file_frame(f).unwrap();
    }
    w.finish().unwrap()
}

fn round_trip(kind: MediaFileKind, file: &[u8]) -> Vec<FileFrame> {
    let (header, frames) = read_all(kind, file);
    assert!(
        rewrite(kind, &header, &frames) == file,
        "byte-identical rewrite"
    );
    frames
}

#[test]
fn kinds_from_extensions() {
    use MediaFileKind::*;
    for (ext, kind) in [
        ("h264", H264AnnexB),
        ("264", H264AnnexB),
        ("IVF", Av1Ivf),
        ("opus", OggOpus),
        ("ogg", OggOpus),
        ("ulaw", Mulaw),
        ("mulaw", Mulaw),
        ("pcmu", Mulaw),
    ] {
        assert_eq!(MediaFileKind::from_extension(ext), Some(kind));
    }
    assert_eq!(MediaFileKind::from_extension("wav"), None);
    assert_eq!(
        MediaFileKind::from_path(Path::new("/tmp/a.clip.opus")),
        Some(OggOpus)
    );
    assert_eq!(MediaFileKind::from_path(Path::new("noext")), None);
    assert_eq!(Mulaw.codec_name(), "g711");
    assert!(Av1Ivf.is_video() && !OggOpus.is_video());
}

// ---------------------------------------------------------------- µ-law

#[test]
fn mulaw_frames_and_round_trip() {
    let file: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    let frames = round_trip(MediaFileKind::Mulaw, &file);
    assert_eq!(frames.len(), 7);
    assert_eq!(frames[6].payload.len(), 40);
    assert_eq!(frames[6].duration_ms, 5);
    assert_eq!(frames[3].timestamp_ms, 60);
    assert!(frames.iter().all(|f| f.reference && f.side_info.is_empty()));
    assert!(round_trip(MediaFileKind::Mulaw, &[]).is_empty());
}

#[test]
fn mulaw_lost_frames_become_silence() {
    let file = vec![7u8; 160 * 5];
    let (header, mut frames) = read_all(MediaFileKind::Mulaw, &file);
    frames.remove(2);
    let out = rewrite(MediaFileKind::Mulaw, &header, &frames);
    assert_eq!(out.len(), file.len());
    assert!(out[320..480].iter().all(|&b| b == 0xFF));
}

// ---------------------------------------------------------------- H.264

fn h264_stream() -> Vec<u8> {
    let mut s = Vec::new();
    for i in 0..5u8 {
        if i % 3 == 0 {
            s.extend_from_slice(&[0, 0, 0, 1, 0x67, 0x42, 0, 0x1e, 0xab]); // SPS (no VUI parse)
            s.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xce]); // PPS
            s.extend_from_slice(&[0, 0, 1, 0x65, 0x88, i]); // IDR, first_mb 0
        } else {
            s.extend_from_slice(&[0, 0, 1, 0x41, 0x9a, i]); // non-IDR, first_mb 0
        }
    }
    s
}

#[test]
fn h264_frames_and_round_trip() {
    let file = h264_stream();
    let frames = round_trip(MediaFileKind::H264AnnexB, &file);
    assert_eq!(frames.len(), 5);
    let idr: Vec<bool> = frames.iter().map(|f| f.reference).collect();
    assert_eq!(idr, [true, false, false, true, false]);
    let ts: Vec<u64> = frames.iter().map(|f| f.timestamp_ms).collect();
    assert_eq!(ts, [0, 33, 66, 100, 133]);
    assert_eq!(frames[0].duration_ms, 33);
    assert_eq!(frames[2].duration_ms, 34);
    // The fallback frame rate is used when the SPS has no timing info.
    let mut r = MediaFileReader::with_config(
        MediaFileKind::H264AnnexB,
        Bytes::from(file),
        &ReaderConfig::default().h264_frame_rate(25, 1),
    )
    .unwrap();
    r.next_frame().unwrap();
    assert_eq!(r.next_frame().unwrap().unwrap().timestamp_ms, 40);
}

#[test]
fn h264_damage_and_bad_frames() {
    let mut file = h264_stream();
    file.extend_from_slice(&[0, 0, 1, 0x80]); // forbidden bit
    let mut r = MediaFileReader::new(MediaFileKind::H264AnnexB, Bytes::from(file)).unwrap();
    assert_eq!(r.by_ref().take(5).filter(|f| f.is_ok()).count(), 5);
    assert!(r.next_frame().is_err());
    assert!(r.next_frame().unwrap().is_none());
    let mut w = MediaFileWriter::new(MediaFileKind::H264AnnexB, &[]).unwrap();
    assert!(w.write_frame(&[1, 2, 3], 0, &[]).is_err());
    assert!(w.write_frame(&[], 0, &[]).is_err());
    assert!(w.write_frame(&[0, 0, 1, 0x41, 1], 0, &[0x11]).is_err());
    assert!(MediaFileWriter::new(MediaFileKind::H264AnnexB, &[0x11]).is_err());
    assert_eq!(w.finish().unwrap(), Vec::<u8>::new());
}

// ---------------------------------------------------------------- IVF

fn ivf_file(pts: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    write_ivf_header(
        &mut out,
        &IvfHeader {
            fourcc: *b"AV01",
            width: 64,
            height: 48,
            timebase_den: 1000,
            timebase_num: 1,
            frame_count: pts.len() as u32,
            unused: 0,
        },
    );
    for (i, &p) in pts.iter().enumerate() {
        // Temporal delimiter, then a padding OBU with an extension header (temporal id 1,
        // spatial id 0) on odd frames.
        let mut tu = vec![0x12, 0x00];
        if i % 2 == 1 {
            tu.extend_from_slice(&[0x7E, 0x20, 0x01, 0xAA]);
        }
        write_ivf_frame(&mut out, p, &tu).unwrap();
    }
    out
}

#[test]
fn ivf_frames_and_round_trip() {
    let file = ivf_file(&[0, 33, 67, 100]);
    let frames = round_trip(MediaFileKind::Av1Ivf, &file);
    let ts: Vec<u64> = frames.iter().map(|f| f.timestamp_ms).collect();
    assert_eq!(ts, [0, 33, 67, 100]);
    let d: Vec<u32> = frames.iter().map(|f| f.duration_ms).collect();
    assert_eq!(d, [33, 34, 33, 33]);
    assert_eq!(frames[0].layer_id, None);
    assert_eq!(frames[1].layer_id, Some(1));
    assert_eq!(frames[1].side_info[..], [0x11, 0x21]);
    // Lost frames: the rest is still a valid IVF file.
    let (header, mut frames) = read_all(MediaFileKind::Av1Ivf, &file);
    frames.remove(1);
    let out = rewrite(MediaFileKind::Av1Ivf, &header, &frames);
    let (_, again) = read_all(MediaFileKind::Av1Ivf, &out);
    assert_eq!(again.len(), 3);
    assert_eq!(again[1].timestamp_ms, 67);
}

#[test]
fn ivf_errors() {
    let mut vp9 = ivf_file(&[0]);
    vp9[8..12].copy_from_slice(b"VP90");
    assert_eq!(
        MediaFileReader::new(MediaFileKind::Av1Ivf, Bytes::from(vp9)).unwrap_err(),
        MediaFileError::NotAv1(*b"VP90")
    );
    let mut zero = ivf_file(&[0]);
    zero[16..20].fill(0);
    assert!(MediaFileReader::new(MediaFileKind::Av1Ivf, Bytes::from(zero)).is_err());
    let (header, frames) = read_all(MediaFileKind::Av1Ivf, &ivf_file(&[5]));
    assert!(MediaFileWriter::new(MediaFileKind::Av1Ivf, &header[..20]).is_err());
    assert!(MediaFileWriter::new(MediaFileKind::Av1Ivf, &[&header[..], &[0]].concat()).is_err());
    let mut w = MediaFileWriter::new(MediaFileKind::Av1Ivf, &header).unwrap();
    assert!(w.write_frame(&frames[0].payload, 0, &[]).is_err());
    assert!(w.write_frame(&[0x80], 0, &frames[0].side_info).is_err());
    assert!(w.write_frame(&[], 0, &frames[0].side_info).is_err());
}

// ---------------------------------------------------------------- Ogg Opus

/// An Opus packet of `len` bytes (at least 1): CELT fullband 20 ms, one frame, code 0 (so
/// any length up to 1276 parses).
fn opus_packet(len: usize, fill: u8) -> Vec<u8> {
    let mut p = vec![0xF8];
    p.resize(len.clamp(1, 1276), fill);
    p
}

/// How to lay the audio into pages.
#[derive(Debug, Clone)]
struct Layout {
    /// Packet sizes.
    sizes: Vec<usize>,
    /// Lacing values per page (cycled).
    page_segments: Vec<usize>,
    /// Insert an empty page after page `i` when `empty_after[i % len]`.
    empty_after: Vec<bool>,
    /// Add one to the sequence number of page `i` (a gap) when set.
    seq_gap_at: Option<usize>,
    /// Give pages on which no packet ends this granule instead of -1.
    odd_granule: Option<u64>,
    /// Mark the last page EOS.
    eos: bool,
    /// Subtract this from the last page's granule (end trimming).
    trim: u64,
}

fn ogg_header_pages(out: &mut Vec<u8>, serial: u32) {
    let head = OpusHead {
        version: 1,
        channels: 1,
        pre_skip: 312,
        input_sample_rate: 48000,
        output_gain: 0,
        mapping_family: 0,
        mapping: None,
    };
    let mut p = Vec::new();
    head.write(&mut p);
    let h = |t, s| PageHeader {
        header_type: t,
        granule_position: 0,
        serial,
        sequence: s,
    };
    write_page(out, &h(FLAG_BOS, 0), &[p.len() as u8], &p).unwrap();
    let mut t = Vec::new();
    OpusTags {
        vendor: b"newmedia test",
        comments: vec![b"TITLE=x"],
        extra: &[],
    }
    .write(&mut t)
    .unwrap();
    let lacing: Vec<u8> = lacing_values(t.len()).collect();
    write_page(out, &h(0, 1), &lacing, &t).unwrap();
}

fn ogg_file(layout: &Layout) -> Vec<u8> {
    let serial = 0xC0FFEE;
    let mut out = Vec::new();
    ogg_header_pages(&mut out, serial);
    let packets: Vec<Vec<u8>> = layout
        .sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| opus_packet(n, i as u8))
        .collect();
    // (lacing value, granule when a packet ends there)
    let mut lacing = Vec::new();
    let mut granule = 0u64;
    for p in &packets {
        granule += 960;
        let v: Vec<u8> = lacing_values(p.len()).collect();
        let n = v.len();
        for (j, l) in v.into_iter().enumerate() {
            lacing.push((l, (j + 1 == n).then_some(granule)));
        }
    }
    let data = packets.concat();
    let (mut li, mut di, mut seq, mut continued, mut page_no) = (0, 0, 2u32, false, 0usize);
    let mut segs = layout.page_segments.iter().cycle();
    while li < lacing.len() {
        let n = (*segs.next().unwrap()).clamp(1, 255).min(lacing.len() - li);
        let page = &lacing[li..li + n];
        let bytes: usize = page.iter().map(|(l, _)| usize::from(*l)).sum();
        let last = li + n == lacing.len();
        let ended = page.iter().filter_map(|(_, g)| *g).next_back();
        let mut g = ended.unwrap_or(layout.odd_granule.unwrap_or(NO_GRANULE));
        if last {
            g -= layout.trim.min(g);
        }
        if layout.seq_gap_at == Some(page_no) {
            seq += 1;
        }
        let mut t = if continued { FLAG_CONTINUED } else { 0 };
        let empty_after = !last && layout.empty_after[page_no % layout.empty_after.len()];
        if last && layout.eos {
            t |= FLAG_EOS;
        }
        let values: Vec<u8> = page.iter().map(|(l, _)| *l).collect();
        let header = PageHeader {
            header_type: t,
            granule_position: g,
            serial,
            sequence: seq,
        };
        write_page(&mut out, &header, &values, &data[di..di + bytes]).unwrap();
        continued = values.last() == Some(&255);
        seq += 1;
        if empty_after {
            let t = if continued { FLAG_CONTINUED } else { 0 };
            let header = PageHeader {
                header_type: t,
                granule_position: layout.odd_granule.unwrap_or(NO_GRANULE),
                serial,
                sequence: seq,
            };
            write_page(&mut out, &header, &[], &[]).unwrap();
            seq += 1;
        }
        li += n;
        di += bytes;
        page_no += 1;
    }
    out
}

fn simple_layout(sizes: Vec<usize>, page_segments: usize) -> Layout {
    Layout {
        sizes,
        page_segments: vec![page_segments],
        empty_after: vec![false],
        seq_gap_at: None,
        odd_granule: None,
        eos: true,
        trim: 0,
    }
}

#[test]
fn ogg_opus_frames_and_round_trip() {
    let file = ogg_file(&simple_layout(vec![100; 10], 4));
    let frames = round_trip(MediaFileKind::OggOpus, &file);
    assert_eq!(frames.len(), 10);
    let ts: Vec<u64> = frames.iter().map(|f| f.timestamp_ms).collect();
    assert_eq!(ts, (0..10).map(|i| i * 20).collect::<Vec<u64>>());
    assert!(frames.iter().all(|f| f.duration_ms == 20 && f.reference));
    assert_eq!(&frames[3].payload[..], &opus_packet(100, 3)[..]);
    // Packet 3 ends page 0 (4 packets a page): granule 3840, one break after its 1 lacing
    // value, plain page; packet 2 only has its index and granule.
    assert_eq!(hex::encode(&frames[3].side_info), "21034f0001010000");
    assert_eq!(hex::encode(&frames[2].side_info), "21024b4000");
    // Header: tag, EOS flag, the two header pages.
    let (header, _) = read_all(MediaFileKind::OggOpus, &file);
    assert_eq!(header[..2], [0x21, 0x01]);
    let pages: Vec<_> = OggPages::new(&header[2..])
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(pages.len(), 2);
}

#[test]
fn ogg_opus_packets_spanning_pages_and_odd_headers() {
    let layout = Layout {
        sizes: vec![600, 10, 255, 1276, 1, 510, 20],
        page_segments: vec![2, 1, 3],
        empty_after: vec![true, false],
        seq_gap_at: Some(2),
        odd_granule: Some(12345),
        eos: false,
        trim: 500,
    };
    let file = ogg_file(&layout);
    let frames = round_trip(MediaFileKind::OggOpus, &file);
    assert_eq!(frames.len(), 7);
    assert_eq!(frames[0].payload.len(), 600);
    assert_eq!(frames[3].payload.len(), 1276);
    let (header, _) = read_all(MediaFileKind::OggOpus, &file);
    assert_eq!(header[1], 0, "no EOS");
}

#[test]
fn ogg_opus_without_audio() {
    let mut file = Vec::new();
    ogg_header_pages(&mut file, 1);
    assert!(round_trip(MediaFileKind::OggOpus, &file).is_empty());
}

#[test]
fn ogg_opus_lost_frames_still_make_a_valid_file() {
    let file = ogg_file(&simple_layout(vec![300; 30], 7));
    let (header, frames) = read_all(MediaFileKind::OggOpus, &file);
    // 300-byte packets take 2 lacing values, pages 7: page 0 ends inside packet 3, page 1
    // after packet 6. Drop those and the last packet: pages merge, EOS is kept.
    let lost = [3, 6, 29];
    let keep: Vec<(usize, FileFrame)> = frames
        .iter()
        .cloned()
        .enumerate()
        .filter(|(i, _)| !lost.contains(i))
        .collect();
    let kept: Vec<FileFrame> = keep.iter().map(|(_, f)| f.clone()).collect();
    let out = rewrite(MediaFileKind::OggOpus, &header, &kept);
    let packets: Vec<_> = OggPackets::new(&out).collect::<Result<_, _>>().unwrap();
    assert!(packets.last().unwrap().eos);
    // Packets 3 and 6 are replaced by one-byte concealment packets (20 ms, CELT FB, a
    // zero-length frame); the last one is not replaced.
    let (_, again) = read_all(MediaFileKind::OggOpus, &out);
    assert_eq!(again.len(), 29);
    assert_eq!(packets.len(), 2 + 29);
    for i in [3, 6] {
        assert_eq!(&again[i].payload[..], &[0xF8]);
        assert_eq!(again[i].timestamp_ms, frames[i].timestamp_ms);
    }
    let real: Vec<&FileFrame> = again.iter().filter(|f| f.payload.len() > 1).collect();
    assert_eq!(real.len(), kept.len());
    for (a, (i, k)) in real.iter().zip(&keep) {
        assert_eq!(a.payload, k.payload);
        assert_eq!(a.timestamp_ms, k.timestamp_ms, "packet {i}");
    }
}

#[test]
fn ogg_opus_gaps_fill_with_the_previous_configuration_then_celt() {
    // SILK wideband 40 ms packets (config 10), stereo: TOC 0x54.
    let mut file = Vec::new();
    ogg_header_pages(&mut file, 9);
    let packets: Vec<Vec<u8>> = (0..6).map(|i| vec![0x54, i, i]).collect();
    let granules: Vec<u64> = (1..=6).map(|i| i * 1920).collect();
    let h = |t, g, s| PageHeader {
        header_type: t,
        granule_position: g,
        serial: 9,
        sequence: s,
    };
    for (i, p) in packets.iter().enumerate() {
        let t = if i == 5 { FLAG_EOS } else { 0 };
        write_page(&mut file, &h(t, granules[i], 2 + i as u32), &[3], p).unwrap();
    }
    let (header, frames) = read_all(MediaFileKind::OggOpus, &file);
    // Lose packets 1..=4 (160 ms), and move packet 5 a further 7.5 ms later by hand.
    let mut last = frames[5].clone();
    let mut info = side_info::decode_ogg_frame(&last.side_info).unwrap();
    info.granule += 360;
    last.side_info = Bytes::from(side_info::encode_ogg_frame(&info).unwrap());
    let out = rewrite(MediaFileKind::OggOpus, &header, &[frames[0].clone(), last]);
    let (_, again) = read_all(MediaFileKind::OggOpus, &out);
    let payloads: Vec<Vec<u8>> = again.iter().map(|f| f.payload.to_vec()).collect();
    assert_eq!(
        payloads,
        vec![
            packets[0].clone(),
            // 4 x 40 ms SILK WB stereo, one frame a packet like the packets before.
            vec![0x54],
            vec![0x54],
            vec![0x54],
            vec![0x54],
            vec![0xA7, 3], // 3 x 2.5 ms CELT WB stereo (config 20)
            packets[5].clone(),
        ]
    );
    assert_eq!(again[6].timestamp_ms, (5 * 1920 + 360) / 48);
}

#[test]
fn ogg_opus_errors() {
    let file = ogg_file(&simple_layout(vec![100; 4], 2));
    let (header, frames) = read_all(MediaFileKind::OggOpus, &file);
    // Damaged audio page: the frames before it, then the error.
    let mut bad = file.clone();
    let last = bad.len() - 5;
    bad[last] ^= 0xFF;
    let mut r = MediaFileReader::new(MediaFileKind::OggOpus, Bytes::from(bad)).unwrap();
    assert_eq!(r.by_ref().take(2).filter(|f| f.is_ok()).count(), 2);
    assert!(matches!(
        r.next_frame(),
        Err(MediaFileError::Ogg(OggError::BadChecksum { .. }))
    ));
    // Damaged header page: no reader.
    let mut bad = file.clone();
    bad[30] ^= 0xFF;
    assert!(MediaFileReader::new(MediaFileKind::OggOpus, Bytes::from(bad)).is_err());
    assert!(MediaFileReader::new(MediaFileKind::OggOpus, Bytes::new()).is_err());
    // Writers refuse bad headers and frames.
    assert!(MediaFileWriter::new(MediaFileKind::OggOpus, &header[..header.len() - 1]).is_err());
    assert!(MediaFileWriter::new(MediaFileKind::OggOpus, &[0x21]).is_err());
    assert!(MediaFileWriter::new(MediaFileKind::OggOpus, &[0x22, 0]).is_err());
    let mut w = MediaFileWriter::new(MediaFileKind::OggOpus, &header).unwrap();
    assert!(w.write_frame(&[], 0, &frames[0].side_info).is_err());
    assert!(w.write_frame(&frames[0].payload, 0, &[0x21]).is_err());
    // A break past the packet's lacing values.
    assert!(
        w.write_frame(&[0xF8, 1], 0, &[0x21, 0x00, 0x01, 0x02, 0x00, 0x00])
            .is_err()
    );
    for f in &frames {
        w.write_file_frame(f).unwrap();
    }
    assert_eq!(
        w.write_file_frame(&frames[0]),
        Err(MediaFileError::FrameAfterEos)
    );
    assert_eq!(w.finish().unwrap(), file);
}

/// The vectors of PROTOCOL.md §15.
#[test]
fn side_info_vectors() {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("side_info_vectors.json")).unwrap();
    let hex_of = |v: &serde_json::Value| hex::decode(v.as_str().unwrap()).unwrap();
    for case in v["ivf_frame"].as_array().unwrap() {
        let pts = case["pts"].as_u64().unwrap();
        let bytes = hex_of(&case["side_info"]);
        assert_eq!(side_info::encode_ivf_frame(pts).unwrap(), bytes);
        assert_eq!(side_info::decode_ivf_frame(&bytes).unwrap(), pts);
    }
    for case in v["ogg_frame"].as_array().unwrap() {
        let info = side_info::OggFrameInfo {
            packet: case["packet"].as_u64().unwrap(),
            granule: case["granule"].as_u64().unwrap(),
            breaks: case["breaks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| side_info::PageBreak {
                    lacing_index: b["lacing_index"].as_u64().unwrap() as usize,
                    header_type: b["header_type"].as_u64().unwrap() as u8,
                    granule: b["granule"].as_u64(),
                    sequence: b["sequence"].as_u64().map(|s| s as u32),
                })
                .collect(),
        };
        let bytes = hex_of(&case["side_info"]);
        assert_eq!(side_info::encode_ogg_frame(&info).unwrap(), bytes);
        assert_eq!(side_info::decode_ogg_frame(&bytes).unwrap(), info);
    }
    for case in v["invalid_side_info"].as_array().unwrap() {
        let bytes = hex_of(&case["hex"]);
        assert!(
            side_info::decode_ivf_frame(&bytes).is_err()
                && side_info::decode_ogg_frame(&bytes).is_err(),
            "{}",
            case["why"]
        );
    }
    let f = &v["ogg_file"];
    let file = hex_of(&f["file"]);
    let (header, frames) = read_all(MediaFileKind::OggOpus, &file);
    assert_eq!(header.to_vec(), hex_of(&f["header_side_info"]));
    let want = f["frames"].as_array().unwrap();
    assert_eq!(frames.len(), want.len());
    for (got, want) in frames.iter().zip(want) {
        assert_eq!(got.payload.to_vec(), hex_of(&want["payload"]));
        assert_eq!(got.side_info.to_vec(), hex_of(&want["side_info"]));
        assert_eq!(got.timestamp_ms, want["timestamp_ms"].as_u64().unwrap());
    }
    assert_eq!(rewrite(MediaFileKind::OggOpus, &header, &frames), file);
}

#[test]
fn video_sizes() {
    assert_eq!(video_size(MediaFileKind::OggOpus, &[0xF8]), None);
    assert_eq!(
        video_size(MediaFileKind::H264AnnexB, &[0, 0, 1, 0x41, 0]),
        None
    );
    assert_eq!(video_size(MediaFileKind::Av1Ivf, &[0x12, 0x00]), None);
}

proptest! {
    #[test]
    fn ogg_opus_layouts_round_trip(
        sizes in proptest::collection::vec(1usize..1300, 1..25),
        page_segments in proptest::collection::vec(1usize..20, 1..4),
        empty_after in proptest::collection::vec(any::<bool>(), 1..4),
        seq_gap_at in proptest::option::of(0usize..5),
        odd_granule in proptest::option::of(0u64..100_000),
        eos: bool,
        trim in 0u64..2000,
    ) {
        let layout = Layout { sizes, page_segments, empty_after, seq_gap_at, odd_granule, eos, trim };
        let file = ogg_file(&layout);
        let frames = round_trip(MediaFileKind::OggOpus, &file);
        prop_assert_eq!(frames.len(), layout.sizes.len());
        for w in frames.windows(2) {
            prop_assert!(w[0].timestamp_ms <= w[1].timestamp_ms);
        }
    }

    #[test]
    fn ogg_opus_any_subset_of_frames_is_a_valid_file(
        sizes in proptest::collection::vec(3usize..1300, 1..25),
        page_segments in proptest::collection::vec(1usize..40, 1..4),
        keep in proptest::collection::vec(any::<bool>(), 25),
    ) {
        let file = ogg_file(&simple_layout(sizes, page_segments[0]));
        let (header, frames) = read_all(MediaFileKind::OggOpus, &file);
        let kept: Vec<FileFrame> = frames.iter().zip(&keep).filter(|(_, k)| **k).map(|(f, _)| f.clone()).collect();
        let out = rewrite(MediaFileKind::OggOpus, &header, &kept);
        let (_, again) = read_all(MediaFileKind::OggOpus, &out);
        // Real packets in order with their times; lost ones between them replaced.
        let real: Vec<&FileFrame> = again.iter().filter(|f| f.payload.len() > 2).collect();
        prop_assert_eq!(real.len(), kept.len());
        for (a, k) in real.iter().zip(&kept) {
            prop_assert_eq!(&a.payload, &k.payload);
            prop_assert_eq!(a.timestamp_ms, k.timestamp_ms);
        }
        let first = keep.iter().take(frames.len()).position(|k| *k);
        let last = keep.iter().take(frames.len()).rposition(|k| *k);
        if let (Some(first), Some(last)) = (first, last) {
            let samples: u32 = again
                .iter()
                .map(|f| crate::codec::opus::packet_samples_48k(&f.payload).unwrap())
                .sum();
            prop_assert_eq!(samples as usize, (last + 1 - first) * 960, "no gap");
        }
        let pages: Vec<_> = OggPages::new(&out).collect::<Result<_, _>>().unwrap();
        for (i, p) in pages.iter().enumerate() {
            prop_assert_eq!(p.header.sequence as usize, i, "consecutive sequence numbers");
        }
        if !kept.is_empty() {
            prop_assert!(pages.last().unwrap().header.is_eos());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(kind in 0usize..4, data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let kind = [MediaFileKind::H264AnnexB, MediaFileKind::Av1Ivf, MediaFileKind::OggOpus, MediaFileKind::Mulaw][kind];
        if let Ok(r) = MediaFileReader::new(kind, Bytes::from(data.clone())) {
            let _ = r.count();
        }
        let _ = video_size(kind, &data);
        if let Ok(mut w) = MediaFileWriter::new(kind, &data) {
            let _ = w.write_frame(&data, 0, &data);
            let _ = w.finish();
        }
    }

    #[test]
    fn arbitrary_side_info_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64), payload in proptest::collection::vec(any::<u8>(), 0..600)) {
        let file = ogg_file(&simple_layout(vec![100; 3], 2));
        let (header, frames) = read_all(MediaFileKind::OggOpus, &file);
        let mut w = MediaFileWriter::new(MediaFileKind::OggOpus, &header).unwrap();
        let _ = w.write_frame(&payload, 0, &data);
        let mut tagged = vec![0x21];
        tagged.extend_from_slice(&data);
        let _ = w.write_frame(&frames[0].payload, 0, &tagged);
        let _ = w.write_frame(&payload, 0, &frames[1].side_info);
        let _ = w.finish();
    }
}
