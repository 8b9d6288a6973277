//! TURN2 (draft §3.3): the frames on a client's TLS stream to a TURN2 relay.
//!
//! Each frame uses the stream framing of [`crate::frame`]
//! (`version | type varint | length varint | body`); every body is a TLV list whose unknown
//! tags are ignored. The client registers the SHA-256 fingerprint of its TLS client certificate
//! and receives an allocation (an inbound and an outbound address and a lifetime); from then
//! on every datagram that reaches the inbound address comes down the stream as a
//! [`Turn2Frame::Relayed`] frame with its original source address. The client never sends
//! through the relay (the draft: "The client can not send from the TURN2 server").
//!
//! ```
//! use newmedia_proto::turn2::Turn2Frame;
//!
//! let mut stream = Vec::new();
//! let frame = Turn2Frame::Relayed { source: "198.51.100.1:5000".parse().unwrap(), packet: b"hi" };
//! frame.encode(&mut stream).unwrap();
//! // Incremental decode: `None` until the whole frame is there.
//! assert_eq!(Turn2Frame::decode(&stream[..4]), Ok(None));
//! assert_eq!(Turn2Frame::decode(&stream), Ok(Some((frame, stream.len()))));
//! ```

use crate::{
    addr::{self, AddrError},
    frame::{self, FrameError},
    tlv::{self, TlvError},
    varint::{self, VarintError},
};
use std::{fmt, net::SocketAddr};
use thiserror::Error;

/// Frame type of [`Turn2Frame::Register`] (client to relay).
pub const FRAME_REGISTER: u64 = 1;
/// Frame type of [`Turn2Frame::Allocation`] (relay to client).
pub const FRAME_ALLOCATION: u64 = 2;
/// Frame type of [`Turn2Frame::Relayed`] (relay to client).
pub const FRAME_RELAYED: u64 = 3;
/// Frame type of [`Turn2Frame::Refresh`] (client to relay).
pub const FRAME_REFRESH: u64 = 4;
/// Frame type of [`Turn2Frame::Error`] (relay to client).
pub const FRAME_ERROR: u64 = 5;

/// Register, tag 1: SHA-256 fingerprint of the client's certificate (32 bytes).
pub const TAG_REGISTER_FINGERPRINT: u64 = 1;
/// Register, tag 2: requested lifetime in seconds (integer, optional).
pub const TAG_REGISTER_LIFETIME: u64 = 2;
/// Allocation, tag 1: inbound address ([`crate::addr`] value).
pub const TAG_ALLOCATION_INBOUND: u64 = 1;
/// Allocation, tag 2: outbound address ([`crate::addr`] value).
pub const TAG_ALLOCATION_OUTBOUND: u64 = 2;
/// Allocation, tag 3: granted lifetime in seconds (integer).
pub const TAG_ALLOCATION_LIFETIME: u64 = 3;
/// Relayed, tag 1: source address of the packet ([`crate::addr`] value).
pub const TAG_RELAYED_SOURCE: u64 = 1;
/// Relayed, tag 2: the packet's bytes (the UDP payload).
pub const TAG_RELAYED_PACKET: u64 = 2;
/// Refresh, tag 1: requested lifetime in seconds (integer, optional; 0 releases).
pub const TAG_REFRESH_LIFETIME: u64 = 1;
/// Error, tag 1: error code (integer).
pub const TAG_ERROR_CODE: u64 = 1;
/// Error, tag 2: reason, UTF-8 text for humans (optional, empty if absent).
pub const TAG_ERROR_REASON: u64 = 2;

/// Length of a SHA-256 certificate fingerprint.
pub const FINGERPRINT_LEN: usize = 32;
/// Lifetime a relay should grant when the client asks for none (seconds).
pub const DEFAULT_LIFETIME_SECS: u32 = 600;

/// A TURN2 error code. Receivers treat codes they do not know like [`ErrorCode::INTERNAL`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(pub u64);

impl ErrorCode {
    /// The relay could not parse a frame, or got a frame type that only it sends. The relay
    /// closes the connection after sending this.
    pub const MALFORMED_FRAME: ErrorCode = ErrorCode(1);
    /// The fingerprint in Register is not one the relay was told about out of band.
    pub const UNKNOWN_FINGERPRINT: ErrorCode = ErrorCode(2);
    /// The fingerprint in Register is not that of the certificate the client authenticated
    /// the TLS connection with.
    pub const FINGERPRINT_MISMATCH: ErrorCode = ErrorCode(3);
    /// The relay has no allocation left for this client (or at all).
    pub const QUOTA_EXCEEDED: ErrorCode = ErrorCode(4);
    /// Refresh without a live allocation (never registered, or expired).
    pub const NO_ALLOCATION: ErrorCode = ErrorCode(5);
    /// Any other failure of the relay.
    pub const INTERNAL: ErrorCode = ErrorCode(6);

    /// The code's name in the spec, or `None` for a code this crate does not know.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::MALFORMED_FRAME => "malformed frame",
            Self::UNKNOWN_FINGERPRINT => "unknown fingerprint",
            Self::FINGERPRINT_MISMATCH => "fingerprint mismatch",
            Self::QUOTA_EXCEEDED => "allocation quota exceeded",
            Self::NO_ALLOCATION => "no allocation",
            Self::INTERNAL => "internal error",
            _ => return None,
        })
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "ErrorCode({} {name:?})", self.0),
            None => write!(f, "ErrorCode({})", self.0),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// One TURN2 frame, borrowing its variable-length parts from the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn2Frame<'a> {
    /// Client to relay: asks for an allocation for the certificate with this fingerprint.
    Register {
        /// SHA-256 of the DER certificate the client authenticates the TLS connection with.
        fingerprint: [u8; FINGERPRINT_LEN],
        /// Requested lifetime in seconds; `None` lets the relay choose.
        lifetime: Option<u32>,
    },
    /// Relay to client: the allocation, sent in answer to Register and to each Refresh.
    Allocation {
        /// Public address whose received datagrams are relayed to the client.
        inbound: SocketAddr,
        /// Address of the relay's TLS service the client connects to (mutual TLS) to receive
        /// relayed datagrams.
        outbound: SocketAddr,
        /// Seconds until the allocation expires unless refreshed; 0 means released.
        lifetime: u32,
    },
    /// Relay to client: one datagram that arrived on the inbound address.
    Relayed {
        /// The datagram's source address as the relay saw it.
        source: SocketAddr,
        /// The datagram's payload, unchanged (a STUN2 request, a QUIC packet, ...).
        packet: &'a [u8],
    },
    /// Client to relay: keeps the allocation alive.
    Refresh {
        /// Requested lifetime in seconds; `None` asks for the relay's default; `Some(0)`
        /// releases the allocation.
        lifetime: Option<u32>,
    },
    /// Relay to client: a request failed.
    Error {
        /// What went wrong.
        code: ErrorCode,
        /// Text for logs; may be empty.
        reason: &'a str,
    },
    /// A frame type this crate does not know. Receivers skip it.
    Unknown {
        /// The frame type.
        kind: u64,
        /// The raw body.
        body: &'a [u8],
    },
}

/// Why a TURN2 frame could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Turn2Error {
    /// The framing was bad (version, header varints, or a body over [`frame::MAX_BODY`]).
    #[error("TURN2 framing: {0}")]
    Frame(#[from] FrameError),
    /// The body of a frame is not a valid TLV list.
    #[error("TURN2 frame type {kind}: {source}")]
    Body {
        /// The frame type.
        kind: u64,
        /// What was wrong.
        source: TlvError,
    },
    /// A required field is missing.
    #[error("TURN2 frame type {kind}: missing field with tag {tag}")]
    MissingField {
        /// The frame type.
        kind: u64,
        /// The missing tag.
        tag: u64,
    },
    /// A known field appears twice.
    #[error("TURN2 frame type {kind}: field with tag {tag} appears twice")]
    DuplicateField {
        /// The frame type.
        kind: u64,
        /// The repeated tag.
        tag: u64,
    },
    /// An address field is malformed.
    #[error("TURN2 frame type {kind}, tag {tag}: {source}")]
    Address {
        /// The frame type.
        kind: u64,
        /// The field's tag.
        tag: u64,
        /// What was wrong.
        source: AddrError,
    },
    /// A lifetime does not fit in 32 bits.
    #[error("TURN2 lifetime {0} s exceeds 2^32-1")]
    LifetimeTooLarge(u64),
    /// The reason of an Error frame is not UTF-8.
    #[error("TURN2 error reason is not UTF-8")]
    ReasonNotUtf8,
    /// A value to encode does not fit a varint (error code or frame type above 2^62-1).
    #[error("TURN2 value cannot be encoded: {0}")]
    Varint(VarintError),
}

/// A value of one field, for encoding.
#[derive(Clone, Copy)]
enum Value<'a> {
    Bytes(&'a [u8]),
    Uint(u64),
    Addr(&'a SocketAddr),
}

impl Value<'_> {
    fn len(&self) -> Result<usize, VarintError> {
        match self {
            Value::Bytes(b) => Ok(b.len()),
            Value::Uint(v) => varint::encoded_len(*v),
            Value::Addr(a) => Ok(addr::encoded_len(a)),
        }
    }
}

/// Up to three fields of one frame body.
type Fields<'a> = [Option<(u64, Value<'a>)>; 3];

impl<'a> Turn2Frame<'a> {
    /// The frame type number.
    pub fn kind(&self) -> u64 {
        match self {
            Turn2Frame::Register { .. } => FRAME_REGISTER,
            Turn2Frame::Allocation { .. } => FRAME_ALLOCATION,
            Turn2Frame::Relayed { .. } => FRAME_RELAYED,
            Turn2Frame::Refresh { .. } => FRAME_REFRESH,
            Turn2Frame::Error { .. } => FRAME_ERROR,
            Turn2Frame::Unknown { kind, .. } => *kind,
        }
    }

    fn fields(&self) -> Fields<'_> {
        let lifetime = |tag, l: Option<u32>| l.map(|l| (tag, Value::Uint(u64::from(l))));
        match self {
            Turn2Frame::Register {
                fingerprint,
                lifetime: l,
            } => [
                Some((TAG_REGISTER_FINGERPRINT, Value::Bytes(fingerprint))),
                lifetime(TAG_REGISTER_LIFETIME, *l),
                None,
            ],
            Turn2Frame::Allocation {
                inbound,
                outbound,
                lifetime: l,
            } => [
                Some((TAG_ALLOCATION_INBOUND, Value::Addr(inbound))),
                Some((TAG_ALLOCATION_OUTBOUND, Value::Addr(outbound))),
                lifetime(TAG_ALLOCATION_LIFETIME, Some(*l)),
            ],
            Turn2Frame::Relayed { source, packet } => [
                Some((TAG_RELAYED_SOURCE, Value::Addr(source))),
                Some((TAG_RELAYED_PACKET, Value::Bytes(packet))),
                None,
            ],
            Turn2Frame::Refresh { lifetime: l } => [lifetime(TAG_REFRESH_LIFETIME, *l), None, None],
            Turn2Frame::Error { code, reason } => [
                Some((TAG_ERROR_CODE, Value::Uint(code.0))),
                (!reason.is_empty()).then_some((TAG_ERROR_REASON, Value::Bytes(reason.as_bytes()))),
                None,
            ],
            Turn2Frame::Unknown { .. } => [None, None, None],
        }
    }

    /// Appends the frame to `out`, writing the body in place (no intermediate buffer). On error
    /// nothing is appended.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), Turn2Error> {
        let fields = self.fields();
        let body_len = match self {
            Turn2Frame::Unknown { body, .. } => body.len(),
            _ => fields
                .iter()
                .flatten()
                .try_fold(0usize, |sum, (tag, value)| {
                    let len = value.len()?;
                    Ok(sum + varint::encoded_len(*tag)? + varint::encoded_len(len as u64)? + len)
                })
                .map_err(Turn2Error::Varint)?,
        };
        if body_len > frame::MAX_BODY {
            return Err(FrameError::TooLong(body_len as u64).into());
        }
        varint::encoded_len(self.kind()).map_err(Turn2Error::Varint)?;
        // Everything is checked: the writes below cannot fail.
        out.reserve(1 + 8 + 4 + body_len);
        out.push(frame::VERSION);
        let _ = varint::write(self.kind(), out);
        let _ = varint::write(body_len as u64, out);
        if let Turn2Frame::Unknown { body, .. } = self {
            out.extend_from_slice(body);
        }
        for (tag, value) in fields.iter().flatten() {
            let _ = match value {
                Value::Bytes(b) => tlv::put_bytes(*tag, b, out),
                Value::Uint(v) => tlv::put_uint(*tag, *v, out),
                Value::Addr(a) => {
                    let _ = varint::write(*tag, out);
                    let _ = varint::write(addr::encoded_len(a) as u64, out);
                    addr::encode_socket_addr(a, out);
                    Ok(())
                }
            };
        }
        Ok(())
    }

    /// Reads one frame from the front of a stream buffer. Returns the frame and the number of
    /// bytes it took, or `Ok(None)` if the buffer holds only part of a frame. An error means
    /// the stream is unusable and should be closed.
    pub fn decode(buf: &'a [u8]) -> Result<Option<(Self, usize)>, Turn2Error> {
        match frame::decode(buf)? {
            Some((f, used)) => Ok(Some((Self::decode_body(f.kind, f.body)?, used))),
            None => Ok(None),
        }
    }

    /// Parses the body of a frame of type `kind` (already split off by [`frame::decode`]).
    pub fn decode_body(kind: u64, body: &'a [u8]) -> Result<Self, Turn2Error> {
        let known: &[u64] = match kind {
            FRAME_REGISTER => &[TAG_REGISTER_FINGERPRINT, TAG_REGISTER_LIFETIME],
            FRAME_ALLOCATION => &[
                TAG_ALLOCATION_INBOUND,
                TAG_ALLOCATION_OUTBOUND,
                TAG_ALLOCATION_LIFETIME,
            ],
            FRAME_RELAYED => &[TAG_RELAYED_SOURCE, TAG_RELAYED_PACKET],
            FRAME_REFRESH => &[TAG_REFRESH_LIFETIME],
            FRAME_ERROR => &[TAG_ERROR_CODE, TAG_ERROR_REASON],
            _ => return Ok(Turn2Frame::Unknown { kind, body }),
        };
        let b = Body::collect(kind, body, known)?;
        Ok(match kind {
            FRAME_REGISTER => Turn2Frame::Register {
                fingerprint: b
                    .required(TAG_REGISTER_FINGERPRINT)?
                    .array()
                    .map_err(|source| Turn2Error::Body { kind, source })?,
                lifetime: b.lifetime(TAG_REGISTER_LIFETIME)?,
            },
            FRAME_ALLOCATION => Turn2Frame::Allocation {
                inbound: b.addr(TAG_ALLOCATION_INBOUND)?,
                outbound: b.addr(TAG_ALLOCATION_OUTBOUND)?,
                lifetime: b
                    .lifetime(TAG_ALLOCATION_LIFETIME)?
                    .ok_or(Turn2Error::MissingField {
                        kind,
                        tag: TAG_ALLOCATION_LIFETIME,
                    })?,
            },
            FRAME_RELAYED => Turn2Frame::Relayed {
                source: b.addr(TAG_RELAYED_SOURCE)?,
                packet: b.required(TAG_RELAYED_PACKET)?.value,
            },
            FRAME_REFRESH => Turn2Frame::Refresh {
                lifetime: b.lifetime(TAG_REFRESH_LIFETIME)?,
            },
            _ => Turn2Frame::Error {
                code: ErrorCode(
                    b.required(TAG_ERROR_CODE)?
                        .uint()
                        .map_err(|source| Turn2Error::Body { kind, source })?,
                ),
                reason: match b.get(TAG_ERROR_REASON) {
                    Some(f) => {
                        std::str::from_utf8(f.value).map_err(|_| Turn2Error::ReasonNotUtf8)?
                    }
                    None => "",
                },
            },
        })
    }
}

/// The known fields of one body, by position in the frame type's tag list.
struct Body<'a, 'k> {
    kind: u64,
    known: &'k [u64],
    found: [Option<tlv::Field<'a>>; 3],
}

impl<'a, 'k> Body<'a, 'k> {
    fn collect(kind: u64, body: &'a [u8], known: &'k [u64]) -> Result<Self, Turn2Error> {
        let mut found = [None; 3];
        for field in tlv::Fields::new(body) {
            let field = field.map_err(|source| Turn2Error::Body { kind, source })?;
            let Some(slot) = known
                .iter()
                .position(|&t| t == field.tag)
                .and_then(|i| found.get_mut(i))
            else {
                continue; // unknown tag: ignored
            };
            if slot.replace(field).is_some() {
                return Err(Turn2Error::DuplicateField {
                    kind,
                    tag: field.tag,
                });
            }
        }
        Ok(Self { kind, known, found })
    }

    fn get(&self, tag: u64) -> Option<tlv::Field<'a>> {
        let i = self.known.iter().position(|&t| t == tag)?;
        self.found.get(i).copied().flatten()
    }

    fn required(&self, tag: u64) -> Result<tlv::Field<'a>, Turn2Error> {
        self.get(tag).ok_or(Turn2Error::MissingField {
            kind: self.kind,
            tag,
        })
    }

    fn addr(&self, tag: u64) -> Result<SocketAddr, Turn2Error> {
        addr::decode_socket_addr(self.required(tag)?.value).map_err(|source| Turn2Error::Address {
            kind: self.kind,
            tag,
            source,
        })
    }

    fn lifetime(&self, tag: u64) -> Result<Option<u32>, Turn2Error> {
        let Some(field) = self.get(tag) else {
            return Ok(None);
        };
        let secs = field.uint().map_err(|source| Turn2Error::Body {
            kind: self.kind,
            source,
        })?;
        u32::try_from(secs)
            .map(Some)
            .map_err(|_| Turn2Error::LifetimeTooLarge(secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn samples() -> Vec<Turn2Frame<'static>> {
        vec![
            Turn2Frame::Register {
                fingerprint: [0xAB; 32],
                lifetime: None,
            },
            Turn2Frame::Register {
                fingerprint: [1; 32],
                lifetime: Some(3600),
            },
            Turn2Frame::Allocation {
                inbound: sa("203.0.113.10:40000"),
                outbound: sa("[2001:db8::10]:443"),
                lifetime: 600,
            },
            Turn2Frame::Relayed {
                source: sa("198.51.100.1:5000"),
                packet: b"\x0e\x04NMSQ",
            },
            Turn2Frame::Relayed {
                source: sa("198.51.100.1:5000"),
                packet: b"",
            },
            Turn2Frame::Refresh { lifetime: None },
            Turn2Frame::Refresh { lifetime: Some(0) },
            Turn2Frame::Error {
                code: ErrorCode::QUOTA_EXCEEDED,
                reason: "too many allocations",
            },
            Turn2Frame::Error {
                code: ErrorCode(99),
                reason: "",
            },
            Turn2Frame::Unknown {
                kind: 0x1234,
                body: b"\x01\x00",
            },
        ]
    }

    fn enc(f: &Turn2Frame<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        f.encode(&mut out).unwrap();
        out
    }

    #[test]
    fn known_bytes() {
        let refresh = enc(&Turn2Frame::Refresh {
            lifetime: Some(600),
        });
        assert_eq!(hex::encode(refresh), "01040401024258");
        let relayed = enc(&Turn2Frame::Relayed {
            source: sa("192.0.2.1:3478"),
            packet: b"hi",
        });
        assert_eq!(hex::encode(relayed), "01030d010704c00002010d9602026869");
    }

    #[test]
    fn roundtrip_samples_and_stream() {
        let mut stream = Vec::new();
        for f in samples() {
            let bytes = enc(&f);
            assert_eq!(Turn2Frame::decode(&bytes), Ok(Some((f, bytes.len()))));
            for cut in 0..bytes.len() {
                assert_eq!(
                    Turn2Frame::decode(&bytes[..cut]),
                    Ok(None),
                    "{f:?} cut {cut}"
                );
            }
            stream.extend_from_slice(&bytes);
        }
        let mut rest = &stream[..];
        let mut back = Vec::new();
        while let Some((f, used)) = Turn2Frame::decode(rest).unwrap() {
            back.push(f);
            rest = &rest[used..];
        }
        assert!(rest.is_empty());
        assert_eq!(back, samples());
    }

    #[test]
    fn unknown_tags_ignored_and_rules_enforced() {
        // Refresh with an unknown tag 9 before the lifetime.
        let body = hex::decode("0901ff01024258").unwrap();
        assert_eq!(
            Turn2Frame::decode_body(FRAME_REFRESH, &body),
            Ok(Turn2Frame::Refresh {
                lifetime: Some(600)
            })
        );
        assert_eq!(
            Turn2Frame::decode_body(FRAME_RELAYED, &hex::decode("02026869").unwrap()),
            Err(Turn2Error::MissingField {
                kind: FRAME_RELAYED,
                tag: TAG_RELAYED_SOURCE
            })
        );
        assert_eq!(
            Turn2Frame::decode_body(FRAME_REFRESH, &hex::decode("01010501010a").unwrap()),
            Err(Turn2Error::DuplicateField {
                kind: FRAME_REFRESH,
                tag: 1
            })
        );
        assert!(matches!(
            Turn2Frame::decode_body(FRAME_REGISTER, &hex::decode("01020102").unwrap()),
            Err(Turn2Error::Body {
                source: TlvError::BadLength { .. },
                ..
            })
        ));
        assert_eq!(
            Turn2Frame::decode_body(FRAME_REFRESH, &hex::decode("0108c000000100000000").unwrap()),
            Err(Turn2Error::LifetimeTooLarge(1 << 32))
        );
        assert_eq!(
            Turn2Frame::decode_body(FRAME_ERROR, &hex::decode("0101040201ff").unwrap()),
            Err(Turn2Error::ReasonNotUtf8)
        );
        assert!(matches!(
            Turn2Frame::decode_body(FRAME_RELAYED, &hex::decode("0106040102030400").unwrap()),
            Err(Turn2Error::Address { tag: 1, .. })
        ));
        // A reason present but empty decodes like an absent one.
        assert_eq!(
            Turn2Frame::decode_body(FRAME_ERROR, &hex::decode("0101010200").unwrap()),
            Ok(Turn2Frame::Error {
                code: ErrorCode::MALFORMED_FRAME,
                reason: ""
            })
        );
        assert_eq!(
            Turn2Frame::decode(&[2, 1, 0]),
            Err(Turn2Error::Frame(FrameError::UnsupportedVersion(2)))
        );
    }

    #[test]
    fn encode_limits() {
        let big = vec![0u8; frame::MAX_BODY];
        let mut out = vec![7];
        let err = Turn2Frame::Relayed {
            source: sa("192.0.2.1:1"),
            packet: &big,
        }
        .encode(&mut out);
        assert!(matches!(
            err,
            Err(Turn2Error::Frame(FrameError::TooLong(_)))
        ));
        assert_eq!(out, [7]);
        let err = Turn2Frame::Error {
            code: ErrorCode(u64::MAX),
            reason: "",
        }
        .encode(&mut out);
        assert!(matches!(err, Err(Turn2Error::Varint(_))));
        assert_eq!(out, [7]);
        // The largest packet that fits.
        let max_packet = frame::MAX_BODY - 9 - 1 - 4;
        let f = Turn2Frame::Relayed {
            source: sa("192.0.2.1:1"),
            packet: &big[..max_packet],
        };
        let bytes = enc(&f);
        assert_eq!(Turn2Frame::decode(&bytes), Ok(Some((f, bytes.len()))));
    }

    #[test]
    fn error_code_names() {
        assert_eq!(
            ErrorCode::UNKNOWN_FINGERPRINT.to_string(),
            "2 (unknown fingerprint)"
        );
        assert_eq!(ErrorCode(77).name(), None);
    }

    fn arb_addr() -> impl Strategy<Value = SocketAddr> {
        any::<SocketAddr>().prop_map(|a| SocketAddr::new(a.ip().to_canonical(), a.port()))
    }

    proptest! {
        #[test]
        fn roundtrip(
            fp in any::<[u8; 32]>(),
            l in proptest::option::of(any::<u32>()),
            a in arb_addr(),
            b in arb_addr(),
            packet in proptest::collection::vec(any::<u8>(), 0..1500),
            code in 0..=varint::MAX,
            reason in ".{0,40}",
            which in 0usize..5,
        ) {
            let f = match which {
                0 => Turn2Frame::Register { fingerprint: fp, lifetime: l },
                1 => Turn2Frame::Allocation { inbound: a, outbound: b, lifetime: l.unwrap_or(0) },
                2 => Turn2Frame::Relayed { source: a, packet: &packet },
                3 => Turn2Frame::Refresh { lifetime: l },
                _ => Turn2Frame::Error { code: ErrorCode(code), reason: &reason },
            };
            let bytes = enc(&f);
            prop_assert_eq!(Turn2Frame::decode(&bytes), Ok(Some((f, bytes.len()))));
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128), kind in 0u64..8) {
            let _ = Turn2Frame::decode(&bytes);
            let _ = Turn2Frame::decode_body(kind, &bytes);
        }
    }
}
