//! `init_tracing`: a bad level is refused, the subscriber installs once.
//! (One test only: the global subscriber is per process.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use newmedia_sfu::ops::{LogFormat, LoggingError, init_tracing};

#[test]
fn init_tracing_validates_then_installs_once() {
    assert!(matches!(
        init_tracing(LogFormat::Json, "info,=,[["),
        Err(LoggingError::BadLevel { .. })
    ));
    init_tracing(LogFormat::Json, "warn,newmedia_sfu=debug").unwrap();
    assert!(matches!(
        init_tracing(LogFormat::Text, "info"),
        Err(LoggingError::AlreadyInitialized)
    ));
    assert_eq!(LogFormat::Json.as_str(), "json");
    assert_eq!(LogFormat::default(), LogFormat::Text);
}
