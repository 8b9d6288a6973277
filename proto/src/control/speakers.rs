//! ActiveSpeakers: the SFU's current ranking of a conference's speakers.

use super::codec::{Enc, Slot, bad, for_each_field};
use super::{Body, ControlError, kind};
use serde::{Deserialize, Serialize};

/// The largest smoothed level: the draft's active level runs from 0 to 100.
pub const MAX_LEVEL: u8 = 100;

/// One speaker in an [`ActiveSpeakers`] list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Speaker {
    /// The speaking endpoint.
    pub endpoint_id: u64,
    /// Its smoothed active level, 0..=100, when the SFU shares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u8>,
}

/// The active speakers of a conference, loudest first, as the SFU ranks them from the
/// messages' active level (draft §9). Rank `i` in `speakers` is the endpoint an
/// `ActiveSpeakerVideo { rank: i }` subscription follows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ActiveSpeakers {
    /// The conference.
    pub conference_id: u64,
    /// The speakers, loudest first; empty when nobody speaks.
    #[serde(default)]
    pub speakers: Vec<Speaker>,
}

// ActiveSpeakers body tags.
const CONFERENCE_ID: u64 = 1;
const SPEAKER: u64 = 2;
// Tags inside a `speaker` value.
const S_ENDPOINT_ID: u64 = 1;
const S_LEVEL: u64 = 2;

const LEVEL_RANGE: &str = "must be 0..=100";

fn decode_speaker(value: &[u8]) -> Result<Speaker, ControlError> {
    const M: &str = ActiveSpeakers::NAME;
    let mut endpoint_id = Slot::<u64>::new(M, "speaker.endpoint_id");
    let mut level = Slot::<u64>::new(M, "speaker.level");
    for_each_field(M, value, |f| match f.tag {
        S_ENDPOINT_ID => endpoint_id.take(&f),
        S_LEVEL => level.take(&f),
        _ => Ok(()),
    })?;
    let level = match level.optional() {
        None => None,
        Some(l) => Some(u8::try_from(l).ok().filter(|l| *l <= MAX_LEVEL).ok_or(bad(
            M,
            "speaker.level",
            LEVEL_RANGE,
        ))?),
    };
    Ok(Speaker {
        endpoint_id: endpoint_id.required()?,
        level,
    })
}

impl Body for ActiveSpeakers {
    const KIND: u64 = kind::ACTIVE_SPEAKERS;
    const NAME: &'static str = "ActiveSpeakers";

    fn encode_body(&self, enc: &mut Enc<'_>) -> Result<(), ControlError> {
        enc.uint(CONFERENCE_ID, "conference_id", self.conference_id)?;
        for s in &self.speakers {
            if s.level.is_some_and(|l| l > MAX_LEVEL) {
                return Err(bad(Self::NAME, "speaker.level", LEVEL_RANGE));
            }
            enc.nested(SPEAKER, "speaker", |enc| {
                enc.uint(S_ENDPOINT_ID, "speaker.endpoint_id", s.endpoint_id)?;
                enc.opt_uint(S_LEVEL, "speaker.level", s.level.map(u64::from))
            })?;
        }
        Ok(())
    }

    fn decode_body(body: &[u8]) -> Result<Self, ControlError> {
        let mut conference_id = Slot::<u64>::new(Self::NAME, "conference_id");
        let mut speakers = Vec::new();
        for_each_field(Self::NAME, body, |f| {
            match f.tag {
                CONFERENCE_ID => conference_id.take(&f)?,
                SPEAKER => speakers.push(decode_speaker(f.value)?),
                _ => {}
            }
            Ok(())
        })?;
        Ok(Self {
            conference_id: conference_id.required()?,
            speakers,
        })
    }
}
