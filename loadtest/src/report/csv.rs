//! The report as one CSV row (RFC 4180), appended to a file; the header goes first when the
//! file is new or empty, so several runs (the medians of a benchmark) collect in one file.

use super::Report;
use std::io::Write as _;
use std::path::Path;

/// The columns, in order.
pub const COLUMNS: &[&str] = &[
    "label",
    "scenario",
    "parameters",
    "endpoints",
    "window_s",
    "tracks_expected",
    "tracks_received",
    "tracks_withheld",
    "frames_received",
    "loss_pct",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "jitter_mean_ms",
    "freezes",
    "join_p50_ms",
    "join_p99_ms",
    "layer_switch_p50_ms",
    "layer_switch_p99_ms",
    "speaker_switch_p50_ms",
    "speaker_switch_p99_ms",
    "delivered_mbps",
    "forwarded_datagrams_per_s",
    "server_cpu_cores",
    "server_rss_bytes",
    "rss_per_subscriber_bytes",
    "delivered_mbps_per_core",
    "generator_cpu_cores",
    "generator_rss_bytes",
    "passed",
];

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn num(v: f64) -> String {
    format!("{v:.3}")
}

fn opt(v: Option<f64>) -> String {
    v.map(num).unwrap_or_default()
}

/// The row of `r`, in [`COLUMNS`] order.
pub fn row(r: &Report) -> Vec<String> {
    let params: Vec<String> = r
        .parameters
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let server = r.server.clone().unwrap_or_default();
    vec![
        r.label.clone().unwrap_or_default(),
        r.scenario.clone(),
        params.join(" "),
        r.endpoints.to_string(),
        num(r.window_secs),
        r.tracks_expected.to_string(),
        r.tracks_received.to_string(),
        r.tracks_withheld.to_string(),
        r.frames_received.to_string(),
        num(r.loss_percent),
        num(r.latency.p50_ms),
        num(r.latency.p95_ms),
        num(r.latency.p99_ms),
        num(r.jitter_mean_ms),
        r.freezes.to_string(),
        num(r.join.p50_ms),
        num(r.join.p99_ms),
        num(r.layer_switch.p50_ms),
        num(r.layer_switch.p99_ms),
        num(r.speaker_switch.p50_ms),
        num(r.speaker_switch.p99_ms),
        num(r.delivered_mbps),
        opt(server.forwarded_datagrams_per_sec),
        opt(server.cpu_cores),
        opt(server.rss_bytes),
        opt(server.rss_per_subscriber_bytes),
        opt(server.delivered_mbps_per_core),
        num(r.generator.cpu_cores),
        r.generator
            .rss_bytes
            .map(|b| b.to_string())
            .unwrap_or_default(),
        r.passed.to_string(),
    ]
}

fn line(fields: &[String]) -> String {
    let mut l: String = fields
        .iter()
        .map(|f| field(f))
        .collect::<Vec<_>>()
        .join(",");
    l.push('\n');
    l
}

/// Appends `r` to the CSV file at `path` (with the header when the file is new or empty).
pub fn append(path: &Path, r: &Report) -> std::io::Result<()> {
    let fresh = std::fs::metadata(path).map_or(true, |m| m.len() == 0);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if fresh {
        let header: Vec<String> = COLUMNS.iter().map(|c| (*c).to_owned()).collect();
        f.write_all(line(&header).as_bytes())?;
    }
    f.write_all(line(&row(r)).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_header_then_a_row_per_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        let mut r = Report {
            scenario: "fanout".into(),
            label: Some("run, \"1\"".into()),
            passed: true,
            ..Report::default()
        };
        r.parameters.insert("fps".into(), "30".into());
        append(&path, &r).unwrap();
        r.label = Some("run 2".into());
        append(&path, &r).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].split(',').count(), COLUMNS.len());
        assert!(
            lines[1].starts_with("\"run, \"\"1\"\"\",fanout,fps=30,"),
            "{}",
            lines[1]
        );
        assert!(lines[2].starts_with("run 2,fanout,"));
        assert!(lines[2].ends_with(",true"));
        assert_eq!(row(&r).len(), COLUMNS.len());
    }
}
