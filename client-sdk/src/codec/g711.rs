//! G.711 (ITU-T G.711) µ-law and A-law, the draft's mandatory audio codec (§5.5).
//!
//! Written here, without a codec crate, and bit-exact with ffmpeg's `pcm_mulaw` / `pcm_alaw`
//! encoders and decoders (checked for every input in `tests/g711_ffmpeg.rs`).
//!
//! # Decoding
//!
//! A code decodes to the G.711 reconstruction level on the 16-bit scale (µ-law: ±0..±32124,
//! A-law: ±8..±32256), exactly as ffmpeg's `ulaw2linear` / `alaw2linear`.
//!
//! # Encoding (what ffmpeg does, and so what we do)
//!
//! ffmpeg's encoder does not use the classic truncating Sun/CCITT `linear2ulaw`. It looks the
//! sample up in a 16384-entry table indexed by `(sample + 32768) >> 2`, i.e. it drops the two
//! low bits with an arithmetic shift (rounding towards minus infinity: `-1` becomes `-4 / 4`,
//! magnitude 1, while `1..=3` become 0). The table maps that 14-bit value `j` to the code whose
//! reconstruction level is nearest, with the decision threshold between neighbouring levels
//! `a` and `b` (16-bit scale) at `(a + b + 4) >> 3` (14-bit scale) — so ties go to the larger
//! magnitude. `j == 0` maps to the positive smallest code (µ-law `0xFF`, A-law `0xD5`); beyond
//! the largest threshold the code saturates. Both laws shift by 2 (not 3 for µ-law).
//!
//! The functions here compute the same table entry on the fly with a 7-step binary search over
//! the 128 magnitudes: no tables, no allocation.
//!
//! # Round trips
//!
//! `decode(encode(x))` is within half a quantization step (plus the 4 dropped by the shift)
//! of `x`. `encode(decode(c)) == c` for every code except µ-law `0x7F` ("negative zero"),
//! which decodes to 0 and re-encodes as `0xFF` (positive zero), as in ffmpeg.
//!
//! ```
//! use newmedia_client::codec::g711;
//! assert_eq!(g711::mulaw_encode(0), 0xFF);
//! assert_eq!(g711::mulaw_decode(0x00), -32124);
//! assert_eq!(g711::alaw_encode(0), 0xD5);
//! assert_eq!(g711::alaw_decode(0xD5), 8);
//! let mut bytes = Vec::new();
//! g711::encode_mulaw(&[0, 1000, -1000], &mut bytes);
//! let mut pcm = Vec::new();
//! g711::decode_mulaw(&bytes, &mut pcm);
//! assert_eq!(pcm, [0, 988, -988]);
//! ```

/// µ-law bias on the 16-bit scale (0x84).
const ULAW_BIAS: i32 = 0x84;
/// XOR mask that turns a µ-law magnitude index 0..=127 into the positive code.
const ULAW_MASK: u8 = 0xFF;
/// XOR mask that turns an A-law magnitude index 0..=127 into the positive code.
const ALAW_MASK: u8 = 0xD5;

/// Reconstruction level (16-bit scale, positive) of µ-law magnitude index `i` (0..=127, the
/// complemented code without its sign bit).
const fn ulaw_level(i: u8) -> i32 {
    let q = (i & 0x0F) as i32;
    let seg = ((i >> 4) & 0x07) as u32;
    (((q << 3) + ULAW_BIAS) << seg) - ULAW_BIAS
}

/// Reconstruction level (16-bit scale, positive) of A-law magnitude index `i` (0..=127, the
/// code XOR 0x55 without its sign bit).
const fn alaw_level(i: u8) -> i32 {
    let q = (i & 0x0F) as i32;
    let seg = ((i >> 4) & 0x07) as u32;
    if seg == 0 {
        (2 * q + 1) << 3
    } else {
        (2 * q + 33) << (seg + 2)
    }
}

/// Encodes like ffmpeg's `build_xlaw_table`: the first magnitude index whose upper threshold
/// is above `|j|`, with `j = sample >> 2`.
#[inline]
fn encode_with(sample: i16, level: fn(u8) -> i32, mask: u8) -> u8 {
    let j = i32::from(sample) >> 2;
    if j == 0 {
        return mask;
    }
    let m = j.abs();
    // Smallest i in 0..127 with m < threshold(i); 127 if none.
    let (mut lo, mut hi) = (0u8, 127u8);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let threshold = (level(mid) + level(mid + 1) + 4) >> 3;
        if m < threshold {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    if j > 0 { lo ^ mask } else { lo ^ mask ^ 0x80 }
}

/// Encodes one 16-bit linear sample as a µ-law code (bit-exact with ffmpeg `pcm_mulaw`).
#[inline]
pub fn mulaw_encode(sample: i16) -> u8 {
    encode_with(sample, ulaw_level, ULAW_MASK)
}

/// Decodes one µ-law code to a 16-bit linear sample (ffmpeg's `ulaw2linear`).
#[inline]
pub fn mulaw_decode(code: u8) -> i16 {
    let u = !code;
    let level = ulaw_level(u & 0x7F);
    // |level| <= 32124, so the narrowing cannot fail; the fallback is unreachable.
    let v = if u & 0x80 != 0 { -level } else { level };
    i16::try_from(v).unwrap_or(0)
}

/// Encodes one 16-bit linear sample as an A-law code (bit-exact with ffmpeg `pcm_alaw`).
#[inline]
pub fn alaw_encode(sample: i16) -> u8 {
    encode_with(sample, alaw_level, ALAW_MASK)
}

/// Decodes one A-law code to a 16-bit linear sample (ffmpeg's `alaw2linear`).
#[inline]
pub fn alaw_decode(code: u8) -> i16 {
    let a = code ^ 0x55;
    let level = alaw_level(a & 0x7F);
    // |level| <= 32256, so the narrowing cannot fail; the fallback is unreachable.
    let v = if a & 0x80 != 0 { level } else { -level };
    i16::try_from(v).unwrap_or(0)
}

/// Appends the µ-law codes of `samples` to `out` (one byte per sample).
pub fn encode_mulaw(samples: &[i16], out: &mut Vec<u8>) {
    out.extend(samples.iter().map(|&s| mulaw_encode(s)));
}

/// Appends the samples decoded from µ-law `codes` to `out` (one sample per byte).
pub fn decode_mulaw(codes: &[u8], out: &mut Vec<i16>) {
    out.extend(codes.iter().map(|&c| mulaw_decode(c)));
}

/// Appends the A-law codes of `samples` to `out` (one byte per sample).
pub fn encode_alaw(samples: &[i16], out: &mut Vec<u8>) {
    out.extend(samples.iter().map(|&s| alaw_encode(s)));
}

/// Appends the samples decoded from A-law `codes` to `out` (one sample per byte).
pub fn decode_alaw(codes: &[u8], out: &mut Vec<i16>) {
    out.extend(codes.iter().map(|&c| alaw_decode(c)));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quantization step (16-bit scale) of the segment a decoded value lies in.
    fn step_at(levels: &[i32], v: i32) -> i32 {
        // Largest gap between consecutive levels around |v|.
        let m = v.abs();
        let mut step = 0;
        for w in levels.windows(2) {
            if w[0] <= m + 1024 && w[1] >= m - 1024 {
                step = step.max(w[1] - w[0]);
            }
        }
        step
    }

    fn check_round_trip(
        enc: fn(i16) -> u8,
        dec: fn(u8) -> i16,
        level: fn(u8) -> i32,
        max_level: i32,
    ) {
        let levels: Vec<i32> = (0..128u8).map(level).collect();
        for x in i16::MIN..=i16::MAX {
            let y = i32::from(dec(enc(x)));
            let x = i32::from(x);
            let err = (y - x).abs();
            if x.abs() > max_level {
                // Saturated: decodes to the largest level of the right sign.
                assert_eq!(y, max_level * x.signum(), "x={x}");
            } else {
                // Half a step, plus the 2 dropped low bits.
                let bound = step_at(&levels, x) / 2 + 4;
                assert!(err <= bound, "x={x} y={y} err={err} bound={bound}");
            }
        }
    }

    #[test]
    fn mulaw_decode_encode_within_step() {
        check_round_trip(mulaw_encode, mulaw_decode, ulaw_level, 32124);
    }

    #[test]
    fn alaw_decode_encode_within_step() {
        check_round_trip(alaw_encode, alaw_decode, alaw_level, 32256);
    }

    #[test]
    fn mulaw_code_round_trip() {
        for c in 0..=255u8 {
            let back = mulaw_encode(mulaw_decode(c));
            if c == 0x7F {
                // Negative zero decodes to 0, which encodes as positive zero.
                assert_eq!(back, 0xFF);
            } else {
                assert_eq!(back, c, "code {c:#04x}");
            }
        }
    }

    #[test]
    fn alaw_code_round_trip() {
        for c in 0..=255u8 {
            assert_eq!(alaw_encode(alaw_decode(c)), c, "code {c:#04x}");
        }
    }

    #[test]
    fn decoders_are_monotonic_and_symmetric() {
        for i in 0..127u8 {
            // Magnitude index i -> positive code i ^ mask.
            assert!(mulaw_decode((i + 1) ^ ULAW_MASK) > mulaw_decode(i ^ ULAW_MASK));
            assert!(alaw_decode((i + 1) ^ ALAW_MASK) > alaw_decode(i ^ ALAW_MASK));
        }
        for c in 0..=255u8 {
            assert_eq!(mulaw_decode(c), -mulaw_decode(c ^ 0x80));
            assert_eq!(alaw_decode(c), -alaw_decode(c ^ 0x80));
        }
    }

    #[test]
    fn known_values_from_g711_tables() {
        // µ-law (G.711 Table 2a, 16-bit scale = 14-bit table value * 4 minus the half bias).
        assert_eq!(mulaw_decode(0xFF), 0);
        assert_eq!(mulaw_decode(0x7F), 0);
        assert_eq!(mulaw_decode(0xFE), 8);
        assert_eq!(mulaw_decode(0xF0), 120);
        assert_eq!(mulaw_decode(0xEF), 132);
        assert_eq!(mulaw_decode(0x80), 32124);
        assert_eq!(mulaw_decode(0x00), -32124);
        assert_eq!(mulaw_encode(i16::MAX), 0x80);
        assert_eq!(mulaw_encode(i16::MIN), 0x00);
        // -1 >> 2 = -1: magnitude 1 is halfway between levels 0 and 8/4; ties go up.
        assert_eq!(mulaw_encode(-1), 0x7E);
        assert_eq!(mulaw_encode(3), 0xFF);
        // A-law (G.711 Table 1a): smallest magnitude 8, segment ends 248 / 264, max 32256.
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xDA), 248);
        assert_eq!(alaw_decode(0xC5), 264);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
        assert_eq!(alaw_encode(-1), 0x55);
    }

    #[test]
    fn slice_helpers_append() {
        let pcm = [0i16, 100, -100, 32000, -32000];
        let mut u = vec![0xAB];
        encode_mulaw(&pcm, &mut u);
        assert_eq!(u.len(), 6);
        assert_eq!(u[0], 0xAB);
        let mut a = Vec::new();
        encode_alaw(&pcm, &mut a);
        let mut du = Vec::new();
        decode_mulaw(&u[1..], &mut du);
        let mut da = Vec::new();
        decode_alaw(&a, &mut da);
        let want_u: Vec<i16> = pcm.iter().map(|&s| mulaw_decode(mulaw_encode(s))).collect();
        let want_a: Vec<i16> = pcm.iter().map(|&s| alaw_decode(alaw_encode(s))).collect();
        assert_eq!(du, want_u);
        assert_eq!(da, want_a);
    }
}
