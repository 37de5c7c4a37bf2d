//! CMS pixel detector monitoring.
//!
//! Replaces PixelMonitoring: per-fill leakage currents, temperatures and luminosity,
//! leakage-current normalisation, FLUKA fluence, radiation-damage profiles and plots.
//!
//! The behaviour, formulas and constants are specified in `shared/specs/pixel-monitor.md`.
//! This crate is a placeholder until that work lands; it has no public items yet.
