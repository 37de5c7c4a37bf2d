//! Command-line types shared by both subcommand modules: plot formats, the merge options of the
//! charge-injection directories, and the command-line overrides of a configuration.

use anyhow::Result;
use clap::{Args, ValueEnum};
use etroc_analysis::jobs;
use hep_cli_support::{ConfigArgs, load_config, print_config};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Plot file format.
#[derive(Clone, Copy, ValueEnum)]
pub enum PlotFormat {
    /// Scalable vector graphics (line plots only; dense plots stay PNG).
    Svg,
    /// Portable network graphics (the default).
    Png,
}

impl From<PlotFormat> for jobs::PlotFormat {
    fn from(f: PlotFormat) -> Self {
        match f {
            PlotFormat::Svg => jobs::PlotFormat::Svg,
            PlotFormat::Png => jobs::PlotFormat::Png,
        }
    }
}

/// The plot-format options every plotting subcommand takes: PNG by default, SVG on request.
#[derive(Args, Clone, Default)]
pub struct FormatArgs {
    /// Plot file format: png (default) or svg. Dense plots (count maps, scatters) are PNG in
    /// either case.
    #[arg(long, value_enum, conflicts_with = "formats")]
    plot_format: Option<PlotFormat>,
    /// Plot file formats, comma-separated (e.g. png,svg); dense plots are PNG only.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    formats: Option<Vec<PlotFormat>>,
    /// Also write the line plots as SVG (same as --formats png,svg).
    #[arg(long)]
    svg: bool,
}

impl FormatArgs {
    /// The formats asked for on the command line (`None`: none of these options given).
    pub fn formats(&self) -> Option<Vec<jobs::PlotFormat>> {
        let mut v: Vec<jobs::PlotFormat> = match (&self.formats, self.plot_format) {
            (Some(list), _) => list.iter().map(|&f| f.into()).collect(),
            (None, Some(f)) => vec![f.into()],
            (None, None) if self.svg => vec![jobs::PlotFormat::Png],
            (None, None) => return None,
        };
        if self.svg {
            v.push(jobs::PlotFormat::Svg);
        }
        Some(jobs::normalised_formats(&v))
    }
}

/// Command-line overrides of a configuration, as a TOML table with dotted keys.
pub type Over = hep_cli_support::Overrides;

/// Overrides this tool adds to [`Over`].
pub trait FormatOverrides {
    /// Sets `key` (the plot formats) from the format options, if any was given.
    ///
    /// # Errors
    /// As [`hep_cli_support::Overrides::set`].
    fn formats(&mut self, key: &str, f: &FormatArgs) -> Result<()>;
}

impl FormatOverrides for Over {
    fn formats(&mut self, key: &str, f: &FormatArgs) -> Result<()> {
        self.set(key, f.formats())
    }
}

/// The effective configuration (defaults, `--config` file, then the command line), or `None`
/// after `--print-config` printed it.
pub fn configure<T: Serialize + DeserializeOwned + Default>(
    cfg: &ConfigArgs,
    over: &Over,
) -> Result<Option<T>> {
    let c: T = load_config(cfg.config.as_deref(), &over.0)?;
    if cfg.print_config {
        print_config(&c)?;
        return Ok(None);
    }
    Ok(Some(c))
}

/// The merge options of a charge-injection directory, shared by `process-dir` and
/// `reprocess-dir` (the options of the original directory scripts).
#[derive(Args)]
pub struct MergeArgs {
    /// Default threshold (DAC) of board 0 (the original's -b0; default 535).
    #[arg(long = "b0")]
    b0: Option<i16>,
    /// Default threshold (DAC) of board 1 (the original's -b1; default 720).
    #[arg(long = "b1")]
    b1: Option<i16>,
    /// Default threshold (DAC) of board 3 (the original's -b3; default 720).
    #[arg(long = "b3")]
    b3: Option<i16>,
    /// Reconcile the merged rows with the scanned board (filter_default).
    #[arg(short = 'f', long = "filter-default")]
    filter_default: bool,
    /// Trigger board (default 0).
    #[arg(short = 't', long = "trigger-board")]
    trigger_board: Option<u8>,
    /// Do not write SQLite databases (Parquet only).
    #[arg(long)]
    no_sqlite: bool,
}

impl MergeArgs {
    /// Adds the options given to `o` (`b0`, `b1`, `b3`, `filter_default`, `trigger_board`,
    /// `sqlite`).
    pub fn overrides(&self, o: &mut Over) -> Result<()> {
        o.set("b0", self.b0)?;
        o.set("b1", self.b1)?;
        o.set("b3", self.b3)?;
        o.flag("filter_default", self.filter_default)?;
        o.set("trigger_board", self.trigger_board)?;
        o.flag_value("sqlite", self.no_sqlite, false)
    }
}
