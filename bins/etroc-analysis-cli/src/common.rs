//! Command-line types shared by both subcommand modules.

use clap::ValueEnum;

/// Plot file format.
#[derive(Clone, Copy, ValueEnum)]
pub enum PlotFormat {
    /// Scalable vector graphics.
    Svg,
    /// Portable network graphics.
    Png,
}

impl PlotFormat {
    /// The file extension of the format.
    pub fn ext(self) -> &'static str {
        match self {
            PlotFormat::Svg => "svg",
            PlotFormat::Png => "png",
        }
    }
}
