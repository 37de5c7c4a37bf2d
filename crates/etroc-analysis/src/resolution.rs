//! Per-board time resolution (`analyse_time_resolution.py`): widths of the time differences, the
//! 3-board pairwise ("Jongho") estimate and the N-board estimate, with their uncertainties.
//!
//! # Formulas
//!
//! For the accepted events of one step and one TWC iteration, with `t_b` the corrected TOA of
//! board b (ns) and the sorted board list treated cyclically:
//!
//! * `time_delta_i = mean_{j != i} t_j - t_i`, width `w^delta_i`;
//! * `time_diff_i = t_i - t_next(i)` (pairs (0,1), (1,3), (3,0) for boards 0, 1, 3), width `w^d_i`;
//! * widths are sample standard deviations (ddof = 1) over the accepted events where the value is
//!   finite, with uncertainty `u = w / sqrt(2n - 2)`;
//! * pairwise, only for N = 3: `S_i = (w^d_i)^2 + (w^d_prev(i))^2 - (w^d_next(i))^2`,
//!   `sigma_i = sqrt(S_i / 2)`, `u(sigma_i) = sqrt(sum_m (2 w^d_m u_m)^2 / (8 S_i))` over
//!   m in {i, prev, next};
//! * N-board ("new"): `sigma_i^2 = c [ (N^2 - N - 1)(w^delta_i)^2 - sum_{j != i} (w^delta_j)^2 ]`,
//!   `c = (N - 1)/(N^3 - 2 N^2)`, the inverse of `Var(Delta_i) = sigma_i^2 + sum_{j != i}
//!   sigma_j^2/(N-1)^2`, with `u = sqrt(c^2 [ (2 (N^2-N-1) w_i u_i)^2 + sum_{j != i} (2 w_j u_j)^2 ]
//!   / (4 sigma_i^2))`. For N = 3 both estimates give the same sigma.
//!
//! # Guards
//!
//! The original aborts with `math domain error` on a negative `S_i` or `sigma_i^2` (and a user
//! fork hid it with `abs()`). Here such a value gives a NaN resolution and a flag in the row's
//! `flag` column (`negative_variance`), and a width from fewer than 2 events gives NaN and
//! `too_few_events`; fewer than 3 boards is an error ([`Error::InvalidArgument`]), as the
//! original refuses (it logs an error and returns nothing).

// Index loops over parallel columns read more clearly than zipped iterators here.
#![allow(clippy::needless_range_loop)]

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

use crate::cuts::{read_run_filters, time_cut_steps};
use crate::error::{Error, Result};
use crate::rundir::{RunDir, names};
use crate::store::{self, TableOutput};
use crate::times::EventTimes;
use crate::twc::{event_flags, pivot_ns_table};

/// Name of the step that uses the run's final time filter.
pub const FINAL_STEP: &str = "Final";

/// One row of the table `timing_info` (all times in ns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolutionRow {
    /// Board id.
    pub data_board_id: i64,
    /// `w^delta`: sample std of `time_delta` (ns).
    pub time_delta_width: f64,
    /// `w^d`: sample std of `time_diff` (ns).
    pub time_diff_width: f64,
    /// `w^delta / sqrt(2n-2)` (ns).
    pub time_delta_width_unc: f64,
    /// `w^d / sqrt(2n-2)` (ns).
    pub time_diff_width_unc: f64,
    /// Order of the step in the cut sequence (`Final` is last).
    pub step_order: i64,
    /// Step name (`Final` or the time cut's `output`).
    pub step_name: String,
    /// TWC iteration whose corrected times are used.
    pub twc_iteration: usize,
    /// Pairwise 3-board estimate sigma_i (ns); NaN unless exactly 3 boards or when flagged.
    pub time_resolution: f64,
    /// Its uncertainty (ns).
    pub time_resolution_unc: f64,
    /// N-board estimate sigma_i (ns); NaN when flagged.
    pub time_resolution_new: f64,
    /// Its uncertainty (ns).
    pub time_resolution_new_unc: f64,
    /// Number of accepted events with a finite `time_delta` of this board.
    pub n_events: usize,
    /// Empty when fine; otherwise `;`-separated reasons: `negative_variance` (S_i <= 0 or
    /// sigma_i^2 <= 0: the widths are inconsistent with independent boards), `too_few_events`
    /// (fewer than 2 accepted events).
    pub flag: String,
}

impl ResolutionRow {
    /// Whether the row carries no flag.
    pub fn is_ok(&self) -> bool {
        self.flag.is_empty()
    }
}

/// Sample standard deviation (ddof = 1) of the finite `values[e]` with `accepted[e]`, and the
/// count n; NaN with n < 2. Two passes (mean first) for accuracy.
pub fn sample_std(values: &[f64], accepted: &[bool]) -> (f64, usize) {
    let mut n = 0usize;
    let mut sum = 0.0;
    for (&v, &a) in values.iter().zip(accepted) {
        if a && v.is_finite() {
            n += 1;
            sum += v;
        }
    }
    if n < 2 {
        return (f64::NAN, n);
    }
    let mean = sum / n as f64;
    let ss: f64 = values
        .iter()
        .zip(accepted)
        .filter(|(v, a)| **a && v.is_finite())
        .map(|(v, _)| (v - mean) * (v - mean))
        .sum();
    ((ss / (n - 1) as f64).sqrt(), n)
}

/// Uncertainty of a sample standard deviation w from n values: `w / sqrt(2n - 2)` (as the
/// original; NaN for n < 2).
pub fn width_uncertainty(width: f64, n: usize) -> f64 {
    if n < 2 {
        f64::NAN
    } else {
        width / ((2 * n - 2) as f64).sqrt()
    }
}

fn add_flag(flag: &mut String, what: &str) {
    if !flag.split(';').any(|f| f == what) {
        if !flag.is_empty() {
            flag.push(';');
        }
        flag.push_str(what);
    }
}

/// The resolution rows of one step and one TWC iteration.
///
/// `boards` are the sorted board ids; `times[b][e]` the corrected TOA (ns) of board `boards[b]`
/// in event e; `accepted[e]` the step's filter (event filter AND the step's time filter).
///
/// # Errors
/// [`Error::InvalidArgument`] with fewer than 3 boards or mismatched lengths.
pub fn resolution_rows(
    boards: &[u8],
    times: &[Vec<f64>],
    accepted: &[bool],
    step_order: i64,
    step_name: &str,
    twc_iteration: usize,
) -> Result<Vec<ResolutionRow>> {
    let nb = boards.len();
    if nb < 3 {
        return Err(Error::InvalidArgument(format!(
            "time resolution: expected at least 3 boards (the system sigma_ij^2 = sigma_i^2 + \
             sigma_j^2 needs 3), found {nb} ({boards:?})"
        )));
    }
    if times.len() != nb || times.iter().any(|t| t.len() != accepted.len()) {
        return Err(Error::InvalidArgument(
            "time resolution: times and filter differ in shape".into(),
        ));
    }
    let ne = accepted.len();
    let others = (nb - 1) as f64;
    let mut sum = vec![0.0; ne];
    for t in times {
        for (s, v) in sum.iter_mut().zip(t) {
            *s += v;
        }
    }
    let mut buf = vec![0.0; ne];
    let mut wdelta = Vec::with_capacity(nb);
    let mut wdiff = Vec::with_capacity(nb);
    for i in 0..nb {
        for e in 0..ne {
            buf[e] = (sum[e] - times[i][e]) / others - times[i][e];
        }
        let (w, n) = sample_std(&buf, accepted);
        wdelta.push((w, width_uncertainty(w, n), n));
        let next = (i + 1) % nb;
        for e in 0..ne {
            buf[e] = times[i][e] - times[next][e];
        }
        let (w, n) = sample_std(&buf, accepted);
        wdiff.push((w, width_uncertainty(w, n), n));
    }
    let nf = nb as f64;
    let c = (nf - 1.0) / (nf.powi(3) - 2.0 * nf * nf);
    let a = nf * nf - nf - 1.0;
    let mut rows = Vec::with_capacity(nb);
    for i in 0..nb {
        let mut flag = String::new();
        if wdelta.iter().chain(&wdiff).any(|w| w.2 < 2) {
            add_flag(&mut flag, "too_few_events");
        }
        // N-board estimate.
        let (wi, ui, _) = wdelta[i];
        let others_sq: f64 = (0..nb)
            .filter(|&j| j != i)
            .map(|j| wdelta[j].0.powi(2))
            .sum();
        let others_unc: f64 = (0..nb)
            .filter(|&j| j != i)
            .map(|j| (2.0 * wdelta[j].0 * wdelta[j].1).powi(2))
            .sum();
        let var_new = c * (a * wi * wi - others_sq);
        let (res_new, res_new_unc) = if var_new > 0.0 {
            let unc = (c * c * ((2.0 * a * wi * ui).powi(2) + others_unc) / (4.0 * var_new)).sqrt();
            (var_new.sqrt(), unc)
        } else {
            if var_new <= 0.0 {
                add_flag(&mut flag, "negative_variance");
            }
            (f64::NAN, f64::NAN)
        };
        // Pairwise estimate (3 boards only).
        let (res, res_unc) = if nb == 3 {
            let prev = (i + nb - 1) % nb;
            let next = (i + 1) % nb;
            let s = wdiff[i].0.powi(2) + wdiff[prev].0.powi(2) - wdiff[next].0.powi(2);
            if s > 0.0 {
                let num: f64 = [i, prev, next]
                    .iter()
                    .map(|&m| (2.0 * wdiff[m].0 * wdiff[m].1).powi(2))
                    .sum();
                ((s / 2.0).sqrt(), (num / (8.0 * s)).sqrt())
            } else {
                if s <= 0.0 {
                    add_flag(&mut flag, "negative_variance");
                }
                (f64::NAN, f64::NAN)
            }
        } else {
            (f64::NAN, f64::NAN)
        };
        rows.push(ResolutionRow {
            data_board_id: i64::from(boards[i]),
            time_delta_width: wdelta[i].0,
            time_diff_width: wdiff[i].0,
            time_delta_width_unc: wdelta[i].1,
            time_diff_width_unc: wdiff[i].1,
            step_order,
            step_name: step_name.to_string(),
            twc_iteration,
            time_resolution: res,
            time_resolution_unc: res_unc,
            time_resolution_new: res_new,
            time_resolution_new_unc: res_new_unc,
            n_events: wdelta[i].2,
            flag,
        });
    }
    Ok(rows)
}

/// One step of the resolution analysis: a name, its order and its per-event filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// `step_order` (the cut row index; `Final` = largest index + 1).
    pub order: i64,
    /// `step_name` (`Final` or the cut row's `output`).
    pub name: String,
    /// Per-event acceptance: event filter AND the step's time filter.
    pub accepted: Vec<bool>,
}

/// All rows for every step and every TWC iteration (`toa_twc[k][b][e]`, as
/// [`crate::twc::TwcResult::toa_twc`]), ordered by step order, iteration, board.
///
/// # Errors
/// See [`resolution_rows`].
pub fn analyse(
    boards: &[u8],
    toa_twc: &[Vec<Vec<f64>>],
    steps: &[Step],
) -> Result<Vec<ResolutionRow>> {
    let mut order: Vec<&Step> = steps.iter().collect();
    order.sort_by_key(|s| s.order);
    let mut rows = Vec::new();
    for step in order {
        for (k, times) in toa_twc.iter().enumerate() {
            rows.extend(resolution_rows(
                boards,
                times,
                &step.accepted,
                step.order,
                &step.name,
                k,
            )?);
        }
    }
    Ok(rows)
}

// ---------------------------------------------------------------------------------------------
// The task `analyse_time_resolution`
// ---------------------------------------------------------------------------------------------

/// SQLite database of the task (`time_resolution.sqlite`).
pub const RESOLUTION_SQLITE: &str = "time_resolution.sqlite";
/// Table of the results (`timing_info`, ns).
pub const TIMING_TABLE: &str = "timing_info";

/// Options of the task `analyse_time_resolution`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolutionOptions {
    /// Also write the SQLite databases (default true).
    pub sqlite: bool,
    /// Empty the task directory first.
    pub drop_old: bool,
}

impl Default for ResolutionOptions {
    fn default() -> Self {
        ResolutionOptions {
            sqlite: true,
            drop_old: true,
        }
    }
}

/// `timing_info` as a record batch (the original's columns, all times in ns, then the new
/// `n_events` and `flag`).
///
/// # Errors
/// Only on an internal schema mismatch.
pub fn timing_batch(rows: &[ResolutionRow]) -> Result<RecordBatch> {
    let ns = crate::times::ns_field;
    let f = |g: &dyn Fn(&ResolutionRow) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(rows.iter().map(g)))
    };
    RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("data_board_id", DataType::Int8, false),
            ns("time_delta_width"),
            ns("time_diff_width"),
            ns("time_delta_width_unc"),
            ns("time_diff_width_unc"),
            Field::new("step_order", DataType::Int64, false),
            Field::new("step_name", DataType::Utf8, false),
            Field::new("twc_iteration", DataType::Int64, false),
            ns("time_resolution"),
            ns("time_resolution_unc"),
            ns("time_resolution_new"),
            ns("time_resolution_new_unc"),
            Field::new("n_events", DataType::Int64, false),
            Field::new("flag", DataType::Utf8, false),
        ])),
        vec![
            // Board ids have the hit tables' Int8 in every table of the crate.
            Arc::new(arrow_array::Int8Array::from_iter_values(rows.iter().map(
                |r| i8::try_from(r.data_board_id).expect("a board id from an Int8 column"),
            ))),
            f(&|r| r.time_delta_width),
            f(&|r| r.time_diff_width),
            f(&|r| r.time_delta_width_unc),
            f(&|r| r.time_diff_width_unc),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.step_order),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.step_name.as_str()),
            )),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.twc_iteration as i64),
            )),
            f(&|r| r.time_resolution),
            f(&|r| r.time_resolution_unc),
            f(&|r| r.time_resolution_new),
            f(&|r| r.time_resolution_new_unc),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.n_events as i64),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.flag.as_str()),
            )),
        ],
    )
    .map_err(|e| Error::InvalidArgument(format!("building timing_info: {e}")))
}

/// The corrected times `toa_twc[k][b][e]` of a TWC hit table with `iterations` iterations.
///
/// # Errors
/// Missing columns or an ambiguous pivot.
pub fn corrected_times(
    batch: &RecordBatch,
    iterations: usize,
) -> Result<(EventTimes, Vec<Vec<Vec<f64>>>)> {
    let (times, index) = pivot_ns_table(batch)?;
    let mut out = Vec::with_capacity(iterations);
    for k in 0..iterations {
        out.push(crate::twc::pivot_column(
            batch,
            &format!("time_of_arrival_twc_iteration_{k}"),
            &times,
            &index,
        )?);
    }
    Ok((times, out))
}

/// The steps of a run: one per time-cut row with an `output` (its cumulative filter),
/// then `Final` (the run-root time filter) with order = largest index + 1 (0 without rows: the
/// original crashed). Each step's flags are AND-ed with the event filter.
///
/// # Errors
/// Missing or unreadable filters.
pub fn run_steps(run: &RunDir, times: &EventTimes) -> Result<Vec<Step>> {
    let (ev, tf) = read_run_filters(run, true)?;
    let mut steps = Vec::new();
    let listed = time_cut_steps(run)?;
    for s in &listed {
        let f = crate::cuts::read_run_filter(run, &s.filter_path)?;
        steps.push(Step {
            order: s.index as i64,
            name: s.name.clone(),
            accepted: event_flags(times, &ev, Some(&f)),
        });
    }
    steps.push(Step {
        order: listed.iter().map(|s| s.index as i64 + 1).max().unwrap_or(0),
        name: FINAL_STEP.to_string(),
        accepted: event_flags(times, &ev, tf.as_ref()),
    });
    Ok(steps)
}

/// The task `analyse_time_resolution` (`analyse_time_resolution.py`; needs
/// `calculate_time_walk_correction`):
/// writes `analyse_time_resolution/time_resolution.sqlite` table `timing_info` (ns) and
/// `timing_info.parquet`, and per iteration k and step the rows of that (k, step) in
/// `twc_iteration_k/<step>/data.sqlite` (and Parquet).
///
/// # Errors
/// Gating, fewer than 3 boards, missing inputs, storage errors.
pub fn analyse_time_resolution(
    run: &RunDir,
    opts: &ResolutionOptions,
) -> Result<Vec<ResolutionRow>> {
    run.run_task(
        names::ANALYSE_TIME_RESOLUTION,
        &[names::CALCULATE_TIME_WALK_CORRECTION],
        opts.drop_old,
        |task| {
            task.set_configuration(opts)?;
            let dir = run.task_dir(names::CALCULATE_TIME_WALK_CORRECTION);
            let n = crate::twc::twc_iterations(&dir)?;
            let batch = run.read_table(&dir, store::HITS_TABLE)?;
            // The Parquet table, or the SQLite database of a run written by the original scripts.
            if let Some(source) = store::table_source(&dir, store::HITS_TABLE) {
                task.add_input(source)?;
            }
            let (times, toa_twc) = corrected_times(&batch, n)?;
            let steps = run_steps(run, &times)?;
            // The filters that decide which events count: the run-root ones and each step's.
            task.add_input(run.path().join(store::EVENT_FILTER_FILE))?;
            task.add_input(run.path().join(store::TIME_FILTER_FILE))?;
            for s in time_cut_steps(run)? {
                task.add_input(&s.filter_path)?;
            }
            let rows = analyse(&times.boards, &toa_twc, &steps)?;
            let all = timing_batch(&rows)?;
            let sqlite = opts.sqlite.then_some(RESOLUTION_SQLITE);
            let mut outputs = run.write_tables(
                task.dir(),
                sqlite,
                &[TableOutput {
                    table: TIMING_TABLE,
                    batch: &all,
                    indexes: &[],
                }],
            )?;
            for k in 0..n {
                for step in &steps {
                    let subset: Vec<ResolutionRow> = rows
                        .iter()
                        .filter(|r| r.twc_iteration == k && r.step_name == step.name)
                        .cloned()
                        .collect();
                    let b = timing_batch(&subset)?;
                    let d = task
                        .dir()
                        .join(format!("twc_iteration_{k}"))
                        .join(&step.name);
                    outputs.extend(run.write_tables(
                        &d,
                        opts.sqlite.then_some(store::DATA_SQLITE),
                        &[TableOutput {
                            table: TIMING_TABLE,
                            batch: &b,
                            indexes: &[],
                        }],
                    )?);
                }
            }
            task.add_outputs(outputs);
            Ok(rows)
        },
    )
}
