//! A tour of the wire formats: read the draft's §8.1.2 proposal, derive the message key of its
//! send stream, seal an audio message, parse it as the SFU would, and open it as a receiver.
//!
//! Run with `cargo run -p newmedia-proto --example demo`.

// An example aborts on a broken setup; unwrapping is the clearest way to say so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use newmedia_proto::crypto::MessageKey;
use newmedia_proto::rtp3::{HeaderView, Headers, Opener, Sealer};
use newmedia_proto::signaling::Proposal;

const PROPOSAL: &str = include_str!("../testdata/draft-examples/8.1.2-simple-audio-proposal.json");

fn main() {
    let proposal = Proposal::from_json(PROPOSAL).expect("the draft's proposal validates");
    println!("draft §8.1.2 proposal: valid");
    for c in proposal.send_to.iter().flatten() {
        if let Some((kind, address)) = c.address() {
            println!("  sendTo     {kind:?} {address}");
        }
    }
    let stream = proposal
        .send_streams
        .iter()
        .flatten()
        .next()
        .expect("one send stream");
    let geid = stream
        .global_encoding_id()
        .expect("a send stream names its encoding");
    let (conference, endpoint) = (stream.conference_id.unwrap(), stream.endpoint_id.unwrap());
    let aead = stream.aead.expect("AEAD is required");
    let secret = stream.secret.as_deref().unwrap_or_default().as_bytes();
    println!(
        "  sendStream conference {conference} endpoint {endpoint} codec {:?} {aead}",
        stream.codec_name.as_deref().unwrap_or("?")
    );
    println!("  GlobalEncodingID {geid}");

    // The sender: a fixed salt here for a reproducible demo; a real sender draws it at random.
    let salt = *b"demo-salt-12";
    let sealer = Sealer::new(
        MessageKey::derive(aead, secret, conference, endpoint, geid),
        salt,
    );
    let mut headers = Headers::new(geid, 0);
    headers.conference_id = Some(conference);
    headers.endpoint_id = Some(endpoint);
    headers.encoding_id = stream.encoding_id;
    headers.active_level = Some(92);
    headers.salt = Some(salt);
    headers.capture_time = Some(3_913_056_000_000);
    let mut message = Vec::new();
    sealer
        .seal(&headers, b"20 ms of opus", &mut message)
        .unwrap();
    println!(
        "\nsealed RTP3 message ({} bytes):\n  {}",
        message.len(),
        hex(&message)
    );

    // The SFU: headers only, no key, no copy.
    let view = HeaderView::parse(&message).unwrap();
    println!(
        "SFU view: GlobalEncodingID {} sequence {} GlobalMessageID {} active level {:?}",
        view.global_encoding_id(),
        view.sequence_id(),
        view.global_message_id(),
        view.active_level()
    );

    // The receiver: same secret from its receiveStreams entry.
    let mut opener = Opener::new(MessageKey::derive(aead, secret, conference, endpoint, geid));
    let mut plain = Vec::new();
    let payload = opener.open(&view, &mut plain).unwrap();
    println!("receiver opened: {:?}", String::from_utf8_lossy(payload));

    let mut tampered = message.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let result = opener.open(&HeaderView::parse(&tampered).unwrap(), &mut plain);
    println!("one flipped bit: {}", result.unwrap_err());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
