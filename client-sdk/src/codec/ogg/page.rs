//! Ogg pages (RFC 3533 §6): parsing one page, iterating the pages of a file, writing a page.

use super::{OggError, crc};

/// The capture pattern every page starts with.
pub const CAPTURE_PATTERN: [u8; 4] = *b"OggS";
/// Bytes of a page header before its segment table.
pub const PAGE_HEADER_LEN: usize = 27;
/// Most segments (lacing values) a page holds.
pub const MAX_SEGMENTS: usize = 255;
/// `header_type` flag: the page starts with the continuation of a packet.
pub const FLAG_CONTINUED: u8 = 0x01;
/// `header_type` flag: first page of a logical bitstream.
pub const FLAG_BOS: u8 = 0x02;
/// `header_type` flag: last page of a logical bitstream.
pub const FLAG_EOS: u8 = 0x04;
/// The granule position of a page on which no packet ends (-1).
pub const NO_GRANULE: u64 = u64::MAX;

/// The fields of a page header other than the checksum and the segment table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageHeader {
    /// `header_type`: [`FLAG_CONTINUED`], [`FLAG_BOS`], [`FLAG_EOS`] (other bits are kept as
    /// they are).
    pub header_type: u8,
    /// Granule position of the last packet that ends on the page ([`NO_GRANULE`] if none);
    /// the codec gives it meaning (Opus: 48 kHz samples).
    pub granule_position: u64,
    /// Bitstream serial number.
    pub serial: u32,
    /// Page sequence number.
    pub sequence: u32,
}

impl PageHeader {
    /// Whether [`FLAG_CONTINUED`] is set.
    pub fn is_continued(&self) -> bool {
        self.header_type & FLAG_CONTINUED != 0
    }

    /// Whether [`FLAG_BOS`] is set.
    pub fn is_bos(&self) -> bool {
        self.header_type & FLAG_BOS != 0
    }

    /// Whether [`FLAG_EOS`] is set.
    pub fn is_eos(&self) -> bool {
        self.header_type & FLAG_EOS != 0
    }
}

/// One page, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OggPage<'a> {
    /// The header fields.
    pub header: PageHeader,
    /// The segment table: one lacing value per segment.
    pub lacing: &'a [u8],
    /// The page's data (the segments back to back).
    pub data: &'a [u8],
    /// The whole page as it is in the input.
    pub bytes: &'a [u8],
    /// Offset of the page in the input it was read from.
    pub offset: usize,
}

fn u32_le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_le(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The page checksum of `page` (a whole page) with its checksum field taken as zero.
fn page_crc(page: &[u8]) -> u32 {
    let head = page.get(..22).unwrap_or_default();
    let tail = page.get(26..).unwrap_or_default();
    crc::update(crc::update(crc::update(0, head), &[0; 4]), tail)
}

impl<'a> OggPage<'a> {
    /// Reads the page at the start of `data`; `offset` is where `data` sits in the file (for
    /// error messages and [`OggPage::offset`]). Checks the capture pattern, version 0, that
    /// the segments are all there, and the checksum.
    pub fn parse(data: &'a [u8], offset: usize) -> Result<Self, OggError> {
        let truncated = OggError::TruncatedPage { offset };
        let capture = data.get(..4).ok_or(truncated.clone())?;
        if capture != CAPTURE_PATTERN {
            return Err(OggError::BadCapturePattern { offset });
        }
        let &version = data.get(4).ok_or(truncated.clone())?;
        if version != 0 {
            return Err(OggError::UnsupportedVersion { offset, version });
        }
        let (Some(&header_type), Some(granule_position), Some(serial), Some(sequence)) = (
            data.get(5),
            u64_le(data, 6),
            u32_le(data, 14),
            u32_le(data, 18),
        ) else {
            return Err(truncated);
        };
        let checksum = u32_le(data, 22).ok_or(truncated.clone())?;
        let &segments = data.get(26).ok_or(truncated.clone())?;
        let table_end = PAGE_HEADER_LEN + usize::from(segments);
        let lacing = data
            .get(PAGE_HEADER_LEN..table_end)
            .ok_or(truncated.clone())?;
        let data_len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
        let page_len = table_end + data_len;
        let bytes = data.get(..page_len).ok_or(truncated)?;
        let computed = page_crc(bytes);
        if computed != checksum {
            return Err(OggError::BadChecksum {
                offset,
                stored: checksum,
                computed,
            });
        }
        Ok(OggPage {
            header: PageHeader {
                header_type,
                granule_position,
                serial,
                sequence,
            },
            lacing,
            data: bytes.get(table_end..).unwrap_or_default(),
            bytes,
            offset,
        })
    }

    /// Whether the page's last segment is 255, i.e. its last packet goes on in the next page.
    pub fn ends_inside_packet(&self) -> bool {
        self.lacing.last() == Some(&255)
    }

    /// How many packets end on this page (lacing values below 255).
    pub fn packets_ending(&self) -> usize {
        self.lacing.iter().filter(|&&l| l < 255).count()
    }
}

/// Iterator over the pages of an Ogg file held in memory. Pages must follow each other with
/// nothing in between (no resynchronisation: this reads whole files, not damaged streams).
/// After an error it yields `None`.
#[derive(Debug, Clone)]
pub struct OggPages<'a> {
    data: &'a [u8],
    offset: usize,
}

impl<'a> OggPages<'a> {
    /// Starts at the beginning of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        OggPages { data, offset: 0 }
    }

    /// Offset of the next page.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl<'a> Iterator for OggPages<'a> {
    type Item = Result<OggPage<'a>, OggError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.data.get(self.offset..)?;
        if rest.is_empty() {
            return None;
        }
        match OggPage::parse(rest, self.offset) {
            Ok(page) => {
                self.offset += page.bytes.len();
                Some(Ok(page))
            }
            Err(e) => {
                self.offset = self.data.len();
                Some(Err(e))
            }
        }
    }
}

/// The lacing values of one whole packet of `len` bytes: `len / 255` times 255, then
/// `len % 255` (so a packet of a multiple of 255 bytes ends with a 0).
pub fn lacing_values(len: usize) -> impl Iterator<Item = u8> {
    std::iter::repeat_n(255u8, len / 255).chain(std::iter::once((len % 255) as u8))
}

/// Appends one page to `out`: header, segment table `lacing`, then `data`, with the
/// checksum computed. `data` must be exactly the bytes the lacing values add up to.
pub fn write_page(
    out: &mut Vec<u8>,
    header: &PageHeader,
    lacing: &[u8],
    data: &[u8],
) -> Result<(), OggError> {
    if lacing.len() > MAX_SEGMENTS {
        return Err(OggError::TooManySegments(lacing.len()));
    }
    let laced: usize = lacing.iter().map(|&l| usize::from(l)).sum();
    if laced != data.len() {
        return Err(OggError::LacingMismatch {
            laced,
            data: data.len(),
        });
    }
    let start = out.len();
    out.extend_from_slice(&CAPTURE_PATTERN);
    out.push(0);
    out.push(header.header_type);
    out.extend_from_slice(&header.granule_position.to_le_bytes());
    out.extend_from_slice(&header.serial.to_le_bytes());
    out.extend_from_slice(&header.sequence.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(lacing.len() as u8);
    out.extend_from_slice(lacing);
    out.extend_from_slice(data);
    let page = out.get(start..).unwrap_or_default();
    let crc = page_crc(page);
    if let Some(field) = out.get_mut(start + 22..start + 26) {
        field.copy_from_slice(&crc.to_le_bytes());
    }
    Ok(())
}

/// Sets or clears `flags` in the `header_type` of the page at the start of `page` (which
/// may be followed by more bytes) and recomputes its checksum (e.g. to mark an already
/// written last page EOS).
pub fn set_page_flags(page: &mut [u8], flags: u8, on: bool) -> Result<(), OggError> {
    let len = OggPage::parse(page, 0)?.bytes.len();
    if let Some(t) = page.get_mut(5) {
        if on {
            *t |= flags;
        } else {
            *t &= !flags;
        }
    }
    let crc = page_crc(page.get(..len).unwrap_or_default());
    if let Some(field) = page.get_mut(22..26) {
        field.copy_from_slice(&crc.to_le_bytes());
    }
    Ok(())
}
