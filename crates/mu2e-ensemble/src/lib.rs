//! Mu2e mock-data ensembles.
//!
//! Replaces the Mu2e ensemble scripts (`normalizations.py`, `run_si.py`, `genEnsemble.py`,
//! `gen_Primary.sh`): expected event counts per physics process for a given livetime and signal
//! strength, primary event samples, and the mixing of simulated samples into blind "fake data"
//! ensembles. The originals are in Mu2e/Production `JobConfig/ensemble` (four generations,
//! 2019-2026); the user guide `docs/mu2e-ensemble.md` lists them with their commits and holds
//! the formulas, constants, table formats, compat switches and known deviations.
//!
//! The Mu2e spectrum tables (Apache-2.0) are embedded ([`embedded`]): every command uses them
//! unless a table directory is given. The stop rates of mdc2020 and later are not Mu2e public
//! data and must be given by the user.
//!
//! | module | holds |
//! |---|---|
//! | [`commands`] | one typed configuration and one function per CLI subcommand (start here) |
//! | [`constants`] | the four constant sets (mdc2018, mdc2020, mdc2024, mds) and their numbers |
//! | [`units`] | typed livetimes (wall clock, on spill, years) and protons on target |
//! | [`tables`] | spectrum and efficiency tables, cut rules, samplers, SimEfficiencies2 CSV |
//! | [`embedded`] | the Mu2e tables shipped with the crate |
//! | [`dio`] | the analytic DIO endpoint spectrum |
//! | [`norm`] | the per-generation formulas, term by term |
//! | [`normalizations`] | expected yields of every process of a generation |
//! | [`samples`] | primary event samples (Parquet) and their generators |
//! | [`run_si`] | the run_si input directory and its per-sample plan |
//! | [`sampler`] | the ensemble sampler with its event ledger |
//! | [`series`] | series of ensembles sharing samples and ledger |
//! | [`planning`] | genEnsemble parameters and job counts, generated-events checks |
//! | [`fcl`] | art `SamplingInput` interoperability (FCL, end-of-job summary) |
//! | [`scale_out`] | shards of gen-primary and of ensemble series, and their merge |
//! | [`pipeline`] | the end-to-end demo job |
//!
//! ```
//! use mu2e_ensemble::commands::{NormalizationsConfig, normalizations};
//! use mu2e_ensemble::constants::ConstantSet;
//! // Expected events of the 2018 constant set for 10^6 s, from the embedded tables.
//! let cfg = NormalizationsConfig {
//!     constants: ConstantSet::Mdc2018,
//!     livetime: Some(1e6),
//!     rue: 1e-16,
//!     ..Default::default()
//! };
//! let report = normalizations(&cfg)?;
//! for e in &report.norms.entries {
//!     println!("{:<16} {:.4e}", e.sample, e.value);
//! }
//! # Ok::<(), mu2e_ensemble::Error>(())
//! ```
//!
//! `examples/normalizations.rs` prints such tables; `examples/small_ensemble.rs` generates small
//! primary samples and builds a tiny ensemble.

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
