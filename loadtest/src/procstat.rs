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

/// CPU time (user + system) of process `pid` so far, seconds, from `/proc/<pid>/stat` (clock
/// ticks, 10 ms on most systems: finer than the whole seconds of Prometheus'
/// `process_cpu_seconds_total`, which the prometheus crate's process collector rounds down).
pub fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = stat_ticks(&stat)?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|hz| *hz > 0)
        .unwrap_or(100);
    Some(ticks as f64 / hz as f64)
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line, clock ticks. The command
/// name (field 2) may contain spaces and parentheses, so fields are counted after its last `)`.
pub fn stat_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
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
    fn reads_cpu_ticks_after_the_command_name() {
        let stat = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3";
        assert_eq!(stat_ticks(stat), Some(300));
        assert_eq!(stat_ticks("4242 (x) S 1"), None);
        assert_eq!(stat_ticks("no parenthesis"), None);
    }

    #[test]
    fn this_process_has_memory_and_cpu_time() {
        if cfg!(target_os = "linux") {
            assert!(rss_bytes().is_some_and(|r| r > 0));
            assert!(process_cpu_seconds(std::process::id()).is_some());
        }
        // Starting the test harness alone took CPU time.
        assert!(cpu_time() > Duration::ZERO);
    }
}
