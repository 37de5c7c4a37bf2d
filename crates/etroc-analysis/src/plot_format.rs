//! The file formats of the crate's plots: PNG by default, SVG on request for line plots.
//!
//! Dense plots (count maps, scatters, scatter matrices) are always PNG, whatever the formats: as
//! SVG they hold one element per point and reach hundreds of MB at 10^6 events.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// File format of a plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlotFormat {
    /// Portable network graphics (the default; always used for dense plots).
    #[default]
    Png,
    /// Scalable vector graphics (line plots only, on request).
    Svg,
}

impl PlotFormat {
    /// The file extension (`png` or `svg`).
    pub fn ext(self) -> &'static str {
        match self {
            PlotFormat::Png => "png",
            PlotFormat::Svg => "svg",
        }
    }
}

impl std::str::FromStr for PlotFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "png" => Ok(PlotFormat::Png),
            "svg" => Ok(PlotFormat::Svg),
            other => Err(Error::InvalidArgument(format!(
                "plot format: expected png or svg, found `{other}`"
            ))),
        }
    }
}

impl std::fmt::Display for PlotFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.ext())
    }
}

/// The default plot formats: PNG only.
pub fn default_plot_formats() -> Vec<PlotFormat> {
    vec![PlotFormat::Png]
}

/// The formats of `formats` in a fixed order (PNG first), without repeats; PNG if empty.
pub fn normalised_formats(formats: &[PlotFormat]) -> Vec<PlotFormat> {
    let mut out: Vec<PlotFormat> = [PlotFormat::Png, PlotFormat::Svg]
        .into_iter()
        .filter(|f| formats.contains(f))
        .collect();
    if out.is_empty() {
        out.push(PlotFormat::Png);
    }
    out
}
