//! Lossless media file framing against real ffmpeg output: ffmpeg makes each kind of file
//! (H.264 Annex B from libx264 baseline and high, AV1 IVF from libaom-av1 and libsvtav1,
//! Ogg Opus from libopus with default pages and 20 ms pages, raw µ-law), the reader frames
//! it, the writer must give back the file byte for byte, frame counts, timestamps, durations
//! and key frames must agree with ffprobe, and ffprobe must decode the rewritten file, and a
//! file rewritten with frames missing.
//!
//! ffmpeg with libx264, libaom-av1 and libopus is required (`bash .ci/setup` installs
//! Debian's, which has them): without it these tests fail and say so. libsvtav1 is optional
//! (Debian 12's ffmpeg has it); its test says when it is skipped.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use bytes::Bytes;
use newmedia_client::codec::media_file::{
    FileFrame, MULAW_FRAME_BYTES, MediaFileKind, MediaFileReader, MediaFileWriter, video_size,
};
use newmedia_client::codec::ogg::{OggPackets, OggPages, OpusHead};
use newmedia_client::codec::opus::OpusPacket;

fn work_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("media_files_ffmpeg_{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The encoders of the installed ffmpeg (`ffmpeg -encoders`), or a failure that says how to
/// install it.
fn encoders() -> &'static str {
    static ENCODERS: OnceLock<String> = OnceLock::new();
    ENCODERS.get_or_init(|| {
        match Command::new("ffmpeg")
            .args(["-hide_banner", "-encoders"])
            .output()
        {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
            other => panic!(
                "cannot run `ffmpeg -encoders` ({other:?}): these tests need ffmpeg; \
                 install it with `bash .ci/setup`"
            ),
        }
    })
}

fn has_encoder(name: &str) -> bool {
    encoders()
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(name))
}

fn require_encoder(name: &str) {
    assert!(
        has_encoder(name),
        "ffmpeg has no {name} encoder; `bash .ci/setup` installs Debian's ffmpeg, which does"
    );
}

/// Runs ffmpeg with `input` (lavfi source and duration) and `args`, writing `out`.
fn ffmpeg(input: &[&str], args: &[&str], out: &Path) -> Vec<u8> {
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(input)
        .args(args)
        .arg(out)
        .output()
        .expect("ffmpeg runs (bash .ci/setup installs it)");
    assert!(
        output.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read(out).unwrap()
}

fn video_input(seconds: &str) -> Vec<String> {
    [
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x180:rate=30",
        "-t",
        seconds,
    ]
    .map(String::from)
    .to_vec()
}

/// ffprobe's packets of the first stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Probed {
    /// pts in the stream timebase (`None`: N/A).
    pts: Option<i64>,
    duration: i64,
    key: bool,
}

fn ffprobe_packets(path: &Path, input_args: &[&str]) -> Vec<Probed> {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(input_args)
        .args([
            "-select_streams",
            "0",
            "-show_entries",
            "packet=pts,duration,flags",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut f = l.split(',');
            Probed {
                pts: f.next().unwrap().parse().ok(),
                duration: f.next().unwrap().parse().unwrap_or(-1),
                key: f.next().unwrap().starts_with('K'),
            }
        })
        .collect()
}

/// Decodes the whole file with ffprobe (`-count_frames`); returns the frames decoded and
/// what ffprobe printed at level `error`.
fn ffprobe_decode(path: &Path, input_args: &[&str]) -> (u64, String) {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(input_args)
        .args([
            "-count_frames",
            "-select_streams",
            "0",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ffprobe failed on {path:?}: {stderr}");
    let n = String::from_utf8_lossy(&out.stdout)
        .trim()
        .trim_end_matches(',')
        .parse()
        .unwrap_or_else(|e| panic!("ffprobe frame count of {path:?}: {e}"));
    (n, stderr)
}

fn read_all(kind: MediaFileKind, file: &[u8]) -> (Bytes, Vec<FileFrame>) {
    let mut r = MediaFileReader::new(kind, Bytes::copy_from_slice(file)).unwrap();
    let header = r.header();
    let frames = r.by_ref().collect::<Result<Vec<_>, _>>().unwrap();
    (header, frames)
}

fn write_all<'a>(
    kind: MediaFileKind,
    header: &[u8],
    frames: impl IntoIterator<Item = &'a FileFrame>,
) -> Vec<u8> {
    let mut w = MediaFileWriter::new(kind, header).unwrap();
    for f in frames {
        w.write_file_frame(f).unwrap();
    }
    w.finish().unwrap()
}

/// Reads `file`, writes it back (byte-identical) and has ffprobe decode the rewrite without
/// an error. Returns the frames.
fn round_trip(
    dir: &Path,
    name: &str,
    kind: MediaFileKind,
    file: &[u8],
    probe_args: &[&str],
) -> Vec<FileFrame> {
    let (header, frames) = read_all(kind, file);
    let again = write_all(kind, &header, &frames);
    assert!(again == file, "{name}: rewrite is byte-identical");
    let path = dir.join(format!("rewritten-{name}"));
    std::fs::write(&path, &again).unwrap();
    let (decoded, errors) = ffprobe_decode(&path, probe_args);
    assert!(errors.is_empty(), "{name}: ffprobe errors: {errors}");
    assert!(decoded > 0);
    frames
}

/// Rewrites without the frames at `lost`; ffprobe must decode the result. Returns the
/// frames ffprobe decoded and the bytes.
fn with_lost_frames(
    dir: &Path,
    name: &str,
    kind: MediaFileKind,
    file: &[u8],
    lost: &[usize],
    probe_args: &[&str],
) -> (u64, Vec<u8>) {
    let (header, frames) = read_all(kind, file);
    let kept = frames
        .iter()
        .enumerate()
        .filter(|(i, _)| !lost.contains(i))
        .map(|(_, f)| f);
    let out = write_all(kind, &header, kept);
    let path = dir.join(format!("lossy-{name}"));
    std::fs::write(&path, &out).unwrap();
    // Concealment warnings are expected; ffprobe must still get through the file.
    let (decoded, _) = ffprobe_decode(&path, probe_args);
    (decoded, out)
}

fn key_indexes(frames: &[FileFrame]) -> Vec<usize> {
    frames
        .iter()
        .enumerate()
        .filter(|(_, f)| f.reference)
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn debian_ffmpeg_has_the_encoders() {
    for e in ["libx264", "libaom-av1", "libopus", "pcm_mulaw"] {
        require_encoder(e);
    }
    println!(
        "ffmpeg encoders: libx264 yes, libaom-av1 yes, libopus yes, libsvtav1 {}, librav1e {}",
        if has_encoder("libsvtav1") {
            "yes"
        } else {
            "no"
        },
        if has_encoder("librav1e") { "yes" } else { "no" },
    );
}

#[test]
fn h264_baseline_and_high_profile_clips() {
    require_encoder("libx264");
    for (profile, idc) in [("baseline", 66), ("high", 100)] {
        let dir = work_dir(&format!("h264_{profile}"));
        let path = dir.join("clip.h264");
        let input = video_input("2");
        let input: Vec<&str> = input.iter().map(String::as_str).collect();
        let file = ffmpeg(
            &input,
            &[
                "-pix_fmt",
                "yuv420p",
                "-c:v",
                "libx264",
                "-profile:v",
                profile,
                "-preset",
                "fast",
                "-g",
                "30",
                "-f",
                "h264",
            ],
            &path,
        );
        let frames = round_trip(&dir, "clip.h264", MediaFileKind::H264AnnexB, &file, &[]);
        assert_eq!(frames.len(), 60, "{profile}: one frame per access unit");
        let probe = ffprobe_packets(&path, &[]);
        assert_eq!(probe.len(), 60);
        let probe_keys: Vec<usize> = (0..60).filter(|&i| probe[i].key).collect();
        assert_eq!(
            key_indexes(&frames),
            probe_keys,
            "{profile}: IDRs = ffprobe key packets"
        );
        assert_eq!(key_indexes(&frames), vec![0, 30]);
        // Timestamps from the SPS VUI (x264 writes time_scale 60, num_units_in_tick 1).
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f.timestamp_ms, i as u64 * 1000 / 30, "{profile} frame {i}");
            assert!(f.duration_ms == 33 || f.duration_ms == 34);
            assert!(f.side_info.is_empty() && f.layer_id.is_none());
        }
        assert_eq!(
            video_size(MediaFileKind::H264AnnexB, &frames[0].payload),
            Some((320, 180)),
            "{profile}: cropped SPS size"
        );
        assert_eq!(
            video_size(MediaFileKind::H264AnnexB, &frames[1].payload),
            None
        );
        let sps = frames[0]
            .payload
            .windows(4)
            .position(|w| w[..3] == [0, 0, 1] && w[3] & 0x1f == 7)
            .unwrap();
        assert_eq!(frames[0].payload[sps + 4], idc, "{profile}: profile_idc");
        // Lost P frames (and a lost IDR): still a stream ffprobe decodes.
        let (decoded, _) = with_lost_frames(
            &dir,
            "clip.h264",
            MediaFileKind::H264AnnexB,
            &file,
            &[5, 6, 30, 59],
            &[],
        );
        assert!(
            decoded >= 30,
            "{profile}: {decoded} frames decoded after losses"
        );
    }
}

fn av1_clip(encoder: &str, extra: &[&str]) {
    require_encoder(encoder);
    let dir = work_dir(encoder);
    let path = dir.join("clip.ivf");
    let input = video_input("2");
    let mut input: Vec<&str> = input.iter().map(String::as_str).collect();
    input.extend_from_slice(&["-pix_fmt", "yuv420p", "-c:v", encoder, "-g", "30"]);
    let mut args = extra.to_vec();
    args.extend_from_slice(&["-f", "ivf"]);
    let file = ffmpeg(&input, &args, &path);
    let frames = round_trip(&dir, "clip.ivf", MediaFileKind::Av1Ivf, &file, &[]);
    assert_eq!(frames.len(), 60, "{encoder}: one frame per temporal unit");
    let probe = ffprobe_packets(&path, &[]);
    assert_eq!(probe.len(), 60);
    let probe_keys: Vec<usize> = (0..60).filter(|&i| probe[i].key).collect();
    assert_eq!(
        key_indexes(&frames),
        probe_keys,
        "{encoder}: key frames = ffprobe's"
    );
    assert_eq!(key_indexes(&frames)[0], 0);
    for (i, f) in frames.iter().enumerate() {
        // Timebase 1/30 and pts = frame index.
        assert_eq!(f.timestamp_ms, i as u64 * 1000 / 30, "{encoder} frame {i}");
        assert!(f.duration_ms == 33 || f.duration_ms == 34);
        assert_eq!(f.side_info[0], 0x11);
    }
    assert_eq!(
        video_size(MediaFileKind::Av1Ivf, &frames[0].payload),
        Some((320, 180)),
        "{encoder}: sequence header max frame size"
    );
    let (decoded, out) = with_lost_frames(
        &dir,
        "clip.ivf",
        MediaFileKind::Av1Ivf,
        &file,
        &[3, 4, 59],
        &[],
    );
    assert_eq!(
        out.len(),
        file.len() - 3 * 12 - {
            [3, 4, 59]
                .iter()
                .map(|&i| frames[i].payload.len())
                .sum::<usize>()
        }
    );
    assert!(
        decoded >= 3,
        "{encoder}: {decoded} frames decoded after losses"
    );
}

#[test]
fn av1_libaom_clip() {
    av1_clip("libaom-av1", &["-cpu-used", "8"]);
}

#[test]
fn av1_libsvtav1_clip() {
    if !has_encoder("libsvtav1") {
        println!("SKIPPED: this ffmpeg has no libsvtav1 encoder");
        return;
    }
    av1_clip("libsvtav1", &["-preset", "12"]);
}

fn opus_clip(name: &str, page_args: &[&str]) -> (PathBuf, Vec<u8>) {
    require_encoder("libopus");
    let dir = work_dir(name);
    let path = dir.join("clip.opus");
    let mut args = vec!["-c:a", "libopus", "-b:a", "48k"];
    args.extend_from_slice(page_args);
    let file = ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "5",
        ],
        &args,
        &path,
    );
    (path, file)
}

fn check_opus(name: &str, page_args: &[&str], packets_per_page: std::ops::RangeInclusive<usize>) {
    let (path, file) = opus_clip(name, page_args);
    let dir = path.parent().unwrap().to_path_buf();
    let frames = round_trip(&dir, "clip.opus", MediaFileKind::OggOpus, &file, &[]);
    // 5 s plus the 312-sample pre-skip: 251 packets of 20 ms.
    assert_eq!(frames.len(), 251, "{name}");
    let probe = ffprobe_packets(&path, &[]);
    assert_eq!(probe.len(), frames.len());
    for (i, f) in frames.iter().enumerate() {
        let toc = OpusPacket::parse(&f.payload).unwrap();
        assert_eq!(toc.samples_48k(), 960, "{name} packet {i}: TOC says 20 ms");
        assert_eq!(f.duration_ms, 20);
        assert_eq!(f.timestamp_ms, i as u64 * 20, "{name} packet {i}");
        assert!(f.reference);
        // ffprobe trims the last packet to the end of the audio; the others are 960.
        if i + 1 < frames.len() {
            assert_eq!(probe[i].duration, 960);
        }
    }
    let (header, _) = read_all(MediaFileKind::OggOpus, &file);
    assert_eq!(&header[..2], &[0x21, 0x01], "{name}: v1, ends with EOS");
    let head_packet = OggPackets::new(&header[2..]).next().unwrap().unwrap();
    let head = OpusHead::parse(&head_packet.data).unwrap();
    assert_eq!((head.channels, head.pre_skip), (1, 312));
    let audio_pages = OggPages::new(&file).count() - OggPages::new(&header[2..]).count();
    let per_page = frames.len() as f64 / audio_pages as f64;
    assert!(
        packets_per_page.contains(&(per_page.round() as usize)),
        "{name}: {per_page:.1} packets a page"
    );
    // Losses: the first packet, two runs that include page ends, the last packet.
    let lost: Vec<usize> = [0, 49, 50, 51, 99, 100, 250].to_vec();
    let (decoded, out) =
        with_lost_frames(&dir, "clip.opus", MediaFileKind::OggOpus, &file, &lost, &[]);
    // Losses inside the stream are replaced by concealment packets (one per lost 20 ms
    // packet, like the packets around them); the first and last are not.
    assert_eq!(
        decoded as usize,
        frames.len() - 2,
        "{name}: decoded packets"
    );
    let (_, again) = read_all(MediaFileKind::OggOpus, &out);
    assert_eq!(again.len(), frames.len() - 2);
    assert!(
        OggPages::new(&out).last().unwrap().unwrap().header.is_eos(),
        "{name}: EOS kept"
    );
    // Every packet keeps its time, for ffprobe and for our reader.
    let lossy_probe = ffprobe_packets(&dir.join("lossy-clip.opus"), &[]);
    assert_eq!(lossy_probe.len(), again.len());
    for (i, (p, a)) in lossy_probe.iter().zip(&again).enumerate() {
        let original = i + 1; // packet 0 is gone
        assert_eq!(
            p.pts, probe[original].pts,
            "{name}: ffprobe pts of packet {original}"
        );
        assert_eq!(a.timestamp_ms, frames[original].timestamp_ms);
        if lost.contains(&original) {
            assert_eq!(a.payload.len(), 1, "{name}: concealment packet");
        } else {
            assert_eq!(a.payload, frames[original].payload);
        }
    }
}

#[test]
fn ogg_opus_default_pages() {
    // ffmpeg's default page duration is 1 s: about 50 packets a page.
    check_opus("opus_default", &[], 40..=51);
}

#[test]
fn ogg_opus_20ms_pages() {
    check_opus("opus_20ms", &["-page_duration", "20000"], 1..=1);
}

#[cfg(feature = "libopus")]
#[test]
fn ffmpeg_opus_packets_decode_with_our_decoder() {
    use newmedia_client::codec::opus::OpusDecoder;
    let (_, file) = opus_clip("opus_decode", &[]);
    let (_, frames) = read_all(MediaFileKind::OggOpus, &file);
    let mut dec = OpusDecoder::new(48000, 1).unwrap();
    let mut pcm = Vec::new();
    for f in &frames {
        let out = dec.decode(&f.payload).unwrap();
        assert_eq!(
            out.len() as u32,
            OpusPacket::parse(&f.payload).unwrap().samples_48k(),
            "libopus decodes as many samples as the TOC says"
        );
        pcm.extend(out);
    }
    // ffmpeg's sine source is 1/8 of full scale: RMS about 4096 / sqrt(2) = 2896.
    let body = &pcm[48000..4 * 48000];
    let rms = (body.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / body.len() as f64).sqrt();
    assert!((2000.0..3800.0).contains(&rms), "RMS {rms:.0}");
}

#[test]
fn mulaw_clip() {
    require_encoder("pcm_mulaw");
    let dir = work_dir("mulaw");
    let path = dir.join("clip.ulaw");
    let file = ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=8000",
            "-t",
            "5",
        ],
        &["-ac", "1", "-c:a", "pcm_mulaw", "-f", "mulaw"],
        &path,
    );
    assert_eq!(file.len(), 40_000);
    let probe = ["-f", "mulaw", "-ar", "8000", "-ac", "1"];
    let frames = round_trip(&dir, "clip.ulaw", MediaFileKind::Mulaw, &file, &probe);
    assert_eq!(frames.len(), 250);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.payload.len(), MULAW_FRAME_BYTES);
        assert_eq!((f.timestamp_ms, f.duration_ms), (i as u64 * 20, 20));
    }
    // Lost frames are filled with silence: same length, same timing after the gap.
    let (_, out) = with_lost_frames(
        &dir,
        "clip.ulaw",
        MediaFileKind::Mulaw,
        &file,
        &[10, 11, 200],
        &probe,
    );
    assert_eq!(out.len(), file.len());
    assert!(out[1600..1920].iter().all(|&b| b == 0xFF));
    assert!(out[32_000..32_160].iter().all(|&b| b == 0xFF));
    assert_eq!(out[..1600], file[..1600]);
    assert_eq!(out[1920..32_000], file[1920..32_000]);
    assert_eq!(out[32_160..], file[32_160..]);
}
