//! Event samples: Parquet files of simulated primary events, and their generator
//! (Mu2e/Production `Scripts/gen_Primary.sh`).
//!
//! # File format
//!
//! One Parquet file per generation job, one row per *stored* event (the events that passed the
//! generator-level filter), in event-ID order. Columns ([`primary_schema`]):
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `run`, `subrun`, `event` | i64 | art event ID (`run:subRun:event`, each fits in u32) |
//! | `pdg` | i64 | PDG code of the primary (11 e⁻, −11 e⁺, 22 γ, ±13 μ) |
//! | `energy_mev` | f64 | total energy (MeV) |
//! | `px_mev`, `py_mev`, `pz_mev` | f64 | momentum (MeV/c) |
//! | `time_ns` | f64 | production time after the proton pulse (ns) |
//!
//! Footer key-value metadata carries the normalisation the sampler needs (what
//! `run_si.py` read from art files): [`META_GEN_EVENT_COUNT`] = the number of *generated* events of
//! the job (art's `mu2e::GenEventCount`), or, for cosmic samples, [`META_COSMIC_LIVETIME`] = the
//! simulated livetime in seconds (art's `mu2e::CosmicLivetime`). [`META_PROCESS`] names the
//! process. The ratio stored/generated is the filter efficiency ("reco/gen") of the sample.
//!
//! File names follow the Mu2e convention `dts.<owner>.<description>.<configuration>.<run>_<subrun>`
//! (run 6 digits, sub-run 8 digits) with the extension `.parquet` instead of `.art`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use hep_core::io::{ParquetReader, ParquetWriter, column_f64, column_i64};
use hep_core::progress::{NoProgress, Progress};
use rand::RngExt;
use rand_distr::Distribution;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::tables::{EnergyCut, Spectrum, SpectrumSampler};

/// Footer key of the number of generated events of a file (art `mu2e::GenEventCount`).
pub const META_GEN_EVENT_COUNT: &str = "GenEventCount";
/// Footer key of the simulated cosmic livetime of a file in seconds (art `mu2e::CosmicLivetime`).
pub const META_COSMIC_LIVETIME: &str = "CosmicLivetime";
/// Footer key of the process (sample) name, e.g. `DIOTail`.
pub const META_PROCESS: &str = "process";

/// Electron mass (MeV), PDG 2024.
pub const ELECTRON_MASS_MEV: f64 = 0.510_998_95;
/// Muon mass (MeV), PDG 2024.
pub const MUON_MASS_MEV: f64 = 105.658_375_5;
/// Mean lifetime of a muon bound in aluminium (ns); Offline `globalConstants_01.txt`.
pub const AL_MUON_LIFETIME_NS: f64 = 864.0;
/// CE⁻ momentum at the Al endpoint (MeV/c), as used by the Mu2e `CeEndpoint` generator.
pub const CE_MINUS_ENDPOINT_MEV: f64 = 104.97;
/// CE⁺ endpoint in Al (MeV), Offline `globalConstants_01.txt`.
pub const CE_PLUS_ENDPOINT_MEV: f64 = 92.32;
/// Michel endpoint `m_μ/2` (MeV) used for the IPA Michel spectrum.
pub const MICHEL_ENDPOINT_MEV: f64 = MUON_MASS_MEV / 2.0;

/// An art event ID `run:subRun:event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventId {
    /// Run number.
    pub run: u32,
    /// Sub-run number.
    pub subrun: u32,
    /// Event number.
    pub event: u32,
}

impl std::fmt::Display for EventId {
    /// Formats as art's `skipToEvent` string `r:s:e`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.run, self.subrun, self.event)
    }
}

/// How a sample file is normalised (as `run_si.py` does).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleNormalization {
    /// Number of generated events (before the filter); the file's stored rows are the survivors.
    GenEventCount(u64),
    /// Simulated cosmic livetime (s).
    CosmicLivetimeSeconds(f64),
}

impl SampleNormalization {
    /// The normalisation as a number (events, or seconds for cosmics).
    pub fn value(self) -> f64 {
        match self {
            Self::GenEventCount(n) => n as f64,
            Self::CosmicLivetimeSeconds(t) => t,
        }
    }

    /// True for [`SampleNormalization::CosmicLivetimeSeconds`].
    pub fn is_cosmic(self) -> bool {
        matches!(self, Self::CosmicLivetimeSeconds(_))
    }
}

/// What the sampler needs to know about one sample file, read from its footer only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleFileInfo {
    /// Path of the Parquet file.
    pub path: PathBuf,
    /// Number of stored events (rows).
    pub events: u64,
    /// Generated events or cosmic livetime of the file.
    pub normalization: SampleNormalization,
    /// The process recorded in the file, if any.
    pub process: Option<String>,
}

/// Reads the footer of a sample file: row count, `GenEventCount` or `CosmicLivetime`, process.
///
/// # Errors
///
/// [`Error::Core`] if the file is missing or not Parquet; [`hep_core::Error::Parse`] (line 0 = the footer)
/// if it has neither or both normalisation keys, an unparsable or negative value, or lacks the
/// columns of [`primary_schema`].
pub fn scan_sample_file(path: &Path) -> Result<SampleFileInfo> {
    let reader = ParquetReader::open(path)?;
    let schema = reader.schema().clone();
    for field in primary_schema().fields() {
        match schema.field_with_name(field.name()) {
            Ok(f) if f.data_type() == field.data_type() => {}
            Ok(f) => {
                return Err(Error::input(
                    path,
                    0,
                    format!("column `{}` of type {}", field.name(), field.data_type()),
                    format!("type {}", f.data_type()),
                ));
            }
            Err(_) => {
                return Err(Error::input(
                    path,
                    0,
                    format!("an event sample with column `{}`", field.name()),
                    "no such column",
                ));
            }
        }
    }
    let meta = reader.key_value_metadata();
    let normalization = parse_normalization(path, meta)?;
    Ok(SampleFileInfo {
        path: path.to_path_buf(),
        events: reader.num_rows(),
        normalization,
        process: meta.get(META_PROCESS).cloned(),
    })
}

fn parse_normalization(
    path: &Path,
    meta: &BTreeMap<String, String>,
) -> Result<SampleNormalization> {
    match (
        meta.get(META_GEN_EVENT_COUNT),
        meta.get(META_COSMIC_LIVETIME),
    ) {
        (Some(n), None) => n
            .trim()
            .parse::<u64>()
            .map(SampleNormalization::GenEventCount)
            .map_err(|_| {
                Error::input(
                    path,
                    0,
                    format!("{META_GEN_EVENT_COUNT} as a non-negative integer"),
                    n.clone(),
                )
            }),
        (None, Some(t)) => match t.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(SampleNormalization::CosmicLivetimeSeconds(v)),
            _ => Err(Error::input(
                path,
                0,
                format!("{META_COSMIC_LIVETIME} as a finite non-negative number of seconds"),
                t.clone(),
            )),
        },
        (Some(_), Some(_)) => Err(Error::input(
            path,
            0,
            format!("exactly one of {META_GEN_EVENT_COUNT} and {META_COSMIC_LIVETIME}"),
            "both",
        )),
        (None, None) => Err(Error::input(
            path,
            0,
            format!("footer metadata {META_GEN_EVENT_COUNT} or {META_COSMIC_LIVETIME}"),
            "neither",
        )),
    }
}

/// The Arrow schema of a primary sample (see the module docs).
pub fn primary_schema() -> SchemaRef {
    Arc::new(Schema::new(primary_fields()))
}

fn primary_fields() -> Vec<Field> {
    let mut v: Vec<Field> = ["run", "subrun", "event", "pdg"]
        .iter()
        .map(|n| Field::new(*n, DataType::Int64, false))
        .collect();
    v.extend(
        [
            ("energy_mev", "MeV"),
            ("px_mev", "MeV/c"),
            ("py_mev", "MeV/c"),
            ("pz_mev", "MeV/c"),
            ("time_ns", "ns"),
        ]
        .iter()
        .map(|(n, u)| hep_core::io::with_unit(Field::new(*n, DataType::Float64, false), u)),
    );
    v
}

/// Events in columnar form (the columns of [`primary_schema`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventColumns {
    /// Run numbers.
    pub run: Vec<i64>,
    /// Sub-run numbers.
    pub subrun: Vec<i64>,
    /// Event numbers.
    pub event: Vec<i64>,
    /// PDG codes.
    pub pdg: Vec<i64>,
    /// Total energies (MeV).
    pub energy_mev: Vec<f64>,
    /// x momenta (MeV/c).
    pub px_mev: Vec<f64>,
    /// y momenta (MeV/c).
    pub py_mev: Vec<f64>,
    /// z momenta (MeV/c).
    pub pz_mev: Vec<f64>,
    /// Production times (ns).
    pub time_ns: Vec<f64>,
}

impl EventColumns {
    /// Empty columns with room for `n` events.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            run: Vec::with_capacity(n),
            subrun: Vec::with_capacity(n),
            event: Vec::with_capacity(n),
            pdg: Vec::with_capacity(n),
            energy_mev: Vec::with_capacity(n),
            px_mev: Vec::with_capacity(n),
            py_mev: Vec::with_capacity(n),
            pz_mev: Vec::with_capacity(n),
            time_ns: Vec::with_capacity(n),
        }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.run.len()
    }

    /// True when there are no events.
    pub fn is_empty(&self) -> bool {
        self.run.is_empty()
    }

    /// Removes all events, keeping the allocations.
    pub fn clear(&mut self) {
        self.run.clear();
        self.subrun.clear();
        self.event.clear();
        self.pdg.clear();
        self.energy_mev.clear();
        self.px_mev.clear();
        self.py_mev.clear();
        self.pz_mev.clear();
        self.time_ns.clear();
    }

    /// The event ID of row `i`.
    ///
    /// # Panics
    ///
    /// If `i` is out of range.
    pub fn id(&self, i: usize) -> EventId {
        EventId {
            run: self.run[i] as u32,
            subrun: self.subrun[i] as u32,
            event: self.event[i] as u32,
        }
    }

    /// Appends rows `range` of a batch with the columns of [`primary_schema`].
    ///
    /// # Errors
    ///
    /// [`Error::Core`] if a column is missing or has the wrong type.
    pub fn extend_from_batch(
        &mut self,
        batch: &RecordBatch,
        range: std::ops::Range<usize>,
    ) -> Result<()> {
        let r = range;
        self.run
            .extend_from_slice(&column_i64(batch, "run")?.values()[r.clone()]);
        self.subrun
            .extend_from_slice(&column_i64(batch, "subrun")?.values()[r.clone()]);
        self.event
            .extend_from_slice(&column_i64(batch, "event")?.values()[r.clone()]);
        self.pdg
            .extend_from_slice(&column_i64(batch, "pdg")?.values()[r.clone()]);
        self.energy_mev
            .extend_from_slice(&column_f64(batch, "energy_mev")?.values()[r.clone()]);
        self.px_mev
            .extend_from_slice(&column_f64(batch, "px_mev")?.values()[r.clone()]);
        self.py_mev
            .extend_from_slice(&column_f64(batch, "py_mev")?.values()[r.clone()]);
        self.pz_mev
            .extend_from_slice(&column_f64(batch, "pz_mev")?.values()[r.clone()]);
        self.time_ns
            .extend_from_slice(&column_f64(batch, "time_ns")?.values()[r]);
        Ok(())
    }

    /// The columns as Arrow arrays in [`primary_schema`] order.
    pub fn to_arrays(&self) -> Vec<ArrayRef> {
        let i = |v: &Vec<i64>| Arc::new(Int64Array::from(v.clone())) as ArrayRef;
        let f = |v: &Vec<f64>| Arc::new(Float64Array::from(v.clone())) as ArrayRef;
        vec![
            i(&self.run),
            i(&self.subrun),
            i(&self.event),
            i(&self.pdg),
            f(&self.energy_mev),
            f(&self.px_mev),
            f(&self.py_mev),
            f(&self.pz_mev),
            f(&self.time_ns),
        ]
    }

    /// The events as one record batch of [`primary_schema`].
    ///
    /// # Errors
    ///
    /// [`Error::Core`] never in practice (the columns have equal lengths by construction).
    pub fn to_batch(&self) -> Result<RecordBatch> {
        RecordBatch::try_new(primary_schema(), self.to_arrays())
            .map_err(|e| Error::InvalidArgument(format!("event columns: {e}")))
    }
}

/// Writes one sample file (atomic; the footer carries the normalisation and the process).
///
/// # Errors
///
/// [`Error::Core`] on any I/O or Parquet failure (nothing is left at `path`).
pub fn write_sample_file(
    path: &Path,
    events: &EventColumns,
    normalization: SampleNormalization,
    process: &str,
) -> Result<()> {
    let mut kv = vec![(META_PROCESS.to_string(), process.to_string())];
    match normalization {
        SampleNormalization::GenEventCount(n) => {
            kv.push((META_GEN_EVENT_COUNT.into(), n.to_string()))
        }
        SampleNormalization::CosmicLivetimeSeconds(t) => {
            kv.push((META_COSMIC_LIVETIME.into(), format!("{t:?}")));
        }
    }
    let mut w = ParquetWriter::create(path, primary_schema(), &kv)?;
    // Row groups of at most 64k rows keep reading memory bounded.
    const CHUNK: usize = 65_536;
    let arrays = events.to_arrays();
    let batch = RecordBatch::try_new(primary_schema(), arrays)
        .map_err(|e| Error::InvalidArgument(format!("event columns: {e}")))?;
    let mut off = 0;
    while off < batch.num_rows() {
        let n = CHUNK.min(batch.num_rows() - off);
        w.write(&batch.slice(off, n))?;
        off += n;
    }
    w.finish()?;
    Ok(())
}

/// The Mu2e-style file name `dts.<owner>.<description>.<configuration>.<run:06>_<subrun:08>.parquet`.
pub fn sample_file_name(
    owner: &str,
    description: &str,
    configuration: &str,
    run: u32,
    subrun: u32,
) -> String {
    format!("dts.{owner}.{description}.{configuration}.{run:06}_{subrun:08}.parquet")
}

// ---------------------------------------------------------------------------------------------
// Generation (gen_Primary)
// ---------------------------------------------------------------------------------------------

/// The primary processes `gen-primary` can generate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrimaryKind {
    /// Mono-energetic conversion electron (pdg 11) at [`CE_MINUS_ENDPOINT_MEV`] momentum.
    CeMinus,
    /// Mono-energetic conversion positron (pdg −11) at [`CE_PLUS_ENDPOINT_MEV`] momentum.
    CePlus,
    /// Decay-in-orbit electrons (pdg 11) from a tabulated spectrum, row value `E ≥ emin`.
    Dio {
        /// The DIO spectrum (a table, or [`crate::dio::Pol58::to_spectrum`]).
        spectrum: Spectrum,
        /// Lower energy cut (MeV).
        emin_mev: f64,
    },
    /// Radiative muon capture photons (pdg 22) from the closure spectrum, low edge `≥ emin`.
    Rmc {
        /// Closure endpoint kmax (MeV).
        kmax_mev: f64,
        /// Lower energy cut (MeV).
        emin_mev: f64,
    },
    /// Radiative pion capture photons (pdg 22) from a tabulated spectrum.
    Rpc {
        /// The RPC spectrum (Bistirlich, `rpcspectrum.tbl`).
        spectrum: Spectrum,
        /// The energy cut (HEAD: `E >= emin`; G0: low edge).
        cut: EnergyCut,
    },
    /// IPA Michel electrons (pdg 11): free Michel spectrum `x²(3 − 2x)`, `x = E/(m_μ/2)`, above emin.
    IpaMichel {
        /// Lower energy cut (MeV).
        emin_mev: f64,
    },
    /// Cosmic muons (pdg ±13, μ⁺/μ⁻ = 1.25) with an `E^−2.7` spectrum and `cos²θ` zenith
    /// distribution; each file's livetime is `generated / rate`.
    Cosmic {
        /// Rate of generated cosmic primaries (Hz) that defines the livetime.
        rate_hz: f64,
        /// Lower energy limit (MeV).
        emin_mev: f64,
        /// Upper energy limit (MeV).
        emax_mev: f64,
    },
}

/// Options of [`generate_primary`] (`gen_Primary.sh`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenPrimaryOptions {
    /// Sample (process) name, e.g. `CeEndpoint`, `DIOTail`, `CRYCosmic`; also the file description.
    pub name: String,
    /// What to generate.
    pub kind: PrimaryKind,
    /// Number of jobs (= files).
    pub njobs: u32,
    /// Generated events per job (before the filter).
    pub events_per_job: u64,
    /// Probability that a generated event is stored (generator-level filter), in (0, 1]: a
    /// random acceptance independent of the kinematics, so stored/generated ("reco/gen") differs
    /// from 1 as in filtered Mu2e samples.
    pub filter_efficiency: f64,
    /// Run number (gen_Primary default 1202).
    pub run: u32,
    /// First sub-run number; job `j` has sub-run `first_subrun + j`.
    pub first_subrun: u32,
    /// File owner field (default `mu2e`).
    pub owner: String,
    /// File configuration field (campaign + version, e.g. `MDC2020`).
    pub configuration: String,
    /// Master seed; job `j` uses stream `(seed, j)`.
    pub seed: u64,
}

impl GenPrimaryOptions {
    /// The options as a provenance manifest records them: a tabulated spectrum (thousands of
    /// points, which made a sidecar several times larger than its sample file) is replaced by
    /// `{ "points": n, "sha256": ... }`, the SHA-256 of its JSON form, which identifies it.
    ///
    /// # Errors
    /// [`Error::Core`] if the options cannot be written as JSON.
    pub fn manifest_configuration(&self) -> Result<serde_json::Value> {
        let mut v = serde_json::to_value(self).map_err(hep_core::Error::from)?;
        if let Some(kind) = v.get_mut("kind").and_then(serde_json::Value::as_object_mut) {
            for variant in kind.values_mut() {
                if let Some(spectrum) = variant.get_mut("spectrum") {
                    let bytes = serde_json::to_vec(spectrum).map_err(hep_core::Error::from)?;
                    let points = spectrum
                        .get("energies")
                        .and_then(serde_json::Value::as_array)
                        .map_or(0, Vec::len);
                    let sha256 = hep_core::io::FileDigest::of_bytes("spectrum", &bytes).sha256;
                    *spectrum = serde_json::json!({ "points": points, "sha256": sha256 });
                }
            }
        }
        Ok(v)
    }
}

/// Generates `njobs` sample files into `dir` (in parallel, one random stream per job) and returns
/// their footers in job order.
///
/// # Errors
///
/// [`Error::InvalidArgument`] for zero jobs or events, a filter efficiency outside (0, 1], a
/// non-positive cosmic rate or empty energy range; [`Error::Core`] for I/O failures.
pub fn generate_primary(dir: &Path, opts: &GenPrimaryOptions) -> Result<Vec<SampleFileInfo>> {
    generate_primary_jobs(dir, opts, 0..opts.njobs)
}

/// [`generate_primary`] reporting each finished job (file) to `progress` (stage `"jobs"`, total
/// `njobs`). The files do not depend on the progress receiver.
///
/// # Errors
/// As [`generate_primary`].
pub fn generate_primary_with_progress(
    dir: &Path,
    opts: &GenPrimaryOptions,
    progress: &dyn Progress,
) -> Result<Vec<SampleFileInfo>> {
    generate_primary_jobs_with_progress(dir, opts, 0..opts.njobs, progress)
}

/// [`generate_primary`] for the jobs `jobs` only (a sub-range of `0..njobs`): the files of these
/// jobs, identical to those of a run of all jobs, since job `j` draws only from stream
/// `(seed, j)`.
///
/// # Errors
///
/// As [`generate_primary`]; [`Error::InvalidArgument`] if `jobs` is not within `0..njobs`.
pub fn generate_primary_jobs(
    dir: &Path,
    opts: &GenPrimaryOptions,
    jobs: std::ops::Range<u32>,
) -> Result<Vec<SampleFileInfo>> {
    generate_primary_jobs_with_progress(dir, opts, jobs, &NoProgress)
}

/// [`generate_primary_jobs`] reporting each finished job (file) to `progress` (stage `"jobs"`,
/// total the number of jobs in `jobs`), with `tracing` info events at the start and end.
///
/// # Errors
/// As [`generate_primary_jobs`].
pub fn generate_primary_jobs_with_progress(
    dir: &Path,
    opts: &GenPrimaryOptions,
    jobs: std::ops::Range<u32>,
    progress: &dyn Progress,
) -> Result<Vec<SampleFileInfo>> {
    if jobs.end > opts.njobs {
        return Err(Error::InvalidArgument(format!(
            "jobs {}..{} are not within the sample's 0..{}",
            jobs.start, jobs.end, opts.njobs
        )));
    }
    if opts.njobs == 0 || opts.events_per_job == 0 {
        return Err(Error::InvalidArgument(
            "gen-primary needs njobs >= 1 and events >= 1".into(),
        ));
    }
    if !(opts.filter_efficiency > 0.0 && opts.filter_efficiency <= 1.0) {
        return Err(Error::InvalidArgument(format!(
            "filter efficiency must be in (0, 1], got {}",
            opts.filter_efficiency
        )));
    }
    if opts.events_per_job > u64::from(u32::MAX) {
        return Err(Error::InvalidArgument(
            "events per job must fit an art event number (u32)".into(),
        ));
    }
    let generator = Generator::new(&opts.kind)?;
    let start = std::time::Instant::now();
    let n_jobs = jobs.len() as u64;
    tracing::info!(
        sample = %opts.name,
        jobs = n_jobs,
        events_per_job = opts.events_per_job,
        "gen-primary: generating"
    );
    progress.start("jobs", n_jobs);
    let files: Vec<SampleFileInfo> = jobs
        .into_par_iter()
        .map(|j| {
            let subrun = opts.first_subrun + j;
            let mut rng = hep_core::rng::stream(opts.seed, u64::from(j));
            let mut ev = EventColumns::with_capacity(
                (opts.events_per_job as f64 * opts.filter_efficiency) as usize + 16,
            );
            // The filter is a random acceptance independent of the kinematics (Bernoulli
            // thinning); the gaps between stored event numbers are geometric, so the cost is
            // proportional to the stored events, not the generated ones.
            let gap = rand_distr::Geometric::new(opts.filter_efficiency)
                .map_err(|e| Error::InvalidArgument(format!("filter efficiency: {e}")))?;
            let mut e: u64 = 0;
            loop {
                let skip = if opts.filter_efficiency < 1.0 {
                    gap.sample(&mut rng)
                } else {
                    0
                };
                e = e.saturating_add(1).saturating_add(skip);
                if e > opts.events_per_job {
                    break;
                }
                let p = generator.generate(&mut rng);
                ev.run.push(i64::from(opts.run));
                ev.subrun.push(i64::from(subrun));
                ev.event.push(e as i64);
                ev.pdg.push(p.pdg);
                ev.energy_mev.push(p.energy);
                ev.px_mev.push(p.p[0]);
                ev.py_mev.push(p.p[1]);
                ev.pz_mev.push(p.p[2]);
                ev.time_ns.push(p.time);
            }
            let normalization = match opts.kind {
                PrimaryKind::Cosmic { rate_hz, .. } => {
                    SampleNormalization::CosmicLivetimeSeconds(opts.events_per_job as f64 / rate_hz)
                }
                _ => SampleNormalization::GenEventCount(opts.events_per_job),
            };
            let path = dir.join(sample_file_name(
                &opts.owner,
                &opts.name,
                &opts.configuration,
                opts.run,
                subrun,
            ));
            write_sample_file(&path, &ev, normalization, &opts.name)?;
            progress.advance(1);
            Ok(SampleFileInfo {
                path,
                events: ev.len() as u64,
                normalization,
                process: Some(opts.name.clone()),
            })
        })
        .collect::<Result<_>>()?;
    progress.finish();
    tracing::info!(
        sample = %opts.name,
        files = files.len(),
        stored = files.iter().map(|f| f.events).sum::<u64>(),
        seconds = start.elapsed().as_secs_f64(),
        "gen-primary: done"
    );
    Ok(files)
}

struct Particle {
    pdg: i64,
    energy: f64,
    p: [f64; 3],
    time: f64,
}

enum Generator {
    Mono {
        pdg: i64,
        momentum: f64,
        mass: f64,
    },
    Table {
        pdg: i64,
        mass: f64,
        sampler: SpectrumSampler,
    },
    Michel {
        emin: f64,
    },
    Cosmic {
        emin: f64,
        emax: f64,
    },
}

impl Generator {
    fn new(kind: &PrimaryKind) -> Result<Self> {
        Ok(match kind {
            PrimaryKind::CeMinus => Self::Mono {
                pdg: 11,
                momentum: CE_MINUS_ENDPOINT_MEV,
                mass: ELECTRON_MASS_MEV,
            },
            PrimaryKind::CePlus => Self::Mono {
                pdg: -11,
                momentum: CE_PLUS_ENDPOINT_MEV,
                mass: ELECTRON_MASS_MEV,
            },
            PrimaryKind::Dio { spectrum, emin_mev } => Self::Table {
                pdg: 11,
                mass: ELECTRON_MASS_MEV,
                sampler: spectrum.sampler(EnergyCut::AtLeast(*emin_mev))?,
            },
            PrimaryKind::Rmc { kmax_mev, emin_mev } => Self::Table {
                pdg: 22,
                mass: 0.0,
                sampler: Spectrum::rmc_closure(*kmax_mev)?.sampler(EnergyCut::LowEdgeAtLeast {
                    emin: *emin_mev,
                    width: crate::constants::physics::RMC_SPECTRUM_STEP_MEV,
                })?,
            },
            PrimaryKind::Rpc { spectrum, cut } => Self::Table {
                pdg: 22,
                mass: 0.0,
                sampler: spectrum.sampler(*cut)?,
            },
            PrimaryKind::IpaMichel { emin_mev } => {
                if !(*emin_mev < MICHEL_ENDPOINT_MEV) {
                    return Err(Error::InvalidArgument(format!(
                        "IPA Michel emin {emin_mev} MeV is above the endpoint {MICHEL_ENDPOINT_MEV} MeV"
                    )));
                }
                Self::Michel {
                    emin: emin_mev.max(ELECTRON_MASS_MEV),
                }
            }
            PrimaryKind::Cosmic {
                rate_hz,
                emin_mev,
                emax_mev,
            } => {
                if !(*rate_hz > 0.0 && rate_hz.is_finite()) {
                    return Err(Error::InvalidArgument(format!(
                        "cosmic rate must be > 0 Hz, got {rate_hz}"
                    )));
                }
                if !(*emin_mev > MUON_MASS_MEV && emax_mev > emin_mev) {
                    return Err(Error::InvalidArgument(format!(
                        "cosmic energy range must satisfy m_mu < emin < emax, got {emin_mev}..{emax_mev} MeV"
                    )));
                }
                Self::Cosmic {
                    emin: *emin_mev,
                    emax: *emax_mev,
                }
            }
        })
    }

    fn generate<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Particle {
        match self {
            Self::Mono {
                pdg,
                momentum,
                mass,
            } => {
                let dir = isotropic(rng);
                Particle {
                    pdg: *pdg,
                    energy: momentum.hypot(*mass),
                    p: dir.map(|c| c * momentum),
                    time: decay_time(rng),
                }
            }
            Self::Table { pdg, mass, sampler } => {
                let e = sampler.sample(rng).max(*mass);
                let pm = (e * e - mass * mass).max(0.0).sqrt();
                let dir = isotropic(rng);
                Particle {
                    pdg: *pdg,
                    energy: e,
                    p: dir.map(|c| c * pm),
                    time: decay_time(rng),
                }
            }
            Self::Michel { emin } => {
                // Rejection on x²(3 − 2x) (maximum 1 at x = 1) for x in [emin/W, 1].
                let x0 = emin / MICHEL_ENDPOINT_MEV;
                let x = loop {
                    let x = x0 + (1.0 - x0) * rng.random::<f64>();
                    if rng.random::<f64>() <= x * x * (3.0 - 2.0 * x) {
                        break x;
                    }
                };
                let e = x * MICHEL_ENDPOINT_MEV;
                let pm = (e * e - ELECTRON_MASS_MEV * ELECTRON_MASS_MEV)
                    .max(0.0)
                    .sqrt();
                Particle {
                    pdg: 11,
                    energy: e,
                    p: isotropic(rng).map(|c| c * pm),
                    time: decay_time(rng),
                }
            }
            Self::Cosmic { emin, emax } => {
                // Inverse CDF of E^-2.7 on [emin, emax].
                let g = -1.7_f64;
                let u: f64 = rng.random();
                let e = (emin.powf(g) + u * (emax.powf(g) - emin.powf(g))).powf(1.0 / g);
                // cos²θ zenith: cosθ = u^(1/3); downward-going (−y is down in Mu2e coordinates).
                let cos_t = rng.random::<f64>().cbrt();
                let sin_t = (1.0 - cos_t * cos_t).max(0.0).sqrt();
                let phi = std::f64::consts::TAU * rng.random::<f64>();
                let pm = (e * e - MUON_MASS_MEV * MUON_MASS_MEV).sqrt();
                let pdg = if rng.random_bool(1.25 / 2.25) {
                    -13
                } else {
                    13
                };
                Particle {
                    pdg,
                    energy: e,
                    p: [pm * sin_t * phi.cos(), -pm * cos_t, pm * sin_t * phi.sin()],
                    time: 1695.0 * rng.random::<f64>(),
                }
            }
        }
    }
}

fn isotropic<R: rand::Rng + ?Sized>(rng: &mut R) -> [f64; 3] {
    let c = 2.0 * rng.random::<f64>() - 1.0;
    let s = (1.0 - c * c).max(0.0).sqrt();
    let phi = std::f64::consts::TAU * rng.random::<f64>();
    [s * phi.cos(), s * phi.sin(), c]
}

fn decay_time<R: rand::Rng + ?Sized>(rng: &mut R) -> f64 {
    -AL_MUON_LIFETIME_NS * (1.0 - rng.random::<f64>()).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmc_photons_respect_cut() {
        let g = Generator::new(&PrimaryKind::Rmc {
            kmax_mev: 90.1,
            emin_mev: 85.0,
        })
        .unwrap();
        let mut rng = hep_core::rng::stream(1, 2);
        for _ in 0..1000 {
            let p = g.generate(&mut rng);
            assert!((85.0..=90.1).contains(&p.energy), "{}", p.energy);
            let pm = (p.p[0].powi(2) + p.p[1].powi(2) + p.p[2].powi(2)).sqrt();
            assert!((pm - p.energy).abs() < 1e-9);
        }
    }
}
