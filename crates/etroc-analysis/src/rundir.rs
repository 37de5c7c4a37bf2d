//! Run directories and task bookkeeping, compatible with `lip-pps-run-manager` (PyPI 0.3.0).
//!
//! * A directory is a **run** iff it holds `run_info.txt` ([`RunDir::create`], [`RunDir::open`]).
//!   The run name is the last path component.
//! * A **task** is a sub-directory `<run>/<task name>/` ([`RunDir::task`]). When it finishes it
//!   holds `task_report.txt` whose first line is `task_status: no errors` ([`Task::succeed`]),
//!   `task_status: incomplete` ([`Task::incomplete`]) or `task_status: there were errors`
//!   followed by the error ([`Task::fail`], or dropping the [`Task`] unfinished, e.g. on `?`).
//! * **Gating**: [`RunDir::task`] refuses to start a task unless every task it requires has a
//!   report containing `task_status: no errors` ([`RunDir::task_completed`]), as every original
//!   script does. A requirement `"a|b"` is met by either task.
//! * Instead of the original's `backup.<script>.py` (a copy of the Python script), a task writes
//!   the hep-core provenance [`Manifest`] (command line, configuration, crate version, input and
//!   output SHA-256) to `<task>/task_manifest.json` and as the sidecar of each output it lists.
//!
//! The original task names are kept, typos included ([`names`]), so existing analysis
//! directories stay usable.
//!
//! ```no_run
//! use etroc_analysis::rundir::{RunDir, names};
//! # fn main() -> etroc_analysis::Result<()> {
//! let run = RunDir::open("out/my_run")?;
//! run.run_task(names::CALCULATE_TIMES_IN_NS, &[names::APPLY_EVENT_CUTS], true, |task| {
//!     let out = task.path("data.sqlite");
//!     // ... write `out` ...
//!     task.add_output(out);
//!     Ok(())
//! })?;
//! # Ok(()) }
//! ```

use std::fmt::Display;
use std::path::{Path, PathBuf};

use hep_core::manifest::Manifest;
use serde::Serialize;

use crate::error::{Error, Result};

/// The file that marks a directory as a run.
pub const RUN_INFO_FILE: &str = "run_info.txt";
/// The status report of a task.
pub const TASK_REPORT_FILE: &str = "task_report.txt";
/// The provenance manifest of a task (replaces the original's `backup.<script>.py`).
pub const TASK_MANIFEST_FILE: &str = "task_manifest.json";

/// Task (directory) names of the original scripts, spelled as they are on disk (typo `proccess_`
/// included).
pub mod names {
    /// Beam txt ingest (`process-txt`); note the original typo `proccess_`.
    pub const PROCESS_TXT: &str = "proccess_etroc1_data_run_txt";
    /// Charge-injection `.dat` ingest (`process-dat`), same typo.
    pub const PROCESS_DAT: &str = "proccess_etroc1_data_run";
    /// Either ingest: the requirement of the event cut.
    pub const ANY_INGEST: &str = "proccess_etroc1_data_run_txt|proccess_etroc1_data_run";
    /// Plots of the ingested hits.
    pub const PLOT_BEFORE_CUTS: &str = "plot_before_cuts";
    /// Plots of the accepted hits after the event cut.
    pub const PLOT_AFTER_CUTS: &str = "plot_after_cuts";
    /// Event cuts (`cut`).
    pub const APPLY_EVENT_CUTS: &str = "apply_event_cuts";
    /// Codes to ns (`times-ns`).
    pub const CALCULATE_TIMES_IN_NS: &str = "calculate_times_in_ns";
    /// Time cuts (`cut-times`).
    pub const APPLY_TIME_CUTS: &str = "apply_time_cuts";
    /// Time-walk correction (`twc`).
    pub const CALCULATE_TIME_WALK_CORRECTION: &str = "calculate_time_walk_correction";
    /// Time resolution (`resolution`).
    pub const ANALYSE_TIME_RESOLUTION: &str = "analyse_time_resolution";
    /// Charge-injection directory processing (`process-dir`).
    pub const PROCESS_DIRECTORY: &str = "process_etroc1_data_directory";
    /// Merge of the individual charge-injection runs.
    pub const MERGE_RUNS: &str = "merge_etroc1_runs";
    /// Plots of the merged charge-injection scan.
    pub const PLOT_COMBINED: &str = "plot_etroc1_combined";
    /// DAC points of the DAC-vs-charge analysis.
    pub const CALCULATE_DAC_POINTS: &str = "calculate_dac_points";
    /// DAC-vs-charge plots.
    pub const PLOT_DAC_VS_CHARGE: &str = "plot_dac_vs_charge";
}

/// The status recorded in a task's `task_report.txt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// No report (the task never ran, or is running, or was killed).
    Missing,
    /// `task_status: no errors`.
    NoErrors,
    /// `task_status: incomplete`.
    Incomplete,
    /// Any other report, normally `task_status: there were errors`.
    Errors,
}

/// A run directory (a directory holding `run_info.txt`, as in `lip-pps-run-manager`).
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The tables written through this run (and its clones), for the next task to read
    /// without decoding them again.
    tables: crate::store::TableCache,
    path: PathBuf,
    name: String,
}

impl RunDir {
    /// Creates a new run at `path` (the original's `create_run(raise_error=True)`, used by the
    /// ingests): the directory must not exist; it is created with `run_info.txt`.
    ///
    /// # Errors
    ///
    /// [`Error::Run`] if `path` exists (file, directory or run); [`Error::Core`] for I/O errors.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if path.exists() && Self::is_leftover(path) {
            // A failed or killed ingest: nothing in it completed, so nothing is lost by starting
            // again (the retry with the same -o the original allowed only after a manual rm).
            tracing::warn!(
                run = %path.display(),
                "removing the leftover of a failed or killed ingest (no task completed in it)"
            );
            std::fs::remove_dir_all(path).map_err(|e| hep_core::Error::io(path, e))?;
        }
        if path.exists() {
            return Err(Error::Run {
                path: path.to_path_buf(),
                message: "the output directory already exists; an ingest creates a new run and \
                          must be given a path that does not exist yet"
                    .into(),
            });
        }
        Self::open_or_create(path)
    }

    /// Opens the run at `path`, creating it (and `run_info.txt`) if needed (the original's
    /// `create_run(raise_error=False)`).
    ///
    /// # Errors
    ///
    /// [`Error::Run`] if `path` is an existing file; [`Error::Core`] for I/O errors.
    pub fn open_or_create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if path.is_file() {
            return Err(Error::Run {
                path: path.to_path_buf(),
                message: "is a file, not a run directory".into(),
            });
        }
        let name = run_name(path)?;
        std::fs::create_dir_all(path).map_err(|e| hep_core::Error::io(path, e))?;
        let info = path.join(RUN_INFO_FILE);
        if !info.is_file() {
            let now = hep_core::manifest::now_utc().replace('T', " ");
            let text = format!(
                "This directory contains data for the run '{name}', created by the RunManager \
                 v{} (etroc-analysis) on {now}",
                env!("CARGO_PKG_VERSION")
            );
            write_run_file(&info, text.as_bytes(), None)?;
        }
        Ok(Self {
            tables: crate::store::TableCache::new(),
            path: path.to_path_buf(),
            name,
        })
    }

    /// Opens the existing run at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Run`] if `path` has no `run_info.txt` (not a run).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if !Self::is_run(path) {
            return Err(Error::Run {
                path: path.to_path_buf(),
                message: format!(
                    "not a run directory (no {RUN_INFO_FILE}); create it with an ingest \
                     (process-txt or process-dat) first"
                ),
            });
        }
        Ok(Self {
            tables: crate::store::TableCache::new(),
            path: path.to_path_buf(),
            name: run_name(path)?,
        })
    }

    /// True if `path` is what a failed or killed ingest leaves behind: a run directory holding
    /// only `run_info.txt` and directories (the ingest's task directory, `data/`), at least one,
    /// none of them a task that ran successfully. A run with any other file (a cut file the user
    /// copied in) or any successful task is not a leftover.
    pub fn is_leftover(path: impl AsRef<Path>) -> bool {
        let path = path.as_ref();
        if !Self::is_run(path) {
            return false;
        }
        let Ok(entries) = std::fs::read_dir(path) else {
            return false;
        };
        let run = Self {
            tables: crate::store::TableCache::new(),
            path: path.to_path_buf(),
            name: String::new(),
        };
        let mut dirs = 0;
        for e in entries {
            let Ok(e) = e else { return false };
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() {
                if run.task_ran_successfully(&name) {
                    return false;
                }
                dirs += 1;
            } else if name != RUN_INFO_FILE && name != RUN_INFO_SIDECAR {
                return false;
            }
        }
        dirs > 0
    }

    /// True if `path` is a run directory (holds `run_info.txt`).
    pub fn is_run(path: impl AsRef<Path>) -> bool {
        path.as_ref().join(RUN_INFO_FILE).is_file()
    }

    /// Reads table `table` of `dir` (a directory of this run) like [`crate::store::read_table`],
    /// returning the batch this run (or a clone) wrote there if the file is unchanged
    /// ([`crate::store::TableCache`]).
    ///
    /// # Errors
    ///
    /// As [`crate::store::read_table`].
    pub fn read_table(&self, dir: &Path, table: &str) -> Result<arrow_array::RecordBatch> {
        crate::store::read_table_cached(dir, table, Some(&self.tables))
    }

    /// Writes the tables of a task like [`crate::store::write_tables`], keeping them for the
    /// next [`RunDir::read_table`].
    ///
    /// # Errors
    ///
    /// As [`crate::store::write_tables`].
    pub fn write_tables(
        &self,
        dir: &Path,
        sqlite: Option<&str>,
        tables: &[crate::store::TableOutput<'_>],
    ) -> Result<Vec<PathBuf>> {
        crate::store::write_tables_cached(dir, sqlite, tables, Some(&self.tables))
    }

    /// The run directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run name (last path component), used in plot titles.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The data directory `<run>/data` of the ingest.
    pub fn data_dir(&self) -> PathBuf {
        self.path.join(crate::store::DATA_DIR)
    }

    /// The directory of task `task`: `<run>/<task>`.
    pub fn task_dir(&self, task: &str) -> PathBuf {
        self.path.join(task)
    }

    /// The status in `<run>/<task>/task_report.txt`.
    pub fn task_status(&self, task: &str) -> TaskStatus {
        match std::fs::read_to_string(self.task_dir(task).join(TASK_REPORT_FILE)) {
            Err(_) => TaskStatus::Missing,
            Ok(text) if text.contains("task_status: no errors") => TaskStatus::NoErrors,
            Ok(text) if text.contains("task_status: incomplete") => TaskStatus::Incomplete,
            Ok(_) => TaskStatus::Errors,
        }
    }

    /// True iff the task's report contains `task_status: no errors` (`task_completed`).
    pub fn task_completed(&self, task: &str) -> bool {
        self.task_status(task) == TaskStatus::NoErrors
    }

    /// True iff the task completed or is `incomplete` (`task_ran_successfully`).
    pub fn task_ran_successfully(&self, task: &str) -> bool {
        matches!(
            self.task_status(task),
            TaskStatus::NoErrors | TaskStatus::Incomplete
        )
    }

    /// Checks that every requirement completed; a requirement `"a|b"` needs either `a` or `b`.
    ///
    /// # Errors
    ///
    /// [`Error::TaskNotCompleted`] naming the first unmet requirement.
    pub fn check_requirements(&self, task: &str, requires: &[&str]) -> Result<()> {
        for req in requires {
            if !req.split('|').any(|r| self.task_completed(r)) {
                return Err(Error::TaskNotCompleted {
                    run: self.path.clone(),
                    task: task.to_string(),
                    required: req.replace('|', "' or '"),
                });
            }
        }
        Ok(())
    }

    /// Starts task `name`: checks the requirements (see [`RunDir::check_requirements`]), empties
    /// `<run>/<name>/` first if `drop_old`, creates it, and removes a stale `task_report.txt`
    /// so that a crashed re-run never looks completed.
    ///
    /// Finish the task with [`Task::succeed`]; dropping it unfinished writes an error report.
    ///
    /// # Errors
    ///
    /// [`Error::TaskNotCompleted`] if a requirement is unmet; [`Error::Core`] for I/O errors.
    pub fn task(&self, name: &str, requires: &[&str], drop_old: bool) -> Result<Task> {
        self.check_requirements(name, requires)?;
        let dir = self.task_dir(name);
        if drop_old && dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| hep_core::Error::io(&dir, e))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| hep_core::Error::io(&dir, e))?;
        let report = dir.join(TASK_REPORT_FILE);
        if report.exists() {
            std::fs::remove_file(&report).map_err(|e| hep_core::Error::io(&report, e))?;
        }
        Ok(Task {
            run: self.path.clone(),
            name: name.to_string(),
            dir,
            manifest: Manifest::start("etroc-analysis", env!("CARGO_PKG_VERSION")),
            outputs: Vec::new(),
            finished: false,
        })
    }

    /// Runs `body` as task `name` (see [`RunDir::task`]): on `Ok` the task succeeds, on `Err`
    /// the error is written to the report (`task_status: there were errors`) and returned.
    ///
    /// # Errors
    ///
    /// Those of [`RunDir::task`], of `body`, and of writing the report.
    pub fn run_task<T>(
        &self,
        name: &str,
        requires: &[&str],
        drop_old: bool,
        body: impl FnOnce(&mut Task) -> Result<T>,
    ) -> Result<T> {
        let mut task = self.task(name, requires, drop_old)?;
        let start = std::time::Instant::now();
        tracing::info!(run = %self.path.display(), "task {name}: started");
        match body(&mut task) {
            Ok(v) => {
                let outputs = task.outputs.len();
                task.succeed()?;
                tracing::info!(
                    "task {name}: no errors, {outputs} output files, {:.3} s",
                    start.elapsed().as_secs_f64()
                );
                Ok(v)
            }
            Err(e) => {
                // Info, not error: the caller reports the error itself (the CLI prints it once).
                tracing::info!("task {name}: there were errors: {e}");
                task.fail(&e)?;
                Err(e)
            }
        }
    }
}

fn run_name(path: &Path) -> Result<String> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| hep_core::Error::io(path, e))?
            .join(path)
    };
    abs.components()
        .rev()
        .find_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .ok_or_else(|| Error::Run {
            path: path.to_path_buf(),
            message: "a run directory needs a name (last path component)".into(),
        })
}

/// The provenance sidecar of `run_info.txt`.
const RUN_INFO_SIDECAR: &str = "run_info.txt.manifest.json";

/// Writes a file a run holds outside its tasks (`run_info.txt`, the cut files a chain puts in
/// place) atomically, with its provenance sidecar: the command line, the file and, if it is a
/// copy, its source.
///
/// # Errors
///
/// [`Error::Core`] for I/O errors.
pub fn write_run_file(path: &Path, bytes: &[u8], source: Option<&Path>) -> Result<()> {
    hep_core::io::atomic_write_bytes(path, bytes)?;
    let mut m = Manifest::start("etroc-analysis", env!("CARGO_PKG_VERSION"));
    if let Some(src) = source {
        m.add_input(src)?;
    }
    m.add_output(path)?;
    m.finish();
    m.write_sidecar(path)?;
    Ok(())
}

/// A running task of a run (see [`RunDir::task`]).
///
/// Collects the provenance of the task: configuration, inputs, outputs and seeds go into the
/// [`Manifest`] written when the task finishes.
#[derive(Debug)]
pub struct Task {
    run: PathBuf,
    name: String,
    dir: PathBuf,
    manifest: Manifest,
    outputs: Vec<TaskOutput>,
    finished: bool,
}

/// An output recorded by a task.
#[derive(Debug)]
struct TaskOutput {
    path: PathBuf,
    /// The inputs it was made from (`None`: all the task's inputs), listed in its sidecar.
    inputs: Option<Vec<PathBuf>>,
    /// Whether the task writes its sidecar (false for files another task wrote and owns).
    sidecar: bool,
}

impl Task {
    /// The task name (its directory name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The task directory `<run>/<name>`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<run>/<name>/<file>`.
    pub fn path(&self, file: impl AsRef<Path>) -> PathBuf {
        self.dir.join(file)
    }

    /// The run directory.
    pub fn run_path(&self) -> &Path {
        &self.run
    }

    /// Records the task's configuration (all options, defaults included) in the manifest.
    ///
    /// # Errors
    ///
    /// [`Error::Core`] if it cannot be serialised to JSON.
    pub fn set_configuration(&mut self, configuration: &impl Serialize) -> Result<()> {
        self.manifest.configuration = serde_json::to_value(configuration)
            .map_err(|e| Error::Core(hep_core::Error::Json(e)))?;
        Ok(())
    }

    /// Records an input file (path, size, SHA-256) in the manifest.
    ///
    /// # Errors
    ///
    /// [`Error::Core`] if the file cannot be read.
    pub fn add_input(&mut self, path: impl AsRef<Path>) -> Result<()> {
        Ok(self.manifest.add_input(path)?)
    }

    /// Records an output file; its digest is taken and its sidecar manifest written when the
    /// task succeeds.
    pub fn add_output(&mut self, path: impl Into<PathBuf>) {
        self.outputs.push(TaskOutput {
            path: path.into(),
            inputs: None,
            sidecar: true,
        });
    }

    /// Records several output files (see [`Task::add_output`]).
    pub fn add_outputs(&mut self, paths: impl IntoIterator<Item = PathBuf>) {
        for p in paths {
            self.add_output(p);
        }
    }

    /// Records an output made from only some of the task's inputs: its sidecar lists just
    /// `inputs` (recorded with [`Task::add_input`] first, or digested when the task finishes),
    /// the task manifest lists everything.
    pub fn add_output_from(&mut self, path: impl Into<PathBuf>, inputs: Vec<PathBuf>) {
        self.outputs.push(TaskOutput {
            path: path.into(),
            inputs: Some(inputs),
            sidecar: true,
        });
    }

    /// Records a file that this task produced through another task (an individual run's data
    /// written by that run's own task): listed among this task's outputs, while its sidecar
    /// stays the one its own task wrote.
    pub fn add_listed_output(&mut self, path: impl Into<PathBuf>) {
        self.outputs.push(TaskOutput {
            path: path.into(),
            inputs: None,
            sidecar: false,
        });
    }

    /// Records a random seed in the manifest.
    pub fn add_seed(&mut self, name: impl Into<String>, seed: u64) {
        self.manifest.add_seed(name, seed);
    }

    /// The manifest collected so far.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Finishes the task successfully: digests the outputs, writes the manifest as
    /// `task_manifest.json` and beside each output, and writes the report
    /// `task_status: no errors`.
    ///
    /// # Errors
    ///
    /// [`Error::Core`] if an output cannot be read or a file cannot be written (the report then
    /// records the error).
    pub fn succeed(mut self) -> Result<()> {
        match self.write_manifests() {
            Ok(()) => self.write_report("task_status: no errors\n".into()),
            Err(e) => {
                self.fail(&e)?;
                Err(e)
            }
        }
    }

    /// Finishes the task as `incomplete` (a looped task that did not process every item).
    ///
    /// # Errors
    ///
    /// As [`Task::succeed`].
    pub fn incomplete(mut self) -> Result<()> {
        self.write_manifests()?;
        self.write_report("task_status: incomplete\n".into())
    }

    /// Finishes the task as failed: the report says `task_status: there were errors` followed by
    /// the error, so tasks that depend on this one refuse to run.
    ///
    /// # Errors
    ///
    /// [`Error::Core`] if the report cannot be written.
    pub fn fail(mut self, error: &dyn Display) -> Result<()> {
        self.write_report(failure_report(&error.to_string()))
    }

    /// Digests the outputs, writes `task_manifest.json` (every input and output) and the
    /// sidecar of each output the task owns: the task's manifest with that one output and the
    /// inputs it was made from, so that a task with many outputs does not copy its whole list
    /// beside each of them.
    fn write_manifests(&mut self) -> Result<()> {
        let outputs = std::mem::take(&mut self.outputs);
        let first = self.manifest.outputs.len();
        for out in &outputs {
            self.manifest.add_output(&out.path)?;
        }
        self.manifest.finish();
        self.manifest.write(self.dir.join(TASK_MANIFEST_FILE))?;
        // The task's manifest without its file lists, cloned once per sidecar.
        let base = Manifest {
            inputs: Vec::new(),
            outputs: Vec::new(),
            ..self.manifest.clone()
        };
        for (out, digest) in outputs.iter().zip(&self.manifest.outputs[first..]) {
            if !out.sidecar {
                continue;
            }
            let mut m = Manifest {
                outputs: vec![digest.clone()],
                ..base.clone()
            };
            match &out.inputs {
                None => m.inputs.clone_from(&self.manifest.inputs),
                Some(list) => {
                    for p in list {
                        match self.manifest.inputs.iter().find(|d| &d.path == p) {
                            Some(d) => m.inputs.push(d.clone()),
                            None => m.add_input(p)?,
                        }
                    }
                }
            }
            m.write_sidecar(&out.path)?;
        }
        Ok(())
    }

    fn write_report(&mut self, text: String) -> Result<()> {
        self.finished = true;
        hep_core::io::atomic_write_bytes(&self.dir.join(TASK_REPORT_FILE), text.as_bytes())?;
        Ok(())
    }
}

fn failure_report(message: &str) -> String {
    format!("task_status: there were errors\nTask failed with the following error:\n{message}\n")
}

impl Drop for Task {
    fn drop(&mut self) {
        if !self.finished {
            let text = failure_report("the task ended before it finished (an error or a panic)");
            // Best effort in a destructor; still atomic like every other report.
            let _ =
                hep_core::io::atomic_write_bytes(&self.dir.join(TASK_REPORT_FILE), text.as_bytes());
        }
    }
}
