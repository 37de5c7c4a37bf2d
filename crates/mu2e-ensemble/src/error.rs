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

    /// An argument or configuration outside its domain.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// An option a run cannot do without was given neither on the command line nor in the
    /// configuration.
    #[error("no {what}: give it on the command line or as `{key}` in the configuration")]
    MissingOption {
        /// What is missing, as a user names it (e.g. `output directory`, `--livetime`).
        what: String,
        /// Its configuration key.
        key: String,
    },

    /// The event ledger's lock was held by another process for longer than
    /// [`crate::sampler::LEDGER_LOCK_TIMEOUT`]: a hung or stopped `mu2e-ensemble` holds it (the
    /// operating system releases the lock of a process that ended).
    #[error(
        "{path}: still locked by another process after {waited_s} s; a hung or stopped \
         mu2e-ensemble holds it (find it with `fuser {path}`)",
        path = path.display()
    )]
    LockTimeout {
        /// The lock file (`<ledger>.lock`).
        path: PathBuf,
        /// How long this process waited (s).
        waited_s: u64,
    },

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
    /// A malformed input record, `path:line: expected ..., found ...` (1-based line; for
    /// Parquet input the 1-based row, 0 for the file as a whole): hep-core's located
    /// [`hep_core::Error::Parse`], which every reader of the workspace reports.
    pub fn input(
        path: impl Into<PathBuf>,
        line: u64,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        Error::Core(hep_core::Error::parse(path, line, expected, found))
    }
}
