//! `calo-calib`: Mu2e calorimeter source calibration from the command line.
//!
//! Subcommands follow the original tools: `simulate` (CaloCalibGun + digitisation +
//! SourceCalibDigiAna, as spectra with truth), `fit` (MakeAnalysisTree + SourceFitter), `combine`
//! (the reco-table maker). Every output gets a `.manifest.json` provenance sidecar.

use anyhow::{Context, Result, bail};
use calo_calib::channel::IdMode;
use calo_calib::combine::{CombineConfig, combine, status_counts};
use calo_calib::detector::{
    Selection, fit_detector, source_table_rows, summary_counts, write_source_fits,
};
use calo_calib::fit::{FitConfig, Method};
use calo_calib::model::BinEvaluation;
use calo_calib::scale_out::{FIT_JOB, FitJob, merge_fit_shards, run_fit_shard};
use calo_calib::simulate::{
    SimConfig, all_ids, cosmic_table_rows, simulate_cosmic_table, simulate_detector, write_truth,
};
use calo_calib::spectra::{read_spectra, write_spectra};
use calo_calib::tables::{
    CosmicLayout, RowCheck, read_cosmic_table, read_nominal_table, read_source_table,
    write_cosmic_table, write_reco_tables, write_source_table,
};
use clap::{Parser, Subcommand, ValueEnum};
use hep_core::manifest::Manifest;
use std::path::{Path, PathBuf};
use std::time::Instant;

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
    Merge(MergeArgs),
    /// Write (and with --submit, submit) a Slurm array job of `fit` shards and its merge.
    ///
    /// The fit's own options follow after `--`, without --shard:
    /// `calo-calib submit --shards 8 -- fit -i spectra.csv -o fit`.
    Submit(SubmitCmd),
}

#[derive(clap::Args)]
struct MergeArgs {
    /// The output directory of the sharded fit (holding shards/).
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(clap::Args)]
struct SubmitCmd {
    #[command(flatten)]
    slurm: hep_cli_support::SubmitArgs,
    /// The job: `fit` and its options.
    #[arg(last = true, required = true, value_name = "fit OPTIONS")]
    job: Vec<String>,
}

#[derive(clap::Args)]
struct PlotArgs {
    /// source_fits.parquet written by `fit`.
    #[arg(long)]
    fits: PathBuf,
    /// The spectra the fits were made from (for per-channel plots).
    #[arg(short, long)]
    input: Option<PathBuf>,
    /// Ids are crystals (0..1347), not SiPMs.
    #[arg(long)]
    per_crystal: bool,
    /// Crystal positions in the crystalPos.txt format (for the per-disk maps).
    #[arg(long)]
    crystal_positions: Option<PathBuf>,
    /// Channels to draw with their fitted model, comma separated (needs --input).
    #[arg(long, value_delimiter = ',')]
    channels: Vec<u32>,
    /// Also draw every failed fit (needs --input).
    #[arg(long)]
    failed: bool,
    /// Nominal gain (ADC/MeV) the fits used (sets the fit window drawn).
    #[arg(long, default_value_t = 16.0)]
    nominal_gain: f64,
    /// Output directory.
    #[arg(short, long)]
    output: PathBuf,
    /// Image formats, comma separated.
    #[arg(long, value_delimiter = ',', default_values_t = [String::from("png"), String::from("svg")])]
    formats: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum SpectraFormat {
    Csv,
    Parquet,
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// Output directory.
    #[arg(short, long)]
    output: PathBuf,
    /// Master seed (each channel draws from its own stream).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Mean events per crystal (the design figure is 63 000).
    #[arg(long, default_value_t = 63_000.0)]
    events_per_crystal: f64,
    /// Mean true gain (ADC/MeV).
    #[arg(long, default_value_t = 16.0)]
    gain: f64,
    /// Relative Gaussian spread of the true gains.
    #[arg(long, default_value_t = 0.0)]
    gain_spread: f64,
    /// Energy resolution sigma at 6.13 MeV (MeV).
    #[arg(long, default_value_t = 0.45)]
    width_mev: f64,
    /// Simulate per-crystal spectra (ids 0..1347) instead of per-SiPM (0..2695).
    #[arg(long)]
    per_crystal: bool,
    /// Also write simulated cosmic constants (CalCosmicEnergyCalib.txt).
    #[arg(long)]
    cosmics: bool,
    /// Relative error of the simulated cosmic peaks.
    #[arg(long, default_value_t = 0.012)]
    cosmic_rel_error: f64,
    /// Fraction of cosmic fits simulated with a bad chi-square.
    #[arg(long, default_value_t = 0.0)]
    cosmic_bad_fraction: f64,
    /// Spectra file format.
    #[arg(long, value_enum, default_value_t = SpectraFormat::Csv)]
    format: SpectraFormat,
    /// Print the configuration as JSON and exit.
    #[arg(long)]
    print_config: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum MethodArg {
    Chi2,
    Nll,
}

#[derive(clap::Args)]
struct FitArgs {
    /// Spectra table (CSV or Parquet): roid, bin_low, bin_high, counts.
    #[arg(short, long)]
    input: PathBuf,
    /// Output directory.
    #[arg(short, long)]
    output: PathBuf,
    /// Objective: Neyman chi-square or extended binned Poisson likelihood.
    #[arg(long, value_enum, default_value_t = MethodArg::Nll)]
    method: MethodArg,
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
    /// Nominal gain (ADC/MeV) that scales SourceFitter's window from its 16 ADC/MeV default.
    #[arg(long, default_value_t = 16.0)]
    nominal_gain: f64,
    /// Skip the profile-likelihood interval of the peak.
    #[arg(long)]
    no_peak_interval: bool,
    /// Reproduce the original: one start at 98.08 ADC, the density at bin centres, and for chi2
    /// all 80 bins in 40-120 ADC (the old-ROOT range bug).
    #[arg(long)]
    compat: bool,
    /// Print the configuration as JSON and exit.
    #[arg(long)]
    print_config: bool,
    #[command(flatten)]
    shard: hep_cli_support::ShardArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum LayoutArg {
    Standard,
    Legacy9,
}

#[derive(clap::Args)]
struct CombineArgs {
    /// CalSourceEnergyCalib table (from `fit`).
    #[arg(long)]
    source: Option<PathBuf>,
    /// CalCosmicEnergyCalib table.
    #[arg(long)]
    cosmic: Option<PathBuf>,
    /// Column layout of the cosmic table.
    #[arg(long, value_enum, default_value_t = LayoutArg::Standard)]
    cosmic_layout: LayoutArg,
    /// Nominal CalEnergyCalib table (roid, adc2mev) used for fallbacks.
    #[arg(long)]
    nominal: Option<PathBuf>,
    /// Output directory.
    #[arg(short, long)]
    output: PathBuf,
    /// Reproduce the original combiner's arithmetic (ADC/MeV values, 1.0 fallback).
    #[arg(long)]
    compat: bool,
}

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
    hep_cli_support::init_logging(cli.verbose);
    match cli.command {
        Command::Simulate(a) => simulate(a),
        Command::Fit(a) => fit(a),
        Command::Combine(a) => combine_cmd(a),
        Command::Plot(a) => plot(a),
        Command::Merge(a) => merge(a),
        Command::Submit(a) => submit(a),
    }
}

fn manifest(sub: &str, config: serde_json::Value) -> Result<Manifest> {
    Ok(
        Manifest::start(format!("calo-calib {sub}"), env!("CARGO_PKG_VERSION"))
            .with_configuration(&config)?,
    )
}

fn finish(mut m: Manifest, outputs: &[PathBuf]) -> Result<()> {
    for o in outputs {
        m.add_output(o)?;
    }
    m.finish();
    for o in outputs {
        m.write_sidecar(o)?;
    }
    Ok(())
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

fn simulate(a: SimulateArgs) -> Result<()> {
    let cfg = SimConfig {
        seed: a.seed,
        events_per_crystal: a.events_per_crystal,
        gain_adc_per_mev: a.gain,
        gain_spread: a.gain_spread,
        width_mev: a.width_mev,
        ..SimConfig::default()
    };
    if a.print_config {
        println!("{}", serde_json::to_string_pretty(&cfg)?);
        return Ok(());
    }
    let mode = IdMode::from_per_crystal(a.per_crystal);
    let t0 = Instant::now();
    // Everything is computed (and every option checked) before the first file is written.
    let (set, truth) = simulate_detector(&cfg, &all_ids(mode), mode)?;
    let cosmics = a
        .cosmics
        .then(|| simulate_cosmic_table(a.seed, &truth, a.cosmic_rel_error, a.cosmic_bad_fraction))
        .transpose()?;
    create_dir(&a.output)?;
    let ext = match a.format {
        SpectraFormat::Csv => "csv",
        SpectraFormat::Parquet => "parquet",
    };
    let spectra = a.output.join(format!("spectra.{ext}"));
    write_spectra(&spectra, &set)?;
    let truth_path = a.output.join("truth.csv");
    write_truth(&truth_path, &truth)?;
    let mut outputs = vec![spectra, truth_path];
    if let Some(cos) = cosmics {
        let path = a.output.join("CalCosmicEnergyCalib.txt");
        write_cosmic_table(&path, &cosmic_table_rows(&cos))?;
        outputs.push(path);
    }
    let mut m = manifest("simulate", serde_json::to_value(&cfg)?)?;
    m.add_seed("seed", a.seed);
    finish(m, &outputs)?;
    println!(
        "simulated {} spectra ({} events) in {:.2} s into {}",
        set.len(),
        set.spectra.iter().map(|s| s.n_events()).sum::<f64>(),
        t0.elapsed().as_secs_f64(),
        a.output.display()
    );
    Ok(())
}

fn fit(a: FitArgs) -> Result<()> {
    let mut cfg = FitConfig::for_gain(a.nominal_gain);
    cfg.method = match a.method {
        MethodArg::Chi2 => Method::Chi2,
        MethodArg::Nll => Method::Nll,
    };
    if let Some(s) = a.starts {
        cfg.starts_adc = s;
    }
    cfg.peak_interval = !a.no_peak_interval;
    if a.compat {
        let k = a.nominal_gain / 16.0;
        cfg.starts_adc = vec![98.08 * k];
        cfg.alpha_starts = vec![cfg.alpha.0];
        cfg.bin_evaluation = BinEvaluation::Centre;
        if matches!(cfg.method, Method::Chi2) {
            cfg.fit_bins_adc = Some((40.0 * k, 120.0 * k));
        }
    }
    if a.print_config {
        println!("{}", serde_json::to_string_pretty(&cfg)?);
        return Ok(());
    }
    let mode = IdMode::from_per_crystal(a.per_crystal);
    let set = read_spectra(&a.input, mode)?;
    let sel = Selection {
        first: a.first,
        last: a.last,
        disk: a.disk,
    };
    if let Some(shard) = a.shard.shard {
        let job = FitJob {
            config: cfg,
            selection: sel,
            mode,
        };
        let t0 = Instant::now();
        let dir = run_fit_shard(&set, &a.input, &job, shard, &a.output)?;
        println!(
            "fitted shard {shard} in {:.2} s into {}",
            t0.elapsed().as_secs_f64(),
            dir.display()
        );
        return Ok(());
    }
    create_dir(&a.output)?;
    let t0 = Instant::now();
    let fits = fit_detector(&set, &cfg, &sel)?;
    let elapsed = t0.elapsed().as_secs_f64();
    if fits.is_empty() {
        bail!("no channel of {} matches the selection", a.input.display());
    }
    let inputs = vec![hep_core::io::FileDigest::of(&a.input)?];
    write_fit_outputs(&a.output, inputs, &cfg, mode, &fits, elapsed)
}

/// The outputs of a detector fit (the same for a single process and a merge of shards).
fn write_fit_outputs(
    out: &Path,
    inputs: Vec<hep_core::io::FileDigest>,
    cfg: &FitConfig,
    mode: IdMode,
    fits: &[calo_calib::fit::ChannelFit],
    elapsed: f64,
) -> Result<()> {
    let mut outputs = write_source_fits(out, fits)?.to_vec();
    if mode == IdMode::PerSipm {
        let path = out.join("CalSourceEnergyCalib.txt");
        write_source_table(&path, &source_table_rows(fits))?;
        outputs.push(path);
    }
    let mut m = manifest("fit", serde_json::to_value(cfg)?)?;
    m.inputs = inputs;
    finish(m, &outputs)?;
    let (ok, failed, lyso, empty) = summary_counts(fits);
    println!(
        "fitted {} channels in {elapsed:.2} s: {ok} usable, {failed} failed ({empty} without counts), {lyso} LYSO not fitted",
        fits.len()
    );
    println!("outputs in {}", out.display());
    if ok == 0 && failed > 0 {
        bail!(
            "no channel gave a usable fit ({failed} failed); the outputs in {} record why",
            out.display()
        );
    }
    Ok(())
}

fn merge(a: MergeArgs) -> Result<()> {
    let t0 = Instant::now();
    let merged = merge_fit_shards(&a.output)?;
    println!(
        "merging {} shards of {} channels",
        merged.shards.len(),
        merged.fits.len()
    );
    let inputs = merged.shards[0].manifest.inputs.clone();
    write_fit_outputs(
        &a.output,
        inputs,
        &merged.job.config,
        merged.job.mode,
        &merged.fits,
        t0.elapsed().as_secs_f64(),
    )
}

fn submit(a: SubmitCmd) -> Result<()> {
    // The job's options are checked here, before any script is written.
    let parsed =
        Cli::try_parse_from(std::iter::once("calo-calib".to_string()).chain(a.job.iter().cloned()))
            .map_err(|e| anyhow::anyhow!("the job after --: {e}"))?;
    let Command::Fit(fit_args) = parsed.command else {
        bail!("submit runs `fit` shards: the job after -- must start with `fit`");
    };
    if fit_args.shard.shard.is_some() {
        bail!("give the job without --shard: each array task adds its own");
    }
    let program = hep_cli_support::current_program()?;
    let mut task = vec![program.clone()];
    task.extend(a.job.iter().cloned());
    let merge = vec![
        program,
        "merge".into(),
        "-o".into(),
        fit_args.output.to_string_lossy().into_owned(),
    ];
    hep_cli_support::submit(&a.slurm, FIT_JOB, &fit_args.output, task, merge)
}

fn combine_cmd(a: CombineArgs) -> Result<()> {
    if a.source.is_none() && a.cosmic.is_none() {
        bail!("give at least one of --source and --cosmic");
    }
    let cfg = CombineConfig {
        compat: a.compat,
        ..CombineConfig::default()
    };
    let source = a
        .source
        .as_deref()
        .map(|p| read_source_table(p, RowCheck::AllowGaps))
        .transpose()?;
    let layout = match a.cosmic_layout {
        LayoutArg::Standard => CosmicLayout::Standard,
        LayoutArg::Legacy9 => CosmicLayout::Legacy9,
    };
    let cosmic = a
        .cosmic
        .as_deref()
        .map(|p| read_cosmic_table(p, layout, RowCheck::AllowGaps))
        .transpose()?;
    let nominal = a
        .nominal
        .as_deref()
        .map(|p| read_nominal_table(p, RowCheck::AllowGaps))
        .transpose()?;
    let rows = combine(
        source.as_deref(),
        cosmic.as_deref(),
        nominal.as_deref(),
        &cfg,
    )?;
    create_dir(&a.output)?;
    let reco = a.output.join("CalEnergyCalib.txt");
    let combined = a.output.join("CalCombinedEnergyCalib.txt");
    write_reco_tables(&reco, &combined, &rows)?;
    let mut m = manifest("combine", serde_json::to_value(&cfg)?)?;
    for p in [&a.source, &a.cosmic, &a.nominal].into_iter().flatten() {
        m.add_input(p)?;
    }
    finish(m, &[reco, combined])?;
    let counts = status_counts(&rows);
    let text: Vec<String> = counts
        .iter()
        .map(|(s, n)| format!("status {s}: {n}"))
        .collect();
    println!("combined {} channels; {}", rows.len(), text.join(", "));
    println!("outputs in {}", a.output.display());
    Ok(())
}

fn plot(a: PlotArgs) -> Result<()> {
    use calo_calib::channel::CrystalPositions;
    use calo_calib::detector::read_source_fits;
    use calo_calib::plots::{plot_channels, plot_pairs_and_composite, plot_summary};
    use hep_core::plot::Format;
    let formats: Vec<Format> = a
        .formats
        .iter()
        .map(|f| match f.to_ascii_lowercase().as_str() {
            "png" => Ok(Format::Png),
            "svg" => Ok(Format::Svg),
            other => bail!("--formats: expected png or svg, found {other:?}"),
        })
        .collect::<Result<_>>()?;
    let fits = read_source_fits(&a.fits)?;
    let positions = a
        .crystal_positions
        .as_deref()
        .map(CrystalPositions::read)
        .transpose()?;
    let mode = IdMode::from_per_crystal(a.per_crystal);
    create_dir(&a.output)?;
    let mut outputs = plot_summary(&a.output, &fits, positions.as_ref(), mode, &formats)?;
    let cfg = FitConfig::for_gain(a.nominal_gain);
    outputs.extend(plot_pairs_and_composite(
        &a.output,
        &fits,
        mode,
        cfg.model_range(),
        &formats,
    )?);
    let mut m = manifest("plot", serde_json::json!({ "formats": a.formats }))?;
    m.add_input(&a.fits)?;
    if !a.channels.is_empty() || a.failed {
        let Some(input) = a.input.as_deref() else {
            bail!("--channels and --failed need the spectra (--input)");
        };
        let set = read_spectra(input, mode)?;
        outputs.extend(plot_channels(
            &a.output,
            &set,
            &fits,
            &a.channels,
            a.failed,
            &cfg,
            &formats,
        )?);
        m.add_input(input)?;
    }
    if let Some(p) = &a.crystal_positions {
        m.add_input(p)?;
    }
    finish(m, &outputs)?;
    println!("wrote {} plots into {}", outputs.len(), a.output.display());
    Ok(())
}
