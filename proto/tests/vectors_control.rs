//! Checks the control-message test vectors in `testdata/vectors/control.json`.
//!
//! Each vector has a `name` and a `hex` frame, plus one of:
//! - `message` (the serde JSON of a `ControlMessage`): encoding it gives exactly `hex` and
//!   decoding `hex` gives it back; with `"decode_only": true`, only the decoding is checked
//!   (the hex is a non-canonical but valid form, e.g. with an unknown tag);
//! - `unknown_kind`: decoding reports a frame of that unknown type;
//! - `error` `{kind, message, field}`: decoding fails with that error.

use newmedia_proto::control::{ControlError, ControlMessage, Decoded};
use serde::Deserialize;

#[derive(Deserialize)]
struct ExpectedError {
    kind: String,
    message: String,
    field: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    name: String,
    hex: String,
    message: Option<ControlMessage>,
    #[serde(default)]
    decode_only: bool,
    unknown_kind: Option<u64>,
    error: Option<ExpectedError>,
}

fn error_parts(e: &ControlError) -> (&'static str, &'static str, &'static str) {
    match *e {
        ControlError::Missing { message, field } => ("missing", message, field),
        ControlError::Duplicate { message, field } => ("duplicate", message, field),
        ControlError::BadValue { message, field, .. } => ("bad_value", message, field),
        ControlError::Field { message, field, .. } => ("field", message, field),
        _ => ("other", "", ""),
    }
}

#[test]
fn control_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/vectors/control.json");
    let vectors: Vec<Vector> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut kinds_seen = std::collections::BTreeSet::new();
    for v in &vectors {
        let bytes = hex::decode(&v.hex).unwrap();
        let decoded = ControlMessage::from_bytes(&bytes);
        match (&v.message, v.unknown_kind, &v.error) {
            (Some(msg), None, None) => {
                if !v.decode_only {
                    assert_eq!(hex::encode(msg.to_vec().unwrap()), v.hex, "{}", v.name);
                    kinds_seen.insert(msg.kind());
                }
                assert_eq!(decoded, Ok(Decoded::Message(msg.clone())), "{}", v.name);
            }
            (None, Some(kind), None) => {
                assert_eq!(decoded, Ok(Decoded::Unknown { kind }), "{}", v.name);
            }
            (None, None, Some(want)) => {
                let err = decoded.expect_err(&v.name);
                assert_eq!(
                    error_parts(&err),
                    (
                        want.kind.as_str(),
                        want.message.as_str(),
                        want.field.as_str()
                    ),
                    "{}: {err}",
                    v.name
                );
            }
            _ => panic!(
                "{}: needs exactly one of message, unknown_kind, error",
                v.name
            ),
        }
    }
    // Every message type has at least one encode vector.
    assert_eq!(kinds_seen, (1..=11).collect());
}
