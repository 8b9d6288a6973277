//! `--embedded`: `newmedia-controller` and `newmedia-sfu` as child processes on loopback. The
//! node registers itself with the controller exactly as a deployed one does
//! (`--controller-url`, `--controller-token` = a node key the controller was started with);
//! we wait until the controller lists it alive. Their logs go to files in a temporary
//! directory named in errors. Both are killed when the run ends (or this process exits).

use super::{TargetError, node_list};
use crate::config::LoadtestConfig;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// How long each server gets to come up.
const START_WAIT: Duration = Duration::from_secs(30);

/// The two child processes.
#[derive(Debug)]
pub struct Processes {
    controller: Child,
    sfu: Child,
    /// The controller's base URL.
    pub controller_url: String,
    /// Its app API key (generated).
    pub api_key: String,
    /// The node's `/metrics`.
    pub metrics_url: String,
    logs: PathBuf,
}

fn free_udp() -> Result<SocketAddr, TargetError> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?)
}

fn free_tcp() -> Result<SocketAddr, TargetError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

fn random_key() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `name` next to this executable, or `given`.
fn binary(given: Option<&PathBuf>, name: &'static str) -> Result<PathBuf, TargetError> {
    let path = match given {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .map(|d| d.join(name))
            .unwrap_or_else(|| PathBuf::from(name)),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(TargetError::MissingBinary {
            what: name,
            path: path.display().to_string(),
        })
    }
}

fn spawn(
    what: &'static str,
    bin: &Path,
    args: &[String],
    log: &Path,
) -> Result<Child, TargetError> {
    let out = std::fs::File::create(log)?;
    let err = out.try_clone()?;
    Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| TargetError::Process {
            what,
            reason: format!("cannot start {}: {e}", bin.display()),
            log: log.display().to_string(),
        })
}

/// Fails if `child` has exited.
fn still_running(what: &'static str, child: &mut Child, log: &Path) -> Result<(), TargetError> {
    match child.try_wait()? {
        None => Ok(()),
        Some(status) => Err(TargetError::Process {
            what,
            reason: format!("exited at start ({status})"),
            log: log.display().to_string(),
        }),
    }
}

impl Processes {
    /// Starts the controller, then the node, and waits until the node is registered.
    pub async fn start(config: &LoadtestConfig) -> Result<Self, TargetError> {
        let controller_bin = binary(config.controller_bin.as_ref(), "newmedia-controller")?;
        let sfu_bin = binary(config.sfu_bin.as_ref(), "newmedia-sfu")?;
        let logs = std::env::temp_dir().join(format!("newmedia-loadtest-{}", std::process::id()));
        std::fs::create_dir_all(&logs)?;
        let api_key = random_key();
        let node_key = random_key();
        let controller_addr = free_tcp()?;
        let controller_url = format!("http://{controller_addr}");
        let controller_log = logs.join("controller.log");
        let mut controller = spawn(
            "newmedia-controller",
            &controller_bin,
            &[
                "--listen".into(),
                controller_addr.to_string(),
                "--api-key".into(),
                api_key.clone(),
                "--node-key".into(),
                node_key.clone(),
                "--log-level".into(),
                "warn".into(),
            ]
            .map(String::from),
            &controller_log,
        )?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap_or_default();
        let deadline = crate::clock::now() + START_WAIT;
        loop {
            still_running("newmedia-controller", &mut controller, &controller_log)?;
            let up = http
                .get(format!("{controller_url}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                break;
            }
            wait_or_fail(deadline, "newmedia-controller", &controller_log).await?;
        }

        let media = free_udp()?;
        let http_listen = free_tcp()?;
        let sfu_log = logs.join("sfu.log");
        let mut args: Vec<String> = [
            "--listen",
            &media.to_string(),
            "--http-listen",
            &http_listen.to_string(),
            "--admin-token",
            &random_key(),
            "--controller-url",
            &controller_url,
            "--controller-token",
            &node_key,
            "--node-id",
            "loadtest-sfu-1",
            "--capacity",
            "100000",
            "--log-level",
            "warn",
        ]
        .map(String::from)
        .to_vec();
        if let Some(w) = config.sfu_workers {
            args.extend(["--workers".to_owned(), w.to_string()]);
        }
        let mut sfu = spawn("newmedia-sfu", &sfu_bin, &args, &sfu_log)?;
        let deadline = crate::clock::now() + START_WAIT;
        loop {
            still_running("newmedia-sfu", &mut sfu, &sfu_log)?;
            let registered = node_list(&controller_url, &api_key)
                .await
                .is_ok_and(|l| l.nodes.iter().any(|n| n.alive));
            if registered {
                break;
            }
            wait_or_fail(deadline, "newmedia-sfu", &sfu_log).await?;
        }
        Ok(Self {
            controller,
            sfu,
            controller_url,
            api_key,
            metrics_url: format!("http://{http_listen}/metrics"),
            logs,
        })
    }

    /// The SFU's PID.
    pub fn sfu_pid(&self) -> Option<u32> {
        self.sfu.id()
    }

    /// Kills both and removes the logs.
    pub async fn stop(mut self) {
        let _ = self.sfu.kill().await;
        let _ = self.controller.kill().await;
        let _ = std::fs::remove_dir_all(&self.logs);
    }
}

/// Sleeps 20 ms before the next poll, or fails once `deadline` has passed.
async fn wait_or_fail(
    deadline: std::time::Instant,
    what: &'static str,
    log: &Path,
) -> Result<(), TargetError> {
    if crate::clock::now() >= deadline {
        return Err(TargetError::Process {
            what,
            reason: format!("not ready within {START_WAIT:?}"),
            log: log.display().to_string(),
        });
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(())
}
