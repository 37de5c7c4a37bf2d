//! Mu2e calorimeter source calibration.
//!
//! Replaces CaloCalibration (SourceFitter, MakeAnalysisTree, SourcePlotter and the reco-table
//! maker): fits of the 6.13 MeV source spectrum per SiPM (chi-square and likelihood), MeV/ADC
//! constants, and their combination with the cosmic-ray constants.
//!
//! The behaviour, formulas and constants are specified in `shared/specs/calo-calib.md`; section
//! numbers in the docs (§3.1 ...) refer to it. A user guide is `docs/calo-calib.md`.
//!
//! | module | holds |
//! |---|---|
//! | [`channel`] | SiPM/crystal/disk id maps, LYSO channels, crystal positions (§0) |
//! | [`spectra`] | the spectra table (CSV/Parquet, one row per bin) with located input errors |
//! | [`simulate`] | seeded source spectra with truth, and simulated cosmic constants (§13.B) |
//! | [`model`] | the SourceFitter model: three Crystal Balls in energy and a background (§3.1) |
//! | [`fit`] | the fit of one spectrum: multi-start, errors, profile interval, status (§3, §10) |
//! | [`detector`] | parallel fits of a detector, the archive outputs (§3.6, §4, §8) |
//! | [`tables`] | the Mu2e DB text tables (§8) |
//! | [`combine`] | the reconstruction table from source and cosmic constants (§8.1) |
//! | [`plots`] | SourcePlotter's summary plots and the per-channel canvases (§4) |
//! | [`pipeline`] | the end-to-end chain on simulated input (hep-demo's main job) |
//! | [`scale_out`] | the detector fit as shards of an array job and their merge |
//!
//! ```no_run
//! use calo_calib::fit::{FitConfig, fit_spectrum};
//! use calo_calib::simulate::{SimConfig, simulate_channel};
//! let (spectrum, truth) = simulate_channel(&SimConfig::default(), 17)?;
//! let fit = fit_spectrum(17, &spectrum.edges, &spectrum.counts, &FitConfig::default())?;
//! println!("adc2mev {} +- {} MeV/ADC (truth {})", fit.adc2mev, fit.adc2mev_err,
//!     truth.adc2mev_mev_per_adc);
//! # Ok::<(), calo_calib::Error>(())
//! ```

pub mod channel;
pub mod combine;
pub mod detector;
pub mod error;
pub mod fit;
pub mod model;
mod objective;
pub mod pipeline;
pub mod plots;
mod profiled;
pub mod scale_out;
pub mod simulate;
pub mod spectra;
pub mod tables;

pub use error::{Error, Result};
