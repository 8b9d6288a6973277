//! Assembling a controller from its configuration: store, credentials, hub, HTTP server and
//! the node sweeper. `main.rs`, the tests, the demo and the load tester start controllers
//! through [`start`].

use crate::auth::{Credentials, random_secret};
use crate::config::ControllerConfig;
use crate::http::{AppState, ready_flag, router};
use crate::hub::{Hub, run_subscriber};
use crate::metrics::Metrics;
use crate::node_client::NodeClient;
use crate::service::{Service, random_id};
use crate::store::{MemoryStore, RedisStore, Store, StoreError};
use axum::serve::ListenerExt as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use thiserror::Error;
use tokio::task::JoinHandle;

/// Why a controller could not start.
#[derive(Debug, Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Redis could not be reached.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Metrics could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The HTTP address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running controller.
#[derive(Debug)]
pub struct RunningController {
    /// The HTTP address (with the real port when 0 was asked).
    pub addr: SocketAddr,
    /// An app API key (the first configured, or the generated one).
    pub api_key: String,
    /// The logic, for embedding and tests.
    pub service: Arc<Service>,
    ready: Arc<std::sync::atomic::AtomicBool>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningController {
    /// The base URL, `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving: readiness turns false, the server stops accepting and finishes open
    /// requests, background tasks end.
    pub async fn shutdown(mut self) {
        self.ready.store(false, Ordering::Relaxed);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            // Open WebSockets do not end by themselves: give requests a moment, then stop.
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), server)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        for task in self.tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for RunningController {
    fn drop(&mut self) {
        for task in self.tasks.iter().chain(&self.server) {
            task.abort();
        }
    }
}

/// Starts a controller on `config.listen` and serves until [`RunningController::shutdown`]
/// or drop.
pub async fn start(config: ControllerConfig) -> Result<RunningController, StartError> {
    config.validate()?;
    let controller_id = config.controller_id.clone().unwrap_or_else(random_id);
    let mut tasks = Vec::new();
    let (store, redis): (Arc<dyn Store>, _) = match &config.redis_url {
        None => (Arc::new(MemoryStore::new()), None),
        Some(url) => {
            let client = redis::Client::open(url.as_str())?;
            let store = RedisStore::connect(&client, &config.redis_prefix).await?;
            let conn = client.get_multiplexed_async_connection().await?;
            (Arc::new(store), Some((client, conn)))
        }
    };

    let mut api_keys = config.api_keys.clone();
    if api_keys.is_empty() {
        let key = store.get_or_init("api-key", &random_secret()).await?;
        tracing::info!(api_key = %key, "no api_keys configured; using a generated one");
        api_keys.push(key);
    }
    let token_secret = match &config.token_secret {
        Some(s) => s.clone(),
        None => store.get_or_init("token-secret", &random_secret()).await?,
    };
    let credentials = Credentials::new(&api_keys, &config.node_keys, token_secret.as_bytes());

    let channel = format!("{}:bus", config.redis_prefix);
    let hub = Hub::new(
        controller_id.clone(),
        redis
            .as_ref()
            .map(|(_, conn)| (conn.clone(), channel.clone())),
    );
    if let Some((client, _)) = &redis {
        tasks.push(run_subscriber(hub.clone(), client.clone(), channel).await?);
    }
    let service = Service::new(
        store,
        hub,
        NodeClient::new(Duration::from_millis(config.node_timeout_ms)),
        credentials,
        config.service(),
        Metrics::new()?,
    );

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: config.listen,
        source,
    })?;
    let ready = ready_flag();
    let app = router(AppState {
        service: service.clone(),
        ready: ready.clone(),
    });
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        // Signaling is many small messages each way on one connection: without TCP_NODELAY,
        // Nagle's algorithm holds one back until the peer's delayed ACK, 40 ms on Linux.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let serve = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = shutdown_rx.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "HTTP server failed");
        }
    });

    let sweeper = service.clone();
    let every = (service.config.heartbeat_interval / 2).max(Duration::from_millis(10));
    tasks.push(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = sweeper.sweep().await {
                tracing::warn!(error = %e, "node sweep failed");
            }
        }
    }));

    tracing::info!(%addr, controller = %controller_id, redis = config.redis_url.is_some(), "newmedia-controller listening");
    Ok(RunningController {
        addr,
        api_key: api_keys.first().cloned().unwrap_or_default(),
        service,
        ready,
        shutdown: Some(shutdown_tx),
        server: Some(server),
        tasks,
    })
}
