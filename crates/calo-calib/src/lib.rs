//! Mu2e calorimeter source calibration.
//!
//! Replaces CaloCalibration (SourceFitter, MakeAnalysisTree, SourcePlotter and the reco-table
//! maker): fits of the 6.13 MeV source spectrum per SiPM (chi-square and likelihood), MeV/ADC
//! constants, and their combination with the cosmic-ray constants.
//!
//! The originals are Mu2e/CaloCalibration (commit `0d42e9e`: `SourceCalib/src/SourceFitter.cc`,
//! `MakeAnalysisTree_main.cc`, `SourcePlotter.cc`, `Combinations/`) and the channel model and DB
//! tables of Mu2e/Offline (commit `0878d6b`). The user guide `docs/calo-calib.md` lists the
//! formulas, constants, file formats, compat switches and known deviations with their sources.
//!
//! | module | holds |
//! |---|---|
//! | [`channel`] | SiPM/crystal/disk id maps, LYSO channels, crystal positions (Offline) |
//! | [`spectra`] | the spectra table (CSV/Parquet, one row per bin) with located input errors |
//! | [`simulate`] | seeded source spectra with truth, and simulated cosmic constants |
//! | [`model`] | the SourceFitter model: three Crystal Balls in energy and a background |
//! | [`fit`] | the fit of one spectrum: multi-start, errors, profile interval, status |
//! | [`detector`] | parallel fits of a detector, the archive outputs (MakeAnalysisTree) |
//! | [`jobs`] | the subcommands as library calls: typed job configurations and `run_*` functions |
//! | [`tables`] | the Mu2e DB text tables (Offline `DbTables`) |
//! | [`combine`] | the reconstruction table from source and cosmic constants (the combiner) |
//! | [`plots`] | SourcePlotter's summary plots and the per-channel canvases |
//! | [`pipeline`] | the end-to-end chain on simulated input (hep-demo's main job) |
//! | [`scale_out`] | the detector fit as shards of an array job and their merge |
//!
//! The crate ships Mu2e Offline's crystal positions (`data/crystalPos.txt`, Apache-2.0,
//! [`channel::CrystalPositions::shipped`]); `plot` draws its per-disk maps on them unless another
//! positions file is given.
//!
//! # Examples
//!
//! `examples/fit_channels.rs` uses the crate as another project would: it simulates eight SiPM
//! spectra with a seed, fits them, writes the constants (`source_fits.parquet`, `.csv` and the
//! `CalSourceEnergyCalib.txt` DB table) into the directory given as its first argument and
//! prints the fitted peaks against the truth:
//!
//! ```text
//! cargo run -p calo-calib --example fit_channels -- /tmp/calo-constants
//! ```
//!
//! The command-line subcommands are library calls on typed configurations ([`jobs`]): e.g.
//! [`jobs::run_fit`] on a [`jobs::FitJob`] writes what `calo-calib fit` writes.
//!
//! One channel, simulated and fitted:
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
pub mod jobs;
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
