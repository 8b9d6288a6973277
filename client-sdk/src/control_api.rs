//! # The control API of draft §6, item by item
//!
//! Where each item of the draft's §6 lists lives in this crate, with one runnable example per
//! area (those that need the network start an SFU node in-process on loopback), and how a
//! proposal is accepted or rejected whole (the last section).
//!
//! ## §6.1 Transport capabilities
//!
//! | draft | API |
//! | --- | --- |
//! | set the IP, port and credential for each TURN2 server | [`ClientConfig::turn_servers`](crate::client::ClientConfig::turn_servers), [`Client::allocate_relay`](crate::client::Client::allocate_relay) (our certificate is the credential) |
//! | return the IP, port tuple for the remote side to send to TURN2 | [`RelayAllocation::allocation`](crate::client::RelayAllocation::allocation)`.inbound` |
//! | gather local IP, port, protocol tuples | [`Client::transport_capabilities`](crate::client::Client::transport_capabilities) (`local_addresses`, `bound`), [`transport::gather`](crate::transport::gather) |
//! | STUN2 reflexive address | [`Client::reflexive_address`](crate::client::Client::reflexive_address) |
//! | SHA-256 fingerprint of the local certificate | [`Client::fingerprint`](crate::client::Client::fingerprint) |
//! | encryption algorithms supported | [`TransportCapabilities::aeads`](crate::client::TransportCapabilities::aeads), [`tls::FlowCipher`](crate::tls::FlowCipher) |
//! | an error for a bad TURN2 credential | [`RelayError::is_bad_credential`](crate::relay::RelayError::is_bad_credential) |
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use newmedia_client::client::{Client, ClientConfig, GatheringState, TurnServer};
//! use newmedia_client::identity::Fingerprint;
//! use newmedia_client::relay::RelayConfig;
//! use newmedia_proto::crypto::Algorithm;
//! # let sfu = newmedia_sfu::app::start(newmedia_sfu::ops::config::SfuConfig {
//! #     listen: "127.0.0.1:0".parse()?, http_listen: "127.0.0.1:0".parse()?,
//! #     public_stun: true, turn2_listen: Some("127.0.0.1:0".parse()?),
//! #     ..Default::default() }).await?;
//!
//! let client = Client::start(ClientConfig::default())?;
//! let caps = client.transport_capabilities()?;
//! assert!(caps.local_addresses.iter().any(|a| a.loopback));
//! assert!(caps.aeads.contains(&Algorithm::Aes128Gcm));
//! assert_eq!(caps.fingerprint, client.fingerprint());
//!
//! // Our address as a public STUN2 server (the SFU node) sees it: no NAT on loopback.
//! let gathering = client.gathering_state();
//! assert_eq!(*gathering.borrow(), GatheringState::New);
//! let reflexive = client.reflexive_address(sfu.media_addr, b"").await?;
//! assert_eq!(reflexive.observed, caps.bound);
//! assert_eq!(*gathering.borrow(), GatheringState::Complete); // draft §6.5
//!
//! // A TURN2 server that was not told our fingerprint refuses us: a bad credential.
//! let relay = TurnServer {
//!     service: sfu.turn2_addr.expect("relay on"),
//!     fingerprint: Fingerprint(sfu.fingerprint),
//! };
//! let refused = client.allocate_relay(&relay, &RelayConfig::default()).await.unwrap_err();
//! assert!(refused.is_bad_credential(), "{refused}");
//! # Ok(()) }
//! ```
//!
//! ## §6.2 Media capabilities
//!
//! | draft | API |
//! | --- | --- |
//! | send and receive codecs are separate | a [`MediaSource`](crate::control::MediaSource) per thing we send, a [`MediaSink`](crate::control::MediaSink) per thing we receive, each with its own codecs and limits, in [`Capabilities`](crate::control::Capabilities) ([`ClientConfig::capabilities`](crate::client::ClientConfig::capabilities), read back with [`Client::capabilities`](crate::client::Client::capabilities)) |
//! | audio codec: name, max sample rate, max sample size, max bitrate | [`AudioCodec`](crate::control::AudioCodec) `name`, `max_sample_rate`, `max_sample_size`, `max_bitrate` (and `max_channels`) |
//! | video codec: name, max width, height, frame rate, pixel depth, bitrate, pixel rate | [`VideoCodec`](crate::control::VideoCodec) `name`, `max_width`, `max_height`, `max_frame_rate`, `max_pixel_depth`, `max_bitrate`, `max_pixel_rate` |
//!
//! The advertisement is made from the same values
//! ([`Capabilities::advertisement`](crate::control::Capabilities::advertisement)) and a
//! proposal is checked against them, so what is advertised and what is accepted cannot drift
//! apart; the [`control`](crate::control) module has a second example.
//!
//! ```
//! use newmedia_client::control::{
//!     AudioCodec, Capabilities, CodecCapability, MediaSink, MediaSource, VideoCodec,
//! };
//!
//! let opus = AudioCodec::new("opus")
//!     .max_sample_rate(48_000)
//!     .max_sample_size(16)
//!     .max_bitrate(64_000);
//! // Sending and receiving differ: the camera sends up to 720p30, the screen shows 1080p60.
//! let camera = VideoCodec::new("av1")
//!     .max_size(1280, 720)
//!     .max_frame_rate(30)
//!     .max_pixel_depth(8)
//!     .max_bitrate(1_500_000)
//!     .max_pixel_rate(1280 * 720 * 30);
//! let screen = VideoCodec::new("av1").max_size(1920, 1080).max_frame_rate(60).max_pixel_depth(10);
//! let caps = Capabilities::new()
//!     .source(MediaSource::audio(1, [opus.clone()]))
//!     .source(MediaSource::video(2, [camera]))
//!     .sink(MediaSink::audio(1, [opus]))
//!     .sink(MediaSink::video(2, [screen]));
//!
//! // Learning them, per source or sink and per codec.
//! let Some(CodecCapability::Audio(mic)) = caps.find_source(1).and_then(|s| s.codec("opus")) else {
//!     panic!("the microphone sends opus");
//! };
//! assert_eq!(mic.name, "opus");
//! assert_eq!((mic.max_sample_rate, mic.max_sample_size, mic.max_bitrate), (Some(48_000), Some(16), Some(64_000)));
//! let Some(CodecCapability::Video(send)) = caps.find_source(2).and_then(|s| s.codec("av1")) else {
//!     panic!("the camera sends av1");
//! };
//! assert_eq!((send.max_width, send.max_height, send.max_frame_rate), (Some(1280), Some(720), Some(30)));
//! assert_eq!((send.max_pixel_depth, send.max_bitrate, send.max_pixel_rate), (Some(8), Some(1_500_000), Some(27_648_000)));
//! let Some(CodecCapability::Video(receive)) = caps.find_sink(2).and_then(|s| s.codec("av1")) else {
//!     panic!("the screen shows av1");
//! };
//! assert_eq!((receive.max_width, receive.max_height, receive.max_frame_rate), (Some(1920), Some(1080), Some(60)));
//!
//! // The advertisement (draft §8.1.1) carries the same values.
//! let ad = caps.advertisement(&[])?;
//! assert_eq!(ad.sources()[1].codecs[0].max_pixel_rate, Some(27_648_000));
//! assert_eq!(ad.sinks()[1].codecs[0].max_frame_rate, Some(60));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## §6.3 Transport configuration
//!
//! | draft | API |
//! | --- | --- |
//! | turn server to use | [`Client::allocate_relay`](crate::client::Client::allocate_relay) |
//! | list of IP, port, protocol tuples to try | a proposal's `sendTo`, tried in order by [`Client::join`](crate::client::Client::join); [`ClientEndpoint::connect`](crate::transport::ClientEndpoint::connect) for one |
//! | encryption algorithm | the flow's TLS 1.3 cipher suite: [`FlowOptions::cipher`](crate::transport::FlowOptions::cipher), for a flow opened with [`ClientEndpoint::connect`](crate::transport::ClientEndpoint::connect) and joined with [`Client::join_on`](crate::client::Client::join_on) ([`Client::join`](crate::client::Client::join) opens its flow with the default options); each stream's end-to-end AEAD is the proposal's `AEAD`, within [`Capabilities::aeads`](crate::control::Capabilities::aeads) |
//! | TLS fingerprint of far side | the `pin` of [`ClientEndpoint::connect`](crate::transport::ClientEndpoint::connect) (the proposal's `tlsFingerprintSHA256`) |
//! | total max bandwidth for flow | [`FlowOptions::max_bandwidth`](crate::transport::FlowOptions::max_bandwidth) when opening; on a live flow [`Flow::set_max_bandwidth`](crate::transport::Flow::set_max_bandwidth) or [`Call::set_max_bandwidth`](crate::client::Call::set_max_bandwidth) (the flow's pacer holds the publishers' datagrams to it; reliable data streams are left to QUIC) |
//! | forward error correction scheme and time window | `flex-fec-rs` streams of a proposal (draft §8.4, `fecRepairWindow`, `fecRepairEncodingIDs`): [`Client::join`](crate::client::Client::join) makes each FEC send stream a [`FecSender`](crate::session::FecSender) for the encodings it repairs and restores lost messages of a protected subscription from its FEC receive stream; the code is [`media::fec`](crate::media::fec) (window, overhead). Without a proposal: [`FecSender::start`](crate::session::FecSender::start) with the window, handed to each protected publisher with [`Publisher::set_fec`](crate::session::Publisher::set_fec) |
//! | retransmission scheme for flow | [`SubscriptionConfig::recovery`](crate::session::SubscriptionConfig::recovery) (`None`: no requests), for every subscription of a client's calls through [`ClientConfig::subscription`](crate::client::ClientConfig::subscription); fixed when a subscription starts |
//! | additional pairs that may improve connectivity | a new advertisement: [`Agent::rebind`](crate::agent::Agent::rebind) re-advertises, the controller checks the new pairs |
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use newmedia_client::identity::{Fingerprint, Identity};
//! use newmedia_client::tls::FlowCipher;
//! use newmedia_client::transport::{ClientEndpoint, EndpointConfig, FlowOptions};
//! use newmedia_proto::control::{Capabilities, Hello};
//! # let sfu = newmedia_sfu::app::start(newmedia_sfu::ops::config::SfuConfig {
//! #     listen: "127.0.0.1:0".parse()?, http_listen: "127.0.0.1:0".parse()?,
//! #     ..Default::default() }).await?;
//! let identity = Identity::self_signed()?;
//! # sfu.registry.create_conference(1)?;
//! # sfu.registry.admit_endpoint(1, newmedia_sfu::admission::registry::EndpointAdmission {
//! #     endpoint_id: 5, fingerprint: identity.fingerprint().0, publications: vec![] })?;
//! let (endpoint, _checks) =
//!     ClientEndpoint::bind("127.0.0.1:0".parse()?, identity, EndpointConfig::default())?;
//! let options = FlowOptions {
//!     max_bandwidth: Some(2_000_000),
//!     cipher: Some(FlowCipher::ChaCha20Poly1305),
//! };
//! let flow = endpoint
//!     .connect(sfu.media_addr, Fingerprint(sfu.fingerprint), Hello::new(5, Capabilities::NONE), options)
//!     .await?;
//! assert_eq!(flow.endpoint_id(), 5);
//! flow.set_max_bandwidth(Some(500_000));
//! assert_eq!(flow.max_bandwidth(), Some(500_000));
//! # Ok(()) }
//! ```
//!
//! ## §6.4 Media configuration
//!
//! | draft | API |
//! | --- | --- |
//! | conference, endpoint, encoding IDs; salt and secret | the proposal (applied by [`Client::join`](crate::client::Client::join)); [`Publisher::ids`](crate::session::Publisher::ids); the salt is drawn per encoding |
//! | pause | [`Publisher::set_paused`](crate::session::Publisher::set_paused) |
//! | audio send: codec, source, bitrate, sample rate/size, channels, packet time, mode, DSCP, CBR | [`AudioSendSettings`](crate::session::AudioSendSettings) in [`PublisherKind::Audio`](crate::session::PublisherKind::Audio), read back with [`Publisher::kind`](crate::session::Publisher::kind). A [`Call`](crate::client::Call) makes them from the proposal (codec, `sourceID`, `maxBitrate`, `packetTime`; the others at their defaults); other values need a publisher built with [`Publisher::new`](crate::session::Publisher::new). The publisher acts on the packet time (it paces [`Publisher::send`](crate::session::Publisher::send)) and the DSCP (written in the RTP3 header; changed with [`Publisher::set_dscp`](crate::session::Publisher::set_dscp)); bitrate, sample rate and size, channels, mode and CBR are for the app's encoder, e.g. `OpusEncoderConfig` of [`codec::opus`](crate::codec::opus) |
//! | video send: codec, source, max size, bitrate, pixel rate, mode, DSCP, layer ID and dependencies | [`VideoSendSettings`](crate::session::VideoSendSettings) in [`PublisherKind::Video`](crate::session::PublisherKind::Video), read back with [`Publisher::kind`](crate::session::Publisher::kind); a [`Call`](crate::client::Call) fills codec, source, max width and height, bitrate and pixel rate from the proposal. The publisher acts on the DSCP and the layer ID (every message carries it; [`OutgoingFrame::layer_id`](crate::session::OutgoingFrame::layer_id) overrides it per frame); size, bitrate, pixel rate, mode and `depends_on` are for the app's encoder |
//! | encode the next frame as intra | [`Publisher::request_intra_frame`](crate::session::Publisher::request_intra_frame), read by the encoder loop with [`Publisher::take_intra_request`](crate::session::Publisher::take_intra_request) (the SFU's requests set it too) |
//! | data send, reliable or unreliable | [`DataPublisher::send`](crate::session::DataPublisher::send) with a [`DataCodec`](crate::codec::data::DataCodec) ([`Call::data_publisher`](crate::client::Call::data_publisher) gives the codec the proposal chose) |
//! | receive: codec, sink, lip-sync flag | [`ReceiveSettings`](crate::session::ReceiveSettings) of each [`CallSubscription`](crate::client::CallSubscription): codec and sink from the proposal; `lip_sync` is `true` for the audio and video a [`Call`](crate::client::Call) plays in one lip-sync group per sending endpoint (with the default [`Playout::Jittered`](crate::session::Playout::Jittered); `false` with [`Playout::Immediate`](crate::session::Playout::Immediate), which plays nothing in sync). A subscription started with [`Subscription::start`](crate::session::Subscription::start) plays in the group of its [`SubscriptionConfig::lip_sync`](crate::session::SubscriptionConfig::lip_sync), or on its own clock |
//! | data receive notifications | [`Subscription::next_frame`](crate::session::Subscription::next_frame) of a data stream |
//!
//! ## §6.5–6.7 Metrics
//!
//! | draft | API |
//! | --- | --- |
//! | gathering state and completion | [`Client::gathering_state`](crate::client::Client::gathering_state): `Gathering` while any gathering runs ([`Client::reflexive_address`](crate::client::Client::reflexive_address), [`Client::allocate_relay`](crate::client::Client::allocate_relay), an [`Agent`](crate::agent::Agent) collecting its local candidates to advertise), `Complete` once every one has ended (the §6.1 example) |
//! | per flow: connectivity state, bits sent, packets lost, RTT, far-side fingerprint, 5-tuple | [`Flow::metrics`](crate::transport::Flow::metrics) or [`Call::flow_metrics`](crate::client::Call::flow_metrics): [`FlowMetrics`](crate::transport::FlowMetrics) `state`, `bits_sent`, `packets_lost`, `rtt`, `far_fingerprint`, `five_tuple` |
//! | per send stream: bits sent, packets lost; video size and frame rate | [`Publisher::metrics`](crate::session::Publisher::metrics) ([`SendStreamMetrics`](crate::session::SendStreamMetrics); its `packets_lost` counts messages dropped before they left; loss on the path is per flow, [`FlowMetrics::packets_lost`](crate::transport::FlowMetrics::packets_lost), since QUIC datagrams are not resent) |
//! | per receive stream: bits, packets lost, last capture time, last endpoint ID; video size and frame rate | [`Subscription::metrics`](crate::session::Subscription::metrics) ([`ReceiveStreamMetrics`](crate::session::ReceiveStreamMetrics)) |
//!
//! The §6.4 and §6.5–6.7 example: a proposal applied whole, the settings it gave the video
//! stream, a pause and a resume, an intra-frame request, a video frame, and the metrics on
//! both sides.
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use newmedia_client::client::{Client, ClientConfig};
//! use newmedia_client::clock;
//! use newmedia_client::control::{Capabilities, MediaSink, MediaSource, VideoCodec};
//! use newmedia_client::identity::Identity;
//! use newmedia_client::session::{OutgoingFrame, PublisherKind};
//! use newmedia_client::transport::ConnectivityState;
//! use newmedia_proto::signaling::Proposal;
//! # let sfu = newmedia_sfu::app::start(newmedia_sfu::ops::config::SfuConfig {
//! #     listen: "127.0.0.1:0".parse()?, http_listen: "127.0.0.1:0".parse()?,
//! #     ..Default::default() }).await?;
//! # let fp: String = sfu.fingerprint.iter().map(|b| format!("{b:02x}")).collect();
//! # let (alice_id, bob_id) = (Identity::self_signed()?, Identity::self_signed()?);
//! # sfu.registry.create_conference(7)?;
//! # for (e, id) in [(1, &alice_id), (2, &bob_id)] {
//! #     sfu.registry.admit_endpoint(7, newmedia_sfu::admission::registry::EndpointAdmission {
//! #         endpoint_id: e, fingerprint: id.fingerprint().0,
//! #         publications: vec![newmedia_proto::grant::Publication { source_id: 2,
//! #             encoding_id: 1, kind: newmedia_proto::grant::MediaKind::Video, width: None,
//! #             height: None, max_bitrate: None, frame_rate: None }] })?;
//! # }
//! # let send_to = format!(r#"[{{"local":"{}","stunSecret":"s","tlsFingerprintSHA256":"{fp}"}}]"#, sfu.media_addr);
//! let video = VideoCodec::new("h264").max_size(1280, 720);
//! let caps = Capabilities::new()
//!     .source(MediaSource::video(2, [video.clone()]))
//!     .sink(MediaSink::video(2, [video]));
//! let alice = Client::start(ClientConfig::default().identity(alice_id).capabilities(caps.clone()))?;
//! let bob = Client::start(ClientConfig::default().identity(bob_id).capabilities(caps))?;
//! let send = Proposal::from_json(&format!(r#"{{"sendTo":{send_to},"sendStreams":[{{
//!     "conferenceID":7,"endpointID":1,"sourceID":2,"encodingID":1,"codecName":"h264",
//!     "AEAD":"AES128-GCM","secret":"s3cret","width":1280,"height":720}}]}}"#))?;
//! let receive = Proposal::from_json(&format!(r#"{{"sendTo":{send_to},"receiveStreams":[{{
//!     "conferenceID":7,"endpointID":1,"sourceID":2,"encodingID":1,"sinkID":2,
//!     "codecName":"h264","AEAD":"AES128-GCM","secret":"s3cret"}}]}}"#))?;
//! let alice_call = alice.join(&send).await?; // applied whole, in one call
//! let mut bob_call = bob.join(&receive).await?;
//! assert_eq!(alice.current_proposal().map(|p| p.send_streams.len()), Some(1));
//! let mut screen = bob_call.take_subscription(0).expect("subscribed");
//! assert!(screen.settings.lip_sync);
//!
//! let camera = alice_call.publisher(2, 1).expect("the video stream");
//! assert_eq!((camera.ids().conference_id, camera.ids().endpoint_id), (7, 1));
//! let PublisherKind::Video(settings) = camera.kind() else { panic!("a video stream") };
//! assert_eq!((settings.codec.as_str(), settings.max_width, settings.max_height), ("h264", Some(1280), Some(720)));
//! camera.set_dscp(Some(34))?; // AF41, in the RTP3 header of the next messages
//! camera.request_intra_frame();
//! assert!(camera.take_intra_request()); // the encoder loop asks before each frame
//! camera.set_paused(true);
//! camera.send(&OutgoingFrame::new(b"not sent", clock::ntp_millis())).await?;
//! camera.set_paused(false);
//! let mut frame = OutgoingFrame::new(&[7u8; 3000], clock::ntp_millis());
//! frame.reference = true;
//! frame.width = Some(1280);
//! frame.height = Some(720);
//! camera.send(&frame).await?;
//!
//! let got = screen.subscription.next_frame().await.expect("a frame");
//! assert_eq!(got.payload.len(), 3000);
//! assert_eq!(got.endpoint_id, 1);
//!
//! // Metrics (§6.6-6.7; the gathering state of §6.5 is in the §6.1 example).
//! let sent = camera.metrics();
//! assert_eq!((sent.frames_sent, sent.frames_paused, sent.width), (1, 1, Some(1280)));
//! let received = screen.subscription.metrics();
//! assert_eq!(received.last_endpoint_id, Some(1));
//! assert!(received.bits_received >= 3000 * 8 && received.last_capture_time.is_some());
//! let flow = bob_call.flow_metrics();
//! assert_eq!(flow.state, ConnectivityState::Connected);
//! assert_eq!(flow.far_fingerprint.map(|f| f.0), Some(sfu.fingerprint));
//! assert_eq!(flow.five_tuple.remote, sfu.media_addr);
//! assert!(flow.bits_sent > 0);
//! println!("RTT {:?}, {} packets lost", flow.rtt, flow.packets_lost);
//! # Ok(()) }
//! ```
//!
//! ## A proposal, accepted whole or rejected whole
//!
//! | what | API |
//! | --- | --- |
//! | apply a proposal in one call | [`Client::join`](crate::client::Client::join): checked whole against the capabilities and the key provider, then connected, then every send and receive stream set up; [`Client::join_on`](crate::client::Client::join_on) on a flow the app opened |
//! | rejected whole, with the reason | [`ClientError::Rejected`](crate::client::ClientError::Rejected) with a [`ProposalRejection`](crate::control::ProposalRejection): `path` (`sendTo[i]`, `sendStreams[i]`, `receiveStreams[i]`) and [`RejectReason`](crate::control::RejectReason); nothing was set up and [`Client::current_proposal`](crate::client::Client::current_proposal) is unchanged |
//! | check without applying | [`Client::check_proposal`](crate::client::Client::check_proposal); without I/O, [`MediaConfiguration::apply`](crate::control::MediaConfiguration::apply) and [`accept`](crate::control::MediaConfiguration::accept) |
//! | driven by the controller | [`Agent`](crate::agent::Agent) answers each proposal whole and reports [`AgentEvent::Joined`](crate::agent::AgentEvent::Joined) or [`AgentEvent::Rejected`](crate::agent::AgentEvent::Rejected) |
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use newmedia_client::client::{Client, ClientConfig, ClientError};
//! use newmedia_client::control::{AudioCodec, Capabilities, MediaSource, RejectReason};
//! use newmedia_proto::signaling::Proposal;
//!
//! let opus = AudioCodec::new("opus").max_bitrate(64_000);
//! let caps = Capabilities::new().source(MediaSource::audio(1, [opus]));
//! let client = Client::start(ClientConfig::default().capabilities(caps))?;
//! let stream = |encoding: u64, bitrate: u64| format!(r#"{{"conferenceID":3,"endpointID":1,
//!     "sourceID":1,"encodingID":{encoding},"codecName":"opus","AEAD":"AES128-GCM",
//!     "secret":"s3cret","maxBitrate":{bitrate}}}"#);
//! let fp = "ab".repeat(32);
//! let proposal = |streams: [String; 2]| Proposal::from_json(&format!(r#"{{"sendTo":[{{
//!     "local":"127.0.0.1:9","stunSecret":"s","tlsFingerprintSHA256":"{fp}"}}],
//!     "sendStreams":[{}]}}"#, streams.join(",")));
//!
//! // Both streams fit the advertised opus limits: the proposal would be accepted whole.
//! let good = proposal([stream(1, 32_000), stream(2, 64_000)])?;
//! assert_eq!(client.check_proposal(&good)?.send_streams.len(), 2);
//!
//! // The second stream asks for more than the codec's max bitrate: the whole proposal is
//! // rejected, naming the stream and why; neither stream is set up.
//! let bad = proposal([stream(1, 32_000), stream(2, 128_000)])?;
//! match client.join(&bad).await {
//!     Err(ClientError::Rejected(rejection)) => {
//!         assert_eq!(rejection.path, "sendStreams[1]");
//!         assert!(matches!(
//!             rejection.reason,
//!             RejectReason::AboveMax { field: "maxBitrate", value: 128_000, max: 64_000, .. }
//!         ));
//!         // "sendStreams[1]: maxBitrate 128000 above the source's max 64000"
//!         println!("{rejection}");
//!     }
//!     other => panic!("expected a rejection, got {other:?}"),
//! }
//! assert!(client.current_proposal().is_none());
//! # Ok(()) }
//! ```
