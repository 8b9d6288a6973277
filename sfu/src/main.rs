//! The `newmedia-sfu` binary: configuration from flags, environment and an optional TOML
//! file; a node on loopback with no configuration at all; SIGTERM/SIGINT drain.

use anyhow::Context;
use newmedia_sfu::app;
use newmedia_sfu::ops::config::{ConfigError, SfuConfig};
use newmedia_sfu::ops::logging::init_tracing;

fn main() -> anyhow::Result<()> {
    let config = match SfuConfig::from_args_and_file(std::env::args_os()) {
        Ok(c) => c,
        Err(ConfigError::Args(e)) => e.exit(),
        Err(e) => return Err(e).context("configuration"),
    };
    init_tracing(config.log_format, &config.log_level).context("logging")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.workers.max(1))
        .enable_all()
        .build()
        .context("tokio runtime")?;
    runtime.block_on(async move {
        let sfu = app::start(config).await.context("starting the SFU")?;
        shutdown_signal().await;
        sfu.drain().await;
        Ok(())
    })
}

/// Resolves on SIGTERM (Kubernetes) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
