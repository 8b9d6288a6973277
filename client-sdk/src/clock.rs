//! The one place the SDK's async shell reads clocks (see `clippy.toml`): the sans-IO state
//! machines in [`crate::media`] and [`crate::control`] take `now` from here.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

/// The monotonic now. Taken from tokio's clock so paused-time tests (`start_paused`) control
/// it; outside a runtime it is the system's monotonic clock.
#[allow(clippy::disallowed_methods)] // the async shell owns the clock (see clippy.toml)
pub fn now() -> Instant {
    if tokio::runtime::Handle::try_current().is_ok() {
        tokio::time::Instant::now().into_std()
    } else {
        Instant::now()
    }
}

/// The wall clock as an RTP3 capture time: NTP time in milliseconds (draft §5). No high bits
/// need discarding: the value fits the header's 62-bit varint for another 146 000 years.
#[allow(clippy::disallowed_methods)] // the async shell owns the clock (see clippy.toml)
pub fn ntp_millis() -> u64 {
    let since_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    (since_unix.as_millis() as u64).saturating_add(NTP_UNIX_OFFSET_SECS * 1000)
}
