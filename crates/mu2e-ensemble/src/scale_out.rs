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
    let dir = shard.dir(out);
    std::fs::create_dir_all(&dir).map_err(|e| hep_core::Error::io(&dir, e))?;
    let manifest_path = dir.join(hep_core::shard::SHARD_MANIFEST);
    if manifest_path.exists() {
        std::fs::remove_file(&manifest_path).map_err(|e| hep_core::Error::io(&manifest_path, e))?;
    }
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
        serde_json::to_string(opts).map_err(hep_core::Error::from)?,
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
