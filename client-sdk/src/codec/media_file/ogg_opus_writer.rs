//! Frames to an Ogg Opus file: the header pages as given, then the packets laid into pages
//! where the side information puts the page boundaries (formats in the [`super`] module
//! docs; what happens when frames are missing under "Lost frames" there).

use super::side_info::{OGG_HEADER_ENDS_WITH_EOS, TAG_OGG_OPUS_V1, decode_ogg_frame, untag};
use super::{MAX_GAP_MS, MediaFileError};
use crate::codec::ogg::{
    FLAG_CONTINUED, FLAG_EOS, MAX_SEGMENTS, NO_GRANULE, OggPackets, OggPages, OpusHead, OpusTags,
    PageHeader, lacing_values, set_page_flags, write_page,
};
use crate::codec::opus::{MAX_PACKET_SAMPLES_48K, OpusBandwidth, OpusPacket, OpusToc};

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
    /// Index the next packet has when none is missing.
    next_packet: u64,
    /// TOC, frame count and granule of the last packet written (real or filling a gap).
    last_packet: Option<(OpusToc, u64, u64)>,
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
            next_packet: 0,
            last_packet: None,
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
        if info.packet < self.next_packet {
            return Err(MediaFileError::PacketOutOfOrder {
                index: info.packet,
                expected: self.next_packet,
            });
        }
        let packet = OpusPacket::parse(payload)?;
        let n = payload.len() / 255 + 1;
        if info.breaks.iter().any(|b| b.lacing_index > n) {
            return Err(bad("page break beyond the packet's lacing values"));
        }
        let start = info.granule.saturating_sub(u64::from(packet.samples_48k()));
        let gap = match self.last_packet {
            Some((_, _, last)) if info.packet > self.next_packet => start.saturating_sub(last),
            _ => 0,
        };
        if gap > MAX_GAP_MS * 48 {
            return Err(MediaFileError::GapTooLong(gap / 48));
        }
        self.fill_gap(gap)?;
        self.next_packet = info.packet + 1;
        let mut breaks = info.breaks.iter().peekable();
        let mut at = 0usize;
        for (i, l) in lacing_values(payload.len()).enumerate() {
            while let Some(b) = breaks.next_if(|b| b.lacing_index == i) {
                self.emit(b.header_type, b.granule, b.sequence, true)?;
            }
            let end = at + usize::from(l);
            self.push_segment(l, payload.get(at..end).unwrap_or_default(), i > 0)?;
            at = end;
        }
        self.last_granule = Some(info.granule);
        self.last_packet = Some((packet.toc, packet.frame_count() as u64, info.granule));
        for b in breaks {
            self.emit(b.header_type, b.granule, b.sequence, false)?;
        }
        Ok(())
    }

    /// Adds one lacing value and its bytes to the page being filled, first ending that page
    /// if it is full (which happens only when pages merged because a frame that carried a
    /// page boundary was lost). `inside_packet`: the value continues a packet.
    fn push_segment(
        &mut self,
        lacing: u8,
        bytes: &[u8],
        inside_packet: bool,
    ) -> Result<(), MediaFileError> {
        if self.lacing.len() == MAX_SEGMENTS {
            self.emit(0, None, None, inside_packet)?;
        }
        self.lacing.push(lacing);
        self.data.extend_from_slice(bytes);
        Ok(())
    }

    /// Fills `samples` (48 kHz) of missing audio with packets of zero-length frames, which
    /// make decoders conceal the loss (RFC 7845 §4.1): packets like the previous one
    /// (configuration, channels, frames a packet) while whole frames of its size fit, then
    /// CELT 2.5 ms frames of its bandwidth. A rest that is not a multiple of 2.5 ms is left as a gap (RFC 7845 lets
    /// muxers leave those).
    fn fill_gap(&mut self, samples: u64) -> Result<(), MediaFileError> {
        let Some((toc, frames_per_packet, mut granule)) = self.last_packet else {
            return Ok(());
        };
        let celt_config = match toc.bandwidth() {
            OpusBandwidth::Narrowband => 16,
            OpusBandwidth::Mediumband | OpusBandwidth::Wideband => 20,
            OpusBandwidth::SuperWideband => 24,
            OpusBandwidth::Fullband => 28,
        };
        let celt = OpusToc {
            config: celt_config,
            ..toc
        };
        let mut left = samples;
        let most = |frame: u64| u64::from(MAX_PACKET_SAMPLES_48K) / frame;
        let previous_frame = u64::from(toc.frame_samples_48k());
        for (toc, per_packet) in [
            (toc, frames_per_packet.clamp(1, most(previous_frame))),
            (celt, most(120)),
        ] {
            let frame = u64::from(toc.frame_samples_48k());
            while left >= frame {
                let count = (left / frame).min(per_packet);
                let plc = if count == 1 {
                    vec![OpusToc { code: 0, ..toc }.to_byte()]
                } else {
                    vec![OpusToc { code: 3, ..toc }.to_byte(), count as u8]
                };
                self.push_segment(plc.len() as u8, &plc, false)?;
                granule += count * frame;
                left -= count * frame;
                self.last_granule = Some(granule);
                self.last_packet = Some((toc, frames_per_packet, granule));
            }
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
