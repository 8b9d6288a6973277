//! # The control API of draft §6, item by item
//!
//! Where each item of the draft's §6 lists lives in this crate, with one runnable example per
//! area (each starts an SFU node in-process on loopback).
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
//! use newmedia_client::client::{Client, ClientConfig, TurnServer};
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
//! let reflexive = client.reflexive_address(sfu.media_addr, b"").await?;
//! assert_eq!(reflexive.observed, caps.bound);
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
//! Per source and sink, per codec: name, max sample rate, sample size, bitrate (and channels)
//! for audio ([`AudioCodec`](crate::control::AudioCodec)); name, max width, height, frame
//! rate, pixel depth, bitrate and pixel rate for video ([`VideoCodec`](crate::control::VideoCodec));
//! send and receive codecs are separate ([`MediaSource`](crate::control::MediaSource) and
//! [`MediaSink`](crate::control::MediaSink)); the advertisement is made from them
//! ([`Capabilities::advertisement`](crate::control::Capabilities::advertisement)). The
//! [`control`](crate::control) module has the runnable example.
//!
//! ## §6.3 Transport configuration
//!
//! | draft | API |
//! | --- | --- |
//! | turn server to use | [`Client::allocate_relay`](crate::client::Client::allocate_relay) |
//! | list of IP, port, protocol tuples to try | a proposal's `sendTo`, tried in order by [`Client::join`](crate::client::Client::join); [`ClientEndpoint::connect`](crate::transport::ClientEndpoint::connect) for one |
//! | encryption algorithm | [`FlowOptions::cipher`](crate::transport::FlowOptions::cipher) |
//! | TLS fingerprint of far side | the `pin` of [`ClientEndpoint::connect`](crate::transport::ClientEndpoint::connect) (the proposal's `tlsFingerprintSHA256`) |
//! | total max bandwidth for flow | [`FlowOptions::max_bandwidth`](crate::transport::FlowOptions::max_bandwidth), [`Flow::set_max_bandwidth`](crate::transport::Flow::set_max_bandwidth) |
//! | forward error correction scheme and time window | `flex-fec-rs` streams of a proposal (draft §8.4, `fecRepairWindow`, `fecRepairEncodingIDs`): [`Client::join`](crate::client::Client::join) makes each FEC send stream a [`FecSender`](crate::session::FecSender) for the encodings it repairs and restores lost messages of a protected subscription from its FEC receive stream; the code is [`media::fec`](crate::media::fec) (window, overhead) |
//! | retransmission scheme for flow | [`SubscriptionConfig::recovery`](crate::session::SubscriptionConfig::recovery) (`None`: no requests) |
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
//! | audio send: codec, source, bitrate, sample rate/size, channels, packet time, mode, DSCP, CBR | [`AudioSendSettings`](crate::session::AudioSendSettings) (packet time paces [`Publisher::send`](crate::session::Publisher::send)); [`codec::opus`](crate::codec::opus) encodes with them; [`Publisher::set_dscp`](crate::session::Publisher::set_dscp) |
//! | video send: codec, source, max size, bitrate, pixel rate, mode, DSCP, layer ID and dependencies | [`VideoSendSettings`](crate::session::VideoSendSettings) |
//! | encode the next frame as intra | [`Publisher::request_intra_frame`](crate::session::Publisher::request_intra_frame), read by the encoder loop with [`Publisher::take_intra_request`](crate::session::Publisher::take_intra_request) (the SFU's requests set it too) |
//! | data send, reliable or unreliable | [`DataPublisher::send`](crate::session::DataPublisher::send) with a [`DataCodec`](crate::codec::data::DataCodec) |
//! | receive: codec, sink, lip-sync flag | [`ReceiveSettings`](crate::session::ReceiveSettings) of each [`CallSubscription`](crate::client::CallSubscription) |
//! | data receive notifications | [`Subscription::next_frame`](crate::session::Subscription::next_frame) of a data stream |
//!
//! ## §6.5–6.7 Metrics
//!
//! | draft | API |
//! | --- | --- |
//! | gathering state and completion | [`Client::gathering_state`](crate::client::Client::gathering_state) |
//! | per flow: connectivity state, bits sent, packets lost, RTT, far-side fingerprint, 5-tuple | [`Flow::metrics`](crate::transport::Flow::metrics) ([`FlowMetrics`](crate::transport::FlowMetrics)) |
//! | per send stream: bits sent, packets lost; video size and frame rate | [`Publisher::metrics`](crate::session::Publisher::metrics) (its `packets_lost` counts messages dropped before they left; loss on the path is per flow, [`FlowMetrics::packets_lost`](crate::transport::FlowMetrics::packets_lost), since QUIC datagrams are not resent) |
//! | per receive stream: bits, packets lost, last capture time, last endpoint ID; video size and frame rate | [`Subscription::metrics`](crate::session::Subscription::metrics) |
//!
//! The §6.4 and §6.5–6.7 example: a proposal applied whole, a paused and resumed audio
//! stream, a video frame, and the metrics on both sides.
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use newmedia_client::client::{Client, ClientConfig, GatheringState};
//! use newmedia_client::clock;
//! use newmedia_client::control::{Capabilities, MediaSink, MediaSource, VideoCodec};
//! use newmedia_client::identity::Identity;
//! use newmedia_client::session::OutgoingFrame;
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
//! let alice_call = alice.join(&send).await?;
//! let mut bob_call = bob.join(&receive).await?;
//! let mut screen = bob_call.take_subscription(0).expect("subscribed");
//! assert!(screen.settings.lip_sync);
//!
//! let camera = alice_call.publisher(2, 1).expect("the video stream");
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
//! // Metrics (§6.5-6.7).
//! assert_eq!(*alice.gathering_state().borrow(), GatheringState::New);
//! let sent = camera.metrics();
//! assert_eq!((sent.frames_sent, sent.frames_paused, sent.width), (1, 1, Some(1280)));
//! let received = screen.subscription.metrics();
//! assert_eq!(received.last_endpoint_id, Some(1));
//! assert!(received.bits_received >= 3000 * 8 && received.last_capture_time.is_some());
//! let flow = bob_call.flow_metrics();
//! assert_eq!(flow.far_fingerprint.map(|f| f.0), Some(sfu.fingerprint));
//! assert_eq!(flow.five_tuple.remote, sfu.media_addr);
//! assert!(flow.bits_sent > 0);
//! println!("RTT {:?}, {} packets lost", flow.rtt, flow.packets_lost);
//! # Ok(()) }
//! ```
