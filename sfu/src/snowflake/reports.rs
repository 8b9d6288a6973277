//! Check reports (docs/contracts.md §2): the STUN2 requests with a sender secret that opened
//! under the node's secret, batched to the controller at most every 5 ms. The STUN2 responder
//! hands them over a bounded channel (full: dropped and counted on the receive path), so a
//! slow controller never touches the media path.

use super::controller::{CheckBatch, CheckReport, ControllerClient};
use super::stats::{SnowflakeStats, add};
use crate::transport::ReceivedStunCheck;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Least time between two reports.
pub const REPORT_INTERVAL: Duration = Duration::from_millis(5);
/// Most checks in one report.
pub const MAX_BATCH: usize = 256;
/// Checks waiting for the reporter before the responder drops new ones.
pub const QUEUE: usize = 4096;

/// Reports checks from `checks` until the channel closes.
pub async fn run(
    client: ControllerClient,
    node_id: String,
    mut checks: mpsc::Receiver<ReceivedStunCheck>,
    media_port: u16,
    candidates: Vec<SocketAddr>,
    stats: Arc<SnowflakeStats>,
) {
    let mut last_sent: Option<tokio::time::Instant> = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = checks.recv().await {
        if let Some(last) = last_sent {
            tokio::time::sleep_until(last + REPORT_INTERVAL).await;
        }
        let mut next = Some(first);
        while let Some(check) = next.take() {
            if check.authenticated {
                batch.push(CheckReport {
                    from: check.from,
                    to: local_candidate(check.local_ip, media_port, &candidates),
                    transaction_id: check.transaction_id.to_string(),
                    sender_secret: hex::encode(check.sender_secret.as_bytes()),
                });
            } else {
                add(&stats.checks_unauthenticated, 1);
            }
            if batch.len() < MAX_BATCH {
                next = checks.try_recv().ok();
            }
        }
        if batch.is_empty() {
            continue;
        }
        last_sent = Some(tokio::time::Instant::now());
        let n = batch.len() as u64;
        let report = CheckBatch {
            checks: std::mem::take(&mut batch),
        };
        match client.report_checks(&node_id, &report).await {
            Ok(()) => add(&stats.checks_reported, n),
            Err(error) => {
                add(&stats.checks_report_failed, n);
                tracing::warn!(%error, checks = n, "check report failed");
            }
        }
        batch = report.checks;
        batch.clear();
    }
}

/// The node candidate a request arrived on: the configured candidate with the local IP the
/// socket reported, else the first candidate of the same family, else the first candidate,
/// else the local address itself.
pub fn local_candidate(
    local_ip: Option<IpAddr>,
    port: u16,
    candidates: &[SocketAddr],
) -> SocketAddr {
    if let Some(ip) = local_ip {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if let Some(c) = candidates.iter().find(|c| c.ip() == ip) {
            return *c;
        }
        if let Some(c) = candidates.iter().find(|c| c.is_ipv4() == ip.is_ipv4()) {
            return *c;
        }
        if candidates.is_empty() {
            return SocketAddr::new(ip, port);
        }
    }
    candidates
        .first()
        .copied()
        .unwrap_or_else(|| SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_for_a_local_address() {
        let a: SocketAddr = "203.0.113.1:4433".parse().unwrap();
        let b: SocketAddr = "[2001:db8::1]:4433".parse().unwrap();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(local_candidate(ip("203.0.113.1"), 4433, &[b, a]), a);
        assert_eq!(local_candidate(ip("::ffff:10.0.0.2"), 4433, &[b, a]), a);
        assert_eq!(local_candidate(ip("2001:db8::9"), 4433, &[a, b]), b);
        assert_eq!(local_candidate(None, 4433, &[b, a]), b);
        assert_eq!(
            local_candidate(ip("127.0.0.1"), 9, &[]),
            "127.0.0.1:9".parse().unwrap()
        );
    }
}
