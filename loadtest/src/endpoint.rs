//! One simulated endpoint, built exactly as an app builds one on the SDK: a client token from
//! the controller (`POST /v1/tokens` with the API key), a [`Client`] with the party's
//! capabilities, and an [`Agent`] that advertises it over the controller's WebSocket and then
//! follows the controller (proposals, Snowflake checks, consent, connect).
//!
//! The only load-test choice is the subscription pipeline: [`Playout::Immediate`] hands each
//! frame over as soon as it is complete, so latency is the network's and the SFU's, not the
//! jitter buffer's. Loss recovery (retransmission requests) stays on, as in an app.

use crate::config::LoadtestConfig;
use crate::scenario::{PartyPlan, Video};
use newmedia_client::agent::{Agent, AgentConfig, AgentError, AgentEvent};
use newmedia_client::client::{Client, ClientConfig, ClientError};
use newmedia_client::control::{AudioCodec, Capabilities, MediaSink, MediaSource, VideoCodec};
use newmedia_client::session::{Playout, SubscriptionConfig};
use newmedia_client::signaling::{RestClient, SignalingClientError};
use std::net::SocketAddr;
use std::time::Duration;
use thiserror::Error;

/// Source and sink IDs of audio.
pub const AUDIO_ID: u64 = 1;
/// Source and sink IDs of video.
pub const VIDEO_ID: u64 = 2;
/// The audio codec advertised.
pub const AUDIO_CODEC: &str = "opus";
/// The video codec advertised.
pub const VIDEO_CODEC: &str = "h264";
/// Camera size advertised (the controller plans simulcast from 1280 wide).
pub const CAMERA: (u32, u32) = (1280, 720);

/// Why an endpoint could not be set up.
#[derive(Debug, Error)]
pub enum EndpointError {
    /// A REST call failed.
    #[error("{what}: {source}")]
    Rest {
        /// Which call.
        what: &'static str,
        /// Why.
        #[source]
        source: SignalingClientError,
    },
    /// The client could not start.
    #[error("client: {0}")]
    Client(#[from] ClientError),
    /// The agent failed.
    #[error("agent: {0}")]
    Agent(#[from] AgentError),
    /// The controller said something else than expected.
    #[error("{0}")]
    Unexpected(String),
    /// It did not happen in time.
    #[error("timed out: {0}")]
    Timeout(&'static str),
}

/// What `party` advertises: its sources and sinks.
pub fn capabilities(party: &PartyPlan, config: &LoadtestConfig) -> Capabilities {
    let mut caps = Capabilities::new();
    let (w, h) = CAMERA;
    if party.audio.is_some() {
        caps = caps.source(MediaSource::audio(
            AUDIO_ID,
            [AudioCodec::new(AUDIO_CODEC).max_bitrate(config.audio_bitrate.max(64_000))],
        ));
    }
    match party.video {
        Some(Video::Camera) => {
            caps = caps.source(MediaSource::video(
                VIDEO_ID,
                [VideoCodec::new(VIDEO_CODEC)
                    .max_size(w, h)
                    .max_frame_rate(config.video_fps)
                    .max_bitrate(config.video_bitrate)],
            ));
        }
        Some(Video::Fixed { fps, bytes }) => {
            let bitrate = u64::from(fps) * bytes as u64 * 8;
            caps = caps.source(MediaSource::video(
                VIDEO_ID,
                [VideoCodec::new(VIDEO_CODEC)
                    .max_size(640, 360)
                    .max_frame_rate(fps)
                    .max_bitrate(bitrate)],
            ));
        }
        None => {}
    }
    if party.receives_audio {
        caps = caps.sink(MediaSink::audio(AUDIO_ID, [AudioCodec::new(AUDIO_CODEC)]));
    }
    if party.receives_video {
        caps = caps.sink(MediaSink::video(
            VIDEO_ID,
            [VideoCodec::new(VIDEO_CODEC).max_size(w, h)],
        ));
    }
    caps
}

/// Registers `party` with the controller: token, client, agent, welcome.
pub async fn register(
    controller_url: &str,
    rest: &RestClient,
    party: &PartyPlan,
    config: &LoadtestConfig,
    within: Duration,
) -> Result<Agent, EndpointError> {
    let token = rest
        .token(&party.name, None)
        .await
        .map_err(|source| EndpointError::Rest {
            what: "POST /v1/tokens",
            source,
        })?
        .token;
    let subscription = SubscriptionConfig {
        playout: Playout::Immediate,
        ..SubscriptionConfig::default()
    };
    let client = Client::start(
        ClientConfig::default()
            .capabilities(capabilities(party, config))
            .bind(SocketAddr::new(config.bind_ip, 0))
            .subscription(subscription),
    )?;
    let mut agent = Agent::start(
        client,
        AgentConfig {
            controller: controller_url.to_owned(),
            token,
            client_id: Some(party.name.clone()),
            ..AgentConfig::default()
        },
    )
    .await?;
    let welcome = tokio::time::timeout(within, async {
        loop {
            match agent.next_event().await {
                Some(AgentEvent::Welcome { .. }) => return Ok(()),
                Some(AgentEvent::Error(e)) => return Err(EndpointError::Unexpected(e)),
                Some(_) => continue,
                None => return Err(EndpointError::Agent(AgentError::Stopped)),
            }
        }
    })
    .await
    .map_err(|_| EndpointError::Timeout("the controller's welcome"))?;
    welcome.map(|()| agent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Talk;

    fn party(audio: bool, video: Option<Video>, rx_audio: bool, rx_video: bool) -> PartyPlan {
        PartyPlan {
            name: "x".into(),
            audio: audio.then_some(Talk::Random),
            video,
            receives_audio: rx_audio,
            receives_video: rx_video,
            seed: 0,
        }
    }

    #[test]
    fn capabilities_follow_the_plan() {
        let config = LoadtestConfig::default();
        let c = capabilities(&party(true, Some(Video::Camera), true, true), &config);
        assert_eq!((c.sources.len(), c.sinks.len()), (2, 2));
        let ad = c.advertisement(&[]).unwrap();
        let json = serde_json::to_string(&ad).unwrap();
        assert!(json.contains("\"maxWidth\":1280"), "{json}");
        let viewer = capabilities(&party(false, None, false, true), &config);
        assert_eq!((viewer.sources.len(), viewer.sinks.len()), (0, 1));
        let fixed = capabilities(
            &party(
                false,
                Some(Video::Fixed {
                    fps: 30,
                    bytes: 4000,
                }),
                false,
                false,
            ),
            &config,
        );
        let json = serde_json::to_string(&fixed.advertisement(&[]).unwrap()).unwrap();
        assert!(json.contains("\"maxBitrate\":960000"), "{json}");
    }
}
