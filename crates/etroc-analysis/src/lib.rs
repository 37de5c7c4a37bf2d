//! ETROC1 test-beam and charge-injection analysis.
//!
//! Replaces the ETROC1 analysis scripts: ingest of the DAQ text, 3-board event building, event and
//! time cuts, codes to nanoseconds, time-walk correction, per-board time resolution, and the
//! charge-injection threshold scans. The originals are `cbeiraod/ETROC-Analysis-Scripts` (commit
//! `6150825`, 2023-03-29) and `lip-pps-run-manager` 0.3.0; `docs/etroc-analysis.md` holds the
//! formulas, file formats, compat switches and known deviations with their sources.

pub mod error;

// --- input, event building, storage, run directory, cuts ---
pub mod cut_tasks;
pub mod cuts;
pub mod datetime;
pub mod events;
pub mod ingest;
pub mod ingest_plots;
pub mod ingest_run;
pub mod rundir;
pub mod store;

// --- times, time walk, resolution, charge injection, simulation ---
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
