//! Shared pieces of the end-to-end connectivity tests: network namespaces the tests create
//! (and always remove), processes run inside them, built artifacts (the `netns_agent`
//! example, the `newmedia-sfu` binary), in-process SDK parties and a frame publisher.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use newmedia_client::agent::{Agent, AgentConfig, AgentEvent};
use newmedia_client::client::{Call, CallSubscription, Client, ClientConfig};
use newmedia_client::clock;
use newmedia_client::control::{Capabilities, MediaSink, MediaSource, VideoCodec};
use newmedia_client::session::OutgoingFrame;
use newmedia_client::signaling::RestClient;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;

/// Every bounded wait for one step (it only turns a hang into a failure).
pub const PATIENCE: Duration = Duration::from_secs(30);

pub async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Log lines of the controller and the node go to the test's output (shown when it fails).
pub fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()))
        .with_test_writer()
        .try_init();
}

/// The capabilities of every party (the same as the `netns_agent` example's): one H.264
/// video source and sink.
pub fn capabilities() -> Capabilities {
    Capabilities::new()
        .source(MediaSource::video(
            2,
            [VideoCodec::new("h264").max_size(1280, 720)],
        ))
        .sink(MediaSink::video(
            2,
            [VideoCodec::new("h264").max_size(1280, 720)],
        ))
}

/// Why a namespace test cannot run here, or `None` when it can (root, `ip netns` works).
pub fn netns_unavailable() -> Option<String> {
    // The effective user ID, from /proc (no libc call needed).
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned));
    if uid.as_deref() != Some("0") {
        return Some("not running as root".to_owned());
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "`ip netns list` failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("`ip` cannot run: {e}")),
    }
}

/// Returns `true` when the namespace test should run; otherwise says why it is skipped. In
/// CI (`CI` set) a machine that cannot run it fails the test instead: CI must run it.
pub fn netns_or_skip(test: &str) -> bool {
    let Some(reason) = netns_unavailable() else {
        return true;
    };
    if std::env::var_os("CI").is_some() {
        panic!("{test}: cannot run network namespace tests in CI: {reason}");
    }
    // Straight to the stream, past the test harness's capture, so the skip is seen.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: needs root and `ip netns` ({reason})"
    );
    false
}

/// Runs a command, panicking with its output when it fails.
pub fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A command's stdout (it must succeed).
pub fn output(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const NETNS_PREFIX: &str = "nmtest-";

/// A network namespace joined to the root namespace by a veth pair, removed on drop (also
/// when the test fails). The root end gets `<net>.1/24`, the namespace end `<net>.2/24`.
///
/// `net` is a /24 of 198.18.0.0/15, the range set aside for benchmarking tests (RFC 2544):
/// no real host has it, and only these two ends carry it. Each namespace takes a /24 no
/// interface of the root namespace uses yet, so tests running at once do not collide.
pub struct Netns {
    pub name: String,
    /// The veth end inside the namespace.
    pub inner_dev: String,
    /// The veth end in the root namespace.
    pub outer_dev: String,
    /// `198.18.x` without the last octet.
    pub net: String,
}

impl Netns {
    /// Creates the namespace `nmtest-<tag>-<pid>` and its veth pair on a free /24 of
    /// 198.18.0.0/15. Namespaces left by an earlier run that was killed are removed first.
    pub fn create(tag: &str) -> Self {
        remove_stale_namespaces();
        let pid = std::process::id();
        let name = format!("{NETNS_PREFIX}{tag}-{pid}");
        // Interface names have at most 15 characters.
        let outer_dev = format!("nm{tag:.3}o{}", pid % 100_000);
        let inner_dev = format!("nm{tag:.3}i{}", pid % 100_000);
        let net = free_net(pid);
        run("ip", &["netns", "add", &name]);
        // From here on, drop removes whatever was made.
        let ns = Self {
            name,
            inner_dev,
            outer_dev,
            net,
        };
        run(
            "ip",
            &[
                "link",
                "add",
                &ns.outer_dev,
                "type",
                "veth",
                "peer",
                "name",
                &ns.inner_dev,
                "netns",
                &ns.name,
            ],
        );
        run(
            "ip",
            &[
                "addr",
                "add",
                &format!("{}.1/24", ns.net),
                "dev",
                &ns.outer_dev,
            ],
        );
        run("ip", &["link", "set", &ns.outer_dev, "up"]);
        ns.ip(&[
            "addr",
            "add",
            &format!("{}.2/24", ns.net),
            "dev",
            &ns.inner_dev,
        ]);
        ns.ip(&["link", "set", &ns.inner_dev, "up"]);
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// The root end's address, `<net>.1`.
    pub fn outer_ip(&self) -> std::net::IpAddr {
        format!("{}.1", self.net).parse().unwrap()
    }

    /// The namespace end's first address, `<net>.2`.
    pub fn inner_ip(&self) -> std::net::IpAddr {
        format!("{}.2", self.net).parse().unwrap()
    }

    /// `<net>.<host>`.
    pub fn addr(&self, host: u8) -> std::net::IpAddr {
        format!("{}.{host}", self.net).parse().unwrap()
    }

    /// `ip -n <ns> <args>`.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run("ip", &all);
    }

    /// `ip netns exec <ns> <program> <args>` (must succeed), its stdout.
    pub fn exec(&self, program: &str, args: &[&str]) -> String {
        let mut all = vec!["netns", "exec", self.name.as_str(), program];
        all.extend_from_slice(args);
        output("ip", &all)
    }

    /// Starts `program` inside the namespace with piped stdin and stdout.
    pub fn spawn(&self, program: &std::path::Path, args: &[String]) -> Helper {
        let mut cmd = tokio::process::Command::new("ip");
        cmd.args(["netns", "exec", &self.name])
            .arg(program)
            .args(args);
        Helper::spawn(cmd)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace destroys its veth end and with it the pair.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.outer_dev])
            .stderr(Stdio::null())
            .status();
    }
}

/// A `198.18.x`/`198.19.x` /24 (without the last octet) that no root namespace address is
/// in, starting from one picked by `seed`.
fn free_net(seed: u32) -> String {
    let used = output("ip", &["-o", "-4", "addr", "show"]);
    (0..510u32)
        .map(|i| (seed + i) % 510 + 1)
        .map(|k| format!("198.{}.{}", 18 + k / 256, k % 256))
        .find(|net| !used.contains(&format!(" {net}.")))
        .expect("a free /24 in 198.18.0.0/15")
}

/// Removes `nmtest-*-<pid>` namespaces whose process is gone (a run killed before its
/// guards ran).
fn remove_stale_namespaces() {
    let Ok(list) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&list.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix(NETNS_PREFIX)
            .and_then(|rest| rest.rsplit('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

/// A built artifact of this workspace next to the test binary (`target/<profile>/<rel>`):
/// `cargo test --workspace` and `cargo build --workspace --all-targets` build them all.
pub fn artifact(rel: &str, build_hint: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test>-<hash>
    let profile_dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let path = profile_dir.join(rel);
    assert!(
        path.exists(),
        "{} is not built; build it first: {build_hint}",
        path.display()
    );
    path
}

/// The `netns_agent` example.
pub fn netns_agent() -> PathBuf {
    artifact(
        "examples/netns_agent",
        "cargo build -p newmedia-controller --example netns_agent",
    )
}

/// The `newmedia-sfu` binary.
pub fn sfu_binary() -> PathBuf {
    artifact(
        "newmedia-sfu",
        "cargo build -p newmedia-sfu --bin newmedia-sfu",
    )
}

/// A child process with line-oriented stdout (each line but `frame` lines, or every line
/// with `E2E_ALL_LINES` set, also echoed to the test's stderr, for the log of a failed run)
/// and stdin. Killed on drop.
pub struct Helper {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: mpsc::UnboundedReceiver<String>,
    /// Every line read so far.
    pub seen: Vec<String>,
}

impl Helper {
    pub fn spawn(mut cmd: tokio::process::Command) -> Self {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawning the helper");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = tokio::io::BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if std::env::var_os("E2E_ALL_LINES").is_some() || !line.starts_with("frame ") {
                    eprintln!("[helper] {line}");
                }
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    /// Sends one command line.
    pub async fn send(&mut self, command: &str) {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .expect("helper stdin");
        self.stdin.flush().await.expect("helper stdin");
    }

    /// The next line (within [`PATIENCE`]).
    pub async fn next_line(&mut self) -> String {
        let line = within("a line from the helper", self.lines.recv())
            .await
            .expect("the helper exited");
        self.seen.push(line.clone());
        line
    }

    /// Reads lines until one whose words `f` maps to `Some`, which it returns.
    pub async fn until<T>(&mut self, what: &str, mut f: impl FnMut(&[&str]) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .unwrap_or_else(|| panic!("the helper exited before {what}"));
            self.seen.push(line.clone());
            let words: Vec<&str> = line.split_whitespace().collect();
            if let Some(t) = f(&words) {
                return t;
            }
        }
    }

    /// Reads lines until `n` `frame` lines arrived; returns their sequence numbers.
    pub async fn frames(&mut self, n: usize) -> Vec<u32> {
        let mut got = Vec::new();
        while got.len() < n {
            let seq = self
                .until(&format!("frame {} of {n}", got.len() + 1), |w| {
                    (w.first() == Some(&"frame")).then(|| w[2].parse::<u32>().unwrap())
                })
                .await;
            got.push(seq);
        }
        got
    }

    /// Kills it now (SIGKILL) and reaps it.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// A test's view of `bytes` frames numbered from a shared counter, so a receiver can tell
/// which frames were sent after an event.
pub fn frame(seq: u32) -> Vec<u8> {
    let mut f = seq.to_be_bytes().to_vec();
    f.extend((0..1200u32).map(|b| (b * 7 + seq) as u8));
    f
}

/// The sequence number [`frame`] put in `payload`.
pub fn seq_of(payload: &[u8]) -> u32 {
    u32::from_be_bytes(payload[..4].try_into().unwrap())
}

/// Publishes frames on `call`'s video publisher every 10 ms, numbered from `next`, until
/// dropped (or the call fails). Every frame is a reference frame, so a new subscriber can
/// start anywhere.
pub struct Publishing {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Publishing {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Publishing {
    pub fn start(call: Arc<Call>, next: Arc<AtomicU32>) -> Self {
        let task = tokio::spawn(async move {
            let Some(cam) = call.publisher(2, 1) else {
                panic!("the call has no video publisher");
            };
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                let payload = frame(seq);
                let mut out = OutgoingFrame::new(&payload, clock::ntp_millis());
                out.reference = true;
                if cam.send(&out).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        Self { task }
    }
}

/// An in-process SDK party: a client bound to `bind`, its agent welcomed by the controller
/// at `url` as `name`.
pub async fn party(url: &str, rest: &RestClient, name: &str, bind: SocketAddr) -> Agent {
    let token = rest.token(name, None).await.unwrap().token;
    let client = Client::start(
        ClientConfig::default()
            .bind(bind)
            .capabilities(capabilities()),
    )
    .unwrap();
    let mut agent = Agent::start(
        client,
        AgentConfig {
            controller: url.to_owned(),
            token,
            client_id: Some(name.to_owned()),
            ..AgentConfig::default()
        },
    )
    .await
    .unwrap();
    match within("welcome", agent.next_event()).await {
        Some(AgentEvent::Welcome { client_id, .. }) => assert_eq!(client_id, name),
        other => panic!("expected a welcome, got {other:?}"),
    }
    agent
}

/// The video subscription of `call` (the one receive stream every test conference gives a
/// party per other party).
pub fn video_subscription(call: &mut Call) -> CallSubscription {
    call.take_subscriptions()
        .into_iter()
        .find(|s| s.settings.sink_id == 2)
        .expect("a video subscription")
}

/// Reads `n` frames from `sub`; returns their sequence numbers.
pub async fn receive(sub: &mut CallSubscription, n: usize) -> Vec<u32> {
    let mut got = Vec::with_capacity(n);
    for _ in 0..n {
        let f = within("a video frame", sub.subscription.next_frame())
            .await
            .expect("the subscription ended");
        assert_eq!(
            &f.payload[..],
            &frame(seq_of(&f.payload))[..],
            "frame intact"
        );
        got.push(seq_of(&f.payload));
    }
    got
}
