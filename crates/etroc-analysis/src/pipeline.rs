//! The whole beam chain in one call, on disk ([`run_beam`]) or in memory ([`run_beam_in_memory`],
//! for benchmarks), and the demo: a simulated run analysed end to end ([`run_demo`]).
//!
//! The on-disk chain is exactly the sequence of the original scripts (issue item 1):
//! `process-txt`, `cut`, `times-ns`, `cut-times`, `twc`, `resolution`, each a task of the run
//! directory with its report and provenance manifest.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use hep_core::progress::{NoProgress, Progress};
use serde::{Deserialize, Serialize};

use crate::cuts::{
    self, CutOptions, EVENT_CUTS_FILE, TIME_CUTS_FILE, apply_event_cuts, apply_time_cuts,
    read_event_cuts, read_time_cuts,
};
use crate::error::{Error, Result};
use crate::ingest::{IngestOptions, read_beam_txt};
use crate::ingest_run::{ProcessOptions, process_txt};
use crate::resolution::{
    FINAL_STEP, ResolutionOptions, ResolutionRow, Step, analyse, analyse_time_resolution,
};
use crate::rundir::RunDir;
use crate::simulate::{BeamSimConfig, BeamTruth, write_beam_run};
use crate::times::{
    BoardCalibration, FbinChoice, TimesOptions, calculate_times_in_ns, times_table,
};
use crate::twc::{
    TwcFitRow, TwcOptions, TwcTaskOptions, calculate_time_walk_correction, event_flags,
    pivot_ns_table, time_walk_correction,
};

/// The event cut used when none is given: every board's CAL code in \[115, 145\], which removes
/// hits with a corrupted calibration code (the outliers of [`crate::simulate`]) before the bin
/// width is computed.
pub const DEFAULT_BEAM_CUTS: &str = "board_id,variable,cut_type,cut_value\n\
*,calibration_code,>=,115\n\
*,calibration_code,<=,145\n";

/// A time-cut file without rows: every event passes (used when no time cuts are given).
pub const NO_TIME_CUTS: &str = "cut_type,cut_direction,variable_1,board_id_1,variable_2,board_id_2,value_1,value_2,value_3,output\n";

/// The number of tasks of the beam chain (ingest, event cuts, codes to ns, time cuts, TWC,
/// resolution): the progress units of [`run_beam_with_progress`].
pub const BEAM_CHAIN_TASKS: u64 = 6;

/// Options of the whole beam chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BeamChainOptions {
    /// Event pattern index (`-p`, 0..=5, default 1 = \[0,1,3\]).
    pub event_pattern: u8,
    /// Keep `hit_flag = 0` hits (`-k`).
    pub keep_all: bool,
    /// Event cut file copied to `<run>/cuts.csv`; `None` writes [`DEFAULT_BEAM_CUTS`].
    pub event_cuts: Option<PathBuf>,
    /// Time cut file copied to `<run>/time_cuts.csv`; `None` writes [`NO_TIME_CUTS`].
    pub time_cuts: Option<PathBuf>,
    /// Keep events with NaN in a cut variable (`-k` of the cut scripts).
    pub keep_nan: bool,
    /// Bin-width statistic.
    pub fbin: FbinChoice,
    /// Time-walk correction.
    pub twc: TwcOptions,
    /// Also write the SQLite databases (default true).
    pub sqlite: bool,
    /// Copy the input txt into the ingest task's `original_data/` as the original's
    /// `process_etroc1_single_run_txt.py` does. Default false for the whole chain: the
    /// manifests already record the input's path and SHA-256, and at 10^6 events the copy is
    /// about 108 MB, more than the rest of the run directory apart from the data tables
    /// (`process-txt`, the original's step, still copies by default).
    pub copy_input: bool,
}

impl Default for BeamChainOptions {
    fn default() -> Self {
        BeamChainOptions {
            event_pattern: 1,
            keep_all: false,
            event_cuts: None,
            time_cuts: None,
            keep_nan: false,
            fbin: FbinChoice::Mean,
            twc: TwcOptions::default(),
            sqlite: true,
            copy_input: false,
        }
    }
}

/// What the beam chain found.
#[derive(Debug, Clone, PartialEq)]
pub struct BeamChainReport {
    /// The run directory (empty for the in-memory chain).
    pub run: PathBuf,
    /// Events built.
    pub events: usize,
    /// Events accepted by the event cut.
    pub events_accepted: usize,
    /// Events accepted by event and time cuts.
    pub events_final: usize,
    /// Per-board calibration and bin width.
    pub calibration: Vec<BoardCalibration>,
    /// The TWC fit table.
    pub twc_fits: Vec<TwcFitRow>,
    /// The resolution rows (all steps and iterations).
    pub resolution: Vec<ResolutionRow>,
}

impl BeamChainReport {
    /// The rows of step `Final` at the last TWC iteration, one per board.
    pub fn final_rows(&self) -> Vec<&ResolutionRow> {
        let last = self
            .resolution
            .iter()
            .filter(|r| r.step_name == FINAL_STEP)
            .map(|r| r.twc_iteration)
            .max();
        self.resolution
            .iter()
            .filter(|r| r.step_name == FINAL_STEP && Some(r.twc_iteration) == last)
            .collect()
    }
}

fn copy_or_write(src: Option<&Path>, default: &str, dest: &Path) -> Result<()> {
    match src {
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|_| Error::MissingFile {
                path: p.to_path_buf(),
                what: "cut file".into(),
            })?;
            crate::rundir::write_run_file(dest, &bytes, Some(p))?;
        }
        None => crate::rundir::write_run_file(dest, default.as_bytes(), None)?,
    }
    Ok(())
}

/// Runs the whole beam chain on the txt `input` into the new run directory `run_dir` (which must
/// not exist): ingest, event cuts, codes to ns, time cuts, time-walk correction, resolution.
///
/// # Errors
/// The first failing task's error (its task report records it as well).
pub fn run_beam(input: &Path, run_dir: &Path, opts: &BeamChainOptions) -> Result<BeamChainReport> {
    run_beam_with_progress(input, run_dir, opts, &NoProgress)
}

/// Runs `f` as the task `name`: an info event with its duration when it ends, one progress unit.
fn timed<T>(name: &str, progress: &dyn Progress, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let span = tracing::info_span!("task", name);
    let _guard = span.enter();
    let t = Instant::now();
    let r = f();
    match &r {
        Ok(_) => tracing::info!(seconds = t.elapsed().as_secs_f64(), "{name} done"),
        Err(e) => tracing::info!(seconds = t.elapsed().as_secs_f64(), "{name} failed: {e}"),
    }
    progress.advance(1);
    r
}

/// [`run_beam`] with progress: one unit of `progress` per task ([`BEAM_CHAIN_TASKS`] in all),
/// and an info-level `tracing` event per task with its duration (s) and the event counts. The
/// caller calls `progress.start` and `finish`.
///
/// # Errors
/// As [`run_beam`].
pub fn run_beam_with_progress(
    input: &Path,
    run_dir: &Path,
    opts: &BeamChainOptions,
    progress: &dyn Progress,
) -> Result<BeamChainReport> {
    let t = Instant::now();
    tracing::info!(input = %input.display(), run = %run_dir.display(), "beam chain");
    let mut ingest = ProcessOptions::beam_txt();
    ingest.ingest.keep_all = opts.keep_all;
    ingest.ingest.pattern = crate::ingest::EventPattern::from_index(opts.event_pattern)?;
    ingest.sqlite = opts.sqlite;
    ingest.copy_input = opts.copy_input;
    let processed = timed(crate::rundir::names::PROCESS_TXT, progress, || {
        process_txt(input, run_dir, &ingest)
    })?;
    tracing::info!(
        lines = processed.summary.lines,
        hits = processed.summary.hits_in_events,
        events = processed.summary.events,
        "ingested"
    );
    let run = processed.run.clone();
    let r = run_beam_tasks_with_progress(&run, opts, progress)?;
    tracing::info!(
        events = r.events,
        accepted = r.events_accepted,
        final_events = r.events_final,
        seconds = t.elapsed().as_secs_f64(),
        "beam chain done"
    );
    Ok(r)
}

/// Runs the tasks after the ingest on an existing run (cuts copied or defaulted first, see
/// [`BeamChainOptions`]).
///
/// # Errors
/// As [`run_beam`].
pub fn run_beam_tasks(run: &RunDir, opts: &BeamChainOptions) -> Result<BeamChainReport> {
    run_beam_tasks_with_progress(run, opts, &NoProgress)
}

/// [`run_beam_tasks`] with one unit of `progress` per task (five) and an info event per task.
///
/// # Errors
/// As [`run_beam`].
pub fn run_beam_tasks_with_progress(
    run: &RunDir,
    opts: &BeamChainOptions,
    progress: &dyn Progress,
) -> Result<BeamChainReport> {
    use crate::rundir::names;
    copy_or_write(
        opts.event_cuts.as_deref(),
        DEFAULT_BEAM_CUTS,
        &run.path().join(EVENT_CUTS_FILE),
    )?;
    copy_or_write(
        opts.time_cuts.as_deref(),
        NO_TIME_CUTS,
        &run.path().join(TIME_CUTS_FILE),
    )?;
    let cut_opts = CutOptions {
        keep_nan: opts.keep_nan,
        ..CutOptions::default()
    };
    let ev = timed(names::APPLY_EVENT_CUTS, progress, || {
        crate::cut_tasks::run_event_cuts(run, &cut_opts)
    })?;
    tracing::info!(events = ev.events, accepted = ev.accepted, "event cuts");
    let calibration = timed(names::CALCULATE_TIMES_IN_NS, progress, || {
        calculate_times_in_ns(
            run,
            &TimesOptions {
                fbin: opts.fbin,
                sqlite: opts.sqlite,
                drop_old: true,
            },
        )
    })?;
    let tc = timed(names::APPLY_TIME_CUTS, progress, || {
        crate::cut_tasks::run_time_cuts(run, &cut_opts)
    })?;
    tracing::info!(events = tc.events, accepted = tc.accepted, "time cuts");
    let twc = timed(names::CALCULATE_TIME_WALK_CORRECTION, progress, || {
        calculate_time_walk_correction(
            run,
            &TwcTaskOptions {
                twc: opts.twc,
                sqlite: opts.sqlite,
                drop_old: true,
            },
        )
    })?;
    tracing::info!(fits = twc.fits.len(), "time-walk fits");
    let resolution = timed(names::ANALYSE_TIME_RESOLUTION, progress, || {
        analyse_time_resolution(
            run,
            &ResolutionOptions {
                sqlite: opts.sqlite,
                drop_old: true,
            },
        )
    })?;
    tracing::info!(rows = resolution.len(), "resolution rows");
    let final_filter = ev.result.filter.and(&tc.result.filter);
    Ok(BeamChainReport {
        run: run.path().to_path_buf(),
        events: ev.events,
        events_accepted: ev.accepted,
        events_final: final_filter.n_accepted(),
        calibration,
        twc_fits: twc.fits,
        resolution,
    })
}

/// The same chain in memory, without writing anything: parse, event building, the cut files
/// (`None`: [`DEFAULT_BEAM_CUTS`] / no time cuts), ns conversion, TWC and the resolution of every
/// step. Used by the benchmark; the numbers equal those of [`run_beam`].
///
/// # Errors
/// Input, cut and fit errors.
pub fn run_beam_in_memory(
    input: &Path,
    event_cuts: Option<&Path>,
    time_cuts: Option<&Path>,
    opts: &BeamChainOptions,
) -> Result<BeamChainReport> {
    let mut ingest = IngestOptions::beam_txt();
    ingest.keep_all = opts.keep_all;
    ingest.pattern = crate::ingest::EventPattern::from_index(opts.event_pattern)?;
    let (hits, summary) = read_beam_txt(input, &ingest)?;
    let batch = hits.to_record_batch();
    let ev_cuts = match event_cuts {
        Some(p) => read_event_cuts(p)?,
        None => default_event_cuts(),
    };
    let ev = apply_event_cuts(&batch, &ev_cuts, opts.keep_nan, event_cuts)?;
    let (ns, calibration) = times_table(&batch, &ev.filter, opts.fbin)?;
    let tc = match time_cuts {
        Some(p) => Some(apply_time_cuts(
            &ns,
            &read_time_cuts(p)?,
            opts.keep_nan,
            Some(p),
        )?),
        None => None,
    };
    let (times, _) = pivot_ns_table(&ns)?;
    let accepted = event_flags(&times, &ev.filter, tc.as_ref().map(|t| &t.filter));
    let twc = time_walk_correction(&times, &accepted, &opts.twc)?;
    let mut steps = Vec::new();
    let mut max_index = None;
    if let Some(tc) = &tc {
        for s in &tc.steps {
            if let Some(name) = &s.output {
                steps.push(Step {
                    order: s.index as i64,
                    name: name.clone(),
                    accepted: event_flags(&times, &ev.filter, Some(&s.filter)),
                });
                max_index = Some(max_index.map_or(s.index, |m: usize| m.max(s.index)));
            }
        }
    }
    steps.push(Step {
        order: max_index.map_or(0, |m| m as i64 + 1),
        name: FINAL_STEP.to_string(),
        accepted: accepted.clone(),
    });
    let resolution = analyse(&times.boards, &twc.toa_twc, &steps)?;
    Ok(BeamChainReport {
        run: PathBuf::new(),
        events: summary.events as usize,
        events_accepted: ev.filter.n_accepted(),
        events_final: accepted.iter().filter(|&&a| a).count(),
        calibration,
        twc_fits: twc.fits,
        resolution,
    })
}

/// The default event cuts ([`DEFAULT_BEAM_CUTS`]) as cut rows (lines 2 and 3 of that text).
pub fn default_event_cuts() -> Vec<cuts::EventCut> {
    let row = |index: usize, comparison: cuts::Comparison, value: f64| cuts::EventCut {
        index,
        line: index as u64 + 2,
        board: cuts::BoardSelector::All,
        variable: "calibration_code".into(),
        comparison,
        value,
        output: None,
    };
    vec![
        row(0, cuts::Comparison::Ge, 115.0),
        row(1, cuts::Comparison::Le, 145.0),
    ]
}

// ---------------------------------------------------------------------------------------------
// Demo
// ---------------------------------------------------------------------------------------------

/// Options of [`run_demo`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DemoOptions {
    /// Complete events to simulate (default 20 000).
    pub events: usize,
    /// Seed (default 42).
    pub seed: u64,
    /// Working directory; `None` uses a fresh directory under the system temp dir, removed
    /// afterwards.
    pub dir: Option<PathBuf>,
    /// TWC iterations (default 3) and order (default 2).
    pub iterations: usize,
    /// Polynomial order of the TWC.
    pub order: usize,
    /// Also draw the plots of the chain (times, time walk, resolution; PNG) into the run.
    pub plots: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            events: 20_000,
            seed: 42,
            dir: None,
            iterations: 3,
            order: 2,
            plots: false,
        }
    }
}

/// One board of the demo report (ps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DemoBoard {
    /// Board id.
    pub board: i64,
    /// True jitter (ps).
    pub true_jitter_ps: f64,
    /// Expected with quantisation (ps).
    pub expected_ps: f64,
    /// Measured N-board resolution (ps).
    pub measured_ps: f64,
    /// Its statistical uncertainty (ps).
    pub measured_unc_ps: f64,
    /// Pull `(measured - expected)/unc`.
    pub pull: f64,
}

/// The result of [`run_demo`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DemoReport {
    /// Simulated complete events.
    pub events_simulated: usize,
    /// Events built by the ingest.
    pub events_built: usize,
    /// Events used (after cuts).
    pub events_used: usize,
    /// TWC iterations.
    pub iterations: usize,
    /// Per board.
    pub boards: Vec<DemoBoard>,
    /// Wall time of the chain (s), simulation excluded.
    pub chain_seconds: f64,
    /// The run directory (removed afterwards if it was temporary).
    pub run_dir: PathBuf,
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "ETROC1 beam chain on {} simulated events ({} built, {} after cuts), TWC {} iterations, {:.2} s",
            self.events_simulated,
            self.events_built,
            self.events_used,
            self.iterations,
            self.chain_seconds
        )?;
        writeln!(
            f,
            "board  true jitter  expected (quantised)  measured          pull"
        )?;
        for b in &self.boards {
            writeln!(
                f,
                "{:>5}  {:>8.1} ps  {:>14.1} ps     {:>6.1} ± {:>3.1} ps  {:>+5.2}",
                b.board, b.true_jitter_ps, b.expected_ps, b.measured_ps, b.measured_unc_ps, b.pull
            )?;
        }
        Ok(())
    }
}

/// Compares the final rows of a chain with the simulation truth.
pub fn compare_with_truth(report: &BeamChainReport, truth: &BeamTruth) -> Vec<DemoBoard> {
    report
        .final_rows()
        .iter()
        .filter_map(|r| {
            let i = truth
                .boards
                .iter()
                .position(|&b| i64::from(b) == r.data_board_id)?;
            let measured = r.time_resolution_new * 1e3;
            let unc = r.time_resolution_new_unc * 1e3;
            let expected = truth.expected_resolution_ps[i];
            Some(DemoBoard {
                board: r.data_board_id,
                true_jitter_ps: truth.jitter_ps[i],
                expected_ps: expected,
                measured_ps: measured,
                measured_unc_ps: unc,
                pull: (measured - expected) / unc,
            })
        })
        .collect()
}

/// Simulates a beam run ([`crate::simulate`]), runs the whole on-disk chain on it and compares the
/// per-board resolutions with the truth (hep-demo's main job).
///
/// # Errors
/// Simulation, I/O and chain errors.
pub fn run_demo(opts: &DemoOptions) -> Result<DemoReport> {
    let (base, temporary) = match &opts.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("etroc-demo-{}-{}", std::process::id(), opts.seed)),
            true,
        ),
    };
    let result = (|| {
        let cfg = BeamSimConfig {
            seed: opts.seed,
            n_events: opts.events,
            ..BeamSimConfig::default()
        };
        let (txt, _, truth) = write_beam_run(&base.join("input"), &cfg)?;
        let run_dir = base.join("run");
        let chain = BeamChainOptions {
            twc: TwcOptions {
                iterations: opts.iterations,
                order: opts.order,
                ..TwcOptions::default()
            },
            ..BeamChainOptions::default()
        };
        let t = Instant::now();
        let report = run_beam(&txt, &run_dir, &chain)?;
        let secs = t.elapsed().as_secs_f64();
        if opts.plots {
            let run = RunDir::open(&run_dir)?;
            crate::analysis_plots::plot_times(&run, "png", None, None)?;
            crate::analysis_plots::plot_twc(&run, "png")?;
            crate::analysis_plots::plot_resolution(&run, "png")?;
        }
        Ok(DemoReport {
            events_simulated: truth.n_complete_events,
            events_built: report.events,
            events_used: report.events_final,
            iterations: opts.iterations,
            boards: compare_with_truth(&report, &truth),
            chain_seconds: secs,
            run_dir,
        })
    })();
    if temporary {
        let _ = std::fs::remove_dir_all(&base);
    }
    result
}
