//! Progress reports from long loops.
//!
//! A library function with a long loop (channels, events, fills, readout groups) takes a
//! `&dyn Progress` and reports the amount of work first ([`Progress::start`]) and then each
//! finished unit ([`Progress::advance`]). Command-line tools pass an implementation that draws a
//! progress bar when stderr is a terminal; library callers who do not care pass [`NoProgress`].
//! Reports come from any thread (hence `Sync`), in any order; they never change a result.
//!
//! ```
//! use hep_core::progress::{CountingProgress, Progress};
//! let p = CountingProgress::default();
//! p.start("fills", 3);
//! for _ in 0..3 { p.advance(1); }
//! assert_eq!(p.done(), 3);
//! assert_eq!(p.total(), 3);
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

/// Receiver of progress reports. Every method has a do-nothing default except [`advance`].
///
/// [`advance`]: Progress::advance
pub trait Progress: Sync {
    /// A stage named `what` (e.g. `"readout groups"`) with `total` units starts.
    fn start(&self, what: &str, total: u64) {
        let _ = (what, total);
    }
    /// `n` more units of the current stage are done.
    fn advance(&self, n: u64);
    /// The current stage is finished.
    fn finish(&self) {}
}

/// Ignores every report.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn advance(&self, _n: u64) {}
}

/// Counts the reports (for tests and for callers that poll).
#[derive(Debug, Default)]
pub struct CountingProgress {
    total: AtomicU64,
    done: AtomicU64,
}

impl CountingProgress {
    /// Units reported done in the current stage.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
    /// Total of the current stage.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

impl Progress for CountingProgress {
    fn start(&self, _what: &str, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
    }
    fn advance(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
}
