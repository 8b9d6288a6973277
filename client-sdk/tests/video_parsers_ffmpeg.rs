//! The video frame parsers against real encoder output: ffmpeg makes a 2-second 320x240 clip
//! at 30 fps (60 frames, a key frame every 30) in H.264 (libx264, Annex B) and AV1 (libaom-av1,
//! IVF), and the parsers must find every frame, the key frames, and give back the file
//! byte for byte.
//!
//! ffmpeg is required: when it is missing the tests fail and say how to install it.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;

use newmedia_client::codec::av1::TemporalUnit;
use newmedia_client::codec::h264::{AccessUnits, NAL_IDR_SLICE, NAL_SPS};
use newmedia_client::codec::ivf::{IvfReader, write_ivf_frame, write_ivf_header};

fn work_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("video_parsers_ffmpeg_{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs ffmpeg with a 2 s 320x240 30 fps test source and `args`, writing `out`.
fn ffmpeg(args: &[&str], out: &Path) -> Vec<u8> {
    let status = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=30",
            "-t",
            "2",
        ])
        .args(args)
        .arg(out)
        .status();
    match status {
        Err(e) => panic!(
            "cannot run ffmpeg ({e}); install it with `bash .ci/setup` (it installs ffmpeg from apt)"
        ),
        Ok(s) => assert!(
            s.success(),
            "ffmpeg {args:?} failed ({s}); run `bash .ci/setup` to install an ffmpeg with \
             libx264 and libaom-av1"
        ),
    }
    std::fs::read(out).unwrap()
}

#[test]
fn h264_access_units_of_an_x264_clip() {
    let dir = work_dir("h264");
    let path = dir.join("clip.h264");
    let file = ffmpeg(
        &[
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "30",
            "-bf",
            "0",
            "-f",
            "h264",
        ],
        &path,
    );
    let aus: Vec<_> = AccessUnits::new(&file)
        .collect::<Result<_, _>>()
        .expect("the clip parses");
    assert_eq!(aus.len(), 60, "one access unit per frame");
    let idrs: Vec<usize> = aus
        .iter()
        .enumerate()
        .filter(|(_, au)| au.is_idr)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(idrs, vec![0, 30]);
    assert!(aus[0].has_nal_type(NAL_SPS) && aus[0].has_nal_type(NAL_IDR_SLICE));
    let joined: Vec<u8> = aus.iter().flat_map(|au| au.bytes.iter().copied()).collect();
    assert!(
        joined == file,
        "access units concatenated give back the file"
    );
    let mut offset = 0;
    for au in &aus {
        assert_eq!(au.offset, offset);
        offset += au.bytes.len();
        for nal in au.nal_units() {
            nal.expect("NAL units of a yielded access unit parse");
        }
    }
}

#[test]
fn av1_temporal_units_of_an_aom_clip() {
    let dir = work_dir("av1");
    let path = dir.join("clip.ivf");
    let file = ffmpeg(
        &[
            "-c:v",
            "libaom-av1",
            "-cpu-used",
            "8",
            "-g",
            "30",
            "-f",
            "ivf",
        ],
        &path,
    );
    let reader = IvfReader::new(&file).expect("IVF header parses");
    let header = *reader.header();
    assert_eq!(&header.fourcc, b"AV01");
    assert_eq!((header.width, header.height), (320, 240));
    let frames: Vec<_> = reader
        .frames()
        .collect::<Result<_, _>>()
        .expect("IVF frames parse");
    assert_eq!(frames.len(), 60);
    assert_eq!(header.frame_count, 60);
    let tus: Vec<_> = frames
        .iter()
        .map(|f| TemporalUnit::parse(f.data).expect("temporal unit parses"))
        .collect();
    assert!(
        tus[0].is_key_frame,
        "the first temporal unit is a key frame"
    );
    assert!(tus[0].has_sequence_header);
    let keys: Vec<usize> = tus
        .iter()
        .enumerate()
        .filter(|(_, t)| t.is_key_frame)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(keys, vec![0, 30], "key frames every 30 frames (-g 30)");
    for t in &tus {
        assert!(t.obu_count >= 1);
    }

    // Rewrite from the parsed header and frames: byte-identical.
    let mut out = Vec::new();
    write_ivf_header(&mut out, &header);
    for f in &frames {
        write_ivf_frame(&mut out, f.pts, f.data).unwrap();
    }
    assert!(out == file, "header + frames rewritten give back the file");
    // And from the kept header bytes.
    let mut out = reader.header_bytes().to_vec();
    for f in &frames {
        write_ivf_frame(&mut out, f.pts, f.data).unwrap();
    }
    assert!(out == file);
}
