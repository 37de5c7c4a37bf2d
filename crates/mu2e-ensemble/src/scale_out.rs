//! Primary-sample generation on a batch cluster: one shard per array task, then a merge.
//!
//! The units of `gen-primary` are its jobs `0..njobs` (one file each, an event range of the
//! sample; job `j` draws from stream `(seed, j)` only). Shard `I/N` generates the block
//! `[floor(I*njobs/N), floor((I+1)*njobs/N))` into `<out>/shards/<I>-of-<N>/`, its
//! `shard.json` last ([`run_gen_primary_shard`]); [`merge_gen_primary`] checks the shards and
//! links (or copies) their files into `<out>/`, where they are the files a single process writes,
//! byte for byte.

use std::path::{Path, PathBuf};

use hep_core::io::FileDigest;
use hep_core::shard::{Shard, ShardManifest, collect_shards};

use crate::error::{Error, Result};
use crate::samples::{GenPrimaryOptions, SampleFileInfo, generate_primary_jobs};

/// Job name of sharded primary generation (in every shard manifest).
pub const GEN_PRIMARY_JOB: &str = "mu2e-ensemble gen-primary";
/// [`ShardManifest::details`] key of the options as JSON (what the merged manifest records).
const CONFIGURATION_KEY: &str = "configuration";

/// Generates the jobs of `shard` into `<out>/shards/<I>-of-<N>/` and writes its manifest last,
/// recording `inputs` (the spectrum tables used) and the options; returns the files. An earlier
/// `shard.json` there is removed first.
///
/// # Errors
/// As [`generate_primary_jobs`]; [`Error::Core`] for I/O failures.
pub fn run_gen_primary_shard(
    out: &Path,
    opts: &GenPrimaryOptions,
    inputs: &[PathBuf],
    shard: Shard,
) -> Result<Vec<SampleFileInfo>> {
    let dir = shard.prepare_dir(out)?;
    let n_units = opts.njobs as usize;
    let range = shard.range(n_units);
    let mut m = ShardManifest::start(
        GEN_PRIMARY_JOB,
        env!("CARGO_PKG_VERSION"),
        GEN_PRIMARY_JOB,
        opts,
        shard,
        n_units,
    )?;
    m.seed = Some(opts.seed);
    for p in inputs {
        m.add_input(p)?;
    }
    m.details.insert(
        CONFIGURATION_KEY.into(),
        serde_json::to_string(&opts.manifest_configuration()?).map_err(hep_core::Error::from)?,
    );
    let files = generate_primary_jobs(&dir, opts, range.start as u32..range.end as u32)?;
    for f in &files {
        m.add_output(&dir, f.path.file_name().unwrap_or_default())?;
    }
    m.write(&dir)?;
    Ok(files)
}

/// The result of [`merge_gen_primary`].
#[derive(Debug, Clone)]
pub struct MergedSample {
    /// The sample files in `<out>/`, in job order.
    pub files: Vec<PathBuf>,
    /// The options all shards ran, as JSON (the configuration of the merged manifest).
    pub configuration: serde_json::Value,
    /// The input tables, as recorded by the shards.
    pub inputs: Vec<FileDigest>,
    /// The master seed.
    pub seed: u64,
}

/// Checks the shards of a sharded `gen-primary` in `out` and links (or copies) their files into
/// `out`, in job order.
///
/// # Errors
/// [`Error::Core`] wrapping [`hep_core::Error::Shard`] for a missing, incomplete, foreign or
/// changed shard; [`Error::InvalidArgument`] for a shard without its options; I/O errors.
pub fn merge_gen_primary(out: &Path) -> Result<MergedSample> {
    let shards = collect_shards(out, GEN_PRIMARY_JOB)?;
    let first = &shards[0].manifest;
    let configuration: serde_json::Value = first
        .details
        .get(CONFIGURATION_KEY)
        .and_then(|j| serde_json::from_str(j).ok())
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{}: shard manifest without the gen-primary options",
                shards[0].dir.display()
            ))
        })?;
    let mut files = Vec::new();
    for s in &shards {
        let expected = s.manifest.end_unit - s.manifest.first_unit;
        if s.manifest.outputs.len() != expected {
            return Err(Error::InvalidArgument(format!(
                "shard {}: {} files for {expected} jobs",
                s.manifest.shard,
                s.manifest.outputs.len()
            )));
        }
        for o in &s.manifest.outputs {
            let dst = out.join(&o.path);
            hep_core::io::link_or_copy(s.output(&o.path), &dst)?;
            files.push(dst);
        }
    }
    Ok(MergedSample {
        files,
        configuration,
        inputs: first.inputs.clone(),
        seed: first.seed.unwrap_or_default(),
    })
}

/// Job name of a sharded series of ensembles (in every shard manifest).
pub const SERIES_JOB: &str = "mu2e-ensemble run-si";

/// Writes the ensembles of `shard` of the series planned in `<out>/series-plan.json` into
/// `<out>/shards/<I>-of-<N>/ensemble_<k>/`, its manifest last (recording the plan file, so that
/// shards of different plans are never merged together).
///
/// # Errors
/// [`hep_core::Error::Parse`]/[`Error::Core`] if the plan cannot be read (plan the series first); as
/// [`crate::series::write_series`].
pub fn run_series_shard(
    samples: &[crate::sampler::SampleInput],
    out: &Path,
    shard: Shard,
) -> Result<()> {
    use crate::series::{SERIES_PLAN_FILE, SeriesPlan, write_series};
    let plan = SeriesPlan::read(out)?;
    let dir = shard.prepare_dir(out)?;
    let n = plan.entries.len();
    let mut m = ShardManifest::start(
        SERIES_JOB,
        env!("CARGO_PKG_VERSION"),
        SERIES_JOB,
        &plan
            .entries
            .iter()
            .map(|e| &e.reservation)
            .collect::<Vec<_>>(),
        shard,
        n,
    )?;
    m.add_input(out.join(SERIES_PLAN_FILE))?;
    let range = shard.range(n);
    // A rerun of a failed shard starts from empty ensemble directories.
    for e in &plan.entries[range.clone()] {
        let d = dir.join(&e.name);
        if d.exists() {
            std::fs::remove_dir_all(&d).map_err(|err| hep_core::Error::io(&d, err))?;
        }
    }
    write_series(samples, &plan, &dir, range.clone())?;
    for e in &plan.entries[range] {
        let d = dir.join(&e.name);
        let mut names: Vec<PathBuf> = std::fs::read_dir(&d)
            .map_err(|err| hep_core::Error::io(&d, err))?
            .filter_map(|x| x.ok().map(|x| PathBuf::from(&e.name).join(x.file_name())))
            .collect();
        names.sort();
        for name in names {
            m.add_output(&dir, name)?;
        }
    }
    m.write(&dir)?;
    Ok(())
}

/// Checks the shards of a series in `out`, puts every ensemble in `<out>/ensemble_<k>/` (sample
/// files linked; the report and the manifests written for their final place, as a single
/// process writes them) and marks the reservations complete. Returns the reports.
///
/// # Errors
/// [`Error::Core`] wrapping [`hep_core::Error::Shard`] for missing, incomplete or foreign
/// shards; [`Error::InvalidArgument`] if an ensemble is already in place; I/O and ledger errors.
pub fn merge_series(out: &Path) -> Result<Vec<crate::sampler::EnsembleReport>> {
    use crate::sampler::{EnsembleReport, REPORT_FILE};
    use crate::series::{SeriesPlan, complete_series};
    use hep_core::manifest::Manifest;
    let shards = collect_shards(out, SERIES_JOB)?;
    let plan = SeriesPlan::read(out)?;
    if shards[0].manifest.n_units != plan.entries.len() {
        return Err(Error::InvalidArgument(format!(
            "{}: the shards cover {} ensembles, the plan has {}",
            out.display(),
            shards[0].manifest.n_units,
            plan.entries.len()
        )));
    }
    let mut reports = Vec::with_capacity(plan.entries.len());
    let mut done = Vec::with_capacity(plan.entries.len());
    for s in &shards {
        for e in &plan.entries[s.manifest.first_unit..s.manifest.end_unit] {
            let from = s.dir.join(&e.name);
            let to = out.join(&e.name);
            if to.join(REPORT_FILE).exists() {
                return Err(Error::InvalidArgument(format!(
                    "{} already holds an ensemble: the shards were merged already",
                    to.display()
                )));
            }
            std::fs::create_dir_all(&to).map_err(|err| hep_core::Error::io(&to, err))?;
            let text = hep_core::io::read_text(from.join(REPORT_FILE))?;
            let mut report: EnsembleReport = serde_json::from_str(&text).map_err(|err| {
                Error::input(
                    from.join(REPORT_FILE),
                    err.line() as u64,
                    "an ensemble report",
                    err.to_string(),
                )
            })?;
            let shard_manifest =
                Manifest::read(hep_core::manifest::sidecar_path(&from.join(REPORT_FILE)))?;
            let mut outputs = Vec::new();
            for sub in &mut report.subruns {
                let name = sub.path.file_name().unwrap_or_default().to_owned();
                let dst = to.join(&name);
                hep_core::io::link_or_copy(from.join(&name), &dst)?;
                sub.path = dst.clone();
                outputs.push(dst);
            }
            let report_path = to.join(REPORT_FILE);
            let mut json = serde_json::to_vec_pretty(&report).map_err(hep_core::Error::from)?;
            json.push(b'\n');
            hep_core::io::atomic_write_bytes(&report_path, &json)?;
            outputs.push(report_path.clone());
            if e.config.fcl.is_some() {
                for sub in &report.subruns {
                    let name = format!("SamplingInput_sr{}.fcl", sub.subrun);
                    let dst = to.join(&name);
                    hep_core::io::link_or_copy(from.join(&name), &dst)?;
                    outputs.push(dst);
                }
            }
            // The manifest as the single process writes it: the same configuration (the report),
            // inputs and seed, the outputs at their final place.
            let mut m = Manifest::start(shard_manifest.tool.clone(), env!("CARGO_PKG_VERSION"))
                .with_configuration(&report)?;
            m.inputs = shard_manifest.inputs.clone();
            m.seeds = shard_manifest.seeds.clone();
            for o in &outputs {
                m.add_output(o)?;
            }
            m.finish();
            for o in &outputs {
                m.write_sidecar(o)?;
            }
            done.push((e.reservation.clone(), report.ranges.clone()));
            reports.push(report);
        }
    }
    complete_series(&plan.entries[0].config.ledger, &done)?;
    Ok(reports)
}
