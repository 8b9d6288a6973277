//! Parsing with located errors, and the validation rules of advertisements and proposals.

use super::{Advertisement, Candidate, Codec, Proposal, SignalingError, Stream};
use crate::{crypto::Algorithm, varint};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;

/// Which document [`parse`] reads.
#[derive(Clone, Copy)]
pub(super) enum Doc {
    Proposal,
    Advertisement,
}

/// Deserializes `text` as a `doc`.
///
/// When serde rejects a value (not the syntax), looks through the JSON again for an error it
/// can place exactly (an unknown AEAD, a bad address), and otherwise reports serde's message,
/// which has line and column.
///
/// When serde accepts it, checks that every struct was written as a JSON object: serde's derived
/// structs also accept arrays (fields by position), which is not a form of this protocol.
pub(super) fn parse<T: DeserializeOwned>(text: &str, doc: Doc) -> Result<T, SignalingError> {
    match serde_json::from_str::<T>(text) {
        Ok(v) => {
            let value: Value = serde_json::from_str(text)?;
            objects_only(&value, doc)?;
            Ok(v)
        }
        Err(e) => {
            if e.classify() == serde_json::error::Category::Data
                && let Ok(value) = serde_json::from_str::<Value>(text)
            {
                let located = match doc {
                    Doc::Proposal => diagnose_proposal(&value),
                    Doc::Advertisement => diagnose_candidates(&value, "receiveAt"),
                };
                if let Some(located) = located {
                    return Err(located);
                }
            }
            Err(e.into())
        }
    }
}

fn object(at: impl FnOnce() -> String, v: &Value) -> Result<(), SignalingError> {
    if v.is_object() {
        Ok(())
    } else {
        Err(SignalingError::NotAnObject { at: at() })
    }
}

/// Checks that the document and every element of its lists of structs are JSON objects.
fn objects_only(doc: &Value, kind: Doc) -> Result<(), SignalingError> {
    object(|| "top level".to_owned(), doc)?;
    let lists: &[&str] = match kind {
        Doc::Proposal => &["receiveAt", "sendTo", "sendStreams", "receiveStreams"],
        Doc::Advertisement => &["receiveAt", "sources", "sinks"],
    };
    for list in lists {
        for (i, e) in elements(doc, list) {
            object(|| format!("{list}[{i}]"), e)?;
            for (j, c) in elements(e, "codecs") {
                object(|| format!("{list}[{i}].codecs[{j}]"), c)?;
            }
        }
    }
    Ok(())
}

/// Elements of the array under `key`, with their index; nothing if it is not an array.
fn elements<'a>(doc: &'a Value, key: &str) -> impl Iterator<Item = (usize, &'a Value)> {
    doc.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

fn diagnose_candidates(doc: &Value, list: &str) -> Option<SignalingError> {
    for (i, c) in elements(doc, list) {
        for kind in ["relay", "stun", "local"] {
            if let Some(text) = c.get(kind).and_then(Value::as_str)
                && let Err(SignalingError::BadAddress { value, reason, .. }) =
                    super::Address::parse(text)
            {
                return Some(SignalingError::BadAddress {
                    at: format!("{list}[{i}].{kind}"),
                    value,
                    reason,
                });
            }
        }
    }
    None
}

/// Finds an error in a proposal that serde rejected and that can be placed exactly.
fn diagnose_proposal(doc: &Value) -> Option<SignalingError> {
    for list in ["receiveAt", "sendTo"] {
        if let Some(e) = diagnose_candidates(doc, list) {
            return Some(e);
        }
    }
    for list in ["sendStreams", "receiveStreams"] {
        for (i, s) in elements(doc, list) {
            if let Some(name) = s.get("AEAD").and_then(Value::as_str)
                && name.parse::<Algorithm>().is_err()
            {
                return Some(SignalingError::UnknownAead {
                    at: format!("{list}[{i}]"),
                    name: name.to_owned(),
                });
            }
        }
    }
    None
}

fn candidates(list: &str, cands: &[Candidate]) -> Result<(), SignalingError> {
    for (i, c) in cands.iter().enumerate() {
        let at = format!("{list}[{i}]");
        let Some((kind, address)) = c.address() else {
            return Err(SignalingError::CandidateKind {
                at,
                count: c.kind_count(),
            });
        };
        if address.socket_addr().port() == 0 {
            return Err(SignalingError::BadAddress {
                at: format!("{at}.{}", kind.key()),
                value: address.as_str().to_owned(),
                reason: "port 0",
            });
        }
    }
    Ok(())
}

fn check_id(at: &str, field: &str, value: u64) -> Result<(), SignalingError> {
    if value > varint::MAX {
        return Err(SignalingError::IdTooLarge {
            at: at.to_owned(),
            field: field.to_owned(),
            value,
        });
    }
    Ok(())
}

fn require<T>(at: &str, field: &'static str, value: Option<T>) -> Result<T, SignalingError> {
    value.ok_or_else(|| SignalingError::MissingField {
        at: at.to_owned(),
        field,
    })
}

fn is_blank(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(str::is_empty)
}

/// Rules for every stream, sent or received.
fn stream_common(at: &str, s: &Stream) -> Result<(), SignalingError> {
    if is_blank(&s.codec_name) {
        return Err(SignalingError::MissingField {
            at: at.to_owned(),
            field: "codecName",
        });
    }
    let aead = require(at, "AEAD", s.aead)?;
    if s.secret.is_some() && s.secret_ref.is_some() {
        return Err(SignalingError::SecretAndSecretRef { at: at.to_owned() });
    }
    if aead != Algorithm::Null && is_blank(&s.secret) && is_blank(&s.secret_ref) {
        return Err(SignalingError::MissingSecret {
            at: at.to_owned(),
            aead,
        });
    }
    let ids = [
        ("conferenceID", s.conference_id),
        ("endpointID", s.endpoint_id),
        ("sourceID", s.source_id),
        ("sinkID", s.sink_id),
        ("encodingID", s.encoding_id),
    ];
    for (field, value) in ids {
        if let Some(v) = value {
            check_id(at, field, v)?;
        }
    }
    for (k, &id) in s.fec_repair_encoding_ids.iter().flatten().enumerate() {
        check_id(at, &format!("fecRepairEncodingIDs[{k}]"), id)?;
    }
    Ok(())
}

/// The rules of [`Proposal::validate`].
pub(super) fn proposal(p: &Proposal) -> Result<(), SignalingError> {
    candidates("receiveAt", p.receive_at())?;
    candidates("sendTo", p.send_to())?;

    // (conferenceID, endpointID, sourceID, encodingID) -> index in sendStreams.
    let mut encodings: HashMap<(u64, u64, u64, u64), usize> = HashMap::new();
    for (i, s) in p.send_streams().iter().enumerate() {
        let at = format!("sendStreams[{i}]");
        stream_common(&at, s)?;
        let key = (
            require(&at, "conferenceID", s.conference_id)?,
            require(&at, "endpointID", s.endpoint_id)?,
            require(&at, "sourceID", s.source_id)?,
            require(&at, "encodingID", s.encoding_id)?,
        );
        if let Some(&first) = encodings.get(&key) {
            let (conference_id, endpoint_id, source_id, encoding_id) = key;
            return Err(SignalingError::DuplicateEncoding {
                at,
                first,
                conference_id,
                endpoint_id,
                source_id,
                encoding_id,
            });
        }
        encodings.insert(key, i);
    }
    for (i, s) in p.send_streams().iter().enumerate() {
        if !s.is_fec() {
            continue;
        }
        let at = format!("sendStreams[{i}]");
        let repaired = s.fec_repair_encoding_ids.as_deref().unwrap_or_default();
        if repaired.is_empty() {
            return Err(SignalingError::FecWithoutRepairIds { at });
        }
        // All four are present: checked in the first pass.
        let (Some(c), Some(e), Some(src)) = (s.conference_id, s.endpoint_id, s.source_id) else {
            continue;
        };
        for &id in repaired {
            match encodings.get(&(c, e, src, id)) {
                Some(&j) if j != i => {}
                _ => {
                    return Err(SignalingError::FecUnknownEncoding {
                        at,
                        encoding_id: id,
                    });
                }
            }
        }
    }

    for (i, s) in p.receive_streams().iter().enumerate() {
        let at = format!("receiveStreams[{i}]");
        stream_common(&at, s)?;
        require(&at, "sinkID", s.sink_id)?;
    }
    Ok(())
}

fn codecs(at: &str, list: &[Codec]) -> Result<(), SignalingError> {
    for (j, c) in list.iter().enumerate() {
        if c.codec_name.is_empty() {
            return Err(SignalingError::MissingField {
                at: format!("{at}.codecs[{j}]"),
                field: "codecName",
            });
        }
    }
    Ok(())
}

/// The rules of [`Advertisement::validate`].
pub(super) fn advertisement(ad: &Advertisement) -> Result<(), SignalingError> {
    candidates("receiveAt", ad.receive_at())?;

    let mut seen: HashMap<u64, usize> = HashMap::new();
    for (i, s) in ad.sources().iter().enumerate() {
        let at = format!("sources[{i}]");
        check_id(&at, "sourceID", s.source_id)?;
        if let Some(&first) = seen.get(&s.source_id) {
            return Err(SignalingError::DuplicateSourceId {
                at,
                first,
                id: s.source_id,
            });
        }
        seen.insert(s.source_id, i);
        codecs(&at, &s.codecs)?;
    }

    seen.clear();
    for (i, s) in ad.sinks().iter().enumerate() {
        let at = format!("sinks[{i}]");
        check_id(&at, "sinkID", s.sink_id)?;
        if let Some(&first) = seen.get(&s.sink_id) {
            return Err(SignalingError::DuplicateSinkId {
                at,
                first,
                id: s.sink_id,
            });
        }
        seen.insert(s.sink_id, i);
        codecs(&at, &s.codecs)?;
    }
    Ok(())
}
