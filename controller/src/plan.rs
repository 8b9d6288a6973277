//! The media plan of a conference: from the parties' advertisements to one draft §8.1.2
//! proposal per party, and the publications the SFU node admits each endpoint with. Pure.
//!
//! - Every advertised source of type audio, video or data becomes send streams; sources of
//!   other types are left out. Its codec is the first of its codecs (other than
//!   `flex-fec-rs`) that the most other parties have a sink of the same type for, the
//!   source's own order breaking ties.
//! - Audio: one encoding (ID 1), `maxBitrate` min(advertised, 64 000), `packetTime` 20.
//! - Video: with simulcast asked for and `maxWidth` ≥ 1280, two encodings: ID 1 at the
//!   source's size capped to 1920 wide, ID 2 at a quarter of each dimension (15 fps,
//!   300 kbit/s); else one encoding (ID 1). Sizes keep the advertised aspect ratio, are even,
//!   and frame rates are capped at 30.
//! - Data: one encoding (ID 1).
//! - Every other party gets receive streams for them, each played into its first sink of the
//!   same type that has the codec; a party without such a sink does not receive that source.
//!   A receive stream names the publisher's conferenceID, endpointID and sourceID, and its
//!   encodingID only when the source has a single encoding (for simulcast the SFU picks).
//! - Secrets: by value, each publishing endpoint's own random secret on its send streams and
//!   on the receive streams of its sources; by reference, `secretRef`
//!   `"newmedia:<conferenceID>:<endpointID>"` of the publishing endpoint.
//! - `sendTo`: the node's candidates with its `tlsFingerprintSHA256`; `receiveAt`: the
//!   party's own advertised candidates.
//! - FEC streams are not planned.

use crate::model::{ClientRecord, ConferenceRecord, PartyRecord};
use newmedia_proto::grant::{MediaKind, Publication};
use newmedia_proto::signaling::rest::{KeyMode, NodeRegistration};
use newmedia_proto::signaling::{
    Advertisement, Candidate, Codec, FEC_CODEC, MediaType, Proposal, Source, Stream,
};
use std::collections::HashMap;

/// The planned proposal and publications of one party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyPlan {
    /// Client ID.
    pub client_id: String,
    /// Endpoint ID.
    pub endpoint_id: u64,
    /// Its proposal.
    pub proposal: Proposal,
    /// What the node admits it to publish.
    pub publications: Vec<Publication>,
}

/// The sources of one party as planned.
struct PlannedSource<'a> {
    party: &'a PartyRecord,
    source: &'a Source,
    codec: &'a Codec,
    encodings: Vec<Stream>,
}

/// The secretRef of an endpoint's streams in key mode `reference`.
pub fn secret_ref(conference_id: u64, endpoint_id: u64) -> String {
    format!("newmedia:{conference_id}:{endpoint_id}")
}

/// Plans every party of `conference` on `node`. Parties without a record in `clients` get
/// no streams (they cannot have advertised).
pub fn plan(
    conference: &ConferenceRecord,
    clients: &HashMap<String, ClientRecord>,
    node: &NodeRegistration,
) -> Vec<PartyPlan> {
    let ads: HashMap<&str, &Advertisement> = clients
        .iter()
        .map(|(id, c)| (id.as_str(), &c.advertisement))
        .collect();
    let mut sources: Vec<PlannedSource<'_>> = Vec::new();
    for party in &conference.parties {
        let Some(ad) = ads.get(party.client_id.as_str()) else {
            continue;
        };
        for source in ad.sources() {
            if matches!(source.source_type, MediaType::Other(_)) {
                continue;
            }
            let Some(codec) = choose_codec(conference, party, source, &ads) else {
                continue;
            };
            let encodings = encodings(conference, party, source, codec);
            sources.push(PlannedSource {
                party,
                source,
                codec,
                encodings,
            });
        }
    }
    let send_to: Vec<Candidate> = node
        .candidates
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c.tls_fingerprint_sha256 = Some(node.tls_fingerprint_sha256.to_ascii_lowercase());
            c
        })
        .collect();

    conference
        .parties
        .iter()
        .map(|party| {
            let ad = ads.get(party.client_id.as_str());
            let mut send = Vec::new();
            let mut publications = Vec::new();
            let mut receive = Vec::new();
            for s in &sources {
                if s.party.endpoint_id == party.endpoint_id {
                    for e in &s.encodings {
                        publications.push(publication(s.source, e));
                        send.push(e.clone());
                    }
                } else if let Some(ad) = ad
                    && let Some(r) = receive_stream(s, ad)
                {
                    receive.push(r);
                }
            }
            let receive_at: Vec<Candidate> = ad
                .map(|a| {
                    a.receive_at()
                        .iter()
                        .map(|c| {
                            let mut c = c.clone();
                            c.tls_fingerprint_sha256 = None;
                            c
                        })
                        .collect()
                })
                .unwrap_or_default();
            PartyPlan {
                client_id: party.client_id.clone(),
                endpoint_id: party.endpoint_id,
                proposal: Proposal {
                    receive_at: (!receive_at.is_empty()).then_some(receive_at),
                    send_to: Some(send_to.clone()),
                    send_streams: (!send.is_empty()).then_some(send),
                    receive_streams: (!receive.is_empty()).then_some(receive),
                },
                publications,
            }
        })
        .collect()
}

fn choose_codec<'a>(
    conference: &ConferenceRecord,
    publisher: &PartyRecord,
    source: &'a Source,
    ads: &HashMap<&str, &Advertisement>,
) -> Option<&'a Codec> {
    let listeners = |codec: &Codec| {
        conference
            .parties
            .iter()
            .filter(|p| p.endpoint_id != publisher.endpoint_id)
            .filter_map(|p| ads.get(p.client_id.as_str()))
            .filter(|ad| sink_for(ad, &source.source_type, &codec.codec_name).is_some())
            .count()
    };
    let mut best: Option<(&Codec, usize)> = None;
    for codec in source.codecs.iter().filter(|c| c.codec_name != FEC_CODEC) {
        let n = listeners(codec);
        if best.is_none_or(|(_, m)| n > m) {
            best = Some((codec, n));
        }
    }
    best.map(|(c, _)| c)
}

fn sink_for<'a>(
    ad: &'a Advertisement,
    kind: &MediaType,
    codec: &str,
) -> Option<&'a newmedia_proto::signaling::Sink> {
    ad.sinks()
        .iter()
        .find(|s| &s.source_type == kind && s.codecs.iter().any(|c| c.codec_name == codec))
}

fn even(x: u64) -> u32 {
    u32::try_from(x & !1).unwrap_or(u32::MAX - 1).max(2)
}

fn encodings(
    conference: &ConferenceRecord,
    party: &PartyRecord,
    source: &Source,
    codec: &Codec,
) -> Vec<Stream> {
    let base = Stream {
        conference_id: Some(conference.conference_id),
        endpoint_id: Some(party.endpoint_id),
        source_id: Some(source.source_id),
        codec_name: Some(codec.codec_name.clone()),
        aead: Some(conference.aead),
        ..Stream::default()
    };
    let base = with_secret(base, conference, party);
    match source.source_type {
        MediaType::Audio => vec![Stream {
            encoding_id: Some(1),
            max_bitrate: Some(codec.max_bitrate.unwrap_or(64_000).min(64_000)),
            packet_time: Some(20),
            ..base
        }],
        MediaType::Video => {
            let max_w = u64::from(codec.max_width.unwrap_or(1280));
            let max_h = codec.max_height.map_or(max_w * 9 / 16, u64::from);
            let w = max_w.min(1920);
            let h = max_h * w / max_w.max(1);
            let mut fps = codec.max_frame_rate.unwrap_or(30).min(30);
            if let Some(rate) = codec.max_pixel_rate {
                let pixels = u64::from(even(w)) * u64::from(even(h));
                let fits = u32::try_from(rate / pixels.max(1)).unwrap_or(u32::MAX);
                fps = fps.min(fits).max(1);
            }
            let high_rate = codec.max_bitrate.unwrap_or(2_500_000).min(2_500_000);
            let high = Stream {
                encoding_id: Some(1),
                width: Some(even(w)),
                height: Some(even(h)),
                frame_rate: Some(fps),
                max_bitrate: Some(high_rate),
                ..base.clone()
            };
            if conference.simulcast && codec.max_width.is_some_and(|mw| mw >= 1280) {
                let low = Stream {
                    encoding_id: Some(2),
                    width: Some(even(w / 4)),
                    height: Some(even(h / 4)),
                    frame_rate: Some(fps.min(15)),
                    max_bitrate: Some(high_rate.min(300_000)),
                    ..base
                };
                vec![high, low]
            } else {
                vec![high]
            }
        }
        _ => vec![Stream {
            encoding_id: Some(1),
            ..base
        }],
    }
}

fn with_secret(mut s: Stream, conference: &ConferenceRecord, publisher: &PartyRecord) -> Stream {
    if conference.aead == newmedia_proto::crypto::Algorithm::Null {
        return s;
    }
    match conference.keys {
        KeyMode::Value => s.secret = publisher.secret.clone(),
        KeyMode::Reference => {
            s.secret_ref = Some(secret_ref(conference.conference_id, publisher.endpoint_id))
        }
    }
    s
}

fn receive_stream(s: &PlannedSource<'_>, receiver: &Advertisement) -> Option<Stream> {
    let sink = sink_for(receiver, &s.source.source_type, &s.codec.codec_name)?;
    let first = s.encodings.first()?;
    Some(Stream {
        conference_id: first.conference_id,
        endpoint_id: first.endpoint_id,
        source_id: first.source_id,
        sink_id: Some(sink.sink_id),
        encoding_id: if s.encodings.len() == 1 {
            first.encoding_id
        } else {
            None
        },
        codec_name: first.codec_name.clone(),
        aead: first.aead,
        secret: first.secret.clone(),
        secret_ref: first.secret_ref.clone(),
        ..Stream::default()
    })
}

fn publication(source: &Source, s: &Stream) -> Publication {
    let kind = match source.source_type {
        MediaType::Audio => MediaKind::Audio,
        MediaType::Video => MediaKind::Video,
        _ => MediaKind::Data,
    };
    Publication {
        source_id: source.source_id,
        encoding_id: s.encoding_id.unwrap_or(1),
        kind,
        width: s.width,
        height: s.height,
        max_bitrate: s.max_bitrate,
        frame_rate: s.frame_rate,
    }
}
