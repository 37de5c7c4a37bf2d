//! Fax productions: many production ids of fake events through every stage, resumable, on one
//! machine or as a Slurm array.
//!
//! This replaces the control layer of the XENON1T fax production scripts (`Setup`, `Batch`,
//! `Submit`, `fax_production_process.py` and `RunAllProcess`): a production configuration names
//! one or more *configurations* (a base plus a sweep of overrides, each with a unique name), each
//! configuration has `number_job` production ids `{name}_{index:06}` (`Fax_Test_000017`), and
//! every id runs the stages create-fake, simulate, process and match in order.
//!
//! # Production configuration (TOML)
//!
//! ```toml
//! name = "Fax_Test"          # configuration name: directory and production-id prefix
//! number_job = 20            # production ids per configuration
//! seed = 0                   # master seed of the whole production
//! [fake]                     # create-fake settings (FakeConfig), e.g. number_event_per_job
//! number_event_per_job = 100
//! [simulate]                 # detector settings (SimConfig, with `preset`)
//! [process]                  # processing settings (ProcessConfig)
//! [match]                    # truth matching (MatchConfig), e.g. compat = true
//!
//! [[sweep]]                  # optional: one configuration per entry, base + these keys
//! name = "test_with_100_photons"
//! fake = { photon_number_low = 50, photon_number_high = 150 }
//! ```
//!
//! Without `[[sweep]]` the base is the only configuration. Each entry is merged key by key onto
//! the base (tables merge, values replace). The seeds of an id are drawn from the master seed,
//! the configuration name and the index ([`id_seed`]), so every id can be regenerated alone and
//! the result does not depend on how ids are grouped into shards; `fake.seed` and
//! `simulate.seed` of the file are replaced by them.
//!
//! # Directory layout (under the output directory `OUT`)
//!
//! | path | holds |
//! |---|---|
//! | `production.toml` | the resolved configurations (a rerun with a different one is refused) |
//! | `{name}/csv/{id}.csv` | create-fake instructions (pax CSV) |
//! | `{name}/raw/{id}/` | simulate output (pulses, truth) |
//! | `{name}/processed/{id}/` | process output (peaks, interactions, minitrees) |
//! | `{name}/merged/{id}/` | match output (`matched_peaks`, `merged`; `truth_sorted` with `compat`) |
//! | `{name}/{stage}/{id}.done.json` | completion record of a stage: its outputs with sizes and SHA-256 |
//! | `{name}/productionlog/{id}.log` | what each stage did, with timings |
//! | `{name}/errors/{id}.json` | the error of a failed id (`production_id`, `stage`, `error_type`, `error_message`) |
//! | `{name}/{table}.parquet` | after the merge: the tables of all ids with a leading `production_id` column |
//! | `shards/{I}-of-{N}/` | after a shard: the ids it completed (for `submit --only-missing`) |
//!
//! A stage is skipped when its completion record exists, was made with the same configuration
//! and every output it lists still has its size and SHA-256; otherwise its outputs are removed,
//! the records of the later stages are dropped, and it runs again. Records are written last, so
//! a production killed at any moment restarts with exactly the unfinished stages. Unlike the
//! original, no shared temporary directory is deleted at the end of a task, and the record check
//! cannot be fooled by a file of another format.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use hep_core::io::{FileDigest, ParquetReader, ParquetWriter, atomic_write_bytes};
use hep_core::manifest::Manifest;
use hep_core::progress::{NoProgress, Progress};
use hep_core::shard::{Shard, ShardManifest, json_digest};
use rand::RngExt;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::{self, SimConfig};
use crate::error::{Error, Result};
use crate::fake::{FakeConfig, create_fake};
use crate::matching::MatchConfig;
use crate::output::TOOL;
use crate::process::ProcessConfig;
use crate::process::minitrees::MINITREES;

/// The job name of production shards (`shard.json`) and of the Slurm scripts.
pub const JOB: &str = "fax-sim production";
/// The resolved configuration file written into the output directory.
pub const SNAPSHOT: &str = "production.toml";

/// One configuration of a production, fully resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Configuration {
    /// Name: directory name and production-id prefix (letters, digits, `_`, `-`, `.`).
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Production ids of this configuration.
    pub number_job: u64,
    /// Master seed.
    pub seed: u64,
    /// create-fake settings (the seed is replaced per id).
    pub fake: FakeConfig,
    /// Detector settings (the seed is replaced per id).
    pub simulate: SimConfig,
    /// Processing settings.
    pub process: ProcessConfig,
    /// Truth-matching settings (TOML table `[match]`).
    #[serde(rename = "match")]
    pub matching: MatchConfig,
}

/// The file form before the sweep is applied: any key of [`Configuration`], plus `[[sweep]]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Base {
    name: Option<String>,
    description: Option<String>,
    number_job: Option<u64>,
    seed: Option<u64>,
    #[serde(default)]
    fake: toml::Table,
    #[serde(default)]
    simulate: toml::Table,
    #[serde(default)]
    process: toml::Table,
    #[serde(default, rename = "match")]
    matching: toml::Table,
}

/// A production: its configurations in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Production {
    /// The configurations (one without a sweep).
    pub configurations: Vec<Configuration>,
}

/// The default name, number of ids, events per id and seed (the fax production's `Setup`).
pub const DEFAULT_NAME: &str = "Fax_Test";
/// Production ids per configuration by default (the later production scripts' `number_job`).
pub const DEFAULT_NUMBER_JOB: u64 = 20;

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn resolve(table: toml::Table, origin: &str) -> Result<Configuration> {
    let base: Base = toml::Value::Table(table)
        .try_into()
        .map_err(|e| Error::Config(format!("{origin}: {e}")))?;
    let name = base.name.unwrap_or_else(|| DEFAULT_NAME.to_string());
    if !valid_name(&name) {
        return Err(Error::Config(format!(
            "{origin}: name: expected letters, digits, `_`, `-` or `.`, found `{name}`"
        )));
    }
    let fake: FakeConfig = toml::Value::Table(base.fake)
        .try_into()
        .map_err(|e| Error::Config(format!("{origin}: [fake]: {e}")))?;
    let simulate = config::load(&[], base.simulate)
        .map_err(|e| Error::Config(format!("{origin}: [simulate]: {e}")))?;
    let process: ProcessConfig = toml::Value::Table(base.process)
        .try_into()
        .map_err(|e| Error::Config(format!("{origin}: [process]: {e}")))?;
    process.validate()?;
    let matching: MatchConfig = toml::Value::Table(base.matching)
        .try_into()
        .map_err(|e| Error::Config(format!("{origin}: [match]: {e}")))?;
    matching.validate()?;
    let number_job = base.number_job.unwrap_or(DEFAULT_NUMBER_JOB);
    if number_job == 0 || number_job > 1_000_000 {
        return Err(Error::Config(format!(
            "{origin}: number_job: expected 1 to 1000000 (six-digit ids), found {number_job}"
        )));
    }
    Ok(Configuration {
        name,
        description: base.description.unwrap_or_default(),
        number_job,
        seed: base.seed.unwrap_or(0),
        fake,
        simulate,
        process,
        matching,
    })
}

impl Production {
    /// Parses a production configuration (see the module documentation); `origin` names it in
    /// errors.
    ///
    /// # Errors
    /// [`Error::Config`] for invalid TOML, unknown keys, values outside their domain, a sweep
    /// entry without a name, or two configurations of the same name.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let mut table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| Error::Config(format!("{origin}: {}", e.message())))?;
        let sweep = match table.remove("sweep") {
            None => Vec::new(),
            Some(toml::Value::Array(a)) => a,
            Some(v) => {
                return Err(Error::Config(format!(
                    "{origin}: sweep: expected an array of tables ([[sweep]]), found {}",
                    v.type_str()
                )));
            }
        };
        let mut configurations = Vec::new();
        // A snapshot (`OUT/production.toml`, `--print-config`) lists the resolved
        // configurations; it reads back as the same production.
        if let Some(snapshot) = table.remove("configurations") {
            let toml::Value::Array(entries) = snapshot else {
                return Err(Error::Config(format!(
                    "{origin}: configurations: expected an array of tables ([[configurations]]), found {}",
                    snapshot.type_str()
                )));
            };
            if !table.is_empty() || !sweep.is_empty() || entries.is_empty() {
                return Err(Error::Config(format!(
                    "{origin}: a snapshot holds one or more [[configurations]] and nothing else"
                )));
            }
            for (i, entry) in entries.into_iter().enumerate() {
                let toml::Value::Table(entry) = entry else {
                    return Err(Error::Config(format!(
                        "{origin}: configurations entry {}: expected a table",
                        i + 1
                    )));
                };
                configurations.push(resolve(
                    entry,
                    &format!("{origin}: configurations entry {}", i + 1),
                )?);
            }
        } else if sweep.is_empty() {
            configurations.push(resolve(table.clone(), origin)?);
        }
        for (i, entry) in sweep.into_iter().enumerate() {
            let toml::Value::Table(entry) = entry else {
                return Err(Error::Config(format!(
                    "{origin}: sweep entry {}: expected a table",
                    i + 1
                )));
            };
            if !entry.contains_key("name") {
                return Err(Error::Config(format!(
                    "{origin}: sweep entry {}: expected a `name`",
                    i + 1
                )));
            }
            let mut t = table.clone();
            config::merge_tables(&mut t, entry);
            configurations.push(resolve(t, &format!("{origin}: sweep entry {}", i + 1))?);
        }
        let mut seen = BTreeSet::new();
        for c in &configurations {
            if !seen.insert(c.name.as_str()) {
                return Err(Error::Config(format!(
                    "{origin}: configuration names must be unique, `{}` appears twice",
                    c.name
                )));
            }
        }
        Ok(Self { configurations })
    }

    /// Reads a production configuration file; `None` gives the default production (one
    /// configuration `Fax_Test` of 20 ids of 100 events with the production's default quanta).
    ///
    /// # Errors
    /// As [`Production::from_toml`], and [`Error::Core`] if the file cannot be read.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        match path {
            None => Self::from_toml("", "the default production"),
            Some(p) => {
                let text = hep_core::io::read_text(p)?;
                Self::from_toml(&text, &p.display().to_string())
            }
        }
    }

    /// Every production id in order: configurations in order, then index.
    pub fn ids(&self) -> Vec<ProductionId> {
        self.configurations
            .iter()
            .enumerate()
            .flat_map(|(c, cfg)| {
                (0..cfg.number_job).map(move |index| ProductionId {
                    configuration: c,
                    index,
                    name: format!("{}_{index:06}", cfg.name),
                })
            })
            .collect()
    }

    /// The snapshot written to `OUT/production.toml`.
    ///
    /// # Errors
    /// [`Error::Config`] if a value cannot be written as TOML.
    pub fn snapshot(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Config(format!("production snapshot: {e}")))
    }
}

/// One production id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductionId {
    /// Index of its configuration in [`Production::configurations`].
    pub configuration: usize,
    /// Index within the configuration.
    pub index: u64,
    /// `{name}_{index:06}`.
    pub name: String,
}

/// The seed of stage `stage` (0 create-fake, 1 simulate) of id `index` of configuration `name`:
/// the first draw of the stream `(seed, [key(name), index, stage])` of
/// [`hep_core::rng::stream_nested`], where `key(name)` is the first 8 bytes of the SHA-256 of the
/// name's JSON string.
///
/// # Errors
/// Never in practice (JSON of a string).
pub fn id_seed(seed: u64, name: &str, index: u64, stage: u64) -> Result<u64> {
    let digest = json_digest(&name)?;
    let key = u64::from_str_radix(&digest[..16], 16)
        .map_err(|e| Error::Config(format!("seed key of `{name}`: {e}")))?;
    Ok(hep_core::rng::stream_nested(seed, &[key, index, stage]).random::<u64>())
}

/// The stages of a production id, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Fake instructions (`csv/{id}.csv`).
    CreateFake,
    /// Detector simulation (`raw/{id}/`).
    Simulate,
    /// Processing and minitrees (`processed/{id}/`).
    Process,
    /// Truth matching (`merged/{id}/`).
    Match,
}

impl Stage {
    /// All stages in order.
    pub const ALL: [Stage; 4] = [
        Stage::CreateFake,
        Stage::Simulate,
        Stage::Process,
        Stage::Match,
    ];

    /// The stage's name (as in records and logs).
    pub fn name(self) -> &'static str {
        match self {
            Stage::CreateFake => "create-fake",
            Stage::Simulate => "simulate",
            Stage::Process => "process",
            Stage::Match => "match",
        }
    }

    /// The directory of the stage's outputs under `OUT/{name}/` (the original's names).
    pub fn dir(self) -> &'static str {
        match self {
            Stage::CreateFake => "csv",
            Stage::Simulate => "raw",
            Stage::Process => "processed",
            Stage::Match => "merged",
        }
    }
}

/// The completion record of one stage of one id (`{stage dir}/{id}.done.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    /// Production id.
    pub production_id: String,
    /// Stage.
    pub stage: Stage,
    /// SHA-256 of the JSON of the id's configuration and seeds.
    pub configuration_sha256: String,
    /// Outputs relative to the stage directory, with size and SHA-256.
    pub outputs: Vec<FileDigest>,
    /// Wall time of the stage (s); informative.
    pub seconds: f64,
}

/// Where the files of one id go.
#[derive(Debug, Clone)]
pub struct IdPaths {
    /// `OUT/{name}`.
    pub root: PathBuf,
    /// The id.
    pub id: String,
}

impl IdPaths {
    /// The paths of `id` under `out`.
    pub fn new(out: &Path, configuration: &str, id: &str) -> Self {
        Self {
            root: out.join(configuration),
            id: id.to_string(),
        }
    }

    /// The stage's directory `OUT/{name}/{stage dir}`.
    pub fn stage_dir(&self, stage: Stage) -> PathBuf {
        self.root.join(stage.dir())
    }

    /// The instruction file `csv/{id}.csv`.
    pub fn instructions(&self) -> PathBuf {
        self.stage_dir(Stage::CreateFake)
            .join(format!("{}.csv", self.id))
    }

    /// The output directory of a directory stage (`raw/{id}`, `processed/{id}`, `merged/{id}`).
    pub fn output_dir(&self, stage: Stage) -> PathBuf {
        self.stage_dir(stage).join(&self.id)
    }

    /// The completion record `{stage dir}/{id}.done.json`.
    pub fn record(&self, stage: Stage) -> PathBuf {
        self.stage_dir(stage).join(format!("{}.done.json", self.id))
    }

    /// `productionlog/{id}.log`.
    pub fn log(&self) -> PathBuf {
        self.root
            .join("productionlog")
            .join(format!("{}.log", self.id))
    }

    /// `errors/{id}.json`.
    pub fn error(&self) -> PathBuf {
        self.root.join("errors").join(format!("{}.json", self.id))
    }
}

/// The error record of a failed id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// Production id.
    pub production_id: String,
    /// The stage that failed.
    pub stage: Stage,
    /// Kind of error (`configuration`, `input`, `io`, ...).
    pub error_type: String,
    /// The message.
    pub error_message: String,
}

fn error_type(e: &Error) -> &'static str {
    match e {
        Error::Config(_) => "configuration",
        Error::Map { .. } => "map",
        Error::InvalidArgument(_) => "invalid-argument",
        Error::Core(c) => match c {
            hep_core::error::Error::Io { .. } => "io",
            hep_core::error::Error::Parse { .. } => "input",
            _ => "core",
        },
    }
}

/// The files under `dir` (recursively), relative to `base`, sorted; temporaries skipped.
fn list_files(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.as_deref().is_some_and(|n| n.starts_with('.')) {
            continue;
        }
        if p.is_dir() {
            list_files(base, &p, out)?;
        } else if let Ok(rel) = p.strip_prefix(base) {
            out.push(rel.to_path_buf());
        }
    }
    Ok(())
}

impl StageRecord {
    /// Reads the record of `stage` if present and still valid for `configuration_sha256`: every
    /// listed output has its recorded size and SHA-256.
    pub fn valid(paths: &IdPaths, stage: Stage, configuration_sha256: &str) -> Option<Self> {
        let text = std::fs::read(paths.record(stage)).ok()?;
        let rec: StageRecord = serde_json::from_slice(&text).ok()?;
        let dir = paths.stage_dir(stage);
        let ok = rec.production_id == paths.id
            && rec.stage == stage
            && rec.configuration_sha256 == configuration_sha256
            && !rec.outputs.is_empty()
            && rec.outputs.iter().all(|o| {
                FileDigest::of(dir.join(&o.path))
                    .is_ok_and(|now| now.bytes == o.bytes && now.sha256 == o.sha256)
            });
        ok.then_some(rec)
    }
}

/// What happened to one id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdOutcome {
    /// Production id.
    pub production_id: String,
    /// Stages run (the others were complete already).
    pub stages_run: Vec<Stage>,
    /// The error, if a stage failed.
    pub error: Option<ErrorRecord>,
}

/// Summary of [`run_production`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    /// Ids this run was given (all, or the shard's).
    pub n_ids: usize,
    /// Ids that were complete already (nothing run).
    pub n_skipped: usize,
    /// Ids for which at least one stage ran and all completed.
    pub n_completed: usize,
    /// Ids with a failed stage.
    pub failed: Vec<ErrorRecord>,
    /// The merged tables, when the run covered the whole production and merged.
    pub merged: Vec<PathBuf>,
}

struct IdJob<'a> {
    cfg: &'a Configuration,
    paths: IdPaths,
    index: u64,
    digest: String,
}

impl IdJob<'_> {
    fn seeds(&self) -> Result<(u64, u64)> {
        Ok((
            id_seed(self.cfg.seed, &self.cfg.name, self.index, 0)?,
            id_seed(self.cfg.seed, &self.cfg.name, self.index, 1)?,
        ))
    }

    fn log(&self, line: &str) {
        let path = self.paths.log();
        let r = std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
            })
            .and_then(|mut f| writeln!(f, "{} {line}", hep_core::manifest::now_utc()));
        if let Err(e) = r {
            tracing::warn!("{}: {e}", path.display());
        }
    }

    /// Removes a stage's outputs and record (before running it again).
    fn clear(&self, stage: Stage) -> Result<()> {
        let rm = |p: &Path| match std::fs::remove_file(p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(p, e)),
            _ => Ok(()),
        };
        rm(&self.paths.record(stage))?;
        match stage {
            Stage::CreateFake => {
                let f = self.paths.instructions();
                rm(&hep_core::manifest::sidecar_path(&f))?;
                rm(&f)
            }
            _ => {
                let d = self.paths.output_dir(stage);
                match std::fs::remove_dir_all(&d) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&d, e)),
                    _ => Ok(()),
                }
            }
        }
    }

    fn execute(&self, stage: Stage) -> Result<(Vec<PathBuf>, String)> {
        let (fake_seed, sim_seed) = self.seeds()?;
        let p = &self.paths;
        std::fs::create_dir_all(p.stage_dir(stage))
            .map_err(|e| Error::io(p.stage_dir(stage), e))?;
        match stage {
            Stage::CreateFake => {
                let cfg = FakeConfig {
                    seed: fake_seed,
                    ..self.cfg.fake.clone()
                };
                let rows = create_fake(&cfg)?;
                let f = p.instructions();
                crate::instructions::write_csv(&f, &rows)?;
                let mut m =
                    Manifest::start(TOOL, env!("CARGO_PKG_VERSION")).with_configuration(&cfg)?;
                m.add_seed("master", cfg.seed);
                m.add_output(&f)?;
                m.finish();
                let side = m.write_sidecar(&f)?;
                Ok((
                    vec![f, side],
                    format!("{} instruction rows (seed {fake_seed})", rows.len()),
                ))
            }
            Stage::Simulate => {
                let cfg = SimConfig {
                    seed: sim_seed,
                    ..self.cfg.simulate.clone()
                };
                let s = crate::output::run_simulate(
                    &cfg,
                    &p.instructions(),
                    &p.output_dir(stage),
                    None,
                    &NoProgress,
                )?;
                Ok((
                    s.outputs,
                    format!(
                        "{} events, {} pulses, {} truth peaks (seed {sim_seed})",
                        s.n_events, s.n_pulses, s.n_peaks
                    ),
                ))
            }
            Stage::Process => {
                let s = crate::process::job::run_process(
                    &self.cfg.process,
                    &p.output_dir(Stage::Simulate),
                    &p.output_dir(stage),
                    &NoProgress,
                )?;
                Ok((
                    s.outputs,
                    format!(
                        "{} events, {} peaks, {} with an S1-S2 pair",
                        s.n_events, s.n_peaks, s.n_with_interaction
                    ),
                ))
            }
            Stage::Match => {
                let s = crate::matching::run_match(
                    &self.cfg.matching,
                    &p.output_dir(Stage::Simulate),
                    &p.output_dir(Stage::Process),
                    &p.output_dir(stage),
                    &NoProgress,
                )?;
                let eff = |t: &str| {
                    s.of_type(t)
                        .map(|t| format!("{:.3}", t.efficiency.efficiency))
                        .unwrap_or_else(|| "-".into())
                };
                let what = format!(
                    "{} merged rows, efficiency s1 {} s2 {}",
                    s.n_merged_rows,
                    eff("s1"),
                    eff("s2")
                );
                Ok((s.outputs, what))
            }
        }
    }

    fn write_record(&self, stage: Stage, files: &[PathBuf], seconds: f64) -> Result<()> {
        let dir = self.paths.stage_dir(stage);
        let mut rel = Vec::new();
        match stage {
            Stage::CreateFake => {
                for f in files {
                    if let Ok(r) = f.strip_prefix(&dir) {
                        rel.push(r.to_path_buf());
                    }
                }
            }
            _ => list_files(&dir, &self.paths.output_dir(stage), &mut rel)?,
        }
        let mut outputs = Vec::with_capacity(rel.len());
        for r in rel {
            let mut d = FileDigest::of(dir.join(&r))?;
            d.path = r;
            outputs.push(d);
        }
        let rec = StageRecord {
            production_id: self.paths.id.clone(),
            stage,
            configuration_sha256: self.digest.clone(),
            outputs,
            seconds,
        };
        let mut json = serde_json::to_vec_pretty(&rec).map_err(hep_core::error::Error::from)?;
        json.push(b'\n');
        atomic_write_bytes(&self.paths.record(stage), &json)?;
        Ok(())
    }

    /// Runs the missing stages of the id.
    fn run(&self) -> IdOutcome {
        let mut outcome = IdOutcome {
            production_id: self.paths.id.clone(),
            stages_run: Vec::new(),
            error: None,
        };
        let mut redo = false;
        for stage in Stage::ALL {
            if !redo && StageRecord::valid(&self.paths, stage, &self.digest).is_some() {
                continue;
            }
            redo = true;
            let t0 = Instant::now();
            let result = self.clear(stage).and_then(|()| self.execute(stage));
            let result = result.and_then(|(files, what)| {
                let secs = t0.elapsed().as_secs_f64();
                self.write_record(stage, &files, secs)?;
                Ok(what)
            });
            match result {
                Ok(what) => {
                    self.log(&format!(
                        "{}: {what} in {:.3} s",
                        stage.name(),
                        t0.elapsed().as_secs_f64()
                    ));
                    outcome.stages_run.push(stage);
                }
                Err(e) => {
                    self.log(&format!("{}: failed: {e}", stage.name()));
                    let rec = ErrorRecord {
                        production_id: self.paths.id.clone(),
                        stage,
                        error_type: error_type(&e).to_string(),
                        error_message: e.to_string(),
                    };
                    if let Err(w) = write_json(&self.paths.error(), &rec) {
                        tracing::warn!("{w}");
                    }
                    outcome.error = Some(rec);
                    return outcome;
                }
            }
        }
        let err = self.paths.error();
        if err.exists()
            && let Err(e) = std::fs::remove_file(&err)
        {
            tracing::warn!("{}: {e}", err.display());
        }
        outcome
    }
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    let mut json = serde_json::to_vec_pretty(value).map_err(hep_core::error::Error::from)?;
    json.push(b'\n');
    atomic_write_bytes(path, &json)?;
    Ok(())
}

/// The configuration digest of one id: the configuration with this id's seeds.
fn id_digest(cfg: &Configuration, index: u64) -> Result<String> {
    let seeds = (
        id_seed(cfg.seed, &cfg.name, index, 0)?,
        id_seed(cfg.seed, &cfg.name, index, 1)?,
    );
    json_digest(&(cfg, seeds)).map_err(Error::from)
}

/// Writes (or checks) `OUT/production.toml`.
fn check_snapshot(production: &Production, out: &Path) -> Result<()> {
    let text = production.snapshot()?;
    let path = out.join(SNAPSHOT);
    match std::fs::read_to_string(&path) {
        Ok(old) if old == text => Ok(()),
        Ok(_) => Err(Error::InvalidArgument(format!(
            "{} holds a production of another configuration ({} differs); use a new output \
             directory or remove the old one",
            out.display(),
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
            atomic_write_bytes(&path, text.as_bytes())?;
            Ok(())
        }
        Err(e) => Err(Error::io(&path, e)),
    }
}

fn jobs<'a>(production: &'a Production, out: &Path) -> Result<Vec<IdJob<'a>>> {
    production
        .ids()
        .into_iter()
        .map(|id| {
            let cfg = &production.configurations[id.configuration];
            Ok(IdJob {
                cfg,
                paths: IdPaths::new(out, &cfg.name, &id.name),
                index: id.index,
                digest: id_digest(cfg, id.index)?,
            })
        })
        .collect()
}

/// Runs the production in `out`: every id (or the ids of `shard`) through the stages it has not
/// completed, ids in parallel on the current rayon pool. The whole production (`shard` `None`)
/// is merged at the end when every id succeeded; a shard instead records its completed ids in
/// `OUT/shards/I-of-N/shard.json` for `submit --only-missing`. A failed id does not stop the
/// others: it gets `errors/{id}.json` and is listed in [`RunSummary::failed`].
///
/// # Errors
/// A snapshot of another configuration in `out`, or I/O errors outside the ids' stages.
pub fn run_production(
    production: &Production,
    out: &Path,
    shard: Option<Shard>,
    progress: &dyn Progress,
) -> Result<RunSummary> {
    check_snapshot(production, out)?;
    let all = jobs(production, out)?;
    let range = shard.unwrap_or_else(Shard::whole).range(all.len());
    let mine = &all[range.clone()];
    progress.start("production ids", mine.len() as u64);
    let outcomes: Vec<IdOutcome> = mine
        .par_iter()
        .map(|j| {
            let o = j.run();
            progress.advance(1);
            o
        })
        .collect();
    progress.finish();
    let mut s = RunSummary {
        n_ids: mine.len(),
        ..RunSummary::default()
    };
    for o in outcomes {
        match o.error {
            Some(e) => s.failed.push(e),
            None if o.stages_run.is_empty() => s.n_skipped += 1,
            None => s.n_completed += 1,
        }
    }
    if !s.failed.is_empty() {
        return Ok(s);
    }
    match shard {
        None => s.merged = merge_production(production, out, progress)?,
        Some(sh) => {
            let dir = sh.prepare_dir(out)?;
            let list: String = mine.iter().map(|j| format!("{}\n", j.paths.id)).collect();
            atomic_write_bytes(&dir.join("ids.txt"), list.as_bytes())?;
            let mut m = ShardManifest::start(
                TOOL,
                env!("CARGO_PKG_VERSION"),
                JOB,
                production,
                sh,
                all.len(),
            )?;
            m.add_output(&dir, "ids.txt")?;
            m.write(&dir)?;
        }
    }
    Ok(s)
}

/// State of every id of a production in `out`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    /// Ids with every stage complete.
    pub complete: Vec<String>,
    /// Ids with an error record and not complete.
    pub failed: Vec<String>,
    /// The other ids (not started, running or killed).
    pub missing: Vec<String>,
}

/// Which ids of the production in `out` are complete, failed or missing.
///
/// # Errors
/// As [`id_seed`].
pub fn status(production: &Production, out: &Path) -> Result<Status> {
    let all = jobs(production, out)?;
    let states: Vec<(String, u8)> = all
        .par_iter()
        .map(|j| {
            let done = Stage::ALL
                .iter()
                .all(|&st| StageRecord::valid(&j.paths, st, &j.digest).is_some());
            let state = if done {
                0
            } else if j.paths.error().exists() {
                1
            } else {
                2
            };
            (j.paths.id.clone(), state)
        })
        .collect();
    let mut s = Status::default();
    for (id, st) in states {
        match st {
            0 => s.complete.push(id),
            1 => s.failed.push(id),
            _ => s.missing.push(id),
        }
    }
    Ok(s)
}

/// The per-id tables the merge concatenates for configuration `cfg`: (stage, file name inside
/// the id's directory).
pub fn merged_tables(cfg: &Configuration) -> Vec<(Stage, String)> {
    let mut v = vec![
        (Stage::Simulate, crate::output::TRUTH_PEAKS.to_string()),
        (Stage::Process, crate::process::job::PEAKS.to_string()),
        (
            Stage::Process,
            crate::process::job::INTERACTIONS.to_string(),
        ),
    ];
    for t in MINITREES {
        v.push((Stage::Process, format!("{}.parquet", t.name())));
    }
    let matched = if cfg.matching.compat {
        [crate::matching::TRUTH_SORTED, crate::matching::MERGED]
    } else {
        [crate::matching::MATCHED_PEAKS, crate::matching::MERGED]
    };
    for m in matched {
        v.push((Stage::Match, format!("{m}.parquet")));
    }
    v
}

/// Concatenates the per-id tables of every configuration into `OUT/{name}/{table}.parquet`,
/// with a leading `production_id` column, ids in order. Refuses unless every id is complete.
///
/// # Errors
/// [`Error::InvalidArgument`] naming the incomplete ids; Parquet and I/O errors.
pub fn merge_production(
    production: &Production,
    out: &Path,
    progress: &dyn Progress,
) -> Result<Vec<PathBuf>> {
    check_snapshot(production, out)?;
    let st = status(production, out)?;
    if !st.failed.is_empty() || !st.missing.is_empty() {
        let first: Vec<&str> = st
            .failed
            .iter()
            .chain(&st.missing)
            .take(5)
            .map(String::as_str)
            .collect();
        return Err(Error::InvalidArgument(format!(
            "{}: {} production ids are not complete ({} failed, {} missing; first: {}); run \
             `production run` again",
            out.display(),
            st.failed.len() + st.missing.len(),
            st.failed.len(),
            st.missing.len(),
            first.join(", ")
        )));
    }
    let all = jobs(production, out)?;
    let n_tables: usize = production
        .configurations
        .iter()
        .map(|c| merged_tables(c).len())
        .sum();
    progress.start("merged tables", n_tables as u64);
    let mut written = Vec::new();
    for (c, cfg) in production.configurations.iter().enumerate() {
        let ids: Vec<&IdJob> = all
            .iter()
            .filter(|j| std::ptr::eq(j.cfg, &production.configurations[c]))
            .collect();
        for (stage, file) in &merged_tables(cfg) {
            let path = out.join(&cfg.name).join(file);
            let mut writer: Option<ParquetWriter> = None;
            let mut m = Manifest::start(TOOL, env!("CARGO_PKG_VERSION")).with_configuration(cfg)?;
            for j in &ids {
                let input = j.paths.output_dir(*stage).join(file);
                m.add_input(&input)?;
                let reader = ParquetReader::open(&input)?;
                let schema = Arc::new(Schema::new(
                    std::iter::once(Arc::new(Field::new("production_id", DataType::Utf8, false)))
                        .chain(reader.schema().fields().iter().cloned())
                        .collect::<Vec<_>>(),
                ));
                if writer.is_none() {
                    writer = Some(ParquetWriter::create(&path, schema.clone(), &[])?);
                }
                let w = writer
                    .as_mut()
                    .ok_or_else(|| Error::Config("writer".into()))?;
                if w.schema().fields() != schema.fields() {
                    return Err(Error::parse(
                        &input,
                        0,
                        format!("the columns of {}", file),
                        "another schema",
                    ));
                }
                for b in reader {
                    let b = b?;
                    let id: ArrayRef =
                        Arc::new(StringArray::from(vec![j.paths.id.as_str(); b.num_rows()]));
                    let cols: Vec<ArrayRef> = std::iter::once(id)
                        .chain(b.columns().iter().cloned())
                        .collect();
                    let batch = RecordBatch::try_new(schema.clone(), cols)
                        .map_err(|e| Error::Config(format!("{}: {e}", input.display())))?;
                    w.write(&batch)?;
                }
            }
            if let Some(w) = writer {
                w.finish()?;
                m.add_output(&path)?;
                m.finish();
                let side = m.write_sidecar(&path)?;
                written.push(path);
                written.push(side);
            }
            progress.advance(1);
        }
    }
    progress.finish();
    Ok(written)
}
