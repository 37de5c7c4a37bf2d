//! Command-line types shared by both subcommand modules.

use clap::{Args, ValueEnum};
use etroc_analysis::ingest_run::DirOptions;

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

/// The merge options of a charge-injection directory, shared by `process-dir` and
/// `reprocess-dir` (the options of the original directory scripts).
#[derive(Args)]
pub struct MergeArgs {
    /// Default threshold (DAC) of board 0 (the original's -b0).
    #[arg(long = "b0", default_value_t = 535)]
    b0: i16,
    /// Default threshold (DAC) of board 1 (the original's -b1).
    #[arg(long = "b1", default_value_t = 720)]
    b1: i16,
    /// Default threshold (DAC) of board 3 (the original's -b3).
    #[arg(long = "b3", default_value_t = 720)]
    b3: i16,
    /// Reconcile the merged rows with the scanned board (filter_default).
    #[arg(short = 'f', long = "filter-default")]
    filter_default: bool,
    /// Trigger board.
    #[arg(short = 't', long = "trigger-board", default_value_t = 0)]
    trigger_board: u8,
    /// Do not write SQLite databases (Parquet only).
    #[arg(long)]
    no_sqlite: bool,
}

impl MergeArgs {
    /// The library options, with `keep_all` (`-k`, hits with hit_flag 0) from the caller.
    pub fn dir_options(&self, keep_all: bool) -> DirOptions {
        DirOptions {
            keep_all,
            default_thresholds: [self.b0, self.b1, self.b3],
            filter_default: self.filter_default,
            trigger_board: self.trigger_board,
            sqlite: !self.no_sqlite,
        }
    }
}
