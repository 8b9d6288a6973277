//! Ogg Opus files to frames: one Opus packet per frame, the header pages and each packet's
//! page layout as side information (formats in the [`super`] module docs).

use std::ops::Range;

use bytes::{Bytes, BytesMut};

use super::side_info::{
    OGG_HEADER_ENDS_WITH_EOS, OggFrameInfo, PageBreak, TAG_OGG_OPUS_V1, encode_ogg_frame,
};
use super::{FileFrame, Framed, MediaFileError};
use crate::codec::ogg::{
    FLAG_CONTINUED, NO_GRANULE, OggError, OggPage, OggPages, OpusHead, OpusTags, PAGE_HEADER_LEN,
};
use crate::codec::opus::OpusPacket;
use newmedia_proto::varint;

fn not_ogg_opus(reason: &'static str) -> MediaFileError {
    MediaFileError::NotOggOpus { reason }
}

fn bad_page(page: &OggPage<'_>, reason: &'static str) -> MediaFileError {
    MediaFileError::BadOggOpusPage {
        offset: page.offset,
        reason,
    }
}

/// Absolute file range of each lacing value's bytes on `page`.
fn segment_ranges<'p>(page: &'p OggPage<'_>) -> impl Iterator<Item = (u8, Range<usize>)> + 'p {
    let mut at = page.offset + PAGE_HEADER_LEN + page.lacing.len();
    page.lacing.iter().map(move |&l| {
        let r = at..at + usize::from(l);
        at = r.end;
        (l, r)
    })
}

/// A packet being gathered: its byte ranges in the file and lacing values so far.
#[derive(Debug, Default)]
struct Partial {
    pieces: Vec<Range<usize>>,
    lacing: usize,
    breaks: Vec<PageBreak>,
}

impl Partial {
    fn push(&mut self, r: Range<usize>) {
        match self.pieces.last_mut() {
            Some(last) if last.end == r.start => last.end = r.end,
            _ => self.pieces.push(r),
        }
        self.lacing += 1;
    }

    fn payload(&self, data: &Bytes) -> Bytes {
        match self.pieces.as_slice() {
            [one] => data.slice(one.clone()),
            pieces => {
                let mut b = BytesMut::new();
                for p in pieces {
                    b.extend_from_slice(data.get(p.clone()).unwrap_or_default());
                }
                b.freeze()
            }
        }
    }
}

/// A whole packet with its timing.
#[derive(Debug)]
struct Packet {
    payload: Bytes,
    samples: u32,
    granule: u64,
    start: u64,
    lacing: usize,
    breaks: Vec<PageBreak>,
}

/// Reads the header pages: returns the index of the first audio page and the OpusHead.
fn read_header(pages: &[OggPage<'_>]) -> Result<(usize, OpusHead), MediaFileError> {
    let first = pages.first().ok_or(not_ogg_opus("no Ogg pages"))?;
    if !first.header.is_bos() || first.header.is_continued() {
        return Err(bad_page(first, "the first page is not a BOS page"));
    }
    if first.packets_ending() != 1 || first.ends_inside_packet() {
        return Err(bad_page(first, "the first page must hold OpusHead alone"));
    }
    let head = OpusHead::parse(first.data)?;
    let serial = first.header.serial;
    // OpusTags: from the second page, ending at the end of a page.
    let mut tags = Vec::new();
    let mut index = 1;
    loop {
        let page = pages.get(index).ok_or(not_ogg_opus("OpusTags missing"))?;
        index += 1;
        if page.header.serial != serial {
            return Err(not_ogg_opus("more than one logical stream"));
        }
        if page.header.is_continued() == tags.is_empty() || page.header.is_bos() {
            return Err(bad_page(page, "OpusTags pages are not one packet"));
        }
        tags.extend_from_slice(page.data);
        match page.packets_ending() {
            0 => continue,
            1 if !page.ends_inside_packet() => break,
            _ => {
                return Err(bad_page(
                    page,
                    "audio starts on the page where OpusTags ends",
                ));
            }
        }
    }
    OpusTags::parse(&tags)?;
    // Empty pages before the audio belong to the header too.
    while let Some(page) = pages.get(index) {
        if !page.lacing.is_empty() {
            break;
        }
        if page.header.serial != serial {
            return Err(not_ogg_opus("more than one logical stream"));
        }
        index += 1;
    }
    Ok((index, head))
}

/// Gives the packets that end on a page with granule position `g` their granule and start
/// (see the module docs); `prev` is the granule of the packet before them.
///
/// A packet's granule is the later of counting forward from the previous packet and
/// counting back from the page's granule, and at most the page's: the same either way on an
/// ordinary page; counting back is right after missing packets (a granule jump) and on the
/// first page; counting forward is right on an end-trimmed last page.
fn time_packets(packets: &mut [Packet], g: u64, prev: &mut Option<u64>) {
    let m = packets.len();
    for i in 0..m {
        let later: u64 = packets
            .get(i + 1..)
            .unwrap_or_default()
            .iter()
            .map(|p| u64::from(p.samples))
            .sum();
        let Some(p) = packets.get_mut(i) else {
            break;
        };
        let d = u64::from(p.samples);
        let back = g.saturating_sub(later);
        p.granule = if i + 1 == m {
            g
        } else {
            prev.map_or(back, |a| a.saturating_add(d).max(back)).min(g)
        };
        let own_start = p.granule.saturating_sub(d);
        p.start = prev.map_or(own_start, |a| a.max(own_start));
        *prev = Some(p.granule);
    }
}

struct Audio<'d> {
    data: &'d Bytes,
    serial: u32,
    expected_sequence: u32,
    eos_seen: bool,
    partial: Option<Partial>,
    prev_granule: Option<u64>,
    packets: Vec<Packet>,
}

impl Audio<'_> {
    fn page(&mut self, page: &OggPage<'_>) -> Result<(), MediaFileError> {
        if page.header.serial != self.serial {
            return Err(not_ogg_opus("more than one logical stream"));
        }
        if self.eos_seen {
            return Err(bad_page(page, "page after the EOS page"));
        }
        if page.header.is_continued() != self.partial.is_some() {
            return Err(bad_page(
                page,
                "continued flag does not match the packet in progress",
            ));
        }
        let sequence =
            (page.header.sequence != self.expected_sequence).then_some(page.header.sequence);
        self.expected_sequence = page.header.sequence.wrapping_add(1);
        let mut ended = Vec::new();
        for (l, r) in segment_ranges(page) {
            let partial = self.partial.get_or_insert_with(Partial::default);
            partial.push(r);
            if l < 255
                && let Some(done) = self.partial.take()
            {
                ended.push(done);
            }
        }
        let g = page.header.granule_position;
        if !ended.is_empty() && g > varint::MAX {
            return Err(bad_page(
                page,
                "packets end on a page without a usable granule position",
            ));
        }
        let mut timed = Vec::with_capacity(ended.len());
        for p in ended {
            let payload = p.payload(self.data);
            let samples = OpusPacket::parse(&payload)?.samples_48k();
            timed.push(Packet {
                payload,
                samples,
                granule: 0,
                start: 0,
                lacing: p.lacing,
                breaks: p.breaks,
            });
        }
        time_packets(&mut timed, g, &mut self.prev_granule);
        let derived = if timed.is_empty() { NO_GRANULE } else { g };
        self.packets.extend(timed);
        let mut brk = PageBreak {
            lacing_index: 0,
            header_type: page.header.header_type & !FLAG_CONTINUED,
            granule: (g != derived).then_some(g),
            sequence,
        };
        if let Some(p) = self.partial.as_mut() {
            brk.lacing_index = p.lacing;
            p.breaks.push(brk);
        } else if let Some(p) = self.packets.last_mut() {
            brk.lacing_index = p.lacing;
            p.breaks.push(brk);
        } else {
            return Err(bad_page(page, "audio page without audio"));
        }
        self.eos_seen = page.header.is_eos();
        Ok(())
    }
}

pub(super) fn read(data: &Bytes) -> Result<Framed, MediaFileError> {
    let mut pages = Vec::new();
    let mut page_error = None;
    for p in OggPages::new(data) {
        match p {
            Ok(p) => pages.push(p),
            Err(e) => {
                page_error = Some(e);
                break;
            }
        }
    }
    let (audio_start, _head) = match read_header(&pages) {
        Ok(h) => h,
        // A damaged page inside the header is the real cause.
        Err(e) => return Err(page_error.map_or(e, MediaFileError::from)),
    };
    let header_end = pages
        .get(audio_start)
        .map_or(data.len(), |p| p.offset)
        .min(pages.last().map_or(0, |p| p.offset + p.bytes.len()));
    let last_header = audio_start
        .checked_sub(1)
        .and_then(|i| pages.get(i))
        .ok_or(not_ogg_opus("no Ogg pages"))?;
    let mut audio = Audio {
        data,
        serial: last_header.header.serial,
        expected_sequence: last_header.header.sequence.wrapping_add(1),
        eos_seen: pages
            .get(..audio_start)
            .unwrap_or_default()
            .iter()
            .any(|p| p.header.is_eos()),
        partial: None,
        prev_granule: None,
        packets: Vec::new(),
    };
    let mut error = None;
    for page in pages.get(audio_start..).unwrap_or_default() {
        if let Err(e) = audio.page(page) {
            error = Some(e);
            break;
        }
    }
    if error.is_none() {
        error = page_error.map(MediaFileError::from);
    }
    if error.is_none() && audio.partial.is_some() {
        let offset = pages.last().map_or(0, |p| p.offset);
        error = Some(OggError::TruncatedPacket { offset }.into());
    }
    let mut header = vec![TAG_OGG_OPUS_V1];
    let ends_with_eos = pages.last().is_some_and(|p| p.header.is_eos());
    header.push(if ends_with_eos {
        OGG_HEADER_ENDS_WITH_EOS
    } else {
        0
    });
    header.extend_from_slice(data.get(..header_end).unwrap_or_default());
    let mut frames = Vec::with_capacity(audio.packets.len());
    // Timestamps never go back, even where a (damaged or over-trimmed) file's granule
    // positions do.
    let mut start = 0u64;
    for (index, p) in audio.packets.into_iter().enumerate() {
        start = start.max(p.start);
        let side_info = match encode_ogg_frame(&OggFrameInfo {
            packet: index as u64,
            granule: p.granule,
            breaks: p.breaks,
        }) {
            Ok(s) => s,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        frames.push(FileFrame {
            payload: p.payload,
            timestamp_ms: start / 48,
            duration_ms: p.samples / 48,
            reference: true,
            layer_id: None,
            side_info: Bytes::from(side_info),
        });
    }
    Ok(Framed {
        header: Bytes::from(header),
        frames,
        error,
    })
}
