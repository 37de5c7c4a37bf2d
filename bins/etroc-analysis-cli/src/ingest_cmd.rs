//! Ingest and cut subcommands of `etroc-analysis`, with the original scripts' options:
//! `process-txt`, `process-dat`, `process-dir`, `cut`, `cut-times`, and the scale-out pair
//! `submit` (a Slurm array of `process-dir` or `run-beams` shards) and `merge` (of those shards).
//!
//! Each runs one task (or a few) on a run directory with the original's task names and files;
//! the provenance of every task is in `<run>/<task>/task_manifest.json` and the outputs'
//! `.manifest.json` sidecars. Every subcommand takes `--config FILE.toml` and `--print-config`:
//! its options fill a configuration of `etroc_analysis::jobs` (defaults, then the file, then the
//! options given), and the library runs it. Log verbosity is the global `-v` (the original's
//! `-l/--log-level`).

use std::path::{Path, PathBuf};

use crate::common::{FormatArgs, FormatOverrides, MergeArgs, Over, configure};
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use etroc_analysis::cuts::CutReport;
use etroc_analysis::ingest::RunMetadata;
use etroc_analysis::ingest_run;
use etroc_analysis::jobs;
use hep_cli_support::ConfigArgs;

/// Prints a line on stdout, ignoring a closed pipe (e.g. `| head`) instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// The subcommands of this module.
#[derive(Subcommand)]
pub enum Command {
    /// Ingest a beam txt summary into a new run and build events
    /// (process_etroc1_single_run_txt.py).
    ProcessTxt(ProcessTxtArgs),
    /// Ingest one charge-injection Split .dat into a new run
    /// (process_etroc1_single_charge_injection_run.py).
    ProcessDat(ProcessDatArgs),
    /// Process a charge-injection scan directory: one run per *Split_0 file, default cut, merge
    /// (process_etroc1_charge_injection_data_dir.py).
    ProcessDir(ProcessDirArgs),
    /// Join the shards of `process-dir --shard I/N` (or `run-beams --shard I/N`) into the run
    /// of a single-process run.
    Merge(hep_cli_support::MergeCommand),
    /// Write (and with --submit, submit) a Slurm array job of `process-dir` shards and its merge.
    ///
    /// The job follows after `--` (or is `job` in the configuration), without --shard:
    /// `etroc-analysis submit --shards 4 -- process-dir -d SCAN -o OUT`. The output name gets
    /// its date prefix once, here.
    Submit(hep_cli_support::SubmitCommand),
    /// Apply the event cuts of <run>/cuts.csv (cut_etroc1_single_run.py).
    Cut(CutArgs),
    /// Apply the time cuts of <run>/time_cuts.csv (cut_times_in_ns.py).
    CutTimes(CutTimesArgs),
}

/// Options shared by the ingests.
#[derive(Args)]
pub struct CommonIngest {
    /// Output run directory; it must not exist (a new run is created; default ./out).
    #[arg(short = 'o', long = "out-directory", visible_alias = "output")]
    out_directory: Option<PathBuf>,
    /// Keep hits with hit_flag 0.
    #[arg(short = 'k', long = "keep-all")]
    keep_all: bool,
    /// Do not write the SQLite database data/data.sqlite (Parquet only).
    #[arg(long)]
    no_sqlite: bool,
    /// Do not copy the input file into the task's original_data/ directory.
    #[arg(long)]
    no_copy_input: bool,
    /// Draw the plot_before_cuts plots.
    #[arg(long)]
    plots: bool,
    #[command(flatten)]
    formats: FormatArgs,
    #[command(flatten)]
    cfg: ConfigArgs,
}

impl CommonIngest {
    /// The overrides of the options every ingest has (file included).
    fn overrides(&self, file: &Option<PathBuf>, raw_words: bool) -> Result<Over> {
        let mut o = Over::default();
        o.set("file", file.clone())?;
        o.set("out_directory", self.out_directory.clone())?;
        o.flag_value("keep_all", self.keep_all, true)?;
        o.flag_value("sqlite", self.no_sqlite, false)?;
        o.flag_value("copy_input", self.no_copy_input, false)?;
        o.flag_value("plots", self.plots, true)?;
        o.formats("plot_formats", &self.formats)?;
        o.flag_value("raw_words", raw_words, true)?;
        Ok(o)
    }
}

/// Arguments of `process-txt`.
#[derive(Args)]
pub struct ProcessTxtArgs {
    /// The beam txt summary (7 tokens per line after the banner); required.
    #[arg(long)]
    file: Option<PathBuf>,
    #[command(flatten)]
    common: CommonIngest,
    /// Event pattern: 0 none, 1 [0,1,3] (default), 2 [0,1], 3 [0,3], 4 [1,3], 5 [0,3,1].
    #[arg(short = 'p', long = "event-pattern", visible_alias = "event_pattern",
          value_parser = clap::value_parser!(u8).range(0..=5))]
    event_pattern: Option<u8>,
    /// Leading banner lines to skip (default 1 for the txt, 0 with --raw-words).
    #[arg(long)]
    header_lines: Option<usize>,
    /// The input is a raw .dat of 32-bit words (one decimal integer per line) instead of a txt.
    #[arg(long)]
    raw_words: bool,
}

/// Arguments of `process-dat`.
#[derive(Args)]
pub struct ProcessDatArgs {
    /// The charge-injection Split .dat (5 tokens per line), named TDC_Data_PhaseAdj<P>_..._Split_<k>.dat; required.
    #[arg(long)]
    file: Option<PathBuf>,
    #[command(flatten)]
    common: CommonIngest,
    /// The input is a raw .dat of 32-bit words instead of a Split .dat.
    #[arg(long)]
    raw_words: bool,
}

/// Arguments of `process-dir`.
#[derive(Args)]
pub struct ProcessDirArgs {
    /// Input directory with the *Split_0.dat files; required, here or as `directory` in the
    /// configuration.
    #[arg(short = 'd', long = "directory")]
    directory: Option<PathBuf>,
    /// Output run directory (default ./out); a YYYYMMDD- prefix is added to its name unless -i.
    #[arg(short = 'o', long = "out-directory", visible_alias = "output")]
    out_directory: Option<PathBuf>,
    /// Keep hits with hit_flag 0.
    #[arg(short = 'k', long = "keep-all")]
    keep_all: bool,
    /// Draw the per-run plots (plot_before_cuts, plot_after_cuts) and the combined DAC scan.
    #[arg(short = 'p', long = "plots")]
    plots: bool,
    #[command(flatten)]
    formats: FormatArgs,
    /// Do not add the date prefix to the output directory name (date_prefix = false).
    #[arg(short = 'i', long = "no-date-prefix")]
    no_date_prefix: bool,
    #[command(flatten)]
    merge: MergeArgs,
    /// Process only the block I of N of the scan's runs into OUT/shards/I-of-N/ (no date
    /// prefix is added); `merge -o OUT` joins the N shards.
    #[arg(long, value_name = "I/N")]
    shard: Option<hep_core::shard::Shard>,
    #[command(flatten)]
    cfg: ConfigArgs,
}

impl ProcessDirArgs {
    fn overrides(&self) -> Result<Over> {
        let mut o = Over::default();
        o.set("directory", self.directory.clone())?;
        o.set("out_directory", self.out_directory.clone())?;
        o.flag("keep_all", self.keep_all)?;
        o.flag("plots", self.plots)?;
        o.formats("plot_formats", &self.formats)?;
        o.flag_value("date_prefix", self.no_date_prefix, false)?;
        self.merge.overrides(&mut o)?;
        o.set("shard", self.shard)?;
        Ok(o)
    }
}

/// Arguments of `cut`.
#[derive(Args)]
pub struct CutArgs {
    /// The run directory (default ./out).
    #[arg(short = 'o', long = "out-directory", visible_alias = "output")]
    out_directory: Option<PathBuf>,
    /// Keep events where a cut variable is missing (NaN) for a tested board.
    #[arg(short = 'k', long = "keep-events")]
    keep_events: bool,
    /// The cut file (default <run>/cuts.csv).
    #[arg(long)]
    cuts: Option<PathBuf>,
    /// Draw the plot_after_cuts plots and the cutflow plots of every row with an output.
    #[arg(long)]
    plots: bool,
    #[command(flatten)]
    formats: FormatArgs,
    #[command(flatten)]
    cfg: ConfigArgs,
}

/// Arguments of `cut-times`.
#[derive(Args)]
pub struct CutTimesArgs {
    /// The run directory (default ./out).
    #[arg(short = 'o', long = "out-directory", visible_alias = "output")]
    out_directory: Option<PathBuf>,
    /// Keep events where a cut variable is missing (NaN).
    #[arg(short = 'k', long = "keep-events")]
    keep_events: bool,
    /// The time cut file (default <run>/time_cuts.csv).
    #[arg(long = "time-cuts")]
    time_cuts: Option<PathBuf>,
    /// Draw the cutflow plots (plots/ and time_plots/ of every row with an output).
    #[arg(long)]
    plots: bool,
    #[command(flatten)]
    formats: FormatArgs,
    /// Upper end of the TOA axis of the time plots (ns); 0 = automatic (default).
    #[arg(short = 'a', long = "max-toa", visible_alias = "max_toa")]
    max_toa: Option<f64>,
    /// Upper end of the TOT axis of the time plots (ns); 0 = automatic (default).
    #[arg(short = 't', long = "max-tot", visible_alias = "max_tot")]
    max_tot: Option<f64>,
    #[command(flatten)]
    cfg: ConfigArgs,
}

/// Runs one subcommand.
pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::ProcessTxt(a) => process_txt(a),
        Command::ProcessDat(a) => process_dat(a),
        Command::ProcessDir(a) => process_dir(a),
        Command::Merge(a) => merge_shards(a),
        Command::Submit(a) => submit(a),
        Command::Cut(a) => cut(a),
        Command::CutTimes(a) => cut_times(a),
    }
}

fn report_ingest(report: &ingest_run::ProcessReport, plots: Option<usize>) {
    let s = report.summary;
    say!(
        "{}: {} data lines, {} hits after the hit-flag filter, {} hits in {} events",
        report.run.path().display(),
        s.lines,
        s.hits_after_flag_filter,
        s.hits_in_events,
        s.events
    );
    if let Some(n) = plots {
        say!("plot_before_cuts: {n} plots");
    }
}

fn process_txt(a: ProcessTxtArgs) -> Result<()> {
    let mut o = a.common.overrides(&a.file, a.raw_words)?;
    o.set("event_pattern", a.event_pattern)?;
    o.set("header_lines", a.header_lines)?;
    let Some(cfg) = configure::<jobs::ProcessTxtConfig>(&a.common.cfg, &o)? else {
        return Ok(());
    };
    let file = cfg.file.clone().unwrap_or_default();
    let (report, n) =
        jobs::process_txt(&cfg).with_context(|| format!("ingesting {}", file.display()))?;
    if report.hits.metadata == RunMetadata::None && !cfg.raw_words {
        tracing::warn!(
            "{}: the file name has fewer than 3 '_'-separated tokens; no pixel_id stored",
            file.display()
        );
    }
    report_ingest(&report, cfg.plots.then_some(n));
    Ok(())
}

fn process_dat(a: ProcessDatArgs) -> Result<()> {
    let o = a.common.overrides(&a.file, a.raw_words)?;
    let Some(cfg) = configure::<jobs::ProcessDatConfig>(&a.common.cfg, &o)? else {
        return Ok(());
    };
    let file = cfg.file.clone().unwrap_or_default();
    let (report, n) =
        jobs::process_dat(&cfg).with_context(|| format!("ingesting {}", file.display()))?;
    report_ingest(&report, cfg.plots.then_some(n));
    Ok(())
}

fn merge_shards(a: hep_cli_support::MergeCommand) -> Result<()> {
    use etroc_analysis::beam_runs;
    let Some(out) = a.load()? else {
        return Ok(());
    };
    if hep_core::shard::job_of(&out).as_deref() == Some(beam_runs::BEAM_RUNS_JOB) {
        let results = beam_runs::merge_beam_run_shards(&out)?;
        say!(
            "merged {} runs; resolutions in {}",
            results.len(),
            out.join(beam_runs::BEAM_RUNS_SUMMARY).display()
        );
        return crate::analysis_cmd::report_beam_runs(&results);
    }
    let report = ingest_run::merge_charge_injection_shards(&out)?;
    report_dir(&out, &report)
}

fn submit(a: hep_cli_support::SubmitCommand) -> Result<()> {
    let Some(sub) = a.load()? else {
        return Ok(());
    };
    let parsed = crate::Cli::try_parse_from(
        std::iter::once("etroc-analysis".to_string()).chain(sub.job.iter().cloned()),
    )
    .map_err(|e| anyhow::anyhow!("the job after -- (or `job`): {e}"))?;
    let program = hep_cli_support::current_program()?;
    let mut task = vec![program.clone()];
    task.extend(sub.job.iter().cloned());
    let (job, out) = match parsed.command {
        crate::Command::A(Command::ProcessDir(job)) => {
            if job.cfg.print_config {
                anyhow::bail!("give the job without --print-config");
            }
            let cfg: jobs::ProcessDirConfig =
                hep_cli_support::load_config(job.cfg.config.as_deref(), &job.overrides()?)?;
            if cfg.shard.is_some() {
                anyhow::bail!("give the job without a shard: each array task adds its own");
            }
            // The date prefix is fixed once, so that every task and the merge use one directory.
            let out = cfg.output();
            task.extend([
                "--no-date-prefix".to_string(),
                "-o".to_string(),
                out.to_string_lossy().into_owned(),
            ]);
            (ingest_run::CHARGE_INJECTION_JOB, out)
        }
        crate::Command::B(crate::analysis_cmd::Command::RunBeams(job)) => {
            if job.cfg.print_config {
                anyhow::bail!("give the job without --print-config");
            }
            let cfg = job.config()?;
            if cfg.shard.is_some() {
                anyhow::bail!("give the job without a shard: each array task adds its own");
            }
            // Checked now, so that a bad list fails here and not in every task.
            etroc_analysis::beam_runs::run_names(&cfg.files)?;
            let out = cfg
                .out_directory
                .clone()
                .context("run-beams needs an output directory (-o or out_directory)")?;
            (etroc_analysis::beam_runs::BEAM_RUNS_JOB, out)
        }
        _ => anyhow::bail!(
            "submit runs `process-dir` or `run-beams` shards: the job after -- must start with one of them"
        ),
    };
    let merge = vec![
        program,
        "merge".into(),
        "-o".into(),
        out.to_string_lossy().into_owned(),
    ];
    hep_cli_support::submit(&sub.slurm, job, &out, task, merge)
}

fn process_dir(a: ProcessDirArgs) -> Result<()> {
    let Some(cfg) = configure::<jobs::ProcessDirConfig>(&a.cfg, &a.overrides()?)? else {
        return Ok(());
    };
    let bar = hep_cli_support::Bar::new();
    match jobs::process_dir(&cfg, &bar)? {
        jobs::ProcessDirReport::Shard { shard, dir, runs } => {
            let failed = runs.iter().filter(|r| r.outcome.is_err()).count();
            say!(
                "shard {shard}: {} individual runs ({failed} failed) in {}",
                runs.len(),
                dir.display()
            );
            Ok(())
        }
        jobs::ProcessDirReport::Whole { run, report, .. } => report_dir(&run, &report),
    }
}

/// Logs a directory report and fails if no run could be processed.
fn report_dir(out: &Path, report: &ingest_run::DirReport) -> Result<()> {
    let failed: Vec<_> = report.runs.iter().filter(|r| r.outcome.is_err()).collect();
    for r in &failed {
        tracing::error!(
            "{}: {}",
            r.name,
            r.outcome.as_ref().err().map_or("", |s| s.as_str())
        );
    }
    for (name, why) in &report.merge.skipped {
        tracing::error!("merge skipped {name}: {why}");
    }
    for w in &report.merge.warnings {
        tracing::warn!("{w}");
    }
    say!(
        "{}: {} individual runs ({} failed), {} merged rows",
        out.display(),
        report.runs.len(),
        failed.len(),
        report.merge.combined.num_rows()
    );
    if report.runs.is_empty() {
        anyhow::bail!("no charge-injection runs (*Split_0.dat) found");
    }
    if failed.len() == report.runs.len() {
        anyhow::bail!(
            "every one of the {} runs failed (see the errors above); nothing was merged",
            report.runs.len()
        );
    }
    Ok(())
}

fn print_cutflow(task: &str, rep: &CutReport) {
    say!("{task}: {} of {} events accepted", rep.accepted, rep.events);
    for s in &rep.result.steps {
        say!(
            "  {:>3} {:<50} passed alone {:>9}  cumulative {:>9}",
            s.index,
            s.description,
            s.passed_alone,
            s.filter.n_accepted()
        );
    }
}

fn cut(a: CutArgs) -> Result<()> {
    let mut o = Over::default();
    o.set("out_directory", a.out_directory.clone())?;
    o.flag_value("keep_events", a.keep_events, true)?;
    o.set("cuts", a.cuts.clone())?;
    o.flag_value("plots", a.plots, true)?;
    o.formats("plot_formats", &a.formats)?;
    let Some(cfg) = configure::<jobs::CutConfig>(&a.cfg, &o)? else {
        return Ok(());
    };
    let rep = jobs::cut(&cfg)?;
    print_cutflow("apply_event_cuts", &rep);
    Ok(())
}

fn cut_times(a: CutTimesArgs) -> Result<()> {
    let mut o = Over::default();
    o.set("out_directory", a.out_directory.clone())?;
    o.flag_value("keep_events", a.keep_events, true)?;
    o.set("time_cuts", a.time_cuts.clone())?;
    o.flag_value("plots", a.plots, true)?;
    o.formats("plot_formats", &a.formats)?;
    o.set("max_toa", a.max_toa)?;
    o.set("max_tot", a.max_tot)?;
    let Some(cfg) = configure::<jobs::CutTimesConfig>(&a.cfg, &o)? else {
        return Ok(());
    };
    let rep = jobs::cut_times(&cfg)?;
    print_cutflow("apply_time_cuts", &rep);
    Ok(())
}
