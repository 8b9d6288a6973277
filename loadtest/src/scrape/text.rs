//! The Prometheus text exposition format (0.0.4), read into per-name sums: comments,
//! `name{label="value",…} value [timestamp]`, escaped label values, `NaN`/`±Inf`. Anything
//! else is an error with its line number; nothing a server sends makes it panic. We parse
//! ourselves rather than pull in a crate because only sums of a few series by name are needed.

use std::collections::HashMap;
use thiserror::Error;

/// A line that does not parse: its number and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("line {line}: {reason}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: &'static str,
}

/// Sample values summed by metric name (over all label sets).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricSums {
    sums: HashMap<String, f64>,
}

impl MetricSums {
    /// The sum of every sample of `name`, if the text had any.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.sums.get(name).copied()
    }
}

/// Parses an exposition text into per-name sums.
pub fn parse(text: &str) -> Result<MetricSums, ParseError> {
    let mut sums: HashMap<String, f64> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |reason| ParseError {
            line: i + 1,
            reason,
        };
        let (name, value) = parse_sample(line).map_err(fail)?;
        *sums.entry(name.to_owned()).or_default() += value;
    }
    Ok(MetricSums { sums })
}

fn parse_sample(line: &str) -> Result<(&str, f64), &'static str> {
    let name_end = line
        .char_indices()
        .find(|(i, c)| {
            !(c.is_ascii_alphabetic() || *c == '_' || *c == ':' || (*i > 0 && c.is_ascii_digit()))
        })
        .map_or(line.len(), |(i, _)| i);
    if name_end == 0 {
        return Err("expected a metric name");
    }
    let (name, mut rest) = line.split_at(name_end);
    if let Some(labels) = rest.strip_prefix('{') {
        rest = skip_labels(labels)?;
    }
    let mut fields = rest.split_ascii_whitespace();
    let value = fields.next().ok_or("expected a value")?;
    let value = parse_value(value).ok_or("bad value")?;
    if let Some(ts) = fields.next()
        && ts.parse::<i64>().is_err()
    {
        return Err("bad timestamp");
    }
    if fields.next().is_some() {
        return Err("unexpected text after the sample");
    }
    Ok((name, value))
}

/// Skips `label="value",…}`; returns what follows the closing brace.
fn skip_labels(mut s: &str) -> Result<&str, &'static str> {
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix('}') {
            return Ok(rest);
        }
        let eq = s.find('=').ok_or("expected label=\"value\"")?;
        let label = s.get(..eq).unwrap_or_default().trim();
        if label.is_empty() || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err("bad label name");
        }
        s = s
            .get(eq + 1..)
            .unwrap_or_default()
            .trim_start()
            .strip_prefix('"')
            .ok_or("expected a quoted label value")?;
        let mut escaped = false;
        let mut close = None;
        for (i, c) in s.char_indices() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    close = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let close = close.ok_or("unterminated label value")?;
        s = s.get(close + 1..).unwrap_or_default().trim_start();
        if let Some(rest) = s.strip_prefix(',') {
            s = rest;
        } else if !s.starts_with('}') {
            return Err("expected , or } after a label");
        }
    }
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SFU_TEXT: &str = r#"# HELP newmedia_sfu_drops_total Datagrams dropped, by reason.
# TYPE newmedia_sfu_drops_total counter
newmedia_sfu_drops_total{reason="queue_full"} 3
newmedia_sfu_drops_total{reason="unauthorized_encoding"} 4
newmedia_sfu_datagrams_out_total 120000
newmedia_sfu_bytes_out_total 1.5e8
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
process_cpu_seconds_total 12.34
process_resident_memory_bytes 5.24288e+07
weird_label{a="x\"}, y",b="\\"} 1 1700000000000
nan_metric NaN
"#;

    #[test]
    fn sums_series_by_name() {
        let m = parse(SFU_TEXT).unwrap();
        assert_eq!(m.get("newmedia_sfu_drops_total"), Some(7.0));
        assert_eq!(m.get("process_resident_memory_bytes"), Some(52_428_800.0));
        assert_eq!(m.get("weird_label"), Some(1.0));
        assert!(m.get("nan_metric").unwrap().is_nan());
        assert_eq!(m.get("absent"), None);
    }

    #[test]
    fn bad_lines_are_errors_with_their_number() {
        for (text, line) in [
            ("ok 1\n{a=\"b\"} 1", 2),
            ("name{a=\"b} 1", 1),
            ("name{a=b} 1", 1),
            ("name", 1),
            ("name one", 1),
            ("name 1 2 3", 1),
            ("name 1 soon", 1),
            ("name{a=\"b\" c=\"d\"} 1", 1),
            ("name{=\"b\"} 1", 1),
        ] {
            assert_eq!(parse(text).unwrap_err().line, line, "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,200}") {
            let _ = parse(&text);
        }

        #[test]
        fn parse_never_panics_on_sample_like_text(
            name in "[a-z_:][a-z0-9_:]{0,10}",
            labels in "[a-z\"=,{}\\\\ ]{0,20}",
            value in "[-+0-9.eEInfNa]{0,8}",
        ) {
            let _ = parse(&format!("{name}{labels} {value}\n"));
        }

        #[test]
        fn well_formed_samples_sum(values in proptest::collection::vec(0u32..1_000_000, 1..20)) {
            let text: String = values
                .iter()
                .enumerate()
                .map(|(i, v)| format!("m{{k=\"{i}\"}} {v}\n"))
                .collect();
            let m = parse(&text).unwrap();
            prop_assert_eq!(m.get("m"), Some(values.iter().map(|v| f64::from(*v)).sum()));
        }
    }
}
