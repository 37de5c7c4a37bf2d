//! Whole-detector source fits (CaloCalibration `SourceCalib/src/MakeAnalysisTree_main.cc`) and
//! their archive outputs (the `covar` tree's quantities and the `CalSourceEnergyCalib` DB table).

use crate::channel::{self, IdMode};
use crate::fit::{ChannelFit, ChannelStatus, FitConfig, fit_spectrum};
use crate::model::{E_FIRST_ESCAPE_MEV, E_FULL_MEV, E_SECOND_ESCAPE_MEV};
use crate::spectra::SpectrumSet;
use crate::tables::SourceRow;
use crate::{Error, Result};
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use hep_core::progress::{NoProgress, Progress};
use hep_core::shard::Shard;
use rayon::prelude::*;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Which channels to fit, like MakeAnalysisTree's `<start> <end-exclusive> ... <disk>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Selection {
    /// First id to fit (inclusive).
    pub first: Option<u32>,
    /// Last id to fit (exclusive, as in MakeAnalysisTree).
    pub last: Option<u32>,
    /// Only this disk (0 or 1).
    pub disk: Option<u32>,
}

impl Selection {
    /// True if `id` (in `mode`) is selected.
    pub fn contains(&self, id: u32, mode: IdMode) -> bool {
        self.first.is_none_or(|f| id >= f)
            && self.last.is_none_or(|l| id < l)
            && self.disk.is_none_or(|d| mode.disk(id) == d)
    }
}

/// Fits every selected spectrum of `set` in parallel (rayon), returning the fits in id order.
///
/// LYSO channels get [`ChannelStatus::LYSO_NOT_FITTED`] and NaN values; empty channels get
/// [`ChannelStatus::NO_COUNTS`]. The result depends only on the input, never on the thread count.
///
/// # Errors
/// [`Error::InvalidArgument`] for an invalid configuration or a disk other than 0 or 1.
pub fn fit_detector(
    set: &SpectrumSet,
    cfg: &FitConfig,
    sel: &Selection,
) -> Result<Vec<ChannelFit>> {
    fit_detector_shard(set, cfg, sel, Shard::whole())
}

/// The units of a sharded detector fit: the selected spectra of `set`, in id order.
///
/// # Errors
/// [`Error::InvalidArgument`] for a disk other than 0 or 1.
pub fn selected_spectra<'a>(
    set: &'a SpectrumSet,
    sel: &Selection,
) -> Result<Vec<&'a crate::spectra::Spectrum>> {
    if sel.disk.is_some_and(|d| d >= channel::N_DISKS) {
        return Err(Error::InvalidArgument(format!(
            "disk must be 0 or 1, got {}",
            sel.disk.unwrap_or_default()
        )));
    }
    let mode = set.id_mode();
    Ok(set
        .spectra
        .iter()
        .filter(|s| sel.contains(s.id, mode))
        .collect())
}

/// [`fit_detector`] restricted to one shard: the block [`Shard::range`] of the
/// [`selected_spectra`]. A channel's fit does not depend on the shard, so the shards' fits,
/// joined in shard order, are the fits of the whole detector.
///
/// # Errors
/// As [`fit_detector`].
pub fn fit_detector_shard(
    set: &SpectrumSet,
    cfg: &FitConfig,
    sel: &Selection,
    shard: Shard,
) -> Result<Vec<ChannelFit>> {
    fit_detector_shard_with_progress(set, cfg, sel, shard, &NoProgress)
}

/// [`fit_detector_shard`] reporting each fitted channel to `progress` (stage `"channels"`, one
/// unit per selected channel of the shard) and logging (`tracing`, info level) the start and end
/// of the stage with the channel counts, the failed fits and the time taken. The reports never
/// change the fits.
///
/// # Errors
/// As [`fit_detector`].
pub fn fit_detector_shard_with_progress(
    set: &SpectrumSet,
    cfg: &FitConfig,
    sel: &Selection,
    shard: Shard,
    progress: &dyn Progress,
) -> Result<Vec<ChannelFit>> {
    let mode = set.id_mode();
    // Select first, then split the work: filtering inside rayon's split would leave a contiguous
    // selection (e.g. --first 0 --last 100) on one thread.
    let selected = selected_spectra(set, sel)?;
    let range = shard.range(selected.len());
    let units = &selected[range];
    let t0 = Instant::now();
    tracing::info!(
        channels = units.len(),
        selected = selected.len(),
        method = ?cfg.method,
        "fitting {} of {} selected channels",
        units.len(),
        selected.len()
    );
    progress.start("channels", units.len() as u64);
    let fits: Vec<ChannelFit> = units
        .par_iter()
        .map(|s| {
            let fit = if mode.is_lyso(s.id) {
                Ok(ChannelFit::not_fitted(
                    s.id,
                    s.counts.iter().sum(),
                    ChannelStatus::LYSO_NOT_FITTED,
                ))
            } else {
                fit_spectrum(s.id, &s.edges, &s.counts, cfg)
            };
            progress.advance(1);
            fit
        })
        .collect::<Result<_>>()?;
    progress.finish();
    let (ok, failed, lyso, empty) = summary_counts(&fits);
    for f in fits.iter().filter(|f| is_failed(f)) {
        tracing::info!(
            id = f.roid,
            status = f.status.bits(),
            "fit of {} {} failed (status {})",
            mode.id_name(),
            f.roid,
            f.status.bits()
        );
    }
    tracing::info!(
        channels = fits.len(),
        ok,
        failed,
        lyso,
        empty,
        seconds = t0.elapsed().as_secs_f64(),
        "fitted {} channels in {:.2} s: {ok} usable, {failed} failed ({empty} without counts), \
         {lyso} LYSO not fitted",
        fits.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(fits)
}

/// Column names of `source_fits.csv` / `.parquet`, in order.
pub const SOURCE_FIT_COLUMNS: [&str; 28] = [
    "roid",
    "n_events",
    "peak",
    "peak_err",
    "peak_err_low",
    "peak_err_high",
    "width",
    "width_err",
    "alpha",
    "alpha_err",
    "beta",
    "beta_err",
    "n_full",
    "n_full_err",
    "n_first",
    "n_second",
    "n_bkg",
    "chi2",
    "nll",
    "ndf",
    "p_value",
    "adc2mev",
    "adc2mev_err",
    "corr_peak_n_full",
    "status",
    "n_starts_ok",
    "n_calls",
    "failed",
];

/// The Int64 columns of `source_fits` (all others are Float64).
const INT_COLUMNS: [&str; 6] = ["roid", "ndf", "status", "n_starts_ok", "n_calls", "failed"];

/// The unit of a `source_fits` column (stored as the `unit` field metadata): `"1"` for the
/// dimensionless floating-point columns (event yields, Crystal Ball alpha, chi-square,
/// likelihood, p-value, correlation); `None` for the integer ids, counts and flags.
pub fn source_fit_unit(column: &str) -> Option<&'static str> {
    Some(match column {
        "peak" | "peak_err" | "peak_err_low" | "peak_err_high" => "ADC",
        "width" | "width_err" => "MeV",
        "beta" | "beta_err" => "1/ADC",
        "adc2mev" | "adc2mev_err" => "MeV/ADC",
        "n_events" | "alpha" | "alpha_err" | "n_full" | "n_full_err" | "n_first" | "n_second"
        | "n_bkg" | "chi2" | "nll" | "p_value" | "corr_peak_n_full" => "1",
        _ => return None,
    })
}

/// True when `f` is a fit that was attempted (or had no counts) and gives no usable constant.
/// LYSO channels, which the detector fit leaves out by design, are not failures.
pub fn is_failed(f: &ChannelFit) -> bool {
    !f.is_ok() && !f.status.contains(ChannelStatus::LYSO_NOT_FITTED)
}

/// Writes `source_fits.parquet` and `source_fits.csv` into `dir` (atomically). Returns the two
/// paths.
///
/// Units are in each Parquet field's `unit` metadata ([`source_fit_unit`]): peak and its errors in
/// ADC, width in MeV, beta in 1/ADC, adc2mev in MeV/ADC, `"1"` for dimensionless numbers. A value that does not exist (the fit
/// parameters of a channel that was not fitted, an interval that did not close) is null in
/// Parquet and an empty field in the CSV, never NaN. `failed` is 1 exactly for the channels
/// [`is_failed`] counts (the CLI's "failed"), 0 for usable fits and for LYSO channels.
///
/// # Errors
/// I/O and Parquet errors from hep-core.
pub fn write_source_fits(dir: &Path, fits: &[ChannelFit]) -> Result<[std::path::PathBuf; 2]> {
    let f64col = |g: fn(&ChannelFit) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from(
            fits.iter()
                .map(|f| Some(g(f)).filter(|v| v.is_finite()))
                .collect::<Vec<_>>(),
        ))
    };
    let i64col = |g: fn(&ChannelFit) -> i64| -> ArrayRef {
        Arc::new(Int64Array::from(fits.iter().map(g).collect::<Vec<_>>()))
    };
    let columns: Vec<ArrayRef> = vec![
        i64col(|f| i64::from(f.roid)),
        f64col(|f| f.n_events),
        f64col(|f| f.peak),
        f64col(|f| f.peak_err),
        f64col(|f| f.peak_err_low),
        f64col(|f| f.peak_err_high),
        f64col(|f| f.width),
        f64col(|f| f.width_err),
        f64col(|f| f.alpha),
        f64col(|f| f.alpha_err),
        f64col(|f| f.beta),
        f64col(|f| f.beta_err),
        f64col(|f| f.n_full),
        f64col(|f| f.n_full_err),
        f64col(|f| f.n_first),
        f64col(|f| f.n_second),
        f64col(|f| f.n_bkg),
        f64col(|f| f.chi2),
        f64col(|f| f.nll),
        i64col(|f| i64::from(f.ndf)),
        f64col(|f| f.p_value),
        f64col(|f| f.adc2mev),
        f64col(|f| f.adc2mev_err),
        f64col(|f| f.corr_peak_n_full),
        i64col(|f| i64::from(f.status.bits())),
        i64col(|f| i64::from(f.n_starts_ok)),
        i64col(|f| f.n_calls as i64),
        i64col(|f| i64::from(is_failed(f))),
    ];
    let fields: Vec<Field> = SOURCE_FIT_COLUMNS
        .iter()
        .zip(&columns)
        .map(|(n, c)| {
            let nullable = c.data_type() == &DataType::Float64;
            let f = Field::new(*n, c.data_type().clone(), nullable);
            match source_fit_unit(n) {
                Some(u) => hep_core::io::with_unit(f, u),
                None => f,
            }
        })
        .collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| Error::Core(e.into()))?;
    let parquet = dir.join("source_fits.parquet");
    hep_core::io::write_parquet(&parquet, std::slice::from_ref(&batch))?;
    let csv = dir.join("source_fits.csv");
    write_batch_csv(&csv, &batch)?;
    Ok([parquet, csv])
}

/// Writes an all-Int64/Float64 batch as CSV with the csv crate (header from the schema; floats in
/// Rust's shortest round-trip form, nulls as empty fields), atomically.
fn write_batch_csv(path: &Path, batch: &RecordBatch) -> Result<()> {
    hep_core::io::atomic_write(path, |w| {
        let err = |e: csv::Error| hep_core::Error::io(path, std::io::Error::other(e));
        let mut out = csv::Writer::from_writer(w);
        out.write_record(hep_core::io::column_names(batch))
            .map_err(err)?;
        let mut record = Vec::with_capacity(batch.num_columns());
        for row in 0..batch.num_rows() {
            record.clear();
            for col in batch.columns() {
                record.push(if col.is_null(row) {
                    String::new()
                } else if let Some(a) = col.as_any().downcast_ref::<Int64Array>() {
                    a.value(row).to_string()
                } else if let Some(a) = col.as_any().downcast_ref::<Float64Array>() {
                    // Always with a decimal point or exponent (2960.0, not 2960), so that CSV
                    // readers infer the same float type as the Parquet column.
                    format!("{:?}", a.value(row))
                } else {
                    String::new()
                });
            }
            out.write_record(&record).map_err(err)?;
        }
        out.flush().map_err(|e| hep_core::Error::io(path, e))?;
        Ok(())
    })?;
    Ok(())
}

/// The `CalSourceEnergyCalib` rows (Offline `DbTables`, 2720 rows in roid order) for per-SiPM fits.
///
/// Mapping (the original has no writer for this table; decided here, see `docs/calo-calib.md`):
/// `fullepeak = P` (ADC); `fullerrepeak` = the mean of the two sides of the profile interval when
/// it exists, else the Hessian error; the escape positions are `P * 5.619/6.13` and `P *
/// 5.108/6.13` with errors scaled the same way; all three widths are the common width in MeV with
/// its Hessian error; `frfull`, `frfirst`, `frsecond` are the yields over the sum of the four
/// yields; `chisq` and `ndf` as in [`ChannelFit`]. Channels that were not fitted, failed, or are
/// not SiPMs get an all-zero row (read as invalid by the combination).
pub fn source_table_rows(fits: &[ChannelFit]) -> Vec<SourceRow> {
    let mut rows: Vec<SourceRow> = (0..channel::N_DB_ROWS).map(SourceRow::empty).collect();
    for f in fits
        .iter()
        .filter(|f| f.is_ok() && channel::is_sipm(f.roid))
    {
        let err = if f.peak_err_low.is_finite() && f.peak_err_high.is_finite() {
            0.5 * (f.peak_err_low + f.peak_err_high)
        } else {
            f.peak_err
        };
        let r1 = E_FIRST_ESCAPE_MEV / E_FULL_MEV;
        let r2 = E_SECOND_ESCAPE_MEV / E_FULL_MEV;
        let total = f.n_full + f.n_first + f.n_second + f.n_bkg;
        let width_err = if f.width_err.is_finite() {
            f.width_err
        } else {
            0.0
        };
        rows[f.roid as usize] = SourceRow {
            roid: f.roid,
            fullepeak: f.peak,
            fullerrepeak: err,
            fullwidth: f.width,
            fullerrwidth: width_err,
            firstescepeak: f.peak * r1,
            firstescerrepeak: err * r1,
            firstescwidth: f.width,
            firstescerrwidth: width_err,
            secescepeak: f.peak * r2,
            secescerrepeak: err * r2,
            secescwidth: f.width,
            secescerrwidth: width_err,
            frfull: f.n_full / total,
            frfirst: f.n_first / total,
            frsecond: f.n_second / total,
            chisq: f.chi2,
            ndf: f.ndf,
        };
    }
    rows
}

/// Counts of a detector fit: (fitted and usable, failed, LYSO not fitted, no counts).
pub fn summary_counts(fits: &[ChannelFit]) -> (usize, usize, usize, usize) {
    let lyso = fits
        .iter()
        .filter(|f| f.status.contains(ChannelStatus::LYSO_NOT_FITTED))
        .count();
    let empty = fits
        .iter()
        .filter(|f| f.status.contains(ChannelStatus::NO_COUNTS))
        .count();
    let ok = fits.iter().filter(|f| f.is_ok()).count();
    let failed = fits.iter().filter(|f| is_failed(f)).count();
    (ok, failed, lyso, empty)
}

/// Reads `source_fits.parquet` (as written by [`write_source_fits`]) back into fits.
///
/// # Errors
/// I/O and Parquet errors, and [`Error::InvalidArgument`] for a missing or mistyped column.
pub fn read_source_fits(path: &Path) -> Result<Vec<ChannelFit>> {
    use arrow_array::Array as _;
    use hep_core::io::{column_f64, column_i64, read_parquet};
    let (_, batches) = read_parquet(path)?;
    let mut fits = Vec::new();
    for b in &batches {
        let f = |name: &str| column_f64(b, name).map_err(Error::Core);
        let i = |name: &str| column_i64(b, name).map_err(Error::Core);
        let (roid, ndf, st, starts, calls) = (
            i("roid")?,
            i("ndf")?,
            i("status")?,
            i("n_starts_ok")?,
            i("n_calls")?,
        );
        let cols: Vec<&Float64Array> = SOURCE_FIT_COLUMNS
            .iter()
            .filter(|n| !INT_COLUMNS.contains(n))
            .map(|n| f(n))
            .collect::<Result<_>>()?;
        for r in 0..b.num_rows() {
            // Null (no value) reads back as NaN, the in-memory marker of `ChannelFit`.
            let v = |k: usize| {
                if cols[k].is_null(r) {
                    f64::NAN
                } else {
                    cols[k].value(r)
                }
            };
            let int = |a: &Int64Array, what: &str| -> Result<u32> {
                u32::try_from(a.value(r)).map_err(|_| {
                    Error::input(
                        path,
                        r as u64 + 1,
                        format!("a non-negative {what}"),
                        a.value(r).to_string(),
                    )
                })
            };
            fits.push(ChannelFit {
                roid: int(roid, "roid")?,
                n_events: v(0),
                peak: v(1),
                peak_err: v(2),
                peak_err_low: v(3),
                peak_err_high: v(4),
                width: v(5),
                width_err: v(6),
                alpha: v(7),
                alpha_err: v(8),
                beta: v(9),
                beta_err: v(10),
                n_full: v(11),
                n_full_err: v(12),
                n_first: v(13),
                n_second: v(14),
                n_bkg: v(15),
                chi2: v(16),
                nll: v(17),
                ndf: int(ndf, "ndf")?,
                p_value: v(18),
                adc2mev: v(19),
                adc2mev_err: v(20),
                corr_peak_n_full: v(21),
                status: ChannelStatus::from_bits_retain(int(st, "status")?),
                n_starts_ok: int(starts, "n_starts_ok")?,
                n_calls: calls.value(r).max(0) as u64,
            });
        }
    }
    Ok(fits)
}
