//! The DCS time series as the conditions database exports them, held in a columnar store that is
//! sorted by channel and time once, on read.
//!
//! DCS archiving is change based: a row is written when a value changes (beyond a dead band), so
//! the value at time t is the latest change at or before t. Every per-fill or per-interval value
//! of the crate is such an **as-of lookup** (one binary search in the channel's times) or a
//! window over the same sorted times, never a query per fill; the store's size depends on the
//! number of change rows, not on the number of fills asked about.
//!
//! # Exports read (CSV with a header, or Parquet; column names case-insensitive)
//!
//! | kind | columns | unit |
//! |---|---|---|
//! | CAEN channels (`fwcaenchannel`) | `alias` (the full DCS alias, e.g. `CMS_TRACKER/.../PixelBarrel_BpI_S1_LAY14/channel002`, or its last two elements under `cable`), `change_date`, `actual_imon`, `actual_vmon` | Imon in A for LV channels 000/001, in µA for HV channels 002/003; Vmon in V |
//! | PLC sensors (`tkplcreadsensor`) | `alias` and/or `part` (the last alias element, e.g. `PixelBarrel_BmI_1I_L4D2MN`), `change_date`, `value_converted` | °C |
//! | HV set values (`v_voltages`) | `cable` (e.g. `PixelBarrel_BmI_S4_LAY14/HV1`), `change_date`, `value` | V |
//!
//! `change_date` is a naive wall time (read in the configured zone, UTC by default), a time with
//! a zone, or in Parquet a timestamp column (any unit; without a zone it is read in the configured
//! zone). Values are numbers; an empty field or a Parquet null is a null. CAEN rows with a null
//! Imon are dropped (the original's queries require `actual_Imon is not NULL`); PLC rows with a
//! null value are kept as NaN (the air-temperature files print them as `None`).
//!
//! The channel names are interned to `u32` ids; each channel's rows are one contiguous slice of
//! the time and value columns. An export sorted by channel and time (or by time, as Oracle's
//! `ORDER BY change_date` gives) is reordered with one counting sort by channel; a channel whose
//! times are not sorted is sorted on its own.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, Float32Array, Float64Array, Int32Array, Int64Array, LargeStringArray,
    RecordBatch, StringArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fills::{field_with_unit, timestamp_type};
use crate::geometry::cable_of_alias;
use crate::time::{Micros, TimeReader, US_PER_S};

/// The three kinds of DCS export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DcsKind {
    /// CAEN power-supply channels: Imon and Vmon.
    Caen,
    /// PLC sensors: temperatures.
    Plc,
    /// HV set values (`v_voltages`).
    Hv,
}

impl DcsKind {
    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Caen => "CAEN",
            Self::Plc => "PLC",
            Self::Hv => "HV",
        }
    }
}

/// What reading an export found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DcsReadReport {
    /// Data rows read.
    pub rows: u64,
    /// Rows dropped because the main value (Imon) was null.
    pub null_dropped: u64,
    /// Rows kept with a null value (NaN in the store).
    pub null_kept: u64,
    /// Distinct channels.
    pub channels: usize,
    /// Whether the rows had to be reordered (not grouped by channel with increasing times).
    pub reordered: bool,
}

/// The rows of one channel: parallel slices of times and values.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// Change times (UTC µs), non-decreasing.
    pub times: &'a [Micros],
    /// The main value (Imon, temperature, HV); NaN for null.
    pub values: &'a [f64],
    /// The second value (CAEN Vmon; NaN for null); empty for PLC and HV.
    pub values2: &'a [f64],
}

impl<'a> Series<'a> {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether the channel has no rows.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Index of the latest change at or before `t`.
    pub fn at_or_before(&self, t: Micros) -> Option<usize> {
        self.times.partition_point(|&x| x <= t).checked_sub(1)
    }

    /// Index of the latest change strictly before `t`.
    pub fn before(&self, t: Micros) -> Option<usize> {
        self.times.partition_point(|&x| x < t).checked_sub(1)
    }

    /// Index of the latest change in `[lo, hi]` (both ends included, as SQL `BETWEEN`).
    pub fn latest_in_closed(&self, lo: Micros, hi: Micros) -> Option<usize> {
        self.at_or_before(hi).filter(|&i| self.times[i] >= lo)
    }

    /// The index range of the changes in `[lo, hi)`.
    pub fn range_half_open(&self, lo: Micros, hi: Micros) -> std::ops::Range<usize> {
        let a = self.times.partition_point(|&x| x < lo);
        let b = self.times.partition_point(|&x| x < hi);
        a..b.max(a)
    }

    /// The index range of the changes in `[lo, hi]`.
    pub fn range_closed(&self, lo: Micros, hi: Micros) -> std::ops::Range<usize> {
        let a = self.times.partition_point(|&x| x < lo);
        let b = self.times.partition_point(|&x| x <= hi);
        a..b.max(a)
    }
}

/// A columnar store of one export: channels interned to ids, rows grouped by channel and sorted
/// by time.
#[derive(Debug, Clone, Default)]
pub struct DcsStore {
    kind: Option<DcsKind>,
    names: Vec<String>,
    index: HashMap<String, u32>,
    offsets: Vec<usize>,
    times: Vec<Micros>,
    values: Vec<f64>,
    values2: Vec<f64>,
    /// What reading found.
    pub report: DcsReadReport,
}

/// Rows collected while reading, before the sort.
#[derive(Default)]
struct Builder {
    names: Vec<String>,
    index: HashMap<String, u32>,
    last: Option<(String, u32)>,
    ids: Vec<u32>,
    times: Vec<Micros>,
    values: Vec<f64>,
    values2: Vec<f64>,
    two: bool,
    report: DcsReadReport,
}

impl Builder {
    fn id(&mut self, name: &str) -> u32 {
        if let Some((n, id)) = &self.last
            && n == name
        {
            return *id;
        }
        let id = match self.index.get(name) {
            Some(&id) => id,
            None => {
                let id = self.names.len() as u32;
                self.names.push(name.to_string());
                self.index.insert(name.to_string(), id);
                id
            }
        };
        // Reuse the buffer of the previous name (exports come grouped by channel, so this is
        // rare, but a scattered export must not allocate per row).
        match &mut self.last {
            Some((n, last_id)) => {
                n.clear();
                n.push_str(name);
                *last_id = id;
            }
            None => self.last = Some((name.to_string(), id)),
        }
        id
    }

    fn push(&mut self, name: &str, t: Micros, v: f64, v2: f64) {
        let id = self.id(name);
        self.ids.push(id);
        self.times.push(t);
        self.values.push(v);
        if self.two {
            self.values2.push(v2);
        }
    }

    fn finish(self, kind: DcsKind) -> DcsStore {
        let Builder {
            names,
            index,
            ids,
            times,
            values,
            values2,
            two,
            mut report,
            ..
        } = self;
        let n_ch = names.len();
        let n = ids.len();
        let mut counts = vec![0usize; n_ch + 1];
        for &id in &ids {
            counts[id as usize + 1] += 1;
        }
        let mut offsets = counts;
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        let grouped = ids.windows(2).all(|w| w[0] <= w[1]);
        let (mut times, mut values, mut values2) = if grouped {
            (times, values, values2)
        } else {
            report.reordered = true;
            // Stable counting sort by channel id.
            let mut next = offsets.clone();
            let mut t2 = vec![0; n];
            let mut v2 = vec![0.0; n];
            let mut w2 = if two { vec![0.0; n] } else { Vec::new() };
            for (i, &id) in ids.iter().enumerate() {
                let k = next[id as usize];
                next[id as usize] += 1;
                t2[k] = times[i];
                v2[k] = values[i];
                if two {
                    w2[k] = values2[i];
                }
            }
            (t2, v2, w2)
        };
        drop(ids);
        for c in 0..n_ch {
            let r = offsets[c]..offsets[c + 1];
            if !times[r.clone()].windows(2).all(|w| w[0] <= w[1]) {
                report.reordered = true;
                let mut idx: Vec<usize> = r.clone().collect();
                idx.sort_by_key(|&i| times[i]);
                let t: Vec<_> = idx.iter().map(|&i| times[i]).collect();
                let v: Vec<_> = idx.iter().map(|&i| values[i]).collect();
                times[r.clone()].copy_from_slice(&t);
                values[r.clone()].copy_from_slice(&v);
                if two {
                    let w: Vec<_> = idx.iter().map(|&i| values2[i]).collect();
                    values2[r.clone()].copy_from_slice(&w);
                }
            }
        }
        report.channels = n_ch;
        DcsStore {
            kind: Some(kind),
            names,
            index,
            offsets,
            times,
            values,
            values2,
            report,
        }
    }
}

impl DcsStore {
    /// The kind of export the store holds (`None` for an empty default store).
    pub fn kind(&self) -> Option<DcsKind> {
        self.kind
    }

    /// The channel names (CAEN cables, PLC parts, HV cables), in order of first appearance.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of channels.
    pub fn n_channels(&self) -> usize {
        self.names.len()
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.times.len()
    }

    /// The id of channel `name`.
    pub fn id(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    /// The rows of channel `id`.
    ///
    /// # Panics
    /// If `id` is not a channel id of this store.
    pub fn series(&self, id: u32) -> Series<'_> {
        let r = self.offsets[id as usize]..self.offsets[id as usize + 1];
        Series {
            times: &self.times[r.clone()],
            values: &self.values[r.clone()],
            values2: if self.values2.is_empty() {
                &[]
            } else {
                &self.values2[r]
            },
        }
    }

    /// The rows of channel `name` (an empty series for an unknown name).
    pub fn series_by_name(&self, name: &str) -> Series<'_> {
        match self.id(name) {
            Some(id) => self.series(id),
            None => Series {
                times: &[],
                values: &[],
                values2: &[],
            },
        }
    }

    /// The earliest change time of the store.
    pub fn first_time(&self) -> Option<Micros> {
        (0..self.names.len())
            .filter_map(|c| self.series(c as u32).times.first().copied())
            .min()
    }

    /// Reads an export: Parquet if the file name ends in `.parquet` (streamed batch by batch),
    /// CSV otherwise.
    ///
    /// # Errors
    /// A located parse error (`path:line` for CSV, `path:row` for Parquet) for a missing column,
    /// an unparseable time or number; I/O and Parquet errors.
    pub fn read(path: &Path, kind: DcsKind, time: &TimeReader) -> Result<Self> {
        if hep_core::io::file_extension(path).as_deref() == Some("parquet") {
            read_parquet(path, kind, time)
        } else {
            read_csv(path, kind, time)
        }
    }

    /// A store built from rows `(channel, time, value, value2)` (value2 is Vmon for CAEN,
    /// ignored otherwise); for tests and for data generated in memory.
    pub fn from_rows<'a>(
        kind: DcsKind,
        rows: impl IntoIterator<Item = (&'a str, Micros, f64, f64)>,
    ) -> Self {
        let mut b = Builder {
            two: kind == DcsKind::Caen,
            ..Builder::default()
        };
        for (name, t, v, v2) in rows {
            b.report.rows += 1;
            b.push(name, t, v, v2);
        }
        b.finish(kind)
    }
}

/// Column positions of an export.
struct ExportColumns {
    name: usize,
    name_is_alias: bool,
    time: usize,
    value: usize,
    value2: Option<usize>,
}

fn export_columns(path: &Path, kind: DcsKind, names: &[String]) -> Result<ExportColumns> {
    let find = |n: &str| names.iter().position(|h| h.eq_ignore_ascii_case(n));
    let missing = |what: &str| {
        Error::parse(
            path,
            1,
            format!("a {} export with a `{what}` column", kind.name()),
            format!("columns {}", names.join(",")),
        )
    };
    let time = find("change_date").ok_or_else(|| missing("change_date"))?;
    let (name, name_is_alias) = match kind {
        DcsKind::Caen => match find("cable") {
            Some(c) => (c, false),
            None => (find("alias").ok_or_else(|| missing("alias"))?, true),
        },
        DcsKind::Plc => match find("part") {
            Some(c) => (c, false),
            None => (find("alias").ok_or_else(|| missing("part"))?, true),
        },
        DcsKind::Hv => match find("cable") {
            Some(c) => (c, false),
            None => (find("alias").ok_or_else(|| missing("cable"))?, true),
        },
    };
    let (value, value2) = match kind {
        DcsKind::Caen => (
            find("actual_imon").ok_or_else(|| missing("actual_imon"))?,
            Some(find("actual_vmon").ok_or_else(|| missing("actual_vmon"))?),
        ),
        DcsKind::Plc => (
            find("value_converted").ok_or_else(|| missing("value_converted"))?,
            None,
        ),
        DcsKind::Hv => (find("value").ok_or_else(|| missing("value"))?, None),
    };
    Ok(ExportColumns {
        name,
        name_is_alias,
        time,
        value,
        value2,
    })
}

/// The channel name of a row: the cable (CAEN, HV) or part (PLC) of a full alias.
fn channel_name(kind: DcsKind, text: &str, is_alias: bool) -> &str {
    if !is_alias {
        return text;
    }
    match kind {
        DcsKind::Caen | DcsKind::Hv => cable_of_alias(text),
        DcsKind::Plc => text.rsplit('/').next().unwrap_or(text),
    }
}

fn is_null_text(s: &str) -> bool {
    s.is_empty()
        || s.eq_ignore_ascii_case("null")
        || s.eq_ignore_ascii_case("none")
        || s.eq_ignore_ascii_case("nan")
}

fn read_csv(path: &Path, kind: DcsKind, time: &TimeReader) -> Result<DcsStore> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut rdr = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| Error::parse(path, 1, "a CSV header", e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let c = export_columns(path, kind, &header)?;
    let mut b = Builder {
        two: kind == DcsKind::Caen,
        ..Builder::default()
    };
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(Error::parse(
                    path,
                    line,
                    format!("a CSV record of {} fields", header.len()),
                    e.to_string(),
                ));
            }
        }
        let line = rec.position().map_or(0, |p| p.line());
        let text = |i: usize| -> Result<&str> {
            std::str::from_utf8(rec.get(i).unwrap_or(b""))
                .map(str::trim)
                .map_err(|_| Error::parse(path, line, "UTF-8 text", "invalid UTF-8"))
        };
        b.report.rows += 1;
        let t_text = text(c.time)?;
        let t = time.parse(t_text).ok_or_else(|| {
            Error::parse(
                path,
                line,
                "a timestamp in `change_date`",
                format!("`{t_text}`"),
            )
        })?;
        let num = |i: usize, what: &str| -> Result<f64> {
            let s = text(i)?;
            if is_null_text(s) {
                return Ok(f64::NAN);
            }
            s.parse::<f64>().map_err(|_| {
                Error::parse(
                    path,
                    line,
                    format!("a number or an empty field in `{what}`"),
                    format!("`{s}`"),
                )
            })
        };
        let v = num(c.value, &header[c.value])?;
        let v2 = match c.value2 {
            Some(i) => num(i, &header[i])?,
            None => f64::NAN,
        };
        let name_text = text(c.name)?;
        if name_text.is_empty() {
            return Err(Error::parse(
                path,
                line,
                format!("a channel name in `{}`", header[c.name]),
                "an empty field",
            ));
        }
        if v.is_nan() {
            if kind == DcsKind::Caen {
                b.report.null_dropped += 1;
                continue;
            }
            b.report.null_kept += 1;
        }
        b.push(channel_name(kind, name_text, c.name_is_alias), t, v, v2);
    }
    Ok(b.finish(kind))
}

/// A string column of any Arrow string layout.
enum StrCol<'a> {
    Small(&'a StringArray),
    Large(&'a LargeStringArray),
}

impl StrCol<'_> {
    fn get(&self, i: usize) -> Option<&str> {
        match self {
            StrCol::Small(a) => (!a.is_null(i)).then(|| a.value(i)),
            StrCol::Large(a) => (!a.is_null(i)).then(|| a.value(i)),
        }
    }
}

fn str_col<'a>(path: &Path, a: &'a ArrayRef, name: &str) -> Result<StrCol<'a>> {
    if let Some(s) = a.as_any().downcast_ref::<StringArray>() {
        Ok(StrCol::Small(s))
    } else if let Some(s) = a.as_any().downcast_ref::<LargeStringArray>() {
        Ok(StrCol::Large(s))
    } else {
        Err(Error::parse(
            path,
            0,
            format!("a string column `{name}`"),
            a.data_type().to_string(),
        ))
    }
}

/// Reads a numeric column as f64 (NaN for null).
fn num_at(a: &ArrayRef, i: usize) -> Option<f64> {
    if a.is_null(i) {
        return Some(f64::NAN);
    }
    let any = a.as_any();
    if let Some(x) = any.downcast_ref::<Float64Array>() {
        Some(x.value(i))
    } else if let Some(x) = any.downcast_ref::<Float32Array>() {
        Some(f64::from(x.value(i)))
    } else if let Some(x) = any.downcast_ref::<Int64Array>() {
        Some(x.value(i) as f64)
    } else {
        any.downcast_ref::<Int32Array>()
            .map(|x| f64::from(x.value(i)))
    }
}

fn time_at(a: &ArrayRef, i: usize, time: &TimeReader) -> Option<Micros> {
    if a.is_null(i) {
        return None;
    }
    let (raw_us, tz) = match a.data_type() {
        DataType::Timestamp(unit, tz) => {
            let any = a.as_any();
            let us = match unit {
                TimeUnit::Second => any
                    .downcast_ref::<TimestampSecondArray>()?
                    .value(i)
                    .checked_mul(US_PER_S)?,
                TimeUnit::Millisecond => any
                    .downcast_ref::<TimestampMillisecondArray>()?
                    .value(i)
                    .checked_mul(1000)?,
                TimeUnit::Microsecond => any.downcast_ref::<TimestampMicrosecondArray>()?.value(i),
                TimeUnit::Nanosecond => any
                    .downcast_ref::<TimestampNanosecondArray>()?
                    .value(i)
                    .div_euclid(1000),
            };
            (us, tz.is_some())
        }
        DataType::Utf8 => return time.parse(a.as_any().downcast_ref::<StringArray>()?.value(i)),
        DataType::LargeUtf8 => {
            return time.parse(a.as_any().downcast_ref::<LargeStringArray>()?.value(i));
        }
        _ => return None,
    };
    if tz {
        Some(raw_us)
    } else {
        // A naive timestamp column: wall time in the configured zone.
        time.from_naive(crate::time::to_naive(raw_us))
    }
}

/// The rows of one Parquet row group, with channel names local to it.
#[derive(Default)]
struct Part {
    names: Vec<String>,
    ids: Vec<u32>,
    times: Vec<Micros>,
    values: Vec<f64>,
    values2: Vec<f64>,
    rows: u64,
    null_dropped: u64,
    null_kept: u64,
}

/// Decodes the rows of row group `rg` (the first row of which is file row `row0`, 0-based).
#[allow(clippy::too_many_arguments)]
fn read_row_group(
    path: &Path,
    kind: DcsKind,
    time: &TimeReader,
    schema: &arrow_schema::SchemaRef,
    mask: &parquet::arrow::ProjectionMask,
    c: &ExportColumns,
    rg: usize,
    row0: u64,
) -> Result<Part> {
    use arrow_array::types::Int32Type;
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
    let pq = |e: parquet::errors::ParquetError| {
        Error::Core(hep_core::Error::Parquet {
            path: path.to_path_buf(),
            error: e,
        })
    };
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(
        file,
        ArrowReaderOptions::new().with_schema(schema.clone()),
    )
    .map_err(pq)?;
    let reader = builder
        .with_row_groups(vec![rg])
        .with_projection(mask.clone())
        .with_batch_size(65_536)
        .build()
        .map_err(pq)?;
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let mut part = Part::default();
    let mut local: HashMap<String, u32> = HashMap::new();
    let mut row = row0;
    for batch in reader {
        let batch =
            batch.map_err(|e| pq(parquet::errors::ParquetError::ArrowError(e.to_string())))?;
        let col = |name: &str| batch.column_by_name(name).expect("projected column");
        let name_col = col(&names[c.name]);
        let tcol = col(&names[c.time]);
        let vcol = col(&names[c.value]);
        let v2col = c.value2.map(|i| col(&names[i]));
        // Channel ids of the batch: through the dictionary when the column is one.
        let dict = name_col
            .as_any()
            .downcast_ref::<arrow_array::DictionaryArray<Int32Type>>();
        let mut dict_ids: Vec<u32> = Vec::new();
        let mut name_id = |text: &str, part: &mut Part| -> u32 {
            let n = channel_name(kind, text, c.name_is_alias);
            if let Some(&id) = local.get(n) {
                return id;
            }
            let id = part.names.len() as u32;
            part.names.push(n.to_string());
            local.insert(n.to_string(), id);
            id
        };
        let plain = if let Some(d) = dict {
            let values = d
                .values()
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| {
                    Error::parse(
                        path,
                        row + 1,
                        format!("a string column `{}`", names[c.name]),
                        d.values().data_type().to_string(),
                    )
                })?;
            for k in 0..values.len() {
                dict_ids.push(name_id(values.value(k), &mut part));
            }
            None
        } else {
            Some(str_col(path, name_col, &names[c.name])?)
        };
        // Fast paths for the usual column types, downcast once per batch.
        let fast_t = match tcol.data_type() {
            DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => {
                tcol.as_any().downcast_ref::<TimestampMicrosecondArray>()
            }
            _ => None,
        };
        let fast_v = vcol.as_any().downcast_ref::<Float64Array>();
        let fast_v2 = v2col.and_then(|c| c.as_any().downcast_ref::<Float64Array>());
        for i in 0..batch.num_rows() {
            row += 1;
            part.rows += 1;
            let fast_time = fast_t.filter(|a| a.is_valid(i)).map(|a| a.value(i));
            let t = fast_time
                .or_else(|| time_at(tcol, i, time))
                .ok_or_else(|| {
                    Error::parse(
                        path,
                        row,
                        "a timestamp in `change_date` (row number)",
                        format!("{:?}", tcol.slice(i, 1)),
                    )
                })?;
            let fast_value = fast_v.map(|a| if a.is_valid(i) { a.value(i) } else { f64::NAN });
            let v = fast_value.or_else(|| num_at(vcol, i)).ok_or_else(|| {
                Error::parse(
                    path,
                    row,
                    format!("a numeric `{}` column", names[c.value]),
                    vcol.data_type().to_string(),
                )
            })?;
            let fast_value2 = fast_v2.map(|a| if a.is_valid(i) { a.value(i) } else { f64::NAN });
            let v2 = match v2col {
                Some(col) => fast_value2.or_else(|| num_at(col, i)).ok_or_else(|| {
                    Error::parse(
                        path,
                        row,
                        "a numeric `actual_vmon` column",
                        col.data_type().to_string(),
                    )
                })?,
                None => f64::NAN,
            };
            let id = match (&plain, dict) {
                (Some(p), _) => {
                    let text = p.get(i).ok_or_else(|| {
                        Error::parse(
                            path,
                            row,
                            format!("a channel name in `{}`", names[c.name]),
                            "null",
                        )
                    })?;
                    name_id(text, &mut part)
                }
                (None, Some(d)) => {
                    if d.is_null(i) {
                        return Err(Error::parse(
                            path,
                            row,
                            format!("a channel name in `{}`", names[c.name]),
                            "null",
                        ));
                    }
                    dict_ids[d.keys().value(i) as usize]
                }
                (None, None) => unreachable!("one of the two layouts"),
            };
            if v.is_nan() {
                if kind == DcsKind::Caen {
                    part.null_dropped += 1;
                    continue;
                }
                part.null_kept += 1;
            }
            part.ids.push(id);
            part.times.push(t);
            part.values.push(v);
            if kind == DcsKind::Caen {
                part.values2.push(v2);
            }
        }
    }
    Ok(part)
}

fn read_parquet(path: &Path, kind: DcsKind, time: &TimeReader) -> Result<DcsStore> {
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use rayon::prelude::*;
    let pq = |e: parquet::errors::ParquetError| {
        Error::Core(hep_core::Error::Parquet {
            path: path.to_path_buf(),
            error: e,
        })
    };
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq)?;
    let schema = builder.schema().clone();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let c = export_columns(path, kind, &names)?;
    // Read the channel-name column dictionary encoded, as the exports store it: one name per
    // dictionary entry instead of one string per row.
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if i == c.name && *f.data_type() == DataType::Utf8 {
                Field::new(
                    f.name(),
                    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                    f.is_nullable(),
                )
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    let read_schema = Arc::new(Schema::new(fields));
    let mut wanted = vec![c.name, c.time, c.value];
    wanted.extend(c.value2);
    let meta = builder.metadata().clone();
    let mask = ProjectionMask::roots(meta.file_metadata().schema_descr(), wanted);
    let groups: Vec<(usize, u64)> = {
        let mut row0 = 0u64;
        meta.row_groups()
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let r = (i, row0);
                row0 += u64::try_from(g.num_rows()).unwrap_or(0);
                r
            })
            .collect()
    };
    let parts: Vec<Part> = groups
        .par_iter()
        .map(|&(rg, row0)| read_row_group(path, kind, time, &read_schema, &mask, &c, rg, row0))
        .collect::<Result<_>>()?;
    let mut b = Builder {
        two: kind == DcsKind::Caen,
        ..Builder::default()
    };
    let n: usize = parts.iter().map(|p| p.ids.len()).sum();
    b.ids.reserve(n);
    b.times.reserve(n);
    b.values.reserve(n);
    if b.two {
        b.values2.reserve(n);
    }
    for p in parts {
        let map: Vec<u32> = p.names.iter().map(|n| b.id(n)).collect();
        b.ids.extend(p.ids.iter().map(|&i| map[i as usize]));
        b.times.extend_from_slice(&p.times);
        b.values.extend_from_slice(&p.values);
        b.values2.extend_from_slice(&p.values2);
        b.report.rows += p.rows;
        b.report.null_dropped += p.null_dropped;
        b.report.null_kept += p.null_kept;
    }
    Ok(b.finish(kind))
}

/// One change row of an export, for the writers.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRow {
    /// Full DCS alias (CAEN, PLC) or cable (HV).
    pub alias: String,
    /// Change time (UTC µs).
    pub change_date: Micros,
    /// Imon (CAEN), temperature (PLC) or HV value; NaN writes a null.
    pub value: f64,
    /// Vmon (CAEN only); NaN writes a null.
    pub value2: f64,
}

/// The column names of an export of `kind`.
pub fn export_header(kind: DcsKind) -> &'static [&'static str] {
    match kind {
        DcsKind::Caen => &["alias", "change_date", "actual_imon", "actual_vmon"],
        DcsKind::Plc => &["alias", "part", "change_date", "value_converted"],
        DcsKind::Hv => &["cable", "change_date", "value"],
    }
}

/// Writes rows as an export CSV (naive UTC `change_date` with microseconds), atomically.
///
/// # Errors
/// I/O errors; nothing is left at `path` then.
pub fn write_export_csv(path: &Path, kind: DcsKind, rows: &[ExportRow]) -> Result<()> {
    hep_core::io::atomic_write(path, |w| {
        let err = |e: csv::Error| hep_core::Error::io(path, std::io::Error::other(e));
        let mut out = csv::Writer::from_writer(w);
        out.write_record(export_header(kind)).map_err(err)?;
        let num = |x: f64| {
            if x.is_nan() {
                String::new()
            } else {
                crate::pyfmt::repr(x)
            }
        };
        for r in rows {
            let t = crate::time::fills_csv_str(r.change_date);
            match kind {
                DcsKind::Caen => {
                    out.write_record([r.alias.as_str(), &t, &num(r.value), &num(r.value2)])
                }
                DcsKind::Plc => {
                    let part = r.alias.rsplit('/').next().unwrap_or(&r.alias);
                    out.write_record([r.alias.as_str(), part, &t, &num(r.value)])
                }
                DcsKind::Hv => out.write_record([r.alias.as_str(), &t, &num(r.value)]),
            }
            .map_err(err)?;
        }
        out.flush().map_err(|e| hep_core::Error::io(path, e))?;
        Ok(())
    })?;
    Ok(())
}

/// The rows as an Arrow batch in the export layout (`change_date` as timestamp µs UTC; values
/// Float64 with nulls; units as metadata).
///
/// # Errors
/// Arrow errors (none for consistent input).
pub fn export_batch(kind: DcsKind, rows: &[ExportRow]) -> Result<RecordBatch> {
    let opt = |x: f64| (!x.is_nan()).then_some(x);
    let names: ArrayRef = Arc::new(StringArray::from_iter_values(
        rows.iter().map(|r| r.alias.as_str()),
    ));
    let times: ArrayRef = Arc::new(
        TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.change_date))
            .with_timezone("UTC"),
    );
    let v: ArrayRef = Arc::new(Float64Array::from_iter(rows.iter().map(|r| opt(r.value))));
    let (fields, cols): (Vec<Field>, Vec<ArrayRef>) = match kind {
        DcsKind::Caen => (
            vec![
                Field::new("alias", DataType::Utf8, false),
                field_with_unit("change_date", timestamp_type(), false, "UTC"),
                field_with_unit(
                    "actual_imon",
                    DataType::Float64,
                    true,
                    "A (LV channels 000/001), uA (HV channels 002/003)",
                ),
                field_with_unit("actual_vmon", DataType::Float64, true, "V"),
            ],
            vec![
                names,
                times,
                v,
                Arc::new(Float64Array::from_iter(rows.iter().map(|r| opt(r.value2)))),
            ],
        ),
        DcsKind::Plc => (
            vec![
                Field::new("alias", DataType::Utf8, false),
                Field::new("part", DataType::Utf8, false),
                field_with_unit("change_date", timestamp_type(), false, "UTC"),
                field_with_unit("value_converted", DataType::Float64, true, "degC"),
            ],
            vec![
                names,
                Arc::new(StringArray::from_iter_values(
                    rows.iter()
                        .map(|r| r.alias.rsplit('/').next().unwrap_or(&r.alias)),
                )),
                times,
                v,
            ],
        ),
        DcsKind::Hv => (
            vec![
                Field::new("cable", DataType::Utf8, false),
                field_with_unit("change_date", timestamp_type(), false, "UTC"),
                field_with_unit("value", DataType::Float64, true, "V"),
            ],
            vec![names, times, v],
        ),
    };
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_sorts_and_looks_up() {
        let s = DcsStore::from_rows(
            DcsKind::Caen,
            [
                ("b", 30, 3.0, 0.0),
                ("a", 20, 2.0, 1.0),
                ("a", 10, 1.0, 1.0),
                ("b", 10, 4.0, 0.0),
            ],
        );
        assert!(s.report.reordered);
        let a = s.series_by_name("a");
        assert_eq!(a.times, &[10, 20]);
        assert_eq!(a.values, &[1.0, 2.0]);
        assert_eq!(a.at_or_before(19), Some(0));
        assert_eq!(a.at_or_before(20), Some(1));
        assert_eq!(a.before(20), Some(0));
        assert_eq!(a.at_or_before(5), None);
        assert_eq!(a.latest_in_closed(11, 19), None);
        assert_eq!(a.latest_in_closed(10, 19), Some(0));
        let b = s.series_by_name("b");
        assert_eq!(b.values, &[4.0, 3.0]);
        assert_eq!(s.first_time(), Some(10));
        assert!(s.series_by_name("c").is_empty());
    }

    #[test]
    fn csv_and_parquet_agree() {
        let d = tempfile::tempdir().unwrap();
        let rows = vec![
            ExportRow {
                alias: "CMS_TRACKER/X/PixelBarrel_BpI_S1_LAY14/channel002".into(),
                change_date: 5 * US_PER_S + 250_000,
                value: 392.609,
                value2: 300.0,
            },
            ExportRow {
                alias: "CMS_TRACKER/X/PixelBarrel_BpI_S1_LAY14/channel000".into(),
                change_date: 3 * US_PER_S,
                value: 2.51,
                value2: f64::NAN,
            },
            ExportRow {
                alias: "CMS_TRACKER/X/PixelBarrel_BpI_S1_LAY14/channel002".into(),
                change_date: 4 * US_PER_S,
                value: f64::NAN,
                value2: 300.0,
            },
        ];
        let csv = d.path().join("caen.csv");
        let pq = d.path().join("caen.parquet");
        write_export_csv(&csv, DcsKind::Caen, &rows).unwrap();
        hep_core::io::write_parquet(&pq, &[export_batch(DcsKind::Caen, &rows).unwrap()]).unwrap();
        for p in [&csv, &pq] {
            let s = DcsStore::read(p, DcsKind::Caen, &TimeReader::utc()).unwrap();
            assert_eq!(s.report.rows, 3);
            assert_eq!(s.report.null_dropped, 1);
            let x = s.series_by_name("PixelBarrel_BpI_S1_LAY14/channel002");
            assert_eq!(x.times, &[5 * US_PER_S + 250_000]);
            assert_eq!(x.values, &[392.609]);
            assert_eq!(x.values2, &[300.0]);
            let y = s.series_by_name("PixelBarrel_BpI_S1_LAY14/channel000");
            assert!(y.values2[0].is_nan());
        }
    }

    #[test]
    fn located_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("plc.csv");
        std::fs::write(&p, "alias,part,change_date,value_converted\na/p,p,2022-08-01 10:00:00,-21.5\na/p,p,2022-08-01 10:00:xx,-21.5\n").unwrap();
        let e = DcsStore::read(&p, DcsKind::Plc, &TimeReader::utc())
            .unwrap_err()
            .to_string();
        assert!(e.contains("plc.csv:3:") && e.contains("change_date"), "{e}");
        std::fs::write(
            &p,
            "alias,part,change_date,value_converted\na/p,p,2022-08-01 10:00:00,warm\n",
        )
        .unwrap();
        let e = DcsStore::read(&p, DcsKind::Plc, &TimeReader::utc())
            .unwrap_err()
            .to_string();
        assert!(e.contains("plc.csv:2:") && e.contains("warm"), "{e}");
        std::fs::write(&p, "alias,when,value_converted\n").unwrap();
        let e = DcsStore::read(&p, DcsKind::Plc, &TimeReader::utc())
            .unwrap_err()
            .to_string();
        assert!(e.contains("plc.csv:1:") && e.contains("change_date"), "{e}");
    }
}
