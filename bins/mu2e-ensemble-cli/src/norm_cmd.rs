//! Subcommands of `mu2e-ensemble` for the process normalisations (`normalizations.py`,
//! `calculateEvents.py`): `normalizations` and `ce-rmue`. Each parses its options into the
//! library's configuration (`mu2e_ensemble::commands`) and makes one library call.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use hep_cli_support::{ConfigArgs, load_config, print_config};
use mu2e_ensemble::commands::{self, CeRmueConfig, NormalizationsConfig};
use mu2e_ensemble::constants::{BeamMode, ConstantSet, PotMethod};
use mu2e_ensemble::normalizations::Quirks;
use mu2e_ensemble::units::LivetimeKind;

use crate::args::{
    BeamArg, ConstantsArg, Format, LivetimeKindArg, Over, PotMethodArg, QuirkOverrides,
};

/// The subcommands of this module.
#[derive(Subcommand)]
pub enum Command {
    /// Expected yield of every process of a constant set for a livetime (normalizations.py).
    ///
    /// Prints one line per sample, named as that generation's original names it: the expected
    /// number of generated events, or for the mdc2020+ cosmics the seconds of cosmic livetime;
    /// plus the protons on target. Without --tables the Mu2e tables embedded in the program are
    /// used. mdc2020 and later need the stop rates (--simeff or explicit options).
    Normalizations(Box<NormArgs>),
    /// The conversion rate giving NSIG expected CE for a livetime (get_ce_rmue).
    CeRmue(Box<CeRmueArgs>),
}

/// Options shared by the normalisation subcommands.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Constant set: mdc2018 (G0), mdc2020 (G1), mdc2024 (G2) or mds (G3, HEAD) [default: mds].
    #[arg(long, value_enum, ignore_case = true)]
    constants: Option<ConstantsArg>,
    /// Livetime in seconds (meaning set by --livetime-kind; native: wall clock for
    /// mdc2018/mdc2020/mdc2024, on spill for mds). Required (here or in the config).
    #[arg(long, allow_negative_numbers = true)]
    livetime: Option<f64>,
    /// How to read --livetime and --max-livetime [default: native].
    #[arg(long, value_enum, ignore_case = true)]
    livetime_kind: Option<LivetimeKindArg>,
    /// Beam mode 1BB or 2BB (mdc2024, mds) [default: 1BB].
    #[arg(long, value_enum, ignore_case = true)]
    beam: Option<BeamArg>,
    /// How mds converts on-spill time to POT: spill (the original default) or cycle.
    #[arg(long, value_enum, ignore_case = true)]
    pot_method: Option<PotMethodArg>,
    /// SimEfficiencies2 CSV (stage,passed,generated,efficiency) giving the stop rates.
    #[arg(long)]
    simeff: Option<PathBuf>,
    /// Stopped mu- per POT in the target (S_mu, x1000 already applied); overrides --simeff.
    #[arg(long)]
    stopped_mu_per_pot: Option<f64>,
    /// Muons stopped in the IPA per POT (S_IPA); overrides --simeff.
    #[arg(long)]
    ipa_stops_per_pot: Option<f64>,
    /// Stopped pi- per POT (S_pi, mds RPC); overrides --simeff.
    #[arg(long)]
    stopped_pi_per_pot: Option<f64>,
    /// num_pion_stops (PiTargetStops passed, mds RPC); overrides --simeff.
    #[arg(long)]
    pion_stops: Option<f64>,
    /// num_pion_filters (PiMinusFilter passed, mds RPC); overrides --simeff.
    #[arg(long)]
    pion_filters: Option<f64>,
    /// num_pion_resamples (PhysicalPionStops generated, mds RPC); overrides --simeff.
    #[arg(long)]
    pion_resamples: Option<f64>,
    /// selected_sum_of_weights (PiSelectedLifeimeWeight_sampler, mds RPC); overrides --simeff.
    #[arg(long)]
    pion_weight_sum: Option<f64>,
    #[command(flatten)]
    config: ConfigArgs,
}

impl Common {
    fn apply(&self, o: &mut Over) -> Result<()> {
        o.set("constants", self.constants.map(ConstantSet::from))?;
        o.set("livetime", self.livetime)?;
        o.set("livetime_kind", self.livetime_kind.map(LivetimeKind::from))?;
        o.set("beam", self.beam.map(BeamMode::from))?;
        o.set("pot_method", self.pot_method.map(PotMethod::from))?;
        o.set("stop_rates.simeff", self.simeff.clone())?;
        o.set("stop_rates.stopped_mu_per_pot", self.stopped_mu_per_pot)?;
        o.set("stop_rates.ipa_stops_per_pot", self.ipa_stops_per_pot)?;
        o.set("stop_rates.stopped_pi_per_pot", self.stopped_pi_per_pot)?;
        o.set("stop_rates.pion_stops", self.pion_stops)?;
        o.set("stop_rates.pion_filters", self.pion_filters)?;
        o.set("stop_rates.pion_resamples", self.pion_resamples)?;
        o.set("stop_rates.pion_weight_sum", self.pion_weight_sum)
    }
}

/// Arguments of `normalizations`.
#[derive(Args, Debug, Clone)]
pub struct NormArgs {
    #[command(flatten)]
    common: Common,
    /// Livetime for the cosmic samples (mdc2018 run_si used its max_livetime); default --livetime.
    #[arg(long, allow_negative_numbers = true)]
    max_livetime: Option<f64>,
    /// mu- -> e- conversion rate per capture [default: 0].
    #[arg(long, allow_negative_numbers = true)]
    rue: Option<f64>,
    /// mu- -> e+ conversion rate per capture (mdc2018, mds) [default: 0].
    #[arg(long, allow_negative_numbers = true)]
    rup: Option<f64>,
    /// RMC closure-spectrum endpoint (MeV); default 90.1.
    #[arg(long)]
    kmax: Option<f64>,
    /// DIO lower energy cut, E >= emin (MeV); default 93 (mdc2018) or 95.
    #[arg(long)]
    dio_emin: Option<f64>,
    /// RPC lower photon-energy cut (MeV); default 84 (mdc2018) or 50.
    #[arg(long)]
    rpc_emin: Option<f64>,
    /// RMC lower photon-energy cut, low-edge rule E - 0.05 >= emin (MeV); default 84 (mdc2018,
    /// run_si's dep_emin + 1) or 85.
    #[arg(long)]
    rmc_emin: Option<f64>,
    /// IPA Michel threshold (MeV, mds); default 70.
    #[arg(long)]
    ipa_emin: Option<f64>,
    /// RPC arrival-time cut (ns); recorded only (no generation's normalisation uses it).
    #[arg(long)]
    tmin: Option<f64>,
    /// Directory with the spectrum tables (czarnecki_szafron_Al_2016.tbl,
    /// heeck_finer_binning_2016_szafron.tbl, rpcspectrum.tbl, ipa_spec_eff.tbl); default: the
    /// Mu2e tables embedded in the program.
    #[arg(long)]
    tables: Option<PathBuf>,
    /// DIO spectrum file replacing the generation's standard DIO table.
    #[arg(long)]
    dio_table: Option<PathBuf>,
    /// mdc2018 RPC by the formula with this average pion survival probability (needs
    /// rpcspectrum.tbl) instead of run_si's hard-coded values.
    #[arg(long)]
    rpc_survival: Option<f64>,
    /// mdc2024: POT from the on-spill time duty * T as the published G2 code computed it
    /// (default: the SU2020 machine-cycle formula T / t_cycle * POT_per_cycle with T wall clock).
    #[arg(long)]
    g2_pot_on_spill: bool,
    /// Multiply S_IPA by 1000 like S_mu (the originals did not; quirk 2).
    #[arg(long)]
    ipa_stops_times_1000: bool,
    /// Reproduce the originals' bugs: all, or a comma-separated list of dio-livetime-squared,
    /// ipa-next-threshold, rmc-1bb, ce-poisson.
    #[arg(long, num_args = 0..=1, default_missing_value = "all", value_delimiter = ',')]
    compat: Option<Vec<String>>,
    /// Seed of the CE Poisson draw (--compat ce-poisson only) [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Output format [default: table].
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write to this file (with a provenance manifest beside it) instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
}

/// Arguments of `ce-rmue`.
#[derive(Args, Debug, Clone)]
pub struct CeRmueArgs {
    #[command(flatten)]
    common: Common,
    /// Expected number of CE events wanted. Required (here or in the config).
    #[arg(long, allow_negative_numbers = true)]
    nsig: Option<f64>,
}

/// Runs one subcommand.
pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Normalizations(a) => normalizations(*a),
        Command::CeRmue(a) => ce_rmue(*a),
    }
}

/// The effective configuration of `normalizations` (file, then command line).
fn norm_config(a: &NormArgs) -> Result<NormalizationsConfig> {
    let mut o = Over::default();
    a.common.apply(&mut o)?;
    o.set("max_livetime", a.max_livetime)?;
    o.set("rue", a.rue)?;
    o.set("rup", a.rup)?;
    o.set("kmax", a.kmax)?;
    o.set("dio_emin", a.dio_emin)?;
    o.set("rpc_emin", a.rpc_emin)?;
    o.set("rmc_emin", a.rmc_emin)?;
    o.set("ipa_emin", a.ipa_emin)?;
    o.set("tmin", a.tmin)?;
    o.set("tables", a.tables.clone())?;
    o.set("dio_table", a.dio_table.clone())?;
    o.set("rpc_survival", a.rpc_survival)?;
    o.flag("g2_pot_on_spill", a.g2_pot_on_spill)?;
    o.flag("ipa_stops_times_1000", a.ipa_stops_times_1000)?;
    if let Some(list) = &a.compat {
        let mut q = Quirks::default();
        for name in list {
            q.enable(name)?;
        }
        o.quirks(&q)?;
    }
    o.set("seed", a.seed)?;
    o.set(
        "format",
        a.format.map(mu2e_ensemble::commands::OutputFormat::from),
    )?;
    o.set("output", a.output.clone())?;
    load_config(a.common.config.config.as_deref(), &o.0)
}

fn normalizations(a: NormArgs) -> Result<()> {
    let cfg = norm_config(&a)?;
    if a.common.config.print_config {
        return print_config(&cfg);
    }
    let report = commands::normalizations(&cfg)?;
    match &report.written {
        None => std::io::stdout().write_all(report.text.as_bytes())?,
        Some(out) => eprintln!("wrote {}", out.display()),
    }
    Ok(())
}

fn ce_rmue(a: CeRmueArgs) -> Result<()> {
    let mut o = Over::default();
    a.common.apply(&mut o)?;
    o.set("nsig", a.nsig)?;
    let cfg: CeRmueConfig = load_config(a.common.config.config.as_deref(), &o.0)?;
    if a.common.config.print_config {
        return print_config(&cfg);
    }
    let rue = commands::ce_rmue(&cfg)?;
    println!("{rue:e}");
    Ok(())
}
