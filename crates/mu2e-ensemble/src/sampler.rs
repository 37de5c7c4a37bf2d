//! The ensemble sampler (run_si + art `SamplingInput`, replacing Mu2e/Production `run_si.py`) with
//! exact bookkeeping.
//!
//! # Algorithm
//!
//! 1. For each sample, the expected number of *stored* events is
//!    `mean = norm · reco / gen` (as `run_si.py`): `norm` is the process normalisation (expected
//!    generated events, or seconds of cosmic livetime), `reco` the stored rows of the sample's
//!    files and `gen` the summed `GenEventCount` (or `CosmicLivetime`, s) of those files.
//! 2. [`draw_counts`]: `N_total ~ Poisson(Σ mean)` from stream `(seed, 0)`, then the per-sample
//!    counts multinomially given `N_total` (sequential conditional binomials, stream `(seed, 1)`);
//!    together the counts are independent `Poisson(mean_s)` (Poisson splitting).
//! 3. [`allocate`]: every sample's count is assigned, *before anything is written*, to disjoint
//!    row ranges of its files in file order, skipping the rows the [`Ledger`] records as used. A short sample fails here ([`Error::ShortSample`]).
//! 4. The output order is a seeded Fisher–Yates shuffle (stream `(seed, 2)`) of the multiset of
//!    sample labels; position `i` of the shuffled list takes the next unread event of its sample
//!    (sequential reading, as `SamplingInput` does). The list is cut into sub-runs of at most
//!    `max_events_per_subrun` events; output events are renumbered `run:subrun:1,2,3…`, and the
//!    original ID is kept in `sampled_run/sampled_subrun/sampled_event`.
//!
//! # The ledger (no event reuse across ensembles)
//!
//! A JSON file ([`Ledger`]) records, per sample file (keyed by its canonical path), the row ranges
//! already given to some ensemble; allocation only uses rows outside them. Everything that can be
//! checked (inputs, the FCL template) is checked first; then the allocation is written to the
//! ledger as a reservation (status `reserved`, with the holder's host and process id) before the
//! first output file is created, and marked `complete` afterwards, so events are never reused.
//! A run that fails after reserving removes the files it wrote and releases its reservation; a
//! run that is killed leaves it `reserved`, and [`release_stale`] (the CLI's `ledger
//! --release-stale`) releases the reservations whose holder process on this host is gone. Every
//! update holds an OS advisory lock ([`LedgerLock`], `flock` on `<ledger>.lock`), which vanishes
//! with its holder, so concurrent runs cannot reserve the same rows and a crash never blocks the
//! next run. Every ensemble built from the same files must use the same ledger (the CLI default
//! is `mu2e-ensemble-ledger.json` in the directory of the first sample file). A file whose row
//! count differs from the ledger's record is refused.
//!
//! # Outputs
//!
//! One Parquet file per sub-run named like the originals
//! (`dts.mu2e.ensemble-MC.MDC2020.001201_00000000.parquet`), each with a provenance sidecar, and
//! `ensemble.json` ([`EnsembleReport`]: seed, draws, per-file ranges, per-sub-run counts,
//! expected vs realised with pulls) with its own sidecar. The Parquet files are byte-identical
//! for the same inputs, ledger state and seed at any thread count.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use hep_core::io::{FileDigest, ParquetReader, ParquetWriter, atomic_write_bytes};
use hep_core::manifest::Manifest;
use hep_core::progress::{NoProgress, Progress};
use rand::seq::SliceRandom;
use rand_distr::{Binomial, Distribution, Poisson};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub use crate::fcl::OutputNaming;
use crate::samples::{EventColumns, EventId, SampleFileInfo};

/// Default maximum number of events per sub-run (G0/G1 `run_si.py`; G2 used 10 000 000).
pub const DEFAULT_MAX_EVENTS_PER_SUBRUN: u64 = 1_000_000;
/// Stream key of the Poisson draw of `N_total`.
pub const STREAM_TOTAL: u64 = 0;
/// Stream key of the multinomial split.
pub const STREAM_SPLIT: u64 = 1;
/// Stream key of the interleaving shuffle.
pub const STREAM_ORDER: u64 = 2;
/// Name of the ensemble report written next to the sub-run files.
pub const REPORT_FILE: &str = "ensemble.json";
/// File name of the default ledger (in the directory of the first sample file).
pub const DEFAULT_LEDGER_NAME: &str = "mu2e-ensemble-ledger.json";

/// What the sampler needs for one sample: its name, normalisation and files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleInput {
    /// Sample (dataset) name, e.g. `DIOTail`.
    pub name: String,
    /// Expected generated events for the ensemble livetime, or seconds of cosmic livetime for
    /// cosmic samples (as `run_si.py`).
    pub norm: f64,
    /// The sample's files, in the order they are consumed.
    pub files: Vec<SampleFileInfo>,
    /// True when `norm` is a livetime (s) and the files carry `CosmicLivetime` (G1+ cosmics);
    /// false when `norm` is a number of generated events and the files carry `GenEventCount`.
    pub norm_is_livetime: bool,
    /// G0 `filenames` window `(start_fraction, max_fraction)`: only rows
    /// `[int(rows·start), int(rows·max))` of each file may be used (G0 `run_si.py`'s
    /// fraction windows).
    #[serde(default)]
    pub fraction_window: Option<(f64, f64)>,
}

impl SampleInput {
    /// A sample without a fraction window; `norm_is_livetime` is taken from the first file.
    pub fn new(name: impl Into<String>, norm: f64, files: Vec<SampleFileInfo>) -> Self {
        let norm_is_livetime = files.first().is_some_and(|f| f.normalization.is_cosmic());
        Self {
            name: name.into(),
            norm,
            files,
            norm_is_livetime,
            fraction_window: None,
        }
    }

    /// The usable rows `[lo, hi)` of a file of this sample (the whole file without a window).
    pub fn window(&self, file: &SampleFileInfo) -> (u64, u64) {
        match self.fraction_window {
            None => (0, file.events),
            Some((a, b)) => {
                let r = file.events as f64;
                ((r * a) as u64, ((r * b) as u64).min(file.events))
            }
        }
    }
}

/// Expected stored events of one sample (as `run_si.py`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleExpectation {
    /// Sample name.
    pub name: String,
    /// The process normalisation (generated events, or s of cosmic livetime).
    pub norm: f64,
    /// True for cosmic samples (normalised by livetime).
    pub cosmic: bool,
    /// Stored events in all files.
    pub reco_events: u64,
    /// Generated events (or cosmic livetime, s) of all files.
    pub generated: f64,
    /// `norm · reco_events / generated`: expected events in the ensemble.
    pub mean: f64,
}

/// Computes [`SampleExpectation`]s.
///
/// # Errors
///
/// [`Error::InvalidArgument`] for a sample without files, a negative or non-finite norm, files of
/// mixed kinds (counts and livetimes), a cosmic norm for a counted sample or zero generated
/// events/livetime with a positive norm.
pub fn expectations(samples: &[SampleInput]) -> Result<Vec<SampleExpectation>> {
    samples
        .iter()
        .map(|s| {
            if s.files.is_empty() {
                return Err(Error::InvalidArgument(format!(
                    "sample {} has no files",
                    s.name
                )));
            }
            if !(s.norm.is_finite() && s.norm >= 0.0) {
                return Err(Error::InvalidArgument(format!(
                    "sample {}: normalisation must be finite and >= 0, got {}",
                    s.name, s.norm
                )));
            }
            let cosmic = s.norm_is_livetime;
            if let Some(f) = s
                .files
                .iter()
                .find(|f| f.normalization.is_cosmic() != cosmic)
            {
                return Err(Error::InvalidArgument(format!(
                    "sample {}: {} carries {} but the sample is normalised by {}",
                    s.name,
                    f.path.display(),
                    if f.normalization.is_cosmic() {
                        "CosmicLivetime"
                    } else {
                        "GenEventCount"
                    },
                    if cosmic {
                        "livetime"
                    } else {
                        "generated events"
                    },
                )));
            }
            let reco_events: u64 = s.files.iter().map(|f| f.events).sum();
            let generated: f64 = s.files.iter().map(|f| f.normalization.value()).sum();
            let mean = if s.norm == 0.0 {
                0.0
            } else if generated > 0.0 {
                s.norm * reco_events as f64 / generated
            } else {
                return Err(Error::InvalidArgument(format!(
                    "sample {}: its files record zero generated events (or livetime)",
                    s.name
                )));
            };
            Ok(SampleExpectation {
                name: s.name.clone(),
                norm: s.norm,
                cosmic,
                reco_events,
                generated,
                mean,
            })
        })
        .collect()
}

/// The random draws of one ensemble.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draws {
    /// `N_total ~ Poisson(Σ means)`.
    pub n_total: u64,
    /// Per-sample counts (multinomial given `n_total`), summing to `n_total`.
    pub counts: Vec<u64>,
}

/// Draws `N_total ~ Poisson(Σ means)` and splits it multinomially with probabilities
/// `means/Σ means` (as `run_si.py`, which drew with ROOT's `gRandom->Poisson`). Streams `(seed,
/// STREAM_TOTAL)` and `(seed, STREAM_SPLIT)`.
///
/// # Errors
///
/// [`Error::InvalidArgument`] for a negative or non-finite mean.
pub fn draw_counts(means: &[f64], seed: u64) -> Result<Draws> {
    if let Some(m) = means.iter().find(|m| !(m.is_finite() && **m >= 0.0)) {
        return Err(Error::InvalidArgument(format!(
            "expected counts must be finite and >= 0, got {m}"
        )));
    }
    let total_mean: f64 = means.iter().sum();
    let n_total = if total_mean > 0.0 {
        let mut rng = hep_core::rng::stream(seed, STREAM_TOTAL);
        let p = Poisson::new(total_mean)
            .map_err(|e| Error::InvalidArgument(format!("Poisson mean {total_mean}: {e}")))?;
        p.sample(&mut rng) as u64
    } else {
        0
    };
    let mut rng = hep_core::rng::stream(seed, STREAM_SPLIT);
    let mut counts = vec![0u64; means.len()];
    let mut left = n_total;
    let mut mass_left = total_mean;
    for (i, &m) in means.iter().enumerate() {
        if left == 0 {
            break;
        }
        let is_last_positive = means[i + 1..].iter().all(|&x| x == 0.0);
        let k = if is_last_positive {
            left
        } else if m == 0.0 {
            0
        } else {
            let p = (m / mass_left).clamp(0.0, 1.0);
            Binomial::new(left, p)
                .map_err(|e| Error::InvalidArgument(format!("binomial({left}, {p}): {e}")))?
                .sample(&mut rng)
        };
        counts[i] = k;
        left -= k;
        mass_left -= m;
    }
    Ok(Draws { n_total, counts })
}

/// A range of rows of one sample file given to an ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRange {
    /// Sample name.
    pub sample: String,
    /// The file.
    pub path: PathBuf,
    /// First row (0-based, inclusive).
    pub start_row: u64,
    /// End row (exclusive).
    pub end_row: u64,
    /// Event ID of the first row used (filled when the ensemble is written).
    #[serde(default)]
    pub first_event: Option<EventId>,
    /// Event ID of the last row used (filled when the ensemble is written).
    #[serde(default)]
    pub last_event: Option<EventId>,
}

impl FileRange {
    /// Number of rows.
    pub fn len(&self) -> u64 {
        self.end_row - self.start_row
    }

    /// True when the range is empty.
    pub fn is_empty(&self) -> bool {
        self.end_row == self.start_row
    }
}

/// Consumption record of one file in the [`Ledger`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerFile {
    /// Rows of the file when it was first used (a changed file is refused).
    pub rows: u64,
    /// Used row ranges `[start, end)`, sorted and disjoint.
    pub used: Vec<[u64; 2]>,
}

impl LedgerFile {
    /// The unused sub-ranges of `[lo, hi)`, in order.
    pub fn free_in(&self, lo: u64, hi: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut cur = lo;
        for &[a, b] in &self.used {
            if b <= cur {
                continue;
            }
            if a >= hi {
                break;
            }
            if a > cur {
                out.push((cur, a.min(hi)));
            }
            cur = cur.max(b);
            if cur >= hi {
                break;
            }
        }
        if cur < hi {
            out.push((cur, hi));
        }
        out
    }

    /// Marks `[a, b)` unused again (the inverse of [`mark`](Self::mark) for a reservation that
    /// is released); rows of `[a, b)` that are not marked are ignored.
    pub fn unmark(&mut self, a: u64, b: u64) {
        let mut out: Vec<[u64; 2]> = Vec::with_capacity(self.used.len() + 1);
        for &[x, y] in &self.used {
            if y <= a || x >= b {
                out.push([x, y]);
                continue;
            }
            if x < a {
                out.push([x, a]);
            }
            if y > b {
                out.push([b, y]);
            }
        }
        self.used = out;
    }

    /// Marks `[a, b)` used.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if any row of it is already used.
    pub fn mark(&mut self, a: u64, b: u64) -> Result<()> {
        if self.used.iter().any(|&[x, y]| a < y && x < b) {
            return Err(Error::InvalidArgument(format!(
                "rows {a}..{b} overlap rows already used ({:?})",
                self.used
            )));
        }
        let pos = self.used.partition_point(|&[x, _]| x < a);
        self.used.insert(pos, [a, b]);
        // Merge neighbours.
        let mut merged: Vec<[u64; 2]> = Vec::with_capacity(self.used.len());
        for &[x, y] in &self.used {
            match merged.last_mut() {
                Some(last) if last[1] == x => last[1] = y,
                _ => merged.push([x, y]),
            }
        }
        self.used = merged;
        Ok(())
    }
}

/// One ensemble recorded in the [`Ledger`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Output directory of the ensemble.
    pub output_dir: PathBuf,
    /// Master seed.
    pub seed: u64,
    /// `reserved` while being written, `complete` afterwards.
    pub status: String,
    /// UTC time of the reservation.
    pub reserved_utc: String,
    /// The row ranges given to the ensemble.
    pub ranges: Vec<FileRange>,
    /// Unique id of the reservation, `<host>:<pid>:<reserved_utc>` (empty in ledgers written
    /// before it was recorded).
    #[serde(default)]
    pub id: String,
    /// Process id of the process that made the reservation.
    #[serde(default)]
    pub holder_pid: Option<u32>,
    /// Host name of that process.
    #[serde(default)]
    pub holder_host: Option<String>,
}

/// Status of a reservation whose ensemble is being written.
pub const STATUS_RESERVED: &str = "reserved";
/// Status of a finished ensemble.
pub const STATUS_COMPLETE: &str = "complete";

/// This machine's host name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`, else `unknown`).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// Whether a process `pid` runs on this machine: `Some(bool)` where `/proc` tells, `None` where
/// it cannot be known (no `/proc`).
fn process_alive(pid: u32) -> Option<bool> {
    let proc_root = Path::new("/proc");
    if !proc_root.join("self").exists() {
        return None;
    }
    Some(proc_root.join(pid.to_string()).exists())
}

impl LedgerEntry {
    /// True for a reservation (not a complete ensemble) whose holder is known to be gone: it was
    /// made on this host by a process that no longer runs (killed, crashed, machine rebooted).
    /// Reservations of other hosts, or of old ledgers without a holder, are never stale by this
    /// test; release them by id ([`Ledger::release`]).
    pub fn is_stale(&self) -> bool {
        self.status == STATUS_RESERVED
            && self.holder_host.as_deref() == Some(host_name().as_str())
            && self
                .holder_pid
                .is_some_and(|pid| process_alive(pid) == Some(false))
    }
}

/// Persistent record of the events consumed from sample files (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// Format version (1).
    pub version: u32,
    /// Per file (canonical path): rows and rows consumed.
    pub files: BTreeMap<String, LedgerFile>,
    /// The ensembles built, in order.
    pub ensembles: Vec<LedgerEntry>,
}

impl Ledger {
    /// Reads a ledger; a missing file is an empty ledger.
    ///
    /// # Errors
    ///
    /// [`Error::Core`] if the file cannot be read; [`hep_core::Error::Parse`] if it is not a ledger.
    pub fn load(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Ok(Self {
                version: 1,
                ..Self::default()
            });
        }
        let bytes = std::fs::read(path).map_err(|e| hep_core::Error::io(path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::input(
                path,
                e.line() as u64,
                "a mu2e-ensemble ledger (JSON)",
                e.to_string(),
            )
        })
    }

    /// Writes the ledger atomically.
    ///
    /// # Errors
    ///
    /// [`Error::Core`] on I/O failure.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut json = serde_json::to_vec_pretty(self).map_err(hep_core::Error::from)?;
        json.push(b'\n');
        atomic_write_bytes(path, &json)?;
        Ok(())
    }

    /// Removes the reservation `id` (status `reserved`) and gives its rows back, returning it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if no reservation has that id, or it is a complete ensemble
    /// (complete ensembles are never released: their events were used).
    pub fn release(&mut self, id: &str) -> Result<LedgerEntry> {
        let pos = self
            .ensembles
            .iter()
            .position(|e| !e.id.is_empty() && e.id == id)
            .ok_or_else(|| {
                Error::InvalidArgument(format!("the ledger has no reservation `{id}`"))
            })?;
        if self.ensembles[pos].status != STATUS_RESERVED {
            return Err(Error::InvalidArgument(format!(
                "reservation `{id}` is {}, not {STATUS_RESERVED}: its events were used and are \
                 never released",
                self.ensembles[pos].status
            )));
        }
        let entry = self.ensembles.remove(pos);
        for r in &entry.ranges {
            if let Some(f) = self.files.get_mut(&ledger_key(&r.path)) {
                f.unmark(r.start_row, r.end_row);
            }
        }
        Ok(entry)
    }

    /// The unused row ranges of `file` within `[lo, hi)`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if the file's row count differs from the recorded one.
    pub fn free(&self, file: &SampleFileInfo, lo: u64, hi: u64) -> Result<Vec<(u64, u64)>> {
        match self.files.get(&ledger_key(&file.path)) {
            None => Ok(if lo < hi { vec![(lo, hi)] } else { Vec::new() }),
            Some(f) if f.rows == file.events => Ok(f.free_in(lo, hi)),
            Some(f) => Err(Error::InvalidArgument(format!(
                "{}: the ledger records {} rows but the file has {}; it was replaced after use",
                file.path.display(),
                f.rows,
                file.events
            ))),
        }
    }
}

/// How long [`LedgerLock::acquire`] waits for another process's lock before it fails with
/// [`Error::LockTimeout`]. A process holds the lock only while it reads and updates the
/// ledger (milliseconds), never while it writes an ensemble.
pub const LEDGER_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// An exclusive lock on a ledger: an OS advisory lock (`flock`) on the file `<ledger>.lock`,
/// released when dropped or when the holding process dies, so a crashed run never blocks the
/// next one. Waiting for it lasts until the holder (another process updating the ledger, a
/// matter of milliseconds) is done, at most [`LEDGER_LOCK_TIMEOUT`].
pub struct LedgerLock {
    file: std::fs::File,
}

impl LedgerLock {
    /// Acquires the lock of `ledger`, creating `<ledger>.lock` (and its directory) if needed.
    ///
    /// # Errors
    ///
    /// [`Error::Core`] if the lock file cannot be created or locked; [`Error::LockTimeout`] if
    /// another process holds the lock for longer than [`LEDGER_LOCK_TIMEOUT`].
    pub fn acquire(ledger: &Path) -> Result<Self> {
        Self::acquire_within(ledger, LEDGER_LOCK_TIMEOUT)
    }

    /// [`LedgerLock::acquire`] waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`LedgerLock::acquire`].
    pub fn acquire_within(ledger: &Path, timeout: std::time::Duration) -> Result<Self> {
        let mut name = ledger.file_name().unwrap_or_default().to_owned();
        name.push(".lock");
        let path = ledger.with_file_name(name);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| hep_core::Error::io(dir, e))?;
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| hep_core::Error::io(&path, e))?;
        Self::lock_within(file, &path, timeout)
    }

    /// Takes the lock of the open lock file `file`, retrying every 20 ms for at most `timeout`.
    fn lock_within(file: std::fs::File, path: &Path, timeout: std::time::Duration) -> Result<Self> {
        let start = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self { file }),
                Err(std::fs::TryLockError::WouldBlock) => {
                    if start.elapsed() >= timeout {
                        return Err(Error::LockTimeout {
                            path: path.to_path_buf(),
                            waited_s: start.elapsed().as_secs(),
                        });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(hep_core::Error::io(path, e).into());
                }
            }
        }
    }
}

impl Drop for LedgerLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Releases every stale reservation of the ledger at `path` ([`LedgerEntry::is_stale`]) under
/// its lock and returns them. Their rows become available again; output files a killed run may
/// have left in their output directories are not touched (the directory has no ensemble report).
///
/// # Errors
///
/// As [`Ledger::load`] and [`Ledger::save`], and [`LedgerLock::acquire`].
pub fn release_stale(path: &Path) -> Result<Vec<LedgerEntry>> {
    let _lock = LedgerLock::acquire(path)?;
    let mut ledger = Ledger::load(path)?;
    let ids: Vec<String> = ledger
        .ensembles
        .iter()
        .filter(|e| e.is_stale())
        .map(|e| e.id.clone())
        .collect();
    let released = ids
        .iter()
        .map(|id| ledger.release(id))
        .collect::<Result<Vec<_>>>()?;
    if !released.is_empty() {
        ledger.save(path)?;
    }
    Ok(released)
}

/// Releases the reservation `id` of the ledger at `path` under its lock (for a reservation of
/// another host, or one [`release_stale`] cannot judge) and returns it.
///
/// # Errors
///
/// As [`Ledger::release`], [`Ledger::load`], [`Ledger::save`].
pub fn release_reservation(path: &Path, id: &str) -> Result<LedgerEntry> {
    let _lock = LedgerLock::acquire(path)?;
    let mut ledger = Ledger::load(path)?;
    let entry = ledger.release(id)?;
    ledger.save(path)?;
    Ok(entry)
}

/// The ledger key of a file: its canonical path (the path as given if it cannot be resolved).
pub fn ledger_key(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

/// Assigns each sample's count to disjoint row ranges of its files, in file order, after the
/// rows the ledger records as used. Returns the ranges per sample (in `samples` order).
///
/// # Errors
///
/// [`Error::ShortSample`] for the first sample whose unused events are fewer than its count
/// (`livetime_s` scales the largest livetime that fits; without it the ratio to the current
/// livetime is reported with livetime 1); errors of [`Ledger::free`].
pub fn allocate(
    samples: &[SampleInput],
    expect: &[SampleExpectation],
    counts: &[u64],
    ledger: &Ledger,
    livetime_s: Option<f64>,
) -> Result<Vec<Vec<FileRange>>> {
    let mut available = Vec::with_capacity(samples.len());
    for s in samples {
        let mut a = 0u64;
        for f in &s.files {
            let (lo, hi) = s.window(f);
            a += ledger
                .free(f, lo, hi)?
                .iter()
                .map(|(x, y)| y - x)
                .sum::<u64>();
        }
        available.push(a);
    }
    if let Some(i) = (0..samples.len()).find(|&i| counts[i] > available[i]) {
        let t = livetime_s.unwrap_or(1.0);
        let mut scale = f64::INFINITY;
        let mut scale3 = f64::INFINITY;
        for (e, &a) in expect.iter().zip(&available) {
            if e.mean > 0.0 {
                let a = a as f64;
                scale = scale.min(a / e.mean);
                // m + 3√m ≤ a  ⇔  √m ≤ (−3 + √(9 + 4a))/2
                let r = (-3.0 + (9.0 + 4.0 * a).sqrt()) / 2.0;
                scale3 = scale3.min(r * r / e.mean);
            }
        }
        return Err(Error::ShortSample {
            sample: samples[i].name.clone(),
            needed: counts[i],
            available: available[i],
            shortfall: counts[i] - available[i],
            max_livetime_s: t * scale,
            max_livetime_3sigma_s: t * scale3,
        });
    }
    let mut out = Vec::with_capacity(samples.len());
    for (s, &n) in samples.iter().zip(counts) {
        let mut left = n;
        let mut ranges = Vec::new();
        for f in &s.files {
            if left == 0 {
                break;
            }
            let (lo, hi) = s.window(f);
            for (start, end) in ledger.free(f, lo, hi)? {
                if left == 0 {
                    break;
                }
                let take = left.min(end - start);
                ranges.push(FileRange {
                    sample: s.name.clone(),
                    path: f.path.clone(),
                    start_row: start,
                    end_row: start + take,
                    first_event: None,
                    last_event: None,
                });
                left -= take;
            }
        }
        out.push(ranges);
    }
    Ok(out)
}

/// Configuration of one ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleConfig {
    /// Master seed of all draws.
    pub seed: u64,
    /// Run number of the output events.
    pub run: u32,
    /// Sub-run number of the first output file.
    pub first_subrun: u32,
    /// Maximum events per sub-run (output file).
    pub max_events_per_subrun: u64,
    /// Output file naming.
    pub naming: OutputNaming,
    /// Ensemble livetime (s), recorded and used for the largest-livetime hint of a shortfall.
    pub livetime_s: Option<f64>,
    /// The ledger file shared by all ensembles built from the same sample files.
    pub ledger: PathBuf,
    /// Free-form header information recorded in the report (rue, rup, kmax, emin, ...).
    pub header: BTreeMap<String, String>,
    /// Write `SamplingInput_sr<k>.fcl` per sub-run (art interoperability), if set.
    #[serde(default)]
    pub fcl: Option<FclOptions>,
}

/// Options of the per-sub-run `SamplingInput` FCL (see [`crate::fcl`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FclOptions {
    /// Template file (default [`crate::fcl::DEFAULT_TEMPLATE`]).
    pub template: Option<PathBuf>,
    /// Fill `${outnameData}` with the G0 `ensemble-Data` name (empty otherwise).
    pub with_data_stream: bool,
}

/// The `SamplingInput` job of one written sub-run: each sample with events in the sub-run is a
/// dataset whose file is the one holding its first event, `skipToEvent` that event, and weight the
/// sample's event count in the sub-run (so art's expected composition equals the realised one);
/// `samplingSeed = seed + subrun` as in run_si. A sample whose events span two files in the
/// sub-run cannot be expressed in one `SamplingInput` job (one file per dataset); the header then
/// says so.
pub fn subrun_fcl(
    report_cfg: &EnsembleConfig,
    sub: &SubrunRecord,
    with_data_stream: bool,
) -> crate::fcl::SubrunFcl {
    let art_name = |description: &str| {
        let n = OutputNaming {
            description: description.to_string(),
            ..report_cfg.naming.clone()
        };
        let mut s = n.file_name(report_cfg.run, sub.subrun);
        s.truncate(s.len() - ".parquet".len());
        s.push_str(".art");
        s
    };
    let mut comments: Vec<(String, String)> = report_cfg
        .header
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    comments.push(("nevts".into(), sub.events.to_string()));
    for st in sub.starts.iter().filter(|s| s.spans_files) {
        comments.push((
            "warning".into(),
            format!(
                "{} continues into its next file within this sub-run; split the job there",
                st.sample
            ),
        ));
    }
    crate::fcl::SubrunFcl {
        comments,
        run: report_cfg.run,
        subrun: sub.subrun,
        sampling_seed: report_cfg.seed.wrapping_add(u64::from(sub.subrun)),
        datasets: sub
            .starts
            .iter()
            .map(|st| crate::fcl::DataSetEntry {
                name: st.sample.clone(),
                file: st.path.clone(),
                weight: st.count as f64,
                skip_to_event: Some(st.event),
            })
            .collect(),
        outname_mc: art_name(&report_cfg.naming.description),
        outname_data: if with_data_stream {
            art_name(&report_cfg.naming.description.replace("-MC", "-Data"))
        } else {
            String::new()
        },
    }
}

/// Everything decided before anything is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsemblePlan {
    /// Per-sample expectations.
    pub expectations: Vec<SampleExpectation>,
    /// The draws.
    pub draws: Draws,
    /// Per-sample row ranges.
    pub ranges: Vec<Vec<FileRange>>,
}

/// Draws and allocates an ensemble without writing anything (the ledger is only read).
///
/// # Errors
///
/// As [`expectations`], [`draw_counts`], [`Ledger::load`] and [`allocate`];
/// [`Error::InvalidArgument`] for duplicate sample names or a file listed twice.
pub fn plan_ensemble(samples: &[SampleInput], cfg: &EnsembleConfig) -> Result<EnsemblePlan> {
    check_names(samples)?;
    let expect = expectations(samples)?;
    let means: Vec<f64> = expect.iter().map(|e| e.mean).collect();
    let draws = draw_counts(&means, cfg.seed)?;
    let ledger = Ledger::load(&cfg.ledger)?;
    let ranges = allocate(samples, &expect, &draws.counts, &ledger, cfg.livetime_s)?;
    Ok(EnsemblePlan {
        expectations: expect,
        draws,
        ranges,
    })
}

pub(crate) fn check_names(samples: &[SampleInput]) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for s in samples {
        if s.name.is_empty() || !seen.insert(s.name.as_str()) {
            return Err(Error::InvalidArgument(format!(
                "sample names must be unique and non-empty: {:?}",
                s.name
            )));
        }
    }
    // A file listed twice (in one sample or two) would have its rows allocated twice.
    let mut files = std::collections::BTreeMap::new();
    for s in samples {
        for f in &s.files {
            if let Some(other) = files.insert(ledger_key(&f.path), s.name.as_str()) {
                return Err(Error::InvalidArgument(format!(
                    "{} is listed twice (samples {other} and {}); each file may feed one sample once",
                    f.path.display(),
                    s.name
                )));
            }
        }
    }
    if samples.len() > usize::from(u16::MAX) {
        return Err(Error::InvalidArgument("at most 65535 samples".into()));
    }
    Ok(())
}

/// Expected vs realised count of one sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleOutcome {
    /// Sample name.
    pub name: String,
    /// Expected events `mean`.
    pub expected: f64,
    /// Realised events.
    pub realised: u64,
    /// `(realised − expected)/√expected` (0 when expected is 0).
    pub pull: f64,
}

/// Per-sample starting point of one sub-run (for `SamplingInput` FCL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubrunStart {
    /// Sample name.
    pub sample: String,
    /// File holding the sample's first event of the sub-run.
    pub path: PathBuf,
    /// That event's ID (`skipToEvent`).
    pub event: EventId,
    /// Events of the sample in the sub-run.
    pub count: u64,
    /// True when the sample's events in this sub-run span more than one file.
    pub spans_files: bool,
}

/// One written sub-run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubrunRecord {
    /// Sub-run number.
    pub subrun: u32,
    /// Output file.
    pub path: PathBuf,
    /// Events in the file.
    pub events: u64,
    /// Per-sample starts and counts (samples with at least one event).
    pub starts: Vec<SubrunStart>,
}

/// The bookkeeping of a written ensemble (`ensemble.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleReport {
    /// The configuration.
    pub config: EnsembleConfig,
    /// Σ expected.
    pub expected_total: f64,
    /// The draws.
    pub draws: Draws,
    /// Per-sample expectations.
    pub expectations: Vec<SampleExpectation>,
    /// Expected vs realised with pulls.
    pub outcomes: Vec<SampleOutcome>,
    /// Row ranges consumed, per file.
    pub ranges: Vec<FileRange>,
    /// The sub-runs written.
    pub subruns: Vec<SubrunRecord>,
}

/// Pull `(n − μ)/√μ` of a Poisson count (0 when μ = 0).
pub fn poisson_pull(realised: u64, expected: f64) -> f64 {
    if expected > 0.0 {
        (realised as f64 - expected) / expected.sqrt()
    } else {
        0.0
    }
}

/// Plans and writes an ensemble into `out_dir` (see the module docs).
///
/// # Errors
///
/// As [`plan_ensemble`] (nothing is written then), and [`Error::Core`] for I/O failures while
/// writing (the ledger then keeps the reservation so the events are not reused).
pub fn build_ensemble(
    samples: &[SampleInput],
    cfg: &EnsembleConfig,
    out_dir: &Path,
) -> Result<EnsembleReport> {
    build_ensemble_with_progress(samples, cfg, out_dir, &NoProgress)
}

/// [`build_ensemble`] reporting each written sub-run file to `progress` (stage `"sub-runs"`),
/// with `tracing` info events (plan, write) carrying counts and timings.
///
/// # Errors
/// As [`build_ensemble`].
pub fn build_ensemble_with_progress(
    samples: &[SampleInput],
    cfg: &EnsembleConfig,
    out_dir: &Path,
    progress: &dyn Progress,
) -> Result<EnsembleReport> {
    let start = std::time::Instant::now();
    let plan = plan_ensemble(samples, cfg)?;
    tracing::info!(
        samples = samples.len(),
        events = plan.draws.n_total,
        seconds = start.elapsed().as_secs_f64(),
        "run-si: ensemble planned"
    );
    let report = write_ensemble_with_progress(samples, cfg, &plan, out_dir, progress)?;
    tracing::info!(
        events = report.draws.n_total,
        subruns = report.subruns.len(),
        seconds = start.elapsed().as_secs_f64(),
        "run-si: ensemble written to {}",
        out_dir.display()
    );
    Ok(report)
}

/// The Arrow schema of ensemble files.
pub fn ensemble_schema() -> SchemaRef {
    let i = |n: &str| Field::new(n, DataType::Int64, false);
    let f = |n: &str| {
        let unit = match n {
            "time_ns" => "ns",
            "energy_mev" => "MeV",
            _ => "MeV/c",
        };
        hep_core::io::with_unit(Field::new(n, DataType::Float64, false), unit)
    };
    Arc::new(Schema::new(vec![
        i("run"),
        i("subrun"),
        i("event"),
        Field::new("dataset", DataType::Utf8, false),
        i("sampled_run"),
        i("sampled_subrun"),
        i("sampled_event"),
        i("pdg"),
        f("energy_mev"),
        f("px_mev"),
        f("py_mev"),
        f("pz_mev"),
        f("time_ns"),
    ]))
}

/// Sequential reader over a sample's allocated row ranges.
struct SampleCursor {
    ranges: Vec<FileRange>,
    idx: usize,
    reader: Option<ParquetReader>,
    batch: Option<RecordBatch>,
    /// File row of the first row of `batch`.
    batch_row: u64,
    /// Next file row to deliver.
    row: u64,
}

const READ_BATCH: usize = 65_536;

impl SampleCursor {
    fn new(ranges: Vec<FileRange>) -> Self {
        Self {
            ranges,
            idx: 0,
            reader: None,
            batch: None,
            batch_row: 0,
            row: 0,
        }
    }

    /// Appends the next `n` events to `out`; returns the starts (file, id, spans).
    fn read(&mut self, mut n: u64, out: &mut EventColumns) -> Result<Option<StartInfo>> {
        let mut start: Option<(PathBuf, EventId)> = None;
        let mut spans = false;
        while n > 0 {
            let Some(range) = self.ranges.get(self.idx) else {
                return Err(Error::InvalidArgument(
                    "internal: cursor ran past its allocation".into(),
                ));
            };
            if self.reader.is_none() {
                self.reader = Some(ParquetReader::open_with_batch_size(
                    &range.path,
                    READ_BATCH,
                )?);
                self.batch = None;
                self.batch_row = 0;
                self.row = range.start_row;
            }
            if self.row == range.end_row {
                self.idx += 1;
                self.reader = None;
                continue;
            }
            // Make sure the current batch contains `self.row`.
            loop {
                let have = self.batch.as_ref().map_or(0, |b| b.num_rows() as u64);
                if self.batch.is_some() && self.row < self.batch_row + have {
                    break;
                }
                self.batch_row += have;
                let next = self.reader.as_mut().and_then(Iterator::next).transpose()?;
                match next {
                    Some(b) => self.batch = Some(b),
                    None => {
                        return Err(Error::input(
                            &range.path,
                            self.row + 1,
                            format!("at least {} rows", range.end_row),
                            format!("{} rows", self.batch_row),
                        ));
                    }
                }
            }
            let b = self.batch.as_ref().expect("batch loaded");
            let off = (self.row - self.batch_row) as usize;
            let avail = (b.num_rows() - off) as u64;
            let take = n.min(avail).min(range.end_row - self.row);
            let first_out = out.len();
            out.extend_from_batch(b, off..off + take as usize)?;
            let r = &mut self.ranges[self.idx];
            match &start {
                None => start = Some((r.path.clone(), out.id(first_out))),
                Some((p, _)) => spans |= *p != r.path,
            }
            if self.row == r.start_row {
                r.first_event = Some(out.id(first_out));
            }
            self.row += take;
            if self.row == r.end_row {
                r.last_event = Some(out.id(out.len() - 1));
            }
            n -= take;
        }
        Ok(start.map(|(p, e)| (p, e, spans)))
    }
}

/// File, event ID and "spans several files" of a sample's first event in a sub-run.
type StartInfo = (PathBuf, EventId, bool);

/// Output columns of one sub-run under construction.
struct SubrunBuffer {
    labels: Vec<u16>,
    per_sample: Vec<EventColumns>,
    starts: Vec<Option<StartInfo>>,
}

/// Writes the ensemble of a plan (see the module docs).
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `out_dir` already holds an ensemble or the ledger changed since
/// the plan; [`Error::Core`] for I/O failures; [`hep_core::Error::Parse`] if a sample file has fewer rows
/// than its footer said.
pub fn write_ensemble(
    samples: &[SampleInput],
    cfg: &EnsembleConfig,
    plan: &EnsemblePlan,
    out_dir: &Path,
) -> Result<EnsembleReport> {
    write_ensemble_with_progress(samples, cfg, plan, out_dir, &NoProgress)
}

/// [`write_ensemble`] reporting each written sub-run file to `progress` (stage `"sub-runs"`).
///
/// # Errors
/// As [`write_ensemble`].
pub fn write_ensemble_with_progress(
    samples: &[SampleInput],
    cfg: &EnsembleConfig,
    plan: &EnsemblePlan,
    out_dir: &Path,
    progress: &dyn Progress,
) -> Result<EnsembleReport> {
    if cfg.max_events_per_subrun == 0 {
        return Err(Error::InvalidArgument(
            "max events per sub-run must be >= 1".into(),
        ));
    }
    if out_dir.join(REPORT_FILE).exists() {
        return Err(Error::InvalidArgument(format!(
            "{} already holds an ensemble ({REPORT_FILE}); choose a new output directory",
            out_dir.display()
        )));
    }
    // Everything that can be checked is checked before anything is reserved or written: the
    // FCL template (read and its placeholders resolved).
    let fcl_template = checked_fcl_template(cfg)?;
    std::fs::create_dir_all(out_dir).map_err(|e| hep_core::Error::io(out_dir, e))?;
    // Reserve in the ledger before anything is written, under its lock so that two processes
    // cannot reserve the same rows.
    let (id, plan) = reserve(samples, cfg, plan, out_dir)?;
    let plan = &plan;
    let n_subruns = plan.draws.n_total.div_ceil(cfg.max_events_per_subrun);
    match write_reserved(
        samples,
        cfg,
        plan,
        out_dir,
        fcl_template.as_deref(),
        progress,
    ) {
        Ok((report, ranges)) => {
            // Mark the reservation complete (re-reading the ledger: other ensembles may have
            // been reserved or released meanwhile).
            let _lock = LedgerLock::acquire(&cfg.ledger)?;
            let mut ledger = Ledger::load(&cfg.ledger)?;
            if let Some(e) = ledger.ensembles.iter_mut().find(|e| e.id == id) {
                e.status = STATUS_COMPLETE.into();
                e.ranges = ranges;
            }
            ledger.save(&cfg.ledger)?;
            Ok(report)
        }
        Err(e) => {
            // Nothing of a failed ensemble stays: its files go, its rows are given back.
            remove_ensemble_files(cfg, out_dir, n_subruns);
            if let Err(release) = release_reservation(&cfg.ledger, &id) {
                tracing::warn!(
                    "could not release reservation {id} after a failure: {release}; run \
                     `mu2e-ensemble ledger {} --release-stale`",
                    cfg.ledger.display()
                );
            }
            Err(e)
        }
    }
}

/// The FCL template of `cfg` (if it writes FCL), read and checked: every placeholder must be
/// known. Called before anything is reserved or written.
pub(crate) fn checked_fcl_template(cfg: &EnsembleConfig) -> Result<Option<String>> {
    let Some(fo) = &cfg.fcl else {
        return Ok(None);
    };
    let template = match &fo.template {
        Some(p) => hep_core::io::read_text(p)?,
        None => crate::fcl::DEFAULT_TEMPLATE.to_string(),
    };
    crate::fcl::SubrunFcl {
        comments: Vec::new(),
        run: cfg.run,
        subrun: cfg.first_subrun,
        sampling_seed: cfg.seed,
        datasets: Vec::new(),
        outname_mc: String::new(),
        outname_data: String::new(),
    }
    .render(&template)
    .map_err(|e| match &fo.template {
        Some(p) => Error::InvalidArgument(format!("{}: {e}", p.display())),
        None => e,
    })?;
    Ok(Some(template))
}

/// Reserves the plan's rows in the ledger (status `reserved`, with this process as holder) and
/// returns the reservation id and the plan whose rows were reserved.
///
/// The plan was allocated from the ledger as it was when the plan was made. If another process
/// has reserved rows since (several ensembles built from the same samples at once), the same
/// draws (the per-sample counts, fixed by the seed) are allocated again, under the ledger's
/// lock, from the rows still unused; if too few are left that is the usual "not enough unused
/// events" error. Allocation and reservation under one lock is what keeps two ensembles from
/// sharing an event.
fn reserve(
    samples: &[SampleInput],
    cfg: &EnsembleConfig,
    plan: &EnsemblePlan,
    out_dir: &Path,
) -> Result<(String, EnsemblePlan)> {
    let _lock = LedgerLock::acquire(&cfg.ledger)?;
    let mut ledger = Ledger::load(&cfg.ledger)?;
    let current = allocate(
        samples,
        &plan.expectations,
        &plan.draws.counts,
        &ledger,
        cfg.livetime_s,
    )?;
    let plan = if current == plan.ranges {
        plan.clone()
    } else {
        tracing::info!("the ledger changed since the plan was made: rows allocated again");
        EnsemblePlan {
            ranges: current,
            ..plan.clone()
        }
    };
    let id = reserve_in(&mut ledger, samples, cfg, &plan, out_dir)?;
    ledger.save(&cfg.ledger)?;
    Ok((id, plan))
}

/// Marks the plan's rows used in `ledger` (in memory) and adds its reservation entry; returns
/// the reservation id.
pub(crate) fn reserve_in(
    ledger: &mut Ledger,
    samples: &[SampleInput],
    cfg: &EnsembleConfig,
    plan: &EnsemblePlan,
    out_dir: &Path,
) -> Result<String> {
    let all_ranges: Vec<FileRange> = plan.ranges.iter().flatten().cloned().collect();
    for s in samples {
        for f in &s.files {
            ledger.free(f, 0, 0)?;
        }
    }
    for (s, ranges) in samples.iter().zip(&plan.ranges) {
        for r in ranges {
            let key = ledger_key(&r.path);
            let rows = s
                .files
                .iter()
                .find(|f| f.path == r.path)
                .map_or(r.end_row, |f| f.events);
            let entry = ledger.files.entry(key).or_insert(LedgerFile {
                rows,
                used: Vec::new(),
            });
            entry.mark(r.start_row, r.end_row).map_err(|e| {
                Error::InvalidArgument(format!(
                    "{}: the ledger changed since the plan was made: {e}",
                    r.path.display()
                ))
            })?;
        }
    }
    let host = host_name();
    let pid = std::process::id();
    let reserved_utc = hep_core::manifest::now_utc();
    let mut id = format!("{host}:{pid}:{reserved_utc}");
    // Two reservations of one process within a millisecond get distinct ids.
    let mut k = 1;
    while ledger.ensembles.iter().any(|e| e.id == id) {
        k += 1;
        id = format!("{host}:{pid}:{reserved_utc}#{k}");
    }
    ledger.version = 1;
    ledger.ensembles.push(LedgerEntry {
        output_dir: out_dir.to_path_buf(),
        seed: cfg.seed,
        status: STATUS_RESERVED.into(),
        reserved_utc,
        ranges: all_ranges,
        id: id.clone(),
        holder_pid: Some(pid),
        holder_host: Some(host),
    });
    Ok(id)
}

/// Removes what a failed [`write_ensemble`] may have written in `out_dir` (sub-run files, the
/// report, FCL files and their sidecars); best effort.
pub(crate) fn remove_ensemble_files(cfg: &EnsembleConfig, out_dir: &Path, n_subruns: u64) {
    let mut paths = vec![out_dir.join(REPORT_FILE)];
    for k in 0..n_subruns {
        let subrun = cfg.first_subrun + k as u32;
        paths.push(out_dir.join(cfg.naming.file_name(cfg.run, subrun)));
        paths.push(out_dir.join(format!("SamplingInput_sr{subrun}.fcl")));
    }
    for p in paths {
        let _ = std::fs::remove_file(hep_core::manifest::sidecar_path(&p));
        let _ = std::fs::remove_file(&p);
    }
}

/// Writes the ensemble of a reserved plan; returns the report and the ranges with their event
/// ids filled in.
pub(crate) fn write_reserved(
    samples: &[SampleInput],
    cfg: &EnsembleConfig,
    plan: &EnsemblePlan,
    out_dir: &Path,
    fcl_template: Option<&str>,
    progress: &dyn Progress,
) -> Result<(EnsembleReport, Vec<FileRange>)> {
    // Input digests once, in parallel.
    let input_paths: Vec<&PathBuf> = {
        let mut v: Vec<&PathBuf> = plan.ranges.iter().flatten().map(|r| &r.path).collect();
        v.dedup();
        v
    };
    let digests: Vec<FileDigest> = input_paths
        .par_iter()
        .map(|p| FileDigest::of(p).map_err(Error::from))
        .collect::<Result<_>>()?;

    // The interleaving order.
    let n_total = plan.draws.n_total;
    let mut labels: Vec<u16> = Vec::with_capacity(n_total as usize);
    for (i, &c) in plan.draws.counts.iter().enumerate() {
        labels.extend(std::iter::repeat_n(i as u16, c as usize));
    }
    labels.shuffle(&mut hep_core::rng::stream(cfg.seed, STREAM_ORDER));

    let mut cursors: Vec<SampleCursor> = plan
        .ranges
        .iter()
        .map(|r| SampleCursor::new(r.clone()))
        .collect();
    let chunks: Vec<&[u16]> = labels.chunks(cfg.max_events_per_subrun as usize).collect();
    let names: Vec<&str> = samples.iter().map(|s| s.name.as_str()).collect();
    let mut subruns = Vec::with_capacity(chunks.len());

    let read_chunk = |cursors: &mut Vec<SampleCursor>, chunk: &[u16]| -> Result<SubrunBuffer> {
        let mut counts = vec![0u64; cursors.len()];
        for &l in chunk {
            counts[usize::from(l)] += 1;
        }
        let results: Vec<Result<(EventColumns, Option<StartInfo>)>> = cursors
            .par_iter_mut()
            .zip(counts.par_iter())
            .map(|(c, &n)| {
                let mut cols = EventColumns::with_capacity(n as usize);
                let st = c.read(n, &mut cols)?;
                Ok((cols, st))
            })
            .collect();
        let mut per_sample = Vec::with_capacity(results.len());
        let mut starts = Vec::with_capacity(results.len());
        for r in results {
            let (c, s) = r?;
            per_sample.push(c);
            starts.push(s);
        }
        Ok(SubrunBuffer {
            labels: chunk.to_vec(),
            per_sample,
            starts,
        })
    };

    // Sub-runs are processed in groups of one per worker thread: the group's files are written
    // in parallel while the next group is read (reading is sequential per sample, like
    // SamplingInput). The grouping changes only the schedule, never the content.
    let group = rayon::current_num_threads().clamp(1, 4);
    let read_group = |cursors: &mut Vec<SampleCursor>, first: usize| -> Result<Vec<SubrunBuffer>> {
        chunks
            .iter()
            .skip(first)
            .take(group)
            .map(|c| read_chunk(cursors, c))
            .collect()
    };
    progress.start("sub-runs", chunks.len() as u64);
    let mut pending = read_group(&mut cursors, 0)?;
    let mut k = 0usize;
    while !pending.is_empty() {
        let bufs = std::mem::take(&mut pending);
        let paths: Vec<(u32, PathBuf)> = (0..bufs.len())
            .map(|i| {
                let subrun = cfg.first_subrun + (k + i) as u32;
                (subrun, out_dir.join(cfg.naming.file_name(cfg.run, subrun)))
            })
            .collect();
        let next_first = k + bufs.len();
        let (written, next) = rayon::join(
            || {
                bufs.par_iter()
                    .zip(paths.par_iter())
                    .map(|(buf, (subrun, path))| write_subrun(path, buf, &names, cfg, *subrun))
                    .collect::<Result<Vec<()>>>()
            },
            || read_group(&mut cursors, next_first),
        );
        written?;
        progress.advance(bufs.len() as u64);
        pending = next?;
        for (buf, (subrun, path)) in bufs.iter().zip(paths) {
            let starts = buf
                .starts
                .iter()
                .zip(&buf.per_sample)
                .zip(&names)
                .filter_map(|((s, cols), name)| {
                    s.as_ref().map(|(p, e, spans)| SubrunStart {
                        sample: (*name).to_string(),
                        path: p.clone(),
                        event: *e,
                        count: cols.len() as u64,
                        spans_files: *spans,
                    })
                })
                .collect();
            subruns.push(SubrunRecord {
                subrun,
                path,
                events: buf.labels.len() as u64,
                starts,
            });
        }
        k = next_first;
    }

    progress.finish();
    let ranges: Vec<FileRange> = cursors.into_iter().flat_map(|c| c.ranges).collect();
    let outcomes = plan
        .expectations
        .iter()
        .zip(&plan.draws.counts)
        .map(|(e, &n)| SampleOutcome {
            name: e.name.clone(),
            expected: e.mean,
            realised: n,
            pull: poisson_pull(n, e.mean),
        })
        .collect();
    let report = EnsembleReport {
        config: cfg.clone(),
        expected_total: plan.expectations.iter().map(|e| e.mean).sum(),
        draws: plan.draws.clone(),
        expectations: plan.expectations.clone(),
        outcomes,
        ranges: ranges.clone(),
        subruns,
    };
    let report_path = out_dir.join(REPORT_FILE);
    let mut json = serde_json::to_vec_pretty(&report).map_err(hep_core::Error::from)?;
    json.push(b'\n');
    atomic_write_bytes(&report_path, &json)?;

    let mut extra_outputs = Vec::new();
    if let (Some(fo), Some(template)) = (&cfg.fcl, fcl_template) {
        for sub in &report.subruns {
            let text = subrun_fcl(cfg, sub, fo.with_data_stream).render(template)?;
            let p = out_dir.join(format!("SamplingInput_sr{}.fcl", sub.subrun));
            atomic_write_bytes(&p, text.as_bytes())?;
            extra_outputs.push(p);
        }
    }

    // Provenance: one manifest, written next to every output.
    let mut m = Manifest::start("mu2e-ensemble run-si", env!("CARGO_PKG_VERSION"))
        .with_configuration(&report)?;
    m.inputs = digests;
    m.add_seed("seed", cfg.seed);
    let outputs: Vec<&PathBuf> = report
        .subruns
        .iter()
        .map(|s| &s.path)
        .chain(std::iter::once(&report_path))
        .chain(extra_outputs.iter())
        .collect();
    m.outputs = outputs
        .par_iter()
        .map(|p| FileDigest::of(p).map_err(Error::from))
        .collect::<Result<_>>()?;
    m.finish();
    for s in &report.subruns {
        m.write_sidecar(&s.path)?;
    }
    for p in &extra_outputs {
        m.write_sidecar(p)?;
    }
    m.write_sidecar(&report_path)?;

    Ok((report, ranges))
}

fn write_subrun(
    path: &Path,
    buf: &SubrunBuffer,
    names: &[&str],
    cfg: &EnsembleConfig,
    subrun: u32,
) -> Result<()> {
    let n = buf.labels.len();
    let mut pos = vec![0usize; buf.per_sample.len()];
    let mut out = EventColumns::with_capacity(n);
    let mut dataset = Vec::with_capacity(n);
    for &l in &buf.labels {
        let s = usize::from(l);
        let i = pos[s];
        pos[s] += 1;
        let c = &buf.per_sample[s];
        out.run.push(c.run[i]);
        out.subrun.push(c.subrun[i]);
        out.event.push(c.event[i]);
        out.pdg.push(c.pdg[i]);
        out.energy_mev.push(c.energy_mev[i]);
        out.px_mev.push(c.px_mev[i]);
        out.py_mev.push(c.py_mev[i]);
        out.pz_mev.push(c.pz_mev[i]);
        out.time_ns.push(c.time_ns[i]);
        dataset.push(names[s]);
    }
    let run = Arc::new(Int64Array::from(vec![i64::from(cfg.run); n])) as ArrayRef;
    let sub = Arc::new(Int64Array::from(vec![i64::from(subrun); n])) as ArrayRef;
    let ev = Arc::new(Int64Array::from_iter_values(1..=n as i64)) as ArrayRef;
    let ds = Arc::new(StringArray::from(dataset)) as ArrayRef;
    let i = |v: Vec<i64>| Arc::new(Int64Array::from(v)) as ArrayRef;
    let f = |v: Vec<f64>| Arc::new(Float64Array::from(v)) as ArrayRef;
    let EventColumns {
        run: r,
        subrun: s,
        event: e,
        pdg,
        energy_mev,
        px_mev,
        py_mev,
        pz_mev,
        time_ns,
    } = out;
    let batch = RecordBatch::try_new(
        ensemble_schema(),
        vec![
            run,
            sub,
            ev,
            ds,
            i(r),
            i(s),
            i(e),
            i(pdg),
            f(energy_mev),
            f(px_mev),
            f(py_mev),
            f(pz_mev),
            f(time_ns),
        ],
    )
    .map_err(|e| Error::InvalidArgument(format!("ensemble batch: {e}")))?;
    let kv = vec![
        ("run".to_string(), cfg.run.to_string()),
        ("subRun".to_string(), subrun.to_string()),
        ("samplingSeed".to_string(), cfg.seed.to_string()),
    ];
    let mut w = ParquetWriter::create(path, ensemble_schema(), &kv)?;
    let mut off = 0;
    while off < n {
        let len = (1usize << 17).min(n - off);
        w.write(&batch.slice(off, len))?;
        off += len;
    }
    w.finish()?;
    Ok(())
}

/// Draws `n` ensembles' counts for the same expectations with seeds `seed0, seed0 + 1, …` and
/// returns the per-sample pulls `pulls[sample][ensemble]` (a validation helper, used by the pull
/// test; no file is touched).
///
/// # Errors
///
/// As [`draw_counts`].
pub fn pulls_of_draws(means: &[f64], seed0: u64, n: u64) -> Result<Vec<Vec<f64>>> {
    let draws: Vec<Draws> = (0..n)
        .into_par_iter()
        .map(|k| draw_counts(means, seed0.wrapping_add(k)))
        .collect::<Result<_>>()?;
    Ok((0..means.len())
        .map(|s| {
            draws
                .iter()
                .map(|d| poisson_pull(d.counts[s], means[s]))
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_ledger_lock_times_out_with_its_own_error() {
        let d = tempfile::tempdir().unwrap();
        let ledger = d.path().join("ledger.json");
        let held = LedgerLock::acquire(&ledger).unwrap();
        let e = LedgerLock::acquire_within(&ledger, std::time::Duration::from_millis(100))
            .err()
            .expect("the lock is held");
        assert!(matches!(e, Error::LockTimeout { .. }), "{e}");
        assert!(e.to_string().contains("ledger.json.lock"), "{e}");
        drop(held);
        LedgerLock::acquire_within(&ledger, std::time::Duration::from_millis(100)).unwrap();
    }

    #[test]
    fn counts_sum_to_total() {
        let d = draw_counts(&[10.0, 0.0, 200.5, 3.0], 7).unwrap();
        assert_eq!(d.counts.iter().sum::<u64>(), d.n_total);
        assert_eq!(d.counts[1], 0);
        assert_eq!(draw_counts(&[0.0, 0.0], 1).unwrap().n_total, 0);
        assert!(draw_counts(&[-1.0], 1).is_err());
    }

    #[test]
    fn pull_definition() {
        assert_eq!(poisson_pull(110, 100.0), 1.0);
        assert_eq!(poisson_pull(3, 0.0), 0.0);
    }
}
