//! Server figures from the SFU nodes' `/metrics`: process CPU seconds and resident memory,
//! and the forwarding counters, summed over the nodes ([`Scraper`], [`ServerSample`]).
//! [`text`] parses the exposition format.

pub mod text;

use std::time::Duration;
use text::MetricSums;
use thiserror::Error;

/// Why a scrape failed.
#[derive(Debug, Error)]
pub enum ScrapeError {
    /// The HTTP request failed or did not answer 200.
    #[error("GET {url}: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The body is not the text format.
    #[error("{url}: {source}")]
    Parse {
        /// The URL.
        url: String,
        /// Where and why.
        #[source]
        source: text::ParseError,
    },
}

/// What one scrape of the nodes gives (summed over nodes).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct ServerSample {
    /// `process_cpu_seconds_total`.
    pub cpu_seconds: Option<f64>,
    /// `process_resident_memory_bytes`.
    pub rss_bytes: Option<f64>,
    /// `newmedia_sfu_datagrams_out_total`.
    pub datagrams_out: Option<f64>,
    /// `newmedia_sfu_bytes_out_total`.
    pub bytes_out: Option<f64>,
    /// `newmedia_sfu_datagrams_in_total`.
    pub datagrams_in: Option<f64>,
    /// `newmedia_sfu_connections`.
    pub connections: Option<f64>,
    /// `newmedia_sfu_drops_total`, every reason.
    pub drops: Option<f64>,
}

fn add(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or_default() + b.unwrap_or_default()),
    }
}

impl ServerSample {
    /// The figures of one node's metrics.
    pub fn of(m: &MetricSums) -> Self {
        Self {
            cpu_seconds: m.get("process_cpu_seconds_total"),
            rss_bytes: m.get("process_resident_memory_bytes"),
            datagrams_out: m.get("newmedia_sfu_datagrams_out_total"),
            bytes_out: m.get("newmedia_sfu_bytes_out_total"),
            datagrams_in: m.get("newmedia_sfu_datagrams_in_total"),
            connections: m.get("newmedia_sfu_connections"),
            drops: m.get("newmedia_sfu_drops_total"),
        }
    }

    /// Two nodes' figures added.
    pub fn plus(self, other: Self) -> Self {
        Self {
            cpu_seconds: add(self.cpu_seconds, other.cpu_seconds),
            rss_bytes: add(self.rss_bytes, other.rss_bytes),
            datagrams_out: add(self.datagrams_out, other.datagrams_out),
            bytes_out: add(self.bytes_out, other.bytes_out),
            datagrams_in: add(self.datagrams_in, other.datagrams_in),
            connections: add(self.connections, other.connections),
            drops: add(self.drops, other.drops),
        }
    }
}

/// Scrapes the metrics URLs of the nodes.
#[derive(Debug, Clone)]
pub struct Scraper {
    http: reqwest::Client,
    urls: Vec<String>,
}

impl Scraper {
    /// A scraper of `urls` (each a node's `/metrics`).
    pub fn new(urls: Vec<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self { http, urls }
    }

    /// Whether there is anything to scrape.
    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// The URLs scraped.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// One sample of every node, summed.
    pub async fn sample(&self) -> Result<ServerSample, ScrapeError> {
        let mut total = ServerSample::default();
        for url in &self.urls {
            let http = |reason: String| ScrapeError::Http {
                url: url.clone(),
                reason,
            };
            let response = self
                .http
                .get(url)
                .send()
                .await
                .map_err(|e| http(e.to_string()))?;
            if !response.status().is_success() {
                return Err(http(format!("status {}", response.status())));
            }
            let text = response.text().await.map_err(|e| http(e.to_string()))?;
            let sums = text::parse(&text).map_err(|source| ScrapeError::Parse {
                url: url.clone(),
                source,
            })?;
            total = total.plus(ServerSample::of(&sums));
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_figures_come_from_their_series_and_add_up() {
        let m = text::parse(
            "process_cpu_seconds_total 12.34\nprocess_resident_memory_bytes 5.24288e+07\n\
             newmedia_sfu_datagrams_out_total 120000\nnewmedia_sfu_bytes_out_total 1.5e8\n\
             newmedia_sfu_drops_total{reason=\"a\"} 3\nnewmedia_sfu_drops_total{reason=\"b\"} 4\n",
        )
        .unwrap();
        let s = ServerSample::of(&m);
        assert_eq!(s.cpu_seconds, Some(12.34));
        assert_eq!(s.rss_bytes, Some(52_428_800.0));
        assert_eq!(s.datagrams_out, Some(120_000.0));
        assert_eq!(s.bytes_out, Some(1.5e8));
        assert_eq!(s.drops, Some(7.0));
        assert_eq!(s.connections, None);
        let two = s.plus(s);
        assert_eq!(two.cpu_seconds, Some(24.68));
        assert_eq!(two.connections, None);
    }
}
