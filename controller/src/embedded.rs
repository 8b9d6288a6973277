//! The embedded default: a controller and one SFU node on loopback in one process, the node
//! registered with the controller and heart-beating, ready for SDK clients. The README's demo
//! call and the load tester's `--embedded` mode start it; a laptop needs nothing else.
//!
//! The node registers itself exactly as a separately deployed one would (PROTOCOL.md §14,
//! docs/contracts.md §2), with a node key generated for the pair.

use crate::app::{self, RunningController, StartError};
use crate::auth::random_secret;
use crate::config::ControllerConfig;
use newmedia_sfu::app::RunningSfu;
use newmedia_sfu::ops::config::SfuConfig;
use std::net::SocketAddr;
use std::time::Duration;
use thiserror::Error;

/// Why the embedded deployment could not start.
#[derive(Debug, Error)]
pub enum EmbeddedError {
    /// The controller did not start.
    #[error("controller: {0}")]
    Controller(#[from] StartError),
    /// The SFU node did not start.
    #[error("SFU: {0}")]
    Sfu(#[from] newmedia_sfu::app::StartError),
    /// The node did not register within the wait.
    #[error("the SFU node did not register with the controller within {0:?}")]
    NotRegistered(Duration),
}

/// What to start. `Default`: a controller on `127.0.0.1:0`, one SFU node on `127.0.0.1:0`
/// (media and HTTP), a TURN2 relay on the node, in-memory state.
#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    /// The controller's configuration (its `node_keys` get the generated node key added).
    pub controller: ControllerConfig,
    /// The node's configuration (its controller URL and token are filled in).
    pub sfu: SfuConfig,
    /// How long to wait for the node to register. Default 10 s.
    pub register_wait: Duration,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let controller = ControllerConfig {
            listen: loopback(0),
            ..ControllerConfig::default()
        };
        let sfu = SfuConfig {
            listen: loopback(0),
            http_listen: loopback(0),
            workers: 1,
            turn2_listen: Some(loopback(0)),
            node_id: Some("embedded-sfu-1".to_owned()),
            ..SfuConfig::default()
        };
        Self {
            controller,
            sfu,
            register_wait: Duration::from_secs(10),
        }
    }
}

/// A running embedded deployment; dropping it stops both.
#[derive(Debug)]
pub struct Embedded {
    /// The controller.
    pub controller: RunningController,
    /// The SFU node.
    pub sfu: RunningSfu,
}

impl Embedded {
    /// The controller's base URL.
    pub fn url(&self) -> String {
        self.controller.url()
    }

    /// An app API key of the controller.
    pub fn api_key(&self) -> &str {
        &self.controller.api_key
    }
}

/// Starts the controller, then the node pointed at it, and waits until the node is live in
/// the controller's registry.
pub async fn start(config: EmbeddedConfig) -> Result<Embedded, EmbeddedError> {
    let node_key = random_secret();
    let mut controller_config = config.controller;
    controller_config.node_keys.push(node_key.clone());
    let controller = app::start(controller_config).await?;
    let mut sfu_config = config.sfu;
    sfu_config.controller_url = Some(controller.url());
    sfu_config.controller_token = Some(node_key);
    let sfu = newmedia_sfu::app::start(sfu_config).await?;
    let registered = async {
        loop {
            if let Ok(list) = controller.service.node_list().await
                && list.nodes.iter().any(|n| n.alive)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(config.register_wait, registered)
        .await
        .map_err(|_| EmbeddedError::NotRegistered(config.register_wait))?;
    Ok(Embedded { controller, sfu })
}
