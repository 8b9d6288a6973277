//! Fan-out benchmark: one publisher -> N subscribers through a real `newmedia-sfu` process.
//!
//! ```sh
//! cargo build --release -p newmedia-sfu --bin newmedia-sfu --example fanout
//! target/release/examples/fanout --subscribers 10,50,200 --rate 3000 --seconds 10
//! ```
//!
//! For each N it starts the SFU binary on loopback, admits the endpoints through the admin
//! API, connects N subscribers (one QUIC connection each) and a publisher that sends
//! `--size`-byte RTP3 datagrams at `--rate` per second, and reports:
//! - forwarded datagrams per SFU CPU-second (the SFU process's own utime+stime from /proc),
//! - p50/p99 latency from send to receive (both ends in this process, same clock: SFU
//!   forwarding plus two loopback hops and both QUIC stacks),
//! - delivered fraction (loss), and
//! - RSS per subscriber: (RSS with N subscribers - RSS before any connection) / N.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock
#![allow(clippy::zombie_processes)] // the child is killed and waited for in `Sfu::drop`

use bytes::Bytes;
use newmedia_proto::control::{ControlMessage, Subscribe, SubscribeTarget};
use newmedia_proto::crypto::{Algorithm, MessageKey};
use newmedia_proto::grant::{MediaKind, Publication};
use newmedia_proto::rtp3::{HeaderView, Headers, Sealer};
use newmedia_sfu::admission::tls::Identity;
use newmedia_sfu::testing::{TestClient, client_endpoint};
use std::net::SocketAddr;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Args {
    subscribers: Vec<usize>,
    rate: u64,
    seconds: u64,
    size: usize,
    sfu: String,
    workers: usize,
}

fn args() -> Args {
    let mut a = Args {
        subscribers: vec![10, 50, 200],
        rate: 3000,
        seconds: 10,
        size: 1100,
        sfu: "target/release/newmedia-sfu".into(),
        workers: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--subscribers" => {
                a.subscribers = value.split(',').map(|n| n.parse().unwrap()).collect()
            }
            "--rate" => a.rate = value.parse().unwrap(),
            "--seconds" => a.seconds = value.parse().unwrap(),
            "--size" => a.size = value.parse().unwrap(),
            "--sfu" => a.sfu = value,
            "--workers" => a.workers = value.parse().unwrap(),
            _ => panic!("unknown flag {flag}"),
        }
    }
    a
}

fn free_port(udp: bool) -> u16 {
    if udp {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    } else {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }
}

/// CPU seconds (user + system) and RSS bytes of a process, from /proc.
fn proc_usage(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    let hz = 100.0; // USER_HZ on Linux
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap();
    (ticks / hz, rss_kb * 1024)
}

async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: sfu\r\nAuthorization: Bearer bench\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response.split(' ').nth(1).unwrap().parse().unwrap()
}

struct Sfu {
    child: Child,
    media: SocketAddr,
    http: SocketAddr,
    identity_fp: [u8; 32],
}

impl Drop for Sfu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_sfu(args: &Args) -> Sfu {
    let dir = std::env::temp_dir().join(format!("nm-fanout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let fp = newmedia_sfu::admission::tls::fingerprint(cert.cert.der());
    let media: SocketAddr = format!("127.0.0.1:{}", free_port(true)).parse().unwrap();
    let http: SocketAddr = format!("127.0.0.1:{}", free_port(false)).parse().unwrap();
    let child = Command::new(&args.sfu)
        .args([
            "--listen",
            &media.to_string(),
            "--http-listen",
            &http.to_string(),
        ])
        .args([
            "--admin-token",
            "bench",
            "--workers",
            &args.workers.to_string(),
        ])
        .args(["--log-level", "warn"])
        .arg("--tls-cert")
        .arg(dir.join("cert.pem"))
        .arg("--tls-key")
        .arg(dir.join("key.pem"))
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {}: {e} (build it with --release first)",
                args.sfu
            )
        });
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(http).await.is_ok() {
            return Sfu {
                child,
                media,
                http,
                identity_fp: fp,
            };
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("SFU did not come up");
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

async fn run(args: &Args, n: usize) {
    let sfu = start_sfu(args).await;
    let pid = sfu.child.id();
    let (_, rss_empty) = proc_usage(pid);
    let conference = 1;
    assert_eq!(
        http(
            sfu.http,
            "POST",
            "/v1/conferences",
            &format!(r#"{{"conferenceID":{conference}}}"#)
        )
        .await,
        201
    );
    let publication = Publication {
        source_id: 1,
        encoding_id: 1,
        kind: MediaKind::Video,
        width: Some(1280),
        height: Some(720),
        max_bitrate: Some(30_000_000),
        frame_rate: Some(30),
    };
    let geid = publication.global_encoding_id(conference, 1);
    let endpoint = client_endpoint("127.0.0.1:0".parse().unwrap()).unwrap();
    let mut identities = Vec::new();
    for ep in 1..=(n as u64 + 1) {
        let id = Identity::self_signed(vec![format!("ep{ep}")]).unwrap();
        let pubs = if ep == 1 {
            format!(r#"[{}]"#, serde_json::to_string(&publication).unwrap())
        } else {
            "[]".into()
        };
        let body = format!(
            r#"{{"fingerprint":"{}","publications":{pubs}}}"#,
            hex(&id.fingerprint())
        );
        assert_eq!(
            http(
                sfu.http,
                "PUT",
                &format!("/v1/conferences/{conference}/endpoints/{ep}"),
                &body
            )
            .await,
            201
        );
        identities.push(id);
    }
    let publisher = TestClient::connect(
        &endpoint,
        sfu.media,
        sfu.identity_fp,
        &identities[0],
        1,
        None,
    )
    .await
    .unwrap();
    let start = Instant::now();
    let received = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let mut receivers = Vec::new();
    for (i, id) in identities.iter().enumerate().skip(1) {
        let mut sub = TestClient::connect(
            &endpoint,
            sfu.media,
            sfu.identity_fp,
            id,
            i as u64 + 1,
            None,
        )
        .await
        .unwrap();
        sub.send_control(ControlMessage::Subscribe(Subscribe {
            request_id: 1,
            target: SubscribeTarget::Encoding(geid),
            max_layer: None,
        }))
        .await
        .unwrap();
        let _ = sub.next_control().await.unwrap();
        let (received, measuring) = (received.clone(), measuring.clone());
        receivers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(1 << 16);
            while let Ok(d) = sub.recv_datagram().await {
                let now = start.elapsed().as_nanos() as u64;
                let view = HeaderView::parse(&d).unwrap();
                let sent = u64::from_be_bytes(view.sealed_payload()[..8].try_into().unwrap());
                if measuring.load(Relaxed) {
                    received.fetch_add(1, Relaxed);
                    latencies.push((now.saturating_sub(sent) / 1000) as u32);
                }
            }
            latencies
        }));
    }
    let sealer = Sealer::new(
        MessageKey::derive(Algorithm::Null, b"", conference, 1, geid),
        [0; 12],
    );
    let payload_len = args.size - 20; // headers + payload field header are ~20 bytes
    let mut payload = vec![0xab; payload_len];
    let mut out = Vec::with_capacity(args.size + 32);
    let mut seq = 0u64;
    // Warm up for one second, then measure.
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    let mut credit = 0.0f64;
    let per_tick = args.rate as f64 / 1000.0;
    let warmup_end = Instant::now() + Duration::from_secs(1);
    let mut cpu0 = None;
    let end = warmup_end + Duration::from_secs(args.seconds);
    let mut sent_measured = 0u64;
    loop {
        ticker.tick().await;
        let now = Instant::now();
        if now >= end {
            break;
        }
        if now >= warmup_end && cpu0.is_none() {
            cpu0 = Some((proc_usage(pid).0, Instant::now()));
            measuring.store(true, Relaxed);
        }
        credit += per_tick;
        while credit >= 1.0 {
            credit -= 1.0;
            let mut h = Headers::new(geid, seq);
            h.reference_frame = Some(seq.is_multiple_of(90));
            h.layer_id = Some(0);
            seq += 1;
            payload[..8].copy_from_slice(&(start.elapsed().as_nanos() as u64).to_be_bytes());
            out.clear();
            sealer.seal(&h, &payload, &mut out).unwrap();
            if publisher
                .send_datagram(Bytes::copy_from_slice(&out))
                .is_ok()
                && cpu0.is_some()
            {
                sent_measured += 1;
            }
        }
    }
    let (cpu1, t1) = (proc_usage(pid).0, Instant::now());
    let (cpu0, t0) = cpu0.unwrap();
    measuring.store(false, Relaxed);
    let (_, rss_full) = proc_usage(pid);
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(sfu);
    let mut latencies = Vec::new();
    for r in receivers {
        latencies.extend(r.await.unwrap());
    }
    latencies.sort_unstable();
    let delivered = received.load(Relaxed);
    let cpu = cpu1 - cpu0;
    let wall = (t1 - t0).as_secs_f64();
    println!(
        "N={n:4} rate={}/s size={}B: forwarded {:>9.0}/s, SFU CPU {:.2} cores, {:>9.0} forwarded/CPU-s, delivered {:.4}, latency p50 {:.3} ms p99 {:.3} ms, RSS/subscriber {:.0} KiB",
        args.rate,
        args.size,
        delivered as f64 / wall,
        cpu / wall,
        delivered as f64 / cpu,
        delivered as f64 / (sent_measured as f64 * n as f64),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        (rss_full.saturating_sub(rss_empty)) as f64 / n as f64 / 1024.0,
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for &n in &args.subscribers {
            run(&args, n).await;
        }
    });
}
