//! The error type of `etroc-analysis`.

use std::path::PathBuf;

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `etroc-analysis`.
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

    /// A SQLite error while writing or reading the database `path`.
    #[error("{path}: sqlite: {error}", path = path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The underlying error (in the message, not repeated as a source).
        error: rusqlite::Error,
    },

    /// An Arrow IPC (Feather v2) error while writing or reading the filter file `path`.
    #[error("{path}: arrow ipc: {error}", path = path.display())]
    Ipc {
        /// The IPC file.
        path: PathBuf,
        /// The underlying error (in the message, not repeated as a source).
        error: arrow_schema::ArrowError,
    },

    /// A run-directory problem (not a run, already exists, ...), as `lip-pps-run-manager`
    /// defines runs.
    #[error("{path}: {message}", path = path.display())]
    Run {
        /// The run (or task) directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// A task refused to run because a task it depends on did not complete without errors
    /// (the dependency gating of the original scripts, which check each
    /// other's `task_report.txt`).
    #[error(
        "task '{task}' needs task '{required}' to have completed without errors in {run} \
         (see <task>/task_report.txt there); run it first",
        run = run.display()
    )]
    TaskNotCompleted {
        /// The run directory.
        run: PathBuf,
        /// The task that was asked to run.
        task: String,
        /// The task it needs (or the alternatives, joined by " or ").
        required: String,
    },

    /// A required input file (cut file, filter, previous task's table) does not exist.
    #[error("{path}: missing {what}", path = path.display())]
    MissingFile {
        /// The path that was looked up.
        path: PathBuf,
        /// What the file is and how to provide it.
        what: String,
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
