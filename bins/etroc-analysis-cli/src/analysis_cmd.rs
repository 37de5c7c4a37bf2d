//! Analysis subcommands of `etroc-analysis`, with the original scripts' options: `times-ns`,
//! `twc`, `resolution`, `reprocess-dir`, `dac-vs-charge`, `replot`, `run-beam`, `run-beams` and
//! `simulate`.
//!
//! Each runs the task(s) of the original script on a run directory (`-o`), with the original's
//! task names, tables and files; the provenance is in `<run>/<task>/task_manifest.json`. Plots
//! are off unless `--plots`, PNG unless SVG is asked for. Every subcommand has a configuration
//! in `etroc_analysis::jobs` and takes `--config FILE.toml` and `--print-config`; its options
//! override the file.

use std::path::PathBuf;

use crate::common::{FormatArgs, FormatOverrides, MergeArgs, Over, configure};
use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use etroc_analysis::charge_injection::DacEstimator;
use etroc_analysis::jobs;
use etroc_analysis::odr::FitMethod;
use etroc_analysis::times::FbinChoice;
use hep_cli_support::ConfigArgs;

/// The subcommands of this module.
#[derive(Subcommand)]
pub enum Command {
    /// Convert TDC codes to ns with the per-board CAL bin width (calculate_times_in_ns.py).
    TimesNs(TimesNsArgs),
    /// Iterative time-walk correction by ODR polynomial fits (calculate_time_walk_correction.py).
    Twc(TwcArgs),
    /// Per-board time resolution per cut step and TWC iteration (analyse_time_resolution.py).
    Resolution(ResolutionArgs),
    /// Re-apply the per-run cuts of a charge-injection run and merge again
    /// (reprocess_etroc1_charge_injection_data_dir.py, with its bug fixed).
    ReprocessDir(ReprocessDirArgs),
    /// DAC points, noise limits, DAC-vs-charge lines and suggested thresholds
    /// (analyse_dac_vs_charge.py).
    DacVsCharge(DacVsChargeArgs),
    /// Redraw the plots of every completed task of a run (replot.py).
    Replot(ReplotArgs),
    /// The whole beam chain in one command: process-txt, cut, times-ns, cut-times, twc, resolution.
    RunBeam(RunBeamArgs),
    /// The beam chain on several runs, one run directory each, and one resolution table;
    /// by shard with --shard I/N (see submit and merge).
    RunBeams(RunBeamsArgs),
    /// Write synthetic data with known truth in the original formats.
    Simulate(SimulateArgs),
}

/// The run directory and plot options shared by the run tasks.
#[derive(Args)]
pub struct RunOpts {
    /// The run directory (default ./out).
    #[arg(short = 'o', long = "out-directory", visible_alias = "output")]
    out_directory: Option<PathBuf>,
    /// Draw the task's plots.
    #[arg(long)]
    plots: bool,
    #[command(flatten)]
    formats: FormatArgs,
    /// Do not write the SQLite databases (Parquet only).
    #[arg(long)]
    no_sqlite: bool,
    #[command(flatten)]
    cfg: ConfigArgs,
}

impl RunOpts {
    /// The overrides of `out_directory`, `plots`, `plot_formats` and `sqlite`.
    fn overrides(&self) -> Result<Over> {
        let mut o = Over::default();
        o.set("out_directory", self.out_directory.clone())?;
        o.flag_value("plots", self.plots, true)?;
        o.formats("plot_formats", &self.formats)?;
        o.flag_value("sqlite", self.no_sqlite, false)?;
        Ok(o)
    }
}

/// Arguments of `times-ns`.
#[derive(Args)]
pub struct TimesNsArgs {
    #[command(flatten)]
    run: RunOpts,
    /// Upper end of the TOA axis of the plots (ns); 0 = automatic (default).
    #[arg(short = 'a', long = "max-toa", visible_alias = "max_toa")]
    max_toa: Option<f64>,
    /// Upper end of the TOT axis of the plots (ns); 0 = automatic (default).
    #[arg(short = 't', long = "max-tot", visible_alias = "max_tot")]
    max_tot: Option<f64>,
    /// CAL statistic of the bin width: mean (the original, default), median, mode or event (per
    /// hit).
    #[arg(long)]
    fbin: Option<FbinChoice>,
}

/// Arguments of `twc`.
#[derive(Args)]
pub struct TwcArgs {
    #[command(flatten)]
    run: RunOpts,
    /// Number of iterations (default 1).
    #[arg(short = 'i', long = "iterations",
          value_parser = clap::value_parser!(u32).range(1..))]
    iterations: Option<u32>,
    /// Order of the polynomial (default 2).
    #[arg(short = 'p', long = "order")]
    order: Option<usize>,
    /// Fit by ordinary least squares instead of orthogonal distance regression.
    #[arg(long)]
    ols: bool,
}

/// Arguments of `resolution`.
#[derive(Args)]
pub struct ResolutionArgs {
    #[command(flatten)]
    run: RunOpts,
}

/// Arguments of `reprocess-dir`.
#[derive(Args)]
pub struct ReprocessDirArgs {
    /// The existing charge-injection run directory; required, here or as `out_directory` in the
    /// configuration.
    #[arg(short = 'o', long = "out-directory", visible_alias = "output")]
    out_directory: Option<PathBuf>,
    /// Draw the combined DAC-scan plot.
    #[arg(short = 'p', long = "plots")]
    plots: bool,
    #[command(flatten)]
    formats: FormatArgs,
    /// Like the original: merge again without re-applying the per-run cuts.
    #[arg(long)]
    compat: bool,
    #[command(flatten)]
    merge: MergeArgs,
    #[command(flatten)]
    cfg: ConfigArgs,
}

/// Arguments of `dac-vs-charge`.
#[derive(Args)]
pub struct DacVsChargeArgs {
    #[command(flatten)]
    run: RunOpts,
    /// Charge (fC) whose scan sets the noise edges; 0 (default) = aggregate over charges.
    #[arg(short = 'n', long = "noise-charge")]
    noise_charge: Option<i64>,
    /// Rolling window (rows, default 3).
    #[arg(short = 'r', long = "rolling-window")]
    rolling_window: Option<usize>,
    /// Max |rolling mean - hits| of a plateau row (default 50).
    #[arg(short = 'd', long = "max-diff")]
    max_diff: Option<f64>,
    /// Plateau centre (hits, default 4450).
    #[arg(short = 'c', long = "hit-center")]
    hit_center: Option<f64>,
    /// Plateau half-window (hits, default 150).
    #[arg(short = 'w', long = "hit-window")]
    hit_window: Option<f64>,
    /// Offset subtracted from the upper noise edge (DAC, default 4).
    #[arg(short = 'f', long = "noise-offset")]
    noise_offset: Option<f64>,
    /// Board with its own plateau centre and window (the original's --trigger_board).
    #[arg(long = "trigger-board", visible_alias = "trigger_board")]
    trigger_board: Option<i64>,
    /// Plateau centre of the trigger board (hits).
    #[arg(
        long = "trigger-board-hit-center",
        visible_alias = "trigger_board_hit_center"
    )]
    trigger_board_hit_center: Option<f64>,
    /// Plateau half-window of the trigger board (hits).
    #[arg(
        long = "trigger-board-hit-window",
        visible_alias = "trigger_board_hit_window"
    )]
    trigger_board_hit_window: Option<f64>,
    /// Threshold per (board, charge) for the line: half-efficiency (the 50 % point of the
    /// efficiency edge, resolved within a scan step) or max-with-hits (the original's DAC_max,
    /// quantised by the scan step); default half-efficiency.
    #[arg(long)]
    estimator: Option<DacEstimator>,
}

/// Arguments of `replot`.
#[derive(Args)]
pub struct ReplotArgs {
    /// The run directory (default ./out).
    #[arg(short = 'o', long = "out-directory", visible_alias = "output")]
    out_directory: Option<PathBuf>,
    #[command(flatten)]
    formats: FormatArgs,
    #[command(flatten)]
    cfg: ConfigArgs,
}

/// The options of the beam chain (`run-beam`, `run-beams`).
#[derive(Args)]
pub struct BeamChainArgs {
    /// Event pattern: 0 none, 1 [0,1,3] (default), 2 [0,1], 3 [0,3], 4 [1,3], 5 [0,3,1].
    #[arg(long = "event-pattern",
          value_parser = clap::value_parser!(u8).range(0..=5))]
    event_pattern: Option<u8>,
    /// Keep hits with hit_flag 0.
    #[arg(short = 'k', long = "keep-all")]
    keep_all: bool,
    /// Event cut file (default: every board's CAL code in [115, 145]).
    #[arg(long)]
    cuts: Option<PathBuf>,
    /// Time cut file (default: no time cut).
    #[arg(long)]
    time_cuts: Option<PathBuf>,
    /// TWC iterations (default 1).
    #[arg(short = 'i', long = "iterations",
          value_parser = clap::value_parser!(u32).range(1..))]
    iterations: Option<u32>,
    /// TWC polynomial order (default 2).
    #[arg(short = 'p', long = "order")]
    order: Option<usize>,
    /// TWC by OLS instead of ODR.
    #[arg(long)]
    ols: bool,
    /// CAL statistic of the bin width (default mean).
    #[arg(long)]
    fbin: Option<FbinChoice>,
    /// Do not write the SQLite databases (Parquet only).
    #[arg(long)]
    no_sqlite: bool,
    /// Also copy the input file into the ingest task's original_data/ directory, as the
    /// original's process_etroc1_single_run_txt.py does (off for the chain: the manifests record
    /// the input's path and SHA-256).
    #[arg(long)]
    copy_input: bool,
}

impl BeamChainArgs {
    /// Adds the chain options given to `o` under `chain.`.
    fn overrides(&self, o: &mut Over) -> Result<()> {
        o.set("chain.event_pattern", self.event_pattern)?;
        o.flag_value("chain.keep_all", self.keep_all, true)?;
        o.set("chain.event_cuts", self.cuts.clone())?;
        o.set("chain.time_cuts", self.time_cuts.clone())?;
        o.set("chain.fbin", self.fbin)?;
        twc_overrides(o, "chain.twc", self.iterations, self.order, self.ols)?;
        o.flag_value("chain.sqlite", self.no_sqlite, false)?;
        o.flag_value("chain.copy_input", self.copy_input, true)?;
        Ok(())
    }
}

/// Arguments of `run-beam`.
#[derive(Args)]
pub struct RunBeamArgs {
    /// The beam txt summary (required, here or as `file` in the configuration).
    #[arg(long)]
    file: Option<PathBuf>,
    /// Output run directory (must not exist; default ./out).
    #[arg(short = 'o', long = "out-directory", visible_alias = "output")]
    out_directory: Option<PathBuf>,
    #[command(flatten)]
    chain: BeamChainArgs,
    /// Draw the times, TWC and resolution plots.
    #[arg(long)]
    plots: bool,
    #[command(flatten)]
    formats: FormatArgs,
    #[command(flatten)]
    cfg: ConfigArgs,
}

/// Arguments of `run-beams`.
#[derive(Args)]
pub struct RunBeamsArgs {
    /// The beam txt summaries, one run each (run name: the file stem); required, here or as
    /// `files` in the configuration.
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// Output directory: one run directory per file and beam_runs_resolution.csv (required).
    #[arg(short = 'o', long = "out-directory", visible_alias = "output")]
    pub(crate) out_directory: Option<PathBuf>,
    #[command(flatten)]
    chain: BeamChainArgs,
    /// Run only the block I of N of the runs into OUT/shards/I-of-N/; `merge -o OUT` joins the
    /// N shards.
    #[arg(long, value_name = "I/N")]
    pub(crate) shard: Option<hep_core::shard::Shard>,
    #[command(flatten)]
    pub(crate) cfg: ConfigArgs,
}

impl RunBeamsArgs {
    /// The effective configuration (without printing it).
    pub(crate) fn config(&self) -> Result<jobs::RunBeamsConfig> {
        hep_cli_support::load_config(self.cfg.config.as_deref(), &self.overrides()?)
    }

    fn overrides(&self) -> Result<Over> {
        let mut o = Over::default();
        if !self.files.is_empty() {
            o.set("files", Some(self.files.clone()))?;
        }
        o.set("out_directory", self.out_directory.clone())?;
        o.set("shard", self.shard)?;
        self.chain.overrides(&mut o)?;
        Ok(o)
    }
}

/// What to simulate.
#[derive(Clone, Copy, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SimKind {
    /// A beam run: F5P5_F17P5_B2P5_Synth_seed<seed>.txt and its truth JSON.
    Beam,
    /// A charge-injection threshold scan: TDC_Data_..._Split_0.dat files and a truth JSON (7.2).
    Charge,
}

/// Arguments of `simulate`.
#[derive(Args)]
pub struct SimulateArgs {
    /// Beam run (default) or charge-injection scan.
    #[arg(value_enum)]
    kind: Option<SimKind>,
    /// Output directory (created if missing; required).
    #[arg(short = 'o', long = "out-directory", visible_alias = "output")]
    out_directory: Option<PathBuf>,
    /// Seed of the random streams (default 42).
    #[arg(long)]
    seed: Option<u64>,
    /// Complete events of a beam run (default 20 000).
    #[arg(long)]
    events: Option<usize>,
    /// Stray single hits of a beam run (default: 300 per 20 000 events, the recipe's rate).
    #[arg(long)]
    stray_hits: Option<usize>,
    /// hit_flag 0 lines of a beam run (default: 200 per 20 000 events).
    #[arg(long)]
    flag0_lines: Option<usize>,
    /// Threshold step of a charge scan (DAC, default 4).
    #[arg(long)]
    step: Option<i32>,
    #[command(flatten)]
    cfg: ConfigArgs,
}

/// Runs one subcommand.
pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::TimesNs(a) => times_ns(a),
        Command::Twc(a) => twc(a),
        Command::Resolution(a) => resolution(a),
        Command::ReprocessDir(a) => reprocess_dir(a),
        Command::DacVsCharge(a) => dac_vs_charge(a),
        Command::Replot(a) => replot(a),
        Command::RunBeam(a) => run_beam_cmd(a),
        Command::RunBeams(a) => run_beams_cmd(a),
        Command::Simulate(a) => simulate(a),
    }
}

fn times_ns(a: TimesNsArgs) -> Result<()> {
    let mut o = a.run.overrides()?;
    o.set("max_toa", a.max_toa)?;
    o.set("max_tot", a.max_tot)?;
    o.set("fbin", a.fbin)?;
    let Some(cfg) = configure::<jobs::TimesNsConfig>(&a.run.cfg, &o)? else {
        return Ok(());
    };
    let (cal, n) = jobs::times_ns(&cfg)?;
    println!("board  mean CAL  median CAL  fbin ({}) (ps)", cfg.fbin);
    for c in &cal {
        let f = c.fbin(cfg.fbin).unwrap_or(f64::NAN);
        println!(
            "{:>5}  {:>8.3}  {:>10.1}  {:>8.3}",
            c.data_board_id,
            c.calibration_code_mean,
            c.calibration_code_median,
            f * 1e3
        );
    }
    if cfg.plots {
        println!("{n} plots written");
    }
    Ok(())
}

fn twc(a: TwcArgs) -> Result<()> {
    let mut o = a.run.overrides()?;
    twc_overrides(&mut o, "twc", a.iterations, a.order, a.ols)?;
    let Some(cfg) = configure::<jobs::TwcConfig>(&a.run.cfg, &o)? else {
        return Ok(());
    };
    let (r, n) = jobs::twc(&cfg)?;
    println!(
        "iteration  board  applied  coefficients p0..p{} (ns/ns^k)",
        r.order
    );
    for f in &r.fits {
        let c: Vec<String> = f.coefficients.iter().map(|c| format!("{c:+.6}")).collect();
        println!(
            "{:>9}  {:>5}  {:>7}  {}",
            f.twc_iteration,
            f.board_id,
            u8::from(f.twc_applied),
            c.join(" ")
        );
    }
    if cfg.plots {
        println!("{n} plots written");
    }
    Ok(())
}

fn print_resolution(rows: &[etroc_analysis::resolution::ResolutionRow]) {
    println!("step          iteration  board  sigma (ps)        pairwise (ps)     flag");
    for r in rows {
        println!(
            "{:<12}  {:>9}  {:>5}  {:>7.2} ± {:>5.2}  {:>7.2} ± {:>5.2}  {}",
            format!("{}-{}", r.step_order, r.step_name),
            r.twc_iteration,
            r.data_board_id,
            r.time_resolution_new * 1e3,
            r.time_resolution_new_unc * 1e3,
            r.time_resolution * 1e3,
            r.time_resolution_unc * 1e3,
            r.flag
        );
    }
}

fn resolution(a: ResolutionArgs) -> Result<()> {
    let o = a.run.overrides()?;
    let Some(cfg) = configure::<jobs::ResolutionConfig>(&a.run.cfg, &o)? else {
        return Ok(());
    };
    let (rows, n) = jobs::resolution(&cfg)?;
    print_resolution(&rows);
    if rows.iter().any(|r| !r.is_ok()) {
        eprintln!("warning: some rows are flagged (see the flag column of timing_info)");
    }
    if cfg.plots {
        println!("{n} plots written");
    }
    Ok(())
}

/// The TWC overrides of `-i`, `-p` and `--ols` under `prefix` (shared by `twc` and the chain).
fn twc_overrides(
    o: &mut Over,
    prefix: &str,
    iterations: Option<u32>,
    order: Option<usize>,
    ols: bool,
) -> Result<()> {
    o.set(&format!("{prefix}.iterations"), iterations)?;
    o.set(&format!("{prefix}.order"), order)?;
    o.flag_value(&format!("{prefix}.method"), ols, FitMethod::Ols)?;
    Ok(())
}

fn reprocess_dir(a: ReprocessDirArgs) -> Result<()> {
    let mut o = Over::default();
    o.set("out_directory", a.out_directory.clone())?;
    o.flag("plots", a.plots)?;
    o.formats("plot_formats", &a.formats)?;
    o.flag("compat", a.compat)?;
    a.merge.overrides(&mut o)?;
    let Some(cfg) = configure::<jobs::ReprocessDirConfig>(&a.cfg, &o)? else {
        return Ok(());
    };
    let rep = jobs::reprocess_dir(&cfg)?;
    match &rep.cuts {
        None => {
            println!(
                "merged {} rows (cuts not re-applied: --compat)",
                rep.merge.combined.num_rows()
            );
            for w in &rep.merge.warnings {
                eprintln!("warning: {w}");
            }
        }
        Some(runs) => {
            let failed: Vec<&str> = runs
                .iter()
                .filter(|r| r.outcome.is_err())
                .map(|r| r.name.as_str())
                .collect();
            println!(
                "re-applied the cuts of {} runs ({} failed), merged {} rows",
                runs.len(),
                failed.len(),
                rep.merge.combined.num_rows()
            );
            for f in failed {
                eprintln!(
                    "warning: the cut of {f} failed (see its apply_event_cuts/task_report.txt)"
                );
            }
        }
    }
    if cfg.plots {
        println!("{} plots written", rep.plots);
    }
    Ok(())
}

fn dac_vs_charge(a: DacVsChargeArgs) -> Result<()> {
    let mut o = a.run.overrides()?;
    o.set("noise_charge", a.noise_charge)?;
    o.set("rolling_window", a.rolling_window)?;
    o.set("max_diff", a.max_diff)?;
    o.set("hit_center", a.hit_center)?;
    o.set("hit_window", a.hit_window)?;
    o.set("noise_offset", a.noise_offset)?;
    o.set("trigger_board", a.trigger_board)?;
    o.set("trigger_board_hit_center", a.trigger_board_hit_center)?;
    o.set("trigger_board_hit_window", a.trigger_board_hit_window)?;
    o.set("estimator", a.estimator)?;
    let Some(cfg) = configure::<jobs::DacVsChargeConfig>(&a.run.cfg, &o)? else {
        return Ok(());
    };
    let (lines, n) = jobs::dac_vs_charge(&cfg)?;
    println!(
        "board  alpha (DAC)  beta (DAC/fC)  R^2      noise (DAC)   Q_min (fC)  suggested thresholds"
    );
    for l in &lines {
        let s: Vec<String> = l
            .suggested_thresholds
            .iter()
            .map(|(q, d)| format!("{q} fC: {d}"))
            .collect();
        println!(
            "{:>5}  {:>11.2}  {:>13.3}  {:>7.5}  {:>5.0}-{:<5.0}  {:>10.2}  {}",
            l.data_board_id,
            l.alpha_dac,
            l.beta_dac_per_fc,
            l.r_squared,
            l.noise_min_dac.floor(),
            l.noise_max_dac.ceil(),
            l.q_min_fc,
            s.join(", ")
        );
        if s.is_empty() {
            eprintln!(
                "warning: board {}: the noise limits are undefined, no thresholds suggested",
                l.data_board_id
            );
        }
    }
    if lines.is_empty() {
        eprintln!("warning: no board has DAC points at two charges or more: no line fitted");
    }
    if cfg.plots {
        println!("{n} plots written");
    }
    Ok(())
}

fn replot(a: ReplotArgs) -> Result<()> {
    let mut o = Over::default();
    o.set("out_directory", a.out_directory.clone())?;
    o.formats("plot_formats", &a.formats)?;
    let Some(cfg) = configure::<jobs::ReplotConfig>(&a.cfg, &o)? else {
        return Ok(());
    };
    let n = jobs::replot(&cfg)?;
    println!("{n} plots written");
    Ok(())
}

/// Runs `job` with a progress bar of `units` steps on stderr (drawn only on a terminal).
fn with_bar<T>(
    what: &str,
    units: u64,
    job: impl FnOnce(&dyn hep_core::progress::Progress) -> T,
) -> T {
    use hep_core::progress::Progress as _;
    let bar = hep_cli_support::Bar::new();
    bar.start(what, units);
    let r = job(&bar);
    bar.finish();
    r
}

fn run_beam_cmd(a: RunBeamArgs) -> Result<()> {
    let mut o = Over::default();
    o.set("file", a.file.clone())?;
    o.set("out_directory", a.out_directory.clone())?;
    o.flag_value("plots", a.plots, true)?;
    o.formats("plot_formats", &a.formats)?;
    a.chain.overrides(&mut o)?;
    let Some(cfg) = configure::<jobs::RunBeamConfig>(&a.cfg, &o)? else {
        return Ok(());
    };
    let rep = with_bar("beam tasks", jobs::run_beam_units(&cfg), |p| {
        jobs::run_beam_job(&cfg, p)
    })?;
    let c = &rep.chain;
    println!(
        "{} events, {} after the event cuts, {} after the time cuts",
        c.events, c.events_accepted, c.events_final
    );
    print_resolution(&c.resolution);
    if cfg.plots {
        println!("{} plots written", rep.plots);
    }
    Ok(())
}

fn run_beams_cmd(a: RunBeamsArgs) -> anyhow::Result<()> {
    use etroc_analysis::beam_runs;
    let Some(cfg) = configure::<jobs::RunBeamsConfig>(&a.cfg, &a.overrides()?)? else {
        return Ok(());
    };
    let results = with_bar("beam tasks", jobs::run_beams_units(&cfg), |p| {
        jobs::run_beams_job(&cfg, p)
    })?;
    let out = cfg.out_directory.clone().unwrap_or_default();
    match cfg.shard {
        Some(shard) => println!(
            "shard {shard}: {} runs in {}",
            results.len(),
            shard.dir(&out).display()
        ),
        None => println!(
            "{} runs; resolutions in {}",
            results.len(),
            out.join(beam_runs::BEAM_RUNS_SUMMARY).display()
        ),
    }
    report_beam_runs(&results)
}

/// Prints one line per run (events and the final resolutions) and fails if any run failed.
pub(crate) fn report_beam_runs(
    results: &[etroc_analysis::beam_runs::BeamRunResult],
) -> anyhow::Result<()> {
    let mut failed = 0;
    for r in results {
        match (&r.error, r.events) {
            (Some(e), _) => {
                failed += 1;
                println!("{}: failed: {e}", r.run);
            }
            (None, Some([ev, acc, fin])) => {
                let last = r
                    .resolution
                    .iter()
                    .map(|x| (x.step_order, x.twc_iteration))
                    .max();
                let finals: Vec<String> = r
                    .resolution
                    .iter()
                    .filter(|x| Some((x.step_order, x.twc_iteration)) == last)
                    .map(|x| {
                        format!(
                            "board {} {:.2} ps",
                            x.data_board_id,
                            x.time_resolution_new * 1e3
                        )
                    })
                    .collect();
                println!(
                    "{}: {ev} events, {acc} after the event cuts, {fin} after the time cuts; {}",
                    r.run,
                    finals.join(", ")
                );
            }
            (None, None) => println!("{}: no result", r.run),
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} runs failed", results.len());
    }
    Ok(())
}

fn simulate(a: SimulateArgs) -> Result<()> {
    let mut o = Over::default();
    o.set("kind", a.kind)?;
    o.set("out_directory", a.out_directory.clone())?;
    o.set("seed", a.seed)?;
    o.set("events", a.events)?;
    o.set("stray_hits", a.stray_hits)?;
    o.set("flag0_lines", a.flag0_lines)?;
    o.set("step", a.step)?;
    let Some(cfg) = configure::<jobs::SimulateConfig>(&a.cfg, &o)? else {
        return Ok(());
    };
    match jobs::simulate(&cfg)? {
        jobs::SimulateReport::Beam {
            txt,
            truth_path,
            truth,
        } => {
            println!(
                "{}: {} lines, {} complete events, {} incomplete blocks, {} events with a CAL outlier",
                txt.display(),
                truth.n_lines,
                truth.n_complete_events,
                truth.n_incomplete_blocks,
                truth.n_events_with_cal_outlier
            );
            println!("truth: {}", truth_path.display());
        }
        jobs::SimulateReport::Charge { dir, truth } => {
            println!(
                "{}: {} runs, {} lines; truth: charge_scan.truth.json",
                dir.display(),
                truth.runs.len(),
                truth.n_lines
            );
        }
    }
    Ok(())
}
