//! Mu2e calorimeter source calibration.
//!
//! Replaces CaloCalibration (SourceFitter, MakeAnalysisTree, SourcePlotter and the reco-table
//! maker): fits of the 6.13 MeV source spectrum per SiPM (chi-square and likelihood), MeV/ADC
//! constants, and their combination with the cosmic-ray constants.
//!
//! The behaviour, formulas and constants are specified in `shared/specs/calo-calib.md`; section
//! numbers in the docs (§3.1 ...) refer to it.

pub mod channel;
pub mod combine;
pub mod detector;
pub mod error;
pub mod fit;
pub mod model;
mod objective;
pub mod pipeline;
pub mod plots;
pub mod simulate;
pub mod spectra;
pub mod tables;

pub use error::{Error, Result};
