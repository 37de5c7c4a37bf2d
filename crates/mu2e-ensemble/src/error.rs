//! The error type of `mu2e-ensemble`.

use std::path::PathBuf;

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `mu2e-ensemble`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from hep-core (I/O, Parquet, CSV, fitting, plotting), with its own location.
    #[error(transparent)]
    Core(#[from] hep_core::Error),

    /// A malformed input record: `path:line: expected ..., found ...` (line is 1-based; for
    /// Parquet input it is the 1-based row number).
    #[error("{path}:{line}: expected {expected}, found {found}", path = path.display())]
    Input {
        /// The input file.
        path: PathBuf,
        /// 1-based line (or row) number.
        line: u64,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },

    /// An argument or configuration outside its domain.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A sample has fewer unused events than the ensemble needs (the originals ran out of
    /// events silently); raised before
    /// anything is written.
    #[error(
        "sample {sample} is short: the ensemble needs {needed} events but only {available} unused \
         events remain (short by {shortfall}); the largest livetime whose expected counts fit is \
         {max_livetime_s:.6e} s ({max_livetime_3sigma_s:.6e} s with a 3-sigma margin)"
    )]
    ShortSample {
        /// The sample name.
        sample: String,
        /// Events drawn for this sample.
        needed: u64,
        /// Unused events left in its files.
        available: u64,
        /// `needed − available`.
        shortfall: u64,
        /// Largest livetime (s) for which every sample's expected count is at most its available
        /// events (expectations scale linearly with livetime).
        max_livetime_s: f64,
        /// Largest livetime (s) for which every expected count plus 3 standard deviations fits.
        max_livetime_3sigma_s: f64,
    },
}

impl Error {
    /// Builds an [`Error::Input`].
    pub fn input(
        path: impl Into<PathBuf>,
        line: u64,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        Error::Input {
            path: path.into(),
            line,
            expected: expected.into(),
            found: found.into(),
        }
    }
}
