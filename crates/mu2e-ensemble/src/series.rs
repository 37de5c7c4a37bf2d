//! A series of blind ensembles from the same samples and ledger, planned and reserved at once.
//!
//! [`plan_series`] draws and allocates `count` ensembles (ensemble `k` has seed `seed + k`) one
//! after the other against the ledger, so that no event goes to two of them, and reserves all of
//! them under one ledger lock before anything is written; the plan is saved as
//! `<out>/series-plan.json`. [`write_series`] then writes any block of the planned ensembles,
//! each into `<dir>/ensemble_<k>/` (the files of [`crate::sampler::write_ensemble`]), and
//! [`complete_series`] marks their reservations complete. [`build_series`] does all three in one
//! process; [`crate::scale_out`] runs the writing as shards of an array job, each shard writing
//! its block, after the plan was made once.

use std::path::{Path, PathBuf};

use hep_core::progress::{NoProgress, Progress};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sampler::{
    EnsembleConfig, EnsemblePlan, EnsembleReport, FileRange, Ledger, LedgerLock, REPORT_FILE,
    STATUS_COMPLETE, SampleInput, allocate, check_names, checked_fcl_template, draw_counts,
    expectations, remove_ensemble_files, reserve_in, write_reserved,
};

/// File of a series output directory that holds the planned and reserved ensembles.
pub const SERIES_PLAN_FILE: &str = "series-plan.json";

/// Name (directory) of ensemble `k` of a series: `ensemble_<k:03>`.
pub fn ensemble_name(k: usize) -> String {
    format!("ensemble_{k:03}")
}

/// One planned ensemble of a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesEntry {
    /// Its directory name ([`ensemble_name`]).
    pub name: String,
    /// Its configuration (the series' with seed `seed + k`).
    pub config: EnsembleConfig,
    /// Its draws and row ranges.
    pub plan: EnsemblePlan,
    /// The id of its reservation in the ledger.
    pub reservation: String,
}

/// The planned ensembles of a series, in order (`series-plan.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPlan {
    /// The ensembles.
    pub entries: Vec<SeriesEntry>,
}

impl SeriesPlan {
    /// Reads `<out>/series-plan.json`.
    ///
    /// # Errors
    /// [`Error::Core`] if it cannot be read; [`hep_core::Error::Parse`] if it is not a series plan.
    pub fn read(out: &Path) -> Result<Self> {
        let path = out.join(SERIES_PLAN_FILE);
        let text = hep_core::io::read_text(&path)?;
        serde_json::from_str(&text).map_err(|e| {
            Error::input(
                &path,
                e.line() as u64,
                "a series plan (JSON)",
                e.to_string(),
            )
        })
    }
}

/// Plans `count` ensembles from `samples` (ensemble `k` with seed `cfg.seed + k`), allocating
/// each after the ones before it, reserves all of them in the ledger under one lock, and writes
/// `<out>/series-plan.json`. Nothing else is written.
///
/// # Errors
/// [`Error::InvalidArgument`] for `count = 0`, an existing plan in `out`, a bad FCL template or
/// bad samples; [`Error::ShortSample`] if the samples cannot supply all `count` ensembles (then
/// nothing is reserved); ledger and I/O errors.
pub fn plan_series(
    samples: &[SampleInput],
    cfg: &EnsembleConfig,
    count: usize,
    out: &Path,
) -> Result<SeriesPlan> {
    if count == 0 {
        return Err(Error::InvalidArgument(
            "a series needs at least one ensemble".into(),
        ));
    }
    if cfg.max_events_per_subrun == 0 {
        return Err(Error::InvalidArgument(
            "max events per sub-run must be >= 1".into(),
        ));
    }
    let plan_path = out.join(SERIES_PLAN_FILE);
    if plan_path.exists() {
        return Err(Error::InvalidArgument(format!(
            "{} exists: this series was planned already",
            plan_path.display()
        )));
    }
    checked_fcl_template(cfg)?;
    check_names(samples)?;
    let expect = expectations(samples)?;
    let means: Vec<f64> = expect.iter().map(|e| e.mean).collect();
    std::fs::create_dir_all(out).map_err(|e| hep_core::Error::io(out, e))?;
    let plan = {
        let _lock = LedgerLock::acquire(&cfg.ledger)?;
        let mut ledger = Ledger::load(&cfg.ledger)?;
        let mut entries = Vec::with_capacity(count);
        for k in 0..count {
            let config = EnsembleConfig {
                seed: cfg.seed.wrapping_add(k as u64),
                ..cfg.clone()
            };
            let draws = draw_counts(&means, config.seed)?;
            let ranges = allocate(samples, &expect, &draws.counts, &ledger, config.livetime_s)?;
            let plan = EnsemblePlan {
                expectations: expect.clone(),
                draws,
                ranges,
            };
            let name = ensemble_name(k);
            let reservation = reserve_in(&mut ledger, samples, &config, &plan, &out.join(&name))?;
            entries.push(SeriesEntry {
                name,
                config,
                plan,
                reservation,
            });
        }
        // All ensembles are reserved in one save, or none.
        ledger.save(&cfg.ledger)?;
        SeriesPlan { entries }
    };
    let mut json = serde_json::to_vec_pretty(&plan).map_err(hep_core::Error::from)?;
    json.push(b'\n');
    if let Err(e) = hep_core::io::atomic_write_bytes(&plan_path, &json) {
        release(cfg, &plan);
        return Err(e.into());
    }
    Ok(plan)
}

/// Gives back the reservations of a series (after a failure); best effort.
fn release(cfg: &EnsembleConfig, plan: &SeriesPlan) {
    for e in &plan.entries {
        let _ = crate::sampler::release_reservation(&cfg.ledger, &e.reservation);
    }
}

/// Writes the ensembles `range` of a planned series into `<dir>/<name>/` and returns their
/// reports and final row ranges. A failing ensemble's files are removed; its reservation stays
/// (the series is planned), so a rerun of the same block writes it again.
///
/// # Errors
/// [`Error::InvalidArgument`] if an ensemble directory already holds an ensemble or `range` is
/// outside the plan; as [`crate::sampler::write_ensemble`] otherwise.
pub fn write_series(
    samples: &[SampleInput],
    plan: &SeriesPlan,
    dir: &Path,
    range: std::ops::Range<usize>,
) -> Result<Vec<(EnsembleReport, Vec<FileRange>)>> {
    write_series_with_progress(samples, plan, dir, range, &NoProgress)
}

/// [`write_series`] reporting each written ensemble to `progress` (stage `"ensembles"`).
///
/// # Errors
/// As [`write_series`].
pub fn write_series_with_progress(
    samples: &[SampleInput],
    plan: &SeriesPlan,
    dir: &Path,
    range: std::ops::Range<usize>,
    progress: &dyn Progress,
) -> Result<Vec<(EnsembleReport, Vec<FileRange>)>> {
    if range.end > plan.entries.len() {
        return Err(Error::InvalidArgument(format!(
            "ensembles {}..{} are not in a series of {}",
            range.start,
            range.end,
            plan.entries.len()
        )));
    }
    let mut out = Vec::with_capacity(range.len());
    progress.start("ensembles", range.len() as u64);
    for e in &plan.entries[range] {
        let d = dir.join(&e.name);
        if d.join(REPORT_FILE).exists() {
            return Err(Error::InvalidArgument(format!(
                "{} already holds an ensemble",
                d.display()
            )));
        }
        std::fs::create_dir_all(&d).map_err(|err| hep_core::Error::io(&d, err))?;
        let template = checked_fcl_template(&e.config)?;
        match write_reserved(
            samples,
            &e.config,
            &e.plan,
            &d,
            template.as_deref(),
            &NoProgress,
        ) {
            Ok(r) => {
                out.push(r);
                progress.advance(1);
                tracing::info!("run-si: ensemble {} written", e.name);
            }
            Err(err) => {
                let n = e
                    .plan
                    .draws
                    .n_total
                    .div_ceil(e.config.max_events_per_subrun);
                remove_ensemble_files(&e.config, &d, n);
                return Err(err);
            }
        }
    }
    Ok(out)
}

/// Marks the reservations `(id, final ranges)` complete in `ledger`.
///
/// # Errors
/// Ledger errors; [`Error::InvalidArgument`] if a reservation is not in the ledger (released
/// meanwhile).
pub fn complete_series(ledger_path: &Path, done: &[(String, Vec<FileRange>)]) -> Result<()> {
    let _lock = LedgerLock::acquire(ledger_path)?;
    let mut ledger = Ledger::load(ledger_path)?;
    for (id, ranges) in done {
        let e = ledger
            .ensembles
            .iter_mut()
            .find(|e| &e.id == id)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "{}: reservation {id} is gone (released while the series was written?)",
                    ledger_path.display()
                ))
            })?;
        e.status = STATUS_COMPLETE.into();
        e.ranges.clone_from(ranges);
    }
    ledger.save(ledger_path)
}

/// Plans, writes and completes a series of `count` ensembles in one process, into
/// `<out>/ensemble_<k>/`.
///
/// # Errors
/// As [`plan_series`], [`write_series`] and [`complete_series`].
pub fn build_series(
    samples: &[SampleInput],
    cfg: &EnsembleConfig,
    count: usize,
    out: &Path,
) -> Result<Vec<EnsembleReport>> {
    build_series_with_progress(samples, cfg, count, out, &NoProgress)
}

/// [`build_series`] reporting each written ensemble to `progress` (stage `"ensembles"`).
///
/// # Errors
/// As [`build_series`].
pub fn build_series_with_progress(
    samples: &[SampleInput],
    cfg: &EnsembleConfig,
    count: usize,
    out: &Path,
    progress: &dyn Progress,
) -> Result<Vec<EnsembleReport>> {
    let plan = plan_series(samples, cfg, count, out)?;
    let written = write_series_with_progress(samples, &plan, out, 0..count, progress)?;
    let done: Vec<(String, Vec<FileRange>)> = plan
        .entries
        .iter()
        .zip(&written)
        .map(|(e, (_, ranges))| (e.reservation.clone(), ranges.clone()))
        .collect();
    complete_series(&cfg.ledger, &done)?;
    Ok(written.into_iter().map(|(r, _)| r).collect())
}

/// The directories of the ensembles of a series in `out`.
pub fn ensemble_dirs(out: &Path, plan: &SeriesPlan) -> Vec<PathBuf> {
    plan.entries.iter().map(|e| out.join(&e.name)).collect()
}
