//! `calo-calib`: Mu2e calorimeter source calibration from the command line.
//!
//! Subcommands follow the original tools: `simulate` (CaloCalibGun + digitisation +
//! SourceCalibDigiAna, as spectra with truth), `fit` (MakeAnalysisTree + SourceFitter), `combine`
//! (the reco-table maker), `plot` (SourcePlotter). Every subcommand parses its options into a
//! job configuration of `calo_calib::jobs` (defaults, then `--config FILE.toml`, then the
//! options given) and makes one library call; `--print-config` prints that configuration as
//! TOML. Every output gets a `.manifest.json` provenance sidecar.

use anyhow::{Context, Result, bail};
use calo_calib::fit::Method;
use calo_calib::jobs::{
    CombineJob, FitJob, FitSummary, ImageFormat, PlotJob, SimulateJob, SpectraFormat, run_combine,
    run_fit, run_merge, run_plot, run_simulate,
};
use calo_calib::scale_out::FIT_JOB;
use calo_calib::tables::CosmicLayout;
use clap::{Parser, Subcommand, ValueEnum};
use hep_cli_support::{Bar, ConfigArgs, init_logging, load_config, print_config};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "calo-calib",
    version,
    about = "Mu2e calorimeter source calibration"
)]
struct Cli {
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate source spectra of the whole detector with known truth (and cosmic constants).
    Simulate(SimulateArgs),
    /// Fit the 6.13 MeV source spectra and write the archive outputs.
    Fit(FitArgs),
    /// Combine source and cosmic constants into the reconstruction table.
    Combine(CombineArgs),
    /// Plot the fit results (SourcePlotter) and per-channel spectra with the fitted model.
    Plot(PlotArgs),
    /// Join the shards of a `fit --shard I/N` run into the outputs of a single-process fit.
    Merge(hep_cli_support::MergeCommand),
    /// Write (and with --submit, submit) a Slurm array job of `fit` shards and its merge.
    ///
    /// The fit's own options follow after `--`, without --shard:
    /// `calo-calib submit --shards 8 -- fit -i spectra.csv -o fit`.
    Submit(hep_cli_support::SubmitCommand),
}

#[derive(clap::Args)]
struct PlotArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// source_fits.parquet written by `fit` (required here or as `fits` in the configuration).
    #[arg(long)]
    fits: Option<PathBuf>,
    /// The spectra the fits were made from (for per-channel plots).
    #[arg(short, long)]
    input: Option<PathBuf>,
    /// Ids are crystals (0..1347), not SiPMs.
    #[arg(long)]
    per_crystal: bool,
    /// Crystal positions in the crystalPos.txt format for the per-disk maps (default: the
    /// Mu2e Offline positions shipped with calo-calib).
    #[arg(long)]
    crystal_positions: Option<PathBuf>,
    /// Channels to draw with their fitted model, comma separated (needs --input).
    #[arg(long, value_delimiter = ',')]
    channels: Option<Vec<u32>>,
    /// Also draw every failed fit (needs --input).
    #[arg(long)]
    failed: bool,
    /// Nominal gain (ADC/MeV) the fits used (sets the fit window drawn; default 16).
    #[arg(long)]
    nominal_gain: Option<f64>,
    /// Output directory (required here or as `output` in the configuration).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Image formats, comma separated: png, svg (default png,svg).
    #[arg(long, value_delimiter = ',')]
    formats: Option<Vec<String>>,
}

#[derive(Clone, Copy, ValueEnum)]
enum SpectraFormatArg {
    Csv,
    Parquet,
}

impl From<SpectraFormatArg> for SpectraFormat {
    fn from(f: SpectraFormatArg) -> Self {
        match f {
            SpectraFormatArg::Csv => SpectraFormat::Csv,
            SpectraFormatArg::Parquet => SpectraFormat::Parquet,
        }
    }
}

#[derive(clap::Args)]
struct SimulateArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Output directory (required here or as `output` in the configuration).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Master seed (each channel draws from its own stream; default 1).
    #[arg(long)]
    seed: Option<u64>,
    /// Mean events per crystal (default 63 000, the design figure).
    #[arg(long)]
    events_per_crystal: Option<f64>,
    /// Mean true gain (ADC/MeV; default 16).
    #[arg(long)]
    gain: Option<f64>,
    /// Relative Gaussian spread of the true gains (default 0).
    #[arg(long)]
    gain_spread: Option<f64>,
    /// Energy resolution sigma at 6.13 MeV (MeV; default 0.45).
    #[arg(long)]
    width_mev: Option<f64>,
    /// Simulate per-crystal spectra (ids 0..1347) instead of per-SiPM (0..2695).
    #[arg(long)]
    per_crystal: bool,
    /// Also write simulated cosmic constants (CalCosmicEnergyCalib.txt).
    #[arg(long)]
    cosmics: bool,
    /// Relative error of the simulated cosmic peaks (default 0.012).
    #[arg(long)]
    cosmic_rel_error: Option<f64>,
    /// Fraction of cosmic fits simulated with a bad chi-square (default 0).
    #[arg(long)]
    cosmic_bad_fraction: Option<f64>,
    /// Spectra file format (default csv).
    #[arg(long, value_enum)]
    format: Option<SpectraFormatArg>,
}

#[derive(Clone, Copy, ValueEnum)]
enum MethodArg {
    Chi2,
    Nll,
}

impl From<MethodArg> for Method {
    fn from(m: MethodArg) -> Self {
        match m {
            MethodArg::Chi2 => Method::Chi2,
            MethodArg::Nll => Method::Nll,
        }
    }
}

#[derive(clap::Args)]
struct FitArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Spectra table (CSV or Parquet): roid, bin_low, bin_high, counts (required here or as
    /// `input` in the configuration).
    #[arg(short, long)]
    input: Option<PathBuf>,
    /// Output directory (required here or as `output` in the configuration).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Objective: Neyman chi-square or extended binned Poisson likelihood (default nll).
    #[arg(long, value_enum)]
    method: Option<MethodArg>,
    /// Ids are crystals (0..1347), not SiPMs.
    #[arg(long)]
    per_crystal: bool,
    /// First id to fit (inclusive).
    #[arg(long)]
    first: Option<u32>,
    /// Last id to fit (exclusive, as MakeAnalysisTree).
    #[arg(long)]
    last: Option<u32>,
    /// Only this disk (0 or 1).
    #[arg(long)]
    disk: Option<u32>,
    /// Start positions of the peak for the multi-start (ADC), comma separated.
    #[arg(long, value_delimiter = ',')]
    starts: Option<Vec<f64>>,
    /// Nominal gain (ADC/MeV) that scales SourceFitter's window from its 16 ADC/MeV default
    /// (default 16); sets the window fields of the configuration's [fit] table.
    #[arg(long)]
    nominal_gain: Option<f64>,
    /// Skip the profile-likelihood interval of the peak.
    #[arg(long)]
    no_peak_interval: bool,
    /// Reproduce the original: one start at 98.08 ADC, the density at bin centres, and for chi2
    /// all 80 bins in 40-120 ADC (the old-ROOT range bug).
    #[arg(long)]
    compat: bool,
    #[command(flatten)]
    shard: hep_cli_support::ShardArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum LayoutArg {
    Standard,
    Legacy9,
}

impl From<LayoutArg> for CosmicLayout {
    fn from(l: LayoutArg) -> Self {
        match l {
            LayoutArg::Standard => CosmicLayout::Standard,
            LayoutArg::Legacy9 => CosmicLayout::Legacy9,
        }
    }
}

#[derive(clap::Args)]
struct CombineArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// CalSourceEnergyCalib table (from `fit`).
    #[arg(long)]
    source: Option<PathBuf>,
    /// CalCosmicEnergyCalib table.
    #[arg(long)]
    cosmic: Option<PathBuf>,
    /// Column layout of the cosmic table (default standard).
    #[arg(long, value_enum)]
    cosmic_layout: Option<LayoutArg>,
    /// Nominal CalEnergyCalib table (roid, adc2mev) used for fallbacks.
    #[arg(long)]
    nominal: Option<PathBuf>,
    /// Output directory (required here or as `output` in the configuration).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Reproduce the original combiner's arithmetic (ADC/MeV values, 1.0 fallback).
    #[arg(long)]
    compat: bool,
}

/// Command-line overrides (dotted keys such as `fit.method`): only the options given.
type Over = hep_cli_support::Overrides;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match cli.command {
        Command::Simulate(a) => simulate(a),
        Command::Fit(a) => fit(a),
        Command::Combine(a) => combine_cmd(a),
        Command::Plot(a) => plot(a),
        Command::Merge(a) => merge(a),
        Command::Submit(a) => submit(a),
    }
}

/// A path given on the command line replaces the configuration's. Paths bypass the TOML
/// overrides so that any path the operating system accepts (not only UTF-8) works.
fn set_path(slot: &mut Option<PathBuf>, given: &Option<PathBuf>) {
    if let Some(p) = given {
        *slot = Some(p.clone());
    }
}

/// The effective configuration of `fit`: defaults, the file, the command line; then the presets
/// of `--nominal-gain` and `--compat` (also applied when `--method` is given with compat on, as
/// the compat chi-square window depends on the method), then `--starts` again (`--compat` fixes
/// a single start, as the original).
fn fit_job(a: &FitArgs) -> Result<FitJob> {
    let mut o = Over::default();
    o.flag("per_crystal", a.per_crystal)?;
    o.set("nominal_gain", a.nominal_gain)?;
    o.flag("compat", a.compat)?;
    o.set("selection.first", a.first)?;
    o.set("selection.last", a.last)?;
    o.set("selection.disk", a.disk)?;
    o.set("fit.method", a.method.map(Method::from))?;
    o.set("fit.starts_adc", a.starts.as_ref())?;
    o.set("fit.peak_interval", a.no_peak_interval.then_some(false))?;
    let mut job: FitJob = load_config(a.config.config.as_deref(), &o)?;
    set_path(&mut job.input, &a.input);
    set_path(&mut job.output, &a.output);
    if a.nominal_gain.is_some() || a.compat || (a.method.is_some() && job.compat) {
        job.apply_presets();
        if let (false, Some(starts)) = (job.compat, &a.starts) {
            job.fit.starts_adc.clone_from(starts);
        }
    }
    Ok(job)
}

fn fit(a: FitArgs) -> Result<()> {
    let job = fit_job(&a)?;
    if a.config.print_config {
        return print_config(&job);
    }
    if job.input.is_none() {
        bail!("no spectra table: give --input or set `input` in the configuration");
    }
    if job.output.is_none() {
        bail!("no output directory: give --output or set `output` in the configuration");
    }
    let bar = Bar::new();
    let summary = run_fit(&job, a.shard.shard, &bar)?;
    drop(bar);
    if let (Some(shard), Some(dir)) = (a.shard.shard, &summary.shard_dir) {
        println!(
            "fitted shard {shard} in {:.2} s into {}",
            summary.seconds,
            dir.display()
        );
        return Ok(());
    }
    report_fit(&summary, job.output.as_deref().unwrap_or(Path::new(".")))
}

/// The report of a detector fit (single process or merge); an error if no fit is usable.
fn report_fit(s: &FitSummary, out: &Path) -> Result<()> {
    println!(
        "fitted {} channels in {:.2} s: {} usable, {} failed ({} without counts), {} LYSO not fitted",
        s.n_channels, s.seconds, s.ok, s.failed, s.empty, s.lyso
    );
    println!("outputs in {}", out.display());
    if s.ok == 0 && s.failed > 0 {
        bail!(
            "no channel gave a usable fit ({} failed); the outputs in {} record why",
            s.failed,
            out.display()
        );
    }
    Ok(())
}

fn merge(a: hep_cli_support::MergeCommand) -> Result<()> {
    let Some(output) = a.load()? else {
        return Ok(());
    };
    let summary = run_merge(&output)?;
    report_fit(&summary, &output)
}

fn submit(a: hep_cli_support::SubmitCommand) -> Result<()> {
    let Some(cfg) = a.load()? else {
        return Ok(());
    };
    // The job's options are checked here, before any script is written.
    let parsed = Cli::try_parse_from(
        std::iter::once("calo-calib".to_string()).chain(cfg.job.iter().cloned()),
    )
    .map_err(|e| anyhow::anyhow!("the job: {e}"))?;
    let Command::Fit(fit_args) = parsed.command else {
        bail!("submit runs `fit` shards: the job must start with `fit`");
    };
    if fit_args.config.print_config {
        bail!("give the job without --print-config");
    }
    let job = fit_job(&fit_args)?;
    let (Some(_), Some(output)) = (&job.input, &job.output) else {
        bail!("the job needs an input and an output (options or configuration)");
    };
    let program = hep_cli_support::current_program()?;
    let mut task = vec![program.clone()];
    task.extend(cfg.job.iter().cloned());
    let merge = vec![
        program,
        "merge".into(),
        "-o".into(),
        output.to_string_lossy().into_owned(),
    ];
    hep_cli_support::submit(&cfg.slurm, FIT_JOB, output, task, merge)
}

fn simulate(a: SimulateArgs) -> Result<()> {
    let mut o = Over::default();
    o.flag("per_crystal", a.per_crystal)?;
    o.set("format", a.format.map(SpectraFormat::from))?;
    o.flag("cosmics", a.cosmics)?;
    o.set("cosmic_rel_error", a.cosmic_rel_error)?;
    o.set("cosmic_bad_fraction", a.cosmic_bad_fraction)?;
    if let Some(seed) = a.seed {
        let seed = i64::try_from(seed).context("--seed must be below 2^63")?;
        o.set("sim.seed", Some(seed))?;
    }
    o.set("sim.events_per_crystal", a.events_per_crystal)?;
    o.set("sim.gain_adc_per_mev", a.gain)?;
    o.set("sim.gain_spread", a.gain_spread)?;
    o.set("sim.width_mev", a.width_mev)?;
    let mut job: SimulateJob = load_config(a.config.config.as_deref(), &o)?;
    set_path(&mut job.output, &a.output);
    if a.config.print_config {
        return print_config(&job);
    }
    let Some(out) = job.output.clone() else {
        bail!("no output directory: give --output or set `output` in the configuration");
    };
    let bar = Bar::new();
    let s = run_simulate(&job, &bar)?;
    drop(bar);
    println!(
        "simulated {} spectra ({} events) in {:.2} s into {}",
        s.n_spectra,
        s.n_events,
        s.seconds,
        out.display()
    );
    Ok(())
}

fn combine_cmd(a: CombineArgs) -> Result<()> {
    let mut o = Over::default();
    o.set("cosmic_layout", a.cosmic_layout.map(CosmicLayout::from))?;
    o.flag("combine.compat", a.compat)?;
    let mut job: CombineJob = load_config(a.config.config.as_deref(), &o)?;
    set_path(&mut job.source, &a.source);
    set_path(&mut job.cosmic, &a.cosmic);
    set_path(&mut job.nominal, &a.nominal);
    set_path(&mut job.output, &a.output);
    if a.config.print_config {
        return print_config(&job);
    }
    if job.source.is_none() && job.cosmic.is_none() {
        bail!("give at least one of --source and --cosmic");
    }
    let Some(out) = job.output.clone() else {
        bail!("no output directory: give --output or set `output` in the configuration");
    };
    let s = run_combine(&job)?;
    let text: Vec<String> = s
        .status_counts
        .iter()
        .map(|(st, n)| format!("status {st}: {n}"))
        .collect();
    println!("combined {} channels; {}", s.n_rows, text.join(", "));
    println!("outputs in {}", out.display());
    Ok(())
}

fn plot(a: PlotArgs) -> Result<()> {
    let formats = a
        .formats
        .as_ref()
        .map(|fs| {
            fs.iter()
                .map(|f| match f.to_ascii_lowercase().as_str() {
                    "png" => Ok(ImageFormat::Png),
                    "svg" => Ok(ImageFormat::Svg),
                    other => bail!("--formats: expected png or svg, found {other:?}"),
                })
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?;
    let mut o = Over::default();
    o.flag("per_crystal", a.per_crystal)?;
    o.set("channels", a.channels.as_ref())?;
    o.flag("failed", a.failed)?;
    o.set("nominal_gain", a.nominal_gain)?;
    o.set("formats", formats)?;
    let mut job: PlotJob = load_config(a.config.config.as_deref(), &o)?;
    set_path(&mut job.fits, &a.fits);
    set_path(&mut job.input, &a.input);
    set_path(&mut job.output, &a.output);
    set_path(&mut job.crystal_positions, &a.crystal_positions);
    if a.config.print_config {
        return print_config(&job);
    }
    if job.fits.is_none() {
        bail!("no fit results: give --fits or set `fits` in the configuration");
    }
    let Some(out) = job.output.clone() else {
        bail!("no output directory: give --output or set `output` in the configuration");
    };
    let outputs = run_plot(&job)?;
    println!("wrote {} plots into {}", outputs.len(), out.display());
    Ok(())
}
