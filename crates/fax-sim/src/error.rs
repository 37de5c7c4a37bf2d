//! The error type of `fax-sim`.
//!
//! Input problems carry the file and 1-based line (through hep-core's located
//! [`hep_core::error::Error::Parse`]), so a binary prints `path:line: expected ..., found ...`.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `fax-sim`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error of hep-core: I/O, a located parse error, Parquet, manifests, shards, plots.
    #[error(transparent)]
    Core(#[from] hep_core::error::Error),

    /// A configuration value outside its domain (negative lifetime, probability above 1, ...).
    #[error("configuration: {0}")]
    Config(String),

    /// A map file that is not a valid pax map (missing coordinate system, ragged values, ...).
    #[error("{path}: {reason}", path = path.display())]
    Map {
        /// The map file (or `builtin:<name>` for an embedded one).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// An argument outside its documented domain (an event that does not exist, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl Error {
    /// A located parse error `path:line: expected ..., found ...`.
    pub fn parse(
        path: impl Into<PathBuf>,
        line: u64,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        Error::Core(hep_core::error::Error::parse(path, line, expected, found))
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Core(hep_core::error::Error::io(path, source))
    }

    /// A map error.
    pub fn map(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Map {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl From<arrow_schema::ArrowError> for Error {
    fn from(e: arrow_schema::ArrowError) -> Self {
        Error::Core(e.into())
    }
}
