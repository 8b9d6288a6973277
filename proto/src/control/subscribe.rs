//! Subscribe, Unsubscribe and SubscribeResult: what a client asks the SFU to forward to it.

use super::codec::{Enc, Slot, bad, for_each_field, read};
use super::{Body, ControlError, kind, serde_ids};
use crate::ids::GlobalEncodingId;
use serde::{Deserialize, Serialize};

/// Limits on what the SFU may pick among a source's simulcast encodings. Every limit is
/// optional; an absent one does not constrain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Constraints {
    /// Largest acceptable width, in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_width: Option<u64>,
    /// Largest acceptable height, in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_height: Option<u64>,
    /// Largest acceptable bitrate, in bit/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bitrate: Option<u64>,
    /// Largest acceptable frame rate, in frames per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_frame_rate: Option<u64>,
}

/// What a subscription asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscribeTarget {
    /// Exactly this encoding.
    Encoding(#[serde(with = "serde_ids::geid")] GlobalEncodingId),
    /// One source of one endpoint; the SFU picks among the source's simulcast encodings the
    /// best one within `constraints` (and may switch later, reported by SubscribeResult).
    Source {
        /// The conference.
        conference_id: u64,
        /// The endpoint that publishes the source.
        endpoint_id: u64,
        /// The source within that endpoint.
        source_id: u64,
        /// Limits on the encoding chosen.
        #[serde(flatten)]
        constraints: Constraints,
    },
    /// The video of whoever is the `rank`-th loudest speaker of the conference (0 = the
    /// current top speaker); the SFU switches the encoding as speakers change.
    ActiveSpeakerVideo {
        /// The conference.
        conference_id: u64,
        /// Rank among the active speakers, 0 = the loudest.
        rank: u64,
        /// Limits on the encoding chosen.
        #[serde(flatten)]
        constraints: Constraints,
    },
}

/// Asks the SFU to forward media to the sender of this message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Subscribe {
    /// Chosen by the client, unique among its live subscriptions; names the subscription in
    /// Unsubscribe, SubscribeResult and Error.
    pub request_id: u64,
    /// What to forward.
    pub target: SubscribeTarget,
    /// When present, forward only messages whose layer ID is at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_layer: Option<u64>,
}

/// Ends the subscription made by the Subscribe with this request ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Unsubscribe {
    /// The request ID of the Subscribe.
    pub request_id: u64,
}

/// Tells the client which encoding a subscription currently delivers. Sent in answer to a
/// Subscribe and again each time the SFU switches encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SubscribeResult {
    /// The request ID of the Subscribe.
    pub request_id: u64,
    /// The encoding now forwarded; `None` when nothing currently matches (for example no
    /// speaker at that rank, or the source stopped publishing).
    #[serde(default, with = "serde_ids::opt_geid")]
    pub encoding: Option<GlobalEncodingId>,
}

// Subscribe body tags.
const REQUEST_ID: u64 = 1;
const ENCODING: u64 = 2;
const SOURCE: u64 = 3;
const ACTIVE_SPEAKER: u64 = 4;
const MAX_LAYER: u64 = 5;

// Tags inside the `source` and `active_speaker` nested values.
const T_CONFERENCE_ID: u64 = 1;
const T_ENDPOINT_ID: u64 = 2;
const T_RANK: u64 = 2;
const T_SOURCE_ID: u64 = 3;
const T_MAX_WIDTH: u64 = 8;
const T_MAX_HEIGHT: u64 = 9;
const T_MAX_BITRATE: u64 = 10;
const T_MAX_FRAME_RATE: u64 = 11;

fn encode_constraints(c: &Constraints, enc: &mut Enc<'_>) -> Result<(), ControlError> {
    enc.opt_uint(T_MAX_WIDTH, "target.max_width", c.max_width)?;
    enc.opt_uint(T_MAX_HEIGHT, "target.max_height", c.max_height)?;
    enc.opt_uint(T_MAX_BITRATE, "target.max_bitrate", c.max_bitrate)?;
    enc.opt_uint(T_MAX_FRAME_RATE, "target.max_frame_rate", c.max_frame_rate)
}

/// Decodes the value of a `source` (`with_source` true) or `active_speaker` target.
fn decode_target(value: &[u8], with_source: bool) -> Result<SubscribeTarget, ControlError> {
    const M: &str = Subscribe::NAME;
    let mut conference_id = Slot::<u64>::new(M, "target.conference_id");
    let mut second = Slot::<u64>::new(
        M,
        if with_source {
            "source.endpoint_id"
        } else {
            "active_speaker.rank"
        },
    );
    let mut source_id = Slot::<u64>::new(M, "source.source_id");
    let mut max_width = Slot::<u64>::new(M, "target.max_width");
    let mut max_height = Slot::<u64>::new(M, "target.max_height");
    let mut max_bitrate = Slot::<u64>::new(M, "target.max_bitrate");
    let mut max_frame_rate = Slot::<u64>::new(M, "target.max_frame_rate");
    for_each_field(M, value, |f| match f.tag {
        T_CONFERENCE_ID => conference_id.take(&f),
        // T_ENDPOINT_ID == T_RANK: the second field of either target.
        T_ENDPOINT_ID => second.take(&f),
        T_SOURCE_ID if with_source => source_id.take(&f),
        T_MAX_WIDTH => max_width.take(&f),
        T_MAX_HEIGHT => max_height.take(&f),
        T_MAX_BITRATE => max_bitrate.take(&f),
        T_MAX_FRAME_RATE => max_frame_rate.take(&f),
        _ => Ok(()),
    })?;
    let conference_id = conference_id.required()?;
    let second = second.required()?;
    let constraints = Constraints {
        max_width: max_width.optional(),
        max_height: max_height.optional(),
        max_bitrate: max_bitrate.optional(),
        max_frame_rate: max_frame_rate.optional(),
    };
    Ok(if with_source {
        SubscribeTarget::Source {
            conference_id,
            endpoint_id: second,
            source_id: source_id.required()?,
            constraints,
        }
    } else {
        SubscribeTarget::ActiveSpeakerVideo {
            conference_id,
            rank: second,
            constraints,
        }
    })
}

impl Body for Subscribe {
    const KIND: u64 = kind::SUBSCRIBE;
    const NAME: &'static str = "Subscribe";

    fn encode_body(&self, enc: &mut Enc<'_>) -> Result<(), ControlError> {
        enc.uint(REQUEST_ID, "request_id", self.request_id)?;
        match &self.target {
            SubscribeTarget::Encoding(id) => enc.geid(ENCODING, "encoding", *id)?,
            SubscribeTarget::Source {
                conference_id,
                endpoint_id,
                source_id,
                constraints,
            } => enc.nested(SOURCE, "source", |enc| {
                enc.uint(T_CONFERENCE_ID, "target.conference_id", *conference_id)?;
                enc.uint(T_ENDPOINT_ID, "source.endpoint_id", *endpoint_id)?;
                enc.uint(T_SOURCE_ID, "source.source_id", *source_id)?;
                encode_constraints(constraints, enc)
            })?,
            SubscribeTarget::ActiveSpeakerVideo {
                conference_id,
                rank,
                constraints,
            } => enc.nested(ACTIVE_SPEAKER, "active_speaker", |enc| {
                enc.uint(T_CONFERENCE_ID, "target.conference_id", *conference_id)?;
                enc.uint(T_RANK, "active_speaker.rank", *rank)?;
                encode_constraints(constraints, enc)
            })?,
        }
        enc.opt_uint(MAX_LAYER, "max_layer", self.max_layer)
    }

    fn decode_body(body: &[u8]) -> Result<Self, ControlError> {
        const M: &str = Subscribe::NAME;
        let mut request_id = Slot::<u64>::new(M, "request_id");
        let mut max_layer = Slot::<u64>::new(M, "max_layer");
        let mut target = None;
        for_each_field(M, body, |f| {
            let t = match f.tag {
                REQUEST_ID => return request_id.take(&f),
                MAX_LAYER => return max_layer.take(&f),
                ENCODING => SubscribeTarget::Encoding(read(M, "encoding", &f)?),
                SOURCE => decode_target(f.value, true)?,
                ACTIVE_SPEAKER => decode_target(f.value, false)?,
                _ => return Ok(()),
            };
            if target.replace(t).is_some() {
                return Err(bad(
                    M,
                    "target",
                    "exactly one of encoding, source, active_speaker must appear",
                ));
            }
            Ok(())
        })?;
        Ok(Self {
            request_id: request_id.required()?,
            target: target.ok_or(ControlError::Missing {
                message: M,
                field: "target (encoding, source or active_speaker)",
            })?,
            max_layer: max_layer.optional(),
        })
    }
}

impl Body for Unsubscribe {
    const KIND: u64 = kind::UNSUBSCRIBE;
    const NAME: &'static str = "Unsubscribe";

    fn encode_body(&self, enc: &mut Enc<'_>) -> Result<(), ControlError> {
        enc.uint(REQUEST_ID, "request_id", self.request_id)
    }

    fn decode_body(body: &[u8]) -> Result<Self, ControlError> {
        let mut request_id = Slot::<u64>::new(Self::NAME, "request_id");
        for_each_field(Self::NAME, body, |f| match f.tag {
            REQUEST_ID => request_id.take(&f),
            _ => Ok(()),
        })?;
        Ok(Self {
            request_id: request_id.required()?,
        })
    }
}

// SubscribeResult body tags.
const R_REQUEST_ID: u64 = 1;
const R_ENCODING: u64 = 2;

impl Body for SubscribeResult {
    const KIND: u64 = kind::SUBSCRIBE_RESULT;
    const NAME: &'static str = "SubscribeResult";

    fn encode_body(&self, enc: &mut Enc<'_>) -> Result<(), ControlError> {
        enc.uint(R_REQUEST_ID, "request_id", self.request_id)?;
        if let Some(id) = self.encoding {
            enc.geid(R_ENCODING, "encoding", id)?;
        }
        Ok(())
    }

    fn decode_body(body: &[u8]) -> Result<Self, ControlError> {
        let mut request_id = Slot::<u64>::new(Self::NAME, "request_id");
        let mut encoding = Slot::<GlobalEncodingId>::new(Self::NAME, "encoding");
        for_each_field(Self::NAME, body, |f| match f.tag {
            R_REQUEST_ID => request_id.take(&f),
            R_ENCODING => encoding.take(&f),
            _ => Ok(()),
        })?;
        Ok(Self {
            request_id: request_id.required()?,
            encoding: encoding.optional(),
        })
    }
}
