//! `fax-sim match`: the simulation truth against the reconstruction.
//!
//! # What the fax production did (`--compat`)
//!
//! The XENON1T fax production scripts (`fax_production` in `zhut19/processing`,
//! `production_process/SortAndMerge.py`) had two steps, reproduced by [`sort_truth`] and
//! [`merge_truth`]:
//!
//! - **SortTruth** reads pax's truth CSV, drops `fax_truth_peak_id`, `g4_id`, `instruction`,
//!   `repetition`, `n_electrons`, the electron times, `t_interaction`, `t_first_photon`,
//!   `t_last_photon` and `z`, and splits the rows into `s1` (peak type `s1`), `s2` (type `s2`) and
//!   `other_s2` (any other type, per event only the row with the most photons, the first of equal
//!   counts: pandas `idxmax`). Each subset's columns are renamed `n_photons` -> `<p>`,
//!   `t_mean_photons` -> `<p>_hit_time_mean`, `t_sigma_photons` -> `<p>_width`, `top_fraction`
//!   -> `<p>_area_fraction_top`, `x`, `y` -> `<p>_x`, `<p>_y`. Starting from the event numbers in
//!   order of appearance, the three subsets are left-joined on the event one after another
//!   (pandas `merge`: an event with two S1 and two S2 rows gives four rows, the cartesian
//!   product), then `s1_x`, `s1_y`, `other_s2_x`, `other_s2_y` are dropped and `s2_x`, `s2_y`
//!   renamed `x`, `y`. The columns keep pandas' order: see [`SORTED_COLUMNS`].
//! - **MergeTruth** prefixes every truth column with `truth_` and joins the minitree
//!   (Fundamentals and Basics, one row per event) with it: an outer join of `event_number` with
//!   `truth_event_number` (pandas `how='outer'`: keys sorted, the cartesian product of the rows of
//!   a key), then drops `truth_event_number`. A truth-only row thus has a null `event_number` and
//!   `run_number` there, as in the original.
//!
//! Its weaknesses: events are matched only by number, not by time; duplicated rows for several
//! S1 or S2 truth rows; and the truth `s1`, `s2` count photons at the PMTs, not photoelectrons.
//!
//! # Peak-level matching (default)
//!
//! **Time frame.** The truth times (`t_mean_photons`, `t_first_photon`, `t_last_photon`) are ns
//! since the first sample of the event: they include pax's 5 us event padding, and the simulator
//! places each photon's pulse at its truth time plus the padding, which is also how the event
//! window starts. The reconstructed `left`, `right` (samples of `sample_duration_ns`, 10 ns) and
//! `center_time`, `hit_time_mean` (ns) are counted from the same first sample. A reconstructed peak
//! covers `[left dt, (right + 1) dt)` ns.
//!
//! For each truth peak (types `s1`, `s2`, `photoionization_afterpulse`) the reconstructed peaks
//! of the same event whose interval overlaps the truth photon interval `[t_first_photon,
//! t_last_photon]` are the candidates (a one-photon truth peak overlaps a peak containing that
//! time). The match is the candidate containing `t_mean_photons` (the largest in area if several
//! do), otherwise the candidate with the largest overlap (then the largest area, then the first).
//! Outcomes, the first that applies:
//!
//! | outcome | when |
//! |---|---|
//! | `lost` | no candidate |
//! | `misclassified` | the match's type differs from the truth type (`s1` -> `s1`; `s2` and `photoionization_afterpulse` -> `s2`) |
//! | `merged` | the match is also the match of another truth peak of the event holding at least `merged_min_photon_fraction` of this one's photons |
//! | `split` | another candidate, not the match of another truth peak, has at least `split_min_area_fraction` of the match's area |
//! | `found` | otherwise |
//!
//! A truth peak is **reconstructed** when it is found, split or merged: a reconstructed peak of
//! the right type holds its light.
//!
//! # Files (in the output directory)
//!
//! | file | mode | one row per | columns |
//! |---|---|---|---|
//! | `truth_sorted.parquet`, `.csv` | compat | SortTruth row | [`SORTED_COLUMNS`] |
//! | `merged.parquet`, `.csv` | both | event (compat: MergeTruth row) | Fundamentals and Basics columns, then `truth_` + the SortTruth columns except `event_number` |
//! | `matched_peaks.parquet`, `.csv` | default | truth peak | see [`matched_columns`] |
//!
//! In the default mode `merged` has one row per event (the union of minitree and truth events,
//! sorted; `event_number` from either side): the truth `s1`, `s2` of an event are its truth peaks
//! of that type with the most photons (the first of equal counts), as hax's main S1 and S2 are
//! the largest; `other_s2` as in SortTruth. Missing values are null in Parquet and `nan` in the
//! CSV (as the minitree CSVs of `process`). Units: photons, ns, cm, pe, and `1` for fractions, in
//! the Parquet field metadata (`unit`). Every file gets a `<file>.manifest.json` sidecar (inputs:
//! the tables read) written after all data files; each file is written to a temporary name and
//! renamed when complete.
//!
//! # Summary
//!
//! [`MatchSummary`]: per truth type the counts of each outcome, the efficiency (reconstructed /
//! truth peaks) with its binomial standard error sqrt(e (1 - e) / n), and the mean of
//! `area / truth_n_photons` over reconstructed peaks with its standard error. The truth counts
//! photons at the PMTs before double-photoelectron emission and the SPE spectra have mean 1 in
//! units of the gain, so the expected ratio is `1 + p_dpe` (1.15 with the simulation's
//! `pmt.p_double_pe_emission`), a few per cent less for the single photoelectrons below pax's hit
//! threshold, more where PMT afterpulses join a peak. For S2s: the efficiency above
//! `large_s2_pe` (truth photons x (1 + p_dpe) > 200 pe), and the mean and rms of the
//! reconstructed minus truth x and y.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use hep_core::io::ParquetWriter;
use hep_core::manifest::Manifest;
use hep_core::progress::Progress;
use serde::{Deserialize, Serialize};

use crate::config::SimConfig;
use crate::error::{Error, Result};
use crate::instructions::py_float;
use crate::output::{TOOL, TRUTH_PEAKS};
use crate::process::job::PEAKS;
use crate::process::minitrees::{Kind, Minitree};

/// Stem of the SortTruth table (`.parquet`, `.csv`; compat mode).
pub const TRUTH_SORTED: &str = "truth_sorted";
/// Stem of the event-level minitree + truth table (`.parquet`, `.csv`).
pub const MERGED: &str = "merged";
/// Stem of the peak-level match table (`.parquet`, `.csv`; default mode).
pub const MATCHED_PEAKS: &str = "matched_peaks";

/// Options of `fax-sim match`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatchConfig {
    /// Reproduce the production's SortTruth + MergeTruth (event-number join, duplicated rows).
    pub compat: bool,
    /// A second candidate peak makes a `split` if its area is at least this fraction of the
    /// match's area (1).
    pub split_min_area_fraction: f64,
    /// Another truth peak sharing the match makes a `merged` if it holds at least this fraction of
    /// the truth peak's photons (1).
    pub merged_min_photon_fraction: f64,
    /// S2 size above which the S2 efficiency is reported separately (pe, truth photons x
    /// (1 + p_dpe)).
    pub large_s2_pe: f64,
    /// Double-photoelectron emission probability; absent: the simulation's
    /// `pmt.p_double_pe_emission` from the footer of `truth_peaks.parquet`.
    pub p_double_pe_emission: Option<f64>,
}

impl Default for MatchConfig {
    fn default() -> Self {
        Self {
            compat: false,
            split_min_area_fraction: 0.1,
            merged_min_photon_fraction: 0.1,
            large_s2_pe: 200.0,
            p_double_pe_emission: None,
        }
    }
}

impl MatchConfig {
    /// Checks the values' domains.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key.
    pub fn validate(&self) -> Result<()> {
        for (v, n) in [
            (self.split_min_area_fraction, "split_min_area_fraction"),
            (
                self.merged_min_photon_fraction,
                "merged_min_photon_fraction",
            ),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::Config(format!("{n}: expected >= 0, found {v}")));
            }
        }
        if !(self.large_s2_pe.is_finite() && self.large_s2_pe >= 0.0) {
            return Err(Error::Config(format!(
                "large_s2_pe: expected >= 0, found {}",
                self.large_s2_pe
            )));
        }
        if let Some(p) = self.p_double_pe_emission
            && !(0.0..=1.0).contains(&p)
        {
            return Err(Error::Config(format!(
                "p_double_pe_emission: expected 0 to 1, found {p}"
            )));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// A small column table (Parquet + CSV)
// ---------------------------------------------------------------------------------------------

/// Values of one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Int64 (counts, identifiers).
    Int(Vec<Option<i64>>),
    /// Float64 (measured values).
    Float(Vec<Option<f64>>),
    /// Utf8 (types, outcomes).
    Str(Vec<Option<String>>),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::Int(v) => v.len(),
            Values::Float(v) => v.len(),
            Values::Str(v) => v.len(),
        }
    }

    fn cell(&self, r: usize) -> String {
        match self {
            Values::Int(v) => v[r].map_or_else(|| "nan".into(), |x| x.to_string()),
            Values::Float(v) => v[r].map_or_else(|| "nan".into(), py_float),
            Values::Str(v) => v[r].clone().unwrap_or_else(|| "nan".into()),
        }
    }

    fn empty_like(&self) -> Self {
        match self {
            Values::Int(_) => Values::Int(Vec::new()),
            Values::Float(_) => Values::Float(Vec::new()),
            Values::Str(_) => Values::Str(Vec::new()),
        }
    }

    /// Appends row `r` of `src` (same kind), or a null for `None`.
    fn push_from(&mut self, src: &Values, r: Option<usize>) {
        match (self, src) {
            (Values::Int(a), Values::Int(b)) => a.push(r.and_then(|r| b[r])),
            (Values::Float(a), Values::Float(b)) => a.push(r.and_then(|r| b[r])),
            (Values::Str(a), Values::Str(b)) => a.push(r.and_then(|r| b[r].clone())),
            _ => unreachable!("push_from: same kinds by construction"),
        }
    }
}

/// One named column with its unit (`""` for none).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Name.
    pub name: String,
    /// Unit, `""` for identifiers, counts without unit and strings.
    pub unit: String,
    /// Values.
    pub values: Values,
}

/// A table of equally long columns, written as Parquet (nullable fields with `unit` metadata) and
/// as CSV (`nan` for missing values).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// The columns in order.
    pub columns: Vec<Column>,
}

impl Table {
    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.values.len())
    }

    /// Column names in order.
    pub fn names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// The column `name`.
    pub fn column(&self, name: &str) -> Option<&Values> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.values)
    }

    fn push(&mut self, name: &str, unit: &str, values: Values) {
        self.columns.push(Column {
            name: name.into(),
            unit: unit.into(),
            values,
        });
    }

    /// The Arrow schema (every field nullable).
    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| {
                    let dt = match c.values {
                        Values::Int(_) => DataType::Int64,
                        Values::Float(_) => DataType::Float64,
                        Values::Str(_) => DataType::Utf8,
                    };
                    let f = Field::new(&c.name, dt, true);
                    if c.unit.is_empty() {
                        f
                    } else {
                        f.with_metadata(HashMap::from([("unit".to_string(), c.unit.clone())]))
                    }
                })
                .collect::<Vec<_>>(),
        ))
    }

    /// The table as one record batch.
    ///
    /// # Errors
    /// Arrow errors (never for a table of equally long columns).
    pub fn batch(&self) -> Result<RecordBatch> {
        let cols: Vec<ArrayRef> = self
            .columns
            .iter()
            .map(|c| -> ArrayRef {
                match &c.values {
                    Values::Int(v) => Arc::new(Int64Array::from(v.clone())),
                    Values::Float(v) => Arc::new(Float64Array::from(v.clone())),
                    Values::Str(v) => Arc::new(StringArray::from(v.clone())),
                }
            })
            .collect();
        Ok(RecordBatch::try_new(self.schema(), cols)?)
    }

    /// Writes `<stem>.parquet` and `<stem>.csv` in `dir` (each atomically); returns both paths.
    ///
    /// # Errors
    /// I/O and Parquet errors naming the file.
    pub fn write(&self, dir: &Path, stem: &str, meta: &[(String, String)]) -> Result<[PathBuf; 2]> {
        let pq = dir.join(format!("{stem}.parquet"));
        let mut w = ParquetWriter::create(&pq, self.schema(), meta)?;
        w.write(&self.batch()?)?;
        w.finish()?;
        let csv_path = dir.join(format!("{stem}.csv"));
        let f = hep_core::io::AtomicFile::create(&csv_path)?;
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(f);
        let io = |e: csv::Error| Error::io(&csv_path, std::io::Error::other(e));
        w.write_record(self.names()).map_err(io)?;
        let mut rec = Vec::with_capacity(self.columns.len());
        for r in 0..self.num_rows() {
            rec.clear();
            rec.extend(self.columns.iter().map(|c| c.values.cell(r)));
            w.write_record(&rec).map_err(io)?;
        }
        let f = w
            .into_inner()
            .map_err(|e| Error::io(&csv_path, std::io::Error::other(e.to_string())))?;
        f.commit()?;
        Ok([pq, csv_path])
    }
}

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/// One row of the peak truth (the columns of `truth_peaks.parquet` that matching uses).
#[derive(Debug, Clone, PartialEq)]
pub struct TruthRow {
    /// Event number.
    pub event: i64,
    /// `s1`, `s2`, `photoionization_afterpulse`.
    pub peak_type: String,
    /// x (cm).
    pub x: f64,
    /// y (cm).
    pub y: f64,
    /// z (cm).
    pub z: f64,
    /// Fraction of the photons on the top array.
    pub top_fraction: f64,
    /// Photons at the PMTs.
    pub n_photons: i64,
    /// Mean photon time (ns since the event start).
    pub t_mean_photons: f64,
    /// First photon time (ns).
    pub t_first_photon: f64,
    /// Last photon time (ns).
    pub t_last_photon: f64,
    /// Spread of the photon times (ns).
    pub t_sigma_photons: f64,
    /// Extracted electrons (S2s).
    pub n_electrons: Option<i64>,
}

/// One reconstructed peak (the columns of `peaks.parquet` that matching uses).
#[derive(Debug, Clone, PartialEq)]
pub struct RecoPeak {
    /// Event number.
    pub event: i64,
    /// Index within the event.
    pub peak: i64,
    /// `s1`, `s2`, `unknown`, `lone_hit`.
    pub peak_type: String,
    /// First sample.
    pub left: i64,
    /// Last sample.
    pub right: i64,
    /// Area (pe).
    pub area: f64,
    /// Area fraction top.
    pub area_fraction_top: f64,
    /// Centre time (ns).
    pub center_time: f64,
    /// Mean hit time (ns).
    pub hit_time_mean: f64,
    /// 50 % area width (ns).
    pub range_50p_area: f64,
    /// Weighted-sum x (cm).
    pub x: Option<f64>,
    /// Weighted-sum y (cm).
    pub y: Option<f64>,
}

/// Reads a Parquet table batch by batch, locating column problems at the 1-based row.
fn read_rows<T>(
    path: &Path,
    mut f: impl FnMut(&RecordBatch, usize, u64) -> Result<T>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for b in hep_core::io::ParquetReader::open(path)? {
        let b = b?;
        for i in 0..b.num_rows() {
            let row = out.len() as u64 + 1;
            out.push(f(&b, i, row)?);
        }
    }
    Ok(out)
}

/// Column accessors that turn a missing, mistyped or null value into `path:row: expected ...`.
struct Cols<'a> {
    path: &'a Path,
    b: &'a RecordBatch,
}

impl<'a> Cols<'a> {
    fn arr<A: Array + 'static>(&self, name: &str, what: &str, row: u64) -> Result<&'a A> {
        let found = match self.b.column_by_name(name) {
            None => "no such column".to_string(),
            Some(c) => match c.as_any().downcast_ref::<A>() {
                Some(a) => return Ok(a),
                None => format!("type {}", c.data_type()),
            },
        };
        Err(Error::parse(
            self.path,
            row,
            format!("{what} column `{name}`"),
            found,
        ))
    }

    fn null(&self, name: &str, row: u64) -> Error {
        Error::parse(self.path, row, format!("a value in `{name}`"), "null")
    }

    fn i64(&self, name: &str, i: usize, row: u64) -> Result<i64> {
        let a = self.arr::<Int64Array>(name, "an Int64", row)?;
        if a.is_null(i) {
            return Err(self.null(name, row));
        }
        Ok(a.value(i))
    }

    fn opt_i64(&self, name: &str, i: usize, row: u64) -> Result<Option<i64>> {
        let a = self.arr::<Int64Array>(name, "an Int64", row)?;
        Ok((!a.is_null(i)).then(|| a.value(i)))
    }

    fn f64(&self, name: &str, i: usize, row: u64) -> Result<f64> {
        let a = self.arr::<Float64Array>(name, "a Float64", row)?;
        if a.is_null(i) {
            return Err(self.null(name, row));
        }
        Ok(a.value(i))
    }

    fn opt_f64(&self, name: &str, i: usize, row: u64) -> Result<Option<f64>> {
        let a = self.arr::<Float64Array>(name, "a Float64", row)?;
        Ok((!a.is_null(i)).then(|| a.value(i)))
    }

    fn str(&self, name: &str, i: usize, row: u64) -> Result<String> {
        let a = self.arr::<StringArray>(name, "a string", row)?;
        if a.is_null(i) {
            return Err(self.null(name, row));
        }
        Ok(a.value(i).to_string())
    }
}

/// Reads the peak truth (`truth_peaks.parquet` of `simulate`).
///
/// # Errors
/// `path:row: expected ..., found ...` for a missing, mistyped or null column value, a
/// non-finite time or a negative photon count; I/O and Parquet errors.
pub fn read_truth(path: &Path) -> Result<Vec<TruthRow>> {
    read_rows(path, |b, i, row| {
        let c = Cols { path, b };
        let t = TruthRow {
            event: c.i64("event", i, row)?,
            peak_type: c.str("peak_type", i, row)?,
            x: c.f64("x", i, row)?,
            y: c.f64("y", i, row)?,
            z: c.f64("z", i, row)?,
            top_fraction: c.f64("top_fraction", i, row)?,
            n_photons: c.i64("n_photons", i, row)?,
            t_mean_photons: c.f64("t_mean_photons", i, row)?,
            t_first_photon: c.f64("t_first_photon", i, row)?,
            t_last_photon: c.f64("t_last_photon", i, row)?,
            t_sigma_photons: c.f64("t_sigma_photons", i, row)?,
            n_electrons: c.opt_i64("n_electrons", i, row)?,
        };
        if t.n_photons < 0 {
            return Err(Error::parse(
                path,
                row,
                "n_photons >= 0",
                t.n_photons.to_string(),
            ));
        }
        let times = [t.t_first_photon, t.t_mean_photons, t.t_last_photon];
        if !times.iter().all(|v| v.is_finite()) || t.t_first_photon > t.t_last_photon {
            return Err(Error::parse(
                path,
                row,
                "finite photon times with t_first_photon <= t_last_photon",
                format!("{times:?}"),
            ));
        }
        Ok(t)
    })
}

/// Reads the reconstructed peaks (`peaks.parquet` of `process`).
///
/// # Errors
/// As [`read_truth`]; also `right < left`.
pub fn read_peaks(path: &Path) -> Result<Vec<RecoPeak>> {
    read_rows(path, |b, i, row| {
        let c = Cols { path, b };
        let p = RecoPeak {
            event: c.i64("event_number", i, row)?,
            peak: c.i64("peak", i, row)?,
            peak_type: c.str("type", i, row)?,
            left: c.i64("left", i, row)?,
            right: c.i64("right", i, row)?,
            area: c.f64("area", i, row)?,
            area_fraction_top: c.f64("area_fraction_top", i, row)?,
            center_time: c.f64("center_time", i, row)?,
            hit_time_mean: c.f64("hit_time_mean", i, row)?,
            range_50p_area: c.f64("range_50p_area", i, row)?,
            x: c.opt_f64("x", i, row)?,
            y: c.opt_f64("y", i, row)?,
        };
        if p.right < p.left {
            return Err(Error::parse(
                path,
                row,
                "left <= right",
                format!("left {}, right {}", p.left, p.right),
            ));
        }
        Ok(p)
    })
}

/// Reads the minitree `tree` (`<name>.parquet` of `process`) as a [`Table`] with hax's columns.
///
/// # Errors
/// As [`read_truth`], for every column of the minitree.
pub fn read_minitree(dir: &Path, tree: Minitree) -> Result<Table> {
    let path = dir.join(format!("{}.parquet", tree.name()));
    let cols = tree.columns();
    let mut t = Table::default();
    for c in &cols {
        t.push(
            &c.name,
            c.unit,
            match c.kind {
                Kind::Int => Values::Int(Vec::new()),
                Kind::Float => Values::Float(Vec::new()),
            },
        );
    }
    let mut row = 0u64;
    for b in hep_core::io::ParquetReader::open(&path)? {
        let b = b?;
        let c = Cols { path: &path, b: &b };
        for (k, col) in cols.iter().enumerate() {
            let index = col.name == "run_number" || col.name == "event_number";
            match (&mut t.columns[k].values, col.kind) {
                (Values::Int(v), Kind::Int) => {
                    for i in 0..b.num_rows() {
                        let x = c.opt_i64(&col.name, i, row + 1 + i as u64)?;
                        if index && x.is_none() {
                            return Err(c.null(&col.name, row + 1 + i as u64));
                        }
                        v.push(x);
                    }
                }
                (Values::Float(v), Kind::Float) => {
                    for i in 0..b.num_rows() {
                        v.push(c.opt_f64(&col.name, i, row + 1 + i as u64)?);
                    }
                }
                _ => unreachable!("minitree columns are Int or Float"),
            }
        }
        row += b.num_rows() as u64;
    }
    Ok(t)
}

/// Fundamentals and Basics of one `process` output, joined row by row: `run_number`,
/// `event_number`, Fundamentals' columns, then Basics' (hax's `load` of both treemakers).
///
/// # Errors
/// As [`read_minitree`]; `Basics.parquet:row: expected event N (as in Fundamentals), found M`
/// when the two do not list the same events in the same order.
pub fn read_event_minitree(dir: &Path) -> Result<Table> {
    let f = read_minitree(dir, Minitree::Fundamentals)?;
    let b = read_minitree(dir, Minitree::Basics)?;
    let ev = |t: &Table| match t.column("event_number") {
        Some(Values::Int(v)) => v.clone(),
        _ => Vec::new(),
    };
    let (ef, eb) = (ev(&f), ev(&b));
    let basics = dir.join("Basics.parquet");
    for r in 0..ef.len().max(eb.len()) {
        if ef.get(r) != eb.get(r) {
            return Err(Error::parse(
                &basics,
                r as u64 + 1,
                format!(
                    "event {} (as in Fundamentals.parquet)",
                    ef.get(r)
                        .copied()
                        .flatten()
                        .map_or("none".into(), |e| e.to_string())
                ),
                eb.get(r)
                    .copied()
                    .flatten()
                    .map_or("no row".into(), |e| format!("event {e}")),
            ));
        }
    }
    let mut t = f;
    t.columns.extend(
        b.columns
            .into_iter()
            .filter(|c| c.name != "run_number" && c.name != "event_number"),
    );
    Ok(t)
}

// ---------------------------------------------------------------------------------------------
// SortTruth and MergeTruth
// ---------------------------------------------------------------------------------------------

/// The SortTruth columns in pandas' order (the truth CSV's order after the renames).
pub const SORTED_COLUMNS: [&str; 15] = [
    "event_number",
    "s1_area_fraction_top",
    "s1",
    "s1_hit_time_mean",
    "s1_width",
    "x",
    "y",
    "s2_area_fraction_top",
    "s2",
    "s2_hit_time_mean",
    "s2_width",
    "other_s2_area_fraction_top",
    "other_s2",
    "other_s2_hit_time_mean",
    "other_s2_width",
];

/// One row of the sorted truth: the event and its S1, S2 and other-S2 truth rows (indices into
/// the truth table; `None` where the left join found nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortedRow {
    /// Event number.
    pub event_number: i64,
    /// The S1 truth row.
    pub s1: Option<usize>,
    /// The S2 truth row.
    pub s2: Option<usize>,
    /// The largest truth row of another type.
    pub other_s2: Option<usize>,
}

/// The events of `truth` in order of appearance (pandas `unique`).
fn unique_events(truth: &[TruthRow]) -> Vec<i64> {
    let mut seen = BTreeSet::new();
    truth
        .iter()
        .filter(|t| seen.insert(t.event))
        .map(|t| t.event)
        .collect()
}

/// Per event, the row with the most photons among `rows` (the first of equal counts).
fn largest_per_event(truth: &[TruthRow], keep: impl Fn(&TruthRow) -> bool) -> BTreeMap<i64, usize> {
    let mut m: BTreeMap<i64, usize> = BTreeMap::new();
    for (i, t) in truth.iter().enumerate().filter(|(_, t)| keep(t)) {
        match m.get(&t.event) {
            Some(&j) if truth[j].n_photons >= t.n_photons => {}
            _ => {
                m.insert(t.event, i);
            }
        }
    }
    m
}

fn is_other(t: &TruthRow) -> bool {
    t.peak_type != "s1" && t.peak_type != "s2"
}

/// SortTruth: the unique events left-joined with every S1 row, every S2 row and the largest
/// other row of the event (the cartesian product of an event's S1 and S2 rows).
pub fn sort_truth(truth: &[TruthRow]) -> Vec<SortedRow> {
    let other = largest_per_event(truth, is_other);
    let rows_of = |kind: &str, e: i64| -> Vec<Option<usize>> {
        let v: Vec<Option<usize>> = truth
            .iter()
            .enumerate()
            .filter(|(_, t)| t.event == e && t.peak_type == kind)
            .map(|(i, _)| Some(i))
            .collect();
        if v.is_empty() { vec![None] } else { v }
    };
    let mut out = Vec::new();
    for e in unique_events(truth) {
        for s1 in rows_of("s1", e) {
            for s2 in rows_of("s2", e) {
                out.push(SortedRow {
                    event_number: e,
                    s1,
                    s2,
                    other_s2: other.get(&e).copied(),
                });
            }
        }
    }
    out
}

/// One row per event (sorted by event): the S1 and S2 truth rows with the most photons, and the
/// largest other row.
pub fn event_truth(truth: &[TruthRow]) -> Vec<SortedRow> {
    let s1 = largest_per_event(truth, |t| t.peak_type == "s1");
    let s2 = largest_per_event(truth, |t| t.peak_type == "s2");
    let other = largest_per_event(truth, is_other);
    let events: BTreeSet<i64> = truth.iter().map(|t| t.event).collect();
    events
        .into_iter()
        .map(|e| SortedRow {
            event_number: e,
            s1: s1.get(&e).copied(),
            s2: s2.get(&e).copied(),
            other_s2: other.get(&e).copied(),
        })
        .collect()
}

/// The sorted truth as a table with [`SORTED_COLUMNS`], each name prefixed with `prefix`.
pub fn sorted_table(truth: &[TruthRow], rows: &[SortedRow], prefix: &str) -> Table {
    let mut t = Table::default();
    let n = |s: &str| format!("{prefix}{s}");
    t.push(
        &n("event_number"),
        "",
        Values::Int(rows.iter().map(|r| Some(r.event_number)).collect()),
    );
    type Pick = fn(&SortedRow) -> Option<usize>;
    let picks: [(&str, Pick); 3] = [
        ("s1", |r| r.s1),
        ("s2", |r| r.s2),
        ("other_s2", |r| r.other_s2),
    ];
    for (p, pick) in picks {
        let f = |g: fn(&TruthRow) -> f64| -> Values {
            Values::Float(rows.iter().map(|r| pick(r).map(|i| g(&truth[i]))).collect())
        };
        t.push(
            &n(&format!("{p}_area_fraction_top")),
            "1",
            f(|t| t.top_fraction),
        );
        t.push(
            &n(p),
            "photons",
            Values::Int(
                rows.iter()
                    .map(|r| pick(r).map(|i| truth[i].n_photons))
                    .collect(),
            ),
        );
        t.push(
            &n(&format!("{p}_hit_time_mean")),
            "ns",
            f(|t| t.t_mean_photons),
        );
        t.push(&n(&format!("{p}_width")), "ns", f(|t| t.t_sigma_photons));
        if p == "s2" {
            // s2_x, s2_y renamed x, y, in their place before the S2 columns.
            let k = t.columns.len() - 4;
            t.columns.insert(
                k,
                Column {
                    name: n("y"),
                    unit: "cm".into(),
                    values: f(|t| t.y),
                },
            );
            t.columns.insert(
                k,
                Column {
                    name: n("x"),
                    unit: "cm".into(),
                    values: f(|t| t.x),
                },
            );
        }
    }
    t
}

/// MergeTruth: the outer join of `minitree` (with `event_number`) and the sorted truth (columns
/// prefixed `truth_`, with `truth_event_number`) on the event number, keys sorted, the cartesian
/// product of the rows of a key; `truth_event_number` dropped. With `fill_event_number` a
/// truth-only row takes its event number from the truth (the original leaves it null).
///
/// # Errors
/// [`Error::InvalidArgument`] if either table lacks its Int64 event column.
pub fn merge_truth(minitree: &Table, truth: &Table, fill_event_number: bool) -> Result<Table> {
    let keys = |t: &Table, name: &str| -> Result<Vec<Option<i64>>> {
        match t.column(name) {
            Some(Values::Int(v)) => Ok(v.clone()),
            _ => Err(Error::InvalidArgument(format!(
                "merge: no Int64 column `{name}`"
            ))),
        }
    };
    let (lk, rk) = (
        keys(minitree, "event_number")?,
        keys(truth, "truth_event_number")?,
    );
    let mut by_key: BTreeMap<Option<i64>, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for (i, k) in lk.iter().enumerate() {
        by_key.entry(*k).or_default().0.push(i);
    }
    for (i, k) in rk.iter().enumerate() {
        by_key.entry(*k).or_default().1.push(i);
    }
    let mut pairs: Vec<(Option<usize>, Option<usize>)> = Vec::new();
    for (l, r) in by_key.values() {
        let l: Vec<Option<usize>> = if l.is_empty() {
            vec![None]
        } else {
            l.iter().map(|&i| Some(i)).collect()
        };
        let r: Vec<Option<usize>> = if r.is_empty() {
            vec![None]
        } else {
            r.iter().map(|&i| Some(i)).collect()
        };
        for &a in &l {
            for &b in &r {
                pairs.push((a, b));
            }
        }
    }
    let mut out = Table::default();
    for c in &minitree.columns {
        let mut v = c.values.empty_like();
        for &(a, b) in &pairs {
            if fill_event_number && c.name == "event_number" && a.is_none() {
                if let Values::Int(v) = &mut v {
                    v.push(b.and_then(|b| rk[b]));
                }
            } else {
                v.push_from(&c.values, a);
            }
        }
        out.push(&c.name, &c.unit, v);
    }
    for c in truth
        .columns
        .iter()
        .filter(|c| c.name != "truth_event_number")
    {
        let mut v = c.values.empty_like();
        for &(_, b) in &pairs {
            v.push_from(&c.values, b);
        }
        out.push(&c.name, &c.unit, v);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Peak-level matching
// ---------------------------------------------------------------------------------------------

/// How a truth peak was reconstructed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// One reconstructed peak of the truth type.
    Found,
    /// Matched, but the reconstructed type differs.
    Misclassified,
    /// Another significant reconstructed peak overlaps the truth interval.
    Split,
    /// The reconstructed peak is also the match of another significant truth peak.
    Merged,
    /// No reconstructed peak overlaps the truth interval.
    Lost,
}

impl Outcome {
    /// The spelling in the tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Found => "found",
            Outcome::Misclassified => "misclassified",
            Outcome::Split => "split",
            Outcome::Merged => "merged",
            Outcome::Lost => "lost",
        }
    }

    /// Found, split or merged: a reconstructed peak of the right type holds the light.
    pub fn is_reconstructed(self) -> bool {
        matches!(self, Outcome::Found | Outcome::Split | Outcome::Merged)
    }
}

/// The match of one truth peak.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeakMatch {
    /// Index into the truth rows.
    pub truth: usize,
    /// Index into the reconstructed peaks (`None` when lost).
    pub reco: Option<usize>,
    /// Outcome.
    pub outcome: Outcome,
    /// Reconstructed peaks overlapping the truth interval.
    pub n_overlapping: usize,
}

/// The reconstructed type expected for a truth type (`None`: not matched).
pub fn expected_type(truth_type: &str) -> Option<&'static str> {
    match truth_type {
        "s1" => Some("s1"),
        "s2" | "photoionization_afterpulse" => Some("s2"),
        _ => None,
    }
}

/// Matches every truth peak of a matched type to the reconstructed peaks of its event (see the
/// module documentation); `dt` is the sample duration (ns). Returns one match per such truth
/// row, in truth order.
pub fn match_peaks(
    truth: &[TruthRow],
    peaks: &[RecoPeak],
    dt: f64,
    cfg: &MatchConfig,
) -> Vec<PeakMatch> {
    let mut by_event: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, p) in peaks.iter().enumerate() {
        by_event.entry(p.event).or_default().push(i);
    }
    let empty = Vec::new();
    // (truth, best, candidates)
    let mut first: Vec<(usize, Option<usize>, Vec<usize>)> = Vec::new();
    for (ti, t) in truth.iter().enumerate() {
        if expected_type(&t.peak_type).is_none() {
            continue;
        }
        let (a, b) = (t.t_first_photon, t.t_last_photon);
        let mut cands = Vec::new();
        let mut best: Option<(bool, f64, f64, usize)> = None;
        for &pi in by_event.get(&t.event).unwrap_or(&empty) {
            let p = &peaks[pi];
            let (l, r) = (p.left as f64 * dt, (p.right + 1) as f64 * dt);
            let lo = a.max(l);
            let hi = b.min(r);
            // Half-open reco interval: a point truth interval overlaps when l <= t < r.
            if !(lo < hi || (lo == hi && lo >= l && lo < r)) {
                continue;
            }
            cands.push(pi);
            let contains = l <= t.t_mean_photons && t.t_mean_photons < r;
            // Containing peaks compare by area only; the others by overlap, then area.
            let key = (contains, if contains { 0.0 } else { hi - lo }, p.area, pi);
            let better = best.is_none_or(|k| {
                (key.0, key.1, key.2)
                    .partial_cmp(&(k.0, k.1, k.2))
                    .is_some_and(|o| o.is_gt())
            });
            if better {
                best = Some(key);
            }
        }
        first.push((ti, best.map(|k| k.3), cands));
    }
    // Which truth peaks picked each reconstructed peak.
    let mut picked_by: HashMap<usize, Vec<usize>> = HashMap::new();
    for (ti, best, _) in &first {
        if let Some(b) = best {
            picked_by.entry(*b).or_default().push(*ti);
        }
    }
    first
        .into_iter()
        .map(|(ti, best, cands)| {
            let t = &truth[ti];
            let outcome = match best {
                None => Outcome::Lost,
                Some(b) => {
                    let p = &peaks[b];
                    let others = &picked_by[&b];
                    if expected_type(&t.peak_type) != Some(p.peak_type.as_str()) {
                        Outcome::Misclassified
                    } else if others.iter().any(|&o| {
                        o != ti
                            && truth[o].n_photons as f64
                                >= cfg.merged_min_photon_fraction * t.n_photons as f64
                    }) {
                        Outcome::Merged
                    } else if cands.iter().any(|&c| {
                        c != b
                            && !picked_by.contains_key(&c)
                            && peaks[c].area >= cfg.split_min_area_fraction * p.area
                    }) {
                        Outcome::Split
                    } else {
                        Outcome::Found
                    }
                }
            };
            PeakMatch {
                truth: ti,
                reco: best,
                outcome,
                n_overlapping: cands.len(),
            }
        })
        .collect()
}

/// The columns of `matched_peaks`: (name, unit).
pub fn matched_columns() -> Vec<(&'static str, &'static str)> {
    vec![
        ("truth_peak_type", ""),
        ("truth_n_photons", "photons"),
        ("truth_t_mean_photons", "ns"),
        ("truth_t_first_photon", "ns"),
        ("truth_t_last_photon", "ns"),
        ("truth_t_sigma_photons", "ns"),
        ("truth_x", "cm"),
        ("truth_y", "cm"),
        ("truth_z", "cm"),
        ("truth_top_fraction", "1"),
        ("truth_n_electrons", "electrons"),
        ("event_number", ""),
        ("outcome", ""),
        ("n_overlapping_peaks", ""),
        ("peak", ""),
        ("type", ""),
        ("area", "pe"),
        ("area_fraction_top", "1"),
        ("center_time", "ns"),
        ("hit_time_mean", "ns"),
        ("range_50p_area", "ns"),
        ("x", "cm"),
        ("y", "cm"),
    ]
}

/// The `matched_peaks` table of `matches`.
pub fn matched_table(truth: &[TruthRow], peaks: &[RecoPeak], matches: &[PeakMatch]) -> Table {
    let mut t = Table::default();
    let units: HashMap<&str, &str> = matched_columns().into_iter().collect();
    let tr = |m: &PeakMatch| &truth[m.truth];
    let rp = |m: &PeakMatch| m.reco.map(|r| &peaks[r]);
    let pf = |t: &mut Table, name: &str, g: &dyn Fn(&PeakMatch) -> Option<f64>| {
        t.push(
            name,
            units[name],
            Values::Float(matches.iter().map(g).collect()),
        );
    };
    let push_i = |t: &mut Table, name: &str, g: &dyn Fn(&PeakMatch) -> Option<i64>| {
        t.push(
            name,
            units[name],
            Values::Int(matches.iter().map(g).collect()),
        );
    };
    let push_s = |t: &mut Table, name: &str, g: &dyn Fn(&PeakMatch) -> Option<String>| {
        t.push(
            name,
            units[name],
            Values::Str(matches.iter().map(g).collect()),
        );
    };
    push_s(&mut t, "truth_peak_type", &|m| {
        Some(tr(m).peak_type.clone())
    });
    push_i(&mut t, "truth_n_photons", &|m| Some(tr(m).n_photons));
    pf(&mut t, "truth_t_mean_photons", &|m| {
        Some(tr(m).t_mean_photons)
    });
    pf(&mut t, "truth_t_first_photon", &|m| {
        Some(tr(m).t_first_photon)
    });
    pf(&mut t, "truth_t_last_photon", &|m| {
        Some(tr(m).t_last_photon)
    });
    pf(&mut t, "truth_t_sigma_photons", &|m| {
        Some(tr(m).t_sigma_photons)
    });
    pf(&mut t, "truth_x", &|m| Some(tr(m).x));
    pf(&mut t, "truth_y", &|m| Some(tr(m).y));
    pf(&mut t, "truth_z", &|m| Some(tr(m).z));
    pf(&mut t, "truth_top_fraction", &|m| Some(tr(m).top_fraction));
    push_i(&mut t, "truth_n_electrons", &|m| tr(m).n_electrons);
    push_i(&mut t, "event_number", &|m| Some(tr(m).event));
    push_s(&mut t, "outcome", &|m| Some(m.outcome.as_str().to_string()));
    push_i(&mut t, "n_overlapping_peaks", &|m| {
        Some(m.n_overlapping as i64)
    });
    push_i(&mut t, "peak", &|m| rp(m).map(|p| p.peak));
    push_s(&mut t, "type", &|m| rp(m).map(|p| p.peak_type.clone()));
    pf(&mut t, "area", &|m| rp(m).map(|p| p.area));
    pf(&mut t, "area_fraction_top", &|m| {
        rp(m).map(|p| p.area_fraction_top)
    });
    pf(&mut t, "center_time", &|m| rp(m).map(|p| p.center_time));
    pf(&mut t, "hit_time_mean", &|m| rp(m).map(|p| p.hit_time_mean));
    pf(&mut t, "range_50p_area", &|m| {
        rp(m).map(|p| p.range_50p_area)
    });
    pf(&mut t, "x", &|m| rp(m).and_then(|p| p.x));
    pf(&mut t, "y", &|m| rp(m).and_then(|p| p.y));
    t
}

// ---------------------------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------------------------

/// An efficiency k / n with its binomial standard error sqrt(e (1 - e) / n) (0 without peaks).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Efficiency {
    /// Truth peaks.
    pub n: u64,
    /// Reconstructed (found, split or merged).
    pub k: u64,
    /// k / n (0 for n = 0).
    pub efficiency: f64,
    /// Binomial standard error.
    pub error: f64,
}

impl Efficiency {
    /// k out of n.
    pub fn new(k: u64, n: u64) -> Self {
        if n == 0 {
            return Self::default();
        }
        let e = k as f64 / n as f64;
        Self {
            n,
            k,
            efficiency: e,
            error: (e * (1.0 - e) / n as f64).sqrt(),
        }
    }
}

/// Mean and spread of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Moments {
    /// Entries.
    pub n: u64,
    /// Mean (0 without entries).
    pub mean: f64,
    /// Standard error of the mean (sample sd / sqrt(n); 0 below two entries).
    pub mean_error: f64,
    /// Root mean square (about 0).
    pub rms: f64,
}

impl Moments {
    /// The moments of `v`.
    pub fn of(v: &[f64]) -> Self {
        if v.is_empty() {
            return Self::default();
        }
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let sd = if v.len() > 1 {
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        Self {
            n: v.len() as u64,
            mean,
            mean_error: sd / n.sqrt(),
            rms: (v.iter().map(|x| x * x).sum::<f64>() / n).sqrt(),
        }
    }
}

/// Matching results of one truth type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypeSummary {
    /// Truth type (`s1`, `s2`, `photoionization_afterpulse`).
    pub peak_type: String,
    /// Truth peaks per outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// Reconstructed (found, split or merged) over truth peaks.
    pub efficiency: Efficiency,
    /// `area / truth_n_photons` (pe per photon) over the reconstructed peaks.
    pub area_per_photon: Moments,
}

/// Summary of a match run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchSummary {
    /// Compat mode.
    pub compat: bool,
    /// Events with truth.
    pub n_truth_events: u64,
    /// Events in the minitrees.
    pub n_minitree_events: u64,
    /// Rows of `merged`.
    pub n_merged_rows: u64,
    /// The double-photoelectron probability used.
    pub p_double_pe_emission: f64,
    /// Expected `area / truth_n_photons`: 1 + p_dpe (pe per photon).
    pub expected_area_per_photon: f64,
    /// Per truth type, in the order s1, s2, photoionization_afterpulse (types present only).
    pub types: Vec<TypeSummary>,
    /// S2s above `large_s2_pe`.
    pub large_s2_pe: f64,
    /// Efficiency of the S2s above `large_s2_pe`.
    pub large_s2_efficiency: Efficiency,
    /// Reconstructed minus truth x of reconstructed S2s with a position (cm).
    pub s2_dx_cm: Moments,
    /// Reconstructed minus truth y (cm).
    pub s2_dy_cm: Moments,
    /// Files written (data files, then manifests).
    pub outputs: Vec<PathBuf>,
}

impl MatchSummary {
    /// The summary of the truth type `t`, if present.
    pub fn of_type(&self, t: &str) -> Option<&TypeSummary> {
        self.types.iter().find(|s| s.peak_type == t)
    }
}

fn summarize(
    truth: &[TruthRow],
    peaks: &[RecoPeak],
    matches: &[PeakMatch],
    cfg: &MatchConfig,
    p_dpe: f64,
) -> (Vec<TypeSummary>, Efficiency, Moments, Moments) {
    let mut types = Vec::new();
    for ty in ["s1", "s2", "photoionization_afterpulse"] {
        let ms: Vec<&PeakMatch> = matches
            .iter()
            .filter(|m| truth[m.truth].peak_type == ty)
            .collect();
        if ms.is_empty() {
            continue;
        }
        let mut outcomes = BTreeMap::new();
        for o in [
            Outcome::Found,
            Outcome::Misclassified,
            Outcome::Split,
            Outcome::Merged,
            Outcome::Lost,
        ] {
            outcomes.insert(
                o.as_str().to_string(),
                ms.iter().filter(|m| m.outcome == o).count() as u64,
            );
        }
        let rec: Vec<&&PeakMatch> = ms.iter().filter(|m| m.outcome.is_reconstructed()).collect();
        let ratios: Vec<f64> = rec
            .iter()
            .filter(|m| truth[m.truth].n_photons > 0)
            .filter_map(|m| {
                m.reco
                    .map(|r| peaks[r].area / truth[m.truth].n_photons as f64)
            })
            .collect();
        types.push(TypeSummary {
            peak_type: ty.to_string(),
            outcomes,
            efficiency: Efficiency::new(rec.len() as u64, ms.len() as u64),
            area_per_photon: Moments::of(&ratios),
        });
    }
    let large: Vec<&PeakMatch> = matches
        .iter()
        .filter(|m| {
            let t = &truth[m.truth];
            t.peak_type == "s2" && t.n_photons as f64 * (1.0 + p_dpe) > cfg.large_s2_pe
        })
        .collect();
    let k = large
        .iter()
        .filter(|m| m.outcome.is_reconstructed())
        .count();
    let (mut dx, mut dy) = (Vec::new(), Vec::new());
    for m in matches
        .iter()
        .filter(|m| truth[m.truth].peak_type == "s2" && m.outcome.is_reconstructed())
    {
        if let Some(p) = m.reco.map(|r| &peaks[r])
            && let (Some(x), Some(y)) = (p.x, p.y)
        {
            dx.push(x - truth[m.truth].x);
            dy.push(y - truth[m.truth].y);
        }
    }
    (
        types,
        Efficiency::new(k as u64, large.len() as u64),
        Moments::of(&dx),
        Moments::of(&dy),
    )
}

// ---------------------------------------------------------------------------------------------
// The job
// ---------------------------------------------------------------------------------------------

/// The sample duration (ns) of `process`'s configuration in the footer of `peaks.parquet` (10 ns
/// when absent, pax's value and that of the schema).
fn sample_duration(peaks: &Path) -> Result<f64> {
    let meta = hep_core::io::read_parquet_metadata(peaks)?;
    Ok(meta
        .get("fax_sim.process_configuration")
        .and_then(|s| serde_json::from_str::<crate::process::ProcessConfig>(s).ok())
        .map_or(10.0, |c| c.sample_duration_ns as f64))
}

/// The double-PE probability: configured, or the simulation's from the truth table's footer.
fn p_dpe(cfg: &MatchConfig, truth: &Path) -> Result<f64> {
    if let Some(p) = cfg.p_double_pe_emission {
        return Ok(p);
    }
    let meta = hep_core::io::read_parquet_metadata(truth)?;
    meta.get("fax_sim.configuration")
        .and_then(|s| serde_json::from_str::<SimConfig>(s).ok())
        .map(|c| c.pmt.p_double_pe_emission)
        .ok_or_else(|| {
            Error::parse(
                truth,
                0,
                "the simulate configuration in the footer (fax_sim.configuration), or \
                 p_double_pe_emission in the match configuration",
                "none",
            )
        })
}

/// Runs `fax-sim match`: the truth of the `simulate` output `simulated` against the `process`
/// output `processed`, written into `out` (see the module documentation).
///
/// # Errors
/// [`Error::Config`] for a bad option; `path:row: expected ..., found ...` for a missing,
/// mistyped or null input column; I/O and Parquet errors. Nothing partial is left under the final
/// names.
pub fn run_match(
    cfg: &MatchConfig,
    simulated: &Path,
    processed: &Path,
    out: &Path,
    progress: &dyn Progress,
) -> Result<MatchSummary> {
    cfg.validate()?;
    let truth_path = simulated.join(TRUTH_PEAKS);
    let peaks_path = processed.join(PEAKS);
    progress.start("tables", 4);
    let truth = read_truth(&truth_path)?;
    let p_dpe = p_dpe(cfg, &truth_path)?;
    progress.advance(1);
    let peaks = read_peaks(&peaks_path)?;
    let dt = sample_duration(&peaks_path)?;
    progress.advance(1);
    let minitree = read_event_minitree(processed)?;
    progress.advance(1);
    let matches = match_peaks(&truth, &peaks, dt, cfg);
    let (types, large, dx, dy) = summarize(&truth, &peaks, &matches, cfg, p_dpe);
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let meta = vec![
        (
            "fax_sim.version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        (
            "fax_sim.match_configuration".to_string(),
            serde_json::to_string(cfg).map_err(|e| Error::Config(e.to_string()))?,
        ),
    ];
    let mut files = Vec::new();
    let merged = if cfg.compat {
        let sorted = sorted_table(&truth, &sort_truth(&truth), "");
        files.extend(sorted.write(out, TRUTH_SORTED, &meta)?);
        let prefixed = sorted_table(&truth, &sort_truth(&truth), "truth_");
        merge_truth(&minitree, &prefixed, false)?
    } else {
        files.extend(matched_table(&truth, &peaks, &matches).write(out, MATCHED_PEAKS, &meta)?);
        let prefixed = sorted_table(&truth, &event_truth(&truth), "truth_");
        merge_truth(&minitree, &prefixed, true)?
    };
    files.extend(merged.write(out, MERGED, &meta)?);
    progress.advance(1);
    progress.finish();
    let mut m = Manifest::start(TOOL, env!("CARGO_PKG_VERSION")).with_configuration(cfg)?;
    m.add_input(&truth_path)?;
    m.add_input(&peaks_path)?;
    m.add_input(processed.join("Fundamentals.parquet"))?;
    m.add_input(processed.join("Basics.parquet"))?;
    for f in &files {
        m.add_output(f)?;
    }
    m.finish();
    let mut outputs = files.clone();
    for f in &files {
        outputs.push(m.write_sidecar(f)?);
    }
    let n_minitree_events = minitree.num_rows() as u64;
    Ok(MatchSummary {
        compat: cfg.compat,
        n_truth_events: unique_events(&truth).len() as u64,
        n_minitree_events,
        n_merged_rows: merged.num_rows() as u64,
        p_double_pe_emission: p_dpe,
        expected_area_per_photon: 1.0 + p_dpe,
        types,
        large_s2_pe: cfg.large_s2_pe,
        large_s2_efficiency: large,
        s2_dx_cm: dx,
        s2_dy_cm: dy,
        outputs,
    })
}
