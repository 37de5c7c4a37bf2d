//! The error type of `pixel-monitor`.
//!
//! Input problems are located: a malformed line of a text input, or a bad row of a Parquet input,
//! is reported as `path:line: expected ..., found ...` through hep-core's
//! [`hep_core::Error::Parse`], wrapped in [`Error::Core`]. Nothing is written when a reader
//! fails: the readers return data, and the writers run only after every input was read.

use std::path::PathBuf;

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `pixel-monitor`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error from hep-core: I/O, a located parse error, Parquet, CSV, plotting, shards.
    #[error(transparent)]
    Core(#[from] hep_core::Error),

    /// An argument or configuration value outside its domain (a zone name that does not exist,
    /// a negative step, a fill range with first > last, ...).
    #[error("invalid configuration: {0}")]
    Config(String),

    /// A computation cannot be done with the data given (no fills in the range, no cross-section
    /// for a fill, a readout group without modules, ...).
    #[error("{0}")]
    Data(String),

    /// A required input file is missing.
    #[error("{path}: missing {what}", path = path.display())]
    MissingInput {
        /// The path that was looked for.
        path: PathBuf,
        /// What it should have held.
        what: String,
    },
}

impl Error {
    /// A located parse error `path:line: expected <expected>, found <found>` (line 1-based; for
    /// Parquet and JSON inputs the 1-based row or record number).
    pub fn parse(
        path: impl Into<PathBuf>,
        line: u64,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        Error::Core(hep_core::Error::parse(path, line, expected, found))
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Core(hep_core::Error::io(path, source))
    }
}

impl From<arrow_schema::ArrowError> for Error {
    fn from(e: arrow_schema::ArrowError) -> Self {
        Error::Core(hep_core::Error::Arrow(e))
    }
}
