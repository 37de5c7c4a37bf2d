//! Mu2e DB text tables (Mu2e Offline `DbTables/inc/Cal*EnergyCalib*.hh`): readers and writers of
//! `CalSourceEnergyCalib`, `CalCosmicEnergyCalib`, `CalEnergyCalib` and `CalCombinedEnergyCalib`.
//!
//! # Format
//!
//! ```text
//! TABLE CalEnergyCalib
//! 0,0.06250
//! 1,0.06250
//! ...
//! ```
//!
//! - one line `TABLE <Name>`, then CSV rows starting with `roid`;
//! - floats are written with 5 decimals (`{:.5}`), integers (roid, ndf, nhits, status code) as
//!   integers, and the status message of `CalCombinedEnergyCalib` in double quotes (a `"` inside
//!   a message is doubled, as in CSV);
//! - the writers write exactly [`channel::N_DB_ROWS`] = 2720 rows, in order 0..2719 (the
//!   Offline table loader throws otherwise), refuse anything else with
//!   [`Error::InvalidArgument`], and refuse non-finite floats (a DB table must not hold NaN);
//! - all writes are atomic (temporary file + rename, `hep_core::io`), so a failed write leaves no
//!   half-written file behind.
//!
//! # Reading
//!
//! Blank lines and lines whose first non-blank character is `#` are skipped anywhere. The first
//! other line must be `TABLE <Name>` with exactly the expected name. Every later line is one row
//! with the table's column count. Errors are [`hep_core::Error::Parse`] with the 1-based line of the file.
//!
//! Row order is checked according to [`RowCheck`]:
//! - [`RowCheck::Strict`] (the default): rows are roid 0, 1, 2, ... without gaps or duplicates,
//!   and the table has either [`channel::N_SIPMS`] = 2696 rows (0..2695: SiPMs only, as the real
//!   cosmic table `Cosmics.txt` fetched from the DB) or [`channel::N_DB_ROWS`] = 2720 rows
//!   (0..2719). For a 2696-row table the rows 2696..2719 (PIN diodes and spares) are simply
//!   absent; the combination treats an absent row as an invalid measurement, and those
//!   channels are set to nominal anyway (see [`crate::combine`]).
//! - [`RowCheck::AllowGaps`]: roids must be strictly increasing (no duplicates, no reordering)
//!   and below 2720, but any row may be missing; a missing row is absent (invalid).
//!
//! # Units
//!
//! Peaks are in ADC counts; `adc2mev` is in MeV/ADC (reconstruction computes `E = amplitude ×
//! adc2mev`); the source width `fullwidth` (and the equal escape widths) is stored **in MeV**, the
//! unit of the fit's shared width parameter σ (the original has no writer of this table, so the
//! unit is this crate's choice). Convert with σ_ADC = σ_MeV · P / 6.13 if needed.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use crate::{Error, Result, channel};

/// [`channel::N_SIPMS`] (2696) as a length.
const N_SIPMS: usize = channel::N_SIPMS as usize;
/// [`channel::N_DB_ROWS`] (2720) as a length.
const N_DB_ROWS: usize = channel::N_DB_ROWS as usize;

/// DB name of the source archive table.
pub const SOURCE_TABLE: &str = "CalSourceEnergyCalib";
/// DB name of the cosmic (MIP) archive table.
pub const COSMIC_TABLE: &str = "CalCosmicEnergyCalib";
/// DB name of the reco table read by CaloRecoDigiMaker, also the nominal table.
pub const ENERGY_TABLE: &str = "CalEnergyCalib";
/// DB name of the per-channel combination metadata table (Offline PR #1718).
pub const COMBINED_TABLE: &str = "CalCombinedEnergyCalib";

/// How strictly a reader checks the roid sequence of a table (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowCheck {
    /// Rows 0, 1, 2, ... without gaps; 2696 or 2720 rows in total.
    #[default]
    Strict,
    /// Strictly increasing roids below 2720; missing rows are allowed (absent).
    AllowGaps,
}

/// Column layout of a `CalCosmicEnergyCalib` text file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CosmicLayout {
    /// The DB schema, 10 columns: `roid, peak, errpeak, width, errwidth, sigma, errsigma, chisq,
    /// ndf, nhits`.
    #[default]
    Standard,
    /// The legacy 9-column layout of the real `Combinations/data/Cosmics.txt` (run 106521):
    /// `roid, peak, errpeak, width, errwidth, sigma, errsigma, reduced_chi2, nhits`. Column 8 is
    /// χ²/ndf (≈1.1) and column 9 is the number of hits (≈800), not ndf.
    Legacy9,
}

/// One row of `CalSourceEnergyCalib` (18 columns; the mapping from the fit is
/// documented at [`crate::detector`]).
///
/// Peaks and their errors in ADC counts; widths in **MeV** (the fit's shared width σ, see the
/// module docs); fractions dimensionless; `chisq` the unreduced χ² and `ndf` = bins used − free
/// parameters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceRow {
    /// Readout id, 0..2719.
    pub roid: u32,
    /// Full-energy (6.13 MeV) peak position P (ADC).
    pub fullepeak: f64,
    /// Symmetric error of P (ADC).
    pub fullerrepeak: f64,
    /// Shared peak width σ (MeV).
    pub fullwidth: f64,
    /// Error of σ (MeV).
    pub fullerrwidth: f64,
    /// First-escape (5.619 MeV) peak, P·5.619/6.13 (ADC).
    pub firstescepeak: f64,
    /// Error of the first-escape peak, scaled like the peak (ADC).
    pub firstescerrepeak: f64,
    /// First-escape width, equal to `fullwidth` (MeV).
    pub firstescwidth: f64,
    /// Error of the first-escape width (MeV).
    pub firstescerrwidth: f64,
    /// Second-escape (5.108 MeV) peak, P·5.108/6.13 (ADC).
    pub secescepeak: f64,
    /// Error of the second-escape peak (ADC).
    pub secescerrepeak: f64,
    /// Second-escape width, equal to `fullwidth` (MeV).
    pub secescwidth: f64,
    /// Error of the second-escape width (MeV).
    pub secescerrwidth: f64,
    /// Fraction of the full-energy peak (dimensionless).
    pub frfull: f64,
    /// Fraction of the first-escape peak (dimensionless).
    pub frfirst: f64,
    /// Fraction of the second-escape peak (dimensionless).
    pub frsecond: f64,
    /// Unreduced χ² of the fit.
    pub chisq: f64,
    /// Degrees of freedom of the fit.
    pub ndf: u32,
}

impl SourceRow {
    /// An all-zero row for `roid` (no fit: dead channel, PIN diode or spare). It is invalid for
    /// the combination (peak 0).
    pub fn empty(roid: u32) -> Self {
        SourceRow {
            roid,
            ..Default::default()
        }
    }
}

/// One row of `CalCosmicEnergyCalib` (CaloCalibration `CaloCosmicEnecalib_module.cc`): the Landau ⊗
/// Gauss fit of the MIP spectrum.
///
/// `peak` is the MIP most-probable value in ADC counts for the 20 MeV reference deposit (34.3 mm
/// of CsI); widths in ADC counts. Which χ² fields are set depends on the layout read:
/// [`CosmicLayout::Standard`] sets `chisq` and `ndf` (and leaves `chisq_per_ndf` `None`);
/// [`CosmicLayout::Legacy9`] sets only `chisq_per_ndf` (column 8) and leaves `chisq` and `ndf`
/// `None`, because the file does not say what ndf was.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CosmicRow {
    /// Readout id, 0..2719.
    pub roid: u32,
    /// MIP most-probable value (ADC).
    pub peak: f64,
    /// Error of `peak` (ADC).
    pub errpeak: f64,
    /// Landau width (ADC).
    pub width: f64,
    /// Error of `width` (ADC).
    pub errwidth: f64,
    /// Gaussian σ of the convolution (ADC).
    pub sigma: f64,
    /// Error of `sigma` (ADC).
    pub errsigma: f64,
    /// Unreduced χ² (standard layout only).
    pub chisq: Option<f64>,
    /// Degrees of freedom (standard layout only).
    pub ndf: Option<u32>,
    /// χ²/ndf as stored by the legacy 9-column layout (`None` for the standard layout).
    pub chisq_per_ndf: Option<f64>,
    /// Number of hits in the channel's histogram.
    pub nhits: u64,
}

impl CosmicRow {
    /// An all-zero standard-layout row for `roid` (no fit). It is invalid for the combination.
    pub fn empty(roid: u32) -> Self {
        CosmicRow {
            roid,
            chisq: Some(0.0),
            ndf: Some(0),
            ..Default::default()
        }
    }

    /// χ²/ndf: `chisq_per_ndf` if stored (legacy layout), else `chisq / ndf` (NaN if ndf is 0 or
    /// either is missing).
    pub fn reduced_chisq(&self) -> f64 {
        match (self.chisq_per_ndf, self.chisq, self.ndf) {
            (Some(r), _, _) => r,
            (None, Some(c), Some(n)) if n > 0 => c / f64::from(n),
            _ => f64::NAN,
        }
    }
}

/// One row of `CalEnergyCalib`: the reco constant, also the format of the nominal
/// table.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NominalRow {
    /// Readout id, 0..2719.
    pub roid: u32,
    /// Energy per ADC count (MeV/ADC); `E = amplitude × adc2mev` (Offline
    /// `CaloRecoDigiMaker`).
    pub adc2mev: f64,
}

/// One row of `CalCombinedEnergyCalib`: the combined constant and how it was
/// obtained.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CombinedRow {
    /// Readout id, 0..2719.
    pub roid: u32,
    /// Combined constant (MeV/ADC). In compat mode the original's value, which is ADC/MeV (see
    /// `crate::combine`).
    pub adc2mev: f64,
    /// Its error, same unit as `adc2mev`; 0 for fallbacks.
    pub adc2mev_err: f64,
    /// Status code: 0 both methods, 1 inconsistent (fallback), 2 bad fits / nominal,
    /// 101 cosmic only, 102 source only (Offline `CalCombinedEnergyCalibStatus`).
    pub status_code: i32,
    /// Human-readable status, e.g. `OK: C+S` (written in double quotes).
    pub status_message: String,
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

trait DbRow {
    fn roid(&self) -> u32;
    /// Appends `,field,field...` (everything after the roid) to `out`.
    fn write_fields(&self, out: &mut String) -> Result<()>;
}

fn push_f(out: &mut String, roid: u32, name: &str, v: f64) -> Result<()> {
    if !v.is_finite() {
        return Err(Error::InvalidArgument(format!(
            "roid {roid}: column {name} is {v}; DB tables need finite numbers"
        )));
    }
    // Writing to a String cannot fail.
    let _ = write!(out, ",{v:.5}");
    Ok(())
}

fn push_i(out: &mut String, v: impl std::fmt::Display) {
    let _ = write!(out, ",{v}");
}

impl DbRow for SourceRow {
    fn roid(&self) -> u32 {
        self.roid
    }
    fn write_fields(&self, out: &mut String) -> Result<()> {
        let r = self.roid;
        for (name, v) in [
            ("fullepeak", self.fullepeak),
            ("fullerrepeak", self.fullerrepeak),
            ("fullwidth", self.fullwidth),
            ("fullerrwidth", self.fullerrwidth),
            ("firstescepeak", self.firstescepeak),
            ("firstescerrepeak", self.firstescerrepeak),
            ("firstescwidth", self.firstescwidth),
            ("firstescerrwidth", self.firstescerrwidth),
            ("secescepeak", self.secescepeak),
            ("secescerrepeak", self.secescerrepeak),
            ("secescwidth", self.secescwidth),
            ("secescerrwidth", self.secescerrwidth),
            ("frfull", self.frfull),
            ("frfirst", self.frfirst),
            ("frsecond", self.frsecond),
            ("chisq", self.chisq),
        ] {
            push_f(out, r, name, v)?;
        }
        push_i(out, self.ndf);
        Ok(())
    }
}

impl DbRow for CosmicRow {
    fn roid(&self) -> u32 {
        self.roid
    }
    fn write_fields(&self, out: &mut String) -> Result<()> {
        let r = self.roid;
        let (Some(chisq), Some(ndf)) = (self.chisq, self.ndf) else {
            return Err(Error::InvalidArgument(format!(
                "roid {r}: a {COSMIC_TABLE} row needs chisq and ndf for the standard 10-column \
                 layout (this row came from the legacy 9-column layout)"
            )));
        };
        for (name, v) in [
            ("peak", self.peak),
            ("errpeak", self.errpeak),
            ("width", self.width),
            ("errwidth", self.errwidth),
            ("sigma", self.sigma),
            ("errsigma", self.errsigma),
            ("chisq", chisq),
        ] {
            push_f(out, r, name, v)?;
        }
        push_i(out, ndf);
        push_i(out, self.nhits);
        Ok(())
    }
}

impl DbRow for NominalRow {
    fn roid(&self) -> u32 {
        self.roid
    }
    fn write_fields(&self, out: &mut String) -> Result<()> {
        push_f(out, self.roid, "adc2mev", self.adc2mev)
    }
}

impl DbRow for CombinedRow {
    fn roid(&self) -> u32 {
        self.roid
    }
    fn write_fields(&self, out: &mut String) -> Result<()> {
        push_f(out, self.roid, "adc2mev", self.adc2mev)?;
        push_f(out, self.roid, "adc2mev_err", self.adc2mev_err)?;
        push_i(out, self.status_code);
        let _ = write!(out, ",\"{}\"", self.status_message.replace('"', "\"\""));
        Ok(())
    }
}

fn format_table<R: DbRow>(name: &str, rows: &[R]) -> Result<String> {
    if rows.len() != N_DB_ROWS {
        return Err(Error::InvalidArgument(format!(
            "table {name} must have {N_DB_ROWS} rows (roid 0..{}), got {}",
            N_DB_ROWS - 1,
            rows.len()
        )));
    }
    let mut out = String::with_capacity(64 * N_DB_ROWS);
    out.push_str("TABLE ");
    out.push_str(name);
    out.push('\n');
    for (i, row) in rows.iter().enumerate() {
        if row.roid() as usize != i {
            return Err(Error::InvalidArgument(format!(
                "table {name}: row {i} has roid {}; rows must be in order 0..{}",
                row.roid(),
                N_DB_ROWS - 1
            )));
        }
        let _ = write!(out, "{}", row.roid());
        row.write_fields(&mut out)?;
        out.push('\n');
    }
    Ok(out)
}

fn write_table<R: DbRow>(path: &Path, name: &str, rows: &[R]) -> Result<()> {
    let text = format_table(name, rows)?;
    hep_core::io::atomic_write_bytes(path, text.as_bytes())?;
    Ok(())
}

/// Formats a `CalSourceEnergyCalib` table as text (see the module docs for the format).
///
/// # Errors
///
/// [`Error::InvalidArgument`] unless `rows` are exactly roid 0..2719 in order with finite floats.
pub fn format_source_table(rows: &[SourceRow]) -> Result<String> {
    format_table(SOURCE_TABLE, rows)
}

/// Formats a `CalCosmicEnergyCalib` table (standard 10-column layout) as text.
///
/// # Errors
///
/// [`Error::InvalidArgument`] unless `rows` are exactly roid 0..2719 in order with finite floats
/// and every row has `chisq` and `ndf` (legacy rows cannot be written in the standard layout).
pub fn format_cosmic_table(rows: &[CosmicRow]) -> Result<String> {
    format_table(COSMIC_TABLE, rows)
}

/// Formats a `CalEnergyCalib` table (`roid,adc2mev`, MeV/ADC) as text.
///
/// # Errors
///
/// [`Error::InvalidArgument`] unless `rows` are exactly roid 0..2719 in order with finite floats.
pub fn format_energy_table(rows: &[NominalRow]) -> Result<String> {
    format_table(ENERGY_TABLE, rows)
}

/// Formats a `CalCombinedEnergyCalib` table as text (status message quoted).
///
/// # Errors
///
/// [`Error::InvalidArgument`] unless `rows` are exactly roid 0..2719 in order with finite floats.
pub fn format_combined_table(rows: &[CombinedRow]) -> Result<String> {
    format_table(COMBINED_TABLE, rows)
}

/// Writes a `CalSourceEnergyCalib` table atomically to `path`.
///
/// # Errors
///
/// As [`format_source_table`]; [`Error::Core`] if the file cannot be written (nothing is left at
/// `path` then, and an existing file keeps its content).
pub fn write_source_table(path: &Path, rows: &[SourceRow]) -> Result<()> {
    write_table(path, SOURCE_TABLE, rows)
}

/// Writes a `CalCosmicEnergyCalib` table (standard layout) atomically to `path`.
///
/// # Errors
///
/// As [`format_cosmic_table`]; [`Error::Core`] if the file cannot be written.
pub fn write_cosmic_table(path: &Path, rows: &[CosmicRow]) -> Result<()> {
    write_table(path, COSMIC_TABLE, rows)
}

/// Writes a `CalEnergyCalib` table (reco or nominal, MeV/ADC) atomically to `path`.
///
/// # Errors
///
/// As [`format_energy_table`]; [`Error::Core`] if the file cannot be written.
pub fn write_energy_table(path: &Path, rows: &[NominalRow]) -> Result<()> {
    write_table(path, ENERGY_TABLE, rows)
}

/// Writes a `CalCombinedEnergyCalib` table atomically to `path`.
///
/// # Errors
///
/// As [`format_combined_table`]; [`Error::Core`] if the file cannot be written.
pub fn write_combined_table(path: &Path, rows: &[CombinedRow]) -> Result<()> {
    write_table(path, COMBINED_TABLE, rows)
}

/// Writes the two outputs of the combination together: `CalEnergyCalib` (`roid,adc2mev`) to
/// `reco_path` and `CalCombinedEnergyCalib` to `combined_path` (the two outputs of
/// `CaloCalibTableMaker`).
///
/// Both files are formatted and written to temporary files first; they are renamed onto their
/// targets only when both are complete, so a formatting or write error leaves neither.
///
/// # Errors
///
/// As [`format_combined_table`]; [`Error::Core`] if a file cannot be written.
pub fn write_reco_tables(
    reco_path: &Path,
    combined_path: &Path,
    rows: &[CombinedRow],
) -> Result<()> {
    let reco: Vec<NominalRow> = rows
        .iter()
        .map(|r| NominalRow {
            roid: r.roid,
            adc2mev: r.adc2mev,
        })
        .collect();
    let reco_text = format_energy_table(&reco)?;
    let combined_text = format_combined_table(rows)?;
    let mut a = hep_core::io::AtomicFile::create(reco_path)?;
    a.write_all(reco_text.as_bytes())
        .map_err(|e| hep_core::Error::io(reco_path, e))?;
    let mut b = hep_core::io::AtomicFile::create(combined_path)?;
    b.write_all(combined_text.as_bytes())
        .map_err(|e| hep_core::Error::io(combined_path, e))?;
    a.commit()?;
    b.commit()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// Splits one CSV line into trimmed fields; a field may be double-quoted (`""` inside quotes is
/// one `"`). Returns a description of the problem on unbalanced quotes.
fn split_csv(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        // Skip leading blanks of a field.
        while matches!(chars.peek(), Some(c) if *c == ' ' || *c == '\t') {
            chars.next();
        }
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        field.push('"');
                    } else {
                        closed = true;
                        break;
                    }
                } else {
                    field.push(c);
                }
            }
            if !closed {
                return Err("an unterminated quoted field".into());
            }
            while matches!(chars.peek(), Some(c) if *c == ' ' || *c == '\t') {
                chars.next();
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(c) => return Err(format!("`{c}` after a quoted field")),
            }
        } else {
            let mut end = true;
            for c in chars.by_ref() {
                if c == ',' {
                    end = false;
                    break;
                }
                field.push(c);
            }
            fields.push(field.trim().to_string());
            if end {
                return Ok(fields);
            }
        }
    }
}

/// Parsing context of one line.
struct Line<'a> {
    path: &'a Path,
    line: u64,
    fields: Vec<String>,
}

impl Line<'_> {
    fn err(&self, expected: impl Into<String>, found: impl Into<String>) -> Error {
        Error::input(self.path, self.line, expected, found)
    }

    fn f(&self, i: usize, name: &str) -> Result<f64> {
        let s = &self.fields[i];
        s.parse::<f64>().map_err(|_| {
            self.err(
                format!("a number for column {} ({name})", i + 1),
                format!("`{s}`"),
            )
        })
    }

    /// A non-negative integer; an integral float such as `72.00000` is accepted too.
    fn u(&self, i: usize, name: &str) -> Result<u64> {
        let s = &self.fields[i];
        if let Ok(v) = s.parse::<u64>() {
            return Ok(v);
        }
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 2f64.powi(53) => {
                Ok(v as u64)
            }
            _ => Err(self.err(
                format!("a non-negative integer for column {} ({name})", i + 1),
                format!("`{s}`"),
            )),
        }
    }

    fn u32(&self, i: usize, name: &str) -> Result<u32> {
        let v = self.u(i, name)?;
        u32::try_from(v).map_err(|_| {
            self.err(
                format!("an integer below 2^32 for column {} ({name})", i + 1),
                v.to_string(),
            )
        })
    }

    fn i32(&self, i: usize, name: &str) -> Result<i32> {
        let s = &self.fields[i];
        s.parse::<i32>().map_err(|_| {
            self.err(
                format!("an integer for column {} ({name})", i + 1),
                format!("`{s}`"),
            )
        })
    }
}

/// Reads the header and the rows of table `name` from `text`, calling `row` for every data line
/// (whose column count it must check itself). Checks the roid sequence per `check`.
fn parse_table<R>(
    text: &str,
    path: &Path,
    name: &str,
    check: RowCheck,
    mut row: impl FnMut(&Line<'_>) -> Result<R>,
) -> Result<Vec<R>> {
    let mut header_seen = false;
    let mut out = Vec::new();
    let mut last_roid: Option<u32> = None;
    let mut last_line = 0u64;
    for (i, raw) in text.lines().enumerate() {
        let lineno = i as u64 + 1;
        last_line = lineno;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if !header_seen {
            let mut words = t.split_whitespace();
            if words.next() != Some("TABLE") || words.next() != Some(name) || words.next().is_some()
            {
                return Err(Error::input(
                    path,
                    lineno,
                    format!("the header `TABLE {name}`"),
                    format!("`{}`", truncate(t)),
                ));
            }
            header_seen = true;
            continue;
        }
        let fields = split_csv(t).map_err(|e| {
            Error::input(
                path,
                lineno,
                "a CSV row",
                format!("{e} in `{}`", truncate(t)),
            )
        })?;
        let line = Line {
            path,
            line: lineno,
            fields,
        };
        let roid_s = &line.fields[0];
        let roid: u32 = roid_s
            .parse()
            .ok()
            .filter(|&r| (r as usize) < N_DB_ROWS)
            .ok_or_else(|| {
                line.err(
                    format!("a roid (integer 0..{}) in column 1", N_DB_ROWS - 1),
                    format!("`{}`", truncate(roid_s)),
                )
            })?;
        let expected_next = last_roid.map_or(0, |r| r + 1);
        let ok = match check {
            RowCheck::Strict => roid == expected_next,
            RowCheck::AllowGaps => roid >= expected_next,
        };
        if !ok {
            let what = match check {
                RowCheck::Strict => format!("roid {expected_next} (rows in order without gaps)"),
                RowCheck::AllowGaps => {
                    format!("a roid >= {expected_next} (strictly increasing, no duplicates)")
                }
            };
            return Err(line.err(what, format!("roid {roid}")));
        }
        last_roid = Some(roid);
        out.push(row(&line)?);
    }
    if !header_seen {
        return Err(Error::input(
            path,
            last_line.max(1),
            format!("the header `TABLE {name}`"),
            "no header (empty table)",
        ));
    }
    if check == RowCheck::Strict && out.len() != N_SIPMS && out.len() != N_DB_ROWS {
        return Err(Error::input(
            path,
            last_line + 1,
            format!(
                "{N_SIPMS} rows (roid 0..{}) or {N_DB_ROWS} rows (roid 0..{})",
                N_SIPMS - 1,
                N_DB_ROWS - 1
            ),
            format!("{} rows (end of file)", out.len()),
        ));
    }
    Ok(out)
}

fn truncate(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let t: String = s.chars().take(MAX).collect();
        format!("{t}...")
    }
}

fn check_columns(line: &Line<'_>, table: &str, n: usize, names: &str) -> Result<()> {
    if line.fields.len() != n {
        return Err(line.err(
            format!("{n} columns of {table} ({names})"),
            format!("{} columns", line.fields.len()),
        ));
    }
    Ok(())
}

fn read_text(path: &Path) -> Result<String> {
    Ok(hep_core::io::read_text(path)?)
}

const SOURCE_COLUMNS: &str = "roid, fullepeak, fullerrepeak, fullwidth, fullerrwidth, \
    firstescepeak, firstescerrepeak, firstescwidth, firstescerrwidth, secescepeak, \
    secescerrepeak, secescwidth, secescerrwidth, frfull, frfirst, frsecond, chisq, ndf";

/// Parses a `CalSourceEnergyCalib` table (18 columns) from `text`; `path` labels errors.
///
/// # Errors
///
/// [`hep_core::Error::Parse`] (1-based line) for a wrong or missing header, a wrong column count, a field
/// that is not a number (`ndf`: not a non-negative integer), or a roid sequence rejected by
/// `check`.
pub fn parse_source_table(text: &str, path: &Path, check: RowCheck) -> Result<Vec<SourceRow>> {
    parse_table(text, path, SOURCE_TABLE, check, |l| {
        check_columns(l, SOURCE_TABLE, 18, SOURCE_COLUMNS)?;
        Ok(SourceRow {
            roid: l.u32(0, "roid")?,
            fullepeak: l.f(1, "fullepeak")?,
            fullerrepeak: l.f(2, "fullerrepeak")?,
            fullwidth: l.f(3, "fullwidth")?,
            fullerrwidth: l.f(4, "fullerrwidth")?,
            firstescepeak: l.f(5, "firstescepeak")?,
            firstescerrepeak: l.f(6, "firstescerrepeak")?,
            firstescwidth: l.f(7, "firstescwidth")?,
            firstescerrwidth: l.f(8, "firstescerrwidth")?,
            secescepeak: l.f(9, "secescepeak")?,
            secescerrepeak: l.f(10, "secescerrepeak")?,
            secescwidth: l.f(11, "secescwidth")?,
            secescerrwidth: l.f(12, "secescerrwidth")?,
            frfull: l.f(13, "frfull")?,
            frfirst: l.f(14, "frfirst")?,
            frsecond: l.f(15, "frsecond")?,
            chisq: l.f(16, "chisq")?,
            ndf: l.u32(17, "ndf")?,
        })
    })
}

/// Reads a `CalSourceEnergyCalib` table from `path` (see [`parse_source_table`]).
///
/// # Errors
///
/// As [`parse_source_table`]; [`Error::Core`] if the file cannot be read.
pub fn read_source_table(path: &Path, check: RowCheck) -> Result<Vec<SourceRow>> {
    parse_source_table(&read_text(path)?, path, check)
}

const COSMIC_COLUMNS: &str =
    "roid, peak, errpeak, width, errwidth, sigma, errsigma, chisq, ndf, nhits";
const COSMIC_LEGACY_COLUMNS: &str =
    "roid, peak, errpeak, width, errwidth, sigma, errsigma, reduced_chi2, nhits";

/// Parses a `CalCosmicEnergyCalib` table with the given column `layout` from `text`; `path`
/// labels errors. All-zero rows (dead channels, LYSO) are read as they are.
///
/// # Errors
///
/// [`hep_core::Error::Parse`] (1-based line) for a wrong or missing header, a field that is not a number
/// (`ndf`, `nhits`: not a non-negative integer), a roid sequence rejected by `check`, or a wrong
/// column count. A 9-column row read with [`CosmicLayout::Standard`] gets a message pointing to
/// the legacy layout (`--cosmic-layout legacy9`), and a 10-column row read with
/// [`CosmicLayout::Legacy9`] one pointing to the standard layout.
pub fn parse_cosmic_table(
    text: &str,
    path: &Path,
    layout: CosmicLayout,
    check: RowCheck,
) -> Result<Vec<CosmicRow>> {
    parse_table(text, path, COSMIC_TABLE, check, |l| {
        let n = l.fields.len();
        match layout {
            CosmicLayout::Standard if n == 9 => {
                return Err(l.err(
                    format!("10 columns of {COSMIC_TABLE} ({COSMIC_COLUMNS})"),
                    format!(
                        "9 columns: this looks like the legacy 9-column layout \
                         ({COSMIC_LEGACY_COLUMNS}); read it with `--cosmic-layout legacy9` \
                         (CosmicLayout::Legacy9)"
                    ),
                ));
            }
            CosmicLayout::Legacy9 if n == 10 => {
                return Err(l.err(
                    format!("9 columns of the legacy layout ({COSMIC_LEGACY_COLUMNS})"),
                    format!(
                        "10 columns: this looks like the standard layout ({COSMIC_COLUMNS}); \
                         read it with `--cosmic-layout standard` (CosmicLayout::Standard)"
                    ),
                ));
            }
            CosmicLayout::Standard => check_columns(l, COSMIC_TABLE, 10, COSMIC_COLUMNS)?,
            CosmicLayout::Legacy9 => {
                check_columns(l, "the legacy cosmic layout", 9, COSMIC_LEGACY_COLUMNS)?;
            }
        }
        let mut row = CosmicRow {
            roid: l.u32(0, "roid")?,
            peak: l.f(1, "peak")?,
            errpeak: l.f(2, "errpeak")?,
            width: l.f(3, "width")?,
            errwidth: l.f(4, "errwidth")?,
            sigma: l.f(5, "sigma")?,
            errsigma: l.f(6, "errsigma")?,
            ..Default::default()
        };
        match layout {
            CosmicLayout::Standard => {
                row.chisq = Some(l.f(7, "chisq")?);
                row.ndf = Some(l.u32(8, "ndf")?);
                row.nhits = l.u(9, "nhits")?;
            }
            CosmicLayout::Legacy9 => {
                row.chisq_per_ndf = Some(l.f(7, "reduced_chi2")?);
                row.nhits = l.u(8, "nhits")?;
            }
        }
        Ok(row)
    })
}

/// Reads a `CalCosmicEnergyCalib` table from `path` (see [`parse_cosmic_table`]).
///
/// # Errors
///
/// As [`parse_cosmic_table`]; [`Error::Core`] if the file cannot be read.
pub fn read_cosmic_table(
    path: &Path,
    layout: CosmicLayout,
    check: RowCheck,
) -> Result<Vec<CosmicRow>> {
    parse_cosmic_table(&read_text(path)?, path, layout, check)
}

/// Parses a `CalEnergyCalib` table (`roid,adc2mev`, MeV/ADC) from `text`: the nominal table or
/// a reco table; `path` labels errors. Reco tables are read as written; a nominal table, which
/// `combine` copies into its output, is read with [`parse_nominal_table`].
///
/// # Errors
///
/// [`hep_core::Error::Parse`] (1-based line) for a wrong or missing header, a wrong column count, a field
/// that is not a number, or a roid sequence rejected by `check`.
pub fn parse_energy_table(text: &str, path: &Path, check: RowCheck) -> Result<Vec<NominalRow>> {
    parse_table(text, path, ENERGY_TABLE, check, |l| {
        check_columns(l, ENERGY_TABLE, 2, "roid, adc2mev")?;
        Ok(NominalRow {
            roid: l.u32(0, "roid")?,
            adc2mev: l.f(1, "adc2mev")?,
        })
    })
}

/// Largest accepted nominal `adc2mev` (MeV/ADC). The design constants are 0.0625 MeV/ADC (CsI,
/// 16 ADC/MeV) and 0.00375 MeV/ADC (LYSO), and the original reco-table maker's fallback
/// without a nominal table is 1.0; a nominal constant above 10 MeV/ADC is a corrupt value.
pub const MAX_NOMINAL_ADC2MEV: f64 = 10.0;

/// Parses a nominal `CalEnergyCalib` table: as [`parse_energy_table`], and every `adc2mev` must
/// lie in its validity range `0 < adc2mev <=` [`MAX_NOMINAL_ADC2MEV`] MeV/ADC. A zero, negative
/// or huge nominal constant (which the original copied into `CalEnergyCalib.txt` as the
/// fallback of every channel without a good fit) is refused with its line.
///
/// # Errors
///
/// As [`parse_energy_table`], and [`hep_core::Error::Parse`] for an `adc2mev` outside the validity range.
pub fn parse_nominal_table(text: &str, path: &Path, check: RowCheck) -> Result<Vec<NominalRow>> {
    parse_table(text, path, ENERGY_TABLE, check, |l| {
        check_columns(l, ENERGY_TABLE, 2, "roid, adc2mev")?;
        let adc2mev = l.f(1, "adc2mev")?;
        if !(adc2mev > 0.0 && adc2mev <= MAX_NOMINAL_ADC2MEV) {
            return Err(l.err(
                format!("a nominal adc2mev in (0, {MAX_NOMINAL_ADC2MEV}] MeV/ADC"),
                format!("`{}`", l.fields[1]),
            ));
        }
        Ok(NominalRow {
            roid: l.u32(0, "roid")?,
            adc2mev,
        })
    })
}

/// Reads a nominal `CalEnergyCalib` table from `path` (see [`parse_nominal_table`]).
///
/// # Errors
///
/// As [`parse_nominal_table`]; [`Error::Core`] if the file cannot be read.
pub fn read_nominal_table(path: &Path, check: RowCheck) -> Result<Vec<NominalRow>> {
    parse_nominal_table(&read_text(path)?, path, check)
}

/// Reads a `CalEnergyCalib` table from `path` (see [`parse_energy_table`]).
///
/// # Errors
///
/// As [`parse_energy_table`]; [`Error::Core`] if the file cannot be read.
pub fn read_energy_table(path: &Path, check: RowCheck) -> Result<Vec<NominalRow>> {
    parse_energy_table(&read_text(path)?, path, check)
}

/// Parses a `CalCombinedEnergyCalib` table from `text`; `path` labels errors. The status message
/// may be quoted (as written) or bare.
///
/// # Errors
///
/// [`hep_core::Error::Parse`] (1-based line) for a wrong or missing header, a wrong column count, a bad
/// number or status code, unbalanced quotes, or a roid sequence rejected by `check`.
pub fn parse_combined_table(text: &str, path: &Path, check: RowCheck) -> Result<Vec<CombinedRow>> {
    parse_table(text, path, COMBINED_TABLE, check, |l| {
        check_columns(
            l,
            COMBINED_TABLE,
            5,
            "roid, adc2mev, adc2mev_err, status_code, status_message",
        )?;
        Ok(CombinedRow {
            roid: l.u32(0, "roid")?,
            adc2mev: l.f(1, "adc2mev")?,
            adc2mev_err: l.f(2, "adc2mev_err")?,
            status_code: l.i32(3, "status_code")?,
            status_message: l.fields[4].clone(),
        })
    })
}

/// Reads a `CalCombinedEnergyCalib` table from `path` (see [`parse_combined_table`]).
///
/// # Errors
///
/// As [`parse_combined_table`]; [`Error::Core`] if the file cannot be read.
pub fn read_combined_table(path: &Path, check: RowCheck) -> Result<Vec<CombinedRow>> {
    parse_combined_table(&read_text(path)?, path, check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_split() {
        assert_eq!(split_csv("1, 2 ,3").unwrap(), vec!["1", "2", "3"]);
        assert_eq!(
            split_csv(r#"1,0.5,"OK: C+S""#).unwrap(),
            vec!["1", "0.5", "OK: C+S"]
        );
        assert_eq!(split_csv(r#""a""b",c"#).unwrap(), vec![r#"a"b"#, "c"]);
        assert_eq!(split_csv("a,").unwrap(), vec!["a", ""]);
        assert!(split_csv(r#""abc"#).is_err());
        assert!(split_csv(r#""abc"x,1"#).is_err());
    }
}
