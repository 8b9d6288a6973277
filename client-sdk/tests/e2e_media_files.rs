//! The SDK end to end with real codec streams (issue: "real codec streams end to end through
//! the SFU"): ffmpeg makes a 5 s H.264 clip (libx264), an AV1 clip (libaom-av1, IVF), an Opus
//! track and a µ-law track; the `publish` example sends each through a real `newmedia-sfu`
//! process on loopback to three `subscribe` example processes; every subscriber's file must
//! be byte-identical to the input and ffprobe must decode it. Two of the three subscribers
//! reach the SFU through a path that drops 5 % of datagrams each way, so retransmission has
//! to deliver every frame.
//!
//! Needs ffmpeg/ffprobe (`bash .ci/setup`) and the workspace's binaries and examples built
//! (`cargo build --workspace --all-targets`, as `.ci/run` does).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use newmedia_client::identity::Identity;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use support::lossy_proxy::LossyProxy;
use support::{PATIENCE, admin, within};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const TOKEN: &str = "e2e-admin-token";
const SECRET: &str = "e2e secret";

/// `target/debug`, from this test's executable (`target/debug/deps/...`).
fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn binary(relative: &str) -> PathBuf {
    let path = build_dir().join(relative);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --all-targets` first",
        path.display()
    );
    path
}

fn ffmpeg(args: &[&str], out: &Path) {
    let status = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .arg(out)
        .status()
        .expect("ffmpeg runs (bash .ci/setup installs it)");
    assert!(status.success(), "ffmpeg {args:?} failed");
}

fn ffprobe_decodes(path: &Path) {
    // Raw µ-law has no header: ffprobe needs its format.
    let raw: &[&str] = if path.extension().is_some_and(|e| e == "ulaw") {
        &["-f", "mulaw", "-ar", "8000", "-ac", "1"]
    } else {
        &[]
    };
    let out = std::process::Command::new("ffprobe")
        .args(raw)
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    let frames: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(
        out.status.success() && frames > 0 && out.stderr.is_empty(),
        "ffprobe decodes {}: {} frames, {}",
        path.display(),
        frames,
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Clip {
    name: &'static str,
    kind: &'static str,
    codec: &'static str,
    file: PathBuf,
}

fn make_clips(dir: &Path) -> Vec<Clip> {
    let video = [
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x180:rate=30",
        "-t",
        "5",
        "-pix_fmt",
        "yuv420p",
    ];
    let audio = ["-f", "lavfi", "-i", "sine=frequency=440:duration=5"];
    let h264 = dir.join("clip.h264");
    let mut args = video.to_vec();
    args.extend([
        "-c:v", "libx264", "-preset", "fast", "-g", "30", "-f", "h264",
    ]);
    ffmpeg(&args, &h264);
    let av1 = dir.join("clip.ivf");
    let mut args = video.to_vec();
    args.extend([
        "-c:v",
        "libaom-av1",
        "-cpu-used",
        "8",
        "-g",
        "30",
        "-f",
        "ivf",
    ]);
    ffmpeg(&args, &av1);
    let opus = dir.join("clip.opus");
    let mut args = audio.to_vec();
    args.extend(["-c:a", "libopus", "-b:a", "48k"]);
    ffmpeg(&args, &opus);
    let ulaw = dir.join("clip.ulaw");
    let mut args = audio.to_vec();
    args.extend([
        "-ar",
        "8000",
        "-ac",
        "1",
        "-c:a",
        "pcm_mulaw",
        "-f",
        "mulaw",
    ]);
    ffmpeg(&args, &ulaw);
    vec![
        Clip {
            name: "h264",
            kind: "video",
            codec: "h264",
            file: h264,
        },
        Clip {
            name: "av1",
            kind: "video",
            codec: "av1",
            file: av1,
        },
        Clip {
            name: "opus",
            kind: "audio",
            codec: "opus",
            file: opus,
        },
        Clip {
            name: "ulaw",
            kind: "audio",
            codec: "g711",
            file: ulaw,
        },
    ]
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const TRACK_CODEC: &str = "data;reliable=1;ordered=1";

fn publisher_proposal(conference: u64, clip: &Clip, sfu: &str, fingerprint: &str) -> String {
    format!(
        r#"{{"sendTo":[{{"local":"{sfu}","stunSecret":"s","tlsFingerprintSHA256":"{fingerprint}"}}],
  "sendStreams":[
    {{"conferenceID":{conference},"endpointID":1,"sourceID":1,"encodingID":1,"codecName":"{}",
      "AEAD":"AES128-GCM","secret":"{SECRET}"}},
    {{"conferenceID":{conference},"endpointID":1,"sourceID":2,"encodingID":1,"codecName":"{TRACK_CODEC}",
      "AEAD":"AES128-GCM","secret":"{SECRET}"}}]}}"#,
        clip.codec
    )
}

fn subscriber_proposal(conference: u64, clip: &Clip, sfu: &str, fingerprint: &str) -> String {
    format!(
        r#"{{"sendTo":[{{"local":"{sfu}","stunSecret":"s","tlsFingerprintSHA256":"{fingerprint}"}}],
  "receiveStreams":[
    {{"conferenceID":{conference},"endpointID":1,"sourceID":1,"encodingID":1,"sinkID":1,
      "codecName":"{}","AEAD":"AES128-GCM","secret":"{SECRET}"}},
    {{"conferenceID":{conference},"endpointID":1,"sourceID":2,"encodingID":1,"sinkID":2,
      "codecName":"{TRACK_CODEC}","AEAD":"AES128-GCM","secret":"{SECRET}"}}]}}"#,
        clip.codec
    )
}

async fn admit(
    http: std::net::SocketAddr,
    conference: u64,
    endpoint: u64,
    fp: &str,
    publications: &str,
) {
    let (status, body) = admin::request(
        http,
        TOKEN,
        "PUT",
        &format!("/v1/conferences/{conference}/endpoints/{endpoint}"),
        &format!(r#"{{"fingerprint":"{fp}","publications":{publications}}}"#),
    )
    .await;
    assert!(status == 201 || status == 200, "admit: {status} {body}");
}

/// Spawns a process, echoing its output with a prefix; resolves the returned future when a
/// line containing `ready` appears.
fn spawn(
    label: String,
    program: &Path,
    args: &[String],
) -> (Child, tokio::sync::oneshot::Receiver<()>) {
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut tx = Some(tx);
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            println!("[{label}] {line}");
            if (line.contains("subscribed") || line.contains("listening"))
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(());
            }
        }
    });
    (child, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_codec_files_arrive_byte_identical_at_three_subscribers_despite_loss() {
    let dir = std::env::temp_dir().join(format!("nm-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let clips = make_clips(&dir);

    // The SFU, as its own process, with a certificate we know the fingerprint of.
    let sfu_identity = Identity::self_signed().unwrap();
    let (cert, key) = sfu_identity.to_pem();
    std::fs::write(dir.join("sfu-cert.pem"), cert).unwrap();
    std::fs::write(dir.join("sfu-key.pem"), key).unwrap();
    let fingerprint = sfu_identity.fingerprint().to_hex();
    let media: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let http: std::net::SocketAddr = format!("127.0.0.1:{}", free_tcp_port()).parse().unwrap();
    let mut sfu = Command::new(binary("newmedia-sfu"))
        .args([
            "--listen",
            &media.to_string(),
            "--http-listen",
            &http.to_string(),
        ])
        .args([
            "--admin-token",
            TOKEN,
            "--workers",
            "1",
            "--log-level",
            "warn",
        ])
        .arg("--tls-cert")
        .arg(dir.join("sfu-cert.pem"))
        .arg("--tls-key")
        .arg(dir.join("sfu-key.pem"))
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    within("the SFU's admin API", async {
        while tokio::net::TcpStream::connect(http).await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let lossy = LossyProxy::start(media, 0.05, 2026).await;

    let publish = binary("examples/publish");
    let subscribe = binary("examples/subscribe");
    let mut subscribers = Vec::new();
    let mut publishers = Vec::new();
    let mut outputs = Vec::new();
    for (i, clip) in clips.iter().enumerate() {
        let conference = 100 + i as u64;
        let (status, body) = admin::request(
            http,
            TOKEN,
            "POST",
            "/v1/conferences",
            &format!(r#"{{"conferenceID":{conference}}}"#),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let pub_dir = dir.join(format!("{}-publisher", clip.name));
        let pub_fp = Identity::load_or_create(&pub_dir)
            .unwrap()
            .fingerprint()
            .to_hex();
        admit(
            http,
            conference,
            1,
            &pub_fp,
            &format!(
                r#"[{{"sourceID":1,"encodingID":1,"kind":"{}"}},{{"sourceID":2,"encodingID":1,"kind":"data"}}]"#,
                clip.kind
            ),
        )
        .await;
        let pub_proposal = dir.join(format!("{}-publisher.json", clip.name));
        std::fs::write(
            &pub_proposal,
            publisher_proposal(conference, clip, &media.to_string(), &fingerprint),
        )
        .unwrap();
        for s in 0..3u64 {
            let sub_dir = dir.join(format!("{}-subscriber-{s}", clip.name));
            let fp = Identity::load_or_create(&sub_dir)
                .unwrap()
                .fingerprint()
                .to_hex();
            admit(http, conference, 10 + s, &fp, "[]").await;
            // Subscriber 0 reaches the SFU directly, 1 and 2 through the lossy path.
            let via = if s == 0 { media } else { lossy.addr };
            let proposal = dir.join(format!("{}-subscriber-{s}.json", clip.name));
            std::fs::write(
                &proposal,
                subscriber_proposal(conference, clip, &via.to_string(), &fingerprint),
            )
            .unwrap();
            let out = dir.join(format!(
                "{}-out-{s}.{}",
                clip.name,
                clip.file.extension().unwrap().to_str().unwrap()
            ));
            let args = vec![
                "--proposal".into(),
                proposal.display().to_string(),
                "--identity".into(),
                sub_dir.display().to_string(),
                "--out".into(),
                out.display().to_string(),
            ];
            let (child, ready) = spawn(format!("{} sub {s}", clip.name), &subscribe, &args);
            subscribers.push((child, ready));
            outputs.push((clip.file.clone(), out));
        }
        publishers.push((clip, pub_dir, pub_proposal));
    }
    for (_, ready) in &mut subscribers {
        within("a subscriber subscribed", ready).await.unwrap();
    }
    let mut running = Vec::new();
    for (clip, pub_dir, proposal) in publishers {
        let args = vec![
            "--proposal".into(),
            proposal.display().to_string(),
            "--identity".into(),
            pub_dir.display().to_string(),
            "--file".into(),
            clip.file.display().to_string(),
            "--realtime".into(),
        ];
        running.push(spawn(format!("{} pub", clip.name), &publish, &args).0);
    }
    let wait_all = async {
        for mut p in running {
            assert!(p.wait().await.unwrap().success(), "a publisher failed");
        }
        for (mut s, _) in subscribers {
            assert!(s.wait().await.unwrap().success(), "a subscriber failed");
        }
    };
    tokio::time::timeout(PATIENCE * 3, wait_all)
        .await
        .expect("publishers and subscribers finish");
    for (input, output) in &outputs {
        let want = std::fs::read(input).unwrap();
        let got = std::fs::read(output).unwrap();
        assert!(
            got == want,
            "{} differs from {} ({} vs {} bytes)",
            output.display(),
            input.display(),
            got.len(),
            want.len()
        );
        ffprobe_decodes(output);
    }
    assert!(
        lossy
            .stats
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
    let _ = sfu.kill().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
