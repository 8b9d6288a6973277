//! Packets from pages (RFC 3533 §5): a packet is the segments up to and including the first
//! lacing value below 255, and may run across pages (the next page of the same serial then
//! has [`FLAG_CONTINUED`](super::FLAG_CONTINUED) set).

use std::borrow::Cow;
use std::collections::HashMap;

use super::{OggError, OggPage, OggPages};

/// One packet of one logical bitstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OggPacket<'a> {
    /// The packet's bytes (borrowed when it lies within one page).
    pub data: Cow<'a, [u8]>,
    /// Serial number of its logical bitstream.
    pub serial: u32,
    /// The page's granule position when this is the last packet that ends on its page;
    /// `None` for the other packets of a page (Ogg gives them none).
    pub granule_position: Option<u64>,
    /// Offset of the page the packet starts on.
    pub first_page_offset: usize,
    /// Offset of the page the packet ends on.
    pub last_page_offset: usize,
    /// Whether it is the first packet of a BOS page.
    pub bos: bool,
    /// Whether it is the last packet ending on an EOS page.
    pub eos: bool,
}

#[derive(Debug, Clone)]
struct Partial {
    data: Vec<u8>,
    first_page_offset: usize,
    bos: bool,
}

/// Iterator over the packets of the pages of an Ogg file held in memory, with pages of
/// several serial numbers (multiplexed streams) each reassembled on its own. After an error
/// it yields `None`.
#[derive(Debug, Clone)]
pub struct OggPackets<'a> {
    pages: OggPages<'a>,
    page: Option<OggPage<'a>>,
    /// Next lacing value of `page` to read, and where its data starts.
    segment: usize,
    data_pos: usize,
    partial: HashMap<u32, Partial>,
    done: bool,
}

impl<'a> OggPackets<'a> {
    /// Starts at the beginning of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        OggPackets {
            pages: OggPages::new(data),
            page: None,
            segment: 0,
            data_pos: 0,
            partial: HashMap::new(),
            done: false,
        }
    }

    fn fail(&mut self, e: OggError) -> Option<Result<OggPacket<'a>, OggError>> {
        self.done = true;
        Some(Err(e))
    }

    /// Takes the next page and checks its continuation flag against the partial packet.
    fn next_page(&mut self) -> Result<bool, OggError> {
        let Some(page) = self.pages.next().transpose()? else {
            return Ok(false);
        };
        let serial = page.header.serial;
        match (
            page.header.is_continued(),
            self.partial.contains_key(&serial),
        ) {
            (true, false) => {
                return Err(OggError::ContinuationWithoutPacket {
                    offset: page.offset,
                });
            }
            (false, true) => {
                return Err(OggError::PacketCutOff {
                    offset: page.offset,
                });
            }
            _ => {}
        }
        self.page = Some(page);
        self.segment = 0;
        self.data_pos = 0;
        Ok(true)
    }
}

impl<'a> Iterator for OggPackets<'a> {
    type Item = Result<OggPacket<'a>, OggError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let Some(page) = self.page else {
                match self.next_page() {
                    Ok(true) => continue,
                    Ok(false) => {
                        self.done = true;
                        if let Some(p) = self.partial.values().next() {
                            return self.fail(OggError::TruncatedPacket {
                                offset: p.first_page_offset,
                            });
                        }
                        return None;
                    }
                    Err(e) => return self.fail(e),
                }
            };
            let serial = page.header.serial;
            // Gather this page's segments up to the end of a packet or of the page.
            let start_segment = self.segment;
            let start = self.data_pos;
            let mut end = start;
            let mut complete = false;
            while let Some(&l) = page.lacing.get(self.segment) {
                self.segment += 1;
                end += usize::from(l);
                if l < 255 {
                    complete = true;
                    break;
                }
            }
            self.data_pos = end;
            let piece = page.data.get(start..end).unwrap_or_default();
            let first_on_page = start_segment == 0 && !page.header.is_continued();
            let at_page_end = self.segment >= page.lacing.len();
            if at_page_end {
                self.page = None;
            }
            if !complete {
                if start_segment < page.lacing.len() {
                    let entry = self.partial.entry(serial).or_insert_with(|| Partial {
                        data: Vec::new(),
                        first_page_offset: page.offset,
                        bos: first_on_page && page.header.is_bos(),
                    });
                    entry.data.extend_from_slice(piece);
                }
                continue;
            }
            let (data, first_page_offset, bos) = match self.partial.remove(&serial) {
                Some(mut p) => {
                    p.data.extend_from_slice(piece);
                    (Cow::Owned(p.data), p.first_page_offset, p.bos)
                }
                None => (
                    Cow::Borrowed(piece),
                    page.offset,
                    first_on_page && page.header.is_bos(),
                ),
            };
            let last_on_page = !page
                .lacing
                .get(self.segment..)
                .unwrap_or_default()
                .iter()
                .any(|&l| l < 255);
            return Some(Ok(OggPacket {
                data,
                serial,
                granule_position: last_on_page.then_some(page.header.granule_position),
                first_page_offset,
                last_page_offset: page.offset,
                bos,
                eos: last_on_page && page.header.is_eos(),
            }));
        }
    }
}
