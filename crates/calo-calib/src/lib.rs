//! Mu2e calorimeter source calibration.
//!
//! Replaces CaloCalibration (SourceFitter, MakeAnalysisTree, SourcePlotter and the reco-table
//! maker): fits of the 6.13 MeV source spectrum per SiPM (chi-square and likelihood), MeV/ADC
//! constants, and their combination with the cosmic-ray constants.
//!
//! The behaviour, formulas and constants are specified in `shared/specs/calo-calib.md`.
//! This crate is a placeholder until that work lands; it has no public items yet.
