//! G.711 against ffmpeg, sample for sample: our µ-law/A-law encoders must produce exactly the
//! bytes of ffmpeg's `pcm_mulaw`/`pcm_alaw` for a signal covering every i16 value, and our
//! decoders exactly ffmpeg's output for all 256 codes.
//!
//! ffmpeg must be on PATH (`bash .ci/setup` installs it); without it these tests fail.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use newmedia_client::codec::g711;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("newmedia-g711-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn require_ffmpeg() {
    let ok = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "ffmpeg is not on PATH: these tests compare G.711 with ffmpeg; run `bash .ci/setup` to install it"
    );
}

fn ffmpeg(args: &[&str], input: &Path, in_fmt: &str, output: &Path, out_fmt: &str) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(["-f", in_fmt, "-ar", "8000", "-ac", "1", "-i"])
        .arg(input)
        .args(args)
        .args(["-f", out_fmt])
        .arg(output)
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// xorshift64*: a fixed-seed generator so the signal is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Every i16 once (ascending), then a full-scale sweep, then a quiet sweep with noise, then
/// full-range noise: 113 536 samples, about 14 s of 8 kHz audio.
fn signal() -> Vec<i16> {
    let mut s: Vec<i16> = (i16::MIN..=i16::MAX).collect();
    // Linear chirp 50 Hz -> 3.9 kHz over 2 s at full scale.
    let n = 16_000;
    for i in 0..n {
        let t = f64::from(i) / 8000.0;
        let f = 50.0 + (3900.0 - 50.0) * t / 4.0;
        let v = (2.0 * std::f64::consts::PI * f * t).sin() * 32767.0;
        s.push(v.round() as i16);
    }
    let mut rng = Rng(0x6E65_776D_6564_6961);
    // Quiet sweep plus small noise, exercising the low segments and the dropped low bits.
    for i in 0..n {
        let t = f64::from(i) / 8000.0;
        let v = (2.0 * std::f64::consts::PI * 440.0 * t).sin() * 300.0;
        let noise = (rng.next() % 33) as i64 - 16;
        s.push((v.round() as i64 + noise) as i16);
    }
    // Full-range white noise.
    for _ in 0..n {
        s.push(rng.next() as i16);
    }
    s
}

fn s16le(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

fn check_encoder(fmt: &str, encode: fn(&[i16], &mut Vec<u8>)) {
    require_ffmpeg();
    let dir = TempDir::new(fmt);
    let pcm = signal();
    let input = dir.path("in.raw");
    std::fs::write(&input, s16le(&pcm)).unwrap();
    let output = dir.path("out.g711");
    ffmpeg(&[], &input, "s16le", &output, fmt);
    let theirs = std::fs::read(&output).unwrap();
    let mut ours = Vec::new();
    encode(&pcm, &mut ours);
    assert_eq!(theirs.len(), ours.len(), "{fmt}: length differs");
    let diffs: Vec<(i16, u8, u8)> = pcm
        .iter()
        .zip(theirs.iter().zip(&ours))
        .filter(|(_, (t, o))| t != o)
        .map(|(&x, (&t, &o))| (x, t, o))
        .collect();
    assert!(
        diffs.is_empty(),
        "{fmt}: {} samples differ; first (sample, ffmpeg, ours): {:?}",
        diffs.len(),
        &diffs[..diffs.len().min(20)]
    );
}

fn check_decoder(fmt: &str, decode: fn(&[u8], &mut Vec<i16>)) {
    require_ffmpeg();
    let dir = TempDir::new(fmt);
    let codes: Vec<u8> = (0..=255).collect();
    let input = dir.path("in.g711");
    std::fs::write(&input, &codes).unwrap();
    let output = dir.path("out.raw");
    ffmpeg(&[], &input, fmt, &output, "s16le");
    let theirs: Vec<i16> = std::fs::read(&output)
        .unwrap()
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let mut ours = Vec::new();
    decode(&codes, &mut ours);
    assert_eq!(
        theirs.len(),
        256,
        "{fmt}: ffmpeg decoded {} samples",
        theirs.len()
    );
    for (c, (t, o)) in theirs.iter().zip(&ours).enumerate() {
        assert_eq!(t, o, "{fmt}: code {c:#04x}: ffmpeg {t}, ours {o}");
    }
}

#[test]
fn mulaw_encoder_matches_ffmpeg() {
    check_encoder("mulaw", g711::encode_mulaw);
}

#[test]
fn alaw_encoder_matches_ffmpeg() {
    check_encoder("alaw", g711::encode_alaw);
}

#[test]
fn mulaw_decoder_matches_ffmpeg() {
    check_decoder("mulaw", g711::decode_mulaw);
}

#[test]
fn alaw_decoder_matches_ffmpeg() {
    check_decoder("alaw", g711::decode_alaw);
}
