//! The node's configuration: one struct that is at once the command line (clap, every flag
//! also read from a `NEWMEDIA_SFU_*` environment variable) and the TOML file (serde), as
//! moq-relay does it.
//!
//! Precedence, highest first: a flag given on the command line, its environment variable, the
//! TOML file named by `--config`, the built-in default. The defaults run a node on loopback
//! with no configuration at all. `sfu/sfu.example.toml` documents every key.

use crate::ops::grant_key::GrantKey;
use crate::ops::logging::{self, LogFormat};
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches, Parser};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

/// Default UDP address for QUIC and STUN2.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 4433));
/// Default TCP address for metrics, health and the admin API.
pub const DEFAULT_HTTP_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));
/// Default number of active speakers whose audio is forwarded.
pub const DEFAULT_TOP_SPEAKERS: usize = 3;
/// Default retransmission cache size, messages per encoding.
pub const DEFAULT_RETRANSMIT_CACHE: usize = 512;
/// Default quinn datagram send buffer, bytes per connection (256 KiB).
pub const DEFAULT_DATAGRAM_SEND_BUFFER: usize = 256 * 1024;
/// Default [`SfuConfig::ack_threshold`].
pub const DEFAULT_ACK_THRESHOLD: u32 = 10;
/// Default minimum interval between keyframe requests for one encoding, milliseconds.
pub const DEFAULT_KEYFRAME_MIN_INTERVAL_MS: u64 = 500;
/// Default drain grace period, seconds.
pub const DEFAULT_DRAIN_GRACE_SECS: u64 = 30;
/// Default IP of the TURN2 relay's inbound UDP sockets.
pub const DEFAULT_TURN2_INBOUND_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Default limit of live TURN2 allocations.
pub const DEFAULT_TURN2_MAX_ALLOCATIONS: usize = 1000;
/// Default longest TURN2 allocation lifetime, seconds.
pub const DEFAULT_TURN2_MAX_LIFETIME_SECS: u32 = 3600;
/// Default Relayed frames queued per TURN2 connection.
pub const DEFAULT_TURN2_QUEUE_FRAMES: usize = 512;
/// Default capacity announced to the controller, endpoints.
pub const DEFAULT_CAPACITY: u64 = 1000;
/// Default log filter.
pub const DEFAULT_LOG_LEVEL: &str = "info";

/// The default worker count: the cores available to this process, at least 1.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

/// Why the configuration could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The command line (or an environment variable) is invalid, or `--help`/`--version` was
    /// asked for. A binary calls `error.exit()` on it, which prints it the clap way.
    #[error(transparent)]
    Args(#[from] clap::Error),
    /// The configuration file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML for [`SfuConfig`] (including unknown keys).
    #[error("invalid configuration file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML error, with line and column.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A value is out of range or inconsistent with another.
    #[error("invalid configuration: {field}: {reason}")]
    Invalid {
        /// The key (TOML spelling).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// The whole configuration of an SFU node. See the module docs for precedence; each field's
/// docs state its default and unit. `Default` is the zero-configuration loopback node.
#[derive(Clone, PartialEq, Eq, Parser, Serialize, Deserialize)]
#[command(
    name = "newmedia-sfu",
    version,
    about = "The newmedia Switched Forwarding Unit: forwards RTP3 datagrams over QUIC."
)]
#[serde(deny_unknown_fields, default)]
pub struct SfuConfig {
    /// TOML configuration file. Flags and environment variables override its values. Default:
    /// none. (Not a key of the file itself.)
    #[arg(long, env = "NEWMEDIA_SFU_CONFIG", value_name = "PATH")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// UDP address for QUIC media and STUN2 (one socket carries both). Default 127.0.0.1:4433.
    #[arg(long, env = "NEWMEDIA_SFU_LISTEN", value_name = "ADDR", default_value_t = DEFAULT_LISTEN)]
    pub listen: SocketAddr,

    /// Number of QUIC endpoints sharing `listen` through SO_REUSEPORT, so receiving is spread
    /// over cores. Default: the cores available to the process. At least 1.
    #[arg(long, env = "NEWMEDIA_SFU_WORKERS", value_name = "N", default_value_t = default_workers())]
    pub workers: usize,

    /// TCP address of the HTTP server: /metrics, /healthz, /readyz and the admin API under
    /// /v1. Default 127.0.0.1:8080.
    #[arg(long, env = "NEWMEDIA_SFU_HTTP_LISTEN", value_name = "ADDR", default_value_t = DEFAULT_HTTP_LISTEN)]
    pub http_listen: SocketAddr,

    /// Bearer token for the admin API. Default: unset, in which case a random token is
    /// generated at start and logged once at info level (`SfuConfig::ensure_admin_token`).
    #[arg(
        long,
        env = "NEWMEDIA_SFU_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_token: Option<String>,

    /// The node's STUN2 shared secret (the `stunSecret` of its candidates). Default: empty,
    /// i.e. the node is a public STUN2 server only.
    #[arg(
        long,
        env = "NEWMEDIA_SFU_STUN_SECRET",
        value_name = "SECRET",
        default_value = "",
        hide_default_value = true,
        hide_env_values = true
    )]
    pub stun_secret: String,

    /// Also answer STUN2 requests made with the empty (public) secret. Default true.
    #[arg(
        long,
        env = "NEWMEDIA_SFU_PUBLIC_STUN",
        value_name = "BOOL",
        default_value_t = true,
        action = ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub public_stun: bool,

    /// PEM file with the TLS certificate chain. Default: unset, in which case a self-signed
    /// certificate is generated at start. Set together with `tls_key`.
    #[arg(long, env = "NEWMEDIA_SFU_TLS_CERT", value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,

    /// PEM file with the TLS private key. Default: unset (self-signed). Set together with
    /// `tls_cert`.
    #[arg(long, env = "NEWMEDIA_SFU_TLS_KEY", value_name = "PATH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,

    /// Controller keys trusted for join grants, each `<key ID>:<base64 Ed25519 public key>`.
    /// Default: none (only registered fingerprints are admitted). Flag repeatable; the
    /// environment variable is comma-separated.
    #[arg(
        long = "grant-key",
        env = "NEWMEDIA_SFU_GRANT_KEYS",
        value_name = "ID:KEY",
        value_delimiter = ','
    )]
    pub grant_keys: Vec<GrantKey>,

    /// How many active speakers' audio is forwarded per conference. Default 3.
    #[arg(long, env = "NEWMEDIA_SFU_TOP_SPEAKERS", value_name = "N", default_value_t = DEFAULT_TOP_SPEAKERS)]
    pub top_speakers: usize,

    /// Retransmission cache size, messages per encoding. Default 512.
    #[arg(long, env = "NEWMEDIA_SFU_RETRANSMIT_CACHE", value_name = "MESSAGES", default_value_t = DEFAULT_RETRANSMIT_CACHE)]
    pub retransmit_cache: usize,

    /// quinn's datagram send buffer, bytes per connection (`datagram_send_buffer_size`).
    /// Default 262144 (256 KiB).
    #[arg(long, env = "NEWMEDIA_SFU_DATAGRAM_SEND_BUFFER", value_name = "BYTES", default_value_t = DEFAULT_DATAGRAM_SEND_BUFFER)]
    pub datagram_send_buffer: usize,

    /// How many ack-eliciting packets a client may receive from the node before it must
    /// acknowledge them (the QUIC ACK frequency extension; it acknowledges at least every
    /// 25 ms or RTT anyway). Fewer ACKs from every subscriber cost the node less CPU; 1 is
    /// QUIC's own default (every other packet), 0 asks for every packet. Default 10.
    #[arg(long, env = "NEWMEDIA_SFU_ACK_THRESHOLD", value_name = "PACKETS", default_value_t = DEFAULT_ACK_THRESHOLD)]
    pub ack_threshold: u32,

    /// Minimum interval between intra-frame requests sent for one encoding, milliseconds.
    /// Default 500.
    #[arg(long, env = "NEWMEDIA_SFU_KEYFRAME_MIN_INTERVAL_MS", value_name = "MS", default_value_t = DEFAULT_KEYFRAME_MIN_INTERVAL_MS)]
    pub keyframe_min_interval_ms: u64,

    /// How long a draining node waits for connections to leave before closing them, seconds.
    /// Default 30.
    #[arg(long, env = "NEWMEDIA_SFU_DRAIN_GRACE_SECS", value_name = "SECS", default_value_t = DEFAULT_DRAIN_GRACE_SECS)]
    pub drain_grace_secs: u64,

    /// TCP address of the TURN2 relay (TLS 1.3 with the node's certificate, PROTOCOL.md §8).
    /// Default: unset, no relay.
    #[arg(long, env = "NEWMEDIA_SFU_TURN2_LISTEN", value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn2_listen: Option<SocketAddr>,

    /// IP the relay's inbound UDP sockets bind to, one ephemeral port per allocation.
    /// Default 127.0.0.1.
    #[arg(long, env = "NEWMEDIA_SFU_TURN2_INBOUND_IP", value_name = "IP", default_value_t = DEFAULT_TURN2_INBOUND_IP)]
    pub turn2_inbound_ip: IpAddr,

    /// IP written into TURN2 Allocation frames (inbound and outbound) when clients reach the
    /// node through another address than it binds. Default: unset, the bound addresses.
    #[arg(long, env = "NEWMEDIA_SFU_TURN2_PUBLIC_IP", value_name = "IP")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn2_public_ip: Option<IpAddr>,

    /// Live TURN2 allocations at most; more get Error 4 (quota exceeded). Default 1000.
    #[arg(long, env = "NEWMEDIA_SFU_TURN2_MAX_ALLOCATIONS", value_name = "N", default_value_t = DEFAULT_TURN2_MAX_ALLOCATIONS)]
    pub turn2_max_allocations: usize,

    /// Longest TURN2 allocation lifetime granted, seconds. Default 3600.
    #[arg(long, env = "NEWMEDIA_SFU_TURN2_MAX_LIFETIME_SECS", value_name = "SECS", default_value_t = DEFAULT_TURN2_MAX_LIFETIME_SECS)]
    pub turn2_max_lifetime_secs: u32,

    /// Relayed frames queued per TURN2 connection before datagrams are dropped. Default 512.
    #[arg(long, env = "NEWMEDIA_SFU_TURN2_QUEUE_FRAMES", value_name = "FRAMES", default_value_t = DEFAULT_TURN2_QUEUE_FRAMES)]
    pub turn2_queue_frames: usize,

    /// Base URL of the controller (e.g. `http://controller:8090`): the node registers there,
    /// heart-beats and reports STUN2 checks (docs/contracts.md §2). Default: unset, standalone.
    #[arg(long, env = "NEWMEDIA_SFU_CONTROLLER_URL", value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_url: Option<String>,

    /// The node API key sent to the controller as `Authorization: Bearer`. Default: unset.
    #[arg(
        long,
        env = "NEWMEDIA_SFU_CONTROLLER_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_token: Option<String>,

    /// This node's ID at the controller. Default: unset, the host name.
    #[arg(long, env = "NEWMEDIA_SFU_NODE_ID", value_name = "ID")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,

    /// The media addresses clients are told to use (the node's candidates). Default: none
    /// given, the bound media address. Flag repeatable; the environment variable is
    /// comma-separated.
    #[arg(
        long = "public-candidate",
        env = "NEWMEDIA_SFU_PUBLIC_CANDIDATES",
        value_name = "ADDR",
        value_delimiter = ','
    )]
    pub public_candidates: Vec<SocketAddr>,

    /// The admin API's URL as the controller reaches it. Default: unset, `http://` and the
    /// bound HTTP address.
    #[arg(long, env = "NEWMEDIA_SFU_ADMIN_URL", value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_url: Option<String>,

    /// Endpoints this node is sized for, announced to the controller for placement.
    /// Default 1000.
    #[arg(long, env = "NEWMEDIA_SFU_CAPACITY", value_name = "ENDPOINTS", default_value_t = DEFAULT_CAPACITY)]
    pub capacity: u64,

    /// Log line format: text or json. Default text.
    #[arg(long, env = "NEWMEDIA_SFU_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter, an env-filter directive such as "info" or "warn,newmedia_sfu=debug".
    /// Default "info".
    #[arg(long, env = "NEWMEDIA_SFU_LOG_LEVEL", value_name = "FILTER", default_value = DEFAULT_LOG_LEVEL)]
    pub log_level: String,
}

impl Default for SfuConfig {
    fn default() -> Self {
        SfuConfig {
            config: None,
            listen: DEFAULT_LISTEN,
            workers: default_workers(),
            http_listen: DEFAULT_HTTP_LISTEN,
            admin_token: None,
            stun_secret: String::new(),
            public_stun: true,
            tls_cert: None,
            tls_key: None,
            grant_keys: Vec::new(),
            top_speakers: DEFAULT_TOP_SPEAKERS,
            retransmit_cache: DEFAULT_RETRANSMIT_CACHE,
            datagram_send_buffer: DEFAULT_DATAGRAM_SEND_BUFFER,
            ack_threshold: DEFAULT_ACK_THRESHOLD,
            keyframe_min_interval_ms: DEFAULT_KEYFRAME_MIN_INTERVAL_MS,
            drain_grace_secs: DEFAULT_DRAIN_GRACE_SECS,
            turn2_listen: None,
            turn2_inbound_ip: DEFAULT_TURN2_INBOUND_IP,
            turn2_public_ip: None,
            turn2_max_allocations: DEFAULT_TURN2_MAX_ALLOCATIONS,
            turn2_max_lifetime_secs: DEFAULT_TURN2_MAX_LIFETIME_SECS,
            turn2_queue_frames: DEFAULT_TURN2_QUEUE_FRAMES,
            controller_url: None,
            controller_token: None,
            node_id: None,
            public_candidates: Vec::new(),
            admin_url: None,
            capacity: DEFAULT_CAPACITY,
            log_format: LogFormat::Text,
            log_level: DEFAULT_LOG_LEVEL.to_owned(),
        }
    }
}

// Secrets are redacted so the configuration can be logged at start.
impl fmt::Debug for SfuConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |set: bool| if set { "<redacted>" } else { "<unset>" };
        f.debug_struct("SfuConfig")
            .field("config", &self.config)
            .field("listen", &self.listen)
            .field("workers", &self.workers)
            .field("http_listen", &self.http_listen)
            .field("admin_token", &redact(self.admin_token.is_some()))
            .field("stun_secret", &redact(!self.stun_secret.is_empty()))
            .field("public_stun", &self.public_stun)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("grant_keys", &self.grant_keys)
            .field("top_speakers", &self.top_speakers)
            .field("retransmit_cache", &self.retransmit_cache)
            .field("datagram_send_buffer", &self.datagram_send_buffer)
            .field("ack_threshold", &self.ack_threshold)
            .field("keyframe_min_interval_ms", &self.keyframe_min_interval_ms)
            .field("drain_grace_secs", &self.drain_grace_secs)
            .field("turn2_listen", &self.turn2_listen)
            .field("turn2_inbound_ip", &self.turn2_inbound_ip)
            .field("turn2_public_ip", &self.turn2_public_ip)
            .field("turn2_max_allocations", &self.turn2_max_allocations)
            .field("turn2_max_lifetime_secs", &self.turn2_max_lifetime_secs)
            .field("turn2_queue_frames", &self.turn2_queue_frames)
            .field("controller_url", &self.controller_url)
            .field("controller_token", &redact(self.controller_token.is_some()))
            .field("node_id", &self.node_id)
            .field("public_candidates", &self.public_candidates)
            .field("admin_url", &self.admin_url)
            .field("capacity", &self.capacity)
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

impl SfuConfig {
    /// Loads the configuration from command-line arguments (`args`, program name first, as
    /// `std::env::args_os()` gives them), the `NEWMEDIA_SFU_*` environment variables and the
    /// TOML file named by `--config`, then validates it.
    pub fn from_args_and_file<I, T>(args: I) -> Result<SfuConfig, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = SfuConfig::command().try_get_matches_from(args)?;
        let flags = SfuConfig::from_arg_matches(&matches)?;
        let config = match flags.config.clone() {
            None => flags,
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                let mut file: SfuConfig =
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

    /// Replaces each field of `self` (from the file) by the one in `flags` if that value was
    /// given on the command line or in the environment, not merely defaulted by clap.
    fn overlay_explicit(&mut self, flags: SfuConfig, matches: &ArgMatches) {
        // Destructured without `..`: a new field that is not listed below is an unused
        // variable, which the lints turn into a build failure.
        let SfuConfig {
            config,
            listen,
            workers,
            http_listen,
            admin_token,
            stun_secret,
            public_stun,
            tls_cert,
            tls_key,
            grant_keys,
            top_speakers,
            retransmit_cache,
            datagram_send_buffer,
            ack_threshold,
            keyframe_min_interval_ms,
            drain_grace_secs,
            turn2_listen,
            turn2_inbound_ip,
            turn2_public_ip,
            turn2_max_allocations,
            turn2_max_lifetime_secs,
            turn2_queue_frames,
            controller_url,
            controller_token,
            node_id,
            public_candidates,
            admin_url,
            capacity,
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
            workers,
            http_listen,
            admin_token,
            stun_secret,
            public_stun,
            tls_cert,
            tls_key,
            grant_keys,
            top_speakers,
            retransmit_cache,
            datagram_send_buffer,
            ack_threshold,
            keyframe_min_interval_ms,
            drain_grace_secs,
            turn2_listen,
            turn2_inbound_ip,
            turn2_public_ip,
            turn2_max_allocations,
            turn2_max_lifetime_secs,
            turn2_queue_frames,
            controller_url,
            controller_token,
            node_id,
            public_candidates,
            admin_url,
            capacity,
            log_format,
            log_level,
        );
        self.config = config;
    }

    /// Checks ranges and consistency. [`SfuConfig::from_args_and_file`] calls it; call it
    /// again after changing fields by hand.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, reason: &str| {
            Err(ConfigError::Invalid {
                field,
                reason: reason.to_owned(),
            })
        };
        if self.workers == 0 {
            return invalid("workers", "must be at least 1");
        }
        if self.top_speakers == 0 {
            return invalid("top_speakers", "must be at least 1");
        }
        if self.retransmit_cache == 0 {
            return invalid("retransmit_cache", "must be at least 1");
        }
        if self.datagram_send_buffer == 0 {
            return invalid("datagram_send_buffer", "must be at least 1 byte");
        }
        if self
            .admin_token
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            return invalid(
                "admin_token",
                "must not be empty (leave it unset to generate one)",
            );
        }
        if self.turn2_listen.is_some() && self.turn2_inbound_ip.is_unspecified() {
            return invalid(
                "turn2_inbound_ip",
                "must be a concrete address (clients are told it)",
            );
        }
        if self.turn2_queue_frames == 0 {
            return invalid("turn2_queue_frames", "must be at least 1");
        }
        if let Some(url) = &self.controller_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return invalid("controller_url", "must start with http:// or https://");
        }
        if self.controller_url.is_some() && self.controller_token.is_none() {
            return invalid(
                "controller_token",
                "must be set when controller_url is (the controller's node API key)",
            );
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return invalid("tls_cert", "tls_cert and tls_key must be set together");
        }
        let mut key_ids = HashSet::new();
        for key in &self.grant_keys {
            if !key_ids.insert(key.key_id) {
                return Err(ConfigError::Invalid {
                    field: "grant_keys",
                    reason: format!("key ID {} is listed twice", key.key_id),
                });
            }
        }
        if let Err(e) = logging::parse_level(&self.log_level) {
            return Err(ConfigError::Invalid {
                field: "log_level",
                reason: e.to_string(),
            });
        }
        Ok(())
    }

    /// The admin token, generating a random one (32 bytes from the OS, base64url) if none is
    /// configured. A generated token is stored, so later calls return the same one, and
    /// logged once at info level so an operator can find it. Call after logging is set up.
    pub fn ensure_admin_token(&mut self) -> &str {
        let token = self.admin_token.get_or_insert_with(|| {
            let token = generate_token();
            tracing::info!(admin_token = %token, "no admin_token configured; generated one");
            token
        });
        token.as_str()
    }

    /// The grant keys as `JoinGrant::verify` takes them.
    pub fn trusted_grant_keys(&self) -> Vec<(u64, ed25519_dalek::VerifyingKey)> {
        self.grant_keys.iter().map(|k| (k.key_id, k.key)).collect()
    }

    /// `keyframe_min_interval_ms` as a duration.
    pub fn keyframe_min_interval(&self) -> Duration {
        Duration::from_millis(self.keyframe_min_interval_ms)
    }

    /// `drain_grace_secs` as a duration.
    pub fn drain_grace(&self) -> Duration {
        Duration::from_secs(self.drain_grace_secs)
    }
}

fn generate_token() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
