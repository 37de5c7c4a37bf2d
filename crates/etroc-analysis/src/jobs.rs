//! One typed configuration and one call per subcommand of the `etroc-analysis` tool.
//!
//! Every configuration is a serde struct with `Default` (the command line's defaults) that holds
//! every option of its subcommand, paths included, so that a TOML file written by
//! `--print-config` reproduces the run. The command-line tool only fills these structs (file,
//! then options) and calls the function next to them:
//!
//! | configuration | call | subcommand |
//! |---|---|---|
//! | [`SimulateConfig`] | [`simulate`] | `simulate beam`, `simulate charge` |
//! | [`RunBeamConfig`] | [`run_beam_job`] | `run-beam` |
//! | [`RunBeamsConfig`] | [`run_beams_job`] | `run-beams` |
//! | [`TimesNsConfig`] | [`times_ns`] | `times-ns` |
//! | [`TwcConfig`] | [`twc`] | `twc` |
//! | [`ResolutionConfig`] | [`resolution`] | `resolution` |
//! | [`CutConfig`] | [`cut`] | `cut` |
//! | [`CutTimesConfig`] | [`cut_times`] | `cut-times` |
//! | [`ProcessTxtConfig`] | [`process_txt`] | `process-txt` |
//! | [`ProcessDatConfig`] | [`process_dat`] | `process-dat` |
//! | [`ProcessDirConfig`] | [`process_dir`] | `process-dir` |
//! | [`ReprocessDirConfig`] | [`reprocess_dir`] | `reprocess-dir` |
//! | [`DacVsChargeConfig`] | [`dac_vs_charge`] | `dac-vs-charge` |
//! | [`ReplotConfig`] | [`replot`] | `replot` |
//!
//! # Plot formats
//!
//! Plots are PNG unless SVG is asked for ([`PlotFormat`], `plot_formats`). Dense plots (count
//! maps, scatters, scatter matrices) are always PNG, whatever the formats: as SVG they hold one
//! element per point and reach hundreds of MB at 10^6 events. Line plots (histogram outlines,
//! resolution against step, TWC profiles) are written in every requested format.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hep_core::progress::{NoProgress, Progress};
use hep_core::shard::Shard;
use serde::{Deserialize, Serialize};

use crate::analysis_plots;
use crate::beam_runs::{self, BeamRunResult};
use crate::cuts::{CutOptions, CutReport};
use crate::error::{Error, Result};
use crate::ingest_run::{DirOptions, DirReport, IndividualRun, MergeReport};
use crate::pipeline::{BeamChainOptions, BeamChainReport, run_beam_with_progress};
use crate::resolution::{ResolutionOptions, ResolutionRow, analyse_time_resolution};
use crate::rundir::RunDir;
use crate::simulate::{
    BeamSimConfig, BeamTruth, ChargeScanConfig, ChargeScanTruth, write_beam_run, write_charge_scan,
};
use crate::times::{BoardCalibration, FbinChoice, TimesOptions, calculate_times_in_ns};
use crate::twc::{TwcOptions, TwcResult, TwcTaskOptions, calculate_time_walk_correction};

pub use crate::plot_format::{PlotFormat, default_plot_formats, normalised_formats};

/// Draws plots with `draw(run, ext)` once per format of `formats` and returns the number of
/// files written. Dense plots are PNG in every pass (see the module docs), so a PNG and SVG
/// request rewrites them with the same bytes.
///
/// # Errors
/// The first error of `draw`.
pub fn draw_plots(
    run: &RunDir,
    formats: &[PlotFormat],
    draw: impl Fn(&RunDir, &str) -> Result<Vec<PathBuf>>,
) -> Result<usize> {
    let t = Instant::now();
    let mut files = std::collections::BTreeSet::new();
    for f in normalised_formats(formats) {
        files.extend(draw(run, f.extension())?);
    }
    tracing::info!(
        files = files.len(),
        seconds = t.elapsed().as_secs_f64(),
        "plots written"
    );
    Ok(files.len())
}

fn open_run(path: &Path) -> Result<RunDir> {
    RunDir::open(path)
}

fn required<'a>(value: &'a Option<PathBuf>, what: &str, key: &str) -> Result<&'a Path> {
    value.as_deref().ok_or_else(|| Error::MissingOption {
        what: what.to_string(),
        key: key.to_string(),
    })
}

// ---------------------------------------------------------------------------------------------
// simulate
// ---------------------------------------------------------------------------------------------

/// What `simulate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SimKind {
    /// A beam run: `F5P5_F17P5_B2P5_Synth_seed<seed>.txt` and its truth JSON.
    #[default]
    Beam,
    /// A charge-injection threshold scan: `TDC_Data_..._Split_0.dat` files and a truth JSON.
    Charge,
}

/// Configuration of `simulate` ([`simulate`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulateConfig {
    /// Beam run or charge-injection scan.
    pub kind: SimKind,
    /// Output directory (created if missing); required.
    pub out_directory: Option<PathBuf>,
    /// Seed of the random streams (default 42).
    pub seed: u64,
    /// Complete events of a beam run (default 20 000).
    pub events: usize,
    /// Stray single hits of a beam run; `None`: 300 per 20 000 events (the recipe's rate).
    pub stray_hits: Option<usize>,
    /// `hit_flag = 0` lines of a beam run; `None`: 200 per 20 000 events.
    pub flag0_lines: Option<usize>,
    /// Threshold step of a charge scan (DAC, default 4).
    pub step: i32,
}

impl Default for SimulateConfig {
    fn default() -> Self {
        Self {
            kind: SimKind::Beam,
            out_directory: None,
            seed: 42,
            events: 20_000,
            stray_hits: None,
            flag0_lines: None,
            step: 4,
        }
    }
}

impl SimulateConfig {
    /// The beam simulation parameters of this configuration (the other parameters at their
    /// [`BeamSimConfig`] defaults).
    pub fn beam(&self) -> BeamSimConfig {
        let scaled = |per_20k: usize| (per_20k * self.events + 10_000) / 20_000;
        BeamSimConfig {
            seed: self.seed,
            n_events: self.events,
            n_stray_hits: self.stray_hits.unwrap_or_else(|| scaled(300)),
            n_flag0_lines: self.flag0_lines.unwrap_or_else(|| scaled(200)),
            ..BeamSimConfig::default()
        }
    }
}

/// What [`simulate`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub enum SimulateReport {
    /// A beam run.
    Beam {
        /// The txt summary.
        txt: PathBuf,
        /// The truth JSON.
        truth_path: PathBuf,
        /// The truth.
        truth: Box<BeamTruth>,
    },
    /// A charge-injection scan.
    Charge {
        /// The output directory.
        dir: PathBuf,
        /// The truth (also in `charge_scan.truth.json`).
        truth: Box<ChargeScanTruth>,
    },
}

/// `simulate`: writes a synthetic beam run or charge scan with known truth
/// ([`crate::simulate`]).
///
/// # Errors
/// No output directory; invalid parameters; I/O errors.
pub fn simulate(cfg: &SimulateConfig) -> Result<SimulateReport> {
    let out = required(&cfg.out_directory, "output directory", "out_directory")?;
    let t = Instant::now();
    let rep = match cfg.kind {
        SimKind::Beam => {
            let (txt, truth_path, truth) = write_beam_run(out, &cfg.beam())?;
            SimulateReport::Beam {
                txt,
                truth_path,
                truth: Box::new(truth),
            }
        }
        SimKind::Charge => {
            let scan = ChargeScanConfig {
                seed: cfg.seed,
                step_dac: cfg.step,
                ..ChargeScanConfig::default()
            };
            let truth = write_charge_scan(out, &scan)?;
            SimulateReport::Charge {
                dir: out.to_path_buf(),
                truth: Box::new(truth),
            }
        }
    };
    // Provenance: the configuration, the seed and every file written. A beam run gets the
    // sidecar beside its txt and its truth; a scan one beside its truth (listing every .dat),
    // so that the scan directory holds only data files the ingest picks up and the truth.
    let mut m = hep_core::manifest::Manifest::start("etroc-analysis", env!("CARGO_PKG_VERSION"))
        .with_configuration(cfg)?;
    m.add_seed("seed", cfg.seed);
    let sidecars = match &rep {
        SimulateReport::Beam {
            txt, truth_path, ..
        } => {
            m.add_output(txt)?;
            m.add_output(truth_path)?;
            vec![txt.clone(), truth_path.clone()]
        }
        SimulateReport::Charge { dir, truth } => {
            for r in &truth.runs {
                m.add_output(dir.join(&r.file_name))?;
            }
            let truth_path = dir.join(crate::simulate::CHARGE_SCAN_TRUTH_FILE);
            m.add_output(&truth_path)?;
            vec![truth_path]
        }
    };
    m.finish();
    for f in sidecars {
        m.write_sidecar(f)?;
    }
    tracing::info!(kind = ?cfg.kind, seconds = t.elapsed().as_secs_f64(), "simulated");
    Ok(rep)
}

// ---------------------------------------------------------------------------------------------
// run-beam, run-beams
// ---------------------------------------------------------------------------------------------

/// Configuration of `run-beam` ([`run_beam_job`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunBeamConfig {
    /// The beam txt summary; required.
    pub file: Option<PathBuf>,
    /// The new run directory (must not exist; default `./out`).
    pub out_directory: PathBuf,
    /// Draw the times, TWC and resolution plots.
    pub plots: bool,
    /// Formats of the line plots (default PNG; dense plots are always PNG).
    pub plot_formats: Vec<PlotFormat>,
    /// The options of the chain.
    pub chain: BeamChainOptions,
}

impl Default for RunBeamConfig {
    fn default() -> Self {
        Self {
            file: None,
            out_directory: PathBuf::from("./out"),
            plots: false,
            plot_formats: default_plot_formats(),
            chain: BeamChainOptions::default(),
        }
    }
}

/// What [`run_beam_job`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunBeamReport {
    /// The chain's report.
    pub chain: BeamChainReport,
    /// Plot files written (0 without plots).
    pub plots: usize,
}

/// The number of progress units of [`run_beam_job`]: the six tasks and, with plots, one more.
pub fn run_beam_units(cfg: &RunBeamConfig) -> u64 {
    crate::pipeline::BEAM_CHAIN_TASKS + u64::from(cfg.plots)
}

/// `run-beam`: the whole beam chain ([`crate::pipeline::run_beam`]) on `cfg.file` into
/// `cfg.out_directory`, then the plots if asked for. `progress` gets one unit per task (see
/// [`run_beam_units`]); its `start` and `finish` are the caller's.
///
/// # Errors
/// No input file; the chain's errors; plot errors.
pub fn run_beam_job(cfg: &RunBeamConfig, progress: &dyn Progress) -> Result<RunBeamReport> {
    let file = required(&cfg.file, "beam txt file", "file")?;
    let chain = run_beam_with_progress(file, &cfg.out_directory, &cfg.chain, progress)?;
    let mut plots = 0;
    if cfg.plots {
        let run = open_run(&cfg.out_directory)?;
        plots = draw_plots(&run, &cfg.plot_formats, |run, ext| {
            let mut v = analysis_plots::plot_times(run, ext, None, None)?;
            v.extend(analysis_plots::plot_twc(run, ext)?);
            v.extend(analysis_plots::plot_resolution(run, ext)?);
            Ok(v)
        })?;
        progress.advance(1);
    }
    Ok(RunBeamReport { chain, plots })
}

/// Configuration of `run-beams` ([`run_beams_job`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RunBeamsConfig {
    /// The beam txt summaries, one run each (run name: the file stem); at least one.
    pub files: Vec<PathBuf>,
    /// Output directory: one run directory per file and `beam_runs_resolution.csv`; required.
    pub out_directory: Option<PathBuf>,
    /// Run only this block `I/N` of the runs into `OUT/shards/I-of-N/` (`None`: all).
    pub shard: Option<hep_core::shard::Shard>,
    /// The options of the chain of every run.
    pub chain: BeamChainOptions,
}

/// `run-beams`: [`beam_runs::run_beams`], or [`beam_runs::run_beams_shard`] with a shard.
/// `progress` gets one unit per task of every run (six per run); `start` and `finish` are the
/// caller's.
///
/// # Errors
/// No output directory; those of the called function.
pub fn run_beams_job(cfg: &RunBeamsConfig, progress: &dyn Progress) -> Result<Vec<BeamRunResult>> {
    let out = required(&cfg.out_directory, "output directory", "out_directory")?;
    match cfg.shard {
        Some(shard) => {
            beam_runs::run_beams_shard_with_progress(&cfg.files, out, &cfg.chain, shard, progress)
        }
        None => beam_runs::run_beams_with_progress(&cfg.files, out, &cfg.chain, progress),
    }
}

/// The number of progress units of [`run_beams_job`].
pub fn run_beams_units(cfg: &RunBeamsConfig) -> u64 {
    let n = match cfg.shard {
        Some(s) => s.range(cfg.files.len()).len(),
        None => cfg.files.len(),
    };
    n as u64 * crate::pipeline::BEAM_CHAIN_TASKS
}

// ---------------------------------------------------------------------------------------------
// Single tasks
// ---------------------------------------------------------------------------------------------

/// Configuration of `times-ns` ([`times_ns`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimesNsConfig {
    /// The run directory (default `./out`).
    pub out_directory: PathBuf,
    /// Draw the task's plots.
    pub plots: bool,
    /// Formats of the line plots (default PNG).
    pub plot_formats: Vec<PlotFormat>,
    /// Upper end of the TOA axis of the plots (ns); 0 = automatic.
    pub max_toa: f64,
    /// Upper end of the TOT axis of the plots (ns); 0 = automatic.
    pub max_tot: f64,
    /// CAL statistic of the bin width (default mean, the original).
    pub fbin: FbinChoice,
    /// Also write the SQLite database (default true).
    pub sqlite: bool,
}

impl Default for TimesNsConfig {
    fn default() -> Self {
        Self {
            out_directory: PathBuf::from("./out"),
            plots: false,
            plot_formats: default_plot_formats(),
            max_toa: 0.0,
            max_tot: 0.0,
            fbin: FbinChoice::Mean,
            sqlite: true,
        }
    }
}

/// `times-ns`: [`calculate_times_in_ns`] on the run, then its plots if asked for. Returns the
/// per-board calibration and the number of plot files.
///
/// # Errors
/// Those of [`calculate_times_in_ns`] and of the plots.
pub fn times_ns(cfg: &TimesNsConfig) -> Result<(Vec<BoardCalibration>, usize)> {
    let run = open_run(&cfg.out_directory)?;
    let cal = calculate_times_in_ns(
        &run,
        &TimesOptions {
            fbin: cfg.fbin,
            sqlite: cfg.sqlite,
            drop_old: true,
        },
    )?;
    let mut n = 0;
    if cfg.plots {
        let range = |v: f64| (v > 0.0).then_some(v);
        n = draw_plots(&run, &cfg.plot_formats, |run, ext| {
            analysis_plots::plot_times(run, ext, range(cfg.max_toa), range(cfg.max_tot))
        })?;
    }
    Ok((cal, n))
}

/// Configuration of `twc` ([`twc`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwcConfig {
    /// The run directory (default `./out`).
    pub out_directory: PathBuf,
    /// Draw the task's plots.
    pub plots: bool,
    /// Formats of the line plots (default PNG).
    pub plot_formats: Vec<PlotFormat>,
    /// Also write the SQLite database (default true).
    pub sqlite: bool,
    /// Iterations, polynomial order and fit method.
    pub twc: TwcOptions,
}

impl Default for TwcConfig {
    fn default() -> Self {
        Self {
            out_directory: PathBuf::from("./out"),
            plots: false,
            plot_formats: default_plot_formats(),
            sqlite: true,
            twc: TwcOptions::default(),
        }
    }
}

/// `twc`: [`calculate_time_walk_correction`] on the run, then its plots if asked for.
///
/// # Errors
/// Those of [`calculate_time_walk_correction`] and of the plots.
pub fn twc(cfg: &TwcConfig) -> Result<(TwcResult, usize)> {
    let run = open_run(&cfg.out_directory)?;
    let r = calculate_time_walk_correction(
        &run,
        &TwcTaskOptions {
            twc: cfg.twc,
            sqlite: cfg.sqlite,
            drop_old: true,
        },
    )?;
    let n = if cfg.plots {
        draw_plots(&run, &cfg.plot_formats, analysis_plots::plot_twc)?
    } else {
        0
    };
    Ok((r, n))
}

/// Configuration of `resolution` ([`resolution`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResolutionConfig {
    /// The run directory (default `./out`).
    pub out_directory: PathBuf,
    /// Draw the task's plots.
    pub plots: bool,
    /// Formats of the line plots (default PNG).
    pub plot_formats: Vec<PlotFormat>,
    /// Also write the SQLite database (default true).
    pub sqlite: bool,
}

impl Default for ResolutionConfig {
    fn default() -> Self {
        Self {
            out_directory: PathBuf::from("./out"),
            plots: false,
            plot_formats: default_plot_formats(),
            sqlite: true,
        }
    }
}

/// `resolution`: [`analyse_time_resolution`] on the run, then its plots if asked for.
///
/// # Errors
/// Those of [`analyse_time_resolution`] and of the plots.
pub fn resolution(cfg: &ResolutionConfig) -> Result<(Vec<ResolutionRow>, usize)> {
    let run = open_run(&cfg.out_directory)?;
    let rows = analyse_time_resolution(
        &run,
        &ResolutionOptions {
            sqlite: cfg.sqlite,
            drop_old: true,
        },
    )?;
    let n = if cfg.plots {
        draw_plots(&run, &cfg.plot_formats, analysis_plots::plot_resolution)?
    } else {
        0
    };
    Ok((rows, n))
}

/// Configuration of `cut` ([`cut`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CutConfig {
    /// The run directory (default `./out`).
    pub out_directory: PathBuf,
    /// Keep events where a cut variable is missing (NaN) for a tested board.
    pub keep_events: bool,
    /// The cut file (`None`: `<run>/cuts.csv`).
    pub cuts: Option<PathBuf>,
    /// Draw the `plot_after_cuts` plots and the cut-flow plots of every row with an output.
    pub plots: bool,
    /// Formats of the line plots (default PNG).
    pub plot_formats: Vec<PlotFormat>,
}

impl Default for CutConfig {
    fn default() -> Self {
        Self {
            out_directory: PathBuf::from("./out"),
            keep_events: false,
            cuts: None,
            plots: false,
            plot_formats: default_plot_formats(),
        }
    }
}

/// `cut`: the task `apply_event_cuts` ([`crate::cut_tasks::run_event_cuts`]), then the
/// `plot_after_cuts` plots if asked for.
///
/// # Errors
/// Those of the task and of the plots.
pub fn cut(cfg: &CutConfig) -> Result<CutReport> {
    let run = open_run(&cfg.out_directory)?;
    let opts = CutOptions {
        keep_nan: cfg.keep_events,
        cut_file: cfg.cuts.clone(),
        plots: if cfg.plots {
            normalised_formats(&cfg.plot_formats)
        } else {
            Vec::new()
        },
        ..CutOptions::default()
    };
    let rep = crate::cut_tasks::run_event_cuts(&run, &opts)?;
    if cfg.plots {
        draw_plots(
            &run,
            &cfg.plot_formats,
            crate::ingest_plots::plot_after_cuts,
        )?;
    }
    Ok(rep)
}

/// Configuration of `cut-times` ([`cut_times`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CutTimesConfig {
    /// The run directory (default `./out`).
    pub out_directory: PathBuf,
    /// Keep events where a cut variable is missing (NaN).
    pub keep_events: bool,
    /// The time cut file (`None`: `<run>/time_cuts.csv`).
    pub time_cuts: Option<PathBuf>,
    /// Draw the cut-flow plots of every row with an output.
    pub plots: bool,
    /// Formats of the line plots (default PNG).
    pub plot_formats: Vec<PlotFormat>,
    /// Upper end of the TOA axis of the time plots (ns); 0 = automatic.
    pub max_toa: f64,
    /// Upper end of the TOT axis of the time plots (ns); 0 = automatic.
    pub max_tot: f64,
}

impl Default for CutTimesConfig {
    fn default() -> Self {
        Self {
            out_directory: PathBuf::from("./out"),
            keep_events: false,
            time_cuts: None,
            plots: false,
            plot_formats: default_plot_formats(),
            max_toa: 0.0,
            max_tot: 0.0,
        }
    }
}

/// `cut-times`: the task `apply_time_cuts` ([`crate::cut_tasks::run_time_cuts`]) with its
/// cut-flow plots if asked for.
///
/// # Errors
/// Those of the task.
pub fn cut_times(cfg: &CutTimesConfig) -> Result<CutReport> {
    let run = open_run(&cfg.out_directory)?;
    let positive = |v: f64| (v > 0.0).then_some(v);
    let opts = CutOptions {
        keep_nan: cfg.keep_events,
        cut_file: cfg.time_cuts.clone(),
        plots: if cfg.plots {
            normalised_formats(&cfg.plot_formats)
        } else {
            Vec::new()
        },
        max_toa_ns: positive(cfg.max_toa),
        max_tot_ns: positive(cfg.max_tot),
        ..CutOptions::default()
    };
    crate::cut_tasks::run_time_cuts(&run, &opts)
}

/// [`run_beam_job`] without progress reports.
///
/// # Errors
/// As [`run_beam_job`].
pub fn run_beam_quiet(cfg: &RunBeamConfig) -> Result<RunBeamReport> {
    run_beam_job(cfg, &NoProgress)
}

// ---------------------------------------------------------------------------------------------
// Ingests, DAC against charge, replot
// ---------------------------------------------------------------------------------------------

/// Configuration of `process-txt` ([`process_txt`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessTxtConfig {
    /// The beam txt summary (or raw words with `raw_words`); required.
    pub file: Option<PathBuf>,
    /// The new run directory (must not exist; default `./out`).
    pub out_directory: PathBuf,
    /// Keep hits with `hit_flag = 0`.
    pub keep_all: bool,
    /// Also write `data/data.sqlite` (default true).
    pub sqlite: bool,
    /// Copy the input into the task's `original_data/` (default true, as the original).
    pub copy_input: bool,
    /// Draw the `plot_before_cuts` plots.
    pub plots: bool,
    /// Formats of the line plots (default PNG).
    pub plot_formats: Vec<PlotFormat>,
    /// Event pattern: 0 none, 1 \[0,1,3\] (default), 2 \[0,1\], 3 \[0,3\], 4 \[1,3\], 5 \[0,3,1\].
    pub event_pattern: u8,
    /// Leading banner lines to skip (`None`: 1 for the txt, 0 with `raw_words`).
    pub header_lines: Option<usize>,
    /// The input is a raw `.dat` of 32-bit words instead of a txt summary.
    pub raw_words: bool,
}

impl Default for ProcessTxtConfig {
    fn default() -> Self {
        Self {
            file: None,
            out_directory: PathBuf::from("./out"),
            keep_all: false,
            sqlite: true,
            copy_input: true,
            plots: false,
            plot_formats: default_plot_formats(),
            event_pattern: 1,
            header_lines: None,
            raw_words: false,
        }
    }
}

/// What an ingest subcommand did: the ingest's report and the number of plot files.
pub type IngestJobReport = (crate::ingest_run::ProcessReport, usize);

/// `process-txt`: [`crate::ingest_run::process_txt`] into a new run, then the
/// `plot_before_cuts` plots if asked for.
///
/// # Errors
/// No input file; the ingest's errors (with the input's path); plot errors.
pub fn process_txt(cfg: &ProcessTxtConfig) -> Result<IngestJobReport> {
    use crate::ingest::{EventPattern, IngestOptions};
    use crate::ingest_run::{InputFormat, ProcessOptions};
    let file = required(&cfg.file, "input file", "file")?;
    let opts = ProcessOptions {
        ingest: IngestOptions {
            keep_all: cfg.keep_all,
            pattern: EventPattern::from_index(cfg.event_pattern)?,
            header_lines: cfg
                .header_lines
                .unwrap_or(if cfg.raw_words { 0 } else { 1 }),
            ..IngestOptions::beam_txt()
        },
        format: if cfg.raw_words {
            InputFormat::RawWords
        } else {
            InputFormat::BeamTxt
        },
        sqlite: cfg.sqlite,
        copy_input: cfg.copy_input,
    };
    let report = crate::ingest_run::process_txt(file, &cfg.out_directory, &opts)?;
    let n = if cfg.plots {
        draw_plots(
            &report.run,
            &cfg.plot_formats,
            crate::ingest_plots::plot_before_cuts,
        )?
    } else {
        0
    };
    Ok((report, n))
}

/// Configuration of `process-dat` ([`process_dat`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessDatConfig {
    /// The charge-injection Split `.dat` (or raw words with `raw_words`); required.
    pub file: Option<PathBuf>,
    /// The new run directory (must not exist; default `./out`).
    pub out_directory: PathBuf,
    /// Keep hits with `hit_flag = 0`.
    pub keep_all: bool,
    /// Also write `data/data.sqlite` (default true).
    pub sqlite: bool,
    /// Copy the input into the task's `original_data/` (default true, as the original).
    pub copy_input: bool,
    /// Draw the `plot_before_cuts` plots.
    pub plots: bool,
    /// Formats of the line plots (default PNG).
    pub plot_formats: Vec<PlotFormat>,
    /// The input is a raw `.dat` of 32-bit words instead of a Split `.dat`.
    pub raw_words: bool,
}

impl Default for ProcessDatConfig {
    fn default() -> Self {
        Self {
            file: None,
            out_directory: PathBuf::from("./out"),
            keep_all: false,
            sqlite: true,
            copy_input: true,
            plots: false,
            plot_formats: default_plot_formats(),
            raw_words: false,
        }
    }
}

/// `process-dat`: [`crate::ingest_run::process_dat`] into a new run, then the
/// `plot_before_cuts` plots if asked for.
///
/// # Errors
/// As [`process_txt`].
pub fn process_dat(cfg: &ProcessDatConfig) -> Result<IngestJobReport> {
    use crate::ingest::IngestOptions;
    use crate::ingest_run::{InputFormat, ProcessOptions};
    let file = required(&cfg.file, "input file", "file")?;
    let mut ingest = IngestOptions::charge_injection();
    ingest.keep_all = cfg.keep_all;
    if cfg.raw_words {
        ingest.add_extra_data = false;
    }
    let opts = ProcessOptions {
        ingest,
        format: if cfg.raw_words {
            InputFormat::RawWords
        } else {
            InputFormat::SplitDat
        },
        sqlite: cfg.sqlite,
        copy_input: cfg.copy_input,
    };
    let report = crate::ingest_run::process_dat(file, &cfg.out_directory, &opts)?;
    let n = if cfg.plots {
        draw_plots(
            &report.run,
            &cfg.plot_formats,
            crate::ingest_plots::plot_before_cuts,
        )?
    } else {
        0
    };
    Ok((report, n))
}

/// Configuration of `dac-vs-charge` ([`dac_vs_charge`]); the options of
/// `analyse_dac_vs_charge.py`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DacVsChargeConfig {
    /// The merged charge-injection run directory (default `./out`).
    pub out_directory: PathBuf,
    /// Draw the DAC-vs-charge plots.
    pub plots: bool,
    /// Formats of the line plots (default PNG).
    pub plot_formats: Vec<PlotFormat>,
    /// Also write `calculate_dac_points/data.sqlite` (default true).
    pub sqlite: bool,
    /// Charge (fC) whose scan sets the noise edges; 0 (default) aggregates over charges.
    pub noise_charge: i64,
    /// Rolling window (rows, default 3).
    pub rolling_window: usize,
    /// Max |rolling mean - hits| of a plateau row (default 50).
    pub max_diff: f64,
    /// Plateau centre (hits, default 4450).
    pub hit_center: f64,
    /// Plateau half-window (hits, default 150).
    pub hit_window: f64,
    /// Offset subtracted from the upper noise edge (DAC, default 4).
    pub noise_offset: f64,
    /// Board with its own plateau centre and window (the original's `--trigger_board`).
    pub trigger_board: Option<i64>,
    /// Plateau centre of the trigger board (hits; `None`: `hit_center`).
    pub trigger_board_hit_center: Option<f64>,
    /// Plateau half-window of the trigger board (hits; `None`: `hit_window`).
    pub trigger_board_hit_window: Option<f64>,
    /// Threshold per (board, charge) for the line (default half-efficiency; the original's is
    /// max-with-hits).
    pub estimator: crate::charge_injection::DacEstimator,
}

impl Default for DacVsChargeConfig {
    fn default() -> Self {
        Self {
            out_directory: PathBuf::from("./out"),
            plots: false,
            plot_formats: default_plot_formats(),
            sqlite: true,
            noise_charge: 0,
            rolling_window: 3,
            max_diff: 50.0,
            hit_center: 4450.0,
            hit_window: 150.0,
            noise_offset: 4.0,
            trigger_board: None,
            trigger_board_hit_center: None,
            trigger_board_hit_window: None,
            estimator: crate::charge_injection::DacEstimator::default(),
        }
    }
}

/// `dac-vs-charge`: [`crate::charge_injection::calculate_dac_points`] on the run, then its
/// plots if asked for. Returns the fitted lines and the number of plot files.
///
/// # Errors
/// [`Error::InvalidArgument`] for a trigger-board centre or window without a trigger board;
/// those of the task and of the plots.
pub fn dac_vs_charge(
    cfg: &DacVsChargeConfig,
) -> Result<(Vec<crate::charge_injection::DacChargeLine>, usize)> {
    let mut overrides = std::collections::BTreeMap::new();
    match (
        cfg.trigger_board,
        cfg.trigger_board_hit_center,
        cfg.trigger_board_hit_window,
    ) {
        (Some(b), c, w) => {
            overrides.insert(
                b,
                (c.unwrap_or(cfg.hit_center), w.unwrap_or(cfg.hit_window)),
            );
        }
        (None, None, None) => {}
        _ => {
            return Err(Error::InvalidArgument(
                "trigger_board_hit_center/trigger_board_hit_window need trigger_board".into(),
            ));
        }
    }
    let run = open_run(&cfg.out_directory)?;
    let opts = crate::charge_injection::DacOptions {
        noise_charge: cfg.noise_charge,
        rolling_window: cfg.rolling_window,
        max_mean_difference: cfg.max_diff,
        hit_center: cfg.hit_center,
        hit_window: cfg.hit_window,
        noise_offset: cfg.noise_offset,
        board_overrides: overrides,
        estimator: cfg.estimator,
        sqlite: cfg.sqlite,
    };
    let (_, _, lines) = crate::charge_injection::calculate_dac_points(&run, &opts)?;
    let n = if cfg.plots {
        draw_plots(&run, &cfg.plot_formats, analysis_plots::plot_dac_vs_charge)?
    } else {
        0
    };
    Ok((lines, n))
}

/// Configuration of `replot` ([`replot`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplotConfig {
    /// The run directory (default `./out`).
    pub out_directory: PathBuf,
    /// Formats of the line plots (default PNG).
    pub plot_formats: Vec<PlotFormat>,
}

impl Default for ReplotConfig {
    fn default() -> Self {
        Self {
            out_directory: PathBuf::from("./out"),
            plot_formats: default_plot_formats(),
        }
    }
}

/// `replot`: redraws the plots of every completed task of the run. Returns the number of plot
/// files.
///
/// # Errors
/// No run at `out_directory`; plot errors.
pub fn replot(cfg: &ReplotConfig) -> Result<usize> {
    use crate::ingest_plots;
    use crate::rundir::names;
    let run = open_run(&cfg.out_directory)?;
    draw_plots(&run, &cfg.plot_formats, |run, ext| {
        let mut v = Vec::new();
        if run.task_completed(names::PROCESS_TXT) || run.task_completed(names::PROCESS_DAT) {
            v.extend(ingest_plots::plot_before_cuts(run, ext)?);
        }
        if run.task_completed(names::APPLY_EVENT_CUTS) {
            v.extend(ingest_plots::plot_after_cuts(run, ext)?);
        }
        if run.task_completed(names::MERGE_RUNS) {
            v.extend(ingest_plots::plot_combined(run, ext)?);
        }
        if run.task_completed(names::CALCULATE_TIMES_IN_NS) {
            v.extend(analysis_plots::plot_times(run, ext, None, None)?);
        }
        if run.task_completed(names::CALCULATE_TIME_WALK_CORRECTION) {
            v.extend(analysis_plots::plot_twc(run, ext)?);
        }
        if run.task_completed(names::ANALYSE_TIME_RESOLUTION) {
            v.extend(analysis_plots::plot_resolution(run, ext)?);
        }
        if run.task_completed(names::CALCULATE_DAC_POINTS) {
            v.extend(analysis_plots::plot_dac_vs_charge(run, ext)?);
        }
        Ok(v)
    })
}

// ---------------------------------------------------------------------------------------------
// Charge-injection directories: process-dir, reprocess-dir
// ---------------------------------------------------------------------------------------------

/// `<parent>/YYYYMMDD-<name>`: `path` with today's date (UTC) before its last component, the
/// name the original directory script gives its output.
pub fn with_date_prefix(path: &Path) -> PathBuf {
    date_prefixed(path, chrono::Utc::now().date_naive())
}

/// `path` with `day` as `YYYYMMDD-` before its last component.
fn date_prefixed(path: &Path, day: chrono::NaiveDate) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{}-{name}", day.format("%Y%m%d")))
}

/// The options of a charge-injection directory's merge as [`DirOptions`].
fn dir_options(
    keep_all: bool,
    thresholds: [i16; 3],
    filter_default: bool,
    trigger_board: u8,
    sqlite: bool,
) -> DirOptions {
    DirOptions {
        keep_all,
        default_thresholds: thresholds,
        filter_default,
        trigger_board,
        sqlite,
    }
}

/// Configuration of `process-dir` ([`process_dir`]); the options of
/// `process_etroc1_charge_injection_data_dir.py`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessDirConfig {
    /// The scan directory with the `*Split_0.dat` files; required.
    pub directory: Option<PathBuf>,
    /// The output run directory (default `./out`); it must not exist. Without a shard it gets
    /// a `YYYYMMDD-` prefix (today, UTC) unless `date_prefix` is false.
    pub out_directory: PathBuf,
    /// Prefix the output directory's name with today's date, as the original (default true;
    /// never for a shard).
    pub date_prefix: bool,
    /// Keep hits with `hit_flag = 0`.
    pub keep_all: bool,
    /// Draw the per-run plots (`plot_before_cuts`, `plot_after_cuts`) and the combined DAC scan.
    pub plots: bool,
    /// Formats of the line plots (default PNG).
    pub plot_formats: Vec<PlotFormat>,
    /// Default threshold of board 0 (DAC, default 535).
    pub b0: i16,
    /// Default threshold of board 1 (DAC, default 720).
    pub b1: i16,
    /// Default threshold of board 3 (DAC, default 720).
    pub b3: i16,
    /// Reconcile the merged rows with the scanned board.
    pub filter_default: bool,
    /// Trigger board (default 0).
    pub trigger_board: u8,
    /// Also write the SQLite databases (default true).
    pub sqlite: bool,
    /// Process only this block `I/N` of the scan's runs into `OUT/shards/I-of-N/` (`None`: the
    /// whole scan into one run); the `merge` of the N shards gives the run.
    pub shard: Option<Shard>,
}

impl Default for ProcessDirConfig {
    fn default() -> Self {
        let d = DirOptions::default();
        Self {
            directory: None,
            out_directory: PathBuf::from("./out"),
            date_prefix: true,
            keep_all: d.keep_all,
            plots: false,
            plot_formats: default_plot_formats(),
            b0: d.default_thresholds[0],
            b1: d.default_thresholds[1],
            b3: d.default_thresholds[2],
            filter_default: d.filter_default,
            trigger_board: d.trigger_board,
            sqlite: d.sqlite,
            shard: None,
        }
    }
}

impl ProcessDirConfig {
    /// The library options of the directory processing.
    pub fn dir_options(&self) -> DirOptions {
        dir_options(
            self.keep_all,
            [self.b0, self.b1, self.b3],
            self.filter_default,
            self.trigger_board,
            self.sqlite,
        )
    }

    /// The directory the job writes: `out_directory` itself for a shard or without
    /// `date_prefix`, otherwise [`with_date_prefix`] of it (today's date, so call this once
    /// and keep the result when several processes must agree on it).
    pub fn output(&self) -> PathBuf {
        if self.shard.is_none() && self.date_prefix {
            with_date_prefix(&self.out_directory)
        } else {
            self.out_directory.clone()
        }
    }
}

/// What [`process_dir`] did.
#[derive(Debug, Clone)]
pub enum ProcessDirReport {
    /// One shard of the scan.
    Shard {
        /// The shard.
        shard: Shard,
        /// The shard's directory (`OUT/shards/I-of-N/`).
        dir: PathBuf,
        /// The shard's individual runs.
        runs: Vec<IndividualRun>,
    },
    /// The whole scan into one run.
    Whole {
        /// The run directory (with its date prefix, if any).
        run: PathBuf,
        /// The individual runs and the merge.
        report: DirReport,
        /// Plot files written (0 without plots, or when no run succeeded).
        plots: usize,
    },
}

/// `process-dir`: a charge-injection scan directory, one individual run per `*Split_0.dat`,
/// default cut and merge ([`crate::ingest_run::process_charge_injection_dir`]) into a new run at
/// [`ProcessDirConfig::output`], then with `plots` the per-run plots and the combined DAC scan;
/// or, with a shard, only that block of the runs
/// ([`crate::ingest_run::process_charge_injection_shard`]).
///
/// The input directory is checked before the run is created, so that a mistyped path leaves
/// no directory behind. The plots are drawn only if at least one run succeeded; `progress`
/// gets `start("run plots", runs)`, one unit per run plotted and `finish`.
///
/// # Errors
/// No input directory given or not a directory; the run exists already; the processing's and
/// the plots' errors. Failed individual runs are in the report, not errors.
pub fn process_dir(cfg: &ProcessDirConfig, progress: &dyn Progress) -> Result<ProcessDirReport> {
    use crate::ingest_run::{self, INDIVIDUAL_RUNS_DIR};
    let input = required(&cfg.directory, "input directory", "directory")?;
    let opts = cfg.dir_options();
    if let Some(shard) = cfg.shard {
        let runs =
            ingest_run::process_charge_injection_shard(input, &cfg.out_directory, &opts, shard)?;
        return Ok(ProcessDirReport::Shard {
            shard,
            dir: shard.dir(&cfg.out_directory),
            runs,
        });
    }
    if !input.is_dir() {
        return Err(Error::Run {
            path: input.to_path_buf(),
            message: "input directory with the *Split_0.dat files not found".into(),
        });
    }
    let run = RunDir::create(cfg.output())?;
    let report = ingest_run::process_charge_injection_dir(input, &run, &opts)?;
    let ok: Vec<&IndividualRun> = report.runs.iter().filter(|r| r.outcome.is_ok()).collect();
    let mut plots = 0;
    if cfg.plots && !ok.is_empty() {
        progress.start("run plots", ok.len() as u64);
        for r in ok {
            let sub = RunDir::open(run.path().join(INDIVIDUAL_RUNS_DIR).join(&r.name))?;
            plots += draw_plots(&sub, &cfg.plot_formats, |sub, ext| {
                let mut v = crate::ingest_plots::plot_before_cuts(sub, ext)?;
                v.extend(crate::ingest_plots::plot_after_cuts(sub, ext)?);
                Ok(v)
            })?;
            progress.advance(1);
        }
        progress.finish();
        plots += draw_plots(&run, &cfg.plot_formats, crate::ingest_plots::plot_combined)?;
    }
    Ok(ProcessDirReport::Whole {
        run: run.path().to_path_buf(),
        report,
        plots,
    })
}

/// Configuration of `reprocess-dir` ([`reprocess_dir`]); the options of
/// `reprocess_etroc1_charge_injection_data_dir.py`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReprocessDirConfig {
    /// The existing charge-injection run directory (written by `process-dir` or `merge`);
    /// required.
    pub out_directory: Option<PathBuf>,
    /// Draw the combined DAC-scan plot.
    pub plots: bool,
    /// Formats of the line plots (default PNG).
    pub plot_formats: Vec<PlotFormat>,
    /// Like the original: merge again without re-applying the per-run cuts.
    pub compat: bool,
    /// Default threshold of board 0 (DAC, default 535).
    pub b0: i16,
    /// Default threshold of board 1 (DAC, default 720).
    pub b1: i16,
    /// Default threshold of board 3 (DAC, default 720).
    pub b3: i16,
    /// Reconcile the merged rows with the scanned board.
    pub filter_default: bool,
    /// Trigger board (default 0).
    pub trigger_board: u8,
    /// Also write the SQLite databases (default true).
    pub sqlite: bool,
}

impl Default for ReprocessDirConfig {
    fn default() -> Self {
        let d = DirOptions::default();
        Self {
            out_directory: None,
            plots: false,
            plot_formats: default_plot_formats(),
            compat: false,
            b0: d.default_thresholds[0],
            b1: d.default_thresholds[1],
            b3: d.default_thresholds[2],
            filter_default: d.filter_default,
            trigger_board: d.trigger_board,
            sqlite: d.sqlite,
        }
    }
}

impl ReprocessDirConfig {
    /// The library options of the merge (`keep_all` is the processing's and plays no part).
    pub fn dir_options(&self) -> DirOptions {
        dir_options(
            false,
            [self.b0, self.b1, self.b3],
            self.filter_default,
            self.trigger_board,
            self.sqlite,
        )
    }
}

/// What [`reprocess_dir`] did.
#[derive(Debug, Clone)]
pub struct ReprocessDirReport {
    /// The individual runs whose cuts were re-applied, with the events accepted or the error;
    /// `None` with `compat` (cuts not re-applied).
    pub cuts: Option<Vec<IndividualRun>>,
    /// The new merge.
    pub merge: MergeReport,
    /// Plot files written (0 without plots).
    pub plots: usize,
}

/// `reprocess-dir`: re-applies the per-run cuts of a charge-injection run and merges again
/// ([`crate::ingest_run::reprocess_charge_injection_dir`]), or with `compat` only merges again
/// ([`crate::ingest_run::merge_runs`]), then draws the combined DAC scan if asked for.
///
/// # Errors
/// No run directory given or not a run; the merge's and the plots' errors. A failing
/// individual cut is in the report, not an error.
pub fn reprocess_dir(cfg: &ReprocessDirConfig) -> Result<ReprocessDirReport> {
    use crate::ingest_run;
    let path = required(&cfg.out_directory, "run directory", "out_directory")?;
    let run = open_run(path)?;
    let opts = cfg.dir_options();
    let (cuts, merge) = if cfg.compat {
        (None, ingest_run::merge_runs(&run, &opts)?)
    } else {
        let rep = ingest_run::reprocess_charge_injection_dir(&run, &opts)?;
        (Some(rep.runs), rep.merge)
    };
    let plots = if cfg.plots {
        draw_plots(&run, &cfg.plot_formats, crate::ingest_plots::plot_combined)?
    } else {
        0
    };
    Ok(ReprocessDirReport { cuts, merge, plots })
}

#[cfg(test)]
mod dir_tests {
    use super::*;

    #[test]
    fn date_prefix_goes_before_the_last_component() {
        let day = chrono::NaiveDate::from_ymd_opt(2024, 3, 9).unwrap();
        assert_eq!(
            date_prefixed(Path::new("./runs/scan"), day),
            PathBuf::from("./runs/20240309-scan")
        );
        assert_eq!(
            date_prefixed(Path::new("out"), day),
            PathBuf::from("20240309-out")
        );
    }

    #[test]
    fn defaults_are_those_of_the_command_line() {
        let c = ProcessDirConfig::default();
        assert_eq!(c.out_directory, PathBuf::from("./out"));
        assert_eq!(c.dir_options(), DirOptions::default());
        assert!(c.date_prefix && c.shard.is_none());
        assert_eq!(
            ReprocessDirConfig::default().dir_options(),
            DirOptions::default()
        );
        let shard = ProcessDirConfig {
            shard: Some("1/3".parse().unwrap()),
            ..ProcessDirConfig::default()
        };
        assert_eq!(shard.output(), PathBuf::from("./out"));
        let plain = ProcessDirConfig {
            date_prefix: false,
            ..ProcessDirConfig::default()
        };
        assert_eq!(plain.output(), PathBuf::from("./out"));
    }

    #[test]
    fn missing_inputs_are_errors_that_create_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("run");
        let e = process_dir(
            &ProcessDirConfig {
                out_directory: out.clone(),
                date_prefix: false,
                ..ProcessDirConfig::default()
            },
            &NoProgress,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "no input directory: give it on the command line or as \
             `directory` in the configuration"
        );
        let missing = tmp.path().join("nope");
        let e = process_dir(
            &ProcessDirConfig {
                directory: Some(missing.clone()),
                out_directory: out.clone(),
                date_prefix: false,
                ..ProcessDirConfig::default()
            },
            &NoProgress,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: input directory with the *Split_0.dat files not found",
                missing.display()
            )
        );
        assert!(!out.exists());
        let e = reprocess_dir(&ReprocessDirConfig::default()).unwrap_err();
        assert!(e.to_string().contains("`out_directory`"), "{e}");
    }
}
