//! Join grants: a controller's signed, expiring permission for one endpoint to join one
//! conference on an SFU and publish the listed encodings (PROTOCOL.md "Join grant").
//!
//! A grant is a TLV list ending in an Ed25519 signature over everything before it. The SFU
//! holds only the controller's public keys, so an SFU can check grants but never mint them.

use crate::ids::GlobalEncodingId;
use crate::tlv::{self, Fields, TlvError};
use crate::varint::VarintError;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Domain-separation prefix of the signed message.
pub const SIGNATURE_CONTEXT: &[u8] = b"newmedia grant v1";
/// Largest encoded grant accepted (a few hundred publications).
pub const MAX_GRANT_LEN: usize = 16 * 1024;

const CONFERENCE_ID: u64 = 1;
const ENDPOINT_ID: u64 = 2;
const EXPIRES_AT: u64 = 3;
const KEY_ID: u64 = 4;
const PUBLICATION: u64 = 5;
const SIGNATURE: u64 = 15;

const P_SOURCE_ID: u64 = 1;
const P_ENCODING_ID: u64 = 2;
const P_KIND: u64 = 3;
const P_WIDTH: u64 = 4;
const P_HEIGHT: u64 = 5;
const P_MAX_BITRATE: u64 = 6;
const P_FRAME_RATE: u64 = 7;

/// Why a grant was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GrantError {
    /// The TLV structure is malformed.
    #[error("malformed grant: {0}")]
    Tlv(#[from] TlvError),
    /// A value cannot be encoded.
    #[error("cannot encode grant: {0}")]
    Encode(#[from] VarintError),
    /// A required field is missing.
    #[error("grant lacks {0}")]
    Missing(&'static str),
    /// A field appears twice.
    #[error("grant has {0} twice")]
    Duplicate(&'static str),
    /// A value is not allowed.
    #[error("grant field {field}: {reason}")]
    BadValue {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The grant is longer than [`MAX_GRANT_LEN`].
    #[error("grant of {0} bytes exceeds {MAX_GRANT_LEN}")]
    TooLong(usize),
    /// No trusted key has the grant's key ID.
    #[error("grant signed with unknown key {0}")]
    UnknownKey(u64),
    /// The signature does not verify.
    #[error("grant signature does not verify")]
    BadSignature,
    /// The grant's expiry time has passed.
    #[error("grant expired at {expires_at} (now {now})")]
    Expired {
        /// Expiry, Unix seconds.
        expires_at: u64,
        /// The time it was checked, Unix seconds.
        now: u64,
    },
}

/// What kind of media an encoding carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    /// Audio.
    Audio,
    /// Video.
    Video,
    /// Data (draft §5.3).
    Data,
}

impl MediaKind {
    fn code(self) -> u64 {
        match self {
            MediaKind::Audio => 0,
            MediaKind::Video => 1,
            MediaKind::Data => 2,
        }
    }

    fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => Some(MediaKind::Audio),
            1 => Some(MediaKind::Video),
            2 => Some(MediaKind::Data),
            _ => None,
        }
    }
}

/// One encoding an endpoint may publish, with what an SFU needs to choose among simulcast
/// encodings of a source.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publication {
    /// The source (camera, microphone) the encoding is of.
    #[serde(rename = "sourceID")]
    pub source_id: u64,
    /// The encoding's ID within the source.
    #[serde(rename = "encodingID")]
    pub encoding_id: u64,
    /// Audio, video or data.
    pub kind: MediaKind,
    /// Width in pixels (video).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height in pixels (video).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Highest bitrate, bit/s.
    #[serde(
        rename = "maxBitrate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_bitrate: Option<u64>,
    /// Frames per second (video).
    #[serde(rename = "frameRate", default, skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<u32>,
}

impl Publication {
    /// The GlobalEncodingID of this encoding when published by `endpoint_id` in
    /// `conference_id`.
    pub fn global_encoding_id(&self, conference_id: u64, endpoint_id: u64) -> GlobalEncodingId {
        GlobalEncodingId::derive(conference_id, endpoint_id, self.source_id, self.encoding_id)
    }
}

/// The content of a join grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinGrant {
    /// The conference the endpoint may join.
    pub conference_id: u64,
    /// The endpoint ID it joins as.
    pub endpoint_id: u64,
    /// When the grant stops admitting, Unix seconds.
    pub expires_at: u64,
    /// Which of the controller's keys signed it.
    pub key_id: u64,
    /// The encodings the endpoint may publish.
    pub publications: Vec<Publication>,
}

impl JoinGrant {
    /// Encodes and signs the grant.
    pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>, GrantError> {
        let mut out = Vec::with_capacity(64 + 24 * self.publications.len() + 80);
        tlv::put_uint(CONFERENCE_ID, self.conference_id, &mut out)?;
        tlv::put_uint(ENDPOINT_ID, self.endpoint_id, &mut out)?;
        tlv::put_uint(EXPIRES_AT, self.expires_at, &mut out)?;
        tlv::put_uint(KEY_ID, self.key_id, &mut out)?;
        for p in &self.publications {
            let mut inner = Vec::with_capacity(40);
            tlv::put_uint(P_SOURCE_ID, p.source_id, &mut inner)?;
            tlv::put_uint(P_ENCODING_ID, p.encoding_id, &mut inner)?;
            tlv::put_uint(P_KIND, p.kind.code(), &mut inner)?;
            for (tag, v) in [
                (P_WIDTH, p.width.map(u64::from)),
                (P_HEIGHT, p.height.map(u64::from)),
                (P_MAX_BITRATE, p.max_bitrate),
                (P_FRAME_RATE, p.frame_rate.map(u64::from)),
            ] {
                if let Some(v) = v {
                    tlv::put_uint(tag, v, &mut inner)?;
                }
            }
            tlv::put_bytes(PUBLICATION, &inner, &mut out)?;
        }
        let signature = key.sign(&signed_message(&out));
        tlv::put_bytes(SIGNATURE, &signature.to_bytes(), &mut out)?;
        if out.len() > MAX_GRANT_LEN {
            return Err(GrantError::TooLong(out.len()));
        }
        Ok(out)
    }

    /// Decodes a grant, checks its signature against the trusted key with its key ID, and
    /// checks it has not expired at `now` (Unix seconds; the caller reads the clock).
    pub fn verify(
        bytes: &[u8],
        trusted: &[(u64, VerifyingKey)],
        now: u64,
    ) -> Result<Self, GrantError> {
        let (grant, signed_len, signature) = Self::decode_unverified(bytes)?;
        let key = trusted
            .iter()
            .find(|(id, _)| *id == grant.key_id)
            .map(|(_, k)| k)
            .ok_or(GrantError::UnknownKey(grant.key_id))?;
        let signed = bytes.get(..signed_len).unwrap_or_default();
        key.verify(&signed_message(signed), &signature)
            .map_err(|_| GrantError::BadSignature)?;
        if now >= grant.expires_at {
            return Err(GrantError::Expired {
                expires_at: grant.expires_at,
                now,
            });
        }
        Ok(grant)
    }

    /// Decodes without checking the signature or expiry; returns the grant, the length of the
    /// signed prefix and the signature. For tools that display grants.
    pub fn decode_unverified(bytes: &[u8]) -> Result<(Self, usize, Signature), GrantError> {
        if bytes.len() > MAX_GRANT_LEN {
            return Err(GrantError::TooLong(bytes.len()));
        }
        let mut conference_id = None;
        let mut endpoint_id = None;
        let mut expires_at = None;
        let mut key_id = None;
        let mut publications = Vec::new();
        let mut fields = Fields::new(bytes);
        while let Some(f) = fields.next_field()? {
            match f.tag {
                CONFERENCE_ID => set_once(&mut conference_id, f.uint()?, "conference ID")?,
                ENDPOINT_ID => set_once(&mut endpoint_id, f.uint()?, "endpoint ID")?,
                EXPIRES_AT => set_once(&mut expires_at, f.uint()?, "expiry")?,
                KEY_ID => set_once(&mut key_id, f.uint()?, "key ID")?,
                PUBLICATION => publications.push(decode_publication(f.value)?),
                SIGNATURE => {
                    if f.end != bytes.len() {
                        return Err(GrantError::BadValue {
                            field: "signature",
                            reason: "must be the last field",
                        });
                    }
                    let signature = Signature::from_bytes(&f.array::<64>()?);
                    let grant = JoinGrant {
                        conference_id: conference_id.ok_or(GrantError::Missing("conference ID"))?,
                        endpoint_id: endpoint_id.ok_or(GrantError::Missing("endpoint ID"))?,
                        expires_at: expires_at.ok_or(GrantError::Missing("expiry"))?,
                        key_id: key_id.ok_or(GrantError::Missing("key ID"))?,
                        publications,
                    };
                    return Ok((grant, f.offset, signature));
                }
                _ => {}
            }
        }
        Err(GrantError::Missing("signature"))
    }
}

fn signed_message(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNATURE_CONTEXT.len() + body.len());
    m.extend_from_slice(SIGNATURE_CONTEXT);
    m.extend_from_slice(body);
    m
}

fn set_once<T>(slot: &mut Option<T>, v: T, name: &'static str) -> Result<(), GrantError> {
    if slot.replace(v).is_some() {
        return Err(GrantError::Duplicate(name));
    }
    Ok(())
}

fn small(v: u64, field: &'static str) -> Result<u32, GrantError> {
    u32::try_from(v).map_err(|_| GrantError::BadValue {
        field,
        reason: "above 2^32-1",
    })
}

fn decode_publication(body: &[u8]) -> Result<Publication, GrantError> {
    let (mut source, mut encoding, mut kind) = (None, None, None);
    let (mut width, mut height, mut bitrate, mut rate) = (None, None, None, None);
    for f in Fields::new(body) {
        let f = f?;
        match f.tag {
            P_SOURCE_ID => set_once(&mut source, f.uint()?, "publication source ID")?,
            P_ENCODING_ID => set_once(&mut encoding, f.uint()?, "publication encoding ID")?,
            P_KIND => {
                let k = MediaKind::from_code(f.uint()?).ok_or(GrantError::BadValue {
                    field: "publication kind",
                    reason: "not 0 (audio), 1 (video) or 2 (data)",
                })?;
                set_once(&mut kind, k, "publication kind")?;
            }
            P_WIDTH => set_once(&mut width, small(f.uint()?, "width")?, "width")?,
            P_HEIGHT => set_once(&mut height, small(f.uint()?, "height")?, "height")?,
            P_MAX_BITRATE => set_once(&mut bitrate, f.uint()?, "max bitrate")?,
            P_FRAME_RATE => set_once(&mut rate, small(f.uint()?, "frame rate")?, "frame rate")?,
            _ => {}
        }
    }
    Ok(Publication {
        source_id: source.ok_or(GrantError::Missing("publication source ID"))?,
        encoding_id: encoding.ok_or(GrantError::Missing("publication encoding ID"))?,
        kind: kind.ok_or(GrantError::Missing("publication kind"))?,
        width,
        height,
        max_bitrate: bitrate,
        frame_rate: rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn grant() -> JoinGrant {
        JoinGrant {
            conference_id: 4_638_572_387,
            endpoint_id: 23,
            expires_at: 2_000_000_000,
            key_id: 1,
            publications: vec![
                Publication {
                    source_id: 1,
                    encoding_id: 1,
                    kind: MediaKind::Audio,
                    width: None,
                    height: None,
                    max_bitrate: Some(64_000),
                    frame_rate: None,
                },
                Publication {
                    source_id: 2,
                    encoding_id: 1,
                    kind: MediaKind::Video,
                    width: Some(1280),
                    height: Some(720),
                    max_bitrate: Some(1_500_000),
                    frame_rate: Some(30),
                },
            ],
        }
    }

    #[test]
    fn sign_and_verify() {
        let bytes = grant().sign(&key(1)).unwrap();
        let trusted = [(1, key(1).verifying_key())];
        assert_eq!(
            JoinGrant::verify(&bytes, &trusted, 1_999_999_999).unwrap(),
            grant()
        );
        assert!(matches!(
            JoinGrant::verify(&bytes, &trusted, 2_000_000_000),
            Err(GrantError::Expired { .. })
        ));
        assert_eq!(
            JoinGrant::verify(&bytes, &[(2, key(1).verifying_key())], 0),
            Err(GrantError::UnknownKey(1))
        );
        assert_eq!(
            JoinGrant::verify(&bytes, &[(1, key(2).verifying_key())], 0),
            Err(GrantError::BadSignature)
        );
    }

    #[test]
    fn any_changed_byte_is_refused() {
        let bytes = grant().sign(&key(1)).unwrap();
        let trusted = [(1, key(1).verifying_key())];
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x20;
            assert!(JoinGrant::verify(&bad, &trusted, 0).is_err(), "byte {i}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = JoinGrant::verify(&bytes, &[(1, key(1).verifying_key())], 0);
        }
    }
}
