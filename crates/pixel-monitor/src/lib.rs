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
pub mod lumi;
pub mod normalise;
pub mod output;
pub mod profile;
pub mod profile_merge;
pub mod pyfmt;
pub mod simulate;
pub mod temperatures;
pub mod time;

pub use error::{Error, Result};
