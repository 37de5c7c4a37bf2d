//! Mu2e mock-data ensembles.
//!
//! Replaces the Mu2e ensemble scripts (`normalizations.py`, `run_si.py`, `genEnsemble.py`,
//! `gen_Primary.sh`): expected event counts per physics process for a given livetime and signal
//! strength, primary event samples, and the mixing of simulated samples into blind "fake data"
//! ensembles. The behaviour, formulas and constants are specified in
//! `shared/specs/mu2e-ensemble.md`.

pub mod error;

// --- normalisations (spec section 1) ---
pub mod constants;
pub mod dio;
pub mod norm;
pub mod normalizations;
pub mod tables;
pub mod units;

// --- samples, sampler, run_si, planning (spec sections 2 and 3) ---
pub mod fcl;
pub mod pipeline;
pub mod planning;
pub mod run_si;
pub mod sampler;
pub mod samples;
pub mod scale_out;
pub mod series;

pub use error::{Error, Result};
