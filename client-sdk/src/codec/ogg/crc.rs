//! The Ogg page checksum (RFC 3533 §6): CRC-32 with generator polynomial 0x04C11DB7, initial
//! value 0, no bit reflection and no final XOR, computed over the whole page with the
//! checksum field set to zero.
//!
//! Our own 20 lines rather than a crate: the common CRC crates' presets are the reflected
//! (zlib) or the 0xFFFFFFFF-initialised (MPEG-2, BZIP2) variants, and this one is tiny.

const POLY: u32 = 0x04C1_1DB7;

// Evaluated at compile time: an out-of-range index would fail the build, not panic.
#[allow(clippy::indexing_slicing)]
const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ POLY
            } else {
                r << 1
            };
            bit += 1;
        }
        table[i] = r;
        i += 1;
    }
    table
};

/// Continues a checksum over `data` (start with 0).
pub(crate) fn update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        let index = ((crc >> 24) as u8 ^ b) as usize;
        crc = (crc << 8) ^ TABLE.get(index).copied().unwrap_or_default();
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        // CRC-32 with this polynomial, init 0, no reflection, no final XOR ("CRC-32/OGG"):
        // check value for "123456789" is 0x89A1897F.
        assert_eq!(update(0, b"123456789"), 0x89A1_897F);
        assert_eq!(update(0, b""), 0);
        assert_eq!(update(update(0, b"1234"), b"56789"), 0x89A1_897F);
    }
}
