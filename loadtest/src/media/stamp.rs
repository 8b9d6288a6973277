//! The stamp at the start of every synthetic frame:
//!
//! | bytes | field | encoding |
//! | --- | --- | --- |
//! | 0..4 | magic | `"NMLT"` |
//! | 4..12 | sequence | u64 big-endian, per encoding, from 0, +1 per frame |
//! | 12..20 | capture time | u64 big-endian, wall-clock microseconds since the Unix epoch |
//!
//! The rest of the payload is filler. Frames travel sealed end to end (AEAD), so a stamp that
//! opens was written by our publisher; [`Stamp::read`] still never panics on short or foreign
//! payloads.

/// Bytes of the stamp; every synthetic frame is at least this long.
pub const STAMP_LEN: usize = 20;

const MAGIC: [u8; 4] = *b"NMLT";

/// What a frame carries for measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Frame number within its encoding.
    pub sequence: u64,
    /// Capture time, wall-clock microseconds since the Unix epoch.
    pub capture_micros: u64,
}

impl Stamp {
    /// A payload of `size` bytes (at least [`STAMP_LEN`]) that starts with this stamp.
    pub fn payload(&self, size: usize) -> Vec<u8> {
        let mut out = vec![0u8; size.max(STAMP_LEN)];
        self.write(&mut out);
        out
    }

    /// Writes the stamp over the first [`STAMP_LEN`] bytes of `buf` (a shorter buffer is left
    /// unchanged).
    pub fn write(&self, buf: &mut [u8]) {
        if let Some(head) = buf.get_mut(..STAMP_LEN) {
            let (magic, rest) = head.split_at_mut(4);
            let (sequence, capture) = rest.split_at_mut(8);
            magic.copy_from_slice(&MAGIC);
            sequence.copy_from_slice(&self.sequence.to_be_bytes());
            capture.copy_from_slice(&self.capture_micros.to_be_bytes());
        }
    }

    /// The stamp at the start of `payload`, if it has one.
    pub fn read(payload: &[u8]) -> Option<Self> {
        let head = payload.get(..STAMP_LEN)?;
        let (magic, rest) = head.split_at(4);
        if magic != MAGIC {
            return None;
        }
        let (sequence, capture) = rest.split_at(8);
        Some(Self {
            sequence: u64::from_be_bytes(sequence.try_into().ok()?),
            capture_micros: u64::from_be_bytes(capture.try_into().ok()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_is_as_documented() {
        let s = Stamp {
            sequence: 0x0102,
            capture_micros: 0x0a0b_0c0d,
        };
        let p = s.payload(24);
        assert_eq!(p.len(), 24);
        assert_eq!(&p[..4], b"NMLT");
        assert_eq!(&p[4..12], &[0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(&p[12..20], &[0, 0, 0, 0, 0x0a, 0x0b, 0x0c, 0x0d]);
        assert_eq!(&p[20..], &[0, 0, 0, 0]);
        assert_eq!(Stamp::read(&p), Some(s));
    }

    #[test]
    fn small_sizes_are_raised_to_the_stamp() {
        let s = Stamp {
            sequence: 1,
            capture_micros: 2,
        };
        assert_eq!(s.payload(3).len(), STAMP_LEN);
        assert_eq!(Stamp::read(&s.payload(0)), Some(s));
    }

    #[test]
    fn foreign_payloads_have_no_stamp() {
        assert_eq!(Stamp::read(b"short"), None);
        assert_eq!(Stamp::read(&[0u8; 40]), None);
    }

    proptest! {
        #[test]
        fn read_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Stamp::read(&bytes);
        }

        #[test]
        fn round_trips(sequence: u64, capture_micros: u64, size in 0usize..2000) {
            let s = Stamp { sequence, capture_micros };
            prop_assert_eq!(Stamp::read(&s.payload(size)), Some(s));
        }
    }
}
