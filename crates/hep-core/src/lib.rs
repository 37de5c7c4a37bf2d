//! # hep-core
//!
//! The shared foundation of hep-rs. Every domain crate (`mu2e-ensemble`, `fax-sim`,
//! `calo-calib`, `etroc-analysis`, `pixel-monitor`) builds on these modules and on nothing else
//! from the workspace:
//!
//! | module | holds |
//! |---|---|
//! | [`units`] | CLHEP/Geant4-style unit constants and newtypes for quantities the originals confused |
//! | [`rng`] | reproducible random streams: `stream(seed, key)` gives an independent PCG generator |
//! | [`io`] | Parquet and CSV reading and writing, atomic output, SHA-256 of input files |
//! | [`manifest`] | the JSON provenance sidecar written next to every output |
//! | [`hist`] | 1-D fixed-bin histograms with ROOT bin numbering |
//! | [`fit`] | bounded minimisation, Hessian covariance, profile-likelihood intervals, cost functions |
//! | [`plot`] | SVG and PNG plots with a shipped font, drawn the same way by every tool |
//! | [`progress`] | the progress-report trait long loops take, so a CLI can draw a bar |
//! | [`shard`] | scale-out: `--shard I/N` blocks of units, shard manifests, merge checks, Slurm array scripts |
//! | [`error`] | the crate's error enum |
//!
//! Conventions: quantities carry their unit in their name or documentation; functions that can
//! fail return [`Result`]; nothing writes a half-finished output file; given the same seed, every
//! random computation gives the same numbers whatever the thread count.

pub mod error;
pub mod fit;
pub mod hist;
pub mod io;
pub mod manifest;
pub mod plot;
pub mod progress;
pub mod rng;
pub mod shard;
pub mod units;

pub use error::{Error, Result};
