//! Frames to an Ogg Opus file: the header pages as given, then the packets laid into pages
//! where the side information puts the page boundaries (formats in the [`super`] module
//! docs; what happens when frames are missing under "Lost frames" there).

use super::MediaFileError;
use super::side_info::{OGG_HEADER_ENDS_WITH_EOS, TAG_OGG_OPUS_V1, decode_ogg_frame, untag};
use crate::codec::ogg::{
    FLAG_CONTINUED, FLAG_EOS, MAX_SEGMENTS, NO_GRANULE, OggPackets, OggPages, OpusHead, OpusTags,
    PageHeader, lacing_values, set_page_flags, write_page,
};
use crate::codec::opus::OpusPacket;

#[derive(Debug)]
pub(super) struct Writer {
    out: Vec<u8>,
    serial: u32,
    next_sequence: u32,
    ends_with_eos: bool,
    eos_written: bool,
    /// The page being filled: lacing values and data.
    lacing: Vec<u8>,
    data: Vec<u8>,
    /// Whether the page being filled starts inside a packet.
    continued: bool,
    /// Granule of the last packet that ended on the page being filled.
    last_granule: Option<u64>,
    /// Where the last audio page written starts in `out`.
    last_page_start: Option<usize>,
}

fn bad(reason: &'static str) -> MediaFileError {
    MediaFileError::BadSideInfo { reason }
}

impl Writer {
    pub(super) fn new(header: &[u8]) -> Result<Self, MediaFileError> {
        let body = untag(header, TAG_OGG_OPUS_V1)?;
        let (&flags, pages_bytes) = body
            .split_first()
            .ok_or(bad("Ogg Opus header side information truncated"))?;
        if flags & !OGG_HEADER_ENDS_WITH_EOS != 0 {
            return Err(bad("unknown Ogg Opus header flags"));
        }
        let pages = OggPages::new(pages_bytes).collect::<Result<Vec<_>, _>>()?;
        let first = pages.first().ok_or(bad("no header pages"))?;
        let last = pages.last().ok_or(bad("no header pages"))?;
        if pages.iter().any(|p| p.header.serial != first.header.serial) {
            return Err(bad("header pages of more than one stream"));
        }
        let packets = OggPackets::new(pages_bytes).collect::<Result<Vec<_>, _>>()?;
        match packets.as_slice() {
            [head, tags] if head.bos => {
                OpusHead::parse(&head.data)?;
                OpusTags::parse(&tags.data)?;
            }
            _ => return Err(bad("header pages must hold OpusHead and OpusTags")),
        }
        Ok(Writer {
            out: pages_bytes.to_vec(),
            serial: first.header.serial,
            next_sequence: last.header.sequence.wrapping_add(1),
            ends_with_eos: flags & OGG_HEADER_ENDS_WITH_EOS != 0,
            eos_written: pages.iter().any(|p| p.header.is_eos()),
            lacing: Vec::new(),
            data: Vec::new(),
            continued: false,
            last_granule: None,
            last_page_start: None,
        })
    }

    /// Writes the page being filled; the next one starts inside a packet when
    /// `next_continued`.
    fn emit(
        &mut self,
        header_type: u8,
        granule: Option<u64>,
        sequence: Option<u32>,
        next_continued: bool,
    ) -> Result<(), MediaFileError> {
        let header_type = header_type | if self.continued { FLAG_CONTINUED } else { 0 };
        let sequence = sequence.unwrap_or(self.next_sequence);
        let header = PageHeader {
            header_type,
            granule_position: granule.unwrap_or(self.last_granule.unwrap_or(NO_GRANULE)),
            serial: self.serial,
            sequence,
        };
        let start = self.out.len();
        write_page(&mut self.out, &header, &self.lacing, &self.data)?;
        self.last_page_start = Some(start);
        self.next_sequence = sequence.wrapping_add(1);
        self.eos_written |= header_type & FLAG_EOS != 0;
        self.lacing.clear();
        self.data.clear();
        self.last_granule = None;
        self.continued = next_continued;
        Ok(())
    }

    pub(super) fn write_frame(
        &mut self,
        payload: &[u8],
        side_info: &[u8],
    ) -> Result<(), MediaFileError> {
        if self.eos_written {
            return Err(MediaFileError::FrameAfterEos);
        }
        let info = decode_ogg_frame(side_info)?;
        OpusPacket::parse(payload)?;
        let n = payload.len() / 255 + 1;
        if info.breaks.iter().any(|b| b.lacing_index > n) {
            return Err(bad("page break beyond the packet's lacing values"));
        }
        let mut breaks = info.breaks.iter().peekable();
        let mut at = 0usize;
        for (i, l) in lacing_values(payload.len()).enumerate() {
            while let Some(b) = breaks.next_if(|b| b.lacing_index == i) {
                self.emit(b.header_type, b.granule, b.sequence, true)?;
            }
            // Only when pages merged because a frame carrying a boundary was lost.
            if self.lacing.len() == MAX_SEGMENTS {
                self.emit(0, None, None, i > 0)?;
            }
            let end = at + usize::from(l);
            self.lacing.push(l);
            self.data
                .extend_from_slice(payload.get(at..end).unwrap_or_default());
            at = end;
            if i + 1 == n {
                self.last_granule = Some(info.granule);
            }
        }
        for b in breaks {
            self.emit(b.header_type, b.granule, b.sequence, false)?;
        }
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<Vec<u8>, MediaFileError> {
        let want_eos = self.ends_with_eos && !self.eos_written;
        if !self.lacing.is_empty() {
            self.emit(if want_eos { FLAG_EOS } else { 0 }, None, None, false)?;
        } else if want_eos && let Some(start) = self.last_page_start {
            // The page that had EOS was carried by a lost frame: mark the last one written.
            set_page_flags(
                self.out.get_mut(start..).unwrap_or_default(),
                FLAG_EOS,
                true,
            )?;
        }
        Ok(self.out)
    }
}
