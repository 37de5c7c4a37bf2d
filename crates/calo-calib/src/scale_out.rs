//! The detector fit on a batch cluster: one shard per array task, then a merge.
//!
//! The units of the job are the selected spectra in id order ([`selected_spectra`]); shard
//! `I/N` fits the block `[floor(I*n/N), floor((I+1)*n/N))` and writes only
//! `<out>/shards/<I>-of-<N>/` ([`write_fit_shard`]): `source_fits.parquet` and `.csv` of its
//! channels and, last, `shard.json` ([`hep_core::shard::ShardManifest`]) with the digests of the
//! spectra file, the configuration and the outputs. [`merge_fit_shards`] checks that all `N`
//! shards are present, complete and of the same run, and joins their fits in shard order, which
//! is the order of the single-process fit: written with [`write_source_fits`] they give the same
//! bytes. The fits do not depend on the shard (no random numbers, no state shared between
//! channels).

use std::path::{Path, PathBuf};

use hep_core::shard::{CompletedShard, Shard, ShardManifest, collect_shards};
use serde::{Deserialize, Serialize};

use crate::channel::IdMode;
use crate::detector::{
    Selection, fit_detector_shard, read_source_fits, selected_spectra, write_source_fits,
};
use crate::fit::{ChannelFit, FitConfig};
use crate::spectra::SpectrumSet;
use crate::{Error, Result};

/// Job name of the sharded detector fit (in every shard manifest).
pub const FIT_JOB: &str = "calo-calib fit";
/// The fits of a shard, in its directory.
pub const SHARD_FITS_FILE: &str = "source_fits.parquet";
/// [`ShardManifest::details`] key holding the job's configuration as JSON.
const CONFIGURATION_KEY: &str = "configuration";

/// Everything that decides the fits of a sharded run; its digest must agree between shards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitJob {
    /// The fit configuration.
    pub config: FitConfig,
    /// Which channels.
    pub selection: Selection,
    /// Per-SiPM or per-crystal ids.
    pub mode: IdMode,
}

/// Fits shard `shard` of `job` on `set` and writes it to `<out>/shards/<I>-of-<N>/`, the
/// manifest last; returns the shard directory. An earlier `shard.json` there is removed first,
/// so a rerun that fails leaves a shard the merge refuses, never a stale complete one.
///
/// # Errors
/// As [`fit_detector_shard`]; [`Error::Core`] for I/O failures.
pub fn run_fit_shard(
    set: &SpectrumSet,
    input: &Path,
    job: &FitJob,
    shard: Shard,
    out: &Path,
) -> Result<PathBuf> {
    let n_units = selected_spectra(set, &job.selection)?.len();
    let fits = fit_detector_shard(set, &job.config, &job.selection, shard)?;
    write_fit_shard(out, input, job, shard, n_units, &fits)
}

/// Writes the fits of one shard (see [`run_fit_shard`]).
///
/// # Errors
/// [`Error::Core`] for I/O failures.
pub fn write_fit_shard(
    out: &Path,
    input: &Path,
    job: &FitJob,
    shard: Shard,
    n_units: usize,
    fits: &[ChannelFit],
) -> Result<PathBuf> {
    let dir = shard.prepare_dir(out)?;
    let mut m = ShardManifest::start(
        FIT_JOB,
        env!("CARGO_PKG_VERSION"),
        FIT_JOB,
        job,
        shard,
        n_units,
    )?;
    m.add_input(input)?;
    m.details.insert(
        CONFIGURATION_KEY.into(),
        serde_json::to_string(job).map_err(hep_core::Error::from)?,
    );
    let written = write_source_fits(&dir, fits)?;
    for p in &written {
        m.add_output(&dir, p.file_name().unwrap_or_default())?;
    }
    m.write(&dir)?;
    Ok(dir)
}

/// The joined fits of all shards of the run in `out`, with the run's job and input file.
#[derive(Debug, Clone)]
pub struct MergedFits {
    /// The fits, in the order of the single-process fit.
    pub fits: Vec<ChannelFit>,
    /// The job all shards ran.
    pub job: FitJob,
    /// The spectra file, as the shards were given it.
    pub input: PathBuf,
    /// The shards merged.
    pub shards: Vec<CompletedShard>,
}

/// Checks and joins the shards of the detector fit in `out` (see the module docs).
///
/// # Errors
/// [`Error::Core`] wrapping [`hep_core::Error::Shard`] for a missing, incomplete, foreign or
/// changed shard; [`Error::InvalidArgument`] if a shard holds another number of fits than its
/// unit range.
pub fn merge_fit_shards(out: &Path) -> Result<MergedFits> {
    let shards = collect_shards(out, FIT_JOB)?;
    let first = &shards[0].manifest;
    let job: FitJob = first
        .details
        .get(CONFIGURATION_KEY)
        .and_then(|j| serde_json::from_str(j).ok())
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{}: shard manifest without the fit configuration",
                shards[0].dir.display()
            ))
        })?;
    let input = first
        .inputs
        .first()
        .map(|d| d.path.clone())
        .unwrap_or_default();
    let mut fits = Vec::with_capacity(first.n_units);
    for s in &shards {
        let part = read_source_fits(&s.output(SHARD_FITS_FILE))?;
        let expected = s.manifest.end_unit - s.manifest.first_unit;
        if part.len() != expected {
            return Err(Error::InvalidArgument(format!(
                "shard {}: {} fits for {expected} channels",
                s.manifest.shard,
                part.len()
            )));
        }
        fits.extend(part);
    }
    Ok(MergedFits {
        fits,
        job,
        input,
        shards,
    })
}
