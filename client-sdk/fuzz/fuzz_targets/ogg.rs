//! Arbitrary bytes as an Ogg file (pages, packets, Ogg Opus headers), as an Ogg Opus media
//! file read and rewritten, and as Opus packets: never panics, and a file that reads
//! without error rewrites byte for byte. Each input is tried as it is and with every page's
//! checksum made right, so the fuzzer gets past the CRC to the page and packet structure.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use newmedia_client::codec::media_file::{MediaFileKind, MediaFileReader, MediaFileWriter};
use newmedia_client::codec::ogg::{
    OggPackets, OggPages, OpusHead, OpusTags, PAGE_HEADER_LEN, PageHeader, write_page,
};
use newmedia_client::codec::opus::OpusPacket;

/// Rebuilds `data` as pages with correct checksums: from each `OggS`, the header fields as
/// they are, the segment table and as much data as there is (lacing values shortened to
/// fit).
fn fix_checksums(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = data;
    while rest.len() >= PAGE_HEADER_LEN && rest.starts_with(b"OggS") {
        let header = PageHeader {
            header_type: rest[5],
            granule_position: u64::from_le_bytes(rest[6..14].try_into().unwrap()),
            serial: u32::from_le_bytes(rest[14..18].try_into().unwrap()),
            sequence: u32::from_le_bytes(rest[18..22].try_into().unwrap()),
        };
        let segments = usize::from(rest[26]).min(rest.len() - PAGE_HEADER_LEN);
        let mut lacing = rest[PAGE_HEADER_LEN..PAGE_HEADER_LEN + segments].to_vec();
        let body = &rest[PAGE_HEADER_LEN + segments..];
        let mut available = body.len();
        for l in &mut lacing {
            *l = (*l).min(available.min(255) as u8);
            available -= usize::from(*l);
        }
        let len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
        write_page(&mut out, &header, &lacing, &body[..len]).unwrap();
        rest = &body[len..];
    }
    out
}

fn check(data: &[u8]) {
    for page in OggPages::new(data).flatten() {
        let _ = page.packets_ending();
    }
    for packet in OggPackets::new(data).flatten() {
        let _ = OpusHead::parse(&packet.data);
        let _ = OpusTags::parse(&packet.data);
        let _ = OpusPacket::parse(&packet.data);
    }
    let Ok(reader) = MediaFileReader::new(MediaFileKind::OggOpus, Bytes::copy_from_slice(data))
    else {
        return;
    };
    let header = reader.header();
    let mut frames = Vec::new();
    let mut clean = true;
    for f in reader {
        match f {
            Ok(f) => frames.push(f),
            Err(_) => clean = false,
        }
    }
    let mut writer = MediaFileWriter::new(MediaFileKind::OggOpus, &header)
        .expect("a reader's header is accepted by the writer");
    let mut all_accepted = true;
    for f in &frames {
        all_accepted &= writer.write_file_frame(f).is_ok();
    }
    let out = writer.finish();
    if clean {
        assert!(all_accepted, "a clean file's frames are accepted");
        assert_eq!(out.ok().as_deref(), Some(data), "a clean file rewrites byte for byte");
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = OpusPacket::parse(data);
    check(data);
    check(&fix_checksums(data));
});
