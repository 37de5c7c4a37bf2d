//! The error type of `calo-calib`.

use std::path::PathBuf;

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `calo-calib`.
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
