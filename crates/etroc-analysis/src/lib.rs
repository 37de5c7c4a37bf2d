//! ETROC1 test-beam and charge-injection analysis.
//!
//! Replaces the ETROC1 analysis scripts: ingest of the DAQ text, 3-board event building, event and
//! time cuts, codes to nanoseconds, time-walk correction, per-board time resolution, and the
//! charge-injection threshold scans. The behaviour, formulas and file formats are specified in
//! `shared/specs/etroc-analysis.md`.

pub mod error;

// --- input, event building, storage, run directory, cuts (spec sections 1, 2, 3, 6.1, 6.2) ---
pub mod cuts;
pub mod events;
pub mod ingest;
pub mod ingest_plots;
pub mod ingest_run;
pub mod rundir;
pub mod store;

// --- times, time walk, resolution, charge injection, simulation (spec sections 4, 5, 7) ---
pub mod analysis_plots;
pub mod charge_injection;
pub mod matrix_plots;
pub mod odr;
pub mod pipeline;
pub mod resolution;
pub mod simulate;
pub mod times;
pub mod twc;

// --- several beam runs in one job, by shard ---
pub mod beam_runs;

pub use error::{Error, Result};
