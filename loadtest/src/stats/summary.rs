//! Percentile summaries, in milliseconds, of microsecond samples.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency a histogram records, microseconds (60 s); larger values are clamped.
const HISTOGRAM_MAX_MICROS: u64 = 60_000_000;

/// A latency histogram of microseconds with 2 significant digits (1 % resolution, about
/// 10 KiB per track).
#[allow(clippy::expect_used)] // constant bounds that `new_with_bounds` accepts
pub fn latency_histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_MICROS, 2).expect("valid histogram bounds")
}

/// Records `micros` (clamped to the histogram's range).
pub(crate) fn record(h: &mut Histogram<u32>, micros: u64) {
    h.saturating_record(micros.clamp(1, HISTOGRAM_MAX_MICROS));
}

/// The nearest-rank `p`-th percentile (0-100) of `sorted` (ascending); `None` when empty.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p.clamp(0.0, 100.0) / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len() - 1))
        .copied()
}

/// Count, mean and percentiles of a set of samples, milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Samples.
    pub count: u64,
    /// Mean, ms.
    pub mean_ms: f64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Largest, ms.
    pub max_ms: f64,
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

impl Summary {
    /// Of microsecond samples (in any order).
    pub fn of_micros(samples: &[u64]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let at = |p| ms(percentile(&sorted, p).unwrap_or_default());
        Self {
            count: sorted.len() as u64,
            mean_ms: ms(sorted.iter().sum::<u64>() / sorted.len() as u64),
            p50_ms: at(50.0),
            p95_ms: at(95.0),
            p99_ms: at(99.0),
            max_ms: ms(sorted.last().copied().unwrap_or_default()),
        }
    }

    /// Of a microsecond histogram.
    pub fn of_histogram(h: &Histogram<u32>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        Self {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 51.0), Some(3));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn summary_of_samples_is_in_milliseconds() {
        let s = Summary::of_micros(&[3000, 1000, 2000, 4000]);
        assert_eq!(s.count, 4);
        assert_eq!(s.p50_ms, 2.0);
        assert_eq!(s.p99_ms, 4.0);
        assert_eq!(s.max_ms, 4.0);
        assert_eq!(s.mean_ms, 2.5);
        assert_eq!(Summary::of_micros(&[]), Summary::default());
    }

    #[test]
    fn histogram_percentiles_are_within_one_percent() {
        let mut h = latency_histogram();
        for us in 1..=10_000u64 {
            record(&mut h, us);
        }
        let s = Summary::of_histogram(&h);
        assert_eq!(s.count, 10_000);
        assert!((s.p50_ms - 5.0).abs() <= 0.05, "{s:?}");
        assert!((s.p99_ms - 9.9).abs() <= 0.1, "{s:?}");
        assert!((s.max_ms - 10.0).abs() <= 0.1, "{s:?}");
        // Out of range values are clamped, not lost.
        record(&mut h, 0);
        record(&mut h, u64::MAX);
        assert_eq!(h.len(), 10_002);
    }
}
