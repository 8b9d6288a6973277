//! STUN2 request and response datagrams: encode, decode, and a cheap transaction-ID peek.

use super::{
    AEAD_TAG_LEN, Direction, HEADER_LEN, MAX_DATAGRAM, MAX_PLAINTEXT, MAX_SENDER_SECRET,
    MIN_DATAGRAM, REQUEST_MAGIC_TLV, RESPONSE_MAGIC_TLV, Stun2Error, Stun2Keys,
    TAG_OBSERVED_ADDRESS, TAG_SENDER_SECRET, TAG_TRANSACTION_ID, TRANSACTION_ID_LEN,
};
use crate::{addr, tlv, varint};
use aes_gcm_siv::{AeadInPlace, Nonce, Tag};
use std::{fmt, net::SocketAddr};

/// The 12 random bytes a client picks for one request; the response echoes them and they stay
/// the same across retransmissions. They are also the AEAD nonce.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(pub [u8; TRANSACTION_ID_LEN]);

impl fmt::Debug for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransactionId({self})")
    }
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A request's sender secret: up to [`MAX_SENDER_SECRET`] opaque bytes, stored inline so a
/// decoded request needs no allocation. Its `Debug` output shows only the length.
#[derive(Clone)]
pub struct SenderSecret {
    len: u8,
    bytes: [u8; MAX_SENDER_SECRET],
}

impl SenderSecret {
    /// A secret of at most [`MAX_SENDER_SECRET`] bytes.
    pub fn new(secret: &[u8]) -> Result<Self, Stun2Error> {
        let len = u8::try_from(secret.len())
            .map_err(|_| Stun2Error::SenderSecretTooLong(secret.len()))?;
        let mut bytes = [0u8; MAX_SENDER_SECRET];
        if let Some(dst) = bytes.get_mut(..secret.len()) {
            dst.copy_from_slice(secret);
        }
        Ok(Self { len, bytes })
    }

    /// The secret's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

impl PartialEq for SenderSecret {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for SenderSecret {}

impl fmt::Debug for SenderSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SenderSecret({} bytes)", self.len)
    }
}

/// A STUN2 request (draft §3.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stun2Request {
    /// Chosen at random by the client, echoed by the response.
    pub transaction_id: TransactionId,
    /// Optional secret the receiver can later show to prove it received this request.
    pub sender_secret: Option<SenderSecret>,
}

/// A STUN2 response (draft §3.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stun2Response {
    /// The request's transaction ID.
    pub transaction_id: TransactionId,
    /// The source address the request was received from. IPv6 flow info and scope ID are not
    /// carried.
    pub observed: SocketAddr,
}

impl Stun2Request {
    /// Appends the sealed datagram to `out` (at most 294 bytes; encoding cannot fail).
    pub fn encode(&self, keys: &Stun2Keys, out: &mut Vec<u8>) {
        seal(keys, Direction::Request, self.transaction_id, out, |p| {
            if let Some(secret) = &self.sender_secret {
                put_field(TAG_SENDER_SECRET, secret.as_bytes(), p);
            }
        });
    }

    /// Opens and parses a request datagram. Unknown plaintext fields are ignored.
    pub fn decode(keys: &Stun2Keys, datagram: &[u8]) -> Result<Self, Stun2Error> {
        let mut sender_secret = None;
        let transaction_id = open(keys, Direction::Request, datagram, |field| {
            if field.tag == TAG_SENDER_SECRET {
                if sender_secret.is_some() {
                    return Err(Stun2Error::DuplicateField(field.tag));
                }
                sender_secret = Some(SenderSecret::new(field.value)?);
            }
            Ok(())
        })?;
        Ok(Self {
            transaction_id,
            sender_secret,
        })
    }
}

impl Stun2Response {
    /// Appends the sealed datagram to `out` (at most 57 bytes; encoding cannot fail).
    pub fn encode(&self, keys: &Stun2Keys, out: &mut Vec<u8>) {
        seal(keys, Direction::Response, self.transaction_id, out, |p| {
            // Tag 3 and a length of 7 or 19 are one-byte varints.
            let _ = varint::write(TAG_OBSERVED_ADDRESS, p);
            let _ = varint::write(addr::encoded_len(&self.observed) as u64, p);
            addr::encode_socket_addr(&self.observed, p);
        });
    }

    /// Opens and parses a response datagram. Unknown plaintext fields are ignored; the observed
    /// address is required.
    pub fn decode(keys: &Stun2Keys, datagram: &[u8]) -> Result<Self, Stun2Error> {
        let mut observed = None;
        let transaction_id = open(keys, Direction::Response, datagram, |field| {
            if field.tag == TAG_OBSERVED_ADDRESS {
                if observed.is_some() {
                    return Err(Stun2Error::DuplicateField(field.tag));
                }
                observed =
                    Some(addr::decode_socket_addr(field.value).map_err(Stun2Error::BadAddress)?);
            }
            Ok(())
        })?;
        Ok(Self {
            transaction_id,
            observed: observed.ok_or(Stun2Error::MissingObservedAddress)?,
        })
    }
}

/// The transaction ID of a STUN2 request or response, read without decrypting (so without any
/// key). `None` unless the datagram starts with a STUN2 magic TLV and a well-formed
/// transaction-ID TLV and is long enough to hold a tag. The ID is not authenticated until the
/// datagram is decoded.
#[inline]
pub fn transaction_id(datagram: &[u8]) -> Option<TransactionId> {
    let header = header(datagram)?;
    if !(header.starts_with(&REQUEST_MAGIC_TLV) || header.starts_with(&RESPONSE_MAGIC_TLV))
        || datagram.len() < MIN_DATAGRAM
    {
        return None;
    }
    id_of(header).ok()
}

fn header(datagram: &[u8]) -> Option<&[u8; HEADER_LEN]> {
    datagram.first_chunk::<HEADER_LEN>()
}

/// Checks the transaction-ID TLV's tag and length and returns its value.
fn id_of(header: &[u8; HEADER_LEN]) -> Result<TransactionId, Stun2Error> {
    let (_magic, rest) = header.split_at(REQUEST_MAGIC_TLV.len());
    match rest.split_first_chunk::<2>() {
        Some((&[TAG_TRANSACTION_ID, len], id)) if usize::from(len) == TRANSACTION_ID_LEN => id
            .try_into()
            .map(TransactionId)
            .map_err(|_| Stun2Error::BadTransactionIdField(TAG_TRANSACTION_ID, len)),
        Some((&[tag, len], _)) => Err(Stun2Error::BadTransactionIdField(tag, len)),
        None => Err(Stun2Error::Truncated(0)),
    }
}

/// Appends one plaintext TLV. Tags and lengths here are small constants, so the varints never
/// fail.
fn put_field(tag: u64, value: &[u8], out: &mut Vec<u8>) {
    let _ = tlv::put_bytes(tag, value, out);
}

fn magic(direction: Direction) -> &'static [u8; 6] {
    match direction {
        Direction::Request => &REQUEST_MAGIC_TLV,
        Direction::Response => &RESPONSE_MAGIC_TLV,
    }
}

/// Writes header, plaintext (from `body`), then encrypts the plaintext in place and appends the
/// tag.
fn seal(
    keys: &Stun2Keys,
    direction: Direction,
    id: TransactionId,
    out: &mut Vec<u8>,
    body: impl FnOnce(&mut Vec<u8>),
) {
    let start = out.len();
    out.extend_from_slice(magic(direction));
    out.extend_from_slice(&[TAG_TRANSACTION_ID, TRANSACTION_ID_LEN as u8]);
    out.extend_from_slice(&id.0);
    let plaintext_start = out.len();
    body(out);
    let Some((aad, plaintext)) = out
        .get_mut(start..)
        .map(|datagram| datagram.split_at_mut(plaintext_start - start))
    else {
        return;
    };
    let nonce = Nonce::from(id.0);
    match keys
        .cipher(direction)
        .encrypt_in_place_detached(&nonce, aad, plaintext)
    {
        Ok(tag) => out.extend_from_slice(&tag),
        // Only a plaintext over 2^36 bytes fails; ours is at most a few hundred bytes.
        Err(_) => out.truncate(start),
    }
}

/// Checks the header, decrypts into a stack buffer and hands each plaintext field to `field`.
fn open(
    keys: &Stun2Keys,
    direction: Direction,
    datagram: &[u8],
    mut field: impl FnMut(tlv::Field<'_>) -> Result<(), Stun2Error>,
) -> Result<TransactionId, Stun2Error> {
    let expected = match direction {
        Direction::Request => "request",
        Direction::Response => "response",
    };
    if datagram.len() > MAX_DATAGRAM {
        return Err(Stun2Error::TooLong(datagram.len()));
    }
    // Check the magic first so a foreign packet gets BadMagic rather than Truncated.
    if !datagram.starts_with(magic(direction)) {
        return Err(Stun2Error::BadMagic { expected });
    }
    let (Some(header), Some((rest, tag))) = (
        header(datagram),
        datagram
            .get(HEADER_LEN..)
            .and_then(|r| r.split_last_chunk::<AEAD_TAG_LEN>()),
    ) else {
        return Err(Stun2Error::Truncated(datagram.len()));
    };
    let id = id_of(header)?;
    let mut buf = [0u8; MAX_PLAINTEXT];
    let plaintext = buf
        .get_mut(..rest.len())
        .ok_or(Stun2Error::TooLong(datagram.len()))?;
    plaintext.copy_from_slice(rest);
    keys.cipher(direction)
        .decrypt_in_place_detached(&Nonce::from(id.0), header, plaintext, &Tag::from(*tag))
        .map_err(|_| Stun2Error::Authentication)?;
    for f in tlv::Fields::new(plaintext) {
        field(f.map_err(Stun2Error::Plaintext)?)?;
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ID: TransactionId = TransactionId(*b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b");

    fn request(secret: Option<&[u8]>) -> Stun2Request {
        Stun2Request {
            transaction_id: ID,
            sender_secret: secret.map(|s| SenderSecret::new(s).unwrap()),
        }
    }

    fn response(addr: &str) -> Stun2Response {
        Stun2Response {
            transaction_id: ID,
            observed: addr.parse().unwrap(),
        }
    }

    fn enc_req(keys: &Stun2Keys, r: &Stun2Request) -> Vec<u8> {
        let mut out = vec![0xAA]; // encode appends
        r.encode(keys, &mut out);
        assert_eq!(out[0], 0xAA);
        out.remove(0);
        out
    }

    fn enc_resp(keys: &Stun2Keys, r: &Stun2Response) -> Vec<u8> {
        let mut out = Vec::new();
        r.encode(keys, &mut out);
        out
    }

    #[test]
    fn request_layout() {
        let keys = Stun2Keys::public();
        let bytes = enc_req(&keys, &request(None));
        assert_eq!(bytes.len(), MIN_DATAGRAM);
        assert_eq!(
            hex::encode(&bytes[..HEADER_LEN]),
            "0e044e4d5351010c000102030405060708090a0b"
        );
        let bytes = enc_req(&keys, &request(Some(b"abc")));
        assert_eq!(bytes.len(), MIN_DATAGRAM + 5);
        let long = [7u8; MAX_SENDER_SECRET];
        let bytes = enc_req(&keys, &request(Some(&long)));
        assert_eq!(bytes.len(), 294);
    }

    #[test]
    fn roundtrips() {
        for keys in [Stun2Keys::public(), Stun2Keys::new(b"s3cret")] {
            for r in [request(None), request(Some(b"")), request(Some(b"consent"))] {
                assert_eq!(Stun2Request::decode(&keys, &enc_req(&keys, &r)), Ok(r));
            }
            for r in [response("203.0.113.5:61000"), response("[2001:db8::5]:443")] {
                let bytes = enc_resp(&keys, &r);
                assert_eq!(&bytes[..6], &RESPONSE_MAGIC_TLV);
                assert_eq!(Stun2Response::decode(&keys, &bytes), Ok(r));
            }
        }
    }

    #[test]
    fn rejects_bad_datagrams() {
        let keys = Stun2Keys::new(b"s3cret");
        let req = enc_req(&keys, &request(Some(b"consent")));
        // Wrong secret, or the public key.
        assert_eq!(
            Stun2Request::decode(&Stun2Keys::new(b"other"), &req),
            Err(Stun2Error::Authentication)
        );
        assert_eq!(
            Stun2Request::decode(&Stun2Keys::public(), &req),
            Err(Stun2Error::Authentication)
        );
        // A request is not a response.
        assert_eq!(
            Stun2Response::decode(&keys, &req),
            Err(Stun2Error::BadMagic {
                expected: "response"
            })
        );
        // Every single-bit flip is caught.
        for i in 0..req.len() {
            let mut bad = req.clone();
            bad[i] ^= 0x01;
            assert!(Stun2Request::decode(&keys, &bad).is_err(), "byte {i}");
        }
        let mut bad = req.clone();
        bad[7] = 11;
        assert_eq!(
            Stun2Request::decode(&keys, &bad),
            Err(Stun2Error::BadTransactionIdField(1, 11))
        );
        assert_eq!(
            Stun2Request::decode(&keys, &req[..MIN_DATAGRAM - 1]),
            Err(Stun2Error::Truncated(MIN_DATAGRAM - 1))
        );
        assert_eq!(
            Stun2Request::decode(&keys, &REQUEST_MAGIC_TLV),
            Err(Stun2Error::Truncated(6))
        );
        let mut long = req.clone();
        long.resize(MAX_DATAGRAM + 1, 0);
        assert_eq!(
            Stun2Request::decode(&keys, &long),
            Err(Stun2Error::TooLong(MAX_DATAGRAM + 1))
        );
    }

    /// Seals an arbitrary plaintext, for tests of the field rules.
    fn seal_raw(keys: &Stun2Keys, direction: Direction, plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        seal(keys, direction, ID, &mut out, |p| {
            p.extend_from_slice(plaintext)
        });
        out
    }

    #[test]
    fn plaintext_field_rules() {
        let keys = Stun2Keys::public();
        // Unknown tags (here 0x09 and 0x3FFF) are skipped.
        let pt = hex::decode("090201027fff0002025859").unwrap();
        let r = Stun2Request::decode(&keys, &seal_raw(&keys, Direction::Request, &pt)).unwrap();
        assert_eq!(r.sender_secret.unwrap().as_bytes(), b"XY");
        let pt = hex::decode("0900030704c00002010d96").unwrap();
        let r = Stun2Response::decode(&keys, &seal_raw(&keys, Direction::Response, &pt)).unwrap();
        assert_eq!(r.observed, "192.0.2.1:3478".parse().unwrap());
        // Missing, duplicate and malformed fields.
        let pt = hex::decode("090100").unwrap();
        assert_eq!(
            Stun2Response::decode(&keys, &seal_raw(&keys, Direction::Response, &pt)),
            Err(Stun2Error::MissingObservedAddress)
        );
        let pt = hex::decode("02000200").unwrap();
        assert_eq!(
            Stun2Request::decode(&keys, &seal_raw(&keys, Direction::Request, &pt)),
            Err(Stun2Error::DuplicateField(2))
        );
        let pt = hex::decode("030504c0000201").unwrap();
        assert!(matches!(
            Stun2Response::decode(&keys, &seal_raw(&keys, Direction::Response, &pt)),
            Err(Stun2Error::BadAddress(_))
        ));
        let pt = hex::decode("0205").unwrap();
        assert!(matches!(
            Stun2Request::decode(&keys, &seal_raw(&keys, Direction::Request, &pt)),
            Err(Stun2Error::Plaintext(_))
        ));
        let mut pt = vec![0x02, 0x41, 0x00];
        pt.extend_from_slice(&[0; 256]);
        assert_eq!(
            Stun2Request::decode(&keys, &seal_raw(&keys, Direction::Request, &pt)),
            Err(Stun2Error::SenderSecretTooLong(256))
        );
        // The largest accepted plaintext.
        let mut pt = vec![0x09, 0x44, 0x89];
        pt.resize(MAX_PLAINTEXT, 0);
        let bytes = seal_raw(&keys, Direction::Request, &pt);
        assert_eq!(bytes.len(), MAX_DATAGRAM);
        assert_eq!(Stun2Request::decode(&keys, &bytes), Ok(request(None)));
    }

    #[test]
    fn peek_transaction_id() {
        let keys = Stun2Keys::new(b"k");
        assert_eq!(transaction_id(&enc_req(&keys, &request(None))), Some(ID));
        let resp = enc_resp(&keys, &response("192.0.2.1:1"));
        assert_eq!(transaction_id(&resp), Some(ID));
        assert_eq!(transaction_id(&resp[..MIN_DATAGRAM - 1]), None);
        let mut bad = resp.clone();
        bad[6] = 2;
        assert_eq!(transaction_id(&bad), None);
        bad[0] = 0x40;
        assert_eq!(transaction_id(&bad), None);
    }

    #[test]
    fn sender_secret_limits() {
        assert!(SenderSecret::new(&[0; 255]).is_ok());
        assert_eq!(
            SenderSecret::new(&[0; 256]),
            Err(Stun2Error::SenderSecretTooLong(256))
        );
        assert_eq!(
            format!("{:?}", SenderSecret::new(b"hidden").unwrap()),
            "SenderSecret(6 bytes)"
        );
    }

    proptest! {
        #[test]
        fn request_roundtrip(
            id in any::<[u8; 12]>(),
            secret in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..=255)),
            key in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let keys = Stun2Keys::new(&key);
            let r = Stun2Request {
                transaction_id: TransactionId(id),
                sender_secret: secret.map(|s| SenderSecret::new(&s).unwrap()),
            };
            let bytes = enc_req(&keys, &r);
            prop_assert_eq!(transaction_id(&bytes), Some(r.transaction_id));
            prop_assert_eq!(Stun2Request::decode(&keys, &bytes), Ok(r));
        }

        #[test]
        fn response_roundtrip(id in any::<[u8; 12]>(), addr in any::<SocketAddr>()) {
            let keys = Stun2Keys::public();
            let observed = SocketAddr::new(addr.ip().to_canonical(), addr.port());
            let r = Stun2Response { transaction_id: TransactionId(id), observed };
            let bytes = enc_resp(&keys, &r);
            prop_assert_eq!(Stun2Response::decode(&keys, &bytes), Ok(r));
        }

        #[test]
        fn decoders_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..1300),
            prefix in 0usize..3,
        ) {
            let keys = Stun2Keys::public();
            let mut input = match prefix {
                0 => REQUEST_MAGIC_TLV.to_vec(),
                1 => RESPONSE_MAGIC_TLV.to_vec(),
                _ => Vec::new(),
            };
            input.extend_from_slice(&bytes);
            let _ = Stun2Request::decode(&keys, &input);
            let _ = Stun2Response::decode(&keys, &input);
            let _ = transaction_id(&input);
        }

        #[test]
        fn any_sealed_plaintext_never_panics(pt in proptest::collection::vec(any::<u8>(), 0..300)) {
            let keys = Stun2Keys::public();
            let _ = Stun2Request::decode(&keys, &seal_raw(&keys, Direction::Request, &pt));
            let _ = Stun2Response::decode(&keys, &seal_raw(&keys, Direction::Response, &pt));
        }
    }
}
