//! # hep-core
//!
//! The shared foundation of hep-rs. Every domain crate (`mu2e-ensemble`, `fax-sim`,
//! `calo-calib`, `etroc-analysis`, `pixel-monitor`) builds on these modules and on nothing else
//! from the workspace:
//!
//! | module | holds |
//! |---|---|
//! | [`config`] | layered TOML configuration: defaults, files and command-line options merged key by key |
//! | [`units`] | CLHEP/Geant4-style unit constants and newtypes for quantities the originals confused |
//! | [`rng`] | reproducible random streams: `stream(seed, key)` gives an independent PCG generator |
//! | [`files`] | atomic output, temporaries, SHA-256 checksums, copies and links (re-exported by [`io`]) |
//! | [`io`] | Parquet and CSV reading and writing (verified against manifests), column access |
//! | [`manifest`] | the JSON provenance sidecar written next to every output |
//! | [`integrity`] | inputs checked against the manifest that lists them before they are read |
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

pub mod config;
pub mod error;
pub mod files;
pub mod fit;
pub mod hist;
pub mod integrity;
pub mod io;
pub mod manifest;
pub mod plot;
pub mod progress;
pub mod rng;
pub mod shard;
pub mod units;

pub use error::{Error, Result};
