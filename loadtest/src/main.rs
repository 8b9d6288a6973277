//! The `newmedia-loadtest` binary: loads the configuration, runs the scenario, prints the
//! table, writes `--json`/`--csv`, and exits 0 (passed), 1 (a threshold exceeded), 2 (bad
//! configuration) or 3 (the run failed).

use anyhow::Context as _;
use newmedia_loadtest::config::{ConfigError, LoadtestConfig};
use newmedia_loadtest::progress::Progress;
use newmedia_loadtest::report::{self, Report};
use newmedia_loadtest::{EXIT_CONFIG, EXIT_PASSED, EXIT_RUN_FAILED, EXIT_THRESHOLD, run};
use tracing_subscriber::EnvFilter;

fn main() {
    let config = match LoadtestConfig::from_args_and_file(std::env::args_os()) {
        Ok(c) => c,
        Err(ConfigError::Args(e)) => e.exit(),
        Err(e) => {
            eprintln!("newmedia-loadtest: {e}");
            std::process::exit(EXIT_CONFIG);
        }
    };
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let code = match run_and_report(&config) {
        Ok(true) => EXIT_PASSED,
        Ok(false) => EXIT_THRESHOLD,
        Err(e) => {
            eprintln!("newmedia-loadtest: {e:#}");
            EXIT_RUN_FAILED
        }
    };
    std::process::exit(code);
}

fn run_and_report(config: &LoadtestConfig) -> anyhow::Result<bool> {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(n) = config.threads {
        runtime.worker_threads(n);
    }
    let runtime = runtime.build().context("starting the runtime")?;
    let progress = Progress::new(config.quiet);
    let measurements = runtime
        .block_on(run::run(config, &progress))
        .context("the run failed")?;
    let report = Report::build(config, &measurements);
    // Drop the runtime (and every client) before writing, so nothing runs behind the output.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    print!("{}", report::table::render(&report));
    if let Some(path) = &config.json {
        let json = serde_json::to_string_pretty(&report).context("encoding the report")?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &config.csv {
        report::csv::append(path, &report)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report.passed)
}
