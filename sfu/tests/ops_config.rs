//! `SfuConfig`: defaults, TOML over defaults, flags and environment over TOML, clear errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use clap::CommandFactory;
use ed25519_dalek::SigningKey;
use newmedia_sfu::ops::config::{DEFAULT_HTTP_LISTEN, DEFAULT_LISTEN, default_workers};
use newmedia_sfu::ops::{ConfigError, LogFormat, SfuConfig};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// A temporary TOML file, removed on drop.
struct TempToml(PathBuf);

impl TempToml {
    fn new(name: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "newmedia-sfu-ops-config-{}-{name}.toml",
            std::process::id()
        ));
        std::fs::write(&path, text).unwrap();
        TempToml(path)
    }

    fn arg(&self) -> String {
        self.0.to_str().unwrap().to_owned()
    }
}

impl Drop for TempToml {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn load(args: &[&str]) -> Result<SfuConfig, ConfigError> {
    SfuConfig::from_args_and_file(std::iter::once("newmedia-sfu").chain(args.iter().copied()))
}

fn grant_key_text(seed: u8, key_id: u64) -> String {
    let key = SigningKey::from_bytes(&[seed; 32]).verifying_key();
    format!(
        "{key_id}:{}",
        base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
    )
}

#[test]
fn clap_definition_is_consistent() {
    SfuConfig::command().debug_assert();
}

#[test]
fn defaults_run_on_loopback_with_no_configuration() {
    let c = load(&[]).unwrap();
    assert_eq!(c, SfuConfig::default());
    assert_eq!(c.listen, DEFAULT_LISTEN);
    assert_eq!(c.listen.to_string(), "127.0.0.1:4433");
    assert_eq!(c.http_listen, DEFAULT_HTTP_LISTEN);
    assert_eq!(c.http_listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.workers, default_workers());
    assert!(c.workers >= 1);
    assert_eq!(c.admin_token, None);
    assert_eq!(c.stun_secret, "");
    assert!(c.public_stun);
    assert_eq!((c.tls_cert.clone(), c.tls_key.clone()), (None, None));
    assert!(c.grant_keys.is_empty());
    assert_eq!(c.top_speakers, 3);
    assert_eq!(c.retransmit_cache, 512);
    assert_eq!(c.datagram_send_buffer, 256 * 1024);
    assert_eq!(c.keyframe_min_interval(), Duration::from_millis(500));
    assert_eq!(c.drain_grace(), Duration::from_secs(30));
    assert_eq!(c.log_format, LogFormat::Text);
    assert_eq!(c.log_level, "info");
    c.validate().unwrap();
}

#[test]
fn empty_toml_file_gives_defaults() {
    let file = TempToml::new("empty", "");
    let c = load(&["--config", &file.arg()]).unwrap();
    assert_eq!(c.config.as_deref(), Some(file.0.as_path()));
    assert_eq!(SfuConfig { config: None, ..c }, SfuConfig::default());
}

#[test]
fn toml_overrides_defaults() {
    let key = grant_key_text(7, 1);
    let file = TempToml::new(
        "overrides",
        &format!(
            r#"
listen = "0.0.0.0:5000"
workers = 2
http_listen = "0.0.0.0:9090"
admin_token = "file-token"
stun_secret = "s3cret"
public_stun = false
tls_cert = "/etc/sfu/cert.pem"
tls_key = "/etc/sfu/key.pem"
grant_keys = ["{key}"]
top_speakers = 5
retransmit_cache = 1024
datagram_send_buffer = 1048576
keyframe_min_interval_ms = 250
drain_grace_secs = 60
log_format = "json"
log_level = "debug"
"#
        ),
    );
    let c = load(&["--config", &file.arg()]).unwrap();
    assert_eq!(c.listen.to_string(), "0.0.0.0:5000");
    assert_eq!(c.workers, 2);
    assert_eq!(c.http_listen.to_string(), "0.0.0.0:9090");
    assert_eq!(c.admin_token.as_deref(), Some("file-token"));
    assert_eq!(c.stun_secret, "s3cret");
    assert!(!c.public_stun);
    assert_eq!(c.tls_cert, Some(PathBuf::from("/etc/sfu/cert.pem")));
    assert_eq!(c.tls_key, Some(PathBuf::from("/etc/sfu/key.pem")));
    assert_eq!(c.grant_keys.len(), 1);
    assert_eq!(c.grant_keys[0].to_string(), key);
    assert_eq!(c.trusted_grant_keys()[0].0, 1);
    assert_eq!(c.top_speakers, 5);
    assert_eq!(c.retransmit_cache, 1024);
    assert_eq!(c.datagram_send_buffer, 1 << 20);
    assert_eq!(c.keyframe_min_interval_ms, 250);
    assert_eq!(c.drain_grace_secs, 60);
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.log_level, "debug");
}

#[test]
fn flags_override_toml_and_unset_flags_do_not() {
    let file = TempToml::new(
        "flags",
        r#"
listen = "0.0.0.0:5000"
top_speakers = 5
public_stun = false
log_format = "json"
"#,
    );
    let c = load(&[
        "--config",
        &file.arg(),
        "--top-speakers",
        "9",
        "--public-stun",
        "--log-format",
        "text",
        "--grant-key",
        &grant_key_text(1, 10),
        "--grant-key",
        &grant_key_text(2, 11),
    ])
    .unwrap();
    assert_eq!(c.top_speakers, 9, "flag beats file");
    assert!(c.public_stun, "bare --public-stun means true");
    assert_eq!(c.log_format, LogFormat::Text, "flag beats file");
    assert_eq!(
        c.listen.to_string(),
        "0.0.0.0:5000",
        "file beats clap default"
    );
    assert_eq!(c.retransmit_cache, 512, "neither: default");
    let ids: Vec<u64> = c.grant_keys.iter().map(|k| k.key_id).collect();
    assert_eq!(ids, [10, 11]);
}

#[test]
fn public_stun_takes_boolish_values() {
    assert!(!load(&["--public-stun=false"]).unwrap().public_stun);
    assert!(!load(&["--public-stun", "no"]).unwrap().public_stun);
    assert!(load(&["--public-stun=1"]).unwrap().public_stun);
}

#[test]
fn unknown_toml_key_is_a_clear_error() {
    let file = TempToml::new("unknown", "listen = \"127.0.0.1:1\"\ntop_speakerz = 4\n");
    let err = load(&["--config", &file.arg()]).unwrap_err();
    assert!(matches!(err, ConfigError::Parse { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("unknown field `top_speakerz`"), "{text}");
    assert!(text.contains("line 2"), "{text}");
    assert!(text.contains(&file.arg()), "{text}");
}

#[test]
fn config_key_is_not_accepted_inside_the_file() {
    let file = TempToml::new("nested", "config = \"other.toml\"\n");
    let err = load(&["--config", &file.arg()]).unwrap_err();
    assert!(matches!(err, ConfigError::Parse { .. }), "{err:?}");
}

#[test]
fn wrongly_typed_toml_value_is_an_error() {
    let file = TempToml::new("typed", "workers = \"many\"\n");
    let err = load(&["--config", &file.arg()]).unwrap_err();
    assert!(err.to_string().contains("workers"), "{err}");
}

#[test]
fn missing_file_is_a_read_error() {
    let err = load(&["--config", "/nonexistent/newmedia-sfu.toml"]).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/newmedia-sfu.toml"));
}

#[test]
fn bad_flags_are_clap_errors() {
    assert!(matches!(
        load(&["--listen", "not-an-address"]),
        Err(ConfigError::Args(_))
    ));
    assert!(matches!(load(&["--bogus"]), Err(ConfigError::Args(_))));
    let help = load(&["--help"]).unwrap_err();
    let ConfigError::Args(e) = help else {
        panic!("{help:?}")
    };
    assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
    let text = e.to_string();
    assert!(text.contains("NEWMEDIA_SFU_LISTEN"), "{text}");
    assert!(text.contains("--grant-key"), "{text}");
}

#[test]
fn invalid_values_are_refused() {
    for (args, field) in [
        (&["--workers", "0"][..], "workers"),
        (&["--top-speakers", "0"], "top_speakers"),
        (&["--retransmit-cache", "0"], "retransmit_cache"),
        (&["--datagram-send-buffer", "0"], "datagram_send_buffer"),
        (&["--admin-token", " "], "admin_token"),
        (&["--tls-cert", "/c.pem"], "tls_cert"),
        (&["--log-level", "info,=,[["], "log_level"),
        (
            &[
                "--turn2-listen",
                "127.0.0.1:0",
                "--turn2-inbound-ip",
                "0.0.0.0",
            ],
            "turn2_inbound_ip",
        ),
        (&["--turn2-queue-frames", "0"], "turn2_queue_frames"),
        (
            &["--controller-url", "ftp://c", "--controller-token", "k"],
            "controller_url",
        ),
        (&["--controller-url", "http://c:1"], "controller_token"),
    ] {
        match load(args) {
            Err(ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field, "{args:?}"),
            other => panic!("{args:?}: {other:?}"),
        }
    }
    let key = grant_key_text(3, 4);
    match load(&["--grant-key", &key, "--grant-key", &grant_key_text(5, 4)]) {
        Err(ConfigError::Invalid { field, .. }) => assert_eq!(field, "grant_keys"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn connectivity_keys_from_flags() {
    let c = load(&[
        "--turn2-listen",
        "127.0.0.1:4434",
        "--turn2-public-ip",
        "203.0.113.10",
        "--controller-url",
        "http://127.0.0.1:8090",
        "--controller-token",
        "node-key",
        "--public-candidate",
        "203.0.113.10:4433",
        "--public-candidate",
        "[2001:db8::1]:4433",
        "--capacity",
        "50",
    ])
    .unwrap();
    assert_eq!(c.turn2_listen, Some("127.0.0.1:4434".parse().unwrap()));
    assert_eq!(c.turn2_public_ip, Some("203.0.113.10".parse().unwrap()));
    assert_eq!(c.public_candidates.len(), 2);
    assert_eq!(c.capacity, 50);
    assert!(!format!("{c:?}").contains("node-key"));
    let d = SfuConfig::default();
    assert_eq!(d.turn2_listen, None);
    assert_eq!(d.controller_url, None);
    assert_eq!(d.turn2_max_allocations, 1000);
}

#[test]
fn grant_keys_are_checked() {
    for bad in ["nocolon", "x:AAAA", "1:!!!", "1:AAAA"] {
        assert!(
            matches!(load(&["--grant-key", bad]), Err(ConfigError::Args(_))),
            "{bad}"
        );
    }
    // Unpadded base64 is accepted too.
    let padded = grant_key_text(9, 2);
    let unpadded = padded.trim_end_matches('=');
    let c = load(&["--grant-key", unpadded]).unwrap();
    assert_eq!(c.grant_keys[0].to_string(), padded);
}

#[test]
fn debug_redacts_secrets() {
    let c = load(&["--admin-token", "hunter2", "--stun-secret", "swordfish"]).unwrap();
    let text = format!("{c:?}");
    assert!(
        !text.contains("hunter2") && !text.contains("swordfish"),
        "{text}"
    );
    assert!(text.contains("<redacted>"));
}

#[test]
fn generated_admin_token_is_random_and_stable() {
    let mut a = SfuConfig::default();
    let mut b = SfuConfig::default();
    let token = a.ensure_admin_token().to_owned();
    assert!(token.len() >= 40, "{token}");
    assert_eq!(a.ensure_admin_token(), token, "generated once");
    assert_ne!(b.ensure_admin_token(), token);
    let mut c = load(&["--admin-token", "given"]).unwrap();
    assert_eq!(c.ensure_admin_token(), "given");
}

#[test]
fn example_file_is_valid_and_matches_the_defaults() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/sfu.example.toml");
    let text = std::fs::read_to_string(path).unwrap();
    // Every key of the struct appears in the example, commented out or not.
    let serialized = toml::to_string(&SfuConfig {
        admin_token: Some("x".into()),
        tls_cert: Some("c".into()),
        tls_key: Some("k".into()),
        ..SfuConfig::default()
    })
    .unwrap();
    for line in serialized.lines() {
        let key = line.split(" = ").next().unwrap();
        assert!(text.contains(&format!("{key} = ")), "example lacks {key}");
    }
    // The uncommented part loads, and differs from the defaults only where it says so.
    let c = load(&["--config", path]).unwrap();
    assert_eq!(c.listen, DEFAULT_LISTEN);
    assert_eq!(c.top_speakers, 3);
    // With every example value uncommented, the file still loads.
    let uncommented: String = text
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if rest.contains(" = ") => rest,
            _ => l,
        })
        .fold(String::new(), |acc, l| acc + l + "\n");
    let file = TempToml::new("example", &uncommented);
    let c = load(&["--config", &file.arg()]).unwrap();
    assert_eq!(c.workers, 2);
    assert_eq!(c.admin_token.as_deref(), Some("change-me"));
    assert_eq!(c.grant_keys.len(), 1);
}

/// Runs [`child_env_overrides_toml`] in a child process with `NEWMEDIA_SFU_*` variables set:
/// the environment is process-wide, so setting it here would race with the other tests.
#[test]
fn env_overrides_toml() {
    let file = TempToml::new(
        "env",
        "top_speakers = 5\nretransmit_cache = 64\nworkers = 2\n",
    );
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_env_overrides_toml",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env("OPS_CONFIG_CHILD", "1")
        .env("NEWMEDIA_SFU_CONFIG", file.arg())
        .env("NEWMEDIA_SFU_TOP_SPEAKERS", "8")
        .env(
            "NEWMEDIA_SFU_GRANT_KEYS",
            format!("{},{}", grant_key_text(1, 1), grant_key_text(2, 2)),
        )
        .env("NEWMEDIA_SFU_PUBLIC_STUN", "false")
        .env("NEWMEDIA_SFU_LOG_FORMAT", "json")
        .env("NEWMEDIA_SFU_WORKERS", "3")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("1 passed"),
        "the child test did not run: {stdout}"
    );
}

#[test]
#[ignore = "run by env_overrides_toml in a child process with the environment set"]
fn child_env_overrides_toml() {
    if std::env::var_os("OPS_CONFIG_CHILD").is_none() {
        return;
    }
    let c = load(&[]).unwrap();
    assert_eq!(c.top_speakers, 8, "env beats file");
    assert_eq!(c.retransmit_cache, 64, "file beats default");
    assert_eq!(c.grant_keys.len(), 2, "comma-separated list");
    assert!(!c.public_stun);
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.workers, 3, "env beats file");
    let c = load(&["--workers", "4"]).unwrap();
    assert_eq!(c.workers, 4, "flag beats env");
}
