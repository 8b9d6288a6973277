//! Thresholds from the command line and the verdict: each given limit becomes a [`Check`];
//! the run passes when every check does. A limit whose figure could not be measured (no
//! frame arrived, no join completed) fails: a deployment that delivered nothing must not pass
//! a CI gate.

use crate::config::LoadtestConfig;
use crate::report::Report;
use serde::{Deserialize, Serialize};

/// One threshold and how the run did against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// What is checked, as the flag names it.
    pub name: String,
    /// The limit.
    pub limit: f64,
    /// The measured figure (`None`: not measured).
    pub value: Option<f64>,
    /// Whether it held.
    pub passed: bool,
}

fn at_most(name: &str, limit: Option<f64>, value: Option<f64>) -> Option<Check> {
    let limit = limit?;
    Some(Check {
        name: name.to_owned(),
        limit,
        value,
        passed: value.is_some_and(|v| v <= limit),
    })
}

/// The checks `config` asks for, against `report`.
pub fn evaluate(config: &LoadtestConfig, report: &Report) -> Vec<Check> {
    let latency = (report.latency.count > 0).then_some(report.latency);
    let join = (report.join.count > 0).then_some(report.join);
    let received_any = report.frames_received > 0;
    let mut checks: Vec<Check> = [
        at_most(
            "max-loss",
            config.max_loss,
            received_any.then_some(report.loss_percent),
        ),
        at_most("max-p50-ms", config.max_p50_ms, latency.map(|l| l.p50_ms)),
        at_most("max-p95-ms", config.max_p95_ms, latency.map(|l| l.p95_ms)),
        at_most("max-p99-ms", config.max_p99_ms, latency.map(|l| l.p99_ms)),
        at_most(
            "max-jitter-ms",
            config.max_jitter_ms,
            received_any.then_some(report.jitter_mean_ms),
        ),
        at_most(
            "max-join-p99-ms",
            config.max_join_p99_ms,
            join.map(|j| j.p99_ms),
        ),
        at_most(
            "max-freezes",
            config.max_freezes.map(|f| f as f64),
            received_any.then_some(report.freezes as f64),
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    if config.require_all_tracks {
        checks.push(Check {
            name: "require-all-tracks".to_owned(),
            limit: report.tracks_expected as f64,
            // Withheld audio (a speaker never forwarded) is the SFU's choice, not a failure.
            value: Some((report.tracks_received + report.tracks_withheld) as f64),
            passed: report.tracks_received + report.tracks_withheld >= report.tracks_expected,
        });
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Summary;

    fn config(args: &[&str]) -> LoadtestConfig {
        LoadtestConfig::from_args_and_file(["x", "--embedded"].iter().chain(args).copied()).unwrap()
    }

    fn report(loss: f64, p99: f64, frames: u64) -> Report {
        Report {
            loss_percent: loss,
            frames_received: frames,
            latency: Summary {
                count: frames,
                p50_ms: p99 / 2.0,
                p95_ms: p99 * 0.9,
                p99_ms: p99,
                ..Summary::default()
            },
            tracks_expected: 4,
            tracks_received: 4,
            ..Report::default()
        }
    }

    #[test]
    fn no_thresholds_no_checks() {
        assert!(evaluate(&config(&[]), &report(50.0, 900.0, 10)).is_empty());
    }

    #[test]
    fn limits_hold_or_fail() {
        let c = config(&[
            "--max-loss",
            "1",
            "--max-p99-ms",
            "5",
            "--require-all-tracks",
        ]);
        let good = evaluate(&c, &report(0.5, 4.9, 100));
        assert_eq!(good.len(), 3);
        assert!(good.iter().all(|c| c.passed), "{good:?}");
        let bad = evaluate(&c, &report(1.5, 5.1, 100));
        assert_eq!(bad.iter().filter(|c| !c.passed).count(), 2);
        assert_eq!(bad[0].name, "max-loss");
        assert_eq!(bad[0].value, Some(1.5));
        // Exactly at the limit passes.
        assert!(
            evaluate(&c, &report(1.0, 5.0, 100))
                .iter()
                .all(|c| c.passed)
        );
    }

    #[test]
    fn unmeasured_figures_fail() {
        let c = config(&[
            "--max-loss",
            "1",
            "--max-p99-ms",
            "5",
            "--max-join-p99-ms",
            "100",
        ]);
        let checks = evaluate(&c, &report(0.0, 0.0, 0));
        assert!(
            checks.iter().all(|c| !c.passed && c.value.is_none()),
            "{checks:?}"
        );
    }

    #[test]
    fn missing_tracks_fail_when_required() {
        let c = config(&["--require-all-tracks"]);
        let mut r = report(0.0, 1.0, 10);
        r.tracks_received = 3;
        let checks = evaluate(&c, &r);
        assert!(!checks[0].passed);
        // Audio the SFU never forwarded (a speaker outside the top N) is not missing.
        r.tracks_withheld = 1;
        assert!(evaluate(&c, &r)[0].passed);
    }
}
