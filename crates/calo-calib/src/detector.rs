//! Whole-detector source fits (MakeAnalysisTree, spec §4) and their archive outputs (§3.6, §8).

use crate::channel::{self, IdMode};
use crate::fit::{ChannelFit, FitConfig, fit_spectrum, status};
use crate::model::{E_FIRST_ESCAPE_MEV, E_FULL_MEV, E_SECOND_ESCAPE_MEV};
use crate::spectra::SpectrumSet;
use crate::tables::SourceRow;
use crate::{Error, Result};
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use rayon::prelude::*;
use std::path::Path;
use std::sync::Arc;

/// Status bit of a LYSO (CAPHRI) channel in a CsI fit: its 6.13 MeV line sits near
/// 6.13 x 267 = 1637 ADC, outside any CsI window, so it is not fitted (§0, §9).
pub const STATUS_LYSO_NOT_FITTED: u32 = 128;

/// Which channels to fit, like MakeAnalysisTree's `<start> <end-exclusive> ... <disk>` (§4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
/// LYSO channels get [`STATUS_LYSO_NOT_FITTED`] and NaN values; empty channels get
/// [`status::NO_COUNTS`]. The result depends only on the input, never on the thread count.
///
/// # Errors
/// [`Error::InvalidArgument`] for an invalid configuration or a disk other than 0 or 1.
pub fn fit_detector(
    set: &SpectrumSet,
    cfg: &FitConfig,
    sel: &Selection,
) -> Result<Vec<ChannelFit>> {
    if sel.disk.is_some_and(|d| d >= channel::N_DISKS) {
        return Err(Error::InvalidArgument(format!(
            "disk must be 0 or 1, got {}",
            sel.disk.unwrap_or_default()
        )));
    }
    let mode = set.id_mode();
    set.spectra
        .par_iter()
        .filter(|s| sel.contains(s.id, mode))
        .map(|s| {
            if mode.is_lyso(s.id) {
                return Ok(ChannelFit::not_fitted(
                    s.id,
                    s.counts.iter().sum(),
                    STATUS_LYSO_NOT_FITTED,
                ));
            }
            fit_spectrum(s.id, &s.edges, &s.counts, cfg)
        })
        .collect()
}

/// True if a fit gives a usable calibration constant (no failure bits, not LYSO).
pub fn is_usable(f: &ChannelFit) -> bool {
    f.is_ok() && f.status & STATUS_LYSO_NOT_FITTED == 0
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

/// Writes `source_fits.parquet` and `source_fits.csv` into `dir` (atomically; units: peak and
/// its errors in ADC, width in MeV, beta in 1/ADC, adc2mev in MeV/ADC). Returns the two paths.
///
/// # Errors
/// I/O and Parquet errors from hep-core.
pub fn write_source_fits(dir: &Path, fits: &[ChannelFit]) -> Result<[std::path::PathBuf; 2]> {
    let f64col = |g: fn(&ChannelFit) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from(fits.iter().map(g).collect::<Vec<_>>()))
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
        i64col(|f| i64::from(f.status)),
        i64col(|f| i64::from(f.n_starts_ok)),
        i64col(|f| f.n_calls as i64),
        i64col(|f| i64::from(!is_usable(f))),
    ];
    let fields: Vec<Field> = SOURCE_FIT_COLUMNS
        .iter()
        .zip(&columns)
        .map(|(n, c)| Field::new(*n, c.data_type().clone(), false))
        .collect();
    debug_assert!(
        fields
            .iter()
            .all(|f| matches!(f.data_type(), DataType::Int64 | DataType::Float64))
    );
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| Error::Core(e.into()))?;
    let parquet = dir.join("source_fits.parquet");
    hep_core::io::write_parquet(&parquet, &[batch])?;
    let csv = dir.join("source_fits.csv");
    hep_core::io::write_csv(&csv, &csv_rows(fits))?;
    Ok([parquet, csv])
}

#[derive(serde::Serialize)]
struct CsvRow<'a> {
    #[serde(flatten)]
    fit: &'a ChannelFit,
    failed: u8,
}

fn csv_rows(fits: &[ChannelFit]) -> Vec<CsvRow<'_>> {
    fits.iter()
        .map(|f| CsvRow {
            fit: f,
            failed: u8::from(!is_usable(f)),
        })
        .collect()
}

/// The `CalSourceEnergyCalib` rows (§8, 2720 rows in roid order) for per-SiPM fits.
///
/// Mapping (the §8 proposal, decided here): `fullepeak = P` (ADC); `fullerrepeak` = the mean of
/// the two sides of the profile interval when it exists, else the Hessian error; the escape
/// positions are `P * 5.619/6.13` and `P * 5.108/6.13` with errors scaled the same way; all three
/// widths are the common width in MeV with its Hessian error; `frfull`, `frfirst`, `frsecond` are
/// the yields over the sum of the four yields; `chisq` and `ndf` as in [`ChannelFit`]. Channels
/// that were not fitted, failed, or are not SiPMs get an all-zero row (read as invalid by the
/// combination).
pub fn source_table_rows(fits: &[ChannelFit]) -> Vec<SourceRow> {
    let mut rows: Vec<SourceRow> = (0..channel::N_DB_ROWS).map(SourceRow::empty).collect();
    for f in fits
        .iter()
        .filter(|f| is_usable(f) && channel::is_sipm(f.roid))
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
        .filter(|f| f.status & STATUS_LYSO_NOT_FITTED != 0)
        .count();
    let empty = fits
        .iter()
        .filter(|f| f.status & status::NO_COUNTS != 0)
        .count();
    let ok = fits.iter().filter(|f| is_usable(f)).count();
    (ok, fits.len() - ok - lyso, lyso, empty)
}
