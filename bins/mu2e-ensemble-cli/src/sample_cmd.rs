//! Subcommands of `mu2e-ensemble` for samples and ensembles (`gen_Primary.sh`, `run_si.py`,
//! `genEnsemble.py`): `gen-primary`, `run-si`, `gen-ensemble`, `si-summary`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use hep_cli_support::{Bar, ConfigArgs, load_config, print_config};
use hep_core::manifest::Manifest;
use mu2e_ensemble::commands::{
    self, GenEnsembleConfig, GenPrimaryConfig, OutputFormat, PrimaryType, RunSiConfig,
    SiSummaryConfig,
};
use mu2e_ensemble::constants::{BeamMode, ConstantSet};
use mu2e_ensemble::normalizations::Quirks;
use mu2e_ensemble::scale_out::{
    GEN_PRIMARY_JOB, SERIES_JOB, merge_gen_primary, merge_series, run_gen_primary_shard,
};

use crate::args::{BeamArg, ConstantsArg, Format, Over, QuirkOverrides};

/// The subcommands of this module.
#[derive(Subcommand)]
pub enum Command {
    /// Generate primary event samples as Parquet files (gen_Primary.sh).
    ///
    /// One file per job, `dts.<owner>.<primary>.<campaign>.<run>_<subrun>.parquet`, with the
    /// generated-event count (GenEventCount) or, for cosmics, the simulated livetime
    /// (CosmicLivetime, s) in the footer. A filter efficiency below 1 stores only that fraction of
    /// the generated events (reco/gen < 1, as for filtered Mu2e samples).
    GenPrimary(Box<GenPrimaryArgs>),
    /// Build a blind ensemble from a run_si input directory (run_si.py + SamplingInput).
    ///
    /// CFG_DIR holds livetime, rue, rup, kmax, settings and filenames_<sample> (G1) or filenames
    /// with fractions (G0). The expected stored events of each sample are norm x reco/gen; the
    /// total is Poisson, the per-sample counts are drawn up front and allocated to unused event
    /// ranges (recorded in a ledger) before anything is written. A short sample fails before
    /// writing. With --plan-only only the per-sample normalisations are printed.
    RunSi(Box<RunSiArgs>),
    /// Draw the parameters of a blind ensemble and plan its generation jobs (genEnsemble.py).
    ///
    /// Writes DIR (livetime, rue, rup, kmax, settings; refused if DIR exists) and DIR/jobs.json
    /// with the jobs per sample, int(norm_per_year x T / events_per_job) + 1.
    GenEnsemble(Box<GenEnsembleArgs>),
    /// Parse the SamplingInput end-of-job summary of a mu2e log (counts, fractions, next events).
    SiSummary(Box<SiSummaryArgs>),
    /// Join the shards of a sharded job (`gen-primary --shard I/N`) into the outputs of a
    /// single-process run.
    Merge(Box<hep_cli_support::MergeCommand>),
    /// Write (and with --submit, submit) a Slurm array job of shards and its merge.
    ///
    /// The job follows after `--`, without --shard:
    /// `mu2e-ensemble submit --shards 8 -- gen-primary --primary DIOTail ... --output samples`.
    Submit(Box<hep_cli_support::SubmitCommand>),
    /// List the ensembles and reservations of an event ledger, and release stale reservations.
    ///
    /// A reservation is made before an ensemble is written and completed after it; a run that
    /// fails gives its reservation back itself, but a killed one (kill -9, node failure) leaves it
    /// `reserved`. `--release-stale` gives back the reservations of processes of this host that
    /// no longer run; `--release ID` gives back any one reservation (use it only when the holder
    /// is known to be gone). Complete ensembles are never released.
    Ledger(Box<LedgerArgs>),
}

/// Arguments of `ledger`.
#[derive(Debug, Clone, clap::Args)]
pub struct LedgerArgs {
    /// The ledger file (mu2e-ensemble-ledger.json beside the sample files by default in run-si);
    /// required here or as `ledger` in the configuration.
    pub ledger: Option<PathBuf>,
    /// Release every reservation whose holder process of this host no longer runs.
    #[arg(long)]
    pub release_stale: bool,
    /// Release the reservation with this id (as listed).
    #[arg(long, value_name = "ID")]
    pub release: Option<String>,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Process of `gen-primary --type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrimaryTypeArg {
    /// Conversion electron at the Al endpoint (104.97 MeV/c).
    CeMinus,
    /// Conversion positron (92.32 MeV/c).
    CePlus,
    /// Decay-in-orbit electrons from the DIO spectrum, E >= --emin.
    Dio,
    /// RMC photons from the closure spectrum (--kmax), low edge >= --emin.
    Rmc,
    /// RPC photons from rpcspectrum.tbl, E >= --emin.
    Rpc,
    /// IPA Michel electrons (free Michel spectrum), E >= --emin.
    IpaMichel,
    /// Cosmic muons; livetime = generated / --rate.
    Cosmic,
}

impl From<PrimaryTypeArg> for PrimaryType {
    fn from(t: PrimaryTypeArg) -> Self {
        match t {
            PrimaryTypeArg::CeMinus => PrimaryType::CeMinus,
            PrimaryTypeArg::CePlus => PrimaryType::CePlus,
            PrimaryTypeArg::Dio => PrimaryType::Dio,
            PrimaryTypeArg::Rmc => PrimaryType::Rmc,
            PrimaryTypeArg::Rpc => PrimaryType::Rpc,
            PrimaryTypeArg::IpaMichel => PrimaryType::IpaMichel,
            PrimaryTypeArg::Cosmic => PrimaryType::Cosmic,
        }
    }
}

/// Arguments of `gen-primary`.
#[derive(Args, Debug, Clone)]
pub struct GenPrimaryArgs {
    /// Sample name (file description and the ensemble's dataset name), e.g. DIOTail. Required.
    #[arg(long)]
    primary: Option<String>,
    /// What to generate. Required.
    #[arg(long = "type", value_enum)]
    kind: Option<PrimaryTypeArg>,
    /// Number of jobs (files). Required.
    #[arg(long)]
    njobs: Option<u32>,
    /// Generated events per job. Required.
    #[arg(long)]
    events: Option<u64>,
    /// Fraction of generated events stored (0, 1] [default: 1].
    #[arg(long)]
    filter_efficiency: Option<f64>,
    /// Lower energy cut (MeV): DIO (default 95), RMC (85), RPC (50), IPA Michel (0).
    #[arg(long)]
    emin: Option<f64>,
    /// RMC closure endpoint kmax (MeV) [default: 90.1].
    #[arg(long)]
    kmax: Option<f64>,
    /// Table directory with heeck_finer_binning_2016_szafron.tbl (DIO) and rpcspectrum.tbl
    /// (RPC); default: the Mu2e tables embedded in the program.
    #[arg(long)]
    tables: Option<PathBuf>,
    /// Rate of generated cosmic muons (Hz) that defines CosmicLivetime [default: 100].
    #[arg(long)]
    rate: Option<f64>,
    /// Cosmic muon energy range (MeV) [default: 1000 1e6].
    #[arg(long, num_args = 2)]
    cosmic_energy: Option<Vec<f64>>,
    /// Run number [default: 1202].
    #[arg(long)]
    run: Option<u32>,
    /// Sub-run of the first job [default: 0].
    #[arg(long)]
    first_subrun: Option<u32>,
    /// File owner field [default: mu2e].
    #[arg(long)]
    owner: Option<String>,
    /// Campaign/version (file configuration field) [default: MDC2020].
    #[arg(long)]
    campaign: Option<String>,
    /// Master seed (job j uses stream (seed, j)) [default: 1].
    #[arg(long)]
    seed: Option<u64>,
    /// Output directory. Required.
    #[arg(long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    shard: hep_cli_support::ShardArgs,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Arguments of `run-si`.
#[derive(Args, Debug, Clone)]
pub struct RunSiArgs {
    /// The run_si input directory (required here or as cfg_dir in the config).
    cfg_dir: Option<PathBuf>,
    /// Output directory of the ensemble (not needed with --plan-only).
    out_dir: Option<PathBuf>,
    /// Print the per-sample expected counts (normalisations) and stop.
    #[arg(long)]
    plan_only: bool,
    /// With --plan-only: also compare the generated events (or cosmic livetime) of the listed
    /// files with the normalisations (Stage2 check).
    #[arg(long)]
    check_generated: bool,
    /// Output format of --plan-only and of the summary [default: table].
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Constant set (default: mdc2018 for the G0 layout, mdc2020 for G1).
    #[arg(long, value_enum, ignore_case = true)]
    constants: Option<ConstantsArg>,
    /// Directory with the spectrum tables; default: the Mu2e tables embedded in the program.
    #[arg(long)]
    tables: Option<PathBuf>,
    /// SimEfficiencies2 CSV giving the stop rates (mdc2020 and later).
    #[arg(long)]
    simeff: Option<PathBuf>,
    /// Stopped mu- per POT (S_mu, x1000 applied); overrides --simeff.
    #[arg(long)]
    stopped_mu_per_pot: Option<f64>,
    /// Muons stopped in the IPA per POT (S_IPA); overrides --simeff.
    #[arg(long)]
    ipa_stops_per_pot: Option<f64>,
    /// Beam mode 1BB or 2BB (mdc2024, mds) [default: 1BB].
    #[arg(long, value_enum, ignore_case = true)]
    beam: Option<BeamArg>,
    /// Reproduce the originals: all, or a comma-separated list of dio-livetime-squared,
    /// ipa-next-threshold, rmc-1bb, ce-poisson, run-1201 (G1's hard-coded run number).
    #[arg(long, num_args = 0..=1, default_missing_value = "all", value_delimiter = ',')]
    compat: Option<Vec<String>>,
    /// Maximum events per sub-run (output file) [default: 1000000].
    #[arg(long)]
    max_events_per_subrun: Option<u64>,
    /// Ledger of consumed events (default: mu2e-ensemble-ledger.json next to the first sample
    /// file); every ensemble built from the same files must use the same ledger.
    #[arg(long)]
    ledger: Option<PathBuf>,
    /// Seed (default: line 6 of settings).
    #[arg(long)]
    seed: Option<u64>,
    /// Also write SamplingInput_sr<k>.fcl per sub-run (art interoperability).
    #[arg(long)]
    emit_fcl: bool,
    /// FCL template with ${comments} ${run} ${subRun} ${samplingSeed} ${datasets} ${outnameMC}
    /// ${outnameData} (default: a built-in DTS-level template).
    #[arg(long)]
    fcl_template: Option<PathBuf>,
    /// Build a series of K ensembles (seeds seed, seed+1, ...) into OUT_DIR/ensemble_<k>/,
    /// allocated one after the other so that none shares an event.
    #[arg(long, value_name = "K")]
    pub ensembles: Option<usize>,
    /// Plan and reserve the whole series (--ensembles K) in the ledger and write
    /// OUT_DIR/series-plan.json, without writing ensembles: the step before the shards.
    #[arg(long)]
    pub reserve: bool,
    #[command(flatten)]
    pub shard: hep_cli_support::ShardArgs,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Arguments of `gen-ensemble`.
#[derive(Args, Debug, Clone)]
pub struct GenEnsembleArgs {
    /// Directory to create (required here or as dir in the config).
    dir: Option<PathBuf>,
    /// Maximum livetime of the RMC generation (yr).
    max_livetime_rmc: Option<f64>,
    /// Livetime of the DIO/CE/RPC generation (yr).
    livetime_gen: Option<f64>,
    /// Run number [default: 1002].
    #[arg(long)]
    run: Option<u32>,
    /// Seed of the draws [default: 1].
    #[arg(long)]
    seed: Option<u64>,
    /// Directory with czarnecki_szafron_Al_2016.tbl; default: the Mu2e tables embedded in the
    /// program.
    #[arg(long)]
    tables: Option<PathBuf>,
    /// Output format of the printed plan [default: table].
    #[arg(long, value_enum)]
    format: Option<Format>,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Arguments of `si-summary`.
#[derive(Args, Debug, Clone)]
pub struct SiSummaryArgs {
    /// The mu2e log (required here or as log in the config).
    log: Option<PathBuf>,
    /// Dataset names to read (comma-separated; required here or in the config).
    #[arg(long, value_delimiter = ',')]
    samples: Option<Vec<String>>,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Runs one subcommand.
pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::GenPrimary(a) => gen_primary(&a),
        Command::RunSi(a) => run_si(&a),
        Command::GenEnsemble(a) => gen_ensemble(&a),
        Command::SiSummary(a) => si_summary(&a),
        Command::Ledger(a) => ledger_cmd(&a),
        Command::Merge(a) => merge_cmd(&a),
        Command::Submit(a) => submit_cmd(&a),
    }
}

fn merge_cmd(a: &hep_cli_support::MergeCommand) -> Result<()> {
    let Some(output) = a.load()? else {
        return Ok(());
    };
    if hep_core::shard::job_of(&output).as_deref() == Some(SERIES_JOB) {
        let reports = merge_series(&output)?;
        println!(
            "merged {} ensembles into {}",
            reports.len(),
            output.display()
        );
        return Ok(());
    }
    let merged = merge_gen_primary(&output)?;
    let mut m = manifest("gen-primary", &merged.configuration)?;
    m.add_seed("seed", merged.seed);
    m.inputs = merged.inputs.clone();
    finish(m, &merged.files)?;
    println!(
        "merged {} file(s) into {}",
        merged.files.len(),
        output.display()
    );
    Ok(())
}

fn submit_cmd(a: &hep_cli_support::SubmitCommand) -> Result<()> {
    let Some(cfg) = a.load()? else {
        return Ok(());
    };
    let slurm = &cfg.slurm;
    // Before run-si plans the series below.
    slurm.check()?;
    let parsed = crate::Cli::try_parse_from(
        std::iter::once("mu2e-ensemble".to_string()).chain(cfg.job.iter().cloned()),
    )
    .map_err(|e| anyhow::anyhow!("the job: {e}"))?;
    let program = hep_cli_support::current_program()?;
    let mut task = vec![program.clone()];
    task.extend(cfg.job.iter().cloned());
    let (job, out) = match parsed.command {
        crate::Command::B(Command::GenPrimary(job)) => {
            if job.shard.shard.is_some() {
                bail!("give the job without --shard: each array task adds its own");
            }
            let job = gen_primary_config(&job)?;
            (GEN_PRIMARY_JOB, job.output_dir()?.to_path_buf())
        }
        crate::Command::B(Command::RunSi(job)) => {
            let cfg = run_si_config(&job)?;
            if job.shard.shard.is_some() || cfg.reserve {
                bail!("give the job without --shard and --reserve: submit adds them");
            }
            let Some(count) = cfg.ensembles else {
                bail!("submit shards a series of ensembles: give run-si --ensembles K");
            };
            if count != slurm.shards && !slurm.only_missing {
                eprintln!(
                    "note: {count} ensembles in {} shards (blocks of floor(I*K/N)..)",
                    slurm.shards
                );
            }
            let out = cfg.out_dir.clone().context("run-si needs OUT_DIR")?;
            // The allocation of the whole series is planned once, here, before any shard runs.
            if !out.join(mu2e_ensemble::series::SERIES_PLAN_FILE).exists() {
                let reserve = RunSiConfig {
                    reserve: true,
                    ..cfg.clone()
                };
                let outcome = commands::run_si(&reserve, &hep_core::progress::NoProgress)?;
                print!("{}", outcome.render(cfg.format, &out)?);
            }
            (SERIES_JOB, out)
        }
        _ => bail!(
            "submit runs `gen-primary` or `run-si --ensembles K` shards: the job after -- must start with one of them"
        ),
    };
    let merge = vec![
        program,
        "merge".into(),
        "--output".into(),
        out.to_string_lossy().into_owned(),
    ];
    hep_cli_support::submit(slurm, job, &out, task, merge)
}

fn ledger_cmd(a: &LedgerArgs) -> Result<()> {
    let mut o = Over::default();
    o.set("ledger", a.ledger.clone())?;
    o.flag("release_stale", a.release_stale)?;
    o.set("release", a.release.clone())?;
    let cfg: commands::LedgerConfig = load_config(a.config.config.as_deref(), &o.0)?;
    if a.config.print_config {
        return print_config(&cfg);
    }
    print!("{}", commands::ledger(&cfg)?.render());
    Ok(())
}

fn manifest(sub: &str, config: &serde_json::Value) -> Result<Manifest> {
    Ok(
        Manifest::start(format!("mu2e-ensemble {sub}"), env!("CARGO_PKG_VERSION"))
            .with_configuration(config)?,
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

/// The effective configuration of `gen-primary` (file, then command line).
fn gen_primary_config(a: &GenPrimaryArgs) -> Result<GenPrimaryConfig> {
    let mut o = Over::default();
    o.set("primary", a.primary.clone())?;
    o.set("type", a.kind.map(PrimaryType::from))?;
    o.set("njobs", a.njobs)?;
    o.set("events", a.events)?;
    o.set("filter_efficiency", a.filter_efficiency)?;
    o.set("emin", a.emin)?;
    o.set("kmax", a.kmax)?;
    o.set("tables", a.tables.clone())?;
    o.set("rate", a.rate)?;
    o.set("cosmic_energy", a.cosmic_energy.clone())?;
    o.set("run", a.run)?;
    o.set("first_subrun", a.first_subrun)?;
    o.set("owner", a.owner.clone())?;
    o.set("campaign", a.campaign.clone())?;
    o.set("seed", a.seed)?;
    o.set("output", a.output.clone())?;
    load_config(a.config.config.as_deref(), &o.0)
}

fn gen_primary(a: &GenPrimaryArgs) -> Result<()> {
    let cfg = gen_primary_config(a)?;
    if a.config.print_config {
        return print_config(&cfg);
    }
    let out = cfg.output_dir()?;
    if let Some(shard) = a.shard.shard {
        let (opts, tables) = cfg.options()?;
        let files = run_gen_primary_shard(out, &opts, &tables.files(), shard)?;
        println!(
            "{}: shard {shard}: {} file(s) in {}",
            cfg.primary,
            files.len(),
            shard.dir(out).display()
        );
        return Ok(());
    }
    let bar = Bar::new();
    let rep = commands::gen_primary(&cfg, &bar)?;
    drop(bar);
    println!(
        "{}: {} file(s) in {}, {} generated, {} stored",
        cfg.primary,
        rep.files.len(),
        out.display(),
        rep.generated,
        rep.stored
    );
    Ok(())
}

/// The effective configuration of `run-si` (file, then command line).
fn run_si_config(a: &RunSiArgs) -> Result<RunSiConfig> {
    let mut o = Over::default();
    o.set("cfg_dir", a.cfg_dir.clone())?;
    o.set("out_dir", a.out_dir.clone())?;
    o.flag("plan_only", a.plan_only)?;
    o.flag("check_generated", a.check_generated)?;
    o.set("format", a.format.map(OutputFormat::from))?;
    o.set("constants", a.constants.map(ConstantSet::from))?;
    o.set("tables", a.tables.clone())?;
    o.set("stop_rates.simeff", a.simeff.clone())?;
    o.set("stop_rates.stopped_mu_per_pot", a.stopped_mu_per_pot)?;
    o.set("stop_rates.ipa_stops_per_pot", a.ipa_stops_per_pot)?;
    o.set("beam", a.beam.map(BeamMode::from))?;
    if let Some(list) = &a.compat {
        let mut q = Quirks::default();
        let mut run_1201 = false;
        for name in list {
            match name.trim() {
                "run-1201" => run_1201 = true,
                "all" => {
                    q = Quirks::original();
                    run_1201 = true;
                }
                other => q.enable(other)?,
            }
        }
        o.quirks(&q)?;
        o.flag("compat_run_1201", run_1201)?;
    }
    o.set("max_events_per_subrun", a.max_events_per_subrun)?;
    o.set("ledger", a.ledger.clone())?;
    o.set("seed", a.seed)?;
    o.flag("emit_fcl", a.emit_fcl)?;
    o.set("fcl_template", a.fcl_template.clone())?;
    o.set("ensembles", a.ensembles)?;
    o.flag("reserve", a.reserve)?;
    let cfg: RunSiConfig = load_config(a.config.config.as_deref(), &o.0)?;
    if cfg.check_generated && !cfg.plan_only {
        bail!("--check-generated needs --plan-only");
    }
    if cfg.fcl_template.is_some() && !cfg.emit_fcl {
        bail!("--fcl-template needs --emit-fcl");
    }
    Ok(cfg)
}

fn run_si(a: &RunSiArgs) -> Result<()> {
    let cfg = run_si_config(a)?;
    if a.config.print_config {
        return print_config(&cfg);
    }
    if let Some(shard) = a.shard.shard {
        return run_series_shard_cmd(&cfg, shard);
    }
    let bar = Bar::new();
    let outcome = commands::run_si(&cfg, &bar)?;
    drop(bar);
    let out = cfg.out_dir.clone().unwrap_or_default();
    print!("{}", outcome.render(cfg.format, &out)?);
    if outcome.check_failed() {
        bail!("some samples have fewer generated events (or cosmic livetime) than needed");
    }
    Ok(())
}

/// `run-si --ensembles K --shard I/N`: the block I of a planned series.
fn run_series_shard_cmd(cfg: &RunSiConfig, shard: hep_core::shard::Shard) -> Result<()> {
    let range = commands::run_si_shard(cfg, shard)?;
    let out = cfg.out_dir.clone().unwrap_or_default();
    println!(
        "shard {shard}: ensembles {range:?} in {}",
        shard.dir(&out).display()
    );
    Ok(())
}

fn gen_ensemble(a: &GenEnsembleArgs) -> Result<()> {
    let mut o = Over::default();
    o.set("dir", a.dir.clone())?;
    o.set("max_livetime_rmc", a.max_livetime_rmc)?;
    o.set("livetime_gen", a.livetime_gen)?;
    o.set("run", a.run)?;
    o.set("seed", a.seed)?;
    o.set("tables", a.tables.clone())?;
    o.set("format", a.format.map(OutputFormat::from))?;
    let cfg: GenEnsembleConfig = load_config(a.config.config.as_deref(), &o.0)?;
    if a.config.print_config {
        return print_config(&cfg);
    }
    let rep = commands::gen_ensemble(&cfg)?;
    print!("{}", rep.text);
    Ok(())
}

fn si_summary(a: &SiSummaryArgs) -> Result<()> {
    let mut o = Over::default();
    o.set("log", a.log.clone())?;
    o.set("samples", a.samples.clone())?;
    let cfg: SiSummaryConfig = load_config(a.config.config.as_deref(), &o.0)?;
    if a.config.print_config {
        return print_config(&cfg);
    }
    let s = commands::si_summary(&cfg)?;
    println!("{}", serde_json::to_string_pretty(&s)?);
    Ok(())
}
