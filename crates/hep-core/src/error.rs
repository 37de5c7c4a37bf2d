//! The error type of `hep-core`.
//!
//! Every fallible function of the crate returns [`Result<T>`](Result), whose error is the
//! [`Error`] enum below. Input problems carry the file path and, where the input is line oriented,
//! the 1-based line number, so a binary can print `path:line: expected ..., found ...` without
//! adding context of its own.

use std::path::PathBuf;

/// Result alias used throughout `hep-core`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `hep-core`.
///
/// The enum is `#[non_exhaustive]`: new variants may be added without a breaking release, so
/// downstream `match`es need a wildcard arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O error while touching `path`.
    ///
    /// The message includes the operating system's; it is not repeated as a source, so an error
    /// chain (`{:#}` of anyhow) prints it once.
    #[error("{path}: {error}", path = path.display())]
    Io {
        /// The file or directory that was being read, written or renamed.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },

    /// A malformed line or record in a text input.
    ///
    /// Displayed as `path:line: expected <expected>, found <found>`; `line` is 1-based.
    #[error("{path}:{line}: expected {expected}, found {found}", path = path.display())]
    Parse {
        /// The input file.
        path: PathBuf,
        /// 1-based line number of the offending record (0 when unknown).
        line: u64,
        /// What the reader expected there.
        expected: String,
        /// What it found instead.
        found: String,
    },

    /// A Parquet encoding or decoding error for `path` (the message includes the Parquet
    /// reader's).
    #[error("{path}: parquet: {error}", path = path.display())]
    Parquet {
        /// The Parquet file.
        path: PathBuf,
        /// The underlying error.
        error: parquet::errors::ParquetError,
    },

    /// An Arrow error (schema mismatch, wrong column type, bad batch).
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),

    /// A JSON (de)serialisation error, e.g. of a provenance manifest.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),

    /// An argument outside its documented domain (empty binning, negative width, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// The numerical minimiser (argmin) failed.
    #[error("minimizer: {0}")]
    Minimizer(String),

    /// The Hessian at the reported minimum is not positive definite, so no covariance exists.
    #[error(
        "the Hessian at the minimum is not positive definite: not a minimum, or a parameter is unconstrained"
    )]
    NotPositiveDefinite,

    /// A profile-likelihood interval could not be found (no crossing inside the parameter limits).
    #[error("profile interval of parameter {parameter}: {reason}")]
    ProfileInterval {
        /// The parameter name.
        parameter: String,
        /// Why the search failed.
        reason: String,
    },

    /// A file's content does not match the digest its provenance manifest recorded: it was
    /// changed or corrupted after it was written.
    #[error("{path}: {reason}", path = path.display())]
    Integrity {
        /// The file that failed the check.
        path: PathBuf,
        /// What did not match.
        reason: String,
    },

    /// A shard of a scaled-out job is missing, incomplete, or does not match the others
    /// (see [`crate::shard::collect_shards`]).
    #[error("shard {shard}: {reason}")]
    Shard {
        /// The shard, as `I/N` (`-` when no shard could be named).
        shard: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Drawing a plot failed.
    #[error("plot {path}: {reason}", path = path.display())]
    Plot {
        /// The output file.
        path: PathBuf,
        /// What went wrong, as reported by the plotting backend.
        reason: String,
    },
}

impl Error {
    /// Builds an [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error: source,
        }
    }

    /// Builds an [`Error::Parse`] for `path:line`.
    pub fn parse(
        path: impl Into<PathBuf>,
        line: u64,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        Error::Parse {
            path: path.into(),
            line,
            expected: expected.into(),
            found: found.into(),
        }
    }
}

impl From<argmin::core::Error> for Error {
    fn from(e: argmin::core::Error) -> Self {
        Error::Minimizer(format!("{e:#}"))
    }
}
