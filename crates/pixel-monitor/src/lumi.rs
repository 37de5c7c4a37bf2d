//! Luminosity: the OMS and brilcalc readers, per-fill and cumulative luminosity, and the
//! per-lumisection table that gives the luminosity of any time interval with two binary
//! searches.
//!
//! # Inputs
//!
//! * **OMS per-fill** JSON:API payload (`/agg/api/v1/fills` with `include=meta`): attributes
//!   `fill_number`, `delivered_lumi`, `recorded_lumi`; the unit of each from the resource's
//!   `meta.row.<attribute>.units` (`fb^{-1}`, `pb^{-1}`, `{\mu}b^{-1}`, `mb^{-1}`, `b^{-1}`).
//!   Fills without delivered luminosity > 0 are dropped, as the original's OMS query did.
//! * **brilcalc per run** (`brilcalc lumi -u /ub --output-style csv`): `#` lines, the header
//!   `#run:fill,time,nls,ncms,delivered(/ub),recorded(/ub)`, one row per run, then the
//!   `#Summary:` block. The unit is taken from the column header (`/ub`, `/nb`, `/pb`, `/fb`).
//! * **brilcalc per lumisection** (`--byls --tssec`): header
//!   `#run:fill,ls,time,beamstatus,E(GeV),delivered(/ub),recorded(/ub),avgpu,source`, `time`
//!   in epoch seconds (or a naive `MM/DD/YY HH:MM:SS`, read in the configured zone).
//!
//! # Interval luminosity
//!
//! [`LsLumi::delivered_fb`] of `[t1, t2)` is the sum of the lumisections whose timestamp (the
//! start of the lumisection, as brilcalc prints it) lies in `[t1, t2)`: a lumisection of
//! 23.3 s belongs wholly to the interval that holds its start. Prefix sums make every interval
//! two binary searches.
//!
//! # Per-fill luminosity (`get_integrated_luminosity.py`)
//!
//! Per fill the runs (or lumisections) are summed (Kahan-compensated, as pandas' `groupby().sum()`)
//! and converted to fb⁻¹; the cumulative columns are running sums in fill order. The original
//! grouped brilcalc rows by the fill number **as a string**, so fill 10000 came before 9999 and
//! every cumulative value after it was wrong; here fills are in integer order unless the
//! `lexicographic_fills` compatibility switch is on.
//!
//! # Output
//!
//! `fill,delivered (/fb),recorded (/fb),integrated delivered (/fb),integrated recorded (/fb)`,
//! numbers as Python's `repr` (what pandas' `to_csv` writes).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use serde::Serialize;

use crate::config::Compat;
use crate::error::{Error, Result};
use crate::fills::{
    Columns, attr, bad_record, csv_line, field_with_unit, json_api_resources, json_f64, json_u32,
};
use crate::pyfmt;
use crate::time::{Micros, TimeReader, US_PER_S};

/// Luminosity of one fill and the running totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FillLumi {
    /// Fill number.
    pub fill: u32,
    /// Delivered luminosity of the fill (fb⁻¹).
    pub delivered_fb: f64,
    /// Recorded luminosity of the fill (fb⁻¹).
    pub recorded_fb: f64,
    /// Delivered luminosity up to and including this fill (fb⁻¹).
    pub integrated_delivered_fb: f64,
    /// Recorded luminosity up to and including this fill (fb⁻¹).
    pub integrated_recorded_fb: f64,
}

/// The factor from a brilcalc unit suffix (`/ub`, `/nb`, `/pb`, `/fb`, `/mb`, `/b`) to fb⁻¹.
pub fn brilcalc_unit_to_fb(unit: &str) -> Option<f64> {
    Some(match unit.trim() {
        "/fb" => 1.0,
        "/pb" => 1e-3,
        "/nb" => 1e-6,
        "/ub" => 1e-9,
        "/mb" => 1e-12,
        "/b" => 1e-15,
        _ => return None,
    })
}

/// The factor from an OMS unit string to b⁻¹ (`get_integrated_luminosity.unit_to_factor`).
pub fn oms_unit_to_inverse_barn(unit: &str) -> Option<f64> {
    Some(match unit.trim() {
        "fb^{-1}" => 1e15,
        "pb^{-1}" => 1e12,
        "{\\mu}b^{-1}" => 1e6,
        "mb^{-1}" => 1e3,
        "b^{-1}" => 1.0,
        _ => return None,
    })
}

/// Kahan-compensated running sum (pandas' `groupby().sum()` of float columns).
#[derive(Debug, Clone, Copy, Default)]
struct Kahan {
    sum: f64,
    c: f64,
}

impl Kahan {
    fn add(&mut self, x: f64) {
        let y = x - self.c;
        let t = self.sum + y;
        self.c = (t - self.sum) - y;
        self.sum = t;
    }
}

/// One per-run or per-lumisection row of a brilcalc CSV, in the file's unit.
#[derive(Debug, Clone, PartialEq)]
pub struct BrilRow {
    /// Run number.
    pub run: u32,
    /// Fill number as written (a string, for the original's grouping).
    pub fill_text: String,
    /// Fill number.
    pub fill: u32,
    /// Timestamp (UTC µs).
    pub time: Micros,
    /// Delivered luminosity (fb⁻¹ after [`BrilTable::to_fb`]).
    pub delivered: f64,
    /// Recorded luminosity, same unit.
    pub recorded: f64,
}

/// A brilcalc CSV (per run or per lumisection).
#[derive(Debug, Clone, PartialEq)]
pub struct BrilTable {
    /// Rows in file order.
    pub rows: Vec<BrilRow>,
    /// The unit suffix of the luminosity columns (e.g. `/ub`).
    pub unit: String,
    /// Whether the file was per lumisection (`--byls`).
    pub by_ls: bool,
}

impl BrilTable {
    /// The factor from the file's unit to fb⁻¹.
    pub fn to_fb(&self) -> f64 {
        brilcalc_unit_to_fb(&self.unit).expect("checked on read")
    }
}

fn unit_of(header: &str) -> Option<String> {
    let open = header.find('(')?;
    let close = header[open..].find(')')? + open;
    Some(header[open + 1..close].to_string())
}

/// Reads a brilcalc `--output-style csv` file, per run or per lumisection (detected from the
/// header: an `ls` column means per lumisection).
///
/// # Errors
/// A located parse error for a missing header, an unknown unit, a malformed row or an
/// unparseable time; I/O errors.
pub fn read_brilcalc(path: &Path, time: &TimeReader) -> Result<BrilTable> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    // Comment lines (`#...`) come through the csv reader as records too, so that its line
    // numbers count every line: the header is the first one naming `run:fill`, `#Summary` ends
    // the data.
    let mut header: Option<Vec<String>> = None;
    let mut unit = String::new();
    let mut cols = (0, 0, 0, 0, 0);
    let mut rows = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    loop {
        let more = reader.read_record(&mut record).map_err(|e| {
            let line = e.position().map_or(0, csv::Position::line);
            Error::parse(path, line, "a brilcalc CSV row", e.to_string())
        })?;
        if !more {
            break;
        }
        let line_no = record.position().map_or(0, csv::Position::line);
        let line = record.iter().collect::<Vec<_>>().join(",");
        if let Some(rest) = record.get(0).and_then(|f| f.strip_prefix('#')) {
            if rest.trim_start().starts_with("Summary") {
                break;
            }
            if header.is_none() && line.contains("run:fill") {
                let names: Vec<String> = std::iter::once(rest)
                    .chain(record.iter().skip(1))
                    .map(|n| n.trim().to_ascii_lowercase())
                    .collect();
                let find = |p: &str| names.iter().position(|n| n.starts_with(p));
                let (Some(rf), Some(t), Some(d), Some(r)) = (
                    find("run:fill"),
                    find("time"),
                    find("delivered("),
                    find("recorded("),
                ) else {
                    return Err(Error::parse(
                        path,
                        line_no,
                        "a brilcalc header with run:fill, time, delivered(<unit>) and recorded(<unit>)",
                        format!("`{line}`"),
                    ));
                };
                unit = unit_of(&names[d]).unwrap_or_default();
                if brilcalc_unit_to_fb(&unit).is_none()
                    || unit_of(&names[r]).as_deref() != Some(unit.as_str())
                {
                    return Err(Error::parse(
                        path,
                        line_no,
                        "one luminosity unit /ub, /nb, /pb, /fb, /mb or /b in the delivered and recorded columns",
                        format!("`{}` and `{}`", names[d], names[r]),
                    ));
                }
                let ls = names.iter().position(|n| n == "ls").unwrap_or(usize::MAX);
                cols = (rf, t, d, r, ls);
                header = Some(names);
            }
            continue;
        }
        let Some(names) = &header else {
            return Err(Error::parse(
                path,
                line_no,
                "the brilcalc header `#run:fill,...` before the data",
                format!("`{line}`"),
            ));
        };
        let f = &record;
        if f.len() != names.len() {
            return Err(Error::parse(
                path,
                line_no,
                format!("{} comma-separated fields", names.len()),
                format!("{} in `{line}`", f.len()),
            ));
        }
        let (rf, tc, dc, rc, _) = cols;
        let (run, fill_text) = f[rf]
            .split_once(':')
            .ok_or_else(|| Error::parse(path, line_no, "`run:fill`", format!("`{}`", &f[rf])))?;
        let run: u32 = run.parse().map_err(|_| {
            Error::parse(path, line_no, "an integer run number", format!("`{run}`"))
        })?;
        let fill: u32 = fill_text.parse().map_err(|_| {
            Error::parse(
                path,
                line_no,
                "an integer fill number",
                format!("`{fill_text}`"),
            )
        })?;
        let t = &f[tc];
        let time_us = match t.parse::<i64>() {
            Ok(s) => s.checked_mul(US_PER_S),
            Err(_) => time.parse(t),
        }
        .ok_or_else(|| {
            Error::parse(
                path,
                line_no,
                "a time (epoch seconds or MM/DD/YY HH:MM:SS)",
                format!("`{t}`"),
            )
        })?;
        let num = |c: usize, name: &str| -> Result<f64> {
            f[c].parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| {
                    Error::parse(
                        path,
                        line_no,
                        format!("a number in `{name}`"),
                        format!("`{}`", &f[c]),
                    )
                })
        };
        rows.push(BrilRow {
            run,
            fill_text: fill_text.to_string(),
            fill,
            time: time_us,
            delivered: num(dc, "delivered")?,
            recorded: num(rc, "recorded")?,
        });
    }
    let Some(_) = header else {
        return Err(Error::parse(
            path,
            1,
            "a brilcalc CSV with a `#run:fill,...` header",
            "no header",
        ));
    };
    Ok(BrilTable {
        rows,
        unit,
        by_ls: cols.4 != usize::MAX,
    })
}

/// Per-fill luminosity from brilcalc rows: the rows of each fill summed, converted to fb⁻¹, in
/// integer fill order (string order with `compat.lexicographic_fills`), with running totals.
pub fn per_fill_from_brilcalc(table: &BrilTable, compat: &Compat) -> Vec<FillLumi> {
    let to_fb = table.to_fb();
    let mut groups: BTreeMap<(String, u32), (Kahan, Kahan)> = BTreeMap::new();
    for r in &table.rows {
        // The sort key: the fill text (string order) or a zero-padded number (integer order).
        let key = if compat.lexicographic_fills {
            (r.fill_text.clone(), r.fill)
        } else {
            (format!("{:010}", r.fill), r.fill)
        };
        let g = groups.entry(key).or_default();
        g.0.add(r.delivered);
        g.1.add(r.recorded);
    }
    cumulate(
        groups
            .into_iter()
            .map(|((_, fill), (d, r))| (fill, d.sum * to_fb, r.sum * to_fb))
            .collect(),
    )
}

/// Running totals over `(fill, delivered_fb, recorded_fb)` in the given order (numpy's
/// `cumsum`: a plain left-to-right sum).
pub fn cumulate(rows: Vec<(u32, f64, f64)>) -> Vec<FillLumi> {
    let mut cd = 0.0;
    let mut cr = 0.0;
    rows.into_iter()
        .map(|(fill, d, r)| {
            cd += d;
            cr += r;
            FillLumi {
                fill,
                delivered_fb: d,
                recorded_fb: r,
                integrated_delivered_fb: cd,
                integrated_recorded_fb: cr,
            }
        })
        .collect()
}

/// Reads OMS per-fill luminosity (JSON:API with `meta.row.<attribute>.units`) and returns the
/// per-fill luminosity in increasing fill order with running totals. Each value is converted as
/// the original does: value × unit factor (b⁻¹) × 1e-15.
///
/// # Errors
/// A located parse error for a record without `fill_number`, a non-numeric luminosity or an
/// unknown or missing unit; I/O errors.
pub fn read_oms_lumi(path: &Path) -> Result<Vec<FillLumi>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut rows = Vec::new();
    for (i, (a, meta)) in json_api_resources(path, &bytes)?.iter().enumerate() {
        let fill = match attr(a, "fill_number") {
            Some(Some(v)) => json_u32(path, i, "fill_number", v)?,
            _ => return Err(bad_record(path, i, "a `fill_number`", "none")),
        };
        let value = |name: &str| -> Result<Option<f64>> {
            let Some(Some(v)) = attr(a, name) else {
                return Ok(None);
            };
            let x = json_f64(path, i, name, v)?;
            let unit = meta
                .get("row")
                .and_then(|r| r.get(name))
                .and_then(|u| u.get("units"))
                .and_then(|u| u.as_str())
                .ok_or_else(|| bad_record(path, i, &format!("meta.row.{name}.units"), "none"))?;
            let factor = oms_unit_to_inverse_barn(unit).ok_or_else(|| {
                bad_record(
                    path,
                    i,
                    "a unit fb^{-1}, pb^{-1}, {\\mu}b^{-1}, mb^{-1} or b^{-1}",
                    format!("`{unit}`"),
                )
            })?;
            Ok(Some(x * factor * 1e-15))
        };
        let delivered = value("delivered_lumi")?;
        let recorded = value("recorded_lumi")?;
        let Some(d) = delivered.filter(|d| *d > 0.0) else {
            continue;
        };
        rows.push((fill, d, recorded.unwrap_or(f64::NAN)));
    }
    rows.sort_by_key(|r| r.0);
    Ok(cumulate(rows))
}

/// The lumi CSV of the original (see the module documentation).
pub fn lumi_csv_text(rows: &[FillLumi]) -> String {
    let mut s = crate::csv_text::CsvText::new([
        "fill",
        "delivered (/fb)",
        "recorded (/fb)",
        "integrated delivered (/fb)",
        "integrated recorded (/fb)",
    ]);
    for r in rows {
        let f = |x: f64| {
            if x.is_nan() {
                String::new()
            } else {
                pyfmt::repr(x)
            }
        };
        s.row([
            r.fill.to_string(),
            f(r.delivered_fb),
            f(r.recorded_fb),
            f(r.integrated_delivered_fb),
            f(r.integrated_recorded_fb),
        ]);
    }
    s.finish()
}

/// Writes the lumi CSV atomically.
///
/// # Errors
/// I/O errors; nothing is left at `path` then.
pub fn write_lumi_csv(path: &Path, rows: &[FillLumi]) -> Result<()> {
    let text = lumi_csv_text(rows);
    hep_core::io::atomic_write(path, |w| {
        w.write_all(text.as_bytes())
            .map_err(|e| hep_core::Error::io(path, e))
    })?;
    Ok(())
}

/// Reads the lumi CSV (`fill` and `integrated delivered (/fb)` are required; the other columns
/// are read when present).
///
/// # Errors
/// A located parse error for a missing column or a non-numeric value; I/O errors.
pub fn read_lumi_csv(path: &Path) -> Result<Vec<FillLumi>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut rdr = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
    let header = rdr
        .headers()
        .map_err(|e| Error::parse(path, 1, "a CSV header", e.to_string()))?
        .clone();
    let cols = Columns::new(&header);
    let c_fill = cols.require(path, "fill")?;
    let c_int = cols.require(path, "integrated delivered (/fb)")?;
    let c_del = cols.find("delivered (/fb)");
    let c_rec = cols.find("recorded (/fb)");
    let c_irec = cols.find("integrated recorded (/fb)");
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            Error::parse(
                path,
                e.position().map_or(0, |p| p.line()),
                "a CSV record",
                e.to_string(),
            )
        })?;
        let line = csv_line(&rec);
        let num = |c: Option<usize>, name: &str| -> Result<f64> {
            match c {
                None => Ok(f64::NAN),
                Some(i) => {
                    let s = rec.get(i).unwrap_or("").trim();
                    if s.is_empty() {
                        return Ok(f64::NAN);
                    }
                    s.parse().map_err(|_| {
                        Error::parse(
                            path,
                            line,
                            format!("a number in `{name}`"),
                            format!("`{s}`"),
                        )
                    })
                }
            }
        };
        let fs = rec.get(c_fill).unwrap_or("").trim();
        let fill = fs
            .parse()
            .map_err(|_| Error::parse(path, line, "an integer fill", format!("`{fs}`")))?;
        out.push(FillLumi {
            fill,
            delivered_fb: num(c_del, "delivered (/fb)")?,
            recorded_fb: num(c_rec, "recorded (/fb)")?,
            integrated_delivered_fb: num(Some(c_int), "integrated delivered (/fb)")?,
            integrated_recorded_fb: num(c_irec, "integrated recorded (/fb)")?,
        });
    }
    Ok(out)
}

/// The per-fill luminosity as an Arrow batch: `fill` (Int64), `delivered_fb`, `recorded_fb`,
/// `integrated_delivered_fb`, `integrated_recorded_fb` (Float64, fb⁻¹; null when unknown).
///
/// # Errors
/// Arrow errors (none for consistent input).
pub fn lumi_batch(rows: &[FillLumi]) -> Result<RecordBatch> {
    let f = |name: &str| field_with_unit(name, DataType::Float64, true, "fb^-1");
    let schema = Arc::new(Schema::new(vec![
        Field::new("fill", DataType::Int64, false),
        f("delivered_fb"),
        f("recorded_fb"),
        f("integrated_delivered_fb"),
        f("integrated_recorded_fb"),
    ]));
    let col = |g: &dyn Fn(&FillLumi) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| {
            let x = g(r);
            (!x.is_nan()).then_some(x)
        })))
    };
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| i64::from(r.fill)),
            )),
            col(&|r| r.delivered_fb),
            col(&|r| r.recorded_fb),
            col(&|r| r.integrated_delivered_fb),
            col(&|r| r.integrated_recorded_fb),
        ],
    )?)
}

/// Per-lumisection luminosity as prefix sums, for interval luminosity in O(log n).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LsLumi {
    /// Lumisection start times (UTC µs), sorted.
    pub time: Vec<Micros>,
    /// Fill of each lumisection.
    pub fill: Vec<u32>,
    /// `cum_delivered[i]` = delivered luminosity of lumisections `0..i` (fb⁻¹); length n + 1.
    pub cum_delivered: Vec<f64>,
    /// The same for recorded luminosity (fb⁻¹).
    pub cum_recorded: Vec<f64>,
}

impl LsLumi {
    /// Builds the prefix sums from a per-lumisection brilcalc table (rows sorted by time on the
    /// way; the sort is stable).
    ///
    /// # Errors
    /// [`Error::Data`] if the table is per run, not per lumisection.
    pub fn from_table(table: &BrilTable) -> Result<Self> {
        if !table.by_ls {
            return Err(Error::Data(
                "interval luminosity needs brilcalc output per lumisection (--byls --tssec)".into(),
            ));
        }
        let k = table.to_fb();
        let mut idx: Vec<usize> = (0..table.rows.len()).collect();
        idx.sort_by_key(|&i| table.rows[i].time);
        let mut s = Self {
            time: Vec::with_capacity(idx.len()),
            fill: Vec::with_capacity(idx.len()),
            cum_delivered: Vec::with_capacity(idx.len() + 1),
            cum_recorded: Vec::with_capacity(idx.len() + 1),
        };
        let (mut d, mut r) = (0.0, 0.0);
        s.cum_delivered.push(0.0);
        s.cum_recorded.push(0.0);
        for i in idx {
            let row = &table.rows[i];
            s.time.push(row.time);
            s.fill.push(row.fill);
            d += row.delivered * k;
            r += row.recorded * k;
            s.cum_delivered.push(d);
            s.cum_recorded.push(r);
        }
        Ok(s)
    }

    fn index(&self, t: Micros) -> usize {
        self.time.partition_point(|&x| x < t)
    }

    /// Delivered luminosity (fb⁻¹) of the lumisections starting in `[t1, t2)`; 0 if `t2 <= t1`.
    pub fn delivered_fb(&self, t1: Micros, t2: Micros) -> f64 {
        if t2 <= t1 {
            return 0.0;
        }
        self.cum_delivered[self.index(t2)] - self.cum_delivered[self.index(t1)]
    }

    /// Recorded luminosity (fb⁻¹) of the lumisections starting in `[t1, t2)`.
    pub fn recorded_fb(&self, t1: Micros, t2: Micros) -> f64 {
        if t2 <= t1 {
            return 0.0;
        }
        self.cum_recorded[self.index(t2)] - self.cum_recorded[self.index(t1)]
    }

    /// The delivered luminosity rate (fb⁻¹ s⁻¹) at `t`: that of the lumisection holding `t`
    /// (its luminosity over its nominal length of 23.31 s), 0 outside lumisections. The
    /// lumisection timestamps are whole seconds, so a lumisection holds `t` up to one second past
    /// its nominal end.
    pub fn rate_at(&self, t: Micros) -> f64 {
        let ls = crate::simulate::LS_SECONDS;
        match self.time.partition_point(|&x| x <= t).checked_sub(1) {
            Some(i) if ((t - self.time[i]) as f64) < (ls + 1.0) * US_PER_S as f64 => {
                (self.cum_delivered[i + 1] - self.cum_delivered[i]) / ls
            }
            _ => 0.0,
        }
    }

    /// Number of lumisections.
    pub fn len(&self) -> usize {
        self.time.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PER_RUN: &str = "#Data tag : 23v1 , Norm tag: None
#run:fill,time,nls,ncms,delivered(/ub),recorded(/ub)
357000:9999,08/01/22 10:00:23,500,498,1.0e8,9.5e7
357001:10000,08/02/22 10:00:23,300,300,5.0e7,4.8e7
357002:9999,08/01/22 14:00:23,500,499,1.0e8,9.7e7
#Summary:
#nfill,nrun,nls,ncms,totdelivered(/ub),totrecorded(/ub)
#2,3,1300,1297,2.5e8,2.4e8
";

    #[test]
    fn brilcalc_per_run_and_fill_order() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("lumi.csv");
        std::fs::write(&p, PER_RUN).unwrap();
        let t = read_brilcalc(&p, &TimeReader::utc()).unwrap();
        assert_eq!(t.rows.len(), 3);
        assert!(!t.by_ls);
        let fixed = per_fill_from_brilcalc(&t, &Compat::default());
        assert_eq!(
            fixed.iter().map(|r| r.fill).collect::<Vec<_>>(),
            vec![9999, 10000]
        );
        assert!((fixed[0].delivered_fb - 0.2).abs() < 1e-15);
        assert!((fixed[1].integrated_delivered_fb - 0.25).abs() < 1e-15);
        let compat = per_fill_from_brilcalc(
            &t,
            &Compat {
                lexicographic_fills: true,
                ..Compat::default()
            },
        );
        assert_eq!(
            compat.iter().map(|r| r.fill).collect::<Vec<_>>(),
            vec![10000, 9999]
        );
        assert!((compat[0].integrated_delivered_fb - 0.05).abs() < 1e-15);
        let text = lumi_csv_text(&fixed);
        assert!(text.starts_with("fill,delivered (/fb),recorded (/fb),integrated delivered (/fb),integrated recorded (/fb)\n9999,0.2,"), "{text}");
        let back = std::env::temp_dir();
        let _ = back;
    }

    #[test]
    fn per_ls_intervals() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("ls.csv");
        std::fs::write(
            &p,
            "#Data tag : 23v1 , Norm tag: None\n#run:fill,ls,time,beamstatus,E(GeV),delivered(/fb),recorded(/fb),avgpu,source\n\
             1:8000,1:1,1000,STABLE BEAMS,6800,0.5,0.4,50,HFOC\n1:8000,2:2,1020,STABLE BEAMS,6800,0.25,0.2,50,HFOC\n\
             1:8000,3:3,1040,STABLE BEAMS,6800,0.125,0.1,50,HFOC\n#Summary:\n",
        )
        .unwrap();
        let t = read_brilcalc(&p, &TimeReader::utc()).unwrap();
        let ls = LsLumi::from_table(&t).unwrap();
        let s = |x: i64| x * US_PER_S;
        assert_eq!(ls.delivered_fb(s(1000), s(1040)), 0.75);
        assert_eq!(ls.delivered_fb(s(1001), s(1041)), 0.375);
        assert_eq!(ls.delivered_fb(s(0), s(2000)), 0.875);
        assert_eq!(ls.delivered_fb(s(2000), s(1000)), 0.0);
    }

    #[test]
    fn bad_brilcalc() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("b.csv");
        std::fs::write(
            &p,
            "#run:fill,time,nls,ncms,delivered(/ub),recorded(/ub)\n357000:9999,bad time,1,1,1,1\n",
        )
        .unwrap();
        let e = read_brilcalc(&p, &TimeReader::utc())
            .unwrap_err()
            .to_string();
        assert!(e.contains("b.csv:2:") && e.contains("bad time"), "{e}");
        std::fs::write(&p, "#run:fill,time,nls,ncms,delivered(/xb),recorded(/xb)\n").unwrap();
        let e = read_brilcalc(&p, &TimeReader::utc())
            .unwrap_err()
            .to_string();
        assert!(e.contains("b.csv:1:") && e.contains("unit"), "{e}");
    }
}
