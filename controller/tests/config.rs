//! The configuration: zero-config defaults, TOML with unknown keys rejected, flags and
//! environment over the file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use newmedia_controller::config::{ConfigError, ControllerConfig};

#[test]
fn defaults_file_and_flags() {
    let c = ControllerConfig::from_args_and_file(["newmedia-controller"]).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:7000");
    assert!(c.api_keys.is_empty() && c.redis_url.is_none());
    assert_eq!((c.token_ttl_secs, c.parallel_checks), (600, 3));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "listen = \"127.0.0.1:7100\"\napi_keys = [\"k1\"]\nheartbeat_interval_ms = 250\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let c =
        ControllerConfig::from_args_and_file(["x", "--config", p, "--listen", "127.0.0.1:7200"])
            .unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:7200", "the flag wins");
    assert_eq!(
        (c.api_keys.clone(), c.heartbeat_interval_ms),
        (vec!["k1".to_owned()], 250)
    );

    std::fs::write(&path, "listen = \"127.0.0.1:7100\"\nlisen = 1\n").unwrap();
    assert!(matches!(
        ControllerConfig::from_args_and_file(["x", "--config", p]),
        Err(ConfigError::Parse { .. })
    ));
    assert!(matches!(
        ControllerConfig::from_args_and_file(["x", "--parallel-checks", "0"]),
        Err(ConfigError::Invalid {
            field: "parallel_checks",
            ..
        })
    ));
    assert!(matches!(
        ControllerConfig::from_args_and_file(["x", "--api-key", "v1.x"]),
        Err(ConfigError::Invalid { .. })
    ));
}
