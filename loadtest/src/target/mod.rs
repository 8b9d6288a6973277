//! What the load is sent to: an existing deployment (controller URL + app API key, as a user
//! runs it against staging), or an embedded one on loopback: `newmedia-controller` and
//! `newmedia-sfu` as child processes (so the SFU's CPU and memory are its own), or both inside
//! this process (tests).
//!
//! Every target gives the controller URL, an API key, and a [`Scraper`] of the SFU nodes'
//! `/metrics` for the server figures.

mod processes;

use crate::config::LoadtestConfig;
use crate::scrape::Scraper;
use newmedia_controller::embedded::{Embedded, EmbeddedConfig};
use newmedia_proto::signaling::rest::NodeList;
use std::time::Duration;
use thiserror::Error;

pub use processes::Processes;

/// Why a target could not be started or reached.
#[derive(Debug, Error)]
pub enum TargetError {
    /// A server binary is missing.
    #[error(
        "{what} not found at {path} (build it: cargo build --release -p newmedia-sfu -p newmedia-controller, or pass --sfu-bin/--controller-bin)"
    )]
    MissingBinary {
        /// Which one.
        what: &'static str,
        /// Where it was looked for.
        path: String,
    },
    /// A child process could not be started or exited early.
    #[error("{what}: {reason} (its log: {log})")]
    Process {
        /// Which one.
        what: &'static str,
        /// What happened.
        reason: String,
        /// Its log file.
        log: String,
    },
    /// The in-process deployment failed to start.
    #[error("embedded deployment: {0}")]
    Embedded(#[from] newmedia_controller::embedded::EmbeddedError),
    /// The controller could not be reached or answered an error.
    #[error("controller {url}: {reason}")]
    Controller {
        /// Its URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// Local I/O (ports, log files).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

enum Running {
    Remote,
    Processes(Box<Processes>),
    InProcess(Box<Embedded>),
}

/// A running (or reached) target.
pub struct Target {
    /// The controller's base URL.
    pub controller_url: String,
    /// An app API key.
    pub api_key: String,
    /// The nodes' metrics.
    pub scraper: Scraper,
    /// What it is, for the report.
    pub description: String,
    /// Whether the server figures include this process (in-process target).
    pub shares_process: bool,
    running: Running,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("controller_url", &self.controller_url)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// Starts or reaches the target `config` names.
    pub async fn start(config: &LoadtestConfig) -> Result<Self, TargetError> {
        if config.embedded && config.in_process {
            let mut c = EmbeddedConfig::default();
            c.sfu.workers = config.sfu_workers.unwrap_or(1);
            c.sfu.turn2_listen = None;
            c.sfu.capacity = 100_000;
            let e = newmedia_controller::embedded::start(c).await?;
            let metrics = format!("http://{}/metrics", e.sfu.http_addr);
            return Ok(Self {
                controller_url: e.url(),
                api_key: e.api_key().to_owned(),
                scraper: Scraper::new(vec![metrics]),
                description: "embedded, in this process".to_owned(),
                shares_process: true,
                running: Running::InProcess(Box::new(e)),
            });
        }
        if config.embedded {
            let p = Processes::start(config).await?;
            return Ok(Self {
                controller_url: p.controller_url.clone(),
                api_key: p.api_key.clone(),
                scraper: Scraper::new(vec![p.metrics_url.clone()]),
                description: format!("embedded processes (SFU pid {})", p.sfu_pid().unwrap_or(0)),
                shares_process: false,
                running: Running::Processes(Box::new(p)),
            });
        }
        let url = config
            .controller_url
            .clone()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_owned();
        let api_key = config.api_key.clone().unwrap_or_default();
        let nodes = node_list(&url, &api_key).await?;
        let alive = nodes.nodes.iter().filter(|n| n.alive).count();
        Ok(Self {
            description: format!("deployment {url} ({alive} live nodes)"),
            controller_url: url,
            api_key,
            scraper: Scraper::new(config.metrics_urls.clone()),
            shares_process: false,
            running: Running::Remote,
        })
    }

    /// The PID of the SFU process, when we started it.
    pub fn sfu_pid(&self) -> Option<u32> {
        match &self.running {
            Running::Processes(p) => p.sfu_pid(),
            _ => None,
        }
    }

    /// Stops what was started (a deployment is left running).
    pub async fn stop(self) {
        match self.running {
            Running::Remote => {}
            Running::Processes(p) => p.stop().await,
            Running::InProcess(e) => {
                let Embedded { controller, sfu } = *e;
                drop(sfu);
                controller.shutdown().await;
            }
        }
    }
}

/// `GET /v1/nodes` of the controller.
pub async fn node_list(url: &str, api_key: &str) -> Result<NodeList, TargetError> {
    let fail = |reason: String| TargetError::Controller {
        url: url.to_owned(),
        reason,
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let response = http
        .get(format!("{url}/v1/nodes"))
        .bearer_auth(api_key)
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !response.status().is_success() {
        return Err(fail(format!(
            "GET /v1/nodes answered {}",
            response.status()
        )));
    }
    response.json().await.map_err(|e| fail(e.to_string()))
}
