//! Mu2e mock-data ensembles.
//!
//! Replaces the MDC2020 ensemble scripts (`normalizations.py`, `run_si.py`, `genEnsemble.py`):
//! expected event counts per physics process for a given livetime and signal strength, and the
//! mixing of simulated event samples into blind "fake data" ensembles.
//!
//! The behaviour, formulas and constants are specified in `shared/specs/mu2e-ensemble.md`.
//! This crate is a placeholder until that work lands; it has no public items yet.
