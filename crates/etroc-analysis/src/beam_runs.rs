//! Several beam runs in one job (`run-beams`): every beam txt summary through the whole chain of
//! [`run_beam`](crate::pipeline::run_beam) into its own run directory `<out>/<run>/`, and one table of the time resolutions of
//! all runs, `<out>/beam_runs_resolution.csv`.
//!
//! # Scale-out
//!
//! The units are the runs, in the order the files are given. With a shard `I/N`
//! ([`run_beams_shard`]) the job runs the block [`Shard::range`] of them into
//! `<out>/shards/<I>-of-<N>/<run>/`, records each run's result in the shard's `results.json`, and
//! writes the shard manifest last. [`merge_beam_run_shards`] checks the shards with hep-core's
//! `collect_shards`, links (or copies) their run directories into `<out>/` and writes the summary
//! table from the recorded results: the same data files as one process running every run.
//!
//! A run whose chain fails is recorded (with its error) and the others go on; the run names are
//! the file stems and must be distinct.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hep_core::shard::{Shard, ShardManifest};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pipeline::{BEAM_CHAIN_TASKS, BeamChainOptions, run_beam_with_progress};
use crate::resolution::ResolutionRow;
use hep_core::progress::{NoProgress, Progress};

/// Job name of `run-beams` (in every shard manifest).
pub const BEAM_RUNS_JOB: &str = "etroc-analysis run-beams";
/// The summary table of all runs, in the job's output directory.
pub const BEAM_RUNS_SUMMARY: &str = "beam_runs_resolution.csv";
/// File of a shard directory with its runs' results.
const SHARD_RESULTS_FILE: &str = "results.json";
/// Key of the job's options in the shard manifest.
const OPTIONS_KEY: &str = "options";

/// The outcome of one run of a `run-beams` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeamRunResult {
    /// Run name (the input file's stem; also its directory below the output).
    pub run: String,
    /// Events built, accepted by the event cuts, and by event and time cuts (`None` on failure).
    pub events: Option<[usize; 3]>,
    /// The resolution rows of the run (all steps and iterations; empty on failure).
    pub resolution: Vec<ResolutionRow>,
    /// The error that stopped the run's chain, if one did.
    pub error: Option<String>,
}

/// The run names of `files` (their stems), checked to be present and distinct.
///
/// # Errors
/// [`Error::InvalidArgument`] for an empty list, a path without a file name, or two files with
/// the same stem (their run directories would collide).
pub fn run_names(files: &[PathBuf]) -> Result<Vec<String>> {
    if files.is_empty() {
        return Err(Error::InvalidArgument(
            "run-beams needs at least one beam txt file".into(),
        ));
    }
    let mut seen = BTreeSet::new();
    files
        .iter()
        .map(|f| {
            let name = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    Error::InvalidArgument(format!("{}: not a file name", f.display()))
                })?;
            if !seen.insert(name.clone()) {
                return Err(Error::InvalidArgument(format!(
                    "{}: a second file with the run name `{name}`; run names are the file stems and must be distinct",
                    f.display()
                )));
            }
            Ok(name)
        })
        .collect()
}

/// Runs the chain on each of `files` into `<base>/<run>/` in order; a failing run is recorded.
fn run_each(
    files: &[PathBuf],
    names: &[String],
    base: &Path,
    opts: &BeamChainOptions,
    progress: &dyn Progress,
) -> Vec<BeamRunResult> {
    files
        .iter()
        .zip(names)
        .enumerate()
        .map(|(i, (file, run))| {
            tracing::info!(run = %run, input = %file.display(), index = i + 1, runs = files.len(), "beam run");
            // A counter of the tasks of this run, so that a failed run still advances by all of them.
            let done = std::sync::atomic::AtomicU64::new(0);
            let counted = Counted { inner: progress, done: &done };
            let r = run_beam_with_progress(file, &base.join(run), opts, &counted);
            let left = BEAM_CHAIN_TASKS.saturating_sub(done.load(std::sync::atomic::Ordering::Relaxed));
            if left > 0 {
                progress.advance(left);
            }
            match r {
                Ok(r) => BeamRunResult {
                    run: run.clone(),
                    events: Some([r.events, r.events_accepted, r.events_final]),
                    resolution: r.resolution,
                    error: None,
                },
                Err(e) => BeamRunResult {
                    run: run.clone(),
                    events: None,
                    resolution: Vec::new(),
                    error: Some(e.to_string()),
                },
            }
        })
        .collect()
}

/// Passes the advances on to `inner` and counts them.
struct Counted<'a> {
    inner: &'a dyn Progress,
    done: &'a std::sync::atomic::AtomicU64,
}

impl Progress for Counted<'_> {
    fn advance(&self, n: u64) {
        self.done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        self.inner.advance(n);
    }
}

/// Checks the inputs before anything is written: names distinct, every file present.
fn check_inputs(files: &[PathBuf]) -> Result<Vec<String>> {
    let names = run_names(files)?;
    for f in files {
        if !f.is_file() {
            return Err(Error::MissingFile {
                path: f.clone(),
                what: "beam txt summary".into(),
            });
        }
    }
    Ok(names)
}

/// Runs every file of `files` through the beam chain into `<out>/<run>/` and writes
/// `<out>/beam_runs_resolution.csv`. `out` is created if missing; the run directories must not
/// exist.
///
/// # Errors
/// Invalid or missing inputs (before anything is written); I/O errors of the summary. A failing
/// run is recorded in the results and the table, not returned.
pub fn run_beams(
    files: &[PathBuf],
    out: &Path,
    opts: &BeamChainOptions,
) -> Result<Vec<BeamRunResult>> {
    run_beams_with_progress(files, out, opts, &NoProgress)
}

/// [`run_beams`] with progress: [`BEAM_CHAIN_TASKS`] units of `progress` per run (a failed run
/// advances by its remaining tasks at once). The caller calls `progress.start` and `finish`.
///
/// # Errors
/// As [`run_beams`].
pub fn run_beams_with_progress(
    files: &[PathBuf],
    out: &Path,
    opts: &BeamChainOptions,
    progress: &dyn Progress,
) -> Result<Vec<BeamRunResult>> {
    let names = check_inputs(files)?;
    std::fs::create_dir_all(out).map_err(|e| hep_core::Error::io(out, e))?;
    let results = run_each(files, &names, out, opts, progress);
    let mut manifest =
        hep_core::manifest::Manifest::start(BEAM_RUNS_JOB, env!("CARGO_PKG_VERSION"))
            .with_configuration(opts)?;
    for f in files {
        manifest.add_input(f)?;
    }
    write_summary(&out.join(BEAM_RUNS_SUMMARY), &results, manifest)?;
    Ok(results)
}

/// Shard `shard` of a `run-beams` job: the block [`Shard::range`] of `files` into
/// `<out>/shards/<I>-of-<N>/<run>/`, their results, then the shard manifest (last; an earlier one
/// is removed first). Every shard records the digests of all inputs, so shards of different jobs
/// are not merged together.
///
/// # Errors
/// As [`run_beams`].
pub fn run_beams_shard(
    files: &[PathBuf],
    out: &Path,
    opts: &BeamChainOptions,
    shard: Shard,
) -> Result<Vec<BeamRunResult>> {
    run_beams_shard_with_progress(files, out, opts, shard, &NoProgress)
}

/// [`run_beams_shard`] with progress, as [`run_beams_with_progress`] for the shard's runs.
///
/// # Errors
/// As [`run_beams`].
pub fn run_beams_shard_with_progress(
    files: &[PathBuf],
    out: &Path,
    opts: &BeamChainOptions,
    shard: Shard,
    progress: &dyn Progress,
) -> Result<Vec<BeamRunResult>> {
    let names = check_inputs(files)?;
    let dir = shard.prepare_dir(out)?;
    let mut m = ShardManifest::start(
        BEAM_RUNS_JOB,
        env!("CARGO_PKG_VERSION"),
        BEAM_RUNS_JOB,
        &(files, opts),
        shard,
        files.len(),
    )?;
    for f in files {
        m.add_input(f)?;
    }
    m.details.insert(
        OPTIONS_KEY.into(),
        serde_json::to_string(opts).map_err(hep_core::Error::from)?,
    );
    let range = shard.range(files.len());
    // A rerun of the shard replaces its runs.
    for run in &names[range.clone()] {
        let d = dir.join(run);
        if d.exists() {
            std::fs::remove_dir_all(&d).map_err(|e| hep_core::Error::io(&d, e))?;
        }
    }
    let results = run_each(&files[range.clone()], &names[range], &dir, opts, progress);
    let json = serde_json::to_vec_pretty(&results).map_err(hep_core::Error::from)?;
    hep_core::io::atomic_write_bytes(&dir.join(SHARD_RESULTS_FILE), &json)?;
    m.add_output(&dir, SHARD_RESULTS_FILE)?;
    m.write(&dir)?;
    Ok(results)
}

/// Joins the shards of a `run-beams` job in `out`: checks them
/// ([`hep_core::shard::collect_shards`]), links (or copies) their run directories into `out`, and
/// writes the summary table, giving the data files of a single-process run.
///
/// # Errors
/// [`Error::Core`] wrapping [`hep_core::Error::Shard`] for missing, incomplete or foreign shards;
/// [`Error::Run`] if a run directory exists in `out` already (merged before); I/O errors.
pub fn merge_beam_run_shards(out: &Path) -> Result<Vec<BeamRunResult>> {
    let shards = hep_core::shard::collect_shards(out, BEAM_RUNS_JOB)?;
    let mut results = Vec::new();
    for s in &shards {
        let path = s.output(SHARD_RESULTS_FILE);
        let bytes = std::fs::read(&path).map_err(|e| hep_core::Error::io(&path, e))?;
        let part: Vec<BeamRunResult> = serde_json::from_slice(&bytes)
            .map_err(|e| Error::InvalidArgument(format!("{}: {e}", path.display())))?;
        results.extend(part.into_iter().map(|r| (s.dir.clone(), r)));
    }
    for (_, r) in &results {
        let target = out.join(&r.run);
        if target.exists() {
            return Err(Error::Run {
                path: target,
                message: "exists: the shards were merged already".into(),
            });
        }
    }
    for (dir, r) in &results {
        let src = dir.join(&r.run);
        if src.is_dir() {
            hep_core::io::link_tree(&src, out.join(&r.run))?;
        }
    }
    let results: Vec<BeamRunResult> = results.into_iter().map(|(_, r)| r).collect();
    let mut manifest =
        hep_core::manifest::Manifest::start(BEAM_RUNS_JOB, env!("CARGO_PKG_VERSION"));
    if let Some(o) = shards[0].manifest.details.get(OPTIONS_KEY) {
        let opts: BeamChainOptions = serde_json::from_str(o)
            .map_err(|e| Error::InvalidArgument(format!("{}: {e}", shards[0].dir.display())))?;
        manifest = manifest.with_configuration(&opts)?;
    }
    for d in &shards[0].manifest.inputs {
        if d.path.is_file() {
            manifest.add_input(&d.path)?;
        }
    }
    for s in &shards {
        manifest.add_input(s.dir.join(hep_core::shard::SHARD_MANIFEST))?;
    }
    write_summary(&out.join(BEAM_RUNS_SUMMARY), &results, manifest)?;
    Ok(results)
}

/// One row of the summary table.
#[derive(Serialize)]
struct SummaryRow<'a> {
    run: &'a str,
    status: &'a str,
    events: Option<usize>,
    events_accepted: Option<usize>,
    events_final: Option<usize>,
    step_order: Option<i64>,
    step_name: Option<&'a str>,
    twc_iteration: Option<usize>,
    data_board_id: Option<i64>,
    /// N-board estimate (ps).
    time_resolution_ps: Option<f64>,
    time_resolution_unc_ps: Option<f64>,
    /// Pairwise 3-board estimate (ps).
    time_resolution_pairwise_ps: Option<f64>,
    time_resolution_pairwise_unc_ps: Option<f64>,
    n_events: Option<usize>,
    flag: Option<&'a str>,
    error: Option<&'a str>,
}

/// `Some(x)` for a finite value, `None` (an empty field) otherwise.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Writes the summary table and its provenance manifest: per run and resolution row, the event
/// counts and the N-board and pairwise resolutions in ps (NaN estimates as empty fields); a failed
/// run gets one row with `status = failed` and its error.
fn write_summary(
    path: &Path,
    results: &[BeamRunResult],
    mut manifest: hep_core::manifest::Manifest,
) -> Result<()> {
    let err = |e: csv::Error| hep_core::Error::io(path, std::io::Error::other(e));
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in results {
        let [ev, acc, fin] = r.events.map_or([None; 3], |e| e.map(Some));
        let base = SummaryRow {
            run: &r.run,
            status: if r.error.is_some() { "failed" } else { "ok" },
            events: ev,
            events_accepted: acc,
            events_final: fin,
            step_order: None,
            step_name: None,
            twc_iteration: None,
            data_board_id: None,
            time_resolution_ps: None,
            time_resolution_unc_ps: None,
            time_resolution_pairwise_ps: None,
            time_resolution_pairwise_unc_ps: None,
            n_events: None,
            flag: None,
            error: r.error.as_deref(),
        };
        if r.resolution.is_empty() {
            w.serialize(&base).map_err(err)?;
        }
        for row in &r.resolution {
            w.serialize(SummaryRow {
                step_order: Some(row.step_order),
                step_name: Some(&row.step_name),
                twc_iteration: Some(row.twc_iteration),
                data_board_id: Some(row.data_board_id),
                time_resolution_ps: finite(row.time_resolution_new * 1e3),
                time_resolution_unc_ps: finite(row.time_resolution_new_unc * 1e3),
                time_resolution_pairwise_ps: finite(row.time_resolution * 1e3),
                time_resolution_pairwise_unc_ps: finite(row.time_resolution_unc * 1e3),
                n_events: Some(row.n_events),
                flag: Some(&row.flag),
                ..base
            })
            .map_err(err)?;
        }
    }
    let bytes = w
        .into_inner()
        .map_err(|e| hep_core::Error::io(path, std::io::Error::other(e.to_string())))?;
    hep_core::io::atomic_write_bytes(path, &bytes)?;
    manifest.add_output(path)?;
    manifest.finish();
    manifest.write_sidecar(path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_are_stems_and_distinct() {
        let files = vec![PathBuf::from("a/run1.txt"), PathBuf::from("b/run2.txt")];
        assert_eq!(run_names(&files).unwrap(), ["run1", "run2"]);
        let dup = vec![PathBuf::from("a/run1.txt"), PathBuf::from("b/run1.txt")];
        let e = run_names(&dup).unwrap_err().to_string();
        assert!(e.contains("b/run1.txt") && e.contains("`run1`"), "{e}");
        assert!(run_names(&[]).is_err());
    }
}
