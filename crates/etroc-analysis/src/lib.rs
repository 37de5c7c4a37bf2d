//! ETROC1 test-beam and charge-injection analysis.
//!
//! Replaces the ETROC1 analysis scripts: ingest of the DAQ text, 3-board event building, event and
//! time cuts, codes to nanoseconds, time-walk correction, per-board time resolution, and the
//! charge-injection threshold scans. The originals are `cbeiraod/ETROC-Analysis-Scripts` (commit
//! `6150825`, 2023-03-29) and `lip-pps-run-manager` 0.3.0; the user guide `docs/etroc-analysis.md`
//! holds the formulas, file formats, compat switches and known deviations with their sources.
//!
//! | module | holds |
//! |---|---|
//! | [`jobs`] | one configuration and one call per subcommand of the tool |
//! | [`ingest`], [`events`] | the DAQ text and raw words, hits, 3-board event building |
//! | [`ingest_run`] | the ingest tasks and the charge-injection directories (merge, shards) |
//! | [`rundir`], [`store`] | run directories, tasks, manifests; Parquet/SQLite tables and filters |
//! | [`cuts`], [`cut_tasks`] | event and time cut files, their application, the cut-flow tasks |
//! | [`times`] | CAL bin width and codes to ns (`calculate_times_in_ns.py`) |
//! | [`odr`], [`twc`] | ODR/OLS polynomial fits and the iterative time-walk correction |
//! | [`resolution`] | per-board time resolution per cut step and TWC iteration |
//! | [`charge_injection`] | DAC points, noise limits, DAC-vs-charge lines |
//! | [`pipeline`] | the whole beam chain in one call (on disk or in memory), the demo |
//! | [`beam_runs`] | several beam runs in one job, by shard |
//! | [`simulate`] | synthetic beam runs and charge scans with known truth |
//! | [`ingest_plots`], [`analysis_plots`], [`matrix_plots`] | the plots of every task |
//! | [`plot_format`] | PNG by default, SVG on request for line plots |
//! | [`datetime`], [`error`] | timestamps; the error type |
//!
//! A simulated beam run through the whole chain (see also `examples/beam_resolution.rs`):
//!
//! ```no_run
//! use etroc_analysis::jobs::{RunBeamConfig, SimKind, SimulateConfig, SimulateReport};
//! use etroc_analysis::pipeline::compare_with_truth;
//! let sim = SimulateConfig {
//!     kind: SimKind::Beam,
//!     out_directory: Some("sim".into()),
//!     events: 5_000,
//!     ..SimulateConfig::default()
//! };
//! let SimulateReport::Beam { txt, truth, .. } = etroc_analysis::jobs::simulate(&sim)? else {
//!     return Ok(());
//! };
//! let cfg = RunBeamConfig { file: Some(txt), out_directory: "run".into(), ..Default::default() };
//! let report = etroc_analysis::jobs::run_beam_job(&cfg, &hep_core::progress::NoProgress)?;
//! for b in compare_with_truth(&report.chain, &truth) {
//!     println!("board {}: {:.1} ± {:.1} ps (expected {:.1} ps)", b.board, b.measured_ps,
//!         b.measured_unc_ps, b.expected_ps);
//! }
//! # Ok::<(), etroc_analysis::Error>(())
//! ```

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
pub mod plot_format;
pub mod resolution;
pub mod simulate;
pub mod times;
pub mod twc;

// --- several beam runs in one job, by shard ---
pub mod beam_runs;

// --- one configuration and one call per subcommand ---
pub mod jobs;

pub use error::{Error, Result};
