//! The one place the forwarding shell reads the clock; everything it calls takes `now`.

use std::time::Instant;

/// The current instant.
#[allow(clippy::disallowed_methods)] // the async shell owns the clock (see clippy.toml)
#[inline]
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// The current Unix time in seconds, for join-grant expiry.
#[allow(clippy::disallowed_methods)] // the async shell owns the clock (see clippy.toml)
pub(crate) fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
