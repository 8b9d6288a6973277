//! The one place the load tester reads clocks (see `clippy.toml`).
//!
//! Latency is measured from a frame's capture time to its arrival on the **wall clock** in
//! microseconds: publishers and subscribers run in this one process (or at least on this one
//! machine), so both ends read the same clock and no synchronisation is needed. Intervals and
//! timers use the monotonic clock.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Microseconds between the NTP epoch (1900) and the Unix epoch (1970).
const NTP_UNIX_OFFSET_MICROS: u64 = 2_208_988_800 * 1_000_000;

/// The wall clock, microseconds since the Unix epoch.
#[allow(clippy::disallowed_methods)] // the async shell owns the clock (see clippy.toml)
pub fn wall_micros() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
}

/// A wall-clock time in microseconds as an RTP3 capture time (NTP milliseconds, draft §5),
/// on the same scale as `newmedia_client::clock::ntp_millis`.
pub fn ntp_millis_of(wall_micros: u64) -> u64 {
    wall_micros.saturating_add(NTP_UNIX_OFFSET_MICROS) / 1000
}

/// The monotonic now (tokio's clock inside a runtime).
#[allow(clippy::disallowed_methods)] // the async shell owns the clock (see clippy.toml)
pub fn now() -> Instant {
    if tokio::runtime::Handle::try_current().is_ok() {
        tokio::time::Instant::now().into_std()
    } else {
        Instant::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_time_is_ntp_milliseconds() {
        // 2026-01-01T00:00:00Z = 1767225600 s after the Unix epoch.
        let unix_micros = 1_767_225_600 * 1_000_000 + 999;
        assert_eq!(
            ntp_millis_of(unix_micros),
            (1_767_225_600 + 2_208_988_800) * 1000
        );
    }
}
