//! Codes to nanoseconds (`calculate_times_in_ns.py`): the per-board TDC bin width from the
//! calibration code, the TOA and TOT in ns, and the one-row-per-event table used by the time-walk
//! correction and the resolution.
//!
//! # Formulas
//!
//! The ETROC1 TDC measures times with a delay line whose calibration period is 3.125 ns
//! ([`CAL_PERIOD_NS`]); the calibration code CAL is the number of delay cells in that period
//! (about 128-135), so one TDC bin is `fbin = 3.125 / CAL` ns (about 23-24 ps). Per board b, over
//! the hits of **accepted events** (event filter only):
//!
//! * `fbin_mean = 3.125 / mean(CAL)` (the original's choice, the default),
//! * `fbin_median = 3.125 / median(CAL)` (pandas median: mean of the two middle values),
//! * `fbin_mode = 3.125 / mode(CAL)` (most frequent code, the smallest on ties; the later ETROC2
//!   tooling's choice, `CMS-ETROC/ETROC-Analysis`),
//! * `event`: `3.125 / CAL` of the hit itself.
//!
//! Then for **every** hit, accepted or not:
//!
//! * `TOA_ns = 12.5 - TOA_code * fbin` ([`TOA_REFERENCE_NS`] = 12.5 ns is the reference edge),
//! * `TOT_ns = (2 TOT_code - floor(TOT_code / 32)) * fbin`.

// Index loops over parallel columns read more clearly than zipped iterators here.
#![allow(clippy::needless_range_loop)]

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

use crate::cuts::read_run_filters;
use crate::error::{Error, Result};
use crate::ingest::Hits;
use crate::rundir::{RunDir, names};
use crate::store::{self, EventFilter, TableOutput};

/// The delay-line calibration period of the ETROC1 TDC, in ns.
pub const CAL_PERIOD_NS: f64 = 3.125;
/// The reference edge of the TOA measurement, in ns: `TOA_ns = 12.5 - TOA_code * fbin`.
pub const TOA_REFERENCE_NS: f64 = 12.5;

/// Which calibration-code statistic sets the TDC bin width of a board (the original always uses the
/// mean).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FbinChoice {
    /// `3.125 / mean CAL` of the board's accepted hits (the original's CLI, default).
    #[default]
    Mean,
    /// `3.125 / median CAL` of the board's accepted hits.
    Median,
    /// `3.125 / mode CAL` of the board's accepted hits (smallest code on ties).
    Mode,
    /// `3.125 / CAL` of each hit.
    Event,
}

impl std::str::FromStr for FbinChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "mean" => Ok(FbinChoice::Mean),
            "median" => Ok(FbinChoice::Median),
            "mode" => Ok(FbinChoice::Mode),
            "event" => Ok(FbinChoice::Event),
            other => Err(Error::InvalidArgument(format!(
                "fbin choice: expected mean, median, mode or event, found {other:?}"
            ))),
        }
    }
}

impl std::fmt::Display for FbinChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FbinChoice::Mean => "mean",
            FbinChoice::Median => "median",
            FbinChoice::Mode => "mode",
            FbinChoice::Event => "event",
        })
    }
}

/// The calibration-code statistics of one board: a row of the table `board_info_data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardCalibration {
    /// Board id (`data_board_id`).
    pub data_board_id: i64,
    /// Number of accepted hits the statistics use.
    pub n_hits: usize,
    /// Mean CAL code of the accepted hits (NaN without accepted hits).
    pub calibration_code_mean: f64,
    /// Median CAL code (NaN without accepted hits).
    pub calibration_code_median: f64,
    /// Most frequent CAL code, the smallest on ties (NaN without accepted hits).
    pub calibration_code_mode: f64,
    /// `3.125 / calibration_code_mean` (ns).
    pub fbin_mean: f64,
    /// `3.125 / calibration_code_median` (ns).
    pub fbin_median: f64,
    /// `3.125 / calibration_code_mode` (ns).
    pub fbin_mode: f64,
}

impl BoardCalibration {
    /// The board's bin width (ns) for `choice`; `None` for [`FbinChoice::Event`] (per hit).
    pub fn fbin(&self, choice: FbinChoice) -> Option<f64> {
        match choice {
            FbinChoice::Mean => Some(self.fbin_mean),
            FbinChoice::Median => Some(self.fbin_median),
            FbinChoice::Mode => Some(self.fbin_mode),
            FbinChoice::Event => None,
        }
    }
}

/// Per-board calibration-code statistics over the accepted hits.
///
/// `board`, `cal` and `accepted` are per-hit columns of equal length (`accepted` is the hit's
/// event-filter flag). Every board present in `board` gets a row (sorted by board id); a board
/// without accepted hits gets NaN statistics, so its times become NaN, as in the original.
///
/// # Errors
/// [`Error::InvalidArgument`] if the column lengths differ.
pub fn board_calibration(
    board: &[u8],
    cal: &[u16],
    accepted: &[bool],
) -> Result<Vec<BoardCalibration>> {
    if board.len() != cal.len() || board.len() != accepted.len() {
        return Err(Error::InvalidArgument(format!(
            "board calibration: columns differ in length (board {}, CAL {}, accepted {})",
            board.len(),
            cal.len(),
            accepted.len()
        )));
    }
    // Histogram of CAL codes per board (dense, codes above 1023 share one overflow bin that only
    // the mean uses exactly): mean, median and mode in one pass without map lookups per hit.
    let mut dense: Vec<Vec<u64>> = vec![Vec::new(); 256];
    let mut sums = [0.0f64; 256];
    for ((&b, &c), &a) in board.iter().zip(cal).zip(accepted) {
        let h = &mut dense[usize::from(b)];
        if h.is_empty() {
            h.resize(1025, 0);
        }
        if a {
            h[usize::from(c.min(1024))] += 1;
            sums[usize::from(b)] += f64::from(c);
        }
    }
    let per_board: BTreeMap<u8, (BTreeMap<u16, u64>, f64)> = dense
        .iter()
        .enumerate()
        .filter(|(_, h)| !h.is_empty())
        .map(|(b, h)| {
            let hist: BTreeMap<u16, u64> = h
                .iter()
                .enumerate()
                .filter(|(_, k)| **k > 0)
                .map(|(c, k)| (c as u16, *k))
                .collect();
            (b as u8, (hist, sums[b]))
        })
        .collect();
    Ok(per_board
        .into_iter()
        .map(|(b, (hist, sum))| {
            let n: u64 = hist.values().sum();
            if n == 0 {
                return BoardCalibration {
                    data_board_id: i64::from(b),
                    n_hits: 0,
                    calibration_code_mean: f64::NAN,
                    calibration_code_median: f64::NAN,
                    calibration_code_mode: f64::NAN,
                    fbin_mean: f64::NAN,
                    fbin_median: f64::NAN,
                    fbin_mode: f64::NAN,
                };
            }
            let mean = sum / n as f64;
            let nth = |idx: u64| -> f64 {
                let mut seen = 0;
                for (&c, &k) in &hist {
                    seen += k;
                    if seen > idx {
                        return f64::from(c);
                    }
                }
                f64::NAN
            };
            let median = if n % 2 == 1 {
                nth(n / 2)
            } else {
                0.5 * (nth(n / 2 - 1) + nth(n / 2))
            };
            let mut mode = (0_u16, 0_u64);
            for (&c, &k) in &hist {
                if k > mode.1 {
                    mode = (c, k);
                }
            }
            let mode = f64::from(mode.0);
            BoardCalibration {
                data_board_id: i64::from(b),
                n_hits: n as usize,
                calibration_code_mean: mean,
                calibration_code_median: median,
                calibration_code_mode: mode,
                fbin_mean: CAL_PERIOD_NS / mean,
                fbin_median: CAL_PERIOD_NS / median,
                fbin_mode: CAL_PERIOD_NS / mode,
            }
        })
        .collect())
}

/// `TOA_ns = 12.5 - toa_code * fbin_ns`.
#[inline]
pub fn toa_ns(toa_code: u16, fbin_ns: f64) -> f64 {
    TOA_REFERENCE_NS - f64::from(toa_code) * fbin_ns
}

/// `TOT_ns = (2 tot_code - floor(tot_code / 32)) * fbin_ns`.
#[inline]
pub fn tot_ns(tot_code: u16, fbin_ns: f64) -> f64 {
    f64::from(2 * u32::from(tot_code) - u32::from(tot_code) / 32) * fbin_ns
}

/// Per-hit times in ns: the columns `fbin`, `time_of_arrival_ns`, `time_over_threshold_ns`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HitTimes {
    /// TDC bin width of the hit (ns).
    pub fbin: Vec<f64>,
    /// Time of arrival (ns).
    pub time_of_arrival_ns: Vec<f64>,
    /// Time over threshold (ns).
    pub time_over_threshold_ns: Vec<f64>,
}

/// Converts every hit to ns with the bin widths of `calibration` (from [`board_calibration`])
/// chosen by `choice`.
///
/// # Errors
/// [`Error::InvalidArgument`] if the columns differ in length or a hit's board has no row in
/// `calibration`.
pub fn convert_hits(
    board: &[u8],
    toa_code: &[u16],
    tot_code: &[u16],
    cal: &[u16],
    calibration: &[BoardCalibration],
    choice: FbinChoice,
) -> Result<HitTimes> {
    let n = board.len();
    if toa_code.len() != n || tot_code.len() != n || cal.len() != n {
        return Err(Error::InvalidArgument(
            "codes to ns: the hit columns differ in length".into(),
        ));
    }
    let lookup: BTreeMap<i64, f64> = calibration
        .iter()
        .map(|c| (c.data_board_id, c.fbin(choice).unwrap_or(f64::NAN)))
        .collect();
    let mut out = HitTimes {
        fbin: Vec::with_capacity(n),
        time_of_arrival_ns: Vec::with_capacity(n),
        time_over_threshold_ns: Vec::with_capacity(n),
    };
    // Dense lookup by board id (ids are 0..=255): no map access per hit.
    let mut dense = [f64::NAN; 256];
    let mut known = [false; 256];
    for (&b, &f) in &lookup {
        if let Ok(i) = u8::try_from(b) {
            dense[usize::from(i)] = f;
            known[usize::from(i)] = true;
        }
    }
    for i in 0..n {
        let b = usize::from(board[i]);
        if !known[b] {
            return Err(Error::InvalidArgument(format!(
                "codes to ns: board {b} has no calibration row (boards with rows: {:?})",
                lookup.keys().collect::<Vec<_>>()
            )));
        }
        let f = dense[b];
        let f = match choice {
            FbinChoice::Event => CAL_PERIOD_NS / f64::from(cal[i]),
            _ => f,
        };
        out.fbin.push(f);
        out.time_of_arrival_ns.push(toa_ns(toa_code[i], f));
        out.time_over_threshold_ns.push(tot_ns(tot_code[i], f));
    }
    Ok(out)
}

/// The times of a run pivoted to one row per event and one column per board (the original's
/// pivot of `etroc1_data`), the input of [`crate::twc`] and [`crate::resolution`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventTimes {
    /// Board ids, sorted ascending (the cyclic order of the original).
    pub boards: Vec<u8>,
    /// Event numbers, sorted ascending and unique.
    pub event: Vec<i64>,
    /// `toa_ns[b][e]`: TOA (ns) of board `boards[b]` in event `event[e]`, NaN if the board has no
    /// hit in that event.
    pub toa_ns: Vec<Vec<f64>>,
    /// `tot_ns[b][e]`: TOT (ns), NaN if missing.
    pub tot_ns: Vec<Vec<f64>>,
}

impl EventTimes {
    /// Pivots per-hit columns into one row per event.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the columns differ in length or an event holds two hits of
    /// one board (the pivot would be ambiguous).
    pub fn from_hits(event: &[i64], board: &[u8], toa_ns: &[f64], tot_ns: &[f64]) -> Result<Self> {
        Self::from_hits_indexed(event, board, toa_ns, tot_ns).map(|(t, _)| t)
    }

    /// As [`EventTimes::from_hits`], also returning for every hit its `(board index, event
    /// index)` in the pivot.
    ///
    /// # Errors
    /// As [`EventTimes::from_hits`].
    pub fn from_hits_indexed(
        event: &[i64],
        board: &[u8],
        toa_ns: &[f64],
        tot_ns: &[f64],
    ) -> Result<(Self, Vec<(usize, usize)>)> {
        let n = event.len();
        if board.len() != n || toa_ns.len() != n || tot_ns.len() != n {
            return Err(Error::InvalidArgument(
                "event pivot: the hit columns differ in length".into(),
            ));
        }
        let mut present = [false; 256];
        for &b in board {
            present[usize::from(b)] = true;
        }
        let boards: Vec<u8> = (0..=255u8).filter(|&b| present[usize::from(b)]).collect();
        let mut board_index = [0usize; 256];
        for (i, &b) in boards.iter().enumerate() {
            board_index[usize::from(b)] = i;
        }
        let sorted = event.windows(2).all(|w| w[0] <= w[1]);
        let mut events: Vec<i64> = event.to_vec();
        if !sorted {
            events.sort_unstable();
        }
        events.dedup();
        let ne = events.len();
        let mut toa = vec![vec![f64::NAN; ne]; boards.len()];
        let mut tot = vec![vec![f64::NAN; ne]; boards.len()];
        let mut seen = vec![vec![false; ne]; boards.len()];
        let mut index = Vec::with_capacity(n);
        let mut cursor = 0usize;
        for i in 0..n {
            let e = if sorted {
                while events[cursor] != event[i] {
                    cursor += 1;
                }
                cursor
            } else {
                events.binary_search(&event[i]).unwrap_or(0)
            };
            let b = board_index[usize::from(board[i])];
            if seen[b][e] {
                return Err(Error::InvalidArgument(format!(
                    "event pivot: event {} has more than one hit of board {}",
                    event[i], board[i]
                )));
            }
            seen[b][e] = true;
            toa[b][e] = toa_ns[i];
            tot[b][e] = tot_ns[i];
            index.push((b, e));
        }
        Ok((
            EventTimes {
                boards,
                event: events,
                toa_ns: toa,
                tot_ns: tot,
            },
            index,
        ))
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.event.len()
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.event.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// The task `calculate_times_in_ns`
// ---------------------------------------------------------------------------------------------

/// Table of the per-board calibration statistics (`board_info_data`).
pub const BOARD_INFO_TABLE: &str = "board_info_data";

/// Options of the task `calculate_times_in_ns` (`times-ns`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimesOptions {
    /// The bin-width statistic (default mean, as the original CLI).
    pub fbin: FbinChoice,
    /// Also write the SQLite database `data.sqlite` (default true; the Parquet tables are always
    /// written).
    pub sqlite: bool,
    /// Empty the task directory first.
    pub drop_old: bool,
}

impl Default for TimesOptions {
    fn default() -> Self {
        TimesOptions {
            fbin: FbinChoice::Mean,
            sqlite: true,
            drop_old: true,
        }
    }
}

/// A nullable Float64 field `name` with the metadata `unit = ns`.
pub(crate) fn ns_field(name: &str) -> Field {
    Field::new(name, DataType::Float64, true).with_metadata(std::collections::HashMap::from([(
        "unit".to_string(),
        "ns".to_string(),
    )]))
}

/// Converts a hit table (the ingest's `etroc1_data`: `event`, `data_board_id`,
/// `time_of_arrival`, `time_over_threshold`, `calibration_code`, ...) to the original's ns table:
/// the columns `data_board_id, event`, the other input columns in order, then `fbin`,
/// `time_of_arrival_ns`, `time_over_threshold_ns` (ns). The bin widths use the hits of the
/// events accepted by `event_filter` (events absent from the filter count as rejected).
///
/// # Errors
/// [`Error::InvalidArgument`] for missing columns or codes out of range.
pub fn times_table(
    batch: &RecordBatch,
    event_filter: &EventFilter,
    choice: FbinChoice,
) -> Result<(RecordBatch, Vec<BoardCalibration>)> {
    let hits = Hits::from_record_batch(batch)?;
    let accepted = event_filter.accepted_of(&hits.event);
    let calibration = board_calibration(&hits.data_board_id, &hits.calibration_code, &accepted)?;
    for c in &calibration {
        tracing::debug!(
            "board {}: {} accepted hits, CAL mean {:.3}, fbin mean {:.6} ns",
            c.data_board_id,
            c.n_hits,
            c.calibration_code_mean,
            c.fbin_mean
        );
    }
    let t = convert_hits(
        &hits.data_board_id,
        &hits.time_of_arrival,
        &hits.time_over_threshold,
        &hits.calibration_code,
        &calibration,
        choice,
    )?;
    let schema = batch.schema();
    let mut fields: Vec<Field> = Vec::with_capacity(schema.fields().len() + 3);
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len() + 3);
    for first in ["data_board_id", "event"] {
        let (i, f) = schema
            .column_with_name(first)
            .ok_or_else(|| Error::InvalidArgument(format!("hit table: no column '{first}'")))?;
        fields.push(f.clone());
        columns.push(batch.column(i).clone());
    }
    for (i, f) in schema.fields().iter().enumerate() {
        if f.name() != "data_board_id" && f.name() != "event" {
            fields.push(f.as_ref().clone());
            columns.push(batch.column(i).clone());
        }
    }
    fields.push(ns_field("fbin"));
    columns.push(Arc::new(Float64Array::from(t.fbin)));
    fields.push(ns_field("time_of_arrival_ns"));
    columns.push(Arc::new(Float64Array::from(t.time_of_arrival_ns)));
    fields.push(ns_field("time_over_threshold_ns"));
    columns.push(Arc::new(Float64Array::from(t.time_over_threshold_ns)));
    let out = RecordBatch::try_new(
        Arc::new(Schema::new(fields).with_metadata(schema.metadata().clone())),
        columns,
    )
    .map_err(|e| Error::InvalidArgument(format!("building the ns table: {e}")))?;
    Ok((out, calibration))
}

/// `board_info_data` as a record batch: `data_board_id, calibration_code_mean,
/// calibration_code_median, fbin_mean, fbin_median` (the original's columns) followed by
/// `calibration_code_mode, fbin_mode, n_hits`.
///
/// # Errors
/// Only on an internal schema mismatch.
pub fn board_info_batch(calibration: &[BoardCalibration]) -> Result<RecordBatch> {
    // CAL codes are TDC counts (one code is one bin of the fbin width).
    let code =
        |name: &str| hep_core::io::with_unit(Field::new(name, DataType::Float64, true), "code");
    let col = |g: &dyn Fn(&BoardCalibration) -> f64| -> ArrayRef {
        // A statistic of a board without hits is missing: null, not NaN.
        Arc::new(Float64Array::from_iter(
            calibration
                .iter()
                .map(g)
                .map(|v| (!v.is_nan()).then_some(v)),
        ))
    };
    RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("data_board_id", DataType::Int8, false),
            code("calibration_code_mean"),
            code("calibration_code_median"),
            ns_field("fbin_mean"),
            ns_field("fbin_median"),
            code("calibration_code_mode"),
            ns_field("fbin_mode"),
            Field::new("n_hits", DataType::Int64, false),
        ])),
        vec![
            Arc::new(arrow_array::Int8Array::from_iter_values(
                calibration.iter().map(|c| {
                    i8::try_from(c.data_board_id).expect("a board id from an Int8 column")
                }),
            )),
            col(&|c| c.calibration_code_mean),
            col(&|c| c.calibration_code_median),
            col(&|c| c.fbin_mean),
            col(&|c| c.fbin_median),
            col(&|c| c.calibration_code_mode),
            col(&|c| c.fbin_mode),
            Arc::new(Int64Array::from_iter_values(
                calibration.iter().map(|c| c.n_hits as i64),
            )),
        ],
    )
    .map_err(|e| Error::InvalidArgument(format!("building board_info_data: {e}")))
}

/// The task `calculate_times_in_ns` (`calculate_times_in_ns.py`; needs `apply_event_cuts`): reads
/// `data/etroc1_data.parquet` and the run-root `event_filter.fd`, writes
/// `calculate_times_in_ns/{etroc1_data,board_info_data}.parquet` and `data.sqlite` (same tables).
///
/// # Errors
/// [`Error::TaskNotCompleted`] without a completed event cut; [`Error::MissingFile`] without
/// the event filter; storage errors.
pub fn calculate_times_in_ns(run: &RunDir, opts: &TimesOptions) -> Result<Vec<BoardCalibration>> {
    run.run_task(
        names::CALCULATE_TIMES_IN_NS,
        &[names::APPLY_EVENT_CUTS],
        opts.drop_old,
        |task| {
            task.set_configuration(opts)?;
            let filter_path = run.path().join(store::EVENT_FILTER_FILE);
            let (event_filter, _) = read_run_filters(run, false)?;
            task.add_input(&filter_path)?;
            let batch = run.read_table(&run.data_dir(), store::HITS_TABLE)?;
            // The Parquet table, or the SQLite database of a run written by the original scripts.
            if let Some(source) = store::table_source(&run.data_dir(), store::HITS_TABLE) {
                task.add_input(source)?;
            }
            let (table, calibration) = times_table(&batch, &event_filter, opts.fbin)?;
            let info = board_info_batch(&calibration)?;
            let outputs = run.write_tables(
                task.dir(),
                opts.sqlite.then_some(store::DATA_SQLITE),
                &[
                    TableOutput {
                        table: store::HITS_TABLE,
                        batch: &table,
                        indexes: &[],
                    },
                    TableOutput {
                        table: BOARD_INFO_TABLE,
                        batch: &info,
                        indexes: &["data_board_id"],
                    },
                ],
            )?;
            task.add_outputs(outputs);
            Ok(calibration)
        },
    )
}
