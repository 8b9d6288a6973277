//! The measurement window, in wall-clock microseconds of *capture* time: a frame counts when
//! it was captured inside the window, wherever its arrival falls, so frames still in flight
//! when the window closes are waited for rather than cut off or counted as lost.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The window, shared by the publishers and every receiving task of a run.
#[derive(Debug)]
pub struct Window {
    start: AtomicU64,
    end: AtomicU64,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            start: AtomicU64::new(u64::MAX),
            end: AtomicU64::new(u64::MAX),
        }
    }
}

impl Window {
    /// Opens the window at `at` (wall-clock microseconds).
    pub fn open(&self, at: u64) {
        self.start.store(at, Relaxed);
    }

    /// Closes the window at `at`.
    pub fn close(&self, at: u64) {
        self.end.store(at, Relaxed);
    }

    /// Whether a frame captured at `capture` counts.
    #[inline]
    pub fn contains(&self, capture: u64) -> bool {
        capture >= self.start.load(Relaxed) && capture < self.end.load(Relaxed)
    }

    /// The start, if opened.
    pub fn start(&self) -> Option<u64> {
        Some(self.start.load(Relaxed)).filter(|s| *s != u64::MAX)
    }

    /// The end, if closed.
    pub fn end(&self) -> Option<u64> {
        Some(self.end.load(Relaxed)).filter(|e| *e != u64::MAX)
    }

    /// Its length in seconds once opened and closed.
    pub fn seconds(&self) -> Option<f64> {
        let (s, e) = (self.start()?, self.end()?);
        Some(e.saturating_sub(s) as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_captures_between_open_and_close() {
        let w = Window::default();
        assert!(!w.contains(5));
        assert_eq!(w.seconds(), None);
        w.open(10);
        assert!(!w.contains(9));
        assert!(w.contains(10));
        assert!(w.contains(1 << 40));
        w.close(2_000_010);
        assert!(w.contains(2_000_009));
        assert!(!w.contains(2_000_010));
        assert_eq!(w.seconds(), Some(2.0));
    }
}
