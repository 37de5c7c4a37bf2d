//! LHC fills with stable beams: the OMS export readers, the quality filters of the original, the
//! bad-fill list, the measurement window, and the `fills.csv` writer.
//!
//! # Inputs
//!
//! * **OMS JSON:API** (`/agg/api/v1/fills` as OMS returns it): an object
//!   `{"data": [{"id": ..., "type": "fills", "attributes": {...}}, ...]}`, or a JSON array of such
//!   pages. Attributes read: `fill_number` (integer), `start_stable_beam`, `end_stable_beam`
//!   (ISO 8601, UTC `Z`), and when present `bunches_colliding`, `delivered_lumi`,
//!   `recorded_lumi`, `stable_beams`, `injection_scheme`.
//! * **CSV** with a header: `fill_number,start_stable_beam,end_stable_beam` and optionally
//!   `bunches_colliding`, `delivered_lumi`, `stable_beams`, `injection_scheme` (the original's
//!   `fills.csv`, jroloff's with `bunches_colliding`, or a CSV export of the same attributes).
//!   Column names are matched case-insensitively; naive times are read in the configured zone.
//!
//! # Quality filters (`get_fills.py`)
//!
//! The original asked OMS for fills with `stable_beams == true`, both stable-beam times set,
//! `delivered_lumi > 0`, `injection_scheme` set, and not in 3474-3563 (an unexplained "TODO" of
//! the original). The same filters are applied here to the export; a filter on an attribute the
//! export does not carry at all is skipped (and said so in the report).
//!
//! # Output (`fills.csv`)
//!
//! `fill_number,start_stable_beam,end_stable_beam` (plus `,bunches_colliding` with
//! [`FillsCsvOptions::bunches_column`], as jroloff's fork), times as the UTC wall time
//! `YYYY-MM-DD HH:MM:SS.ffffff`, one row per fill in increasing fill number.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::time::{Micros, TimeReader, US_PER_S};

/// One fill with stable beams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fill {
    /// LHC fill number.
    pub fill: u32,
    /// Start of stable beams (UTC µs).
    pub start_stable_beam: Micros,
    /// End of stable beams (UTC µs).
    pub end_stable_beam: Micros,
    /// Colliding bunch pairs, if known.
    pub bunches_colliding: Option<u32>,
}

impl Fill {
    /// Stable-beam duration (µs).
    pub fn duration(&self) -> Micros {
        self.end_stable_beam - self.start_stable_beam
    }

    /// The measurement time of the per-fill currents and temperatures: `delay_s` after the start
    /// of stable beams, or the end of stable beams if the fill is shorter than the delay
    /// (`get_currents_from_database.py`).
    pub fn measurement_time(&self, delay_s: i64) -> Micros {
        let delay = delay_s * US_PER_S;
        if self.duration() < delay {
            self.end_stable_beam
        } else {
            self.start_stable_beam + delay
        }
    }
}

/// A fill as the export gives it, before the quality filters.
#[derive(Debug, Clone, PartialEq)]
struct RawFill {
    fill: u32,
    start: Option<Micros>,
    end: Option<Micros>,
    bunches: Option<u32>,
    /// `None`: attribute absent from the export; `Some(None)`: present and null.
    delivered: Option<Option<f64>>,
    stable_beams: Option<Option<bool>>,
    injection_scheme: Option<Option<String>>,
}

/// What the quality filters removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FillFilterReport {
    /// Records read.
    pub read: usize,
    /// Outside the requested fill range.
    pub out_of_range: usize,
    /// In the excluded range 3474-3563.
    pub excluded_range: usize,
    /// Without stable beams.
    pub no_stable_beams: usize,
    /// With a start or end of stable beams missing.
    pub missing_times: usize,
    /// Without delivered luminosity, or with none > 0.
    pub no_delivered_lumi: usize,
    /// Without an injection scheme.
    pub no_injection_scheme: usize,
    /// In the bad-fill list.
    pub bad: usize,
    /// Repeated fill numbers (the later record is dropped).
    pub duplicates: usize,
    /// Filters that could not be applied because the export has no such attribute.
    pub filters_skipped: Vec<String>,
    /// Fills kept.
    pub kept: usize,
}

/// The fill-range and filter settings of a fills job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FillSelection {
    /// First fill (inclusive); `None`: no lower bound.
    pub first_fill: Option<u32>,
    /// Last fill (inclusive); `None`: no upper bound.
    pub last_fill: Option<u32>,
    /// Apply the OMS quality filters of the original (default `true`).
    pub quality_filters: bool,
    /// Drop the fills of the bad-fill list (default `false`: the original's `fills.csv` keeps
    /// them; the plots drop them).
    pub drop_bad_fills: bool,
}

impl Default for FillSelection {
    fn default() -> Self {
        Self {
            first_fill: None,
            last_fill: None,
            quality_filters: true,
            drop_bad_fills: false,
        }
    }
}

impl FillSelection {
    /// Whether `fill` is in the range.
    pub fn contains(&self, fill: u32) -> bool {
        self.first_fill.is_none_or(|f| fill >= f) && self.last_fill.is_none_or(|l| fill <= l)
    }

    /// Checks the range.
    ///
    /// # Errors
    /// [`Error::Config`] if first > last.
    pub fn validate(&self) -> Result<()> {
        if let (Some(f), Some(l)) = (self.first_fill, self.last_fill)
            && f > l
        {
            return Err(Error::Config(format!(
                "first_fill {f} is after last_fill {l}"
            )));
        }
        Ok(())
    }
}

/// The fills of the original's OMS `NEQ` filters (3474 to 3563), excluded without explanation.
pub const EXCLUDED_FILLS: std::ops::RangeInclusive<u32> = 3474..=3563;

fn apply_filters(
    raw: Vec<RawFill>,
    sel: &FillSelection,
    bad: &BTreeSet<u32>,
) -> (Vec<Fill>, FillFilterReport) {
    let mut rep = FillFilterReport {
        read: raw.len(),
        ..Default::default()
    };
    let has = |f: &dyn Fn(&RawFill) -> bool| raw.iter().any(f);
    let has_delivered = has(&|r| r.delivered.is_some());
    let has_stable = has(&|r| r.stable_beams.is_some());
    let has_scheme = has(&|r| r.injection_scheme.is_some());
    if sel.quality_filters {
        for (present, name) in [
            (has_delivered, "delivered_lumi > 0"),
            (has_stable, "stable_beams"),
            (has_scheme, "injection_scheme"),
        ] {
            if !present {
                rep.filters_skipped.push(name.to_string());
            }
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for r in raw {
        if !sel.contains(r.fill) {
            rep.out_of_range += 1;
            continue;
        }
        let (Some(start), Some(end)) = (r.start, r.end) else {
            rep.missing_times += 1;
            continue;
        };
        if sel.quality_filters {
            if EXCLUDED_FILLS.contains(&r.fill) {
                rep.excluded_range += 1;
                continue;
            }
            if let Some(s) = r.stable_beams
                && s != Some(true)
            {
                rep.no_stable_beams += 1;
                continue;
            }
            if let Some(d) = r.delivered
                && !d.is_some_and(|d| d > 0.0)
            {
                rep.no_delivered_lumi += 1;
                continue;
            }
            if let Some(s) = &r.injection_scheme
                && s.is_none()
            {
                rep.no_injection_scheme += 1;
                continue;
            }
        }
        if sel.drop_bad_fills && bad.contains(&r.fill) {
            rep.bad += 1;
            continue;
        }
        if !seen.insert(r.fill) {
            rep.duplicates += 1;
            continue;
        }
        out.push(Fill {
            fill: r.fill,
            start_stable_beam: start,
            end_stable_beam: end,
            bunches_colliding: r.bunches,
        });
    }
    out.sort_by_key(|f| f.fill);
    rep.kept = out.len();
    (out, rep)
}

/// Reads a fills export (OMS JSON:API if the file starts with `{` or `[`, CSV otherwise), applies
/// the selection and the bad-fill list, and returns the fills in increasing fill number.
///
/// # Errors
/// [`Error::Core`] with a located parse error for a malformed record, an unparseable timestamp, a
/// missing required column or attribute; I/O errors.
pub fn read_fills(
    path: &Path,
    time: &TimeReader,
    sel: &FillSelection,
    bad_fills: &BTreeSet<u32>,
) -> Result<(Vec<Fill>, FillFilterReport)> {
    sel.validate()?;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let raw = match first {
        Some(b'{') | Some(b'[') => parse_oms_json(path, &bytes)?,
        _ => parse_fills_csv(path, &bytes, time)?,
    };
    Ok(apply_filters(raw, sel, bad_fills))
}

fn json_err(path: &Path, e: &serde_json::Error) -> Error {
    Error::parse(
        path,
        u64::try_from(e.line()).unwrap_or(0),
        "an OMS JSON:API payload",
        e.to_string(),
    )
}

/// One JSON:API resource object (any `type`); `attributes` and `meta` are read.
#[derive(Deserialize)]
struct Resource {
    #[serde(default)]
    attributes: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    meta: serde_json::Map<String, serde_json::Value>,
}

/// The attributes and the `meta` object of one JSON:API resource.
pub(crate) type JsonResource = (
    serde_json::Map<String, serde_json::Value>,
    serde_json::Map<String, serde_json::Value>,
);

/// A JSON:API document: `data` holds the resources.
#[derive(Deserialize)]
struct Document {
    data: Vec<Resource>,
}

/// The resources of a JSON:API payload: one document or an array of documents (pages).
pub(crate) fn json_api_resources(path: &Path, bytes: &[u8]) -> Result<Vec<JsonResource>> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| json_err(path, &e))?;
    let pages = match value {
        serde_json::Value::Array(a) => a,
        v => vec![v],
    };
    let mut out = Vec::new();
    for (i, page) in pages.into_iter().enumerate() {
        let doc: Document = serde_json::from_value(page).map_err(|e| {
            Error::parse(
                path,
                0,
                format!("a JSON:API document with a `data` array (page {})", i + 1),
                e.to_string(),
            )
        })?;
        out.extend(doc.data.into_iter().map(|r| (r.attributes, r.meta)));
    }
    Ok(out)
}

/// `Some(None)` for JSON null, `None` when absent.
pub(crate) fn attr<'a>(
    a: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Option<Option<&'a serde_json::Value>> {
    a.get(name)
        .map(|v| if v.is_null() { None } else { Some(v) })
}

pub(crate) fn bad_record(
    path: &Path,
    i: usize,
    expected: &str,
    found: impl std::fmt::Display,
) -> Error {
    Error::parse(
        path,
        0,
        format!("{expected} in data record {}", i + 1),
        found.to_string(),
    )
}

fn json_time(
    path: &Path,
    i: usize,
    name: &str,
    v: Option<&serde_json::Value>,
) -> Result<Option<Micros>> {
    match v {
        None => Ok(None),
        Some(serde_json::Value::String(s)) => {
            TimeReader::utc().parse(s).map(Some).ok_or_else(|| {
                bad_record(
                    path,
                    i,
                    &format!("an ISO 8601 time in `{name}`"),
                    format!("`{s}`"),
                )
            })
        }
        Some(other) => Err(bad_record(
            path,
            i,
            &format!("a time string in `{name}`"),
            other,
        )),
    }
}

pub(crate) fn json_u32(path: &Path, i: usize, name: &str, v: &serde_json::Value) -> Result<u32> {
    v.as_u64()
        .and_then(|x| u32::try_from(x).ok())
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| bad_record(path, i, &format!("a non-negative integer in `{name}`"), v))
}

pub(crate) fn json_f64(path: &Path, i: usize, name: &str, v: &serde_json::Value) -> Result<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| bad_record(path, i, &format!("a number in `{name}`"), v))
}

fn parse_oms_json(path: &Path, bytes: &[u8]) -> Result<Vec<RawFill>> {
    let mut out = Vec::new();
    for (i, (a, _)) in json_api_resources(path, bytes)?.iter().enumerate() {
        let fill = match attr(a, "fill_number") {
            Some(Some(v)) => json_u32(path, i, "fill_number", v)?,
            _ => return Err(bad_record(path, i, "a `fill_number`", "none")),
        };
        let start = json_time(
            path,
            i,
            "start_stable_beam",
            attr(a, "start_stable_beam").flatten(),
        )?;
        let end = json_time(
            path,
            i,
            "end_stable_beam",
            attr(a, "end_stable_beam").flatten(),
        )?;
        let bunches = match attr(a, "bunches_colliding").flatten() {
            Some(v) => Some(json_u32(path, i, "bunches_colliding", v)?),
            None => None,
        };
        let delivered = match attr(a, "delivered_lumi") {
            None => None,
            Some(None) => Some(None),
            Some(Some(v)) => Some(Some(json_f64(path, i, "delivered_lumi", v)?)),
        };
        let stable_beams = match attr(a, "stable_beams") {
            None => None,
            Some(None) => Some(None),
            Some(Some(v)) => {
                Some(Some(v.as_bool().ok_or_else(|| {
                    bad_record(path, i, "true or false in `stable_beams`", v)
                })?))
            }
        };
        let injection_scheme = attr(a, "injection_scheme")
            .map(|v| v.map(|v| v.as_str().map_or_else(|| v.to_string(), String::from)));
        out.push(RawFill {
            fill,
            start,
            end,
            bunches,
            delivered,
            stable_beams,
            injection_scheme,
        });
    }
    Ok(out)
}

/// Column indices of a headed CSV, matched case-insensitively after trimming.
pub(crate) struct Columns {
    names: Vec<String>,
}

impl Columns {
    pub(crate) fn new(header: &csv::StringRecord) -> Self {
        Self {
            names: header
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .collect(),
        }
    }

    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|h| h == name)
    }

    pub(crate) fn require(&self, path: &Path, name: &str) -> Result<usize> {
        self.find(name).ok_or_else(|| {
            Error::parse(
                path,
                1,
                format!("a header with a `{name}` column"),
                format!("columns {}", self.names.join(",")),
            )
        })
    }
}

pub(crate) fn csv_line(rec: &csv::StringRecord) -> u64 {
    rec.position().map_or(0, |p| p.line())
}

fn parse_fills_csv(path: &Path, bytes: &[u8], time: &TimeReader) -> Result<Vec<RawFill>> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .comment(Some(b'#'))
        .from_reader(bytes);
    let header = rdr
        .headers()
        .map_err(|e| Error::parse(path, 1, "a CSV header", e.to_string()))?
        .clone();
    let cols = Columns::new(&header);
    let c_fill = cols.require(path, "fill_number")?;
    let c_start = cols.require(path, "start_stable_beam")?;
    let c_end = cols.require(path, "end_stable_beam")?;
    let c_bunch = cols.find("bunches_colliding");
    let c_del = cols.find("delivered_lumi");
    let c_sb = cols.find("stable_beams");
    let c_inj = cols.find("injection_scheme");
    let mut out = Vec::new();
    let mut rec = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(Error::parse(path, line, "a CSV record", e.to_string()));
            }
        }
        let line = csv_line(&rec);
        let field = |i: usize| rec.get(i).unwrap_or("").trim();
        let fill_text = field(c_fill);
        // pandas writes integers of a column with missing values as `8000.0`.
        let fill: u32 = fill_text
            .parse()
            .ok()
            .or_else(|| {
                fill_text
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.fract() == 0.0 && *x >= 0.0 && *x < 4e9)
                    .map(|x| x as u32)
            })
            .ok_or_else(|| {
                Error::parse(
                    path,
                    line,
                    "an integer fill_number",
                    format!("`{fill_text}`"),
                )
            })?;
        let read_time = |i: usize, name: &str| -> Result<Option<Micros>> {
            let s = field(i);
            if s.is_empty() || s.eq_ignore_ascii_case("nan") || s.eq_ignore_ascii_case("null") {
                return Ok(None);
            }
            time.parse(s).map(Some).ok_or_else(|| {
                Error::parse(
                    path,
                    line,
                    format!("a timestamp in `{name}`"),
                    format!("`{s}`"),
                )
            })
        };
        let start = read_time(c_start, "start_stable_beam")?;
        let end = read_time(c_end, "end_stable_beam")?;
        let opt_num = |c: Option<usize>, name: &str| -> Result<Option<Option<f64>>> {
            match c {
                None => Ok(None),
                Some(i) => {
                    let s = field(i);
                    if s.is_empty()
                        || s.eq_ignore_ascii_case("nan")
                        || s.eq_ignore_ascii_case("null")
                    {
                        Ok(Some(None))
                    } else {
                        s.parse::<f64>().map(|x| Some(Some(x))).map_err(|_| {
                            Error::parse(
                                path,
                                line,
                                format!("a number in `{name}`"),
                                format!("`{s}`"),
                            )
                        })
                    }
                }
            }
        };
        let bunches = match opt_num(c_bunch, "bunches_colliding")?.flatten() {
            None => None,
            Some(x) if x >= 0.0 && x.fract() == 0.0 && x < 1e9 => Some(x as u32),
            Some(x) => {
                return Err(Error::parse(
                    path,
                    line,
                    "a non-negative integer in `bunches_colliding`",
                    x.to_string(),
                ));
            }
        };
        let delivered = opt_num(c_del, "delivered_lumi")?;
        let stable_beams = match c_sb {
            None => None,
            Some(i) => {
                let s = field(i).to_ascii_lowercase();
                Some(match s.as_str() {
                    "" | "null" | "nan" => None,
                    "true" | "1" => Some(true),
                    "false" | "0" => Some(false),
                    _ => {
                        return Err(Error::parse(
                            path,
                            line,
                            "true or false in `stable_beams`",
                            format!("`{s}`"),
                        ));
                    }
                })
            }
        };
        let injection_scheme = c_inj.map(|i| {
            let s = field(i);
            (!s.is_empty() && !s.eq_ignore_ascii_case("null")).then(|| s.to_string())
        });
        out.push(RawFill {
            fill,
            start,
            end,
            bunches,
            delivered,
            stable_beams,
            injection_scheme,
        });
    }
    Ok(out)
}

/// Reads a bad-fill list: one fill number per line, surrounding spaces allowed (the original's
/// file has trailing spaces), blank lines and `#` comments skipped.
///
/// # Errors
/// A located parse error for a line that is not an integer; I/O errors.
pub fn read_bad_fills(path: &Path) -> Result<BTreeSet<u32>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        out.insert(
            t.parse()
                .map_err(|_| Error::parse(path, i as u64 + 1, "a fill number", format!("`{t}`")))?,
        );
    }
    Ok(out)
}

/// Options of the `fills.csv` writer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FillsCsvOptions {
    /// Add the `bunches_colliding` column of jroloff's fork (empty when unknown).
    pub bunches_column: bool,
}

/// The `fills.csv` text (see the module documentation).
pub fn fills_csv_text(fills: &[Fill], opts: &FillsCsvOptions) -> String {
    let mut header = vec!["fill_number", "start_stable_beam", "end_stable_beam"];
    if opts.bunches_column {
        header.push("bunches_colliding");
    }
    let mut s = crate::csv_text::CsvText::new(header);
    for f in fills {
        let mut row = vec![
            f.fill.to_string(),
            crate::time::fills_csv_str(f.start_stable_beam),
            crate::time::fills_csv_str(f.end_stable_beam),
        ];
        if opts.bunches_column {
            row.push(
                f.bunches_colliding
                    .map(|b| b.to_string())
                    .unwrap_or_default(),
            );
        }
        s.row(row);
    }
    s.finish()
}

/// Writes `fills.csv` atomically.
///
/// # Errors
/// I/O errors; nothing is left at `path` then.
pub fn write_fills_csv(path: &Path, fills: &[Fill], opts: &FillsCsvOptions) -> Result<()> {
    let text = fills_csv_text(fills, opts);
    hep_core::io::atomic_write(path, |w| {
        w.write_all(text.as_bytes())
            .map_err(|e| hep_core::Error::io(path, e))
    })?;
    Ok(())
}

/// The Arrow type of every timestamp column of the crate: microseconds, UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// A field with a `unit` metadata entry.
pub fn field_with_unit(name: &str, data_type: DataType, nullable: bool, unit: &str) -> Field {
    Field::new(name, data_type, nullable).with_metadata(std::collections::HashMap::from([(
        "unit".to_string(),
        unit.to_string(),
    )]))
}

/// The fills as an Arrow record batch: `fill` (Int64), `start_stable_beam`, `end_stable_beam`
/// (timestamp µs UTC), `duration_s` (Float64, s; the same type as the profiles' durations),
/// `bunches_colliding` (Int64, nullable).
///
/// # Errors
/// Arrow errors (none for consistent input).
pub fn fills_batch(fills: &[Fill]) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("fill", DataType::Int64, false),
        field_with_unit("start_stable_beam", timestamp_type(), false, "UTC"),
        field_with_unit("end_stable_beam", timestamp_type(), false, "UTC"),
        field_with_unit("duration_s", DataType::Float64, false, "s"),
        Field::new("bunches_colliding", DataType::Int64, true),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(
            fills.iter().map(|f| i64::from(f.fill)),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(fills.iter().map(|f| f.start_stable_beam))
                .with_timezone("UTC"),
        ),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(fills.iter().map(|f| f.end_stable_beam))
                .with_timezone("UTC"),
        ),
        Arc::new(Float64Array::from_iter_values(
            fills.iter().map(|f| f.duration() as f64 / US_PER_S as f64),
        )),
        Arc::new(Int64Array::from_iter(
            fills.iter().map(|f| f.bunches_colliding.map(i64::from)),
        )),
    ];
    Ok(RecordBatch::try_new(schema, cols)?)
}

/// The bad-fill list: the file, or the crate's table.
///
/// # Errors
/// As [`read_bad_fills`].
pub fn bad_fills(path: Option<&Path>) -> Result<std::collections::BTreeSet<u32>> {
    match path {
        Some(p) => read_bad_fills(p),
        None => Ok(crate::geometry::Geometry::phase1()
            .bad_fills
            .iter()
            .copied()
            .collect()),
    }
}

/// Reads the fills of a fills file (`fills.csv` or an OMS export) in `[first, last]`.
///
/// # Errors
/// As [`read_fills`].
pub fn load_fills(
    path: &Path,
    first: Option<u32>,
    last: Option<u32>,
    time: &crate::time::TimeSettings,
) -> Result<Vec<Fill>> {
    let sel = FillSelection {
        first_fill: first,
        last_fill: last,
        ..FillSelection::default()
    };
    Ok(read_fills(
        path,
        &time.reader()?,
        &sel,
        &std::collections::BTreeSet::new(),
    )?
    .0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn json_api_and_filters() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "fills.json",
            r#"{"data": [
 {"id": "8001", "type": "fills", "attributes": {"fill_number": 8001, "start_stable_beam": "2022-08-02T02:15:00Z", "end_stable_beam": "2022-08-02T02:30:00Z", "delivered_lumi": 1.5, "stable_beams": true, "injection_scheme": "x", "bunches_colliding": 2400}},
 {"id": "8000", "type": "fills", "attributes": {"fill_number": 8000, "start_stable_beam": "2022-08-01T10:00:00Z", "end_stable_beam": "2022-08-01T22:30:00Z", "delivered_lumi": 700.0, "stable_beams": true, "injection_scheme": "x", "bunches_colliding": null}},
 {"id": "8002", "type": "fills", "attributes": {"fill_number": 8002, "start_stable_beam": null, "end_stable_beam": null, "delivered_lumi": 0.0, "stable_beams": false, "injection_scheme": null}},
 {"id": "3500", "type": "fills", "attributes": {"fill_number": 3500, "start_stable_beam": "2013-01-01T00:00:00Z", "end_stable_beam": "2013-01-01T01:00:00Z", "delivered_lumi": 1.0, "stable_beams": true, "injection_scheme": "x"}}
]}"#,
        );
        let (fills, rep) = read_fills(
            &p,
            &TimeReader::utc(),
            &FillSelection::default(),
            &BTreeSet::new(),
        )
        .unwrap();
        assert_eq!(
            fills.iter().map(|f| f.fill).collect::<Vec<_>>(),
            vec![8000, 8001]
        );
        assert_eq!(fills[1].bunches_colliding, Some(2400));
        assert_eq!(rep.missing_times, 1);
        assert_eq!(rep.excluded_range, 1);
        assert_eq!(fills[1].measurement_time(1200), fills[1].end_stable_beam);
        assert_eq!(
            fills[0].measurement_time(1200),
            fills[0].start_stable_beam + 1200 * US_PER_S
        );
        let text = fills_csv_text(&fills, &FillsCsvOptions::default());
        assert_eq!(
            text,
            "fill_number,start_stable_beam,end_stable_beam\n\
             8000,2022-08-01 10:00:00.000000,2022-08-01 22:30:00.000000\n\
             8001,2022-08-02 02:15:00.000000,2022-08-02 02:30:00.000000\n"
        );
        // Round trip through the CSV reader.
        let p2 = write(d.path(), "fills.csv", &text);
        let (back, _) = read_fills(
            &p2,
            &TimeReader::utc(),
            &FillSelection::default(),
            &BTreeSet::new(),
        )
        .unwrap();
        assert_eq!(
            back,
            fills
                .iter()
                .cloned()
                .map(|mut f| {
                    f.bunches_colliding = None;
                    f
                })
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn located_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "f.csv",
            "fill_number,start_stable_beam,end_stable_beam\n8000,2022-08-01 10:00:00,2022-08-01 22:30:00\n8001,2022-08-02 xx,2022-08-02 02:30:00\n",
        );
        let e = read_fills(
            &p,
            &TimeReader::utc(),
            &FillSelection::default(),
            &BTreeSet::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("f.csv:3:")
                && e.contains("start_stable_beam")
                && e.contains("2022-08-02 xx"),
            "{e}"
        );
        let p = write(d.path(), "g.csv", "fill,start\n1,2\n");
        let e = read_fills(
            &p,
            &TimeReader::utc(),
            &FillSelection::default(),
            &BTreeSet::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("g.csv:1:") && e.contains("fill_number"), "{e}");
        let p = write(
            d.path(),
            "h.json",
            "{\"data\": [ {\"attributes\": {\"fill_number\": 1,}} ]}",
        );
        let e = read_fills(
            &p,
            &TimeReader::utc(),
            &FillSelection::default(),
            &BTreeSet::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("h.json:1:"), "{e}");
        let p = write(d.path(), "bad.txt", "6230\n6258  \n\nx12\n");
        let e = read_bad_fills(&p).unwrap_err().to_string();
        assert!(e.contains("bad.txt:4:"), "{e}");
    }
}
