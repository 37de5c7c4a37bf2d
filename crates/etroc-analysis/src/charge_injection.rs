//! Charge injection (`analyse_dac_vs_charge.py` of ETROC-Analysis-Scripts): the DAC points and
//! noise limits of a merged threshold scan, the DAC-vs-charge line and the suggested thresholds
//! (tasks `calculate_dac_points` and `plot_dac_vs_charge`).
//!
//! The directory processing, merge and reprocessing (`process_etroc1_charge_injection_data_dir.py`,
//! `reprocess_etroc1_charge_injection_data_dir.py`; they produce the table
//! `combined_etroc1_data` read here) are in [`crate::ingest_run`].
//!
//! # DAC points
//!
//! Per board b and charge Q over the merged rows with hits > 0: `DAC_max(b,Q)` and
//! `DAC_min(b,Q)` are the largest and smallest thresholds with hits; `noise_min_dac_b` is the
//! mean over Q of `DAC_min` (or the value at the charge `-n`); sorted by (b, Q, DAC), the centred
//! rolling mean of the hits over r rows (NaN where the window is incomplete) gives edge rows with
//! `|mean - hits| < d` and `|hits - centre_b| < window_b` (the efficiency plateau);
//! `noise_max_dac_b` = median over Q of the smallest edge-row DAC (or the value at `-n`) minus
//! the offset f. [`dac_vs_charge_lines`] fits `DAC = alpha + beta Q` by OLS per board, with
//! DAC the 50 % efficiency point by default ([`DacEstimator::HalfEfficiency`]) or the original's
//! `DAC_max` ([`DacEstimator::MaxWithHits`]),
//! `Q_min = (noise_max - alpha)/beta`, and suggests the thresholds `ceil(alpha + beta Q)` for
//! `Q = ceil(Q_min), +1, +2`.

// Index loops over parallel columns read more clearly than zipped iterators here.
#![allow(clippy::needless_range_loop)]

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::odr::{LineFit, ols_line};
use crate::rundir::{RunDir, names};
use crate::store::COMBINED_TABLE;
use crate::store::{self, DATA_SQLITE, TableOutput};

/// Table of the DAC points (`dac_charge_data`).
pub const DAC_CHARGE_TABLE: &str = "dac_charge_data";
/// Table of the noise limits (`noise_limit_data`).
pub const NOISE_LIMIT_TABLE: &str = "noise_limit_data";
/// Table of the line fits (new: the original drew them only in the HTML).
pub const DAC_FIT_TABLE: &str = "dac_charge_fit";

/// One row of `combined_etroc1_data`: the hits of one board in one individual run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CombinedRow {
    /// Board id.
    pub data_board_id: i64,
    /// Number of hits.
    pub hits: i64,
    /// Phase adjustment of the run.
    pub phase_adjust: i64,
    /// Pixel id of the board.
    pub pixel_id: String,
    /// Injected charge of the board (fC).
    pub board_injected_charge: i64,
    /// Discriminator threshold of the board (DAC).
    pub board_discriminator_threshold: i64,
}

/// Options of the DAC-vs-charge analysis (`analyse_dac_vs_charge.py`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DacOptions {
    /// Charge (fC) used for the noise edges; 0 aggregates over charges (`-n`).
    pub noise_charge: i64,
    /// Rolling window in rows (`-r`, 3).
    pub rolling_window: usize,
    /// Max |rolling mean - hits| of an edge row (`-d`, 50).
    pub max_mean_difference: f64,
    /// Plateau centre in hits (`-c`, 4450).
    pub hit_center: f64,
    /// Plateau half-window in hits (`-w`, 150).
    pub hit_window: f64,
    /// Noise-edge offset in DAC (`-f`, 4).
    pub noise_offset: f64,
    /// Per-board overrides `board -> (centre, window)` (`--trigger_board` with
    /// `--trigger_board_hit_center/--trigger_board_hit_window`).
    pub board_overrides: BTreeMap<i64, (f64, f64)>,
    /// The threshold per (board, charge) that the line is fitted to.
    pub estimator: DacEstimator,
    /// Also write `calculate_dac_points/data.sqlite` (default true; the Parquet tables are
    /// always written).
    pub sqlite: bool,
}

/// Which threshold per (board, charge) enters the DAC-vs-charge line.
///
/// The default is the 50 % point, not the original's DAC_max: DAC_max is the last scan point
/// where the tail of the efficiency edge still gives a hit, so it sits about 3 sigma_DAC above
/// the edge and moves in whole scan steps. On the simulated scan of [`crate::simulate`] (step 4,
/// charges 10-30 fC) its slopes are quantised in 0.2 DAC/fC steps, and for the true gain 2.5 DAC/fC
/// it gives 2.6 (or 2.4), 4 % off whatever the statistics; the 50 % point gives the gains within
/// 1.5 %. The original's line is `--estimator max-with-hits`; the table `dac_charge_data` holds
/// DAC_max in any case, as the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DacEstimator {
    /// The largest threshold with hits, DAC_max (the original's line). Its resolution is the
    /// scan step: on a step-4 scan over 10-30 fC the slope is quantised in steps of
    /// 4/20 = 0.2 DAC/fC.
    MaxWithHits,
    /// The 50 % point of the efficiency edge (default): where the hits fall through half the
    /// plateau centre (`-c`), linearly interpolated between the two scan points around it (a
    /// point above the last one with hits counts as 0 hits). Resolves the edge within a step.
    #[default]
    HalfEfficiency,
}

impl DacEstimator {
    /// The name stored in the `estimator` column of `dac_charge_fit` (and accepted by
    /// `--estimator`).
    pub fn name(self) -> &'static str {
        match self {
            DacEstimator::MaxWithHits => "max-with-hits",
            DacEstimator::HalfEfficiency => "half-efficiency",
        }
    }
}

impl std::str::FromStr for DacEstimator {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "max" | "max-with-hits" => Ok(DacEstimator::MaxWithHits),
            "half" | "half-efficiency" => Ok(DacEstimator::HalfEfficiency),
            other => Err(Error::InvalidArgument(format!(
                "DAC estimator: expected max-with-hits or half-efficiency, found {other:?}"
            ))),
        }
    }
}

impl Default for DacOptions {
    fn default() -> Self {
        DacOptions {
            noise_charge: 0,
            rolling_window: 3,
            max_mean_difference: 50.0,
            hit_center: 4450.0,
            hit_window: 150.0,
            noise_offset: 4.0,
            board_overrides: BTreeMap::new(),
            estimator: DacEstimator::HalfEfficiency,
            sqlite: true,
        }
    }
}

/// One row of `dac_charge_data`: the largest threshold with hits for a board and charge.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DacChargePoint {
    /// Board id.
    pub data_board_id: i64,
    /// Injected charge (fC).
    pub board_injected_charge: i64,
    /// Largest threshold with hits, DAC_max (DAC).
    pub board_discriminator_threshold: i64,
    /// The 50 % efficiency threshold (DAC; see [`DacEstimator::HalfEfficiency`]), NaN if the
    /// hits never reach half the plateau centre.
    pub half_efficiency_dac: f64,
}

impl DacChargePoint {
    /// The threshold chosen by `estimator` (DAC).
    pub fn threshold(&self, estimator: DacEstimator) -> f64 {
        match estimator {
            DacEstimator::MaxWithHits => self.board_discriminator_threshold as f64,
            DacEstimator::HalfEfficiency => self.half_efficiency_dac,
        }
    }
}

/// The 50 % crossing of the falling efficiency edge of one (board, charge) scan, `v` sorted by
/// DAC with hits > 0 (see [`DacEstimator::HalfEfficiency`]).
fn half_efficiency(v: &[(i64, f64)], half: f64) -> f64 {
    let step = v
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .filter(|&d| d > 0)
        .min()
        .unwrap_or(1) as f64;
    let Some(i) = v.iter().rposition(|p| p.1 >= half) else {
        return f64::NAN;
    };
    let (d0, h0) = (v[i].0 as f64, v[i].1);
    let (d1, h1) = v.get(i + 1).map_or((d0 + step, 0.0), |p| (p.0 as f64, p.1));
    if h0 == h1 {
        return d0;
    }
    d0 + (d1 - d0) * (h0 - half) / (h0 - h1)
}

/// One row of `noise_limit_data` (DAC; NaN when undefined).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoiseLimit {
    /// Board id.
    pub data_board_id: i64,
    /// Lower noise edge (DAC).
    pub noise_min_dac: f64,
    /// Upper noise edge (DAC).
    pub noise_max_dac: f64,
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// The DAC points and noise limits of the merged rows (see the module docs).
pub fn dac_points(
    rows: &[CombinedRow],
    opts: &DacOptions,
) -> (Vec<DacChargePoint>, Vec<NoiseLimit>) {
    // (board, charge) -> sorted (dac, hits) with hits > 0.
    let mut groups: BTreeMap<(i64, i64), Vec<(i64, f64)>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.hits > 0) {
        groups
            .entry((r.data_board_id, r.board_injected_charge))
            .or_default()
            .push((r.board_discriminator_threshold, r.hits as f64));
    }
    let mut points = Vec::new();
    // board -> charge -> (dac_min, noise_edge)
    let mut per_board: BTreeMap<i64, BTreeMap<i64, (f64, f64)>> = BTreeMap::new();
    let w = opts.rolling_window.max(1);
    for ((b, q), v) in groups.iter_mut() {
        v.sort_by_key(|p| p.0);
        let dac_max = v.last().map_or(0, |p| p.0);
        let dac_min = v.first().map_or(0, |p| p.0) as f64;
        let (centre, window) = opts
            .board_overrides
            .get(b)
            .copied()
            .unwrap_or((opts.hit_center, opts.hit_window));
        points.push(DacChargePoint {
            data_board_id: *b,
            board_injected_charge: *q,
            board_discriminator_threshold: dac_max,
            half_efficiency_dac: half_efficiency(v, centre / 2.0),
        });
        let n = v.len();
        let mut edge = f64::NAN;
        for i in 0..n {
            // Centred window [i - w/2, i - w/2 + w - 1] (pandas rolling(center=True)).
            let lo = i as isize - (w / 2) as isize;
            let hi = lo + w as isize - 1;
            if lo < 0 || hi >= n as isize {
                continue;
            }
            let mean = v[lo as usize..=hi as usize]
                .iter()
                .map(|p| p.1)
                .sum::<f64>()
                / w as f64;
            let hits = v[i].1;
            if (mean - hits).abs() < opts.max_mean_difference && (hits - centre).abs() < window {
                let d = v[i].0 as f64;
                if edge.is_nan() || d < edge {
                    edge = d;
                }
            }
        }
        per_board.entry(*b).or_default().insert(*q, (dac_min, edge));
    }
    let limits = per_board
        .into_iter()
        .map(|(b, by_q)| {
            let chosen = if opts.noise_charge != 0 {
                by_q.get(&opts.noise_charge).copied()
            } else {
                None
            };
            let (noise_min, noise_edge) = match chosen {
                Some((mn, edge)) => (mn, edge),
                None => {
                    let mins: Vec<f64> = by_q.values().map(|v| v.0).collect();
                    let mut edges: Vec<f64> = by_q
                        .values()
                        .map(|v| v.1)
                        .filter(|e| e.is_finite())
                        .collect();
                    (
                        mins.iter().sum::<f64>() / mins.len() as f64,
                        median(&mut edges),
                    )
                }
            };
            NoiseLimit {
                data_board_id: b,
                noise_min_dac: noise_min,
                noise_max_dac: noise_edge - opts.noise_offset,
            }
        })
        .collect();
    (points, limits)
}

/// The DAC-vs-charge line of one board and its suggested thresholds (`analyse_dac_vs_charge.py`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DacChargeLine {
    /// Board id.
    pub data_board_id: i64,
    /// Number of (charge, DAC_max) points.
    pub n_points: usize,
    /// Intercept alpha (DAC).
    pub alpha_dac: f64,
    /// Slope beta: the gain (DAC/fC).
    pub beta_dac_per_fc: f64,
    /// R^2 of the fit.
    pub r_squared: f64,
    /// Noise limits (DAC), NaN if undefined.
    pub noise_min_dac: f64,
    /// Upper noise limit (DAC).
    pub noise_max_dac: f64,
    /// Smallest charge above the noise, `(noise_max - alpha)/beta` (fC), NaN without limits.
    pub q_min_fc: f64,
    /// Suggested `(charge fC, threshold DAC)`: `ceil(alpha + beta Q)` for Q = ceil(Q_min), +1,
    /// +2; empty without finite noise limits.
    pub suggested_thresholds: Vec<(i64, i64)>,
}

/// Fits `threshold = alpha + beta Q` per board (OLS; the threshold per `estimator`, DAC_max in
/// the original) and derives Q_min and the suggested thresholds. Boards with fewer than 2
/// distinct charges get no line; points with an undefined threshold are left out.
pub fn dac_vs_charge_lines(
    points: &[DacChargePoint],
    limits: &[NoiseLimit],
    estimator: DacEstimator,
) -> Vec<DacChargeLine> {
    let mut by_board: BTreeMap<i64, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for p in points {
        let t = p.threshold(estimator);
        if t.is_finite() {
            let e = by_board.entry(p.data_board_id).or_default();
            e.0.push(p.board_injected_charge as f64);
            e.1.push(t);
        }
    }
    by_board
        .into_iter()
        .filter_map(|(b, (q, d))| {
            let fit: LineFit = ols_line(&q, &d).ok()?;
            let lim = limits.iter().find(|l| l.data_board_id == b);
            let (nmin, nmax) =
                lim.map_or((f64::NAN, f64::NAN), |l| (l.noise_min_dac, l.noise_max_dac));
            let (q_min, suggested) = if nmin.is_finite() && nmax.is_finite() && fit.slope != 0.0 {
                let q_min = (nmax - fit.intercept) / fit.slope;
                let q0 = q_min.ceil() as i64;
                let s = (q0..q0 + 3)
                    .map(|qq| (qq, fit.eval(qq as f64).ceil() as i64))
                    .collect();
                (q_min, s)
            } else {
                (f64::NAN, Vec::new())
            };
            Some(DacChargeLine {
                data_board_id: b,
                n_points: q.len(),
                alpha_dac: fit.intercept,
                beta_dac_per_fc: fit.slope,
                r_squared: fit.r_squared,
                noise_min_dac: nmin,
                noise_max_dac: nmax,
                q_min_fc: q_min,
                suggested_thresholds: suggested,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------

fn i64_col(v: impl IntoIterator<Item = i64>) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(v))
}
// Board ids, injected charges and thresholds have the hit tables' types in every table of the
// crate (Int8, Int16, Int16); the values come from those tables, so they always fit.
fn i8_col(v: impl IntoIterator<Item = i64>) -> ArrayRef {
    Arc::new(arrow_array::Int8Array::from_iter_values(v.into_iter().map(
        |x| i8::try_from(x).expect("a board id from an Int8 column"),
    )))
}
fn i16_col(v: impl IntoIterator<Item = i64>) -> ArrayRef {
    Arc::new(arrow_array::Int16Array::from_iter_values(
        v.into_iter()
            .map(|x| i16::try_from(x).expect("a charge or threshold from an Int16 column")),
    ))
}
fn f64_col(v: impl IntoIterator<Item = f64>) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values(v))
}

fn batch(fields: Vec<Field>, cols: Vec<ArrayRef>) -> Result<RecordBatch> {
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
        .map_err(|e| Error::InvalidArgument(format!("building a table: {e}")))
}

/// `combined_etroc1_data` as a record batch.
///
/// # Errors
/// Only on an internal schema mismatch.
pub fn combined_batch(rows: &[CombinedRow]) -> Result<RecordBatch> {
    batch(
        vec![
            Field::new("data_board_id", DataType::Int8, false),
            Field::new("hits", DataType::Int64, false),
            Field::new("phase_adjust", DataType::Int64, false),
            Field::new("pixel_id", DataType::Utf8, false),
            hep_core::io::with_unit(
                Field::new("board_injected_charge", DataType::Int16, false),
                "fC",
            ),
            hep_core::io::with_unit(
                Field::new("board_discriminator_threshold", DataType::Int16, false),
                "DAC",
            ),
        ],
        vec![
            i8_col(rows.iter().map(|r| r.data_board_id)),
            i64_col(rows.iter().map(|r| r.hits)),
            i64_col(rows.iter().map(|r| r.phase_adjust)),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.pixel_id.as_str()),
            )),
            i16_col(rows.iter().map(|r| r.board_injected_charge)),
            i16_col(rows.iter().map(|r| r.board_discriminator_threshold)),
        ],
    )
}

/// Reads `combined_etroc1_data` back from its record batch.
///
/// # Errors
/// [`Error::InvalidArgument`] for a missing column.
pub fn combined_from_batch(b: &RecordBatch) -> Result<Vec<CombinedRow>> {
    let board = store::column_to_i64(b, "data_board_id")?;
    let hits = store::column_to_i64(b, "hits")?;
    let phase = store::column_to_i64(b, "phase_adjust")?;
    let q = store::column_to_i64(b, "board_injected_charge")?;
    let d = store::column_to_i64(b, "board_discriminator_threshold")?;
    let pix = hep_core::io::column_str(b, "pixel_id")?;
    Ok((0..b.num_rows())
        .map(|i| CombinedRow {
            data_board_id: board[i],
            hits: hits[i],
            phase_adjust: phase[i],
            pixel_id: pix.value(i).to_string(),
            board_injected_charge: q[i],
            board_discriminator_threshold: d[i],
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------------------------

/// The tasks `calculate_dac_points` (needs `merge_etroc1_runs`): writes (as Parquet, and with
/// [`DacOptions::sqlite`] also into `calculate_dac_points/data.sqlite`) `dac_charge_data` (indexed on board and charge),
/// `noise_limit_data` and the new `dac_charge_fit` (alpha, beta, R^2, Q_min, the three
/// suggested thresholds per board, and the estimator the line was fitted to). Returns the points, limits and lines.
///
/// # Errors
/// Gating, storage and table errors.
pub fn calculate_dac_points(
    run: &RunDir,
    opts: &DacOptions,
) -> Result<(Vec<DacChargePoint>, Vec<NoiseLimit>, Vec<DacChargeLine>)> {
    run.run_task(
        names::CALCULATE_DAC_POINTS,
        &[names::MERGE_RUNS],
        true,
        |task| {
            task.set_configuration(opts)?;
            let dir = run.task_dir(names::MERGE_RUNS);
            // The Parquet table, or the SQLite database of a run written by the original scripts.
            if let Some(source) = store::table_source(&dir, COMBINED_TABLE) {
                task.add_input(source)?;
            }
            let rows = combined_from_batch(&run.read_table(&dir, COMBINED_TABLE)?)?;
            let (points, limits) = dac_points(&rows, opts);
            let lines = dac_vs_charge_lines(&points, &limits, opts.estimator);
            let pb = batch(
                vec![
                    Field::new("data_board_id", DataType::Int8, false),
                    hep_core::io::with_unit(
                        Field::new("board_injected_charge", DataType::Int16, false),
                        "fC",
                    ),
                    hep_core::io::with_unit(
                        Field::new("board_discriminator_threshold", DataType::Int16, false),
                        "DAC",
                    ),
                    Field::new("half_efficiency_dac", DataType::Float64, true),
                ],
                vec![
                    i8_col(points.iter().map(|p| p.data_board_id)),
                    i16_col(points.iter().map(|p| p.board_injected_charge)),
                    i16_col(points.iter().map(|p| p.board_discriminator_threshold)),
                    f64_col(points.iter().map(|p| p.half_efficiency_dac)),
                ],
            )?;
            let lb = batch(
                vec![
                    Field::new("data_board_id", DataType::Int8, false),
                    Field::new("noise_min_dac", DataType::Float64, true),
                    Field::new("noise_max_dac", DataType::Float64, true),
                ],
                vec![
                    i8_col(limits.iter().map(|p| p.data_board_id)),
                    f64_col(limits.iter().map(|p| p.noise_min_dac)),
                    f64_col(limits.iter().map(|p| p.noise_max_dac)),
                ],
            )?;
            let sugg = |k: usize| -> Vec<Option<i64>> {
                lines
                    .iter()
                    .map(|l| l.suggested_thresholds.get(k).map(|s| s.1))
                    .collect()
            };
            let sugq = |k: usize| -> Vec<Option<i64>> {
                lines
                    .iter()
                    .map(|l| l.suggested_thresholds.get(k).map(|s| s.0))
                    .collect()
            };
            let mut fields = vec![
                Field::new("data_board_id", DataType::Int8, false),
                Field::new("n_points", DataType::Int64, false),
                Field::new("alpha_dac", DataType::Float64, false),
                Field::new("beta_dac_per_fc", DataType::Float64, false),
                Field::new("r_squared", DataType::Float64, true),
                Field::new("q_min_fc", DataType::Float64, true),
                Field::new("estimator", DataType::Utf8, false),
            ];
            let mut cols = vec![
                i8_col(lines.iter().map(|l| l.data_board_id)),
                i64_col(lines.iter().map(|l| l.n_points as i64)),
                f64_col(lines.iter().map(|l| l.alpha_dac)),
                f64_col(lines.iter().map(|l| l.beta_dac_per_fc)),
                f64_col(lines.iter().map(|l| l.r_squared)),
                f64_col(lines.iter().map(|l| l.q_min_fc)),
                Arc::new(StringArray::from(vec![opts.estimator.name(); lines.len()])),
            ];
            for k in 0..3 {
                fields.push(Field::new(
                    format!("suggested_charge_{k}_fc"),
                    DataType::Int64,
                    true,
                ));
                cols.push(Arc::new(Int64Array::from(sugq(k))));
                fields.push(Field::new(
                    format!("suggested_threshold_{k}_dac"),
                    DataType::Int64,
                    true,
                ));
                cols.push(Arc::new(Int64Array::from(sugg(k))));
            }
            let fb = batch(fields, cols)?;
            let outputs = run.write_tables(
                &run.task_dir(names::CALCULATE_DAC_POINTS),
                opts.sqlite.then_some(DATA_SQLITE),
                &[
                    TableOutput {
                        table: DAC_CHARGE_TABLE,
                        batch: &pb,
                        indexes: &["data_board_id", "board_injected_charge"],
                    },
                    TableOutput {
                        table: NOISE_LIMIT_TABLE,
                        batch: &lb,
                        indexes: &[],
                    },
                    TableOutput {
                        table: DAC_FIT_TABLE,
                        batch: &fb,
                        indexes: &[],
                    },
                ],
            )?;
            task.add_outputs(outputs);
            Ok((points, limits, lines))
        },
    )
}
