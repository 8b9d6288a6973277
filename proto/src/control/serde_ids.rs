//! Serde helpers: GlobalEncodingIDs and GlobalMessageIDs as 16 lowercase hex digits in JSON
//! (the test vectors' notation), matching their `Display`.

use crate::ids::{GlobalEncodingId, GlobalMessageId};
use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

fn parse(s: &str) -> Result<u64, String> {
    if s.len() != 16 {
        return Err(format!("expected 16 hex digits, got {s:?}"));
    }
    u64::from_str_radix(s, 16).map_err(|e| format!("{s:?}: {e}"))
}

/// One GlobalEncodingID.
pub(super) mod geid {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(id: &GlobalEncodingId, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<GlobalEncodingId, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map(GlobalEncodingId).map_err(D::Error::custom)
    }
}

/// An optional GlobalEncodingID.
pub(super) mod opt_geid {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        id: &Option<GlobalEncodingId>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match id {
            Some(id) => s.collect_str(id),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<GlobalEncodingId>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| parse(&s).map(GlobalEncodingId).map_err(D::Error::custom))
            .transpose()
    }
}

/// A list of GlobalMessageIDs.
pub(super) mod gmids {
    use super::*;
    use serde::ser::SerializeSeq;

    pub(crate) fn serialize<S: Serializer>(
        ids: &[GlobalMessageId],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(ids.len()))?;
        for id in ids {
            seq.serialize_element(&id.to_string())?;
        }
        seq.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<GlobalMessageId>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| parse(s).map(GlobalMessageId).map_err(D::Error::custom))
            .collect()
    }
}
