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
