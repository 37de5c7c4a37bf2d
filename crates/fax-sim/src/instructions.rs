//! Fax instructions: the pax instruction CSV and its Parquet form.
//!
//! # The pax CSV
//!
//! pax `pax/plugins/io/WaveformSimulator.py` (`WaveformSimulatorFromCSV`): a header naming (in any
//! order) `instruction, recoil_type, x, y, depth, s1_photons, s2_electrons, t`, one row per energy
//! deposit. **Consecutive** rows with the same `instruction` form one event; a change of value
//! starts a new one, so equal values that are not adjacent make separate events. `x` may be
//! `random` (then x, y are drawn uniformly in the TPC disk and `y` is ignored) and `depth` may be
//! `random` (uniform in the drift length). `depth` is in cm below the gate (positive down),
//! `x`, `y` in cm, `t` in ns since the event start (without the drift time, which the simulation
//! adds). Extra columns are ignored, as pax's `csv.DictReader` ignores them.
//!
//! Counts (`instruction`, `s1_photons`, `s2_electrons`) must be integers; an integral float such as
//! `83.0` (what pandas writes for a rounded float column) is accepted.
//!
//! # Parquet
//!
//! The same rows with nulls for `random`, plus the per-deposit fields of XENONnT WFSim's
//! instruction type: `g4_id`, `e_dep_kev`, `local_field_v_per_cm`, `n_excitons` (null when unknown).

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Kind of recoil; only affects the S1 timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecoilType {
    /// Electronic recoil.
    #[serde(rename = "ER")]
    Er,
    /// Nuclear recoil.
    #[serde(rename = "NR")]
    Nr,
    /// Alpha.
    #[serde(rename = "alpha")]
    Alpha,
    /// LED light (uniform in the LED pulse).
    #[serde(rename = "LED")]
    Led,
}

impl RecoilType {
    /// The spelling pax uses.
    pub fn as_str(self) -> &'static str {
        match self {
            RecoilType::Er => "ER",
            RecoilType::Nr => "NR",
            RecoilType::Alpha => "alpha",
            RecoilType::Led => "LED",
        }
    }

    /// Parses `ER`, `NR`, `alpha`, `LED` case-insensitively (pax compares `recoil_type.lower()`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "er" => Some(RecoilType::Er),
            "nr" => Some(RecoilType::Nr),
            "alpha" => Some(RecoilType::Alpha),
            "led" => Some(RecoilType::Led),
            _ => None,
        }
    }
}

/// One instruction row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instruction {
    /// Grouping key (consecutive equal values form one event).
    pub instruction: i64,
    /// Recoil type.
    pub recoil_type: RecoilType,
    /// x (cm), `None` = random in the TPC disk (then `y_cm` is ignored).
    pub x_cm: Option<f64>,
    /// y (cm).
    pub y_cm: Option<f64>,
    /// Depth below the gate (cm, positive down), `None` = random.
    pub depth_cm: Option<f64>,
    /// S1 photons emitted.
    pub s1_photons: u64,
    /// Electrons liberated.
    pub s2_electrons: u64,
    /// Interaction time since the event start (ns).
    pub t_ns: f64,
    /// Geant4 track id (-1 for CSV input).
    pub g4_id: i64,
    /// Deposited energy (keV), WFSim field; not used by the simulation.
    pub e_dep_kev: Option<f64>,
    /// Local drift field (V/cm), WFSim field; not used by the simulation.
    pub local_field_v_per_cm: Option<f64>,
    /// Number of excitons, WFSim field; not used by the simulation.
    pub n_excitons: Option<i64>,
}

impl Instruction {
    /// A row with the CSV fields and the extra fields unset.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        instruction: i64,
        recoil_type: RecoilType,
        x_cm: Option<f64>,
        y_cm: Option<f64>,
        depth_cm: Option<f64>,
        s1_photons: u64,
        s2_electrons: u64,
        t_ns: f64,
    ) -> Self {
        Self {
            instruction,
            recoil_type,
            x_cm,
            y_cm,
            depth_cm,
            s1_photons,
            s2_electrons,
            t_ns,
            g4_id: -1,
            e_dep_kev: None,
            local_field_v_per_cm: None,
            n_excitons: None,
        }
    }
}

/// The CSV columns, in pax's order.
pub const CSV_COLUMNS: [&str; 8] = [
    "instruction",
    "recoil_type",
    "x",
    "y",
    "depth",
    "s1_photons",
    "s2_electrons",
    "t",
];

fn parse_count(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(v) = s.parse::<i64>() {
        return Some(v);
    }
    let f: f64 = s.parse().ok()?;
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

fn parse_float(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Parses instruction CSV text; `label` names the source in errors.
///
/// # Errors
/// `label:line: expected ..., found ...` for a missing column, a malformed value, a negative count
/// or an unknown recoil type.
pub fn parse_csv(bytes: &[u8], label: &Path) -> Result<Vec<Instruction>> {
    let mut rdr = csv::ReaderBuilder::new().flexible(false).from_reader(bytes);
    let headers = rdr
        .headers()
        .map_err(|e| Error::parse(label, 1, "a CSV header", e.to_string()))?
        .clone();
    let mut col = [0usize; 8];
    for (k, name) in CSV_COLUMNS.iter().enumerate() {
        col[k] = headers
            .iter()
            .position(|h| h.trim() == *name)
            .ok_or_else(|| {
                Error::parse(
                    label,
                    1,
                    format!("a header with `{}`", CSV_COLUMNS.join(",")),
                    format!(
                        "no `{name}` in `{}`",
                        headers.iter().collect::<Vec<_>>().join(",")
                    ),
                )
            })?;
    }
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Error::parse(
                label,
                line,
                format!("{} fields", headers.len()),
                e.to_string(),
            )
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        let f = |k: usize| rec.get(col[k]).unwrap_or("");
        let bad = |k: usize, what: &str| {
            Error::parse(
                label,
                line,
                format!("{what} in `{}`", CSV_COLUMNS[k]),
                format!("`{}`", f(k)),
            )
        };
        let instruction = parse_count(f(0)).ok_or_else(|| bad(0, "an integer"))?;
        let recoil_type = RecoilType::parse(f(1)).ok_or_else(|| bad(1, "ER, NR, alpha or LED"))?;
        let (x_cm, y_cm) = if f(2).trim() == "random" {
            (None, None)
        } else {
            (
                Some(parse_float(f(2)).ok_or_else(|| bad(2, "a number or `random`"))?),
                Some(parse_float(f(3)).ok_or_else(|| bad(3, "a number (x is not random)"))?),
            )
        };
        let depth_cm = if f(4).trim() == "random" {
            None
        } else {
            Some(parse_float(f(4)).ok_or_else(|| bad(4, "a number or `random`"))?)
        };
        let count = |k: usize| -> Result<u64> {
            parse_count(f(k))
                .filter(|v| *v >= 0)
                .map(|v| v as u64)
                .ok_or_else(|| bad(k, "a non-negative integer"))
        };
        let s1_photons = count(5)?;
        let s2_electrons = count(6)?;
        let t_ns = parse_float(f(7)).ok_or_else(|| bad(7, "a number"))?;
        out.push(Instruction::new(
            instruction,
            recoil_type,
            x_cm,
            y_cm,
            depth_cm,
            s1_photons,
            s2_electrons,
            t_ns,
        ));
    }
    Ok(out)
}

/// Reads an instruction file: Parquet when the name ends in `.parquet`, else the pax CSV.
///
/// # Errors
/// As [`parse_csv`] and [`read_parquet`]; I/O errors naming the path.
pub fn read(path: &Path) -> Result<Vec<Instruction>> {
    if let Some(name) = builtin_name(path) {
        let src = crate::data::resolve(&format!("builtin:{name}"))?
            .ok_or_else(|| Error::Config(format!("`builtin:{name}` names no data")))?;
        return parse_csv(&src.bytes, path);
    }
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
    {
        read_parquet(path)
    } else {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        parse_csv(&bytes, path)
    }
}

/// The file name of a shipped instruction file given as `builtin:<name>` (e.g.
/// `builtin:XENON1T_dummy_waveforms.csv`, pax's smoke test), if `path` is one.
pub fn builtin_name(path: &Path) -> Option<&str> {
    path.to_str()?.strip_prefix("builtin:")
}

/// The provenance record of an instruction input: the file's digest, or for a shipped file
/// (`builtin:<name>`) the digest of the shipped bytes under that name.
///
/// # Errors
/// I/O errors; an unknown builtin name.
pub fn input_digest(path: &Path) -> Result<hep_core::io::FileDigest> {
    if let Some(name) = builtin_name(path) {
        let src = crate::data::resolve(&format!("builtin:{name}"))?
            .ok_or_else(|| Error::Config(format!("`builtin:{name}` names no data")))?;
        return Ok(hep_core::io::FileDigest::of_bytes(path, &src.bytes));
    }
    Ok(hep_core::io::FileDigest::of(path)?)
}

/// Formats a float as Python's `repr` would for ordinary values (`5.0`, `0.25`), which pandas
/// writes and pax reads.
pub fn py_float(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// The pax CSV text of `rows` (header, then one line per row, `\n` line ends), written with the
/// `csv` crate.
pub fn to_csv(rows: &[Instruction]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = w.write_record(CSV_COLUMNS);
    for r in rows {
        let (x, y) = match r.x_cm {
            None => ("random".to_string(), "random".to_string()),
            Some(x) => (py_float(x), r.y_cm.map_or("random".into(), py_float)),
        };
        let depth = r.depth_cm.map_or("random".into(), py_float);
        let _ = w.write_record([
            r.instruction.to_string(),
            r.recoil_type.as_str().to_string(),
            x,
            y,
            depth,
            r.s1_photons.to_string(),
            r.s2_electrons.to_string(),
            py_float(r.t_ns),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// Writes the pax CSV atomically.
///
/// # Errors
/// I/O errors naming the path.
pub fn write_csv(path: &Path, rows: &[Instruction]) -> Result<()> {
    hep_core::io::atomic_write_bytes(path, to_csv(rows).as_bytes())?;
    Ok(())
}

fn unit(name: &str, dt: DataType, nullable: bool, unit: Option<&str>) -> Field {
    let f = Field::new(name, dt, nullable);
    match unit {
        Some(u) => f.with_metadata(std::collections::HashMap::from([(
            "unit".to_string(),
            u.to_string(),
        )])),
        None => f,
    }
}

/// Schema of the Parquet instruction table.
pub fn parquet_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        unit("instruction", DataType::Int64, false, None),
        unit("recoil_type", DataType::Utf8, false, None),
        unit("x_cm", DataType::Float64, true, Some("cm")),
        unit("y_cm", DataType::Float64, true, Some("cm")),
        unit("depth_cm", DataType::Float64, true, Some("cm")),
        unit("s1_photons", DataType::Int64, false, Some("photons")),
        unit("s2_electrons", DataType::Int64, false, Some("electrons")),
        unit("t_ns", DataType::Float64, false, Some("ns")),
        unit("g4_id", DataType::Int64, false, None),
        unit("e_dep_kev", DataType::Float64, true, Some("keV")),
        unit(
            "local_field_v_per_cm",
            DataType::Float64,
            true,
            Some("V/cm"),
        ),
        unit("n_excitons", DataType::Int64, true, None),
    ]))
}

/// The rows as one record batch of [`parquet_schema`].
///
/// # Errors
/// Arrow errors (never for well-formed rows).
pub fn to_batch(rows: &[Instruction]) -> Result<RecordBatch> {
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.instruction),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.recoil_type.as_str()),
        )),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.x_cm))),
        Arc::new(Float64Array::from_iter(
            rows.iter().map(|r| r.x_cm.and(r.y_cm)),
        )),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.depth_cm))),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.s1_photons as i64),
        )),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.s2_electrons as i64),
        )),
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.t_ns))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.g4_id))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.e_dep_kev))),
        Arc::new(Float64Array::from_iter(
            rows.iter().map(|r| r.local_field_v_per_cm),
        )),
        Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.n_excitons))),
    ];
    Ok(RecordBatch::try_new(parquet_schema(), cols)?)
}

/// Writes the Parquet form atomically.
///
/// # Errors
/// Parquet or I/O errors naming the path.
pub fn write_parquet(path: &Path, rows: &[Instruction]) -> Result<()> {
    hep_core::io::write_parquet_with_schema(path, parquet_schema(), &[to_batch(rows)?], &[])?;
    Ok(())
}

/// Reads the Parquet form (the WFSim columns may be missing).
///
/// # Errors
/// A located error naming the column for a missing column, a null where none is allowed, a
/// negative count or an unknown recoil type.
pub fn read_parquet(path: &Path) -> Result<Vec<Instruction>> {
    use hep_core::io::{column_f64, column_i64, column_str};
    let batch = hep_core::io::read_parquet_table(path)?;
    let bad = |row: usize, what: &str, found: String| {
        Error::parse(path, row as u64 + 1, what.to_string(), found)
    };
    let n = batch.num_rows();
    let ins = column_i64(&batch, "instruction")?;
    let rt = column_str(&batch, "recoil_type")?;
    let x = column_f64(&batch, "x_cm")?;
    let y = column_f64(&batch, "y_cm")?;
    let d = column_f64(&batch, "depth_cm")?;
    let s1 = column_i64(&batch, "s1_photons")?;
    let s2 = column_i64(&batch, "s2_electrons")?;
    let t = column_f64(&batch, "t_ns")?;
    let opt_i = |name: &str| column_i64(&batch, name).ok();
    let opt_f = |name: &str| column_f64(&batch, name).ok();
    let (g4, edep, field, nex) = (
        opt_i("g4_id"),
        opt_f("e_dep_kev"),
        opt_f("local_field_v_per_cm"),
        opt_i("n_excitons"),
    );
    let fval = |a: &Float64Array, i: usize| if a.is_null(i) { None } else { Some(a.value(i)) };
    let ival = |a: &Int64Array, i: usize| if a.is_null(i) { None } else { Some(a.value(i)) };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let instruction =
            ival(ins, i).ok_or_else(|| bad(i, "a non-null `instruction` (row)", "null".into()))?;
        let recoil = if rt.is_null(i) {
            None
        } else {
            RecoilType::parse(rt.value(i))
        };
        let recoil_type = recoil.ok_or_else(|| {
            bad(
                i,
                "ER, NR, alpha or LED in `recoil_type` (row)",
                if rt.is_null(i) {
                    "null".into()
                } else {
                    rt.value(i).to_string()
                },
            )
        })?;
        let xv = fval(x, i);
        let yv = fval(y, i);
        if xv.is_some() && yv.is_none() {
            return Err(bad(i, "a `y_cm` when `x_cm` is given (row)", "null".into()));
        }
        let cnt = |a: &Int64Array, name: &str| -> Result<u64> {
            ival(a, i)
                .filter(|v| *v >= 0)
                .map(|v| v as u64)
                .ok_or_else(|| {
                    bad(
                        i,
                        &format!("a non-negative `{name}` (row)"),
                        format!("{:?}", ival(a, i)),
                    )
                })
        };
        let mut r = Instruction::new(
            instruction,
            recoil_type,
            xv,
            yv,
            fval(d, i),
            cnt(s1, "s1_photons")?,
            cnt(s2, "s2_electrons")?,
            fval(t, i).ok_or_else(|| bad(i, "a non-null `t_ns` (row)", "null".into()))?,
        );
        for v in [r.x_cm, r.y_cm, r.depth_cm, Some(r.t_ns)]
            .into_iter()
            .flatten()
        {
            if !v.is_finite() {
                return Err(bad(i, "finite positions and times (row)", v.to_string()));
            }
        }
        r.g4_id = g4.and_then(|a| ival(a, i)).unwrap_or(-1);
        r.e_dep_kev = edep.and_then(|a| fval(a, i));
        r.local_field_v_per_cm = field.and_then(|a| fval(a, i));
        r.n_excitons = nex.and_then(|a| ival(a, i));
        out.push(r);
    }
    Ok(out)
}

/// The events of an instruction list: ranges of consecutive rows with equal `instruction`, in
/// order (pax `WaveformSimulatorFromCSV.startup`). An empty list has no events.
pub fn group_events(rows: &[Instruction]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=rows.len() {
        if i == rows.len() || rows[i].instruction != rows[start].instruction {
            if i > start {
                out.push(start..i);
            }
            start = i;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_is_by_consecutive_value() {
        let mk = |i| {
            Instruction::new(
                i,
                RecoilType::Er,
                Some(0.0),
                Some(0.0),
                Some(1.0),
                1,
                0,
                0.0,
            )
        };
        let rows: Vec<_> = [0, 0, 1, 1, 0, 2].into_iter().map(mk).collect();
        assert_eq!(group_events(&rows), vec![0..2, 2..4, 4..5, 5..6]);
        assert!(group_events(&[]).is_empty());
    }

    #[test]
    fn csv_round_trip_and_errors() {
        let text = "instruction,recoil_type,x,y,depth,s1_photons,s2_electrons,t\n0,ER,random,random,random,10,0,1000\n0,nr,1.5,-2.0,30.0,0,83.0,650.5\n";
        let rows = parse_csv(text.as_bytes(), Path::new("i.csv")).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].x_cm, None);
        assert_eq!(rows[1].recoil_type, RecoilType::Nr);
        assert_eq!(rows[1].s2_electrons, 83);
        let back = parse_csv(to_csv(&rows).as_bytes(), Path::new("o.csv")).unwrap();
        assert_eq!(back, rows);
        for (bad, want) in [
            (
                "instruction,recoil_type,x,y,depth,s1_photons,s2_electrons\n",
                "i.csv:1: expected a header",
            ),
            (
                "instruction,recoil_type,x,y,depth,s1_photons,s2_electrons,t\n0,ER,1,2,3,-1,0,0\n",
                "i.csv:2: expected a non-negative integer in `s1_photons`",
            ),
            (
                "instruction,recoil_type,x,y,depth,s1_photons,s2_electrons,t\n0,ER,1,2,3,1,0,0\n0,XR,1,2,3,1,0,0\n",
                "i.csv:3: expected ER, NR, alpha or LED",
            ),
            (
                "instruction,recoil_type,x,y,depth,s1_photons,s2_electrons,t\n0,ER,1,2,3,1,0\n",
                "i.csv:2",
            ),
            (
                "instruction,recoil_type,x,y,depth,s1_photons,s2_electrons,t\n0.5,ER,1,2,3,1,0,0\n",
                "an integer in `instruction`",
            ),
        ] {
            let e = parse_csv(bad.as_bytes(), Path::new("i.csv"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn parquet_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("i.parquet");
        let mut rows = vec![
            Instruction::new(3, RecoilType::Alpha, None, None, Some(10.0), 5, 6, 7.0),
            Instruction::new(4, RecoilType::Led, Some(1.0), Some(2.0), None, 0, 0, 0.0),
        ];
        rows[0].e_dep_kev = Some(2.5);
        write_parquet(&p, &rows).unwrap();
        assert_eq!(read_parquet(&p).unwrap(), rows);
    }
}
