//! Command-line spellings of the library's enums (clap `ValueEnum`, with the aliases the
//! library's parsers accept) and the overrides table the options are collected into.

use anyhow::{Context, Result};
use clap::ValueEnum;
use mu2e_ensemble::commands::OutputFormat;
use mu2e_ensemble::constants::{BeamMode, ConstantSet, PotMethod};
use mu2e_ensemble::normalizations::Quirks;
use mu2e_ensemble::units::LivetimeKind;

/// The options given on the command line, as a TOML table laid over the configuration.
pub type Over = hep_cli_support::Overrides;

/// Overrides this tool adds to [`Over`].
pub trait QuirkOverrides {
    /// Sets `compat.<quirk>` to true for every quirk `q` switches on.
    ///
    /// # Errors
    /// As [`hep_cli_support::Overrides::set`].
    fn quirks(&mut self, q: &Quirks) -> Result<()>;
}

impl QuirkOverrides for Over {
    fn quirks(&mut self, q: &Quirks) -> Result<()> {
        let t = toml::Table::try_from(q).context("compat")?;
        for (k, v) in t {
            if v.as_bool() == Some(true) {
                self.set(&format!("compat.{k}"), Some(true))?;
            }
        }
        Ok(())
    }
}

/// Constant set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "lower")]
pub enum ConstantsArg {
    /// G0, 2018.
    #[value(alias = "g0")]
    Mdc2018,
    /// G1, 2020.
    #[value(alias = "g1")]
    Mdc2020,
    /// G2, 2024.
    #[value(alias = "g2")]
    Mdc2024,
    /// G3, HEAD.
    #[value(alias = "mds2", alias = "mds3", alias = "head", alias = "g3")]
    Mds,
}

impl From<ConstantsArg> for ConstantSet {
    fn from(c: ConstantsArg) -> Self {
        match c {
            ConstantsArg::Mdc2018 => ConstantSet::Mdc2018,
            ConstantsArg::Mdc2020 => ConstantSet::Mdc2020,
            ConstantsArg::Mdc2024 => ConstantSet::Mdc2024,
            ConstantsArg::Mds => ConstantSet::Mds,
        }
    }
}

/// How to read a livetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LivetimeKindArg {
    /// What the generation meant.
    Native,
    /// Wall-clock seconds.
    #[value(alias = "wallclock")]
    WallClock,
    /// On-spill seconds.
    #[value(alias = "onspill")]
    OnSpill,
    /// Years of 365 days.
    #[value(alias = "yr")]
    Years,
}

impl From<LivetimeKindArg> for LivetimeKind {
    fn from(k: LivetimeKindArg) -> Self {
        match k {
            LivetimeKindArg::Native => LivetimeKind::Native,
            LivetimeKindArg::WallClock => LivetimeKind::WallClock,
            LivetimeKindArg::OnSpill => LivetimeKind::OnSpill,
            LivetimeKindArg::Years => LivetimeKind::Years,
        }
    }
}

/// Beam mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BeamArg {
    /// One booster batch.
    #[value(name = "1BB")]
    OneBB,
    /// Two booster batches.
    #[value(name = "2BB")]
    TwoBB,
}

impl From<BeamArg> for BeamMode {
    fn from(b: BeamArg) -> Self {
        match b {
            BeamArg::OneBB => BeamMode::OneBB,
            BeamArg::TwoBB => BeamMode::TwoBB,
        }
    }
}

/// POT method of mds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PotMethodArg {
    /// On-spill time / spill x protons per spill.
    Spill,
    /// On-spill time / cycle x POT per cycle / duty.
    Cycle,
}

impl From<PotMethodArg> for PotMethod {
    fn from(p: PotMethodArg) -> Self {
        match p {
            PotMethodArg::Spill => PotMethod::Spill,
            PotMethodArg::Cycle => PotMethod::Cycle,
        }
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text.
    Table,
    /// JSON.
    Json,
}

impl From<Format> for OutputFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Table => OutputFormat::Table,
            Format::Json => OutputFormat::Json,
        }
    }
}
