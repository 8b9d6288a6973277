//! The controller's configuration: one struct that is the command line (clap, every flag
//! also read from a `NEWMEDIA_CONTROLLER_*` environment variable) and the TOML file (serde,
//! unknown keys rejected).
//!
//! Precedence, highest first: a flag, its environment variable, the TOML file named by
//! `--config`, the built-in default. The defaults run a controller on loopback with no
//! configuration at all: `127.0.0.1:7000`, in-memory state, a generated API key (logged).

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, ValueEnum};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

/// Default HTTP address (REST, WebSocket, metrics).
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7000));

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Why the configuration could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// Bad command line or environment, or `--help`/`--version` (call `exit()` on it).
    #[error(transparent)]
    Args(#[from] clap::Error),
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for [`ControllerConfig`] (including unknown keys).
    #[error("invalid configuration file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML error.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A value out of range.
    #[error("invalid configuration: {field}: {reason}")]
    Invalid {
        /// The key.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// The whole configuration of a controller. Each field's docs state its default and unit.
#[derive(Clone, PartialEq, Eq, Parser, Serialize, Deserialize)]
#[command(
    name = "newmedia-controller",
    version,
    about = "The newmedia controller: call signaling, Snowflake consent, SFU placement."
)]
#[serde(deny_unknown_fields, default)]
pub struct ControllerConfig {
    /// TOML configuration file. Default: none. (Not a key of the file itself.)
    #[arg(long, env = "NEWMEDIA_CONTROLLER_CONFIG", value_name = "PATH")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// TCP address of the HTTP server (REST, WebSocket, /metrics, /healthz, /readyz).
    /// Default 127.0.0.1:7000.
    #[arg(long, env = "NEWMEDIA_CONTROLLER_LISTEN", value_name = "ADDR", default_value_t = DEFAULT_LISTEN)]
    pub listen: SocketAddr,

    /// API keys of apps. Default: none, in which case one is generated at start (shared
    /// through Redis when `redis_url` is set) and logged. Flag repeatable; the environment
    /// variable is comma-separated.
    #[arg(
        long = "api-key",
        env = "NEWMEDIA_CONTROLLER_API_KEYS",
        value_name = "KEY",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_keys: Vec<String>,

    /// API keys of SFU nodes. Default: none, in which case the app keys also serve nodes.
    #[arg(
        long = "node-key",
        env = "NEWMEDIA_CONTROLLER_NODE_KEYS",
        value_name = "KEY",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub node_keys: Vec<String>,

    /// Secret that signs client tokens (HMAC-SHA256). Default: generated at start (shared
    /// through Redis when `redis_url` is set).
    #[arg(
        long,
        env = "NEWMEDIA_CONTROLLER_TOKEN_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_secret: Option<String>,

    /// Default and maximum lifetime of client tokens, seconds. Default 600.
    #[arg(
        long,
        env = "NEWMEDIA_CONTROLLER_TOKEN_TTL_SECS",
        value_name = "SECS",
        default_value_t = 600
    )]
    pub token_ttl_secs: u64,

    /// Redis URL (`redis://127.0.0.1:6379/`) for state shared by several controllers.
    /// Default: none (in-memory state, one controller).
    #[arg(long, env = "NEWMEDIA_CONTROLLER_REDIS_URL", value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key and of the bus channel. Default "newmedia".
    #[arg(
        long,
        env = "NEWMEDIA_CONTROLLER_REDIS_PREFIX",
        value_name = "PREFIX",
        default_value = "newmedia"
    )]
    pub redis_prefix: String,

    /// This controller's ID on the Redis bus. Default: random.
    #[arg(long, env = "NEWMEDIA_CONTROLLER_ID", value_name = "ID")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_id: Option<String>,

    /// Heartbeat interval asked of nodes, milliseconds; 3 missed ones mean dead. Default 1000.
    #[arg(
        long,
        env = "NEWMEDIA_CONTROLLER_HEARTBEAT_INTERVAL_MS",
        value_name = "MS",
        default_value_t = 1000
    )]
    pub heartbeat_interval_ms: u64,

    /// Time for a Snowflake path to be consented before it counts as failed, milliseconds.
    /// Default 5000.
    #[arg(
        long,
        env = "NEWMEDIA_CONTROLLER_CHECK_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = 5000
    )]
    pub check_timeout_ms: u64,

    /// How many of the best-ranked paths are checked in parallel. Default 3.
    #[arg(
        long,
        env = "NEWMEDIA_CONTROLLER_PARALLEL_CHECKS",
        value_name = "N",
        default_value_t = 3
    )]
    pub parallel_checks: usize,

    /// How long a REST call with `"wait": true` waits for proposal results, milliseconds.
    /// Default 10000.
    #[arg(
        long,
        env = "NEWMEDIA_CONTROLLER_PROPOSAL_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = 10_000
    )]
    pub proposal_timeout_ms: u64,

    /// How long check outcomes count in ranking, seconds. Default 86400 (a day).
    #[arg(
        long,
        env = "NEWMEDIA_CONTROLLER_HISTORY_WINDOW_SECS",
        value_name = "SECS",
        default_value_t = 86_400
    )]
    pub history_window_secs: u64,

    /// Timeout of each call to a node's admin API, milliseconds. Default 2000.
    #[arg(
        long,
        env = "NEWMEDIA_CONTROLLER_NODE_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = 2000
    )]
    pub node_timeout_ms: u64,

    /// Log line format: text or json. Default text.
    #[arg(long, env = "NEWMEDIA_CONTROLLER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter (env-filter syntax). Default "info".
    #[arg(
        long,
        env = "NEWMEDIA_CONTROLLER_LOG_LEVEL",
        value_name = "FILTER",
        default_value = "info"
    )]
    pub log_level: String,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            config: None,
            listen: DEFAULT_LISTEN,
            api_keys: Vec::new(),
            node_keys: Vec::new(),
            token_secret: None,
            token_ttl_secs: 600,
            redis_url: None,
            redis_prefix: "newmedia".to_owned(),
            controller_id: None,
            heartbeat_interval_ms: 1000,
            check_timeout_ms: 5000,
            parallel_checks: 3,
            proposal_timeout_ms: 10_000,
            history_window_secs: 86_400,
            node_timeout_ms: 2000,
            log_format: LogFormat::Text,
            log_level: "info".to_owned(),
        }
    }
}

impl fmt::Debug for ControllerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControllerConfig")
            .field("listen", &self.listen)
            .field("api_keys", &self.api_keys.len())
            .field("node_keys", &self.node_keys.len())
            .field(
                "token_secret",
                &self.token_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<set>"))
            .field("redis_prefix", &self.redis_prefix)
            .field("controller_id", &self.controller_id)
            .field("heartbeat_interval_ms", &self.heartbeat_interval_ms)
            .field("check_timeout_ms", &self.check_timeout_ms)
            .field("parallel_checks", &self.parallel_checks)
            .field("proposal_timeout_ms", &self.proposal_timeout_ms)
            .field("history_window_secs", &self.history_window_secs)
            .field("node_timeout_ms", &self.node_timeout_ms)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .finish()
    }
}

fn explicit(matches: &ArgMatches, id: &str) -> bool {
    matches!(
        matches.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

impl ControllerConfig {
    /// Loads flags (program name first), the environment and the file named by `--config`,
    /// then validates.
    pub fn from_args_and_file<I, T>(args: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Self::command().try_get_matches_from(args)?;
        let flags = Self::from_arg_matches(&matches)?;
        let config = match flags.config.clone() {
            None => flags,
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                let mut file: Self =
                    toml::from_str(&text).map_err(|source| ConfigError::Parse {
                        path: path.clone(),
                        source: Box::new(source),
                    })?;
                file.overlay_explicit(flags, &matches);
                file
            }
        };
        config.validate()?;
        Ok(config)
    }

    fn overlay_explicit(&mut self, flags: Self, matches: &ArgMatches) {
        // Destructured without `..`: a new field not listed here fails the build.
        let ControllerConfig {
            config,
            listen,
            api_keys,
            node_keys,
            token_secret,
            token_ttl_secs,
            redis_url,
            redis_prefix,
            controller_id,
            heartbeat_interval_ms,
            check_timeout_ms,
            parallel_checks,
            proposal_timeout_ms,
            history_window_secs,
            node_timeout_ms,
            log_format,
            log_level,
        } = flags;
        macro_rules! take_explicit {
            ($($field:ident),* $(,)?) => {
                $(if explicit(matches, stringify!($field)) {
                    self.$field = $field;
                })*
            };
        }
        take_explicit!(
            listen,
            api_keys,
            node_keys,
            token_secret,
            token_ttl_secs,
            redis_url,
            redis_prefix,
            controller_id,
            heartbeat_interval_ms,
            check_timeout_ms,
            parallel_checks,
            proposal_timeout_ms,
            history_window_secs,
            node_timeout_ms,
            log_format,
            log_level,
        );
        self.config = config;
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, reason: &str| {
            Err(ConfigError::Invalid {
                field,
                reason: reason.to_owned(),
            })
        };
        if self
            .api_keys
            .iter()
            .chain(&self.node_keys)
            .any(|k| k.trim().is_empty() || k.starts_with("v1."))
        {
            return invalid(
                "api_keys",
                "keys must be non-empty and not start with \"v1.\"",
            );
        }
        if self.token_secret.as_deref().is_some_and(str::is_empty) {
            return invalid(
                "token_secret",
                "must not be empty (leave it unset to generate one)",
            );
        }
        if self.token_ttl_secs == 0 {
            return invalid("token_ttl_secs", "must be at least 1");
        }
        if self.heartbeat_interval_ms == 0 {
            return invalid("heartbeat_interval_ms", "must be at least 1");
        }
        if self.parallel_checks == 0 {
            return invalid("parallel_checks", "must be at least 1");
        }
        if self.check_timeout_ms == 0 || self.node_timeout_ms == 0 {
            return invalid("check_timeout_ms", "timeouts must be at least 1 ms");
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log_level) {
            return Err(ConfigError::Invalid {
                field: "log_level",
                reason: e.to_string(),
            });
        }
        Ok(())
    }

    /// The service tunables.
    pub fn service(&self) -> crate::service::ServiceConfig {
        crate::service::ServiceConfig {
            heartbeat_interval: Duration::from_millis(self.heartbeat_interval_ms),
            check_timeout: Duration::from_millis(self.check_timeout_ms),
            parallel_checks: self.parallel_checks,
            proposal_timeout: Duration::from_millis(self.proposal_timeout_ms),
            history_window: Duration::from_secs(self.history_window_secs),
            token_ttl: Duration::from_secs(self.token_ttl_secs),
        }
    }
}
