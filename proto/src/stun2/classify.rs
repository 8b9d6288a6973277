//! Demultiplexing a datagram that arrived on a socket shared by STUN2 and QUIC.

use super::{REQUEST_MAGIC_TLV, RESPONSE_MAGIC_TLV, TAG_REQUEST_MAGIC, TAG_RESPONSE_MAGIC};

/// What a received datagram is, judged from its first bytes only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// Starts with the request magic TLV `0E 04 4E 4D 53 51`.
    Stun2Request,
    /// Starts with the response magic TLV `0F 04 4E 4D 53 52`.
    Stun2Response,
    /// First byte has the QUIC fixed bit 0x40 set (long or short header).
    Quic,
    /// Anything else: drop it.
    Unknown,
}

/// Classifies a datagram in O(1) without allocating.
///
/// - first byte 0x0E and the 6-byte request magic prefix: [`PacketKind::Stun2Request`];
/// - first byte 0x0F and the 6-byte response magic prefix: [`PacketKind::Stun2Response`];
/// - first byte with bit 0x40 set: [`PacketKind::Quic`] (QUIC long and short headers always
///   set the fixed bit; our endpoints do not grease it);
/// - anything else, including 0x0E/0x0F without the full magic: [`PacketKind::Unknown`].
///
/// 0x0E and 0x0F are below 0x40, so the first byte alone separates STUN2 from QUIC; they also
/// avoid the RFC 7983 ranges of classic STUN (0-3), ZRTP (16-19) and DTLS (20-63).
#[inline]
pub fn classify(datagram: &[u8]) -> PacketKind {
    match datagram.first() {
        Some(&TAG_REQUEST_MAGIC) if datagram.starts_with(&REQUEST_MAGIC_TLV) => {
            PacketKind::Stun2Request
        }
        Some(&TAG_RESPONSE_MAGIC) if datagram.starts_with(&RESPONSE_MAGIC_TLV) => {
            PacketKind::Stun2Response
        }
        Some(first) if first & 0x40 != 0 => PacketKind::Quic,
        _ => PacketKind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn kinds() {
        assert_eq!(classify(&REQUEST_MAGIC_TLV), PacketKind::Stun2Request);
        assert_eq!(classify(&RESPONSE_MAGIC_TLV), PacketKind::Stun2Response);
        assert_eq!(classify(&[0x0E, 4, b'N', b'M', b'S']), PacketKind::Unknown);
        assert_eq!(
            classify(&[0x0E, 4, b'N', b'M', b'S', b'R']),
            PacketKind::Unknown
        );
        assert_eq!(
            classify(&[0x0F, 4, b'N', b'M', b'S', b'Q']),
            PacketKind::Unknown
        );
        // QUIC long header (0xC0..) and short header (0x40..0x7F).
        assert_eq!(classify(&[0xC3, 0, 0, 0, 1]), PacketKind::Quic);
        assert_eq!(classify(&[0x41, 1, 2]), PacketKind::Quic);
        // Classic STUN, ZRTP, DTLS, empty.
        assert_eq!(classify(&[0x00, 0x01, 0, 0]), PacketKind::Unknown);
        assert_eq!(classify(&[0x10]), PacketKind::Unknown);
        assert_eq!(classify(&[0x16, 0xFE, 0xFD]), PacketKind::Unknown);
        assert_eq!(classify(&[]), PacketKind::Unknown);
    }

    proptest! {
        #[test]
        fn quic_iff_fixed_bit(bytes in proptest::collection::vec(any::<u8>(), 1..16)) {
            let kind = classify(&bytes);
            prop_assert_eq!(kind == PacketKind::Quic, bytes[0] & 0x40 != 0);
        }
    }
}
