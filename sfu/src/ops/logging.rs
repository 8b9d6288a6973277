//! Structured logs: `tracing` events written by `tracing-subscriber`'s fmt layer, as human text
//! or one JSON object per line, filtered by an env-filter directive string.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable single lines (the default).
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl LogFormat {
    /// The name used in configuration: `"text"` or `"json"`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// Why logging could not be set up.
#[derive(Debug, Error)]
pub enum LoggingError {
    /// The level is not a valid env-filter directive.
    #[error("invalid log level {level:?}: {reason}")]
    BadLevel {
        /// The directive as given.
        level: String,
        /// What the parser said.
        reason: String,
    },
    /// A global subscriber is already installed (logging was set up twice).
    #[error("a global tracing subscriber is already installed")]
    AlreadyInitialized,
}

/// Parses `level` as an env-filter directive (`"info"`, `"warn,newmedia_sfu=debug"`, ...).
///
/// Used by [`init_tracing`] and by configuration validation, so a bad level is reported before
/// anything starts.
pub fn parse_level(level: &str) -> Result<EnvFilter, LoggingError> {
    EnvFilter::try_new(level).map_err(|e| LoggingError::BadLevel {
        level: level.to_owned(),
        reason: e.to_string(),
    })
}

/// Installs the global `tracing` subscriber: fmt output to stdout in `format`, filtered by the
/// env-filter directive `level` (the configuration's `log_level`; `RUST_LOG` is not read, so
/// the configured level is the one that applies).
///
/// Call once, early in `main`. A second call returns [`LoggingError::AlreadyInitialized`].
pub fn init_tracing(format: LogFormat, level: &str) -> Result<(), LoggingError> {
    let filter = parse_level(level)?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|_| LoggingError::AlreadyInitialized)
}
