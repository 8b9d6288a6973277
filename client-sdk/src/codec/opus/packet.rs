//! Pure-Rust Opus packet parsing (RFC 6716 §3.1 TOC byte, §3.2 frame packing).
//!
//! [`OpusPacket::parse`] applies the same checks as libopus' `opus_packet_parse` (RFC 6716
//! §3.4 R1-R7: at least one byte, code 1 an even length, frame sizes that fit the packet, at
//! most 1275 bytes a frame, a code 3 count of 1 or more with at most 120 ms in total, padding
//! inside the packet), so a packet it accepts is one libopus accepts, with the same frames.

use super::OpusError;

/// Opus never puts more than 48 frames in a packet (120 ms of 2.5 ms frames).
pub const MAX_FRAMES: usize = 48;
/// Largest frame RFC 6716 allows, in bytes.
pub const MAX_FRAME_BYTES: usize = 1275;
/// Longest packet duration RFC 6716 allows, in 48 kHz samples (120 ms).
pub const MAX_PACKET_SAMPLES_48K: u32 = 5760;

/// The coding mode a TOC configuration selects (RFC 6716 §3.1, Table 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpusMode {
    /// SILK only (configurations 0..=11).
    Silk,
    /// SILK and CELT (configurations 12..=15).
    Hybrid,
    /// CELT only (configurations 16..=31).
    Celt,
}

/// The audio bandwidth a TOC configuration selects (RFC 6716 §2, Table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpusBandwidth {
    /// 4 kHz audio bandwidth, 8 kHz effective sample rate.
    Narrowband,
    /// 6 kHz, 12 kHz effective sample rate.
    Mediumband,
    /// 8 kHz, 16 kHz effective sample rate.
    Wideband,
    /// 12 kHz, 24 kHz effective sample rate.
    SuperWideband,
    /// 20 kHz, 48 kHz effective sample rate.
    Fullband,
}

/// The table-of-contents byte that starts every Opus packet (RFC 6716 §3.1):
/// `config (5 bits) | s (1 bit) | c (2 bits)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpusToc {
    /// Configuration number 0..=31: mode, bandwidth and frame duration.
    pub config: u8,
    /// Whether the frames are coded in stereo.
    pub stereo: bool,
    /// Frame count code 0..=3: 0 one frame, 1 two equal frames, 2 two frames of different
    /// sizes, 3 an arbitrary number of frames (a frame count byte follows).
    pub code: u8,
}

impl OpusToc {
    /// Splits a TOC byte into its fields.
    pub fn from_byte(b: u8) -> Self {
        OpusToc {
            config: b >> 3,
            stereo: b & 0x04 != 0,
            code: b & 0x03,
        }
    }

    /// The byte these fields encode.
    pub fn to_byte(self) -> u8 {
        (self.config << 3) | (u8::from(self.stereo) << 2) | (self.code & 0x03)
    }

    /// The coding mode.
    pub fn mode(self) -> OpusMode {
        match self.config {
            0..=11 => OpusMode::Silk,
            12..=15 => OpusMode::Hybrid,
            _ => OpusMode::Celt,
        }
    }

    /// The audio bandwidth.
    pub fn bandwidth(self) -> OpusBandwidth {
        use OpusBandwidth::*;
        match self.config {
            0..=3 => Narrowband,
            4..=7 => Mediumband,
            8..=11 => Wideband,
            12..=13 => SuperWideband,
            14..=15 => Fullband,
            16..=19 => Narrowband,
            20..=23 => Wideband,
            24..=27 => SuperWideband,
            _ => Fullband,
        }
    }

    /// Duration of one frame in 48 kHz samples: 120 (2.5 ms), 240 (5 ms), 480 (10 ms),
    /// 960 (20 ms), 1920 (40 ms) or 2880 (60 ms).
    pub fn frame_samples_48k(self) -> u32 {
        // Within a mode the low two bits of the configuration pick the duration.
        let index = u32::from(self.config & 0x03);
        match self.mode() {
            // SILK: 10, 20, 40, 60 ms.
            OpusMode::Silk if index == 3 => 2880,
            OpusMode::Silk => 480 << index,
            // Hybrid: 10, 20 ms.
            OpusMode::Hybrid => 480 << (index & 1),
            // CELT: 2.5, 5, 10, 20 ms.
            OpusMode::Celt => 120 << index,
        }
    }
}

/// A checked Opus packet: its TOC and where its frames are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusPacket<'a> {
    data: &'a [u8],
    /// The TOC byte.
    pub toc: OpusToc,
    frame_count: u8,
    sizes: [u16; MAX_FRAMES],
    /// Offset of the first frame's data in the packet.
    pub payload_offset: usize,
    /// Bytes of code 3 padding at the end of the packet.
    pub padding: usize,
}

/// Reads a frame length (RFC 6716 §3.2.1): one byte below 252, else two bytes
/// `b0 + 4 * b1`. Returns the length and the bytes it took.
fn frame_length(data: &[u8]) -> Option<(usize, usize)> {
    let &b0 = data.first()?;
    if b0 < 252 {
        return Some((usize::from(b0), 1));
    }
    let &b1 = data.get(1)?;
    Some((usize::from(b0) + 4 * usize::from(b1), 2))
}

impl<'a> OpusPacket<'a> {
    /// Checks `data` as one Opus packet (RFC 6716 §3.2) and finds its frames.
    pub fn parse(data: &'a [u8]) -> Result<Self, OpusError> {
        let invalid = |reason: &'static str| OpusError::InvalidPacket { reason };
        let (&toc_byte, rest) = data.split_first().ok_or(invalid("empty packet"))?;
        let toc = OpusToc::from_byte(toc_byte);
        let mut sizes = [0u16; MAX_FRAMES];
        let mut pos = 1usize;
        let mut padding = 0usize;
        // Bytes after the TOC (and, below, after size and padding bytes) still unaccounted for.
        let mut len = rest.len();
        let (count, last) = match toc.code {
            0 => (1, len),
            1 => {
                if len % 2 != 0 {
                    return Err(invalid("code 1 packet with an odd payload length"));
                }
                let half = len / 2;
                sizes[0] = half.min(usize::from(u16::MAX)) as u16;
                (2, half)
            }
            2 => {
                let (size, n) =
                    frame_length(rest).ok_or(invalid("code 2 frame length truncated"))?;
                len -= n;
                pos += n;
                if size > len {
                    return Err(invalid("code 2 first frame longer than the packet"));
                }
                sizes[0] = size as u16;
                (2, len - size)
            }
            _ => {
                let &ch = rest
                    .first()
                    .ok_or(invalid("code 3 frame count byte missing"))?;
                let count = usize::from(ch & 0x3F);
                if count == 0 {
                    return Err(invalid("code 3 packet with zero frames"));
                }
                if toc.frame_samples_48k() * count as u32 > MAX_PACKET_SAMPLES_48K {
                    return Err(invalid("packet longer than 120 ms"));
                }
                len -= 1;
                pos += 1;
                if ch & 0x40 != 0 {
                    // Padding length: bytes of 255 add 254 and continue; the last adds itself.
                    loop {
                        let &p = data
                            .get(pos)
                            .ok_or(invalid("code 3 padding length truncated"))?;
                        if len == 0 {
                            return Err(invalid("code 3 padding length truncated"));
                        }
                        pos += 1;
                        len -= 1;
                        let add = if p == 255 { 254 } else { usize::from(p) };
                        len = len
                            .checked_sub(add)
                            .ok_or(invalid("code 3 padding longer than the packet"))?;
                        padding += add;
                        if p != 255 {
                            break;
                        }
                    }
                }
                let vbr = ch & 0x80 != 0;
                if vbr {
                    let mut last = len;
                    for size_slot in sizes.iter_mut().take(count - 1) {
                        let (size, n) = frame_length(data.get(pos..).unwrap_or_default())
                            .ok_or(invalid("code 3 frame length truncated"))?;
                        len = len
                            .checked_sub(n)
                            .ok_or(invalid("code 3 frame length truncated"))?;
                        if size > len {
                            return Err(invalid("code 3 frame longer than the packet"));
                        }
                        pos += n;
                        *size_slot = size as u16;
                        last = last
                            .checked_sub(n + size)
                            .ok_or(invalid("code 3 frames longer than the packet"))?;
                    }
                    (count, last)
                } else {
                    let each = len / count;
                    if each * count != len {
                        return Err(invalid("code 3 CBR payload not a multiple of the count"));
                    }
                    for size_slot in sizes.iter_mut().take(count - 1) {
                        *size_slot = each.min(usize::from(u16::MAX)) as u16;
                    }
                    (count, each)
                }
            }
        };
        if last > MAX_FRAME_BYTES {
            return Err(invalid("frame longer than 1275 bytes"));
        }
        if let Some(slot) = sizes.get_mut(count - 1) {
            *slot = last as u16;
        }
        // CBR frame sizes are checked through the last one: all equal.
        if sizes
            .iter()
            .take(count)
            .any(|&s| usize::from(s) > MAX_FRAME_BYTES)
        {
            return Err(invalid("frame longer than 1275 bytes"));
        }
        Ok(OpusPacket {
            data,
            toc,
            frame_count: count as u8,
            sizes,
            payload_offset: pos,
            padding,
        })
    }

    /// Number of frames, 1..=48.
    pub fn frame_count(&self) -> usize {
        usize::from(self.frame_count)
    }

    /// Duration of the packet in 48 kHz samples (at most 5760, 120 ms).
    pub fn samples_48k(&self) -> u32 {
        self.toc.frame_samples_48k() * u32::from(self.frame_count)
    }

    /// Duration of the packet in samples at `sample_rate` Hz (8000, 12000, 16000, 24000 or
    /// 48000; other rates are rounded down).
    pub fn samples(&self, sample_rate: u32) -> u32 {
        (u64::from(self.samples_48k()) * u64::from(sample_rate) / 48_000) as u32
    }

    /// The size of each frame in bytes.
    pub fn frame_sizes(&self) -> &[u16] {
        self.sizes.get(..self.frame_count()).unwrap_or_default()
    }

    /// The frames' bytes, in order.
    pub fn frames(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        let data = self.data;
        let mut at = self.payload_offset;
        self.frame_sizes().iter().map(move |&s| {
            let frame = data.get(at..at + usize::from(s)).unwrap_or_default();
            at += usize::from(s);
            frame
        })
    }
}

/// Duration of an Opus packet in 48 kHz samples, after checking it (see [`OpusPacket::parse`]).
pub fn packet_samples_48k(packet: &[u8]) -> Result<u32, OpusError> {
    OpusPacket::parse(packet).map(|p| p.samples_48k())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn toc_fields() {
        let t = OpusToc::from_byte(0xFF);
        assert_eq!((t.config, t.stereo, t.code), (31, true, 3));
        assert_eq!(t.to_byte(), 0xFF);
        let t = OpusToc::from_byte(0x78); // config 15, mono, code 0
        assert_eq!(
            (t.mode(), t.bandwidth()),
            (OpusMode::Hybrid, OpusBandwidth::Fullband)
        );
        assert_eq!(t.frame_samples_48k(), 960);
    }

    #[test]
    fn frame_durations_of_every_config() {
        // RFC 6716 Table 2, in 48 kHz samples.
        let expect: [u32; 32] = [
            480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 1920, 2880, // SILK
            480, 960, 480, 960, // Hybrid
            120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960,
        ];
        for (config, want) in expect.iter().enumerate() {
            let toc = OpusToc {
                config: config as u8,
                stereo: false,
                code: 0,
            };
            assert_eq!(toc.frame_samples_48k(), *want, "config {config}");
        }
        let bw = |c: u8| {
            OpusToc {
                config: c,
                stereo: false,
                code: 0,
            }
            .bandwidth()
        };
        assert_eq!(bw(4), OpusBandwidth::Mediumband);
        assert_eq!(bw(13), OpusBandwidth::SuperWideband);
        assert_eq!(bw(18), OpusBandwidth::Narrowband);
        assert_eq!(bw(21), OpusBandwidth::Wideband);
        assert_eq!(bw(30), OpusBandwidth::Fullband);
    }

    #[test]
    fn the_four_codes() {
        // Code 0: one frame of 3 bytes, CELT FB 20 ms.
        let p = OpusPacket::parse(&[0xF8, 1, 2, 3]).unwrap();
        assert_eq!(p.frame_count(), 1);
        assert_eq!(p.samples_48k(), 960);
        assert_eq!(p.frames().collect::<Vec<_>>(), vec![&[1u8, 2, 3][..]]);
        // Code 0 with no frame data (DTX) is valid.
        assert_eq!(OpusPacket::parse(&[0xF8]).unwrap().frame_sizes(), &[0]);
        // Code 1: two frames of 2 bytes.
        let p = OpusPacket::parse(&[0xF9, 1, 2, 3, 4]).unwrap();
        assert_eq!(p.frame_sizes(), &[2, 2]);
        assert_eq!(p.samples_48k(), 1920);
        assert!(OpusPacket::parse(&[0xF9, 1, 2, 3]).is_err());
        // Code 2: first frame 1 byte, second the rest.
        let p = OpusPacket::parse(&[0xFA, 1, 9, 8, 7]).unwrap();
        assert_eq!(
            p.frames().collect::<Vec<_>>(),
            vec![&[9u8][..], &[8, 7][..]]
        );
        assert!(OpusPacket::parse(&[0xFA, 5, 1]).is_err());
        assert!(OpusPacket::parse(&[0xFA]).is_err());
        // Two-byte frame length: 252 + 4 * 1 = 256.
        let mut two = vec![0xFA, 252, 1];
        two.extend(std::iter::repeat_n(0, 256 + 10));
        assert_eq!(OpusPacket::parse(&two).unwrap().frame_sizes(), &[256, 10]);
        // Code 3 CBR: 3 frames of 2 bytes.
        let p = OpusPacket::parse(&[0xFB, 3, 1, 1, 2, 2, 3, 3]).unwrap();
        assert_eq!(p.frame_sizes(), &[2, 2, 2]);
        assert_eq!(p.samples_48k(), 2880);
        assert!(OpusPacket::parse(&[0xFB, 3, 1, 1, 2, 2, 3]).is_err());
        // Code 3 VBR with padding: 2 frames (1 and 2 bytes), 3 bytes padding.
        let p = OpusPacket::parse(&[0xFB, 0xC2, 3, 1, 7, 8, 8, 0, 0, 0]).unwrap();
        assert_eq!(p.frame_sizes(), &[1, 2]);
        assert_eq!(p.padding, 3);
        assert_eq!(p.payload_offset, 4);
        assert_eq!(
            p.frames().collect::<Vec<_>>(),
            vec![&[7u8][..], &[8, 8][..]]
        );
        // Padding of 255 means 254 and another padding byte.
        let mut padded = vec![0xFB, 0x41, 255, 1];
        padded.extend(std::iter::repeat_n(0, 255));
        let p = OpusPacket::parse(&padded).unwrap();
        assert_eq!((p.padding, p.frame_sizes()), (255, &[0u16][..]));
    }

    #[test]
    fn invalid_packets() {
        let bad: &[&[u8]] = &[
            &[],                 // empty
            &[0xFB],             // code 3 without count byte
            &[0xFB, 0],          // zero frames
            &[0xE3, 49],         // 49 x 2.5 ms > 120 ms
            &[0xFB, 7],          // 7 x 20 ms > 120 ms
            &[0x1B, 3],          // SILK 60 ms x 3 = 180 ms
            &[0xFB, 0x41],       // padding length missing
            &[0xFB, 0x41, 5, 1], // padding longer than packet
            &[0xFB, 0x82, 5, 1], // VBR frame longer than packet
            &[0xFB, 0x82],       // VBR frame length missing
        ];
        for b in bad {
            assert!(OpusPacket::parse(b).is_err(), "{b:02x?} must be rejected");
        }
        // A single frame of 1276 bytes is too long.
        let mut long = vec![0xF8];
        long.extend(std::iter::repeat_n(0, 1276));
        assert!(OpusPacket::parse(&long).is_err());
        long.pop();
        assert!(OpusPacket::parse(&long).is_ok());
        // 48 x 2.5 ms = 120 ms is the limit.
        assert_eq!(
            OpusPacket::parse(&[0xE3, 48]).unwrap().samples_48k(),
            MAX_PACKET_SAMPLES_48K
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(p) = OpusPacket::parse(&data) {
                let total: usize = p.frame_sizes().iter().map(|&s| usize::from(s)).sum();
                prop_assert_eq!(p.payload_offset + total + p.padding, data.len());
                prop_assert!(p.samples_48k() <= MAX_PACKET_SAMPLES_48K);
                prop_assert_eq!(p.frames().count(), p.frame_count());
            }
        }

        #[test]
        fn code3_cbr_packets_parse(config in 0u8..32, stereo: bool, count in 1usize..=48, size in 0usize..40) {
            let toc = OpusToc { config, stereo, code: 3 };
            let mut data = vec![toc.to_byte(), count as u8];
            data.extend(std::iter::repeat_n(0xAB, count * size));
            let r = OpusPacket::parse(&data);
            if toc.frame_samples_48k() * count as u32 > MAX_PACKET_SAMPLES_48K {
                prop_assert!(r.is_err());
            } else {
                let p = r.unwrap();
                prop_assert_eq!(p.frame_count(), count);
                prop_assert_eq!(p.samples_48k(), toc.frame_samples_48k() * count as u32);
                prop_assert!(p.frame_sizes().iter().all(|&s| usize::from(s) == size));
            }
        }
    }
}
