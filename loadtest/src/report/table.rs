//! The final table printed after a run.

use super::Report;
use crate::stats::Summary;
use std::fmt::Write as _;

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

fn kib(bytes: f64) -> String {
    format!("{:.0} KiB", bytes / 1024.0)
}

fn summary(s: &Summary, what: &str) -> String {
    if s.count == 0 {
        return "-".to_owned();
    }
    format!(
        "p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}  ({} {what})",
        s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms, s.count
    )
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "-".to_owned(), f)
}

/// The report as a table for people.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let params: Vec<String> = r
        .parameters
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let label = r
        .label
        .as_deref()
        .map(|l| format!(" [{l}]"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "newmedia-loadtest {}{label} ({})",
        r.scenario,
        params.join(", ")
    );
    let _ = writeln!(out, "target: {}", r.target);
    let _ = writeln!(
        out,
        "window {:.1} s; {} endpoints ({} receiving) registered and joined in {:.1} s",
        r.window_secs, r.endpoints, r.receiving_endpoints, r.setup_secs
    );
    let _ = writeln!(out);
    let mut rows: Vec<(&str, String)> = vec![
        (
            "tracks received",
            if r.tracks_withheld > 0 {
                format!(
                    "{} / {} expected; {} audio tracks withheld (their speaker was never one \
                     the SFU forwards)",
                    r.tracks_received, r.tracks_expected, r.tracks_withheld
                )
            } else {
                format!("{} / {} expected", r.tracks_received, r.tracks_expected)
            },
        ),
        (
            "frames received",
            format!(
                "{} ({:.0}/s)",
                r.frames_received, r.delivered_frames_per_sec
            ),
        ),
        (
            "loss",
            format!(
                "{:.3} % ({} lost, {} recovered late)",
                r.loss_percent, r.frames_lost, r.frames_recovered
            ),
        ),
        (
            "delivered",
            format!(
                "{:.1} Mbit/s payload, {:.1} Mbit/s on the wire",
                r.delivered_mbps, r.wire_mbps
            ),
        ),
        (
            "bitrate per subscriber",
            format!(
                "{:.0} kbit/s mean (min {:.0}, max {:.0})",
                r.bitrate_per_subscriber_kbps.mean,
                r.bitrate_per_subscriber_kbps.min,
                r.bitrate_per_subscriber_kbps.max
            ),
        ),
        ("latency ms", summary(&r.latency, "frames")),
    ];
    if let (Some(a), Some(v)) = (&r.latency_audio, &r.latency_video) {
        rows.push(("  audio", summary(a, "frames")));
        rows.push(("  video", summary(v, "frames")));
    }
    if r.latency_late.count > 0 {
        rows.push(("  late (recovered)", summary(&r.latency_late, "frames")));
    }
    rows.push((
        "jitter ms",
        format!("mean {:.2}, max {:.2}", r.jitter_mean_ms, r.jitter_max_ms),
    ));
    rows.push((
        "freezes (>200 ms)",
        format!(
            "{} ({:.0} ms in all, {} tracks)",
            r.freezes, r.freeze_ms, r.tracks_with_freezes
        ),
    ));
    rows.push((
        "join ms",
        format!(
            "{}; {} without a frame",
            summary(&r.join, "joins"),
            r.joins_without_frame
        ),
    ));
    if r.join.count > 0 {
        rows.push(("  REST call answered", summary(&r.join_rest, "joins")));
        rows.push(("  call connected", summary(&r.join_connect, "joins")));
    }
    if r.layer_switch.count > 0 || r.layer_switches_incomplete > 0 {
        rows.push((
            "layer switch ms",
            format!(
                "{}; {} incomplete",
                summary(&r.layer_switch, "switches"),
                r.layer_switches_incomplete
            ),
        ));
    }
    if r.speaker_switch.count > 0 || r.speaker_switches_missed > 0 {
        rows.push((
            "speaker switch ms",
            format!(
                "{}; {} missed",
                summary(&r.speaker_switch, "switches"),
                r.speaker_switches_missed
            ),
        ));
    }
    match &r.server {
        Some(s) => {
            let shared = if s.shares_process {
                " (includes the load generator: in-process)"
            } else {
                ""
            };
            rows.push((
                "server CPU",
                format!(
                    "{}{shared}, from {}",
                    opt(s.cpu_cores, |c| format!("{c:.3} cores")),
                    s.cpu_source
                ),
            ));
            rows.push((
                "server RSS",
                format!(
                    "{} ({} per subscriber)",
                    opt(s.rss_bytes, mib),
                    opt(s.rss_per_subscriber_bytes, kib)
                ),
            ));
            rows.push((
                "forwarded",
                format!(
                    "{} datagrams/s ({} per core-second), {} sent",
                    opt(s.forwarded_datagrams_per_sec, |d| format!("{d:.0}")),
                    opt(s.forwarded_per_core_sec, |d| format!("{d:.0}")),
                    opt(s.sent_mbps, |m| format!("{m:.1} Mbit/s")),
                ),
            ));
            rows.push((
                "delivered per core",
                opt(s.delivered_mbps_per_core, |m| format!("{m:.0} Mbit/s")),
            ));
            rows.push(("server drops", opt(s.drops, |d| format!("{d:.0}"))));
        }
        None => rows.push((
            "server",
            r.scrape_error
                .clone()
                .unwrap_or_else(|| "not scraped (no --metrics-url)".to_owned()),
        )),
    }
    rows.push((
        "load generator",
        format!(
            "{:.2} cores, {} ({} per endpoint)",
            r.generator.cpu_cores,
            opt(r.generator.rss_bytes.map(|b| b as f64), mib),
            opt(r.generator.rss_per_endpoint_bytes, kib)
        ),
    ));
    if r.publisher_errors > 0 {
        rows.push(("publisher errors", r.publisher_errors.to_string()));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        let _ = writeln!(out, "  {k:<width$}  {v}");
    }
    if !r.checks.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  {:<20} {:>10} {:>10}  result",
            "threshold", "limit", "value"
        );
        for c in &r.checks {
            let value = c
                .value
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
            let verdict = if c.passed { "ok" } else { "FAILED" };
            let _ = writeln!(
                out,
                "  {:<20} {:>10} {:>10}  {verdict}",
                c.name, c.limit, value
            );
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "result: {}",
        if r.passed { "PASSED" } else { "FAILED" }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thresholds::Check;

    #[test]
    fn shows_the_figures_and_the_verdict() {
        let r = Report {
            scenario: "fanout".into(),
            tracks_expected: 3,
            tracks_received: 3,
            latency: Summary {
                count: 90,
                p50_ms: 1.25,
                p99_ms: 3.5,
                ..Summary::default()
            },
            checks: vec![Check {
                name: "max-p99-ms".into(),
                limit: 3.0,
                value: Some(3.5),
                passed: false,
            }],
            passed: false,
            ..Report::default()
        };
        let text = render(&r);
        assert!(text.contains("3 / 3 expected"), "{text}");
        assert!(text.contains("p50 1.25"), "{text}");
        assert!(text.contains("max-p99-ms"), "{text}");
        assert!(text.contains("FAILED"), "{text}");
        assert!(text.trim_end().ends_with("result: FAILED"), "{text}");
        assert!(text.contains("not scraped"), "{text}");
    }
}
