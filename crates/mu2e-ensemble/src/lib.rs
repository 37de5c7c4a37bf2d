//! Mu2e mock-data ensembles.
//!
//! Replaces the Mu2e ensemble scripts (`normalizations.py`, `run_si.py`, `genEnsemble.py`,
//! `gen_Primary.sh`): expected event counts per physics process for a given livetime and signal
//! strength, primary event samples, and the mixing of simulated samples into blind "fake data"
//! ensembles. The originals are in Mu2e/Production `JobConfig/ensemble` (four generations,
//! 2019-2026); `docs/mu2e-ensemble.md` lists them with their commits and holds the formulas,
//! constants, table formats, compat switches and known deviations.

pub mod commands;
pub mod embedded;
pub mod error;

// --- normalisations ---
pub mod constants;
pub mod dio;
pub mod norm;
pub mod normalizations;
pub mod tables;
pub mod units;

// --- samples, sampler, run_si, planning ---
pub mod fcl;
pub mod pipeline;
pub mod planning;
pub mod run_si;
pub mod sampler;
pub mod samples;
pub mod scale_out;
pub mod series;

pub use error::{Error, Result};
