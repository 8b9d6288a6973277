//! The advertisement (draft §7, §8): what an endpoint can send and receive, and where it can be
//! reached.
//!
//! Forward compatibility: every advertisement type ignores keys it does not know (they are
//! dropped on re-serialization), and [`MediaType`] keeps source types it does not know, so an
//! older server can still read a newer client's advertisement.

use super::{Candidate, SignalingError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// An endpoint's advertisement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advertisement {
    /// `"receiveAt"`: candidates where the endpoint can receive.
    #[serde(rename = "receiveAt", default, skip_serializing_if = "Option::is_none")]
    pub receive_at: Option<Vec<Candidate>>,
    /// `"sources"`: what it can send.
    #[serde(rename = "sources", default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<Source>>,
    /// `"sinks"`: what it can receive.
    #[serde(rename = "sinks", default, skip_serializing_if = "Option::is_none")]
    pub sinks: Option<Vec<Sink>>,
}

impl Advertisement {
    /// Parses and [validates](Advertisement::validate) an advertisement.
    pub fn from_json(text: &str) -> Result<Self, SignalingError> {
        let ad: Self = super::validate::parse(text, super::validate::Doc::Advertisement)?;
        ad.validate()?;
        Ok(ad)
    }

    /// Serializes to compact JSON. Absent optional keys stay absent.
    pub fn to_json(&self) -> Result<String, SignalingError> {
        Ok(serde_json::to_string(self)?)
    }

    /// Checks the rules that the types alone cannot; see the module documentation of
    /// [`super`] for the list.
    pub fn validate(&self) -> Result<(), SignalingError> {
        super::validate::advertisement(self)
    }

    /// The candidates, or an empty slice when `receiveAt` is absent.
    pub fn receive_at(&self) -> &[Candidate] {
        self.receive_at.as_deref().unwrap_or_default()
    }

    /// The sources, or an empty slice when `sources` is absent.
    pub fn sources(&self) -> &[Source] {
        self.sources.as_deref().unwrap_or_default()
    }

    /// The sinks, or an empty slice when `sinks` is absent.
    pub fn sinks(&self) -> &[Sink] {
        self.sinks.as_deref().unwrap_or_default()
    }
}

/// One thing the endpoint can send: a camera, a microphone, a data source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// `"sourceID"` (required): unique among the endpoint's sources, at most 2^62-1.
    #[serde(rename = "sourceID")]
    pub source_id: u64,
    /// `"sourceType"` (required).
    #[serde(rename = "sourceType")]
    pub source_type: MediaType,
    /// `"codecs"` (required): the codecs it can send, with their limits.
    #[serde(rename = "codecs")]
    pub codecs: Vec<Codec>,
}

/// One thing the endpoint can receive into: a speaker, a screen, a data sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sink {
    /// `"sinkID"` (required): unique among the endpoint's sinks, at most 2^62-1.
    #[serde(rename = "sinkID")]
    pub sink_id: u64,
    /// `"sourceType"` (required; the draft uses this key for sinks too).
    #[serde(rename = "sourceType")]
    pub source_type: MediaType,
    /// `"codecs"` (required): the codecs it can receive, with their limits.
    #[serde(rename = "codecs")]
    pub codecs: Vec<Codec>,
}

/// The kind of media of a source or sink: the JSON string `"audio"`, `"video"` or `"data"`
/// (§5.3 data codecs). Any other string is kept as [`MediaType::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// `"audio"`.
    Audio,
    /// `"video"`.
    Video,
    /// `"data"`.
    Data,
    /// A type this implementation does not know, kept as written.
    Other(String),
}

impl MediaType {
    /// The JSON string.
    pub fn as_str(&self) -> &str {
        match self {
            MediaType::Audio => "audio",
            MediaType::Video => "video",
            MediaType::Data => "data",
            MediaType::Other(s) => s,
        }
    }
}

impl From<&str> for MediaType {
    fn from(s: &str) -> Self {
        match s {
            "audio" => MediaType::Audio,
            "video" => MediaType::Video,
            "data" => MediaType::Data,
            other => MediaType::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for MediaType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MediaType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(MediaType::from(&*s))
    }
}

/// A codec a source can send or a sink can receive, with optional limits (draft §6.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Codec {
    /// `"codecName"` (required): e.g. `"opus"`, `"g711"`, `"av1"`, `"h264"`, `"flex-fec-rs"`.
    #[serde(rename = "codecName")]
    pub codec_name: String,
    /// `"maxBitrate"`: bits per second.
    #[serde(
        rename = "maxBitrate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_bitrate: Option<u64>,
    /// `"maxWidth"`: pixels.
    #[serde(rename = "maxWidth", default, skip_serializing_if = "Option::is_none")]
    pub max_width: Option<u32>,
    /// `"maxHeight"`: pixels.
    #[serde(rename = "maxHeight", default, skip_serializing_if = "Option::is_none")]
    pub max_height: Option<u32>,
    /// `"maxFrameRate"`: frames per second.
    #[serde(
        rename = "maxFrameRate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_frame_rate: Option<u32>,
    /// `"maxPixelRate"`: pixels per second.
    #[serde(
        rename = "maxPixelRate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_pixel_rate: Option<u64>,
    /// `"maxPixelDepth"`: bits per colour component.
    #[serde(
        rename = "maxPixelDepth",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_pixel_depth: Option<u32>,
    /// `"maxSampleRate"` (§6.2, not in the draft's examples): samples per second.
    #[serde(
        rename = "maxSampleRate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_sample_rate: Option<u32>,
    /// `"maxSampleSize"` (§6.2, not in the draft's examples): bits per sample.
    #[serde(
        rename = "maxSampleSize",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_sample_size: Option<u32>,
    /// `"maxChannels"` (§6.4, not in the draft's examples): audio channels.
    #[serde(
        rename = "maxChannels",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_channels: Option<u32>,
}

impl Codec {
    /// A codec with a name and no limits.
    pub fn new(codec_name: impl Into<String>) -> Self {
        Self {
            codec_name: codec_name.into(),
            max_bitrate: None,
            max_width: None,
            max_height: None,
            max_frame_rate: None,
            max_pixel_rate: None,
            max_pixel_depth: None,
            max_sample_rate: None,
            max_sample_size: None,
            max_channels: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_keeps_unknown() {
        for s in ["audio", "video", "data", "haptic"] {
            let t: MediaType = serde_json::from_str(&format!("\"{s}\"")).unwrap();
            assert_eq!(t.as_str(), s);
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{s}\""));
        }
        assert_eq!(MediaType::from("data"), MediaType::Data);
    }

    #[test]
    fn unknown_keys_ignored() {
        let ad = Advertisement::from_json(
            r#"{"future":1,"sources":[{"sourceID":1,"sourceType":"audio","x":[],
                "codecs":[{"codecName":"opus","reliable":true}]}],
                "receiveAt":[{"local":"10.0.0.1:9","stunSecret":"s","new":"y"}]}"#,
        )
        .unwrap();
        assert_eq!(ad.sources()[0].codecs[0], Codec::new("opus"));
        assert_eq!(
            ad.to_json().unwrap(),
            r#"{"receiveAt":[{"local":"10.0.0.1:9","stunSecret":"s"}],"sources":[{"sourceID":1,"sourceType":"audio","codecs":[{"codecName":"opus"}]}]}"#
        );
        assert!(ad.sinks().is_empty());
    }
}
