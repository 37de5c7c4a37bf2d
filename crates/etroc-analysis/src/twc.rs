//! Time-walk correction (`calculate_time_walk_correction.py`): iterative, non-cumulative, a
//! polynomial in TOT per board fitted by orthogonal distance regression (or OLS as an option).
//!
//! # Algorithm
//!
//! With boards B, raw times `t_b` (TOA, ns), `x_b` (TOT, ns) and iterations k = 0..N-1:
//!
//! 1. Reference of board i: `r_i = mean_{j != i} t_j` for k = 0, else
//!    `mean_{j != i} TOA_twc(k-1)_j`.
//! 2. `Delta(k)_i = r_i - t_i` (always the **uncorrected** own time), the column
//!    `delta_toa_to_reference_iteration_k`.
//! 3. Fit `Delta(k)_i` against `x_i` over the accepted events with a polynomial `P_{k,i}` of order
//!    K: a fit row with `twc_applied = 0`, `twc_iteration = k`.
//! 4. `TOA_twc(k)_i = t_i + P_{k,i}(x_i)`, for every event (not cumulative).
//! 5. The residual walk of the correction: `Delta(k)_twc_i = r^(k)_i - TOA_twc(k)_i`, with the
//!    reference `r^(k)` of iteration k, fitted with the same polynomial: a row with
//!    `twc_applied = 1`, `twc_iteration = k` (the original makes it at the start of iteration
//!    k+1, and once more after the loop for k = N-1, "the extra final residual fit").
//!
//! After the loop `Delta(N)` (the reference built from `TOA_twc(N-1)`) is computed and stored.
//! The original also fitted it for a plot and then discarded the fit (`twc_iteration = N` rows
//! are dropped from the table); that fit is not made here, which changes no stored number.
//!
//! The fit sample of every fit: accepted events (event filter and time filter) where both the
//! abscissa and the ordinate are finite. The boards are fitted in parallel (rayon); the result does
//! not depend on the thread count.

// Index loops over parallel columns read more clearly than zipped iterators here.
#![allow(clippy::needless_range_loop)]

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::cuts::read_run_filters;
use crate::error::{Error, Result};
use crate::odr::{FitMethod, PolyFit, fit_polynomial, polyval};
use crate::rundir::{RunDir, names};
use crate::store::{self, EventFilter, TableOutput};
use crate::times::EventTimes;

/// Settings of the time-walk correction (`-i`, `-p` and the fit method).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwcOptions {
    /// Number of iterations N (`-i/--iterations`, default 1, at least 1).
    pub iterations: usize,
    /// Polynomial order K (`-p/--order`, default 2).
    pub order: usize,
    /// ODR (default, the original) or OLS.
    pub method: FitMethod,
}

impl Default for TwcOptions {
    fn default() -> Self {
        TwcOptions {
            iterations: 1,
            order: 2,
            method: FitMethod::Odr,
        }
    }
}

/// One row of the table `twc_fit_info`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwcFitRow {
    /// Iteration k.
    pub twc_iteration: usize,
    /// Board id.
    pub board_id: i64,
    /// 0: the walk fit `P_{k,i}` used for the correction; 1: the residual fit after it.
    pub twc_applied: bool,
    /// `p0..pK` (ns per ns^k), NaN when the fit had too few points.
    pub coefficients: Vec<f64>,
    /// Number of points in the fit.
    pub n_points: usize,
    /// Whether the fit converged (always true for OLS).
    pub converged: bool,
}

/// The result of [`time_walk_correction`]. All per-event vectors are indexed
/// `[board index][event index]` like [`EventTimes`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TwcResult {
    /// The options used.
    pub order: usize,
    /// Number of iterations N.
    pub iterations: usize,
    /// The fit table (`twc_fit_info`): for k in 0..N and each board, the `twc_applied = 0` and
    /// `twc_applied = 1` rows, sorted by (iteration, applied, board).
    pub fits: Vec<TwcFitRow>,
    /// `delta[k]` = `delta_toa_to_reference_iteration_k` (ns), k = 0..=N.
    pub delta: Vec<Vec<Vec<f64>>>,
    /// `toa_twc[k]` = `time_of_arrival_twc_iteration_k` (ns), k = 0..N.
    pub toa_twc: Vec<Vec<Vec<f64>>>,
    /// `delta_twc[k]` = `delta_toa_to_reference_iteration_k_twc` (ns), k = 0..N.
    pub delta_twc: Vec<Vec<Vec<f64>>>,
}

/// Reference of each board: mean over the other boards of `times` (NaN if any is NaN).
fn references(times: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let nb = times.len();
    let ne = times.first().map_or(0, Vec::len);
    let mut sum = vec![0.0; ne];
    for t in times {
        for (s, v) in sum.iter_mut().zip(t) {
            *s += v;
        }
    }
    let others = (nb.max(2) - 1) as f64;
    times
        .iter()
        .map(|t| sum.iter().zip(t).map(|(s, v)| (s - v) / others).collect())
        .collect()
}

fn fit_board(
    x: &[f64],
    y: &[f64],
    accepted: &[bool],
    order: usize,
    method: FitMethod,
) -> Result<Option<PolyFit>> {
    let mut xs = Vec::with_capacity(x.len());
    let mut ys = Vec::with_capacity(x.len());
    for ((&a, &b), &ok) in x.iter().zip(y).zip(accepted) {
        if ok && a.is_finite() && b.is_finite() {
            xs.push(a);
            ys.push(b);
        }
    }
    if xs.len() < order + 1 {
        return Ok(None);
    }
    fit_polynomial(&xs, &ys, order, method).map(Some)
}

fn fit_all(
    times: &EventTimes,
    y: &[Vec<f64>],
    accepted: &[bool],
    opts: &TwcOptions,
    iteration: usize,
    applied: bool,
) -> Result<Vec<TwcFitRow>> {
    (0..times.boards.len())
        .into_par_iter()
        .map(|b| {
            let fit = fit_board(&times.tot_ns[b], &y[b], accepted, opts.order, opts.method)?;
            Ok(match fit {
                Some(f) => TwcFitRow {
                    twc_iteration: iteration,
                    board_id: i64::from(times.boards[b]),
                    twc_applied: applied,
                    coefficients: f.coefficients,
                    n_points: f.n_points,
                    converged: f.converged,
                },
                None => TwcFitRow {
                    twc_iteration: iteration,
                    board_id: i64::from(times.boards[b]),
                    twc_applied: applied,
                    coefficients: vec![f64::NAN; opts.order + 1],
                    n_points: 0,
                    converged: false,
                },
            })
        })
        .collect()
}

fn difference(a: &[Vec<f64>], b: &[Vec<f64>]) -> Vec<Vec<f64>> {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.iter().zip(y).map(|(u, v)| u - v).collect())
        .collect()
}

/// Runs the iterative time-walk correction on `times` with the per-event fit flags `accepted`
/// (event filter AND time filter).
///
/// # Errors
/// [`Error::InvalidArgument`] if `iterations` is 0, `accepted` does not match the events, or
/// there are fewer than 2 boards (no reference); fit errors are propagated. A board with fewer
/// accepted events than `order + 1` gets NaN coefficients (and NaN corrected times), not an error.
pub fn time_walk_correction(
    times: &EventTimes,
    accepted: &[bool],
    opts: &TwcOptions,
) -> Result<TwcResult> {
    if opts.iterations == 0 {
        return Err(Error::InvalidArgument(
            "time-walk correction: expected at least 1 iteration, found 0".into(),
        ));
    }
    if accepted.len() != times.len() {
        return Err(Error::InvalidArgument(format!(
            "time-walk correction: {} events but {} filter flags",
            times.len(),
            accepted.len()
        )));
    }
    if times.boards.len() < 2 {
        return Err(Error::InvalidArgument(format!(
            "time-walk correction: expected at least 2 boards (a reference needs another board), \
             found {}",
            times.boards.len()
        )));
    }
    let n = opts.iterations;
    let mut out = TwcResult {
        order: opts.order,
        iterations: n,
        ..TwcResult::default()
    };
    let mut applied_rows = Vec::new();
    let mut residual_rows = Vec::new();
    for k in 0..=n {
        let source = if k == 0 {
            &times.toa_ns
        } else {
            &out.toa_twc[k - 1]
        };
        let reference = references(source);
        let delta = difference(&reference, &times.toa_ns);
        if k < n {
            let rows = fit_all(times, &delta, accepted, opts, k, false)?;
            let corrected: Vec<Vec<f64>> = rows
                .par_iter()
                .enumerate()
                .map(|(b, row)| {
                    times.toa_ns[b]
                        .iter()
                        .zip(&times.tot_ns[b])
                        .map(|(&t, &x)| t + polyval(&row.coefficients, x))
                        .collect()
                })
                .collect();
            let residual = difference(&reference, &corrected);
            residual_rows.extend(fit_all(times, &residual, accepted, opts, k, true)?);
            applied_rows.extend(rows);
            out.toa_twc.push(corrected);
            out.delta_twc.push(residual);
        }
        out.delta.push(delta);
    }
    out.fits = applied_rows;
    out.fits.extend(residual_rows);
    out.fits
        .sort_by_key(|r| (r.twc_iteration, r.twc_applied, r.board_id));
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The task `calculate_time_walk_correction`
// ---------------------------------------------------------------------------------------------

/// Table of the fit coefficients (`twc_fit_info`).
pub const FIT_TABLE: &str = "twc_fit_info";
/// Table holding the number of iterations (`twc_info`).
pub const INFO_TABLE: &str = "twc_info";

/// Options of the task (`twc -i N -p K [--ols]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwcTaskOptions {
    /// Iterations, order and fit method.
    pub twc: TwcOptions,
    /// Also write `data.sqlite` (default true).
    pub sqlite: bool,
    /// Empty the task directory first.
    pub drop_old: bool,
}

impl Default for TwcTaskOptions {
    fn default() -> Self {
        TwcTaskOptions {
            twc: TwcOptions::default(),
            sqlite: true,
            drop_old: true,
        }
    }
}

/// Per-event fit flags (event filter AND time filter) of `times`.
pub fn event_flags(
    times: &EventTimes,
    event_filter: &EventFilter,
    time_filter: Option<&EventFilter>,
) -> Vec<bool> {
    let mut accepted = event_filter.accepted_of(&times.event);
    if let Some(t) = time_filter {
        for (a, b) in accepted.iter_mut().zip(t.accepted_of(&times.event)) {
            *a &= b;
        }
    }
    accepted
}

/// The pivot of an ns hit table (`event`, `data_board_id`, `time_of_arrival_ns`,
/// `time_over_threshold_ns`) and, per hit, its (board index, event index) in the pivot.
///
/// # Errors
/// Missing columns or an ambiguous pivot.
pub fn pivot_ns_table(batch: &RecordBatch) -> Result<(EventTimes, Vec<(usize, usize)>)> {
    let event = store::column_to_i64(batch, "event")?;
    let board: Vec<u8> = store::column_to_i64(batch, "data_board_id")?
        .into_iter()
        .map(|b| {
            u8::try_from(b)
                .map_err(|_| Error::InvalidArgument(format!("board id {b} out of range")))
        })
        .collect::<Result<_>>()?;
    let toa = store::column_to_f64(batch, "time_of_arrival_ns")?;
    let tot = store::column_to_f64(batch, "time_over_threshold_ns")?;
    let (times, index) = EventTimes::from_hits_indexed(&event, &board, &toa, &tot)?;
    Ok((times, index))
}

/// The number of TWC iterations N stored by the task in `dir` (table `twc_info`,
/// `max_twc_iterations`; 0 if the table has no row).
///
/// # Errors
/// The table or its column is missing or not an integer.
pub fn twc_iterations(dir: &std::path::Path) -> Result<usize> {
    let info = store::read_table(dir, INFO_TABLE)?;
    Ok(store::column_to_i64(&info, "max_twc_iterations")?
        .first()
        .copied()
        .unwrap_or(0)
        .max(0) as usize)
}

/// The per-hit column `name` of `batch` as board x event arrays of the pivot `times`, with
/// `index` the (board index, event index) of each hit from [`pivot_ns_table`]; NaN where a board
/// has no hit in an event.
///
/// # Errors
/// The column is missing or not numeric.
pub fn pivot_column(
    batch: &RecordBatch,
    name: &str,
    times: &EventTimes,
    index: &[(usize, usize)],
) -> Result<Vec<Vec<f64>>> {
    let col = store::column_to_f64(batch, name)?;
    let mut t = vec![vec![f64::NAN; times.len()]; times.boards.len()];
    for (&(b, e), v) in index.iter().zip(col) {
        t[b][e] = v;
    }
    Ok(t)
}

/// The TWC hit table: the ns table plus, per iteration k, the columns
/// `delta_toa_to_reference_iteration_k`, `time_of_arrival_twc_iteration_k`,
/// `delta_toa_to_reference_iteration_k_twc`, and a final `delta_toa_to_reference_iteration_N`
/// (all ns), and the tables `twc_fit_info` and `twc_info`.
///
/// # Errors
/// Only on an internal schema mismatch.
pub fn twc_tables(
    batch: &RecordBatch,
    index: &[(usize, usize)],
    result: &TwcResult,
) -> Result<(RecordBatch, RecordBatch, RecordBatch)> {
    let schema = batch.schema();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    let per_hit = |v: &Vec<Vec<f64>>| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(
            index.iter().map(|&(b, e)| v[b][e]),
        ))
    };
    let ns = |name: String| crate::times::ns_field(&name);
    for k in 0..result.iterations {
        fields.push(ns(format!("delta_toa_to_reference_iteration_{k}")));
        columns.push(per_hit(&result.delta[k]));
        fields.push(ns(format!("time_of_arrival_twc_iteration_{k}")));
        columns.push(per_hit(&result.toa_twc[k]));
        fields.push(ns(format!("delta_toa_to_reference_iteration_{k}_twc")));
        columns.push(per_hit(&result.delta_twc[k]));
    }
    fields.push(ns(format!(
        "delta_toa_to_reference_iteration_{}",
        result.iterations
    )));
    columns.push(per_hit(&result.delta[result.iterations]));
    let hits = RecordBatch::try_new(
        Arc::new(Schema::new(fields).with_metadata(schema.metadata().clone())),
        columns,
    )
    .map_err(|e| Error::InvalidArgument(format!("building the TWC table: {e}")))?;
    let mut ffields = vec![
        Field::new("twc_iteration", DataType::Int64, false),
        Field::new("board_id", DataType::Int8, false),
        Field::new("twc_applied", DataType::Int64, false),
    ];
    let mut fcols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(
            result.fits.iter().map(|r| r.twc_iteration as i64),
        )),
        // Board ids have the hit tables' Int8 in every table of the crate (0..=3 here).
        Arc::new(arrow_array::Int8Array::from_iter_values(
            result
                .fits
                .iter()
                .map(|r| i8::try_from(r.board_id).expect("a board id from an Int8 column")),
        )),
        Arc::new(Int64Array::from_iter_values(
            result.fits.iter().map(|r| i64::from(r.twc_applied)),
        )),
    ];
    // p_k multiplies TOT^k (TOT and the time difference in ns): its unit is ns^(1-k); a
    // coefficient a fit does not have is null.
    for p in 0..=result.order {
        let unit = match p {
            0 => "ns".to_string(),
            1 => "1".to_string(),
            _ => format!("ns^-{}", p - 1),
        };
        ffields.push(hep_core::io::with_unit(
            Field::new(format!("p{p}"), DataType::Float64, true),
            &unit,
        ));
        fcols.push(Arc::new(Float64Array::from_iter(
            result
                .fits
                .iter()
                .map(|r| r.coefficients.get(p).copied().filter(|c| !c.is_nan())),
        )));
    }
    let fits = RecordBatch::try_new(Arc::new(Schema::new(ffields)), fcols)
        .map_err(|e| Error::InvalidArgument(format!("building twc_fit_info: {e}")))?;
    let info = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new(
            "max_twc_iterations",
            DataType::Int64,
            false,
        )])),
        vec![Arc::new(Int64Array::from(vec![result.iterations as i64]))],
    )
    .map_err(|e| Error::InvalidArgument(format!("building twc_info: {e}")))?;
    Ok((hits, fits, info))
}

/// The task `calculate_time_walk_correction` (`calculate_time_walk_correction.py`; needs
/// `apply_time_cuts`): reads `calculate_times_in_ns/etroc1_data.parquet` and the run-root filters,
/// fits on the events accepted by both, and writes
/// `calculate_time_walk_correction/{etroc1_data,twc_fit_info,twc_info}.parquet` and `data.sqlite`.
///
/// # Errors
/// Gating, missing filters or tables, fit and storage errors.
pub fn calculate_time_walk_correction(run: &RunDir, opts: &TwcTaskOptions) -> Result<TwcResult> {
    run.run_task(
        names::CALCULATE_TIME_WALK_CORRECTION,
        &[names::APPLY_TIME_CUTS],
        opts.drop_old,
        |task| {
            task.set_configuration(opts)?;
            let (ev, tf) = read_run_filters(run, true)?;
            task.add_input(run.path().join(store::EVENT_FILTER_FILE))?;
            task.add_input(run.path().join(store::TIME_FILTER_FILE))?;
            let dir = run.task_dir(names::CALCULATE_TIMES_IN_NS);
            let batch = run.read_table(&dir, store::HITS_TABLE)?;
            // The Parquet table, or the SQLite database of a run written by the original scripts.
            if let Some(source) = store::table_source(&dir, store::HITS_TABLE) {
                task.add_input(source)?;
            }
            let (times, index) = pivot_ns_table(&batch)?;
            let accepted = event_flags(&times, &ev, tf.as_ref());
            let result = time_walk_correction(&times, &accepted, &opts.twc)?;
            for f in &result.fits {
                tracing::debug!(
                    "TWC iteration {} board {} applied {}: {} points, coefficients {:?}",
                    f.twc_iteration,
                    f.board_id,
                    f.twc_applied,
                    f.n_points,
                    f.coefficients
                );
            }
            let (hits, fits, info) = twc_tables(&batch, &index, &result)?;
            let outputs = run.write_tables(
                task.dir(),
                opts.sqlite.then_some(store::DATA_SQLITE),
                &[
                    TableOutput {
                        table: store::HITS_TABLE,
                        batch: &hits,
                        indexes: &[],
                    },
                    TableOutput {
                        table: FIT_TABLE,
                        batch: &fits,
                        indexes: &[],
                    },
                    TableOutput {
                        table: INFO_TABLE,
                        batch: &info,
                        indexes: &[],
                    },
                ],
            )?;
            task.add_outputs(outputs);
            Ok(result)
        },
    )
}
