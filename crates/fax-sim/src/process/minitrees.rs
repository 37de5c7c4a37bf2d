//! hax minitrees, one row per event: Fundamentals, Basics, LargestPeakProperties, Corrections.
//!
//! Column names follow hax (`XENON1T/hax`, `hax/treemakers/common.py` for `Fundamentals` v0.1,
//! `Basics` v0.3 and `LargestPeakProperties` v0.1; `hax/treemakers/corrections.py` for
//! `Corrections` v1.6). Every minitree starts with hax's index columns `run_number` and
//! `event_number`. Units: areas in pe, times and widths in ns, positions in cm, `event_time` in
//! ns since the Unix epoch; the unit of each column is in [`Minitree::columns`] and in the
//! Parquet field metadata (`unit`).
//!
//! - **Fundamentals**: `event_time`, `event_duration`.
//! - **Basics**: the main interaction's `s1`, `s2`, `s1_area_fraction_top`,
//!   `s2_area_fraction_top`, `s1_range_50p_area`, `s2_range_50p_area`, `x_pax`, `y_pax` (the S2's
//!   weighted-sum position), `z` (from the drift time), `drift_time`; and `largest_other_s1`,
//!   `largest_other_s2`, `largest_veto`, `largest_unknown`, `largest_coincidence`: the largest
//!   area of each type among the peaks other than the main S1 and S2 (0 without one; this port
//!   has no veto and no `coincidence` type, so those two are always 0). An event without an
//!   S1-S2 pair fills only the `largest_*` columns.
//! - **LargestPeakProperties**: for the largest peak of each of `s1`, `s2`, `lone_hit`,
//!   `unknown`: `<type>_area`, `_area_fraction_top`, `_n_hits`, `_hit_time_std`, `_center_time`,
//!   `_n_saturated_channels`, `_n_contributing_channels`, `_range_50p_area`, `_range_90p_area`,
//!   `_x`, `_y` (weighted-sum position; hax takes TopPatternFit).
//! - **Corrections** (for the main interaction): `largest_other_s2`, `s2`, `x_observed`,
//!   `y_observed`, `r_observed`, `z_observed`, `s2_xy_correction_tot`, `s2_xy_correction_top`,
//!   `s2_xy_correction_bottom`, `s2_lifetime_correction`, `cs2`, `cs2_top`, `cs2_bottom`,
//!   `r_correction_2d`, `z_correction_2d`, `r`, `x`, `y`, `z`, `s1_xyz_correction`, `cs1`; see
//!   [`super::interactions`] for the formulas. hax names the observed positions by algorithm
//!   (`_tpf`, `_nn`); here they are the weighted-sum positions, without suffix.
//!
//! Missing values (no interaction, no peak of a type, no position) are null in Parquet and `nan`
//! in the CSV.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Schema, SchemaRef};

use super::EventResult;
use super::peaks::{Peak, PeakType};
use crate::error::{Error, Result};
use crate::instructions::py_float;

/// The storage type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A count or identifier (Int64).
    Int,
    /// A measured value (Float64).
    Float,
}

/// One minitree column: hax name, unit (`""` for identifiers and counts) and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Unit (`pe`, `ns`, `cm`, `1` for fractions and correction factors, `""` for none).
    pub unit: &'static str,
    /// Storage type.
    pub kind: Kind,
}

/// The four minitrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Minitree {
    /// hax `Fundamentals`.
    Fundamentals,
    /// hax `Basics`.
    Basics,
    /// hax `LargestPeakProperties`.
    LargestPeakProperties,
    /// hax `Corrections`.
    Corrections,
}

/// All minitrees, in output order.
pub const MINITREES: [Minitree; 4] = [
    Minitree::Fundamentals,
    Minitree::Basics,
    Minitree::LargestPeakProperties,
    Minitree::Corrections,
];

const LPP_TYPES: [(PeakType, &str); 4] = [
    (PeakType::S1, "s1"),
    (PeakType::S2, "s2"),
    (PeakType::LoneHit, "lone_hit"),
    (PeakType::Unknown, "unknown"),
];

const LPP_PROPS: [(&str, &str, Kind); 11] = [
    ("area", "pe", Kind::Float),
    ("area_fraction_top", "1", Kind::Float),
    ("n_hits", "", Kind::Int),
    ("hit_time_std", "ns", Kind::Float),
    ("center_time", "ns", Kind::Float),
    ("n_saturated_channels", "", Kind::Int),
    ("n_contributing_channels", "", Kind::Int),
    ("range_50p_area", "ns", Kind::Float),
    ("range_90p_area", "ns", Kind::Float),
    ("x", "cm", Kind::Float),
    ("y", "cm", Kind::Float),
];

impl Minitree {
    /// hax's name, also the file stem (`Basics.parquet`, `Basics.csv`).
    pub fn name(self) -> &'static str {
        match self {
            Minitree::Fundamentals => "Fundamentals",
            Minitree::Basics => "Basics",
            Minitree::LargestPeakProperties => "LargestPeakProperties",
            Minitree::Corrections => "Corrections",
        }
    }

    /// The columns, index columns first.
    pub fn columns(self) -> Vec<Column> {
        let c = |name: &str, unit: &'static str, kind: Kind| Column {
            name: name.to_string(),
            unit,
            kind,
        };
        let f = |name: &str, unit: &'static str| c(name, unit, Kind::Float);
        let mut v = vec![
            c("run_number", "", Kind::Int),
            c("event_number", "", Kind::Int),
        ];
        match self {
            Minitree::Fundamentals => {
                v.push(c("event_time", "ns since the Unix epoch", Kind::Int));
                v.push(c("event_duration", "ns", Kind::Int));
            }
            Minitree::Basics => {
                for (n, u) in [
                    ("s1", "pe"),
                    ("s2", "pe"),
                    ("s1_area_fraction_top", "1"),
                    ("s2_area_fraction_top", "1"),
                    ("s1_range_50p_area", "ns"),
                    ("s2_range_50p_area", "ns"),
                    ("x_pax", "cm"),
                    ("y_pax", "cm"),
                    ("z", "cm"),
                    ("drift_time", "ns"),
                    ("largest_other_s1", "pe"),
                    ("largest_other_s2", "pe"),
                    ("largest_veto", "pe"),
                    ("largest_unknown", "pe"),
                    ("largest_coincidence", "pe"),
                ] {
                    v.push(f(n, u));
                }
            }
            Minitree::LargestPeakProperties => {
                for (_, t) in LPP_TYPES {
                    for (p, u, k) in LPP_PROPS {
                        v.push(c(&format!("{t}_{p}"), u, k));
                    }
                }
            }
            Minitree::Corrections => {
                for (n, u) in [
                    ("largest_other_s2", "pe"),
                    ("s2", "pe"),
                    ("x_observed", "cm"),
                    ("y_observed", "cm"),
                    ("r_observed", "cm"),
                    ("z_observed", "cm"),
                    ("s2_xy_correction_tot", "1"),
                    ("s2_xy_correction_top", "1"),
                    ("s2_xy_correction_bottom", "1"),
                    ("s2_lifetime_correction", "1"),
                    ("cs2", "pe"),
                    ("cs2_top", "pe"),
                    ("cs2_bottom", "pe"),
                    ("r_correction_2d", "cm"),
                    ("z_correction_2d", "cm"),
                    ("r", "cm"),
                    ("x", "cm"),
                    ("y", "cm"),
                    ("z", "cm"),
                    ("s1_xyz_correction", "1"),
                    ("cs1", "pe"),
                ] {
                    v.push(f(n, u));
                }
            }
        }
        v
    }

    /// The Arrow schema (nullable except the index columns; `unit` metadata when there is one).
    pub fn schema(self) -> SchemaRef {
        let fields: Vec<_> = self
            .columns()
            .into_iter()
            .map(|c| {
                let dt = match c.kind {
                    Kind::Int => DataType::Int64,
                    Kind::Float => DataType::Float64,
                };
                let index = c.name == "run_number" || c.name == "event_number";
                let f = arrow_schema::Field::new(&c.name, dt, !index);
                if c.unit.is_empty() {
                    f
                } else {
                    f.with_metadata(std::collections::HashMap::from([(
                        "unit".to_string(),
                        c.unit.to_string(),
                    )]))
                }
            })
            .collect();
        Arc::new(Schema::new(fields))
    }
}

/// The identity of an event in the minitrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventId {
    /// Run number.
    pub run_number: i64,
    /// Event number.
    pub event_number: i64,
    /// Start of the event (ns since the Unix epoch).
    pub event_time: i64,
    /// Length of the event (ns).
    pub event_duration: i64,
}

/// Largest area per type among peaks not in `exclude` (hax `get_largest_indices`: strictly larger
/// than the previous and than 0; the first of equal areas wins). Returns peak indices.
fn largest_of_type(peaks: &[Peak], exclude: &[usize], t: PeakType) -> Option<usize> {
    let mut best: Option<usize> = None;
    let mut area = 0.0;
    for (i, p) in peaks.iter().enumerate() {
        if p.peak_type == t && !exclude.contains(&i) && p.area > area {
            area = p.area;
            best = Some(i);
        }
    }
    best
}

/// The row of `tree` for one event: one value per column (None = missing).
pub fn row(tree: Minitree, id: &EventId, r: &EventResult) -> Vec<Option<f64>> {
    let mut v = vec![Some(id.run_number as f64), Some(id.event_number as f64)];
    let main = r.interactions.first();
    let exclude: Vec<usize> = main.map(|i| vec![i.s1, i.s2]).unwrap_or_default();
    let largest =
        |t: PeakType| Some(largest_of_type(&r.peaks, &exclude, t).map_or(0.0, |i| r.peaks[i].area));
    let fin = |x: f64| x.is_finite().then_some(x);
    match tree {
        Minitree::Fundamentals => {
            v.push(Some(id.event_time as f64));
            v.push(Some(id.event_duration as f64));
        }
        Minitree::Basics => {
            match main {
                Some(i) => {
                    let (s1, s2) = (&r.peaks[i.s1], &r.peaks[i.s2]);
                    v.extend([
                        Some(s1.area),
                        Some(s2.area),
                        fin(s1.area_fraction_top),
                        fin(s2.area_fraction_top),
                        fin(s1.range_50p_area()),
                        fin(s2.range_50p_area()),
                        fin(i.x_observed),
                        fin(i.y_observed),
                        fin(i.z_observed),
                        Some(i.drift_time),
                    ]);
                }
                None => v.extend([None; 10]),
            }
            v.extend([
                largest(PeakType::S1),
                largest(PeakType::S2),
                Some(0.0),
                largest(PeakType::Unknown),
                Some(0.0),
            ]);
        }
        Minitree::LargestPeakProperties => {
            for (t, _) in LPP_TYPES {
                match largest_of_type(&r.peaks, &[], t) {
                    Some(k) => {
                        let p = &r.peaks[k];
                        v.extend([
                            Some(p.area),
                            fin(p.area_fraction_top),
                            Some(f64::from(p.n_hits)),
                            fin(p.hit_time_std),
                            fin(p.center_time),
                            Some(f64::from(p.n_saturated_channels)),
                            Some(f64::from(p.n_contributing_channels)),
                            fin(p.range_50p_area()),
                            fin(p.range_90p_area()),
                            fin(p.x),
                            fin(p.y),
                        ]);
                    }
                    None => v.extend([None; 11]),
                }
            }
        }
        Minitree::Corrections => match main {
            Some(i) => {
                let (s1, s2) = (&r.peaks[i.s1], &r.peaks[i.s2]);
                let lt = i.s2_lifetime_correction;
                let aft = s2.area_fraction_top;
                v.extend(
                    [
                        largest(PeakType::S2).unwrap_or(0.0),
                        s2.area,
                        i.x_observed,
                        i.y_observed,
                        i.r_observed(),
                        i.z_observed,
                        i.s2_xy_correction_tot,
                        i.s2_xy_correction_top,
                        i.s2_xy_correction_bottom,
                        lt,
                        s2.area * lt * i.s2_xy_correction_tot,
                        s2.area * aft * lt * i.s2_xy_correction_top,
                        s2.area * (1.0 - aft) * lt * i.s2_xy_correction_bottom,
                        i.r_correction_2d,
                        i.z_correction_2d,
                        i.r(),
                        i.x,
                        i.y,
                        i.z,
                        i.s1_xyz_correction,
                        s1.area * i.s1_xyz_correction,
                    ]
                    .map(fin),
                );
            }
            None => v.extend([None; 21]),
        },
    }
    v
}

/// A record batch of `tree` from rows made by [`row`].
///
/// # Errors
/// Arrow errors (never for rows of [`row`]).
pub fn batch(tree: Minitree, rows: &[Vec<Option<f64>>]) -> Result<RecordBatch> {
    let cols: Vec<ArrayRef> = tree
        .columns()
        .iter()
        .enumerate()
        .map(|(j, c)| -> ArrayRef {
            match c.kind {
                Kind::Int => Arc::new(Int64Array::from_iter(
                    rows.iter().map(|r| r[j].map(|v| v as i64)),
                )),
                Kind::Float => Arc::new(Float64Array::from_iter(rows.iter().map(|r| r[j]))),
            }
        })
        .collect();
    Ok(RecordBatch::try_new(tree.schema(), cols)?)
}

/// A minitree in hax's CSV form (header of column names; floats as Python prints them; missing
/// values `nan`), written atomically with the `csv` crate.
pub struct MinitreeCsv {
    w: csv::Writer<hep_core::io::AtomicFile>,
    path: std::path::PathBuf,
    kinds: Vec<Kind>,
    rec: Vec<String>,
}

impl MinitreeCsv {
    /// Starts the CSV of `tree` at `path` (nothing appears there before [`MinitreeCsv::finish`]).
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn create(tree: Minitree, path: &Path) -> Result<Self> {
        let f = hep_core::io::AtomicFile::create(path)?;
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(f);
        let cols = tree.columns();
        w.write_record(cols.iter().map(|c| c.name.as_str()))
            .map_err(|e| Error::io(path, std::io::Error::other(e)))?;
        Ok(Self {
            w,
            path: path.to_path_buf(),
            kinds: cols.iter().map(|c| c.kind).collect(),
            rec: Vec::new(),
        })
    }

    /// Appends rows made by [`row`].
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn write(&mut self, rows: &[Vec<Option<f64>>]) -> Result<()> {
        for r in rows {
            self.rec.clear();
            for (v, k) in r.iter().zip(&self.kinds) {
                self.rec.push(match (v, k) {
                    (None, _) => "nan".to_string(),
                    (Some(x), Kind::Int) => (*x as i64).to_string(),
                    (Some(x), Kind::Float) => py_float(*x),
                });
            }
            self.w
                .write_record(&self.rec)
                .map_err(|e| Error::io(&self.path, std::io::Error::other(e)))?;
        }
        Ok(())
    }

    /// Flushes and renames the CSV into place.
    ///
    /// # Errors
    /// I/O errors naming the file.
    pub fn finish(self) -> Result<()> {
        let path = self.path;
        let f = self
            .w
            .into_inner()
            .map_err(|e| Error::io(&path, std::io::Error::other(e.to_string())))?;
        f.commit()?;
        Ok(())
    }
}
