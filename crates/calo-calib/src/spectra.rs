//! Source spectra: per-channel amplitude histograms and their file format.
//!
//! The original analyzer wrote one ROOT `TH1F` per SiPM (`SourceAna/sipm_ADC/sipm_<roid>`) or per
//! crystal (`crystals_ADC/cry_<id>`), 120 bins of 1 ADC on `[0, 120]` (`SourceCalibDigiAna`). This
//! crate's neutral format is a long table with one row per bin:
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `roid` | integer | SiPM id 0..=2695, or crystal id 0..=1347 in per-crystal mode |
//! | `bin_low` | float | lower bin edge (ADC) |
//! | `bin_high` | float | upper bin edge (ADC) |
//! | `counts` | float | entries in the bin: finite, non-negative (normally integer-valued) |
//!
//! The file is CSV (`.csv`, with a header line) or Parquet (`.parquet`; `roid` Int64, the others
//! Float64), chosen by extension. Extra columns are ignored; column order is free in CSV.
//!
//! **Row order.** The rows of one id form one consecutive block, in increasing bin order, and the
//! bins are contiguous: each `bin_low` equals the previous row's `bin_high` (within a relative
//! 1e-9). Blocks may come in any id order (the reader sorts them), but an id may not appear in
//! two blocks. Binning may differ between ids and need not be uniform.
//!
//! Errors name the file and the 1-based CSV line (the header is line 1) or, for Parquet, the
//! 1-based row (and say "row" in the message): `path:line: expected ..., found ...`.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use hep_core::hist::Hist1D;

use crate::channel::{IdMode, shorten};
use crate::error::{Error, Result};

/// Relative tolerance for contiguity of bins (`bin_low` against the previous `bin_high`) and for
/// uniformity in [`Spectrum::to_hist`].
pub const EDGE_REL_TOLERANCE: f64 = 1e-9;

/// The required columns, in the order they are written.
pub const COLUMNS: [&str; 4] = ["roid", "bin_low", "bin_high", "counts"];

/// One channel's amplitude histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum {
    /// SiPM readout id, or crystal id in per-crystal mode.
    pub id: u32,
    /// Bin edges, strictly increasing, `n + 1` values for `n` bins (ADC).
    pub edges: Vec<f64>,
    /// Counts per bin, `n` values, finite and non-negative (entries).
    pub counts: Vec<f64>,
}

impl Spectrum {
    /// A spectrum of `counts.len()` equal bins on `[low, high]` (ADC); edge `i` is
    /// `low + i * (high - low) / n`.
    pub fn uniform(id: u32, low: f64, high: f64, counts: Vec<f64>) -> Self {
        let n = counts.len();
        let w = (high - low) / n as f64;
        let mut edges: Vec<f64> = (0..=n).map(|i| low + i as f64 * w).collect();
        if let Some(last) = edges.last_mut() {
            *last = high;
        }
        Self { id, edges, counts }
    }

    /// Number of bins.
    pub fn n_bins(&self) -> usize {
        self.counts.len()
    }

    /// Total entries (sum of counts).
    pub fn n_events(&self) -> f64 {
        self.counts.iter().sum()
    }

    /// Entries in the bins whose low edge is at or above `x` (ADC): the analogue of the original's
    /// `integral_evts` from `FindBin(40)` (MakeAnalysisTree), without the overflow bin that the
    /// original also counted.
    pub fn integral_from(&self, x: f64) -> f64 {
        self.edges
            .iter()
            .zip(&self.counts)
            .filter(|(low, _)| **low >= x)
            .map(|(_, c)| *c)
            .sum()
    }

    /// Mean amplitude from bin centres (ADC), as the original's `h_means`; `NaN` if empty.
    pub fn mean(&self) -> f64 {
        let (mut sw, mut swx) = (0.0, 0.0);
        for (i, &c) in self.counts.iter().enumerate() {
            sw += c;
            swx += c * 0.5 * (self.edges[i] + self.edges[i + 1]);
        }
        swx / sw
    }

    /// Whether all bins have the same width (within a relative [`EDGE_REL_TOLERANCE`] of the
    /// range).
    pub fn is_uniform(&self) -> bool {
        let n = self.counts.len();
        if n == 0 || self.edges.len() != n + 1 {
            return false;
        }
        let (low, high) = (self.edges[0], self.edges[n]);
        let w = (high - low) / n as f64;
        let tol = EDGE_REL_TOLERANCE * (high.abs().max(low.abs()).max(high - low));
        self.edges
            .iter()
            .enumerate()
            .all(|(i, &e)| (e - (low + i as f64 * w)).abs() <= tol)
    }

    /// The spectrum as a fixed-bin [`Hist1D`] (unit weights, no under- or overflow).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if the binning is not uniform or the spectrum has no bins;
    /// [`Error::Core`] if a count is negative or not finite.
    pub fn to_hist(&self) -> Result<Hist1D> {
        if !self.is_uniform() {
            return Err(Error::InvalidArgument(format!(
                "spectrum {} has non-uniform binning (or no bins); Hist1D needs fixed bins",
                self.id
            )));
        }
        let n = self.counts.len();
        Ok(Hist1D::from_counts(
            self.edges[0],
            self.edges[n],
            &self.counts,
        )?)
    }
}

/// The spectra of a set of channels, sorted by id, each id at most once.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpectrumSet {
    /// Whether the ids are crystal ids (0..=1347) rather than SiPM ids (0..=2695).
    pub per_crystal: bool,
    /// The spectra, sorted by increasing id.
    pub spectra: Vec<Spectrum>,
}

impl SpectrumSet {
    /// The id mode of the set.
    pub fn id_mode(&self) -> IdMode {
        IdMode::from_per_crystal(self.per_crystal)
    }

    /// The spectrum of `id`, if present (binary search; needs the sort order).
    pub fn get(&self, id: u32) -> Option<&Spectrum> {
        self.spectra
            .binary_search_by_key(&id, |s| s.id)
            .ok()
            .map(|i| &self.spectra[i])
    }

    /// The ids present, increasing.
    pub fn ids(&self) -> Vec<u32> {
        self.spectra.iter().map(|s| s.id).collect()
    }

    /// Number of spectra.
    pub fn len(&self) -> usize {
        self.spectra.len()
    }

    /// Whether the set holds no spectrum.
    pub fn is_empty(&self) -> bool {
        self.spectra.is_empty()
    }
}

/// File formats of spectra and truth tables, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// Comma-separated text with a header line (`.csv`).
    Csv,
    /// Apache Parquet, zstd-compressed (`.parquet`).
    Parquet,
}

impl TableFormat {
    /// The format for `path`'s extension (`.csv` or `.parquet`, case-insensitive).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for any other extension.
    pub fn from_path(path: &Path) -> Result<Self> {
        match hep_core::io::file_extension(path).as_deref() {
            Some("csv") => Ok(TableFormat::Csv),
            Some("parquet") => Ok(TableFormat::Parquet),
            _ => Err(Error::InvalidArgument(format!(
                "{}: unknown table format; expected a .csv or .parquet extension",
                path.display()
            ))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// Reads a spectra table, CSV or Parquet by extension (see the module docs for the format).
///
/// # Errors
///
/// [`Error::InvalidArgument`] for an unknown extension; otherwise as [`read_spectra_csv`] or
/// [`read_spectra_parquet`].
pub fn read_spectra(path: impl AsRef<Path>, mode: IdMode) -> Result<SpectrumSet> {
    let path = path.as_ref();
    match TableFormat::from_path(path)? {
        TableFormat::Csv => read_spectra_csv(path, mode),
        TableFormat::Parquet => read_spectra_parquet(path, mode),
    }
}

/// Reads a CSV spectra table (streaming; the header is line 1).
///
/// # Errors
///
/// [`Error::Core`] (I/O) if the file cannot be opened; otherwise as [`parse_spectra_csv`].
pub fn read_spectra_csv(path: impl AsRef<Path>, mode: IdMode) -> Result<SpectrumSet> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| hep_core::Error::io(path, e))?;
    parse_spectra_csv(
        std::io::BufReader::with_capacity(256 * 1024, file),
        path,
        mode,
    )
}

/// Parses CSV spectra from `reader`; `path` is used only in messages.
///
/// Fields are trimmed of surrounding whitespace; blank lines are skipped. A header-only input
/// gives an empty set.
///
/// # Errors
///
/// [`hep_core::Error::Parse`] with the 1-based line for: an empty input or missing required column (line
/// 1, naming the column) or a repeated one; a record with a different number of fields from the
/// header (e.g. a truncated last line); invalid UTF-8 or a field that is not an integer (`roid`)
/// or number; an id outside the mode's range; non-finite edges; `bin_high <= bin_low`; counts
/// negative or not finite; a gap or overlap between consecutive bins of one id; an id whose rows
/// are not consecutive (a second block). [`Error::Core`] for a read error.
pub fn parse_spectra_csv<R: std::io::Read>(
    reader: R,
    path: &Path,
    mode: IdMode,
) -> Result<SpectrumSet> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers = match rdr.byte_headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(csv_err(path, e, 1)),
    };
    if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
        return Err(Error::input(
            path,
            1,
            format!("a header line with columns {}", COLUMNS.join(", ")),
            "an empty file",
        ));
    }
    let mut col = [usize::MAX; 4];
    for (i, h) in headers.iter().enumerate() {
        let h = String::from_utf8_lossy(h);
        let h = h.strip_prefix('\u{feff}').unwrap_or(&h);
        if let Some(k) = COLUMNS.iter().position(|c| *c == h) {
            if col[k] != usize::MAX {
                return Err(Error::input(
                    path,
                    1,
                    format!("column `{}` once", COLUMNS[k]),
                    format!("it in fields {} and {}", col[k] + 1, i + 1),
                ));
            }
            col[k] = i;
        }
    }
    for (k, &c) in col.iter().enumerate() {
        if c == usize::MAX {
            let found: Vec<String> = headers
                .iter()
                .map(|h| format!("`{}`", shorten(&String::from_utf8_lossy(h))))
                .collect();
            return Err(Error::input(
                path,
                1,
                format!("a column `{}` in the header", COLUMNS[k]),
                format!("columns {}", found.join(", ")),
            ));
        }
    }
    let n_fields = headers.len();
    let mut builder = Builder::new(path, mode, false);
    let mut record = csv::ByteRecord::new();
    loop {
        let prev_line = record.position().map_or(1, |p| p.line());
        match rdr.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_err(path, e, prev_line + 1)),
        }
        let line = record.position().map_or(prev_line + 1, |p| p.line());
        if record.len() != n_fields {
            return Err(Error::input(
                path,
                line,
                format!("{n_fields} fields as in the header"),
                format!("{} fields in `{}`", record.len(), record_text(&record)),
            ));
        }
        let field = |k: usize| -> Result<&str> {
            std::str::from_utf8(&record[col[k]]).map_err(|_| {
                Error::input(
                    path,
                    line,
                    format!("UTF-8 text in column `{}`", COLUMNS[k]),
                    "invalid UTF-8",
                )
            })
        };
        let id_text = field(0)?;
        let id: i64 = id_text.parse().map_err(|_| {
            Error::input(
                path,
                line,
                "an integer in column `roid`",
                format!("`{}`", shorten(id_text)),
            )
        })?;
        let num = |k: usize| -> Result<f64> {
            let t = field(k)?;
            t.parse::<f64>().map_err(|_| {
                Error::input(
                    path,
                    line,
                    format!("a number in column `{}`", COLUMNS[k]),
                    format!("`{}`", shorten(t)),
                )
            })
        };
        let low = num(1)?;
        let high = num(2)?;
        let counts = num(3)?;
        builder.push(line, id, low, high, counts)?;
    }
    Ok(builder.finish())
}

fn record_text(record: &csv::ByteRecord) -> String {
    let fields: Vec<String> = record
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    shorten(&fields.join(","))
}

fn csv_err(path: &Path, e: csv::Error, line: u64) -> Error {
    let line = e.position().map_or(line, |p| p.line());
    let msg = e.to_string();
    match e.into_kind() {
        csv::ErrorKind::Io(io) => hep_core::Error::io(path, io).into(),
        csv::ErrorKind::Utf8 { .. } => Error::input(path, line, "UTF-8 text", "invalid UTF-8"),
        _ => Error::input(path, line, "a CSV record", msg),
    }
}

/// Reads a Parquet spectra table (`roid` Int64, `bin_low`/`bin_high`/`counts` Float64), batch by
/// batch.
///
/// # Errors
///
/// [`Error::Core`] if the file cannot be opened or decoded; [`hep_core::Error::Parse`] at line 0 (the
/// schema) for a missing column or one of the wrong type; at the 1-based row for a null value
/// and for every check of [`parse_spectra_csv`].
pub fn read_spectra_parquet(path: impl AsRef<Path>, mode: IdMode) -> Result<SpectrumSet> {
    let path = path.as_ref();
    let reader = hep_core::io::ParquetReader::open(path)?;
    let schema = reader.schema().clone();
    let want = [
        DataType::Int64,
        DataType::Float64,
        DataType::Float64,
        DataType::Float64,
    ];
    for (name, ty) in COLUMNS.iter().zip(&want) {
        match schema.field_with_name(name) {
            Ok(f) if f.data_type() == ty => {}
            Ok(f) => {
                return Err(Error::input(
                    path,
                    0,
                    format!("column `{name}` of type {ty} (schema)"),
                    format!("type {}", f.data_type()),
                ));
            }
            Err(_) => {
                let found: Vec<String> = schema
                    .fields()
                    .iter()
                    .map(|f| format!("`{}`", f.name()))
                    .collect();
                return Err(Error::input(
                    path,
                    0,
                    format!("a column `{name}` (schema)"),
                    format!("columns {}", found.join(", ")),
                ));
            }
        }
    }
    let mut builder = Builder::new(path, mode, true);
    let mut row0 = 0u64;
    for batch in reader {
        let batch = batch?;
        let ids = hep_core::io::column_i64(&batch, COLUMNS[0])?;
        let lows = hep_core::io::column_f64(&batch, COLUMNS[1])?;
        let highs = hep_core::io::column_f64(&batch, COLUMNS[2])?;
        let counts = hep_core::io::column_f64(&batch, COLUMNS[3])?;
        for i in 0..batch.num_rows() {
            let row = row0 + i as u64 + 1;
            let arrays: [&dyn Array; 4] = [ids, lows, highs, counts];
            for (k, a) in arrays.iter().enumerate() {
                if a.is_null(i) {
                    return Err(Error::input(
                        path,
                        row,
                        format!("a value in column `{}`", COLUMNS[k]),
                        format!("null (row {row})"),
                    ));
                }
            }
            builder.push(
                row,
                ids.value(i),
                lows.value(i),
                highs.value(i),
                counts.value(i),
            )?;
        }
        row0 += batch.num_rows() as u64;
    }
    Ok(builder.finish())
}

/// Assembles spectra from rows, checking each row as it comes.
struct Builder<'a> {
    path: &'a Path,
    mode: IdMode,
    parquet: bool,
    /// First line of each id's block (0 = not seen).
    first_line: Vec<u64>,
    current: Option<Spectrum>,
    done: Vec<Spectrum>,
}

impl<'a> Builder<'a> {
    fn new(path: &'a Path, mode: IdMode, parquet: bool) -> Self {
        Self {
            path,
            mode,
            parquet,
            first_line: vec![0; mode.n_ids() as usize],
            current: None,
            done: Vec::new(),
        }
    }

    fn err(&self, line: u64, expected: impl Into<String>, found: impl Into<String>) -> Error {
        let mut found = found.into();
        if self.parquet {
            found.push_str(&format!(" (row {line})"));
        }
        Error::input(self.path, line, expected, found)
    }

    fn push(&mut self, line: u64, id: i64, low: f64, high: f64, counts: f64) -> Result<()> {
        let n_ids = self.mode.n_ids();
        let id = match u32::try_from(id) {
            Ok(v) if v < n_ids => v,
            _ => {
                return Err(self.err(
                    line,
                    format!("a {} in 0..={}", self.mode.id_name(), n_ids - 1),
                    format!("`{id}`"),
                ));
            }
        };
        if !low.is_finite() {
            return Err(self.err(line, "a finite `bin_low` (ADC)", format!("`{low}`")));
        }
        if !high.is_finite() {
            return Err(self.err(line, "a finite `bin_high` (ADC)", format!("`{high}`")));
        }
        if !(high > low) {
            return Err(self.err(
                line,
                "`bin_high` > `bin_low`",
                format!("bin_low = {low}, bin_high = {high}"),
            ));
        }
        if !(counts.is_finite() && counts >= 0.0) {
            return Err(self.err(line, "finite, non-negative `counts`", format!("`{counts}`")));
        }
        if let Some(cur) = self.current.as_mut()
            && cur.id == id
        {
            let prev = *cur.edges.last().expect("a started spectrum has edges");
            let tol = EDGE_REL_TOLERANCE * prev.abs().max(low.abs()).max(high - low);
            if (low - prev).abs() > tol {
                let what = if low > prev {
                    "a gap"
                } else {
                    "overlapping or decreasing bins"
                };
                return Err(self.err(
                    line,
                    format!(
                        "contiguous increasing bins for {} {id}: bin_low = previous bin_high = {prev}",
                        self.mode.id_name()
                    ),
                    format!("bin_low = {low} ({what})"),
                ));
            }
            cur.edges.push(high);
            cur.counts.push(counts);
            return Ok(());
        }
        let first = self.first_line[id as usize];
        if first != 0 {
            let unit = if self.parquet { "row" } else { "line" };
            return Err(self.err(
                line,
                format!(
                    "the rows of each id in one consecutive block; {} {id} started at {unit} {first}",
                    self.mode.id_name()
                ),
                "a second block",
            ));
        }
        self.first_line[id as usize] = line;
        if let Some(cur) = self.current.take() {
            self.done.push(cur);
        }
        self.current = Some(Spectrum {
            id,
            edges: vec![low, high],
            counts: vec![counts],
        });
        Ok(())
    }

    fn finish(mut self) -> SpectrumSet {
        if let Some(cur) = self.current.take() {
            self.done.push(cur);
        }
        self.done.sort_unstable_by_key(|s| s.id);
        SpectrumSet {
            per_crystal: self.mode.is_per_crystal(),
            spectra: self.done,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// Writes `set` as CSV or Parquet by `path`'s extension, atomically (spectra in the set's order,
/// which is by id for sets from the readers and simulators).
///
/// # Errors
///
/// [`Error::InvalidArgument`] for an unknown extension or a spectrum whose edges do not number
/// `counts.len() + 1`; [`Error::Core`] for I/O or Parquet errors (no file is left at `path`).
pub fn write_spectra(path: impl AsRef<Path>, set: &SpectrumSet) -> Result<()> {
    let path = path.as_ref();
    match TableFormat::from_path(path)? {
        TableFormat::Csv => write_spectra_csv(path, set),
        TableFormat::Parquet => write_spectra_parquet(path, set),
    }
}

fn check_shapes(set: &SpectrumSet) -> Result<()> {
    for s in &set.spectra {
        if s.edges.len() != s.counts.len() + 1 {
            return Err(Error::InvalidArgument(format!(
                "spectrum {} has {} edges for {} bins",
                s.id,
                s.edges.len(),
                s.counts.len()
            )));
        }
    }
    Ok(())
}

/// Writes `set` as CSV (header `roid,bin_low,bin_high,counts`; floats in Rust's shortest
/// round-trip form, so reading back gives identical numbers), atomically.
///
/// # Errors
///
/// As [`write_spectra`].
pub fn write_spectra_csv(path: impl AsRef<Path>, set: &SpectrumSet) -> Result<()> {
    let path = path.as_ref();
    check_shapes(set)?;
    hep_core::io::atomic_write(path, |w| {
        let err = |e: csv::Error| hep_core::Error::io(path, std::io::Error::other(e));
        let mut out = csv::Writer::from_writer(w);
        out.write_record(COLUMNS).map_err(err)?;
        // Shortest round-trip form of each value (`{:?}`: 98.0, 0.1, 1e-7).
        let mut record: [String; 4] = Default::default();
        for s in &set.spectra {
            for (i, c) in s.counts.iter().enumerate() {
                record[0] = s.id.to_string();
                record[1] = format!("{:?}", s.edges[i]);
                record[2] = format!("{:?}", s.edges[i + 1]);
                record[3] = format!("{c:?}");
                out.write_record(&record).map_err(err)?;
            }
        }
        out.flush().map_err(|e| hep_core::Error::io(path, e))?;
        Ok(())
    })?;
    Ok(())
}

/// The Arrow schema of the Parquet spectra table.
pub fn spectra_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new(COLUMNS[0], DataType::Int64, false),
        hep_core::io::with_unit(Field::new(COLUMNS[1], DataType::Float64, false), "ADC"),
        hep_core::io::with_unit(Field::new(COLUMNS[2], DataType::Float64, false), "ADC"),
        hep_core::io::with_unit(Field::new(COLUMNS[3], DataType::Float64, false), "1"),
    ]))
}

/// Writes `set` as Parquet (`roid` Int64, the rest Float64; zstd; footer metadata `id_mode` =
/// `per-sipm` or `per-crystal`), atomically.
///
/// # Errors
///
/// As [`write_spectra`].
pub fn write_spectra_parquet(path: impl AsRef<Path>, set: &SpectrumSet) -> Result<()> {
    let path = path.as_ref();
    check_shapes(set)?;
    let n: usize = set.spectra.iter().map(Spectrum::n_bins).sum();
    let mut ids = Vec::with_capacity(n);
    let mut lows = Vec::with_capacity(n);
    let mut highs = Vec::with_capacity(n);
    let mut counts = Vec::with_capacity(n);
    for s in &set.spectra {
        for (i, &c) in s.counts.iter().enumerate() {
            ids.push(i64::from(s.id));
            lows.push(s.edges[i]);
            highs.push(s.edges[i + 1]);
            counts.push(c);
        }
    }
    let schema = spectra_schema();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(Float64Array::from(lows)),
            Arc::new(Float64Array::from(highs)),
            Arc::new(Float64Array::from(counts)),
        ],
    )
    .map_err(hep_core::Error::from)?;
    let mode = if set.per_crystal {
        "per-crystal"
    } else {
        "per-sipm"
    };
    hep_core::io::write_parquet_with_schema(
        path,
        schema,
        &[batch],
        &[("id_mode".to_owned(), mode.to_owned())],
    )?;
    Ok(())
}
