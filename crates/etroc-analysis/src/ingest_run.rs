//! The ingest tasks on run directories: single beam and charge-injection runs
//! (`process_etroc1_single_run_txt.py`, `process_etroc1_single_charge_injection_run.py`) and the
//! charge-injection directory processing with its merge
//! (`process_etroc1_charge_injection_data_dir.py`).
//!
//! * [`process_txt`]: new run, task `proccess_etroc1_data_run_txt`, hits in
//!   `<run>/data/etroc1_data.parquet` and `<run>/data/data.sqlite` (table `etroc1_data`), the
//!   input copied to `<task>/original_data/`.
//! * [`process_dat`]: the same for a charge-injection `.dat` (task `proccess_etroc1_data_run`).
//! * [`process_charge_injection_dir`]: task `process_etroc1_data_directory` (one individual run
//!   per `*Split_0.*` file under `Individual_Runs/<name>/`, each with the default cut
//!   `#,calibration_code,<,200` applied), then [`merge_runs`] (task `merge_etroc1_runs`, table
//!   `combined_etroc1_data`).
//! * [`reprocess_charge_injection_dir`]: re-applies each individual run's (possibly edited)
//!   `cuts.csv` and merges again; the original forgot to re-apply the cuts (its
//!   `reprocess_etroc1_charge_injection_data_dir.py` empties its run list before the cut step).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Int8Array, Int16Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use hep_core::shard::{Shard, ShardManifest};
use rayon::prelude::*;
use serde::Serialize;

use crate::cuts::{self, CutOptions};
use crate::error::{Error, Result};
use crate::ingest::{self, ChargeInjectionFileName, Hits, IngestOptions, IngestSummary};
use crate::rundir::{RunDir, names};
use crate::store::{self, DATA_SQLITE, HITS_TABLE, TableOutput};

/// The input format of an ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum InputFormat {
    /// Beam txt summary (FNAL converter).
    BeamTxt,
    /// Charge-injection Split `.dat` (ETROC-DAQ).
    SplitDat,
    /// Raw 32-bit words (ETROC-DAQ).
    RawWords,
}

/// Options of the ingest tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessOptions {
    /// Parsing and event building.
    pub ingest: IngestOptions,
    /// Input format.
    pub format: InputFormat,
    /// Also write the SQLite database (`data/data.sqlite`); default true.
    pub sqlite: bool,
    /// Copy the input into `<task>/original_data/` as the original does; default true.
    pub copy_input: bool,
}

impl ProcessOptions {
    /// Defaults of `process_etroc1_single_run_txt.py`.
    pub fn beam_txt() -> Self {
        Self {
            ingest: IngestOptions::beam_txt(),
            format: InputFormat::BeamTxt,
            sqlite: true,
            copy_input: true,
        }
    }

    /// Defaults of `process_etroc1_single_charge_injection_run.py`.
    pub fn charge_injection() -> Self {
        Self {
            ingest: IngestOptions::charge_injection(),
            format: InputFormat::SplitDat,
            sqlite: true,
            copy_input: true,
        }
    }
}

/// Result of an ingest task.
#[derive(Debug, Clone)]
pub struct ProcessReport {
    /// The run.
    pub run: RunDir,
    /// Counts.
    pub summary: IngestSummary,
    /// The hits as stored.
    pub hits: Hits,
    /// Files written.
    pub outputs: Vec<PathBuf>,
}

/// Ingests a beam txt into a new run at `run_path` (which must not exist), task
/// `proccess_etroc1_data_run_txt`.
///
/// # Errors
///
/// [`Error::MissingFile`] if `input` does not exist (no run is created then); [`Error::Run`] if
/// `run_path` exists; the errors of [`ingest::read_beam_txt`] (recorded in the task report).
pub fn process_txt(
    input: &Path,
    run_path: &Path,
    options: &ProcessOptions,
) -> Result<ProcessReport> {
    // Check the input before creating the run, so that a mistyped path leaves no directory.
    check_input(input)?;
    let run = RunDir::create(run_path)?;
    process_into(&run, input, names::PROCESS_TXT, options)
}

/// Ingests a charge-injection `.dat` (or raw-word file, per `options.format`) into a new run at
/// `run_path`, task `proccess_etroc1_data_run`.
///
/// # Errors
///
/// As [`process_txt`].
pub fn process_dat(
    input: &Path,
    run_path: &Path,
    options: &ProcessOptions,
) -> Result<ProcessReport> {
    // Check the input before creating the run, so that a mistyped path leaves no directory.
    check_input(input)?;
    let run = RunDir::create(run_path)?;
    process_into(&run, input, names::PROCESS_DAT, options)
}

fn check_input(input: &Path) -> Result<()> {
    if input.is_file() {
        Ok(())
    } else {
        Err(Error::MissingFile {
            path: input.to_path_buf(),
            what: "input file".into(),
        })
    }
}

/// Runs an ingest task `task_name` of `input` into the existing run `run`.
///
/// # Errors
///
/// [`Error::MissingFile`] if `input` does not exist; the parse errors of [`ingest`].
pub fn process_into(
    run: &RunDir,
    input: &Path,
    task_name: &str,
    options: &ProcessOptions,
) -> Result<ProcessReport> {
    run.run_task(task_name, &[], true, |task| {
        task.set_configuration(options)?;
        check_input(input)?;
        let (hits, summary) = match options.format {
            InputFormat::BeamTxt => ingest::read_beam_txt(input, &options.ingest)?,
            InputFormat::SplitDat => ingest::read_charge_injection_dat(input, &options.ingest)?,
            InputFormat::RawWords => ingest::read_raw_words(input, &options.ingest)?,
        };
        // The copy (only of an input that parsed) hashes the input on the way, so recording the
        // input and the copy in the manifest reads nothing more.
        let copy = if options.copy_input {
            let dir = task.path("original_data");
            std::fs::create_dir_all(&dir).map_err(|e| hep_core::Error::io(&dir, e))?;
            let copy = dir.join(input.file_name().unwrap_or_default());
            hep_core::io::copy_file(input, &copy)?;
            Some(copy)
        } else {
            None
        };
        task.add_input(input)?;
        let batch = hits.to_record_batch();
        let mut outputs = run.write_tables(
            &run.data_dir(),
            options.sqlite.then_some(DATA_SQLITE),
            &[TableOutput {
                table: HITS_TABLE,
                batch: &batch,
                indexes: &[],
            }],
        )?;
        outputs.extend(copy);
        task.add_outputs(outputs.iter().cloned());
        Ok(ProcessReport {
            run: run.clone(),
            summary,
            hits,
            outputs,
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Charge-injection directory (`process_etroc1_charge_injection_data_dir.py`)
// ---------------------------------------------------------------------------------------------

pub use crate::store::{COMBINED_TABLE, DEFAULT_CHARGE_INJECTION_CUTS, INDIVIDUAL_RUNS_DIR};

/// Options of the charge-injection directory processing (those of
/// `process_etroc1_charge_injection_data_dir.py`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct DirOptions {
    /// Keep hit_flag 0 (`-k`).
    pub keep_all: bool,
    /// Default thresholds (DAC) of boards 0, 1, 3 (`-b0/-b1/-b3`, 535/720/720).
    pub default_thresholds: [i16; 3],
    /// Reconcile the merged rows with the scanned board (`-f`, off by default).
    pub filter_default: bool,
    /// Trigger board (`-t`, default 0).
    pub trigger_board: u8,
    /// Also write SQLite databases.
    pub sqlite: bool,
}

impl Default for DirOptions {
    fn default() -> Self {
        Self {
            keep_all: false,
            default_thresholds: [535, 720, 720],
            filter_default: false,
            trigger_board: 0,
            sqlite: true,
        }
    }
}

/// One individual run of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndividualRun {
    /// Run name (the file name without `_Split_0.dat`).
    pub name: String,
    /// Hits ingested (after the flag filter), or the error message.
    pub outcome: std::result::Result<u64, String>,
}

/// Result of the directory processing.
#[derive(Debug, Clone)]
pub struct DirReport {
    /// The individual runs, sorted by name.
    pub runs: Vec<IndividualRun>,
    /// The merge.
    pub merge: MergeReport,
}

/// Result of the merge.
#[derive(Debug, Clone)]
pub struct MergeReport {
    /// The `combined_etroc1_data` table.
    pub combined: RecordBatch,
    /// Individual runs that could not be merged, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Warnings (reconciliation with more than one row left, ...).
    pub warnings: Vec<String>,
}

/// True for a `*Split_0.<ext>` file with a 3-character extension (the original keeps paths
/// ending in `Split_0` plus 4 characters).
fn is_split0(name: &str) -> bool {
    name.len() > 12
        && name.is_char_boundary(name.len() - 4)
        && name[..name.len() - 4].ends_with("_Split_0")
        && name.as_bytes()[name.len() - 4] == b'.'
}

/// Processes a charge-injection scan directory into the run `run` (task
/// `process_etroc1_data_directory`, then [`merge_runs`]). Individual runs are processed in
/// parallel; one that fails is recorded (its own task report says why) and skipped by the merge.
///
/// # Errors
///
/// [`Error::MissingFile`] if `input_dir` is not a directory; I/O errors; the merge's errors.
pub fn process_charge_injection_dir(
    input_dir: &Path,
    run: &RunDir,
    options: &DirOptions,
) -> Result<DirReport> {
    let runs = run.run_task(names::PROCESS_DIRECTORY, &[], true, |task| {
        task.set_configuration(options)?;
        if !input_dir.is_dir() {
            return Err(Error::MissingFile {
                path: input_dir.to_path_buf(),
                what: "charge-injection data directory".into(),
            });
        }
        let files = charge_injection_files(input_dir)?;
        let results =
            process_individual_runs(&files, &run.path().join(INDIVIDUAL_RUNS_DIR), options)?;
        for f in &files {
            task.add_input(f)?;
        }
        list_run_outputs(task, run, &results);
        Ok(results)
    })?;
    let merge = merge_runs(run, options)?;
    Ok(DirReport { runs, merge })
}

/// The charge-injection files of a scan directory (`*Split_0.dat`), sorted by name: the units
/// of a sharded `process-dir`.
///
/// # Errors
///
/// [`Error::MissingFile`] if `input_dir` is not a directory; I/O errors.
pub fn charge_injection_files(input_dir: &Path) -> Result<Vec<PathBuf>> {
    if !input_dir.is_dir() {
        return Err(Error::MissingFile {
            path: input_dir.to_path_buf(),
            what: "charge-injection data directory".into(),
        });
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(input_dir)
        .map_err(|e| hep_core::Error::io(input_dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_split0(&p.file_name().unwrap_or_default().to_string_lossy()))
        .collect();
    files.sort();
    Ok(files)
}

/// Processes each file into `<base>/<name>/` in parallel; a failure is recorded, not returned.
fn process_individual_runs(
    files: &[PathBuf],
    base: &Path,
    options: &DirOptions,
) -> Result<Vec<IndividualRun>> {
    std::fs::create_dir_all(base).map_err(|e| hep_core::Error::io(base, e))?;
    Ok(files
        .par_iter()
        .map(|f| {
            let file_name = f
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let name = file_name[..file_name.len() - 12].to_string();
            let outcome =
                process_individual(f, &base.join(&name), options).map_err(|e| e.to_string());
            IndividualRun { name, outcome }
        })
        .collect())
}

/// Job name of a sharded `process-dir` (in every shard manifest).
pub const CHARGE_INJECTION_JOB: &str = "etroc-analysis process-dir";
/// File of a shard directory with its runs' outcomes.
const SHARD_OUTCOMES_FILE: &str = "outcomes.json";

#[derive(Serialize, serde::Deserialize)]
struct OutcomeRecord {
    name: String,
    hits: Option<u64>,
    error: Option<String>,
}

/// Shard `shard` of a `process-dir` of `input_dir`: the block [`Shard::range`] of
/// [`charge_injection_files`] processed into `<out>/shards/<I>-of-<N>/Individual_Runs/`, then
/// the shard manifest (last). Every shard records the digests of all files of the scan, so shards
/// of different scans are not merged together.
///
/// # Errors
///
/// [`Error::MissingFile`] for a missing input directory; I/O errors. A failing individual run is
/// recorded in the shard, not returned.
pub fn process_charge_injection_shard(
    input_dir: &Path,
    out: &Path,
    options: &DirOptions,
    shard: Shard,
) -> Result<Vec<IndividualRun>> {
    let files = charge_injection_files(input_dir)?;
    let dir = shard.prepare_dir(out)?;
    let mut m = ShardManifest::start(
        CHARGE_INJECTION_JOB,
        env!("CARGO_PKG_VERSION"),
        CHARGE_INJECTION_JOB,
        options,
        shard,
        files.len(),
    )?;
    for f in &files {
        m.add_input(f)?;
    }
    m.details.insert(
        "options".into(),
        serde_json::to_string(options).map_err(hep_core::Error::from)?,
    );
    let range = shard.range(files.len());
    let runs = process_individual_runs(&files[range], &dir.join(INDIVIDUAL_RUNS_DIR), options)?;
    let records: Vec<OutcomeRecord> = runs
        .iter()
        .map(|r| OutcomeRecord {
            name: r.name.clone(),
            hits: r.outcome.as_ref().ok().copied(),
            error: r.outcome.as_ref().err().cloned(),
        })
        .collect();
    let json = serde_json::to_vec_pretty(&records).map_err(hep_core::Error::from)?;
    hep_core::io::atomic_write_bytes(&dir.join(SHARD_OUTCOMES_FILE), &json)?;
    m.add_output(&dir, SHARD_OUTCOMES_FILE)?;
    m.write(&dir)?;
    Ok(runs)
}

/// Joins the shards of a `process-dir` in `out` into the run `out` itself: checks them
/// ([`hep_core::shard::collect_shards`]), links (or copies) their individual runs into
/// `<out>/Individual_Runs/`, records the directory task and merges ([`merge_runs`]) with the
/// options the shards ran with, giving the data files of a single-process run.
///
/// # Errors
///
/// [`Error::Core`] wrapping [`hep_core::Error::Shard`] for missing, incomplete or foreign shards;
/// [`Error::Run`] if `out` was merged already; the merge's errors.
pub fn merge_charge_injection_shards(out: &Path) -> Result<DirReport> {
    let shards = hep_core::shard::collect_shards(out, CHARGE_INJECTION_JOB)?;
    let options: DirOptions = shards[0]
        .manifest
        .details
        .get("options")
        .and_then(|j| serde_json::from_str(j).ok())
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{}: shard manifest without the process-dir options",
                shards[0].dir.display()
            ))
        })?;
    let options = &options;
    let target = out.join(INDIVIDUAL_RUNS_DIR);
    if target.exists() {
        return Err(Error::Run {
            path: out.to_path_buf(),
            message: format!("{INDIVIDUAL_RUNS_DIR}/ exists: the shards were merged already"),
        });
    }
    let run = RunDir::open_or_create(out)?;
    let runs = run.run_task(names::PROCESS_DIRECTORY, &[], true, |task| {
        task.set_configuration(options)?;
        let mut runs = Vec::new();
        for s in &shards {
            let bytes = std::fs::read(s.output(SHARD_OUTCOMES_FILE))
                .map_err(|e| hep_core::Error::io(s.output(SHARD_OUTCOMES_FILE), e))?;
            let records: Vec<OutcomeRecord> = serde_json::from_slice(&bytes)
                .map_err(|e| Error::InvalidArgument(format!("{}: {e}", s.dir.display())))?;
            hep_core::io::link_tree(s.dir.join(INDIVIDUAL_RUNS_DIR), &target)?;
            runs.extend(records.into_iter().map(|r| IndividualRun {
                name: r.name,
                outcome: match (r.hits, r.error) {
                    (Some(h), None) => Ok(h),
                    (_, e) => Err(e.unwrap_or_default()),
                },
            }));
        }
        for d in &shards[0].manifest.inputs {
            if d.path.is_file() {
                task.add_input(&d.path)?;
            }
        }
        list_run_outputs(task, &run, &runs);
        Ok(runs)
    })?;
    let merge = merge_runs(&run, options)?;
    Ok(DirReport { runs, merge })
}

/// Lists the data of every processed individual run (hits table, SQLite database, event filter)
/// among the directory task's outputs; their sidecars stay those of the runs' own tasks.
fn list_run_outputs(task: &mut crate::rundir::Task, run: &RunDir, runs: &[IndividualRun]) {
    for r in runs.iter().filter(|r| r.outcome.is_ok()) {
        let dir = run.path().join(INDIVIDUAL_RUNS_DIR).join(&r.name);
        let files = [
            dir.join(store::DATA_DIR)
                .join(format!("{HITS_TABLE}.parquet")),
            dir.join(store::DATA_DIR).join(DATA_SQLITE),
            dir.join(store::EVENT_FILTER_FILE),
        ];
        for f in files.into_iter().filter(|f| f.is_file()) {
            task.add_listed_output(f);
        }
    }
}

fn process_individual(file: &Path, run_path: &Path, options: &DirOptions) -> Result<u64> {
    let run = RunDir::create(run_path)?;
    let popts = ProcessOptions {
        ingest: IngestOptions {
            keep_all: options.keep_all,
            add_extra_data: false,
            ..IngestOptions::charge_injection()
        },
        format: InputFormat::SplitDat,
        sqlite: options.sqlite,
        copy_input: false,
    };
    let report = process_into(&run, file, names::PROCESS_DAT, &popts)?;
    let cuts_file = run.path().join(cuts::EVENT_CUTS_FILE);
    crate::rundir::write_run_file(&cuts_file, DEFAULT_CHARGE_INJECTION_CUTS.as_bytes(), None)?;
    crate::cut_tasks::run_event_cuts(&run, &CutOptions::default())?;
    Ok(report.summary.hits_in_events)
}

/// Re-applies the per-run cuts of every individual run (their possibly edited `cuts.csv`) and
/// merges again: what `reprocess_etroc1_charge_injection_data_dir.py` was meant to do (the
/// original skipped the cuts).
///
/// # Errors
///
/// [`Error::Run`] if `run` has no individual runs; the merge's errors. A failing individual
/// cut is recorded in that run's report and the run is merged from its uncut data.
pub fn reprocess_charge_injection_dir(run: &RunDir, options: &DirOptions) -> Result<DirReport> {
    let individual = list_individual_runs(run)?;
    let runs: Vec<IndividualRun> = individual
        .par_iter()
        .map(|(name, path)| {
            let outcome = RunDir::open(path)
                .and_then(|r| crate::cut_tasks::run_event_cuts(&r, &CutOptions::default()))
                .map(|rep| rep.accepted as u64)
                .map_err(|e| e.to_string());
            IndividualRun {
                name: name.clone(),
                outcome,
            }
        })
        .collect();
    let merge = merge_runs(run, options)?;
    Ok(DirReport { runs, merge })
}

fn list_individual_runs(run: &RunDir) -> Result<Vec<(String, PathBuf)>> {
    let base = run.path().join(INDIVIDUAL_RUNS_DIR);
    if !base.is_dir() {
        return Err(Error::Run {
            path: run.path().to_path_buf(),
            message: format!("no {INDIVIDUAL_RUNS_DIR}/ directory: run process-dir first"),
        });
    }
    let mut runs: Vec<(String, PathBuf)> = std::fs::read_dir(&base)
        .map_err(|e| hep_core::Error::io(&base, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    runs.sort();
    Ok(runs)
}

/// Hits per board, `(board, hits)` sorted by board.
type BoardCounts = Vec<(u8, i64)>;

/// Hit counts per board of one individual run: `(board, hits)` sorted by board, the files
/// written on the way (the accepted hits in `data-filtered/`, when the run has completed cuts)
/// and the files read (hits table, event filter).
fn count_hits(run: &RunDir, sqlite: bool) -> Result<(BoardCounts, Vec<PathBuf>, Vec<PathBuf>)> {
    let table = run.read_table(&run.data_dir(), HITS_TABLE)?;
    let mut read: Vec<PathBuf> = store::table_source(&run.data_dir(), HITS_TABLE)
        .into_iter()
        .collect();
    let mut hits = Hits::from_record_batch(&table)?;
    let mut written = Vec::new();
    if run.task_completed(names::APPLY_EVENT_CUTS) {
        let filter_path = run.path().join(store::EVENT_FILTER_FILE);
        let filter = cuts::read_run_filter(run, &filter_path)?;
        read.push(filter_path);
        let sel = cuts::select_hits(&hits.event, &filter, None);
        // Keep the accepted hits and write them as the original does
        // (`data-filtered/data.sqlite`).
        hits.retain(&sel.accepted);
        written = run.write_tables(
            &run.path().join("data-filtered"),
            sqlite.then_some(DATA_SQLITE),
            &[TableOutput {
                table: HITS_TABLE,
                batch: &hits.to_record_batch(),
                indexes: &[],
            }],
        )?;
    }
    let mut counts = [0i64; 256];
    for &b in &hits.data_board_id {
        counts[usize::from(b)] += 1;
    }
    let counts = (0..=255u8)
        .filter(|&b| counts[usize::from(b)] > 0)
        .map(|b| (b, counts[usize::from(b)]))
        .collect();
    Ok((counts, written, read))
}

/// The merge task `merge_etroc1_runs`: counts the (cut-accepted) hits per board of
/// every individual run, optionally reconciles them with the scanned board (`-f`), attaches the
/// name metadata and writes `combined_etroc1_data(data_board_id, hits, phase_adjust, pixel_id,
/// board_injected_charge, board_discriminator_threshold)` to `merge_etroc1_runs/data.sqlite`
/// and `combined_etroc1_data.parquet`. Rows are ordered by run name, then board.
///
/// # Errors
///
/// [`Error::TaskNotCompleted`] if the directory processing did not complete; I/O and storage
/// errors. Individual runs that cannot be counted are skipped and listed in the report.
pub fn merge_runs(run: &RunDir, options: &DirOptions) -> Result<MergeReport> {
    run.run_task(
        names::MERGE_RUNS,
        &[names::PROCESS_DIRECTORY],
        true,
        |task| {
            task.set_configuration(options)?;
            let individual = list_individual_runs(run)?;
            type Rows = Vec<(u8, i64, ChargeInjectionFileName)>;
            type Files = (Vec<PathBuf>, Vec<PathBuf>);
            type Outcome = std::result::Result<(Rows, Vec<String>, Files), String>;
            let per_run: Vec<(String, Outcome)> = individual
                .par_iter()
                .map(|(name, path)| {
                    let r = (|| -> Result<(Rows, Vec<String>, Files)> {
                        let meta = ChargeInjectionFileName::parse(Path::new(name))?;
                        let sub = RunDir::open(path)?;
                        let either = format!("{}|{}", names::PROCESS_DAT, names::APPLY_EVENT_CUTS);
                        sub.check_requirements(names::MERGE_RUNS, &[&either])?;
                        let (counts, written, read) = count_hits(&sub, options.sqlite)?;
                        let (counts, warnings) = reconcile(counts, &meta, options, name);
                        Ok((
                            counts
                                .into_iter()
                                .map(|(b, h)| (b, h, meta.clone()))
                                .collect(),
                            warnings,
                            (written, read),
                        ))
                    })();
                    (name.clone(), r.map_err(|e| e.to_string()))
                })
                .collect();
            let mut rows: Rows = Vec::new();
            let mut skipped = Vec::new();
            let mut warnings = Vec::new();
            for (name, r) in per_run {
                match r {
                    Ok((r, w, (written, read))) => {
                        rows.extend(r);
                        warnings.extend(w);
                        for f in &read {
                            task.add_input(f)?;
                        }
                        // The sidecar of a run's accepted hits lists that run's inputs only.
                        for out in written {
                            task.add_output_from(out, read.clone());
                        }
                    }
                    Err(e) => skipped.push((name, e)),
                }
            }
            let combined = combined_batch(&rows);
            let outputs = run.write_tables(
                task.dir(),
                options.sqlite.then_some(DATA_SQLITE),
                &[TableOutput {
                    table: COMBINED_TABLE,
                    batch: &combined,
                    indexes: &[],
                }],
            )?;
            task.add_outputs(outputs);
            Ok(MergeReport {
                combined,
                skipped,
                warnings,
            })
        },
    )
}

/// The `-f` reconciliation of `process_etroc1_charge_injection_data_dir.py` (no-op unless
/// `filter_default`).
fn reconcile(
    mut counts: Vec<(u8, i64)>,
    meta: &ChargeInjectionFileName,
    options: &DirOptions,
    name: &str,
) -> (Vec<(u8, i64)>, Vec<String>) {
    let mut warnings = Vec::new();
    if !options.filter_default {
        return (counts, warnings);
    }
    let scanned = [0u8, 1, 3].into_iter().find(|&b| {
        let i = ingest::board_index(b);
        meta.boards[i].discriminator_threshold_dac != options.default_thresholds[i]
    });
    let Some(scanned) = scanned else {
        return (counts, warnings);
    };
    match counts.len() {
        0 => counts.push((scanned, 0)),
        1 => {
            if counts[0].0 != scanned {
                counts = vec![(scanned, 0)];
            }
        }
        _ => {
            counts.retain(|&(b, _)| b != options.trigger_board);
            if counts.len() > 1 {
                warnings.push(format!(
                    "{name}: {} boards with hits after dropping the trigger board {}",
                    counts.len(),
                    options.trigger_board
                ));
            }
        }
    }
    (counts, warnings)
}

fn combined_batch(rows: &[(u8, i64, ChargeInjectionFileName)]) -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("data_board_id", DataType::Int8, false),
        Field::new("hits", DataType::Int64, false),
        Field::new("phase_adjust", DataType::Int8, false),
        Field::new("pixel_id", DataType::Utf8, false),
        Field::new("board_injected_charge", DataType::Int16, false).with_metadata(
            std::collections::HashMap::from([("unit".to_string(), "fC".to_string())]),
        ),
        Field::new("board_discriminator_threshold", DataType::Int16, false).with_metadata(
            std::collections::HashMap::from([("unit".to_string(), "DAC".to_string())]),
        ),
    ]);
    fn board(r: &(u8, i64, ChargeInjectionFileName)) -> &ingest::ChargeInjectionBoard {
        &r.2.boards[ingest::board_index(r.0).min(2)]
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int8Array::from_iter_values(rows.iter().map(|r| r.0 as i8))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
        Arc::new(Int8Array::from_iter_values(
            rows.iter().map(|r| r.2.phase_adjust),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| board(r).pixel_id.as_str()),
        )),
        Arc::new(Int16Array::from_iter_values(
            rows.iter().map(|r| board(r).injected_charge_fc),
        )),
        Arc::new(Int16Array::from_iter_values(
            rows.iter().map(|r| board(r).discriminator_threshold_dac),
        )),
    ];
    // Built from the schema above, all columns of `rows.len()` rows.
    RecordBatch::try_new(Arc::new(schema), columns).expect("combined batch matches its schema")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split0_selection() {
        assert!(is_split0(
            "TDC_Data_PhaseAdj0_F5P5_QSel10_DAC540_F17P5_QSel10_DAC720_B2P5_QSel10_DAC720_Split_0.dat"
        ));
        assert!(!is_split0("X_Split_1.dat"));
        assert!(!is_split0("X_Split_0.txt.gz"));
        assert!(!is_split0("Split_0.dat"));
    }
}
