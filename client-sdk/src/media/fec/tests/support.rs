//! Shared helpers: sealed source messages, a virtual clock, a shuffler.

use crate::media::fec::{FecDecoder, FecEncoder, Repair, Restored};
use bytes::Bytes;
use newmedia_proto::crypto::{Algorithm, MessageKey};
use newmedia_proto::ids::GlobalEncodingId;
use newmedia_proto::rtp3::{Headers, Sealer};
use std::time::Instant;

/// The protected encoding of most tests.
pub(super) fn geid() -> GlobalEncodingId {
    GlobalEncodingId::derive(7, 300, 1, 1)
}

/// A second protected encoding.
pub(super) fn geid2() -> GlobalEncodingId {
    GlobalEncodingId::derive(7, 300, 1, 3)
}

/// The one real instant the virtual clock offsets from.
#[allow(clippy::disallowed_methods)]
pub(super) fn origin() -> Instant {
    Instant::now()
}

pub(super) fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// A sealed source message of `geid` with sequence ID `seq` and `len` payload bytes.
pub(super) fn source(geid: GlobalEncodingId, seq: u64, len: usize, alg: Algorithm) -> Bytes {
    let key = MessageKey::derive(alg, b"secret", 7, 300, geid);
    let sealer = Sealer::new(key, [5; 12]);
    let mut h = Headers::new(geid, seq);
    h.capture_time = Some(1000 + seq);
    let payload: Vec<u8> = (0..len).map(|i| (i as u64 * 31 + seq) as u8).collect();
    let mut out = Vec::new();
    sealer.seal(&h, &payload, &mut out).unwrap();
    Bytes::from(out)
}

/// Pushes every message and returns the repairs emitted (then flushes).
pub(super) fn encode_all(enc: &mut FecEncoder, msgs: &[Bytes], now: Instant) -> Vec<Repair> {
    let mut repairs = Vec::new();
    for m in msgs {
        enc.push(m, now, &mut |r| repairs.push(r)).unwrap();
    }
    enc.flush(&mut |r| repairs.push(r)).unwrap();
    repairs
}

/// Feeds a source message and collects what is restored.
pub(super) fn feed_source(dec: &mut FecDecoder, msg: &Bytes, now: Instant) -> Vec<Restored> {
    let mut out = Vec::new();
    dec.push_source(msg.clone(), now, &mut |r| out.push(r))
        .unwrap();
    out
}

/// Feeds a repair payload and collects what is restored.
pub(super) fn feed_repair(dec: &mut FecDecoder, repair: &[u8], now: Instant) -> Vec<Restored> {
    let mut out = Vec::new();
    dec.push_repair(repair, now, &mut |r| out.push(r)).unwrap();
    out
}
