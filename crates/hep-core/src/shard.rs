//! Scale-out: shards of a long job, their manifests, the checks before a merge, and Slurm array
//! scripts.
//!
//! A long job is a computation over an ordered list of `n` independent **units** (channels,
//! readout groups, event ranges, runs). The unit list is a pure function of the job's inputs and
//! configuration, and random numbers are drawn from [`crate::rng`] streams keyed by the unit, so a
//! unit's result does not depend on how the list is split.
//!
//! * [`Shard`] `{ index: I, count: N }`, written `I/N` with `0 <= I < N`, takes the contiguous
//!   block of units `[floor(I*n/N), floor((I+1)*n/N))` ([`Shard::range`]); a block may be empty.
//! * A sharded run writes only into `<out>/shards/<I>-of-<N>/` ([`Shard::dir`]). Its
//!   [`ShardManifest`] (`shard.json`) is written **last** and atomically: a shard directory without
//!   it is incomplete (still running, or killed).
//! * A merge first calls [`collect_shards`], which refuses missing, incomplete, duplicated or
//!   mismatched shards (another tool, job, configuration, input, seed, `N` or unit count), and
//!   outputs changed since their shard was written, each with an [`Error::Shard`] naming the
//!   shard. The job then joins the shard outputs into exactly the files of a single-process run.
//! * [`SlurmArray`] writes `<out>/slurm/<job>.sbatch` (an array job whose task `I` runs the job
//!   with `--shard $SLURM_ARRAY_TASK_ID/N`) and `<out>/slurm/merge.sbatch` (run after the array
//!   with `--dependency=afterok:<id>`), and [`SlurmScripts::submit`] submits both with `sbatch`.
//!   Nothing here polls the queue.
//!
//! ```
//! use hep_core::shard::Shard;
//! let s: Shard = "1/3".parse()?;
//! assert_eq!(s.range(10), 3..6);
//! assert_eq!(s.to_string(), "1/3");
//! assert_eq!(s.dir_name(), "1-of-3");
//! // every unit goes to exactly one shard, in order
//! let all: Vec<usize> = (0..3).flat_map(|i| Shard::new(i, 3).unwrap().range(10)).collect();
//! assert_eq!(all, (0..10).collect::<Vec<_>>());
//! # Ok::<(), hep_core::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::files::{FileDigest, atomic_write_bytes};
use crate::manifest::now_utc;

/// Name of the directory under a job's output directory that holds the shard directories.
pub const SHARDS_DIR: &str = "shards";
/// File name of the manifest that marks a shard directory complete.
pub const SHARD_MANIFEST: &str = "shard.json";
/// Name of the directory under a job's output directory that holds the Slurm scripts.
pub const SLURM_DIR: &str = "slurm";

/// One of `count` shards of a job: shard `index` takes the contiguous block of units
/// [`range`](Shard::range). Written and parsed as `I/N`; serialised as that string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Shard {
    /// `I`, 0-based, `< count`.
    pub index: usize,
    /// `N`, at least 1.
    pub count: usize,
}

impl Shard {
    /// Shard `index` of `count`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `count >= 1` and `index < count`.
    pub fn new(index: usize, count: usize) -> Result<Self> {
        if count == 0 || index >= count {
            return Err(Error::InvalidArgument(format!(
                "shard: expected I/N with N >= 1 and 0 <= I < N, found {index}/{count}"
            )));
        }
        Ok(Self { index, count })
    }

    /// The whole job as one shard, `0/1`.
    pub fn whole() -> Self {
        Self { index: 0, count: 1 }
    }

    /// True for `0/1`.
    pub fn is_whole(&self) -> bool {
        self.count == 1
    }

    /// The units `[floor(I*n/N), floor((I+1)*n/N))` of a job with `n_units` units. The blocks of
    /// shards `0..N` are contiguous, in order, and cover `0..n_units` exactly once; a block is
    /// empty when `N > n_units` leaves this shard nothing.
    pub fn range(&self, n_units: usize) -> Range<usize> {
        let bound = |i: usize| -> usize {
            // u128: I * n cannot overflow for any usize inputs.
            ((i as u128 * n_units as u128) / self.count as u128) as usize
        };
        bound(self.index)..bound(self.index + 1)
    }

    /// The shard's directory name, `<I>-of-<N>`.
    pub fn dir_name(&self) -> String {
        format!("{}-of-{}", self.index, self.count)
    }

    /// The shard's output directory, `<out>/shards/<I>-of-<N>`.
    pub fn dir(&self, out: &Path) -> PathBuf {
        out.join(SHARDS_DIR).join(self.dir_name())
    }

    /// Makes the shard's output directory ready for a (re)run: creates `<out>/shards/<I>-of-<N>`
    /// and removes the `shard.json` an earlier run left there, so that a rerun which fails or is
    /// killed leaves a shard the merge refuses, never a stale complete one. Returns the directory.
    ///
    /// # Errors
    /// [`Error::Io`] if the directory cannot be created or the old manifest removed.
    pub fn prepare_dir(&self, out: &Path) -> Result<PathBuf> {
        let dir = self.dir(out);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let manifest = dir.join(SHARD_MANIFEST);
        if manifest.exists() {
            std::fs::remove_file(&manifest).map_err(|e| Error::io(&manifest, e))?;
        }
        Ok(dir)
    }

    /// Parses a directory name `<I>-of-<N>` (the inverse of [`dir_name`](Shard::dir_name)).
    pub fn from_dir_name(name: &str) -> Option<Self> {
        let (i, n) = name.split_once("-of-")?;
        Self::new(i.parse().ok()?, n.parse().ok()?).ok()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = Error;

    /// Parses `I/N` (surrounding spaces allowed).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::InvalidArgument(format!(
                "shard: expected I/N with 0 <= I < N (e.g. 0/4), found `{s}`"
            ))
        };
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let i: usize = i.trim().parse().map_err(|_| bad())?;
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        Self::new(i, n).map_err(|_| bad())
    }
}

impl Serialize for Shard {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Shard {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// SHA-256 (64 lowercase hex digits) of the compact JSON form of `value`: the digest a shard
/// manifest records for a job's configuration. Struct fields serialise in declaration order and
/// maps should be `BTreeMap`s, so equal configurations give equal digests.
///
/// # Errors
/// [`Error::Json`] if `value` cannot be represented as JSON.
pub fn json_digest(value: &impl Serialize) -> Result<String> {
    let bytes = serde_json::to_vec(value)?;
    Ok(hex(&Sha256::digest(&bytes)))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The record that marks a shard complete: what ran, on what, and what it wrote.
///
/// Written by [`ShardManifest::write`] as `<shard dir>/shard.json`, after every output of the
/// shard. Output paths are relative to the shard directory; input paths are as given to the job
/// (only their sizes and digests are compared by [`collect_shards`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardManifest {
    /// Tool that ran the shard (e.g. `pixel-monitor`).
    pub tool: String,
    /// The tool's version.
    pub version: String,
    /// The job name (e.g. `profile`); a merge only accepts shards of its own job.
    pub job: String,
    /// [`json_digest`] of the job's configuration, with everything that does not change the
    /// result (output paths, the shard itself, thread counts) left out.
    pub configuration_sha256: String,
    /// The job's input files: path as given, size and SHA-256.
    pub inputs: Vec<FileDigest>,
    /// The master seed, for jobs that draw random numbers.
    pub seed: Option<u64>,
    /// Which shard this is.
    pub shard: Shard,
    /// Number of units of the whole job.
    pub n_units: usize,
    /// First unit of this shard (inclusive).
    pub first_unit: usize,
    /// End of this shard's units (exclusive).
    pub end_unit: usize,
    /// Files the shard wrote, relative to its directory, with size and SHA-256.
    pub outputs: Vec<FileDigest>,
    /// Free-form job details that must agree between shards (e.g. the unit names), compared by
    /// [`collect_shards`] like the configuration digest.
    #[serde(default)]
    pub details: BTreeMap<String, String>,
    /// When the shard started, RFC 3339 UTC.
    pub start_utc: String,
    /// When the shard finished, RFC 3339 UTC.
    pub end_utc: String,
}

impl ShardManifest {
    /// A manifest for `shard` of `job` over `n_units` units, started now, with no inputs and
    /// outputs yet. The unit range is [`Shard::range`]`(n_units)`.
    ///
    /// # Errors
    /// [`Error::Json`] if the configuration cannot be represented as JSON.
    pub fn start(
        tool: impl Into<String>,
        version: impl Into<String>,
        job: impl Into<String>,
        configuration: &impl Serialize,
        shard: Shard,
        n_units: usize,
    ) -> Result<Self> {
        let range = shard.range(n_units);
        Ok(Self {
            tool: tool.into(),
            version: version.into(),
            job: job.into(),
            configuration_sha256: json_digest(configuration)?,
            inputs: Vec::new(),
            seed: None,
            shard,
            n_units,
            first_unit: range.start,
            end_unit: range.end,
            outputs: Vec::new(),
            details: BTreeMap::new(),
            start_utc: now_utc(),
            end_utc: String::new(),
        })
    }

    /// Records an input file (size and SHA-256).
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read.
    pub fn add_input(&mut self, path: impl AsRef<Path>) -> Result<()> {
        self.inputs.push(FileDigest::of(path)?);
        Ok(())
    }

    /// Records the output `dir/name`, already written, under its name relative to `dir`.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read.
    pub fn add_output(&mut self, dir: &Path, name: impl AsRef<Path>) -> Result<()> {
        let name = name.as_ref();
        let mut digest = FileDigest::of(dir.join(name))?;
        digest.path = name.to_path_buf();
        self.outputs.push(digest);
        Ok(())
    }

    /// Stamps the end time and writes the manifest atomically as `<dir>/shard.json`, which marks
    /// the shard complete. Call it after every output is written.
    ///
    /// # Errors
    /// [`Error::Json`] or [`Error::Io`] if it cannot be written.
    pub fn write(&mut self, dir: &Path) -> Result<PathBuf> {
        self.end_utc = now_utc();
        let path = dir.join(SHARD_MANIFEST);
        let mut json = serde_json::to_vec_pretty(self)?;
        json.push(b'\n');
        atomic_write_bytes(&path, &json)?;
        Ok(path)
    }

    /// Reads `<dir>/shard.json`.
    ///
    /// # Errors
    /// [`Error::Io`] if it cannot be read, [`Error::Parse`] if it is not a shard manifest.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(SHARD_MANIFEST);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::parse(
                &path,
                u64::try_from(e.line()).unwrap_or(0),
                "a hep-rs shard manifest (JSON)",
                e.to_string(),
            )
        })
    }

    /// The names of the fields in which `self` and `other` differ, among those all shards of one
    /// job must share (tool, version, job, configuration, inputs, seed, `N`, unit count,
    /// details). Empty when they agree.
    pub fn mismatches(&self, other: &Self) -> Vec<&'static str> {
        let digests = |m: &Self| -> Vec<(u64, String)> {
            m.inputs
                .iter()
                .map(|d| (d.bytes, d.sha256.clone()))
                .collect()
        };
        let mut out = Vec::new();
        if self.tool != other.tool {
            out.push("tool");
        }
        if self.version != other.version {
            out.push("version");
        }
        if self.job != other.job {
            out.push("job");
        }
        if self.configuration_sha256 != other.configuration_sha256 {
            out.push("configuration");
        }
        if digests(self) != digests(other) {
            out.push("inputs");
        }
        if self.seed != other.seed {
            out.push("seed");
        }
        if self.shard.count != other.shard.count {
            out.push("shard count N");
        }
        if self.n_units != other.n_units {
            out.push("number of units");
        }
        if self.details != other.details {
            out.push("details");
        }
        out
    }
}

/// A complete shard found by [`collect_shards`].
#[derive(Debug, Clone)]
pub struct CompletedShard {
    /// Its directory, `<out>/shards/<I>-of-<N>`.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: ShardManifest,
}

impl CompletedShard {
    /// The path of the shard's output `name` (relative to its directory).
    pub fn output(&self, name: impl AsRef<Path>) -> PathBuf {
        self.dir.join(name)
    }
}

fn shard_err(shard: impl fmt::Display, reason: impl Into<String>) -> Error {
    Error::Shard {
        shard: shard.to_string(),
        reason: reason.into(),
    }
}

/// Finds and checks every shard of `job` under `<out>/shards/`, in shard order, before a merge.
///
/// Checks, each failure an [`Error::Shard`] naming the shard and the reason:
/// * the shard directories all have the same `N`, and each of `0..N` is present;
/// * each has its `shard.json` (otherwise it is still running or was killed) naming that shard,
///   of this `job`;
/// * all agree with shard 0 on tool, version, configuration digest, inputs, seed, `N`, unit count
///   and details ([`ShardManifest::mismatches`]);
/// * the unit ranges are those of [`Shard::range`] (so they are contiguous and cover every unit
///   once);
/// * every output listed still has its recorded size and SHA-256.
///
/// # Errors
/// [`Error::Shard`] as above; [`Error::Io`] if the directory cannot be listed; [`Error::Parse`]
/// for an unreadable manifest.
pub fn collect_shards(out: &Path, job: &str) -> Result<Vec<CompletedShard>> {
    let root = out.join(SHARDS_DIR);
    let entries = std::fs::read_dir(&root).map_err(|e| Error::io(&root, e))?;
    let mut found: BTreeMap<usize, (Shard, PathBuf)> = BTreeMap::new();
    let mut count: Option<usize> = None;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&root, e))?;
        let name = entry.file_name();
        let Some(shard) = name.to_str().and_then(Shard::from_dir_name) else {
            continue;
        };
        match count {
            None => count = Some(shard.count),
            Some(n) if n != shard.count => {
                return Err(shard_err(
                    shard,
                    format!(
                        "{} holds shards of different counts ({n} and {}); remove the directories \
                         of the run you do not want to merge",
                        root.display(),
                        shard.count
                    ),
                ));
            }
            Some(_) => {}
        }
        found.insert(shard.index, (shard, entry.path()));
    }
    let Some(count) = count else {
        return Err(shard_err(
            "-",
            format!("no shard directories (<I>-of-<N>) in {}", root.display()),
        ));
    };
    let mut shards: Vec<CompletedShard> = Vec::with_capacity(count);
    for index in 0..count {
        let shard = Shard { index, count };
        let Some((_, dir)) = found.remove(&index) else {
            return Err(shard_err(
                shard,
                format!("missing: {} does not exist", shard.dir(out).display()),
            ));
        };
        if !dir.join(SHARD_MANIFEST).is_file() {
            return Err(shard_err(
                shard,
                format!(
                    "incomplete: {} has no {SHARD_MANIFEST} (still running, or killed; rerun it)",
                    dir.display()
                ),
            ));
        }
        let manifest = ShardManifest::read(&dir)?;
        if manifest.shard != shard {
            return Err(shard_err(
                shard,
                format!(
                    "{} records shard {} instead",
                    dir.join(SHARD_MANIFEST).display(),
                    manifest.shard
                ),
            ));
        }
        if manifest.job != job {
            return Err(shard_err(
                shard,
                format!("is a shard of job `{}`, not `{job}`", manifest.job),
            ));
        }
        if let Some(first) = shards.first() {
            let differ = manifest.mismatches(&first.manifest);
            if !differ.is_empty() {
                return Err(shard_err(
                    shard,
                    format!(
                        "differs from shard 0/{count} in: {} (shards of different runs cannot be \
                         merged)",
                        differ.join(", ")
                    ),
                ));
            }
        }
        let expected = shard.range(manifest.n_units);
        if manifest.first_unit != expected.start || manifest.end_unit != expected.end {
            return Err(shard_err(
                shard,
                format!(
                    "covers units {}..{}, expected {}..{} of {}",
                    manifest.first_unit,
                    manifest.end_unit,
                    expected.start,
                    expected.end,
                    manifest.n_units
                ),
            ));
        }
        for output in &manifest.outputs {
            let path = dir.join(&output.path);
            let now = FileDigest::of(&path).map_err(|_| {
                shard_err(
                    shard,
                    format!("output {} is missing or unreadable", path.display()),
                )
            })?;
            if now.bytes != output.bytes || now.sha256 != output.sha256 {
                return Err(shard_err(
                    shard,
                    format!(
                        "output {} changed since the shard was written",
                        path.display()
                    ),
                ));
            }
        }
        shards.push(CompletedShard { dir, manifest });
    }
    Ok(shards)
}

/// The shards `0..count` of `job` under `<out>/shards/` that a merge would not accept as they
/// are: missing, without their `shard.json` (killed or still running), of another job or count,
/// or with an output that no longer matches its digest. Resubmit exactly these
/// ([`SlurmArray::only_tasks`]).
pub fn missing_shards(out: &Path, job: &str, count: usize) -> Vec<usize> {
    (0..count)
        .filter(|&index| {
            let shard = Shard { index, count };
            let dir = shard.dir(out);
            let Ok(m) = ShardManifest::read(&dir) else {
                return true;
            };
            m.shard != shard
                || m.job != job
                || m.outputs.iter().any(|o| {
                    FileDigest::of(dir.join(&o.path))
                        .map(|now| now.bytes != o.bytes || now.sha256 != o.sha256)
                        .unwrap_or(true)
                })
        })
        .collect()
}

/// The job of the shards under `<out>/shards/` (from the first complete shard manifest found),
/// for tools whose `merge` serves several jobs; `None` if there is none.
pub fn job_of(out: &Path) -> Option<String> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out.join(SHARDS_DIR))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    dirs.sort();
    dirs.iter()
        .find_map(|d| ShardManifest::read(d).ok())
        .map(|m| m.job)
}

/// Quotes `word` for a POSIX shell: unchanged if it only holds characters the shell does not
/// interpret, otherwise in single quotes (with `'` written as `'\''`).
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A Slurm array job for the `N` shards of a job and the merge that follows it.
///
/// `Default` gives an empty specification (no commands, `N = 0`) to fill in with struct-update
/// syntax.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlurmArray {
    /// The job name (`#SBATCH --job-name`, and the script name `<job>.sbatch`).
    pub job: String,
    /// `N`: one array task per shard, `--array=0-<N-1>`.
    pub count: usize,
    /// At most this many tasks at once (`%<max>`); `None` leaves it to Slurm.
    pub max_parallel: Option<usize>,
    /// The command of one task, program first, **without** the `--shard` option, which is
    /// appended as `--shard $SLURM_ARRAY_TASK_ID/<N>`.
    pub task_command: Vec<String>,
    /// The merge command, program first.
    pub merge_command: Vec<String>,
    /// Directory the tasks start in (`cd` before the command); normally the submitting directory.
    pub workdir: PathBuf,
    /// `#SBATCH --partition`.
    pub partition: Option<String>,
    /// `#SBATCH --time` (e.g. `01:00:00`).
    pub time: Option<String>,
    /// `#SBATCH --mem` (e.g. `2G`).
    pub mem: Option<String>,
    /// `#SBATCH --cpus-per-task`.
    pub cpus_per_task: Option<u32>,
    /// `#SBATCH --account`.
    pub account: Option<String>,
    /// Further `#SBATCH` options, each written as a line `#SBATCH <option>` (e.g.
    /// `--qos=short`).
    #[serde(default)]
    pub extra_directives: Vec<String>,
    /// Run only these shard indices (`--array=1,4`), e.g. the ones [`missing_shards`] found
    /// after a failure; empty runs all of `0..N`.
    #[serde(default)]
    pub only_tasks: Vec<usize>,
}

/// The two scripts written by [`SlurmArray::write`].
#[derive(Debug, Clone, PartialEq)]
pub struct SlurmScripts {
    /// `<out>/slurm/<job>.sbatch`.
    pub array: PathBuf,
    /// `<out>/slurm/merge.sbatch`.
    pub merge: PathBuf,
}

impl SlurmArray {
    fn header(&self, name: &str, log_dir: &Path) -> String {
        let mut s = String::from("#!/bin/bash\n");
        s.push_str(&format!("#SBATCH --job-name={}\n", shell_quote(name)));
        let opt = |s: &mut String, key: &str, v: &Option<String>| {
            if let Some(v) = v {
                s.push_str(&format!("#SBATCH --{key}={}\n", shell_quote(v)));
            }
        };
        opt(&mut s, "partition", &self.partition);
        opt(&mut s, "time", &self.time);
        opt(&mut s, "mem", &self.mem);
        opt(&mut s, "account", &self.account);
        if let Some(c) = self.cpus_per_task {
            s.push_str(&format!("#SBATCH --cpus-per-task={c}\n"));
        }
        for d in &self.extra_directives {
            s.push_str(&format!("#SBATCH {}\n", d.trim()));
        }
        s.push_str("#SBATCH --ntasks=1\n");
        s.push_str(&format!(
            "#SBATCH --output={}\n",
            shell_quote(&log_dir.join(format!("{name}-%A_%a.out")).to_string_lossy())
        ));
        s
    }

    /// The text of the array script.
    pub fn array_script(&self, log_dir: &Path) -> String {
        let mut s = self.header(&self.job, log_dir);
        let max = self
            .max_parallel
            .map(|m| format!("%{m}"))
            .unwrap_or_default();
        let tasks = if self.only_tasks.is_empty() {
            format!("0-{}", self.count.saturating_sub(1))
        } else {
            self.only_tasks
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        s.push_str(&format!("#SBATCH --array={tasks}{max}\n"));
        s.push_str("set -euo pipefail\n");
        s.push_str(&format!(
            "cd {}\n",
            shell_quote(&self.workdir.to_string_lossy())
        ));
        s.push_str("exec");
        for w in &self.task_command {
            s.push(' ');
            s.push_str(&shell_quote(w));
        }
        s.push_str(&format!(
            " --shard \"${{SLURM_ARRAY_TASK_ID}}/{}\"\n",
            self.count
        ));
        s
    }

    /// The text of the merge script.
    pub fn merge_script(&self, log_dir: &Path) -> String {
        let mut s = self.header(&format!("{}-merge", self.job), log_dir);
        s.push_str("set -euo pipefail\n");
        s.push_str(&format!(
            "cd {}\n",
            shell_quote(&self.workdir.to_string_lossy())
        ));
        s.push_str("exec");
        for w in &self.merge_command {
            s.push(' ');
            s.push_str(&shell_quote(w));
        }
        s.push('\n');
        s
    }

    /// Writes `<out>/slurm/<job>.sbatch` and `<out>/slurm/merge.sbatch` (atomically, creating the
    /// directory). Task logs go to `<out>/slurm/`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for `N = 0`, an empty command or a job name that is not a
    /// single file name; [`Error::Io`] if the files cannot be written.
    pub fn write(&self, out: &Path) -> Result<SlurmScripts> {
        if self.count == 0 || self.task_command.is_empty() || self.merge_command.is_empty() {
            return Err(Error::InvalidArgument(
                "slurm: the array needs N >= 1 tasks and both commands".into(),
            ));
        }
        if let Some(bad) = self.only_tasks.iter().find(|&&i| i >= self.count) {
            return Err(Error::InvalidArgument(format!(
                "slurm: task {bad} is not a shard of N = {}",
                self.count
            )));
        }
        if let Some(bad) = self
            .extra_directives
            .iter()
            .find(|d| !d.trim().starts_with("--") || d.contains('\n'))
        {
            return Err(Error::InvalidArgument(format!(
                "slurm: an extra #SBATCH option must be one line starting with --, found `{bad}`"
            )));
        }
        if self.job.is_empty()
            || !self
                .job
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || self.job.starts_with('.')
        {
            return Err(Error::InvalidArgument(format!(
                "slurm: job name must be letters, digits, '-', '_' or '.', found `{}`",
                self.job
            )));
        }
        let dir = out.join(SLURM_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let log_dir = std::path::absolute(&dir).map_err(|e| Error::io(&dir, e))?;
        let array = dir.join(format!("{}.sbatch", self.job));
        let merge = dir.join("merge.sbatch");
        atomic_write_bytes(&array, self.array_script(&log_dir).as_bytes())?;
        atomic_write_bytes(&merge, self.merge_script(&log_dir).as_bytes())?;
        Ok(SlurmScripts { array, merge })
    }
}

impl SlurmScripts {
    /// The two shell commands that submit the scripts, the merge depending on the array
    /// (`$ARRAY_ID` stands for the id the first one prints).
    pub fn commands(&self) -> [String; 2] {
        [
            format!(
                "ARRAY_ID=$(sbatch --parsable {})",
                shell_quote(&self.array.to_string_lossy())
            ),
            format!(
                "sbatch --parsable --dependency=afterok:${{ARRAY_ID%%;*}} {}",
                shell_quote(&self.merge.to_string_lossy())
            ),
        ]
    }

    /// Submits the array with `sbatch --parsable`, then the merge with
    /// `--dependency=afterok:<array id>`, and returns both job ids. Does not wait for them.
    ///
    /// # Errors
    /// [`Error::Io`] if `sbatch` cannot be run; [`Error::InvalidArgument`] if it fails or prints
    /// no job id.
    pub fn submit(&self) -> Result<(String, String)> {
        let array_id = sbatch(&[], &self.array)?;
        let merge_id = sbatch(&[format!("--dependency=afterok:{array_id}")], &self.merge)?;
        Ok((array_id, merge_id))
    }
}

fn sbatch(extra: &[String], script: &Path) -> Result<String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .args(extra)
        .arg(script)
        .output()
        .map_err(|e| Error::io("sbatch", e))?;
    if !out.status.success() {
        return Err(Error::InvalidArgument(format!(
            "sbatch {} failed ({}): {}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // --parsable prints `<id>` or `<id>;<cluster>`.
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::InvalidArgument(format!(
            "sbatch {}: expected a job id, found `{}`",
            script.display(),
            text.trim()
        )));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_and_display() {
        let s: Shard = " 2 / 5 ".parse().unwrap();
        assert_eq!(s, Shard { index: 2, count: 5 });
        assert_eq!(s.to_string(), "2/5");
        for bad in ["", "1", "5/5", "1/0", "-1/3", "a/3", "1/3/4"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!(
            Shard::from_dir_name("3-of-7"),
            Some(Shard::new(3, 7).unwrap())
        );
        assert_eq!(Shard::from_dir_name("7-of-7"), None);
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"2/5\"");
        assert_eq!(serde_json::from_str::<Shard>("\"2/5\"").unwrap(), s);
    }

    #[test]
    fn ranges_of_the_architecture_rule() {
        // 128 readout groups over 3 shards: floor(128 i / 3).
        let r: Vec<_> = (0..3)
            .map(|i| Shard::new(i, 3).unwrap().range(128))
            .collect();
        assert_eq!(r, vec![0..42, 42..85, 85..128]);
        // More shards than units: some blocks are empty.
        let r: Vec<_> = (0..4).map(|i| Shard::new(i, 4).unwrap().range(2)).collect();
        assert_eq!(r, vec![0..0, 0..1, 1..1, 1..2]);
        assert_eq!(Shard::whole().range(usize::MAX), 0..usize::MAX);
    }

    proptest! {
        #[test]
        fn shards_partition_the_units(n in 0usize..10_000, count in 1usize..300) {
            let mut next = 0;
            for i in 0..count {
                let r = Shard::new(i, count).unwrap().range(n);
                prop_assert_eq!(r.start, next);
                prop_assert!(r.end >= r.start);
                next = r.end;
            }
            prop_assert_eq!(next, n);
        }
    }

    fn write_shard(out: &Path, shard: Shard, config: &str, content: &str) -> ShardManifest {
        let dir = shard.dir(out);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("part.txt"), content).unwrap();
        let mut m = ShardManifest::start("t", "1", "job", &config, shard, 10).unwrap();
        m.add_output(&dir, "part.txt").unwrap();
        m.write(&dir).unwrap();
        m
    }

    fn reason(e: Error) -> String {
        match e {
            Error::Shard { shard, reason } => format!("{shard}: {reason}"),
            other => panic!("expected a shard error, got {other}"),
        }
    }

    #[test]
    fn collect_accepts_complete_and_refuses_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path();
        for i in 0..3 {
            write_shard(out, Shard::new(i, 3).unwrap(), "cfg", "x");
        }
        let shards = collect_shards(out, "job").unwrap();
        assert_eq!(shards.len(), 3);
        assert_eq!(shards[1].manifest.first_unit, 3);
        assert!(reason(collect_shards(out, "other").unwrap_err()).contains("not `other`"));

        // A changed output.
        std::fs::write(Shard::new(1, 3).unwrap().dir(out).join("part.txt"), "y").unwrap();
        let e = reason(collect_shards(out, "job").unwrap_err());
        assert!(e.starts_with("1/3: output") && e.contains("changed"), "{e}");
        write_shard(out, Shard::new(1, 3).unwrap(), "cfg", "x");

        // Another configuration.
        write_shard(out, Shard::new(2, 3).unwrap(), "other cfg", "x");
        let e = reason(collect_shards(out, "job").unwrap_err());
        assert!(e.starts_with("2/3") && e.contains("configuration"), "{e}");
        write_shard(out, Shard::new(2, 3).unwrap(), "cfg", "x");

        // Incomplete (no manifest) and missing.
        std::fs::remove_file(Shard::new(0, 3).unwrap().dir(out).join(SHARD_MANIFEST)).unwrap();
        let e = reason(collect_shards(out, "job").unwrap_err());
        assert!(e.starts_with("0/3: incomplete"), "{e}");
        std::fs::remove_dir_all(Shard::new(0, 3).unwrap().dir(out)).unwrap();
        let e = reason(collect_shards(out, "job").unwrap_err());
        assert!(e.starts_with("0/3: missing"), "{e}");
        write_shard(out, Shard::new(0, 3).unwrap(), "cfg", "x");

        // missing_shards names exactly the shards a merge would refuse.
        assert!(missing_shards(out, "job", 3).is_empty());
        std::fs::remove_file(Shard::new(1, 3).unwrap().dir(out).join(SHARD_MANIFEST)).unwrap();
        assert_eq!(missing_shards(out, "job", 3), vec![1]);
        assert_eq!(missing_shards(out, "job", 5), vec![0, 1, 2, 3, 4]);
        write_shard(out, Shard::new(1, 3).unwrap(), "cfg", "x");

        // A stray shard of another count.
        write_shard(out, Shard::new(0, 2).unwrap(), "cfg", "x");
        let e = reason(collect_shards(out, "job").unwrap_err());
        assert!(e.contains("different counts"), "{e}");
    }

    #[test]
    fn slurm_scripts() {
        let tmp = tempfile::tempdir().unwrap();
        let spec = SlurmArray {
            job: "profile".into(),
            count: 4,
            max_parallel: Some(2),
            task_command: vec![
                "pixel-monitor".into(),
                "profile".into(),
                "--out".into(),
                "a b".into(),
            ],
            merge_command: vec!["pixel-monitor".into(), "merge".into()],
            workdir: PathBuf::from("/work"),
            partition: Some("debug".into()),
            time: None,
            mem: Some("2G".into()),
            cpus_per_task: Some(2),
            account: None,
            extra_directives: vec!["--qos=short".into()],
            only_tasks: Vec::new(),
        };
        let scripts = spec.write(tmp.path()).unwrap();
        let text = std::fs::read_to_string(&scripts.array).unwrap();
        assert!(text.contains("#SBATCH --array=0-3%2\n"), "{text}");
        assert!(
            text.contains(
                "exec pixel-monitor profile --out 'a b' --shard \"${SLURM_ARRAY_TASK_ID}/4\"\n"
            ),
            "{text}"
        );
        assert!(text.contains("#SBATCH --partition=debug\n"));
        let merge = std::fs::read_to_string(&scripts.merge).unwrap();
        assert!(merge.contains("exec pixel-monitor merge\n"), "{merge}");
        assert!(!merge.contains("--array"));
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert!(text.contains("#SBATCH --qos=short\n"), "{text}");
        let only = SlurmArray {
            only_tasks: vec![1, 3],
            ..spec.clone()
        };
        let text = std::fs::read_to_string(only.write(tmp.path()).unwrap().array).unwrap();
        assert!(text.contains("#SBATCH --array=1,3%2\n"), "{text}");
        let bad_task = SlurmArray {
            only_tasks: vec![4],
            ..spec.clone()
        };
        assert!(bad_task.write(tmp.path()).is_err());
        let bad_option = SlurmArray {
            extra_directives: vec!["rm -rf /".into()],
            ..spec.clone()
        };
        assert!(bad_option.write(tmp.path()).is_err());
        assert!(
            SlurmArray {
                job: "../x".into(),
                ..spec
            }
            .write(tmp.path())
            .is_err()
        );
    }
}
