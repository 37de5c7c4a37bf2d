//! CMS pixel detector monitoring: placeholder root (being written).
pub mod annealing;
pub mod config;
pub mod constants;
pub mod currents;
pub mod dcs;
pub mod error;
pub mod fills;
pub mod fluence;
pub mod geometry;
pub mod hamburg;
pub mod hamburg_job;
pub mod jobs;
pub mod lumi;
pub mod normalise;
pub mod output;
pub mod pipeline;
pub mod plots;
pub mod profile;
pub mod profile_job;
pub mod profile_merge;
pub mod pyfmt;
pub mod simulate;
pub mod temperatures;
pub mod time;

pub use error::{Error, Result};
