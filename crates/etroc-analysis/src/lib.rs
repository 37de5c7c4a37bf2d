//! ETROC1 test-beam and charge-injection analysis.
//!
//! Replaces the ETROC1 analysis scripts: ingesting telescope data, building three-board events,
//! applying cuts, converting TDC codes to time, correcting time walk, measuring the per-board time
//! resolution, and charge-injection threshold scans.
//!
//! The behaviour, formulas and constants are specified in `shared/specs/etroc-analysis.md`.
//! This crate is a placeholder until that work lands; it has no public items yet.
