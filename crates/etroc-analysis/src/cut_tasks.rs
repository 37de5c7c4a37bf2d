//! The tasks `apply_event_cuts` and `apply_time_cuts` on a run directory (the originals'
//! `cut_etroc1_single_run.py` and `cut_times_in_ns.py` as steps of a run): read the cut file,
//! apply it with [`crate::cuts`], write the cut-flow table, the filters and a backup of the cut
//! file, draw the cut-flow plots ([`crate::ingest_plots`]) and record everything in the task's
//! manifest. The computation lives in [`crate::cuts`]; this module only orchestrates it.

use std::path::{Path, PathBuf};

use crate::cuts::*;
use crate::error::Result;
use crate::rundir::{RunDir, names};
use crate::store::{self, EVENT_FILTER_FILE, TIME_FILTER_FILE};

/// The common end of both cut tasks: the outputs of [`write_cut_outputs`], then the cutflow
/// plots in each requested format (none if `plots` is empty), each file recorded once.
#[allow(clippy::too_many_arguments)]
fn finish_cut_task(
    task: &mut crate::rundir::Task,
    run: &RunDir,
    cut_file: &Path,
    result: CutResult,
    filter_file: &str,
    source: Option<&store::FilterSource>,
    plots: &[crate::plot_format::PlotFormat],
    plot: impl Fn(&mut crate::rundir::Task, &CutResult, &str) -> Result<Vec<PathBuf>>,
) -> Result<CutReport> {
    let mut outputs = write_cut_outputs(task, run, cut_file, &result, filter_file, source)?;
    if !plots.is_empty() {
        for f in crate::plot_format::normalised_formats(plots) {
            outputs.extend(plot(task, &result, f.extension())?);
        }
    }
    // Dense plots are PNG in every format pass: record each file once.
    let mut seen = std::collections::HashSet::new();
    outputs.retain(|p| seen.insert(p.clone()));
    task.add_outputs(outputs.iter().cloned());
    Ok(CutReport {
        events: result.filter.len(),
        accepted: result.filter.n_accepted(),
        result,
        outputs,
    })
}

fn write_cut_outputs(
    task: &mut crate::rundir::Task,
    run: &RunDir,
    cut_file: &Path,
    result: &CutResult,
    filter_file: &str,
    source: Option<&store::FilterSource>,
) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let backup = task.path(CUTS_BACKUP_FILE);
    let bytes = std::fs::read(cut_file).map_err(|e| hep_core::Error::io(cut_file, e))?;
    hep_core::io::atomic_write_bytes(&backup, &bytes)?;
    out.push(backup);
    let events = result.filter.len();
    let rows: Vec<CutflowRow<'_>> = result
        .steps
        .iter()
        .map(|s| CutflowRow {
            index: s.index,
            cut: &s.description,
            output: s.output.as_deref().unwrap_or(""),
            passed_alone: s.passed_alone,
            accepted_cumulative: s.filter.n_accepted(),
            events,
        })
        .collect();
    let cutflow = task.path(CUTFLOW_FILE);
    if rows.is_empty() {
        // No cut rows: the table still has its header, so that CSV readers see an empty table
        // rather than an empty file.
        hep_core::io::atomic_write_bytes(&cutflow, CUTFLOW_HEADER.as_bytes())?;
    } else {
        hep_core::io::write_csv(&cutflow, &rows)?;
    }
    out.push(cutflow);
    for s in &result.steps {
        if let Some(name) = &s.output {
            let dir = task.path(CUTFLOW_DIR).join(format!("{}-{name}", s.index));
            std::fs::create_dir_all(&dir).map_err(|e| hep_core::Error::io(&dir, e))?;
            let f = dir.join(filter_file);
            store::write_filter_from(&f, &s.filter, source)?;
            out.push(f);
        }
    }
    let f = task.path(filter_file);
    store::write_filter_from(&f, &result.filter, source)?;
    out.push(f);
    let root = run.path().join(filter_file);
    store::write_filter_from(&root, &result.filter, source)?;
    out.push(root);
    Ok(out)
}

/// The task `apply_event_cuts` (`cut_etroc1_single_run.py`): needs a completed ingest; reads the
/// hit table `<run>/data/etroc1_data.parquet` and the cut file, writes `event_filter.fd` to the
/// task directory and the run root, `cuts.backup.csv`, `cutflow.csv` and, for each row with an
/// `output`, `CutflowPlots/<index>-<output>/event_filter.fd` (the cumulative filter).
///
/// # Errors
///
/// [`crate::Error::TaskNotCompleted`] without a completed ingest; [`crate::Error::MissingFile`] without a cut
/// file; the errors of [`read_event_cuts`] and [`apply_event_cuts`]. A failure is recorded in the
/// task report.
pub fn run_event_cuts(run: &RunDir, options: &CutOptions) -> Result<CutReport> {
    let cut_file = options
        .cut_file
        .clone()
        .unwrap_or_else(|| run.path().join(EVENT_CUTS_FILE));
    run.run_task(
        names::APPLY_EVENT_CUTS,
        &[names::ANY_INGEST],
        options.drop_old,
        |task| {
            task.set_configuration(options)?;
            let cuts = read_event_cuts(&cut_file)?;
            task.add_input(&cut_file)?;
            let table = run.read_table(&run.data_dir(), store::HITS_TABLE)?;
            let source = match store::table_source(&run.data_dir(), store::HITS_TABLE) {
                Some(src) => {
                    task.add_input(&src)?;
                    Some(filter_source(run, &src)?)
                }
                None => None,
            };
            let result = apply_event_cuts(&table, &cuts, options.keep_nan, Some(&cut_file))?;
            finish_cut_task(
                task,
                run,
                &cut_file,
                result,
                EVENT_FILTER_FILE,
                source.as_ref(),
                &options.plots,
                |task, result, ext| {
                    crate::ingest_plots::plot_event_cutflow(run, task, &table, result, ext)
                },
            )
        },
    )
}

/// The task `apply_time_cuts` (`cut_times_in_ns.py`): needs `calculate_times_in_ns`; reads its hit
/// table `<run>/calculate_times_in_ns/etroc1_data.parquet` and the time cut file, writes
/// `time_filter.fd` (task directory and run root), `cuts.backup.csv`, `cutflow.csv` and, for each
/// row with an `output`, `CutflowPlots/<index>-<output>/time_filter.fd` (cumulative), which are the
/// steps of the resolution analysis ([`time_cut_steps`]).
///
/// # Errors
///
/// As [`run_event_cuts`], with [`read_time_cuts`] and [`apply_time_cuts`].
pub fn run_time_cuts(run: &RunDir, options: &CutOptions) -> Result<CutReport> {
    let cut_file = options
        .cut_file
        .clone()
        .unwrap_or_else(|| run.path().join(TIME_CUTS_FILE));
    run.run_task(
        names::APPLY_TIME_CUTS,
        &[names::CALCULATE_TIMES_IN_NS],
        options.drop_old,
        |task| {
            task.set_configuration(options)?;
            let cuts = read_time_cuts(&cut_file)?;
            task.add_input(&cut_file)?;
            let dir = run.task_dir(names::CALCULATE_TIMES_IN_NS);
            let table = run.read_table(&dir, store::HITS_TABLE)?;
            let source = match store::table_source(&dir, store::HITS_TABLE) {
                Some(src) => {
                    task.add_input(&src)?;
                    Some(filter_source(run, &src)?)
                }
                None => None,
            };
            let result = apply_time_cuts(&table, &cuts, options.keep_nan, Some(&cut_file))?;
            finish_cut_task(
                task,
                run,
                &cut_file,
                result,
                TIME_FILTER_FILE,
                source.as_ref(),
                &options.plots,
                |task, result, ext| {
                    crate::ingest_plots::plot_time_cutflow(run, task, &table, result, ext, options)
                },
            )
        },
    )
}
