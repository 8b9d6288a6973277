//! Forward error correction over RTP3 messages: the `flex-fec-rs` scheme of PROTOCOL.md §16
//! (draft §5.4, §6.3, §8.4), sans-IO.
//!
//! A FEC stream is a send stream of its own (codec `"flex-fec-rs"`, its own encodingID and
//! so its own GlobalEncodingID, key and sequence IDs) that repairs the encodings its
//! `fecRepairEncodingIDs` name. Its messages are ordinary sealed RTP3 messages, so the SFU
//! forwards them like any encoding and a subscriber subscribes to them like any encoding.
//! Each one's plaintext is a *repair payload*: a small header (the protected encoding, the
//! block's first sequence ID and size, the repair's index) and one Reed-Solomon repair
//! symbol computed over the protected messages **as sealed on the wire**. A receiver that
//! lost a message therefore restores its exact bytes, opens it with the protected
//! encoding's key and reassembles it as if it had arrived; the SFU never sees anything new
//! and FEC needs no keys beyond those the endpoint already has.
//!
//! - [`FecEncoder`]: the publisher's side, fed every sealed source message as it is sent;
//!   closes blocks (k messages or the FEC window, whichever first) and hands out their
//!   repair payloads.
//! - [`FecDecoder`]: the subscriber's side, fed received source messages and opened repair
//!   payloads; hands out restored source messages as soon as a block has enough symbols,
//!   and counts the blocks it could not restore.
//! - [`RepairHeader`], [`encode_block`]: the wire format itself.
//!
//! What it does not do: seal, open, send, subscribe, or decide how much overhead a path
//! needs; FEC over the FEC stream; interleaving (blocks cover consecutive sequence IDs, so a
//! burst longer than a block's repairs is not repaired).
//!
//! ## Run-loop contract
//!
//! **Publisher**, for a send stream `F` with `fec: Some(FecRepair { window_ms,
//! encoding_ids })` repairing encodings `E…` of the same source:
//!
//! 1. Build `FecEncoder::new(FecEncoderConfig::default().window_ms(window_ms.unwrap_or(200))
//!    .max_repair_payload(P), [geid(E)…])` and a [`Packetizer`](super::Packetizer) for `F`
//!    (its own sealer from `F`'s key, AEAD and a fresh salt). `P` is the largest plaintext
//!    one message of `F` can carry: the datagram size minus `F`'s worst-case headers and
//!    AEAD tag. Give each protected encoding's packetizer a datagram size of at most
//!    `P - MAX_REPAIR_OVERHEAD` ([`FecEncoderConfig::max_source_len`]), so that every
//!    repair fits one message of `F` (a repair payload is the block's longest message plus
//!    at most [`MAX_REPAIR_OVERHEAD`] bytes).
//! 2. For every datagram the packetizer of a protected encoding produces, **after** it is
//!    final (sealed, exactly the bytes handed to the pacer or socket) and at the time it is
//!    sent or queued: `encoder.push(&datagram, now, &mut |repair| …)`. Push each message once,
//!    in sequence order; never push retransmissions (the SFU answers those from its cache).
//! 3. For every [`Repair`] handed out: `fec_packetizer.packetize(&Frame { payload:
//!    &repair.payload, capture_time: repair.capture_time.unwrap_or(last capture time),
//!    reference: false, layer_id: None, active_level: None }, now, …)` gives one datagram
//!    of `F`; send it after the block's source messages (the pacer's video queue is right).
//! 4. At `encoder.poll_timeout()`: `encoder.handle_timeout(now, &mut |repair| …)`, as in 3,
//!    so a block that stops filling still gets its repairs within the window. When the
//!    stream stops, `encoder.flush(…)`; when a protected encoding restarts (new packetizer,
//!    sequence IDs from 0), `encoder.restart(geid, …)` before pushing its first message.
//!
//! **Subscriber**, for a receive stream of `F` (subscribed like the protected encodings):
//!
//! 1. Build `FecDecoder::new(FecDecoderConfig::default(), [geid(E)…])` and an
//!    [`Opener`](newmedia_proto::rtp3::Opener) for `F`.
//! 2. For each datagram of a protected encoding `e` that parses (`HeaderView::parse`),
//!    whether or not it opens yet: `decoder.push_source(datagram, now, &mut |restored| …)`,
//!    then open it and hand it to the reassembler as usual. Not waiting for the open
//!    matters: when the lost message is the one carrying the salt, the others cannot open
//!    until FEC restores it (keep them until the salt is known). Authentication is not
//!    lost: a restored message is opened like any other, and a block fed a forged message
//!    only restores messages that then fail to open.
//! 3. For each datagram of `F`: `plain = opener[F].open(&view)?;
//!    decoder.push_repair(plain, now, &mut |restored| …)`.
//! 4. For every [`Restored`] handed out by 2 or 3: parse and open `restored.message` with
//!    `opener[e]` as if it had just arrived, push it to `reassembler[e]` and call
//!    `recovery[e].handle_message(seq, now)` (so it is not asked for again); do not report it
//!    to the [`Reporter`](super::Reporter) (the network lost it) and do not push it to the
//!    decoder again.
//! 5. At `decoder.poll_timeout()`: `decoder.handle_timeout(now)`. When a protected
//!    encoding restarts (a message opens with a new salt and sequence IDs start again),
//!    `decoder.restart(geid)`.
//!
//! Retransmission requests race FEC: [`Recovery`](super::Recovery) asks after a reorder
//! window, while a repair comes up to the FEC window after the block's first message. A
//! subscription that wants FEC to act first raises the recovery's reorder window for
//! protected encodings toward the FEC window (a latency-for-bandwidth choice the integrator
//! makes).

mod code;
mod decoder;
mod encoder;
mod error;
mod wire;

#[cfg(test)]
mod tests;

pub use code::encode_block;
pub use decoder::{FecDecoder, FecDecoderConfig, FecDecoderStats, Restored};
pub use encoder::{FecEncoder, FecEncoderConfig, FecEncoderStats, Repair};
pub use error::FecError;
pub use wire::{
    CODEC_NAME, LENGTH_PREFIX, MAX_REPAIR_HEADER_LEN, MAX_REPAIR_OVERHEAD, MAX_SOURCE_COUNT,
    MAX_SOURCE_LEN, MAX_SYMBOL_LEN, MAX_SYMBOLS, MIN_SYMBOL_LEN, RepairHeader, VERSION,
};
