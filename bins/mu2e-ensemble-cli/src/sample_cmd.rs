//! Subcommands of `mu2e-ensemble` for samples and ensembles (`gen_Primary.sh`, `run_si.py`,
//! `genEnsemble.py`): `gen-primary`, `run-si`, `gen-ensemble`, `si-summary`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use hep_core::manifest::Manifest;
use mu2e_ensemble::constants::{BeamMode, ConstantSet};
use mu2e_ensemble::fcl::parse_sampling_summary;
use mu2e_ensemble::normalizations::{Quirks, StopRates};
use mu2e_ensemble::planning::{check_generated, draw_parameters, job_counts, write_run_si_dir};
use mu2e_ensemble::run_si::{BuildOptions, RunSiDir, RunSiOptions, build, plan, sample_inputs};
use mu2e_ensemble::samples::{GenPrimaryOptions, PrimaryKind, generate_primary};
use mu2e_ensemble::scale_out::{
    GEN_PRIMARY_JOB, SERIES_JOB, merge_gen_primary, merge_series, run_gen_primary_shard,
    run_series_shard,
};
use mu2e_ensemble::tables::{EnergyCut, SimEfficiencies, Spectrum, Tables};

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
    Merge(MergeArgs),
    /// Write (and with --submit, submit) a Slurm array job of shards and its merge.
    ///
    /// The job follows after `--`, without --shard:
    /// `mu2e-ensemble submit --shards 8 -- gen-primary --primary DIOTail ... --output samples`.
    Submit(SubmitCmd),
    /// List the ensembles and reservations of an event ledger, and release stale reservations.
    ///
    /// A reservation is made before an ensemble is written and completed after it; a run that
    /// fails gives its reservation back itself, but a killed one (kill -9, node failure) leaves it
    /// `reserved`. `--release-stale` gives back the reservations of processes of this host that
    /// no longer run; `--release ID` gives back any one reservation (use it only when the holder
    /// is known to be gone). Complete ensembles are never released.
    Ledger(LedgerArgs),
}

/// Arguments of `merge`.
#[derive(Debug, Clone, clap::Args)]
pub struct MergeArgs {
    /// The output directory of the sharded job (holding shards/).
    #[arg(long, short)]
    pub output: PathBuf,
}

/// Arguments of `submit`.
#[derive(Debug, Clone, clap::Args)]
pub struct SubmitCmd {
    #[command(flatten)]
    slurm: hep_cli_support::SubmitArgs,
    /// The job: `gen-primary` and its options.
    #[arg(last = true, required = true, value_name = "JOB OPTIONS")]
    job: Vec<String>,
}

/// Arguments of `ledger`.
#[derive(Debug, Clone, clap::Args)]
pub struct LedgerArgs {
    /// The ledger file (mu2e-ensemble-ledger.json beside the sample files by default in run-si).
    pub ledger: PathBuf,
    /// Release every reservation whose holder process of this host no longer runs.
    #[arg(long)]
    pub release_stale: bool,
    /// Release the reservation with this id (as listed).
    #[arg(long, value_name = "ID")]
    pub release: Option<String>,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text.
    Table,
    /// JSON.
    Json,
}

/// Process of `gen-primary --type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrimaryType {
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

/// Arguments of `gen-primary`.
#[derive(Args, Debug, Clone)]
pub struct GenPrimaryArgs {
    /// Sample name (file description and the ensemble's dataset name), e.g. DIOTail.
    #[arg(long)]
    primary: String,
    /// What to generate.
    #[arg(long = "type", value_enum)]
    kind: PrimaryType,
    /// Number of jobs (files).
    #[arg(long)]
    njobs: u32,
    /// Generated events per job.
    #[arg(long)]
    events: u64,
    /// Fraction of generated events stored (0, 1].
    #[arg(long, default_value_t = 1.0)]
    filter_efficiency: f64,
    /// Lower energy cut (MeV): DIO (default 95), RMC (85), RPC (50), IPA Michel (0).
    #[arg(long)]
    emin: Option<f64>,
    /// RMC closure endpoint kmax (MeV).
    #[arg(long, default_value_t = 90.1)]
    kmax: f64,
    /// Table directory: heeck_finer_binning_2016_szafron.tbl (DIO; else the analytic Pol58
    /// endpoint spectrum, valid for emin >= 85 MeV), rpcspectrum.tbl (RPC, required).
    #[arg(long)]
    tables: Option<PathBuf>,
    /// Rate of generated cosmic muons (Hz) that defines CosmicLivetime.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Cosmic muon energy range (MeV).
    #[arg(long, num_args = 2, default_values_t = [1000.0, 1e6])]
    cosmic_energy: Vec<f64>,
    /// Run number.
    #[arg(long, default_value_t = 1202)]
    run: u32,
    /// Sub-run of the first job.
    #[arg(long, default_value_t = 0)]
    first_subrun: u32,
    /// File owner field.
    #[arg(long, default_value = "mu2e")]
    owner: String,
    /// Campaign/version (file configuration field).
    #[arg(long, default_value = "MDC2020")]
    campaign: String,
    /// Master seed (job j uses stream (seed, j)).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory.
    #[arg(long)]
    output: PathBuf,
    #[command(flatten)]
    shard: hep_cli_support::ShardArgs,
}

/// Arguments of `run-si`.
#[derive(Args, Debug, Clone)]
pub struct RunSiArgs {
    /// The run_si input directory.
    cfg_dir: PathBuf,
    /// Output directory of the ensemble (not needed with --plan-only).
    out_dir: Option<PathBuf>,
    /// Print the per-sample expected counts (normalisations) and stop.
    #[arg(long)]
    plan_only: bool,
    /// With --plan-only: also compare the generated events (or cosmic livetime) of the listed
    /// files with the normalisations (Stage2 check).
    #[arg(long, requires = "plan_only")]
    check_generated: bool,
    /// Output format of --plan-only and of the summary.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Constant set (default: mdc2018 for the G0 layout, mdc2020 for G1).
    #[arg(long)]
    constants: Option<String>,
    /// Directory with the spectrum tables.
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
    /// Beam mode 1BB or 2BB (mdc2024, mds).
    #[arg(long, default_value = "1BB")]
    beam: String,
    /// Reproduce the originals: all, or a comma-separated list of dio-livetime-squared,
    /// ipa-next-threshold, rmc-1bb, ce-poisson, run-1201 (G1's hard-coded run number).
    #[arg(long, num_args = 0..=1, default_missing_value = "all", value_delimiter = ',')]
    compat: Option<Vec<String>>,
    /// Maximum events per sub-run (output file).
    #[arg(long, default_value_t = 1_000_000)]
    max_events_per_subrun: u64,
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
    #[arg(long, requires = "emit_fcl")]
    fcl_template: Option<PathBuf>,
    /// Print the resolved configuration (every default filled in) as JSON and exit.
    #[arg(long)]
    print_config: bool,
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
}

/// Arguments of `gen-ensemble`.
#[derive(Args, Debug, Clone)]
pub struct GenEnsembleArgs {
    /// Directory to create.
    dir: PathBuf,
    /// Maximum livetime of the RMC generation (yr).
    max_livetime_rmc: f64,
    /// Livetime of the DIO/CE/RPC generation (yr).
    livetime_gen: f64,
    /// Run number.
    #[arg(long, default_value_t = 1002)]
    run: u32,
    /// Seed of the draws.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Directory with czarnecki_szafron_Al_2016.tbl (else the analytic DIO spectrum).
    #[arg(long)]
    tables: Option<PathBuf>,
    /// Output format of the printed plan.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// Arguments of `si-summary`.
#[derive(Args, Debug, Clone)]
pub struct SiSummaryArgs {
    /// The mu2e log.
    log: PathBuf,
    /// Dataset names to read (comma-separated).
    #[arg(long, value_delimiter = ',', required = true)]
    samples: Vec<String>,
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

fn merge_cmd(a: &MergeArgs) -> Result<()> {
    if hep_core::shard::job_of(&a.output).as_deref() == Some(SERIES_JOB) {
        let reports = merge_series(&a.output)?;
        println!(
            "merged {} ensembles into {}",
            reports.len(),
            a.output.display()
        );
        return Ok(());
    }
    let merged = merge_gen_primary(&a.output)?;
    let mut m = manifest("gen-primary", &merged.configuration)?;
    m.add_seed("seed", merged.seed);
    m.inputs = merged.inputs.clone();
    finish(m, &merged.files)?;
    println!(
        "merged {} file(s) into {}",
        merged.files.len(),
        a.output.display()
    );
    Ok(())
}

fn submit_cmd(a: &SubmitCmd) -> Result<()> {
    let parsed = crate::Cli::try_parse_from(
        std::iter::once("mu2e-ensemble".to_string()).chain(a.job.iter().cloned()),
    )
    .map_err(|e| anyhow::anyhow!("the job after --: {e}"))?;
    let program = hep_cli_support::current_program()?;
    let mut task = vec![program.clone()];
    task.extend(a.job.iter().cloned());
    let (job, out) = match parsed.command {
        crate::Command::B(Command::GenPrimary(job)) => {
            if job.shard.shard.is_some() {
                bail!("give the job without --shard: each array task adds its own");
            }
            (GEN_PRIMARY_JOB, job.output.clone())
        }
        crate::Command::B(Command::RunSi(job)) => {
            if job.shard.shard.is_some() || job.reserve {
                bail!("give the job without --shard and --reserve: submit adds them");
            }
            let Some(count) = job.ensembles else {
                bail!("submit shards a series of ensembles: give run-si --ensembles K");
            };
            if count != a.slurm.shards && !a.slurm.only_missing {
                eprintln!(
                    "note: {count} ensembles in {} shards (blocks of floor(I*K/N)..)",
                    a.slurm.shards
                );
            }
            let out = job.out_dir.clone().context("run-si needs OUT_DIR")?;
            // The allocation of the whole series is planned once, here, before any shard runs.
            if !out.join(mu2e_ensemble::series::SERIES_PLAN_FILE).exists() {
                let opts = run_si_options(&job)?;
                let dir = RunSiDir::read(&job.cfg_dir, opts.constants)?;
                let b = BuildOptions {
                    max_events_per_subrun: job.max_events_per_subrun,
                    ledger: job.ledger.clone(),
                    seed: job.seed,
                    emit_fcl: job.emit_fcl,
                    fcl_template: job.fcl_template.clone(),
                };
                let (inputs, cfg) = mu2e_ensemble::run_si::ensemble_setup(&dir, &opts, &b)?;
                let plan = mu2e_ensemble::series::plan_series(&inputs, &cfg, count, &out)?;
                println!(
                    "planned and reserved {} ensembles in {}",
                    plan.entries.len(),
                    out.display()
                );
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
    hep_cli_support::submit(&a.slurm, job, &out, task, merge)
}

fn ledger_cmd(a: &LedgerArgs) -> Result<()> {
    use mu2e_ensemble::sampler::{Ledger, release_reservation, release_stale};
    if let Some(id) = &a.release {
        let e = release_reservation(&a.ledger, id)?;
        println!(
            "released {} ({} row ranges, output {})",
            e.id,
            e.ranges.len(),
            e.output_dir.display()
        );
    }
    if a.release_stale {
        let released = release_stale(&a.ledger)?;
        for e in &released {
            println!(
                "released stale reservation {} (holder pid {} gone; output {})",
                e.id,
                e.holder_pid.map_or("?".into(), |p| p.to_string()),
                e.output_dir.display()
            );
        }
        if released.is_empty() {
            println!("no stale reservations");
        }
    }
    if !a.ledger.exists() {
        anyhow::bail!("{}: no such ledger", a.ledger.display());
    }
    let ledger = Ledger::load(&a.ledger)?;
    println!(
        "{:<10} {:>12} {:<6} {:<40} output",
        "status", "events", "stale", "id"
    );
    for e in &ledger.ensembles {
        let events: u64 = e.ranges.iter().map(|r| r.len()).sum();
        println!(
            "{:<10} {:>12} {:<6} {:<40} {}",
            e.status,
            events,
            if e.is_stale() { "yes" } else { "no" },
            if e.id.is_empty() { "-" } else { &e.id },
            e.output_dir.display()
        );
    }
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

fn gen_primary(a: &GenPrimaryArgs) -> Result<()> {
    let tables = a
        .tables
        .as_ref()
        .map(Tables::load)
        .transpose()?
        .unwrap_or_default();
    let kind = match a.kind {
        PrimaryType::CeMinus => PrimaryKind::CeMinus,
        PrimaryType::CePlus => PrimaryKind::CePlus,
        PrimaryType::Dio => {
            let emin = a.emin.unwrap_or(95.0);
            let spectrum = mu2e_ensemble::dio::dio_spectrum(&tables, emin)?;
            PrimaryKind::Dio {
                spectrum,
                emin_mev: emin,
            }
        }
        PrimaryType::Rmc => PrimaryKind::Rmc {
            kmax_mev: a.kmax,
            emin_mev: a.emin.unwrap_or(85.0),
        },
        PrimaryType::Rpc => {
            let spectrum: Spectrum = tables.rpc.clone().with_context(|| {
                format!(
                    "--type rpc needs --tables DIR with {}",
                    mu2e_ensemble::tables::RPC_FILE
                )
            })?;
            PrimaryKind::Rpc {
                spectrum,
                cut: EnergyCut::AtLeast(a.emin.unwrap_or(50.0)),
            }
        }
        PrimaryType::IpaMichel => PrimaryKind::IpaMichel {
            emin_mev: a.emin.unwrap_or(0.0),
        },
        PrimaryType::Cosmic => PrimaryKind::Cosmic {
            rate_hz: a.rate,
            emin_mev: a.cosmic_energy[0],
            emax_mev: a.cosmic_energy[1],
        },
    };
    let opts = GenPrimaryOptions {
        name: a.primary.clone(),
        kind,
        njobs: a.njobs,
        events_per_job: a.events,
        filter_efficiency: a.filter_efficiency,
        run: a.run,
        first_subrun: a.first_subrun,
        owner: a.owner.clone(),
        configuration: a.campaign.clone(),
        seed: a.seed,
    };
    if let Some(shard) = a.shard.shard {
        let files = run_gen_primary_shard(&a.output, &opts, &tables.files(), shard)?;
        println!(
            "{}: shard {shard}: {} file(s) in {}",
            a.primary,
            files.len(),
            shard.dir(&a.output).display()
        );
        return Ok(());
    }
    std::fs::create_dir_all(&a.output)
        .with_context(|| format!("creating {}", a.output.display()))?;
    let files = generate_primary(&a.output, &opts)?;
    let mut m = manifest("gen-primary", &serde_json::to_value(&opts)?)?;
    m.add_seed("seed", a.seed);
    for p in tables.files() {
        m.add_input(p)?;
    }
    let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    finish(m, &paths)?;
    let stored: u64 = files.iter().map(|f| f.events).sum();
    println!(
        "{}: {} file(s) in {}, {} generated, {} stored",
        a.primary,
        files.len(),
        a.output.display(),
        a.events * u64::from(a.njobs),
        stored
    );
    Ok(())
}

fn run_si_options(a: &RunSiArgs) -> Result<RunSiOptions> {
    let constants = a
        .constants
        .as_deref()
        .map(str::parse::<ConstantSet>)
        .transpose()?;
    let tables = a
        .tables
        .as_ref()
        .map(Tables::load)
        .transpose()?
        .unwrap_or_default();
    let mut stop_rates = a
        .simeff
        .as_ref()
        .map(|p| SimEfficiencies::read(p).and_then(|t| StopRates::from_simeff(&t)))
        .transpose()?;
    match (a.stopped_mu_per_pot, a.ipa_stops_per_pot, &mut stop_rates) {
        (None, None, _) => {}
        (mu, ipa, Some(r)) => {
            r.muon_stops_per_pot = mu.unwrap_or(r.muon_stops_per_pot);
            r.ipa_stops_per_pot = ipa.unwrap_or(r.ipa_stops_per_pot);
        }
        (Some(mu), Some(ipa), None) => {
            stop_rates = Some(StopRates {
                muon_stops_per_pot: mu,
                ipa_stops_per_pot: ipa,
                pion: None,
            });
        }
        _ => bail!("give both --stopped-mu-per-pot and --ipa-stops-per-pot, or --simeff"),
    }
    let mut quirks = Quirks::default();
    let mut compat_run_1201 = false;
    for q in a.compat.iter().flatten() {
        match q.trim() {
            "run-1201" => compat_run_1201 = true,
            "all" => {
                quirks = Quirks::original();
                compat_run_1201 = true;
            }
            other => quirks.enable(other)?,
        }
    }
    Ok(RunSiOptions {
        constants,
        tables,
        stop_rates,
        quirks,
        compat_run_1201,
        beam: a.beam.parse::<BeamMode>()?,
    })
}

fn run_si(a: &RunSiArgs) -> Result<()> {
    let opts = run_si_options(a)?;
    let dir = RunSiDir::read(&a.cfg_dir, opts.constants)?;
    if a.print_config {
        let constants = opts.constants.unwrap_or(dir.layout.default_constants());
        let ledger = match &a.ledger {
            Some(l) => l.clone(),
            None => mu2e_ensemble::run_si::ledger_beside(
                dir.samples
                    .iter()
                    .flat_map(|s| s.files.first())
                    .next()
                    .map(PathBuf::as_path),
            ),
        };
        let cfg = serde_json::json!({
            "directory": dir,
            "constants": constants,
            "tables": opts.tables.files(),
            "stop_rates": opts.stop_rates,
            "quirks": opts.quirks,
            "compat_run_1201": opts.compat_run_1201,
            "beam": opts.beam,
            "max_events_per_subrun": a.max_events_per_subrun,
            "ledger": ledger,
            "seed": a.seed.unwrap_or(dir.settings.seed),
            "emit_fcl": a.emit_fcl,
            "fcl_template": a.fcl_template,
        });
        println!("{}", serde_json::to_string_pretty(&cfg)?);
        return Ok(());
    }
    if a.plan_only {
        let p = plan(&dir, &opts)?;
        let checks = if a.check_generated {
            let inputs = sample_inputs(&p)?;
            Some(check_generated(
                &inputs
                    .into_iter()
                    .map(|s| (s.name, s.norm, s.files))
                    .collect::<Vec<_>>(),
            ))
        } else {
            None
        };
        match a.format {
            Format::Json => {
                let mut v = p.to_json();
                if let Some(c) = &checks {
                    v["generated_check"] = serde_json::to_value(c)?;
                }
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            Format::Table => {
                print!("{p}");
                for c in checks.iter().flatten() {
                    println!(
                        "check {:<16} needed {:>14.6e} generated {:>14.6e} {}",
                        c.sample,
                        c.needed,
                        c.generated,
                        if c.ok { "ok" } else { "NOT ENOUGH" }
                    );
                }
            }
        }
        if checks.iter().flatten().any(|c| !c.ok) {
            bail!("some samples have fewer generated events (or cosmic livetime) than needed");
        }
        return Ok(());
    }
    let Some(out) = &a.out_dir else {
        bail!("run-si needs OUT_DIR (or --plan-only)");
    };
    let b = BuildOptions {
        max_events_per_subrun: a.max_events_per_subrun,
        ledger: a.ledger.clone(),
        seed: a.seed,
        emit_fcl: a.emit_fcl,
        fcl_template: a.fcl_template.clone(),
    };
    if a.ensembles.is_some() || a.reserve || a.shard.shard.is_some() {
        return run_series(a, &dir, &opts, &b, out);
    }
    let rep = build(&dir, &opts, &b, out)?;
    match a.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rep.outcomes)?),
        Format::Table => {
            println!(
                "ensemble: {} events (expected {:.3}) in {} sub-run file(s) in {}, seed {}",
                rep.draws.n_total,
                rep.expected_total,
                rep.subruns.len(),
                out.display(),
                rep.config.seed
            );
            println!(
                "{:<16} {:>14} {:>10} {:>7}",
                "sample", "expected", "realised", "pull"
            );
            for o in &rep.outcomes {
                println!(
                    "{:<16} {:>14.3} {:>10} {:>7.2}",
                    o.name, o.expected, o.realised, o.pull
                );
            }
        }
    }
    Ok(())
}

/// `run-si --ensembles K`: a series of ensembles, in one process, or planned (`--reserve`) and
/// written as shards (`--shard I/N`).
fn run_series(
    a: &RunSiArgs,
    dir: &RunSiDir,
    opts: &RunSiOptions,
    b: &BuildOptions,
    out: &Path,
) -> Result<()> {
    use mu2e_ensemble::run_si::ensemble_setup;
    use mu2e_ensemble::series::{SeriesPlan, build_series, plan_series};
    let count = a.ensembles.unwrap_or(1);
    let (inputs, cfg) = ensemble_setup(dir, opts, b)?;
    if let Some(shard) = a.shard.shard {
        if a.reserve {
            bail!("--reserve plans the whole series once; run the shards without it");
        }
        let plan = SeriesPlan::read(out).with_context(|| {
            format!(
                "shards write a planned series: run `run-si ... --ensembles {count} --reserve` \
                 (or `submit`) first"
            )
        })?;
        if plan.entries.len() != count {
            bail!(
                "the series in {} has {} ensembles, not {count}",
                out.display(),
                plan.entries.len()
            );
        }
        run_series_shard(&inputs, out, shard)?;
        println!(
            "shard {shard}: ensembles {:?} in {}",
            shard.range(count),
            shard.dir(out).display()
        );
        return Ok(());
    }
    if a.reserve {
        let plan = plan_series(&inputs, &cfg, count, out)?;
        println!(
            "planned and reserved {} ensembles ({} events) in {}",
            plan.entries.len(),
            plan.entries
                .iter()
                .map(|e| e.plan.draws.n_total)
                .sum::<u64>(),
            out.display()
        );
        return Ok(());
    }
    let reports = build_series(&inputs, &cfg, count, out)?;
    for (k, r) in reports.iter().enumerate() {
        println!(
            "ensemble {k}: {} events (expected {:.3}), seed {}",
            r.draws.n_total, r.expected_total, r.config.seed
        );
    }
    Ok(())
}

fn gen_ensemble(a: &GenEnsembleArgs) -> Result<()> {
    let tables = a
        .tables
        .as_ref()
        .map(Tables::load)
        .transpose()?
        .unwrap_or_default();
    let params = draw_parameters(a.max_livetime_rmc, a.run, a.seed)?;
    let jobs = job_counts(a.max_livetime_rmc, a.livetime_gen, &tables)?;
    write_run_si_dir(&a.dir, &params)?;
    let out = a.dir.join("jobs.json");
    let doc = serde_json::json!({ "parameters": params, "jobs": jobs });
    hep_core::io::atomic_write_bytes(
        &out,
        format!("{}\n", serde_json::to_string_pretty(&doc)?).as_bytes(),
    )?;
    let mut m = manifest("gen-ensemble", &doc)?;
    m.add_seed("seed", a.seed);
    for p in tables.files() {
        m.add_input(p)?;
    }
    // One manifest, beside jobs.json, lists every file written (the run_si directory itself
    // stays as genEnsemble wrote it).
    for n in ["kmax", "livetime", "rue", "rup", "settings", "jobs.json"] {
        m.add_output(a.dir.join(n))?;
    }
    m.finish();
    m.write_sidecar(&out)?;
    match a.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&doc)?),
        Format::Table => {
            println!(
                "{}: livetime {:.6} yr, rue {:.3e}, rup {:.3e}, kmax {:.3} MeV, seed {}",
                a.dir.display(),
                params.livetime_yr,
                params.rue,
                params.rup,
                params.kmax,
                params.sampling_seed
            );
            println!(
                "{:<14} {:>14} {:>10} {:>9} {:>7}",
                "sample", "norm/yr", "ev/job", "merge", "njobs"
            );
            for j in &jobs {
                println!(
                    "{:<14} {:>14.6e} {:>10} {:>9} {:>7}",
                    j.sample, j.norm_per_year, j.events_per_job, j.merge_factor, j.njobs
                );
            }
        }
    }
    Ok(())
}

fn si_summary(a: &SiSummaryArgs) -> Result<()> {
    let text = hep_core::io::read_text(&a.log)?;
    let known: Vec<&str> = a.samples.iter().map(String::as_str).collect();
    let s = parse_sampling_summary(Path::new(&a.log), &text, &known)?;
    println!("{}", serde_json::to_string_pretty(&s)?);
    Ok(())
}
