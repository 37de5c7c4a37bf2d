//! CMS pixel detector monitoring: placeholder root (being written).
pub mod config;
pub mod constants;
pub mod dcs;
pub mod error;
pub mod fills;
pub mod geometry;
pub mod lumi;
pub mod pyfmt;
pub mod time;

pub use error::{Error, Result};
