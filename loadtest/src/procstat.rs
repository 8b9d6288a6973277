//! The load generator's own CPU time and resident memory, so a report shows what simulating
//! the endpoints cost (and whether the generator, not the server, was the bottleneck).

use std::time::Duration;

/// User plus system CPU time of this process so far (zero where it cannot be read).
pub fn cpu_time() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let Ok(usage) = getrusage(UsageWho::RUSAGE_SELF) else {
        return Duration::ZERO;
    };
    let of = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec().max(0) as u64)
            + Duration::from_micros(t.tv_usec().max(0) as u64)
    };
    of(usage.user_time()) + of(usage.system_time())
}

/// Resident memory of this process now, bytes (`VmRSS` of `/proc/self/status`; `None`
/// elsewhere than Linux).
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_rss(&status)
}

/// The `VmRSS` line of a `/proc/<pid>/status` text, bytes.
pub fn vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss() {
        let status = "Name:\tx\nVmPeak:\t  100 kB\nVmRSS:\t   2048 kB\nThreads: 3\n";
        assert_eq!(vm_rss(status), Some(2 * 1024 * 1024));
        assert_eq!(vm_rss("Name: x\n"), None);
        assert_eq!(vm_rss("VmRSS: lots kB\n"), None);
    }

    #[test]
    fn this_process_has_memory_and_cpu_time() {
        if cfg!(target_os = "linux") {
            assert!(rss_bytes().is_some_and(|r| r > 0));
        }
        // Starting the test harness alone took CPU time.
        assert!(cpu_time() > Duration::ZERO);
    }
}
