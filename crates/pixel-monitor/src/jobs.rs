//! One library call per subcommand: a typed configuration (serde, TOML, every option with its
//! default) and a `run_*` function that reads the inputs, computes, and writes the outputs with
//! their manifests. The command-line tool only fills these structs.
//!
//! | job | original script | outputs |
//! |---|---|---|
//! | [`FillsJob`] | `get_fills.py` | `fills[_<suffix>].csv` and `.parquet` |
//! | [`LumiJob`] | `get_integrated_luminosity.py` | `integrated_luminosity_per_fill[_<suffix>].csv` and `.parquet` |
//! | [`CurrentsFromDbJob`] | `get_currents_from_database.py` | `<fill>_<Barrel\|EndCap>.txt` |
//! | [`CurrentsJob`] | `get_currents.py` | `<fill>_<sub>_{HV_ByLayer,Ana,Dig}.txt`, `currents_<ff>_<lf>.parquet`, `lv_currents_<ff>_<lf>.parquet` |
//! | [`RogTemperaturesJob`] | `get_readout_group_temperatures.py` | `BPix/<fill>.txt`, `rog_temperatures_<ff>_<lf>.parquet` |
//! | [`PlcTemperaturesJob`] | `getPLCAirTemperatures.py`, `getPLCPipeTemperatures.py` | `<fill>[_<sub>].txt`, `<source>_temperatures_<ff>_<lf>.parquet` |
//! | [`AnnealingJob`] | `getAnnealingTemperatures.py` | `<sensor>.txt` per sensor |
//! | [`FluenceFieldJob`] | `getFluenceField.py` | `fluence_field_<suffix>.parquet`, `_units.txt`, the species text files, map plots |
//! | [`FluenceJob`] | `getFluence.py` | values at points, `module_fluence.csv`, `rog_fluence.csv` |
//!
//! The profile, merge, Hamburg, plot, simulation and pipeline jobs are in
//! [`crate::profile_job`], [`crate::hamburg_job`], [`crate::plots`], [`crate::simulate`] and
//! [`crate::pipeline`].

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::annealing::{self, AnnealingReport, CompatState, DayRange};
use crate::config::{Compat, Lookback, TemperatureModel};
use crate::currents::{self, CurrentsReport, CurrentsSettings, SubSystem};
use crate::dcs::{DcsKind, DcsStore};
use crate::error::{Error, Result};
use crate::fills::{self, Fill, FillFilterReport, FillSelection, FillsCsvOptions};
use crate::fluence::{self, RogFluence};
use crate::geometry::Geometry;
use crate::lumi::{self, FillLumi};
use crate::output::Outputs;
use crate::temperatures::{self, PlcSource, TemperatureEngine, TemperatureReport};
use crate::time::{TimeSettings, US_PER_S};

pub use crate::fills::{bad_fills, load_fills};
pub use crate::fluence::load_field;

fn suffixed(base: &str, suffix: &str, ext: &str) -> String {
    if suffix.is_empty() {
        format!("{base}.{ext}")
    } else {
        format!("{base}_{suffix}.{ext}")
    }
}

fn range_label(fills: &[Fill]) -> String {
    match (fills.first(), fills.last()) {
        (Some(a), Some(b)) => format!("{}_{}", a.fill, b.fill),
        _ => "none".into(),
    }
}

fn require<'a>(p: &'a Option<PathBuf>, what: &str) -> Result<&'a Path> {
    p.as_deref()
        .ok_or_else(|| Error::Config(format!("missing input: {what}")))
}

// -------------------------------------------------------------------------------------------
// fills
// -------------------------------------------------------------------------------------------

/// `fills`: the fills with stable beams from an OMS export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FillsJob {
    /// The OMS export (JSON:API or CSV).
    pub input: Option<PathBuf>,
    /// Output directory (default `data/fills_info`).
    pub output_dir: PathBuf,
    /// File-name suffix (`fills_<suffix>.csv`; empty for `fills.csv`).
    pub suffix: String,
    /// Fill range and filters.
    pub selection: FillSelection,
    /// Bad-fill list (`None`: the crate's table), used with `selection.drop_bad_fills`.
    pub bad_fills: Option<PathBuf>,
    /// `fills.csv` options.
    pub csv: FillsCsvOptions,
    /// Zones.
    pub time: TimeSettings,
}

impl Default for FillsJob {
    fn default() -> Self {
        Self {
            input: None,
            output_dir: "data/fills_info".into(),
            suffix: String::new(),
            selection: FillSelection::default(),
            bad_fills: None,
            csv: FillsCsvOptions::default(),
            time: TimeSettings::default(),
        }
    }
}

/// What `fills` did.
#[derive(Debug, Clone, Serialize)]
pub struct FillsReport {
    /// The filters' counts.
    pub filters: FillFilterReport,
    /// Files written.
    pub outputs: Vec<PathBuf>,
}

impl fmt::Display for FillsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.filters;
        writeln!(f, "fills: {} records read, {} kept", r.read, r.kept)?;
        writeln!(
            f,
            "  dropped: {} out of range, {} in 3474-3563, {} without stable beams, {} without times, {} without delivered luminosity, {} without injection scheme, {} bad, {} repeated",
            r.out_of_range,
            r.excluded_range,
            r.no_stable_beams,
            r.missing_times,
            r.no_delivered_lumi,
            r.no_injection_scheme,
            r.bad,
            r.duplicates
        )?;
        if !r.filters_skipped.is_empty() {
            writeln!(
                f,
                "  filters not applicable (attribute absent): {}",
                r.filters_skipped.join(", ")
            )?;
        }
        write_outputs(f, &self.outputs)
    }
}

fn write_outputs(f: &mut fmt::Formatter<'_>, outputs: &[PathBuf]) -> fmt::Result {
    match outputs.len() {
        0 => writeln!(f, "  nothing written"),
        1..=4 => {
            for p in outputs {
                writeln!(f, "  wrote {}", p.display())?;
            }
            Ok(())
        }
        n => writeln!(
            f,
            "  wrote {n} files, e.g. {} (each with a .manifest.json)",
            outputs[0].display()
        ),
    }
}

/// Runs `fills`.
///
/// # Errors
/// Input, configuration and I/O errors; nothing is written if reading fails.
pub fn run_fills(job: &FillsJob) -> Result<FillsReport> {
    let input = require(&job.input, "the OMS fills export (input)")?;
    let bad = bad_fills(job.bad_fills.as_deref())?;
    let (fills, filters) = fills::read_fills(input, &job.time.reader()?, &job.selection, &bad)?;
    let mut out = Outputs::start(job, &[input])?;
    out.text(
        &job.output_dir.join(suffixed("fills", &job.suffix, "csv")),
        &fills::fills_csv_text(&fills, &job.csv),
    )?;
    let b = fills::fills_batch(&fills)?;
    out.parquet(
        &job.output_dir
            .join(suffixed("fills", &job.suffix, "parquet")),
        b.schema(),
        &[b],
        &[],
    )?;
    Ok(FillsReport {
        filters,
        outputs: out.finish()?,
    })
}

// -------------------------------------------------------------------------------------------
// lumi
// -------------------------------------------------------------------------------------------

/// Where per-fill luminosity comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LumiSource {
    /// OMS for a JSON file, brilcalc otherwise.
    #[default]
    Auto,
    /// An OMS JSON:API payload.
    Oms,
    /// A brilcalc CSV (per run or per lumisection).
    Brilcalc,
}

/// `lumi`: delivered and recorded luminosity per fill and cumulative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LumiJob {
    /// The OMS payload or brilcalc CSV.
    pub input: Option<PathBuf>,
    /// Source format.
    pub source: LumiSource,
    /// Output directory (default `data/luminosity`).
    pub output_dir: PathBuf,
    /// File-name suffix.
    pub suffix: String,
    /// First fill (inclusive; default 1005 as the original).
    pub first_fill: u32,
    /// Last fill (inclusive).
    pub last_fill: Option<u32>,
    /// Compatibility switches (`lexicographic_fills`).
    pub compat: Compat,
    /// Zones.
    pub time: TimeSettings,
}

impl Default for LumiJob {
    fn default() -> Self {
        Self {
            input: None,
            source: LumiSource::Auto,
            output_dir: "data/luminosity".into(),
            suffix: String::new(),
            first_fill: 1005,
            last_fill: None,
            compat: Compat::default(),
            time: TimeSettings::default(),
        }
    }
}

/// What `lumi` did.
#[derive(Debug, Clone, Serialize)]
pub struct LumiReport {
    /// Fills.
    pub fills: usize,
    /// Total delivered (fb⁻¹).
    pub delivered_fb: f64,
    /// Total recorded (fb⁻¹).
    pub recorded_fb: f64,
    /// Whether the fill order was lexicographic (compat).
    pub lexicographic: bool,
    /// Files written.
    pub outputs: Vec<PathBuf>,
}

impl fmt::Display for LumiReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "lumi: {} fills, delivered {:.3} fb^-1, recorded {:.3} fb^-1{}",
            self.fills,
            self.delivered_fb,
            self.recorded_fb,
            if self.lexicographic {
                " (fills in string order, as the original)"
            } else {
                ""
            }
        )?;
        write_outputs(f, &self.outputs)
    }
}

/// Reads per-fill luminosity from an OMS payload or a brilcalc CSV.
///
/// # Errors
/// As the readers.
pub fn load_fill_lumi(
    input: &Path,
    source: LumiSource,
    compat: &Compat,
    time: &TimeSettings,
) -> Result<Vec<FillLumi>> {
    let json = matches!(source, LumiSource::Oms)
        || (source == LumiSource::Auto
            && hep_core::io::file_extension(input).as_deref() == Some("json"));
    if json {
        lumi::read_oms_lumi(input)
    } else {
        let t = lumi::read_brilcalc(input, &time.reader()?)?;
        Ok(lumi::per_fill_from_brilcalc(&t, compat))
    }
}

/// Runs `lumi`.
///
/// # Errors
/// Input, configuration and I/O errors.
pub fn run_lumi(job: &LumiJob) -> Result<LumiReport> {
    let input = require(
        &job.input,
        "the luminosity input (OMS JSON or brilcalc CSV)",
    )?;
    let all = load_fill_lumi(input, job.source, &job.compat, &job.time)?;
    // Keep the range, then recompute the running totals in the kept order.
    let kept: Vec<(u32, f64, f64)> = all
        .iter()
        .filter(|r| r.fill >= job.first_fill && job.last_fill.is_none_or(|l| r.fill <= l))
        .map(|r| (r.fill, r.delivered_fb, r.recorded_fb))
        .collect();
    let rows = lumi::cumulate(kept);
    let mut out = Outputs::start(job, &[input])?;
    let base = "integrated_luminosity_per_fill";
    out.text(
        &job.output_dir.join(suffixed(base, &job.suffix, "csv")),
        &lumi::lumi_csv_text(&rows),
    )?;
    let b = lumi::lumi_batch(&rows)?;
    out.parquet(
        &job.output_dir.join(suffixed(base, &job.suffix, "parquet")),
        b.schema(),
        &[b],
        &[],
    )?;
    Ok(LumiReport {
        fills: rows.len(),
        delivered_fb: rows.last().map_or(0.0, |r| r.integrated_delivered_fb),
        recorded_fb: rows.last().map_or(0.0, |r| r.integrated_recorded_fb),
        lexicographic: job.compat.lexicographic_fills,
        outputs: out.finish()?,
    })
}

// -------------------------------------------------------------------------------------------
// currents-from-db and currents
// -------------------------------------------------------------------------------------------

/// `currents-from-db`: the CAEN channels at each fill's measurement time, from the export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CurrentsFromDbJob {
    /// Fills file.
    pub fills: Option<PathBuf>,
    /// CAEN export.
    pub caen: Option<PathBuf>,
    /// Output directory (default `data/currents/from_database`).
    pub output_dir: PathBuf,
    /// First fill.
    pub first_fill: Option<u32>,
    /// Last fill.
    pub last_fill: Option<u32>,
    /// Delay, look-back, sub-system.
    pub currents: CurrentsSettings,
    /// Zones.
    pub time: TimeSettings,
}

impl Default for CurrentsFromDbJob {
    fn default() -> Self {
        Self {
            fills: None,
            caen: None,
            output_dir: "data/currents/from_database".into(),
            first_fill: None,
            last_fill: None,
            currents: CurrentsSettings::default(),
            time: TimeSettings::default(),
        }
    }
}

/// What a currents job did.
#[derive(Debug, Clone, Serialize)]
pub struct CurrentsJobReport {
    /// Fills processed.
    pub fills: usize,
    /// The readout's counts.
    pub readout: CurrentsReport,
    /// Files written.
    pub outputs: Vec<PathBuf>,
}

impl fmt::Display for CurrentsJobReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.readout;
        writeln!(f, "currents: {} fills", self.fills)?;
        writeln!(
            f,
            "  skipped channels: {} not Pixel channel00x, {} Phase-0 aliases, {} of the other sub-system; {} readings mapped to no readout group; {} channel-fills without a reading; {} readings from before the window",
            r.not_pixel_channels,
            r.phase0_alias_channels,
            r.other_subsystem_channels,
            r.unmapped_readings,
            r.missing,
            r.looked_back
        )?;
        write_outputs(f, &self.outputs)
    }
}

/// Runs `currents-from-db`.
///
/// # Errors
/// Input, configuration and I/O errors.
pub fn run_currents_from_db(job: &CurrentsFromDbJob) -> Result<CurrentsJobReport> {
    let fills_path = require(&job.fills, "the fills file (fills)")?;
    let caen_path = require(&job.caen, "the CAEN export (caen)")?;
    let fills = load_fills(fills_path, job.first_fill, job.last_fill, &job.time)?;
    let store = DcsStore::read(caen_path, DcsKind::Caen, &job.time.reader()?)?;
    run_currents_from_db_with(job, &fills, &store, None).map(|r| r.0)
}

/// `currents-from-db` on loaded inputs; with `processed_dir` the processed files of `currents`
/// are written too (in one pass, as the pipeline does). Returns the report and the processed
/// currents.
///
/// # Errors
/// I/O errors.
pub fn run_currents_from_db_with(
    job: &CurrentsFromDbJob,
    fills: &[Fill],
    store: &DcsStore,
    processed_dir: Option<&Path>,
) -> Result<(CurrentsJobReport, Vec<currents::ProcessedCurrents>)> {
    let (readings, mut readout) = currents::read_fill_currents(store, fills, &job.currents);
    let inputs: Vec<&Path> = [job.fills.as_deref(), job.caen.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let mut out = Outputs::start(job, &inputs)?;
    for r in &readings {
        out.text(
            &job.output_dir
                .join(format!("{}_{}.txt", r.fill, job.currents.sub_system.name())),
            &currents::from_database_text(r),
        )?;
    }
    let mut processed = Vec::new();
    if let Some(dir) = processed_dir {
        for r in &readings {
            processed.push(currents::process_readings(
                r,
                &mut readout.unmapped_readings,
            ));
        }
        write_processed(&mut out, dir, job.currents.sub_system, &processed)?;
    }
    Ok((
        CurrentsJobReport {
            fills: fills.len(),
            readout,
            outputs: out.finish()?,
        },
        processed,
    ))
}

/// `currents`: per-readout-group leakage and per-power-group LV currents from the
/// `from_database` files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CurrentsJob {
    /// Directory of `<fill>_<sub>.txt` (default `data/currents/from_database`).
    pub input_dir: PathBuf,
    /// Output directory (default `data/currents/processed`).
    pub output_dir: PathBuf,
    /// First fill (required: the files are looked up by number).
    pub first_fill: Option<u32>,
    /// Last fill.
    pub last_fill: Option<u32>,
    /// Sub-system.
    pub sub_system: SubSystem,
}

impl Default for CurrentsJob {
    fn default() -> Self {
        Self {
            input_dir: "data/currents/from_database".into(),
            output_dir: "data/currents/processed".into(),
            first_fill: None,
            last_fill: None,
            sub_system: SubSystem::Barrel,
        }
    }
}

/// Writes the processed text files of each fill and the Parquet tables.
fn write_processed(
    out: &mut Outputs,
    dir: &Path,
    sub: SubSystem,
    all: &[currents::ProcessedCurrents],
) -> Result<()> {
    for p in all {
        let prefix = format!("{}_{}", p.fill, sub.name());
        out.text(
            &dir.join(format!("{prefix}_HV_ByLayer.txt")),
            &currents::keyed_text(&p.leakage_ua),
        )?;
        out.text(
            &dir.join(format!("{prefix}_Ana.txt")),
            &currents::keyed_text(&p.analog_a),
        )?;
        out.text(
            &dir.join(format!("{prefix}_Dig.txt")),
            &currents::keyed_text(&p.digital_a),
        )?;
    }
    if let (Some(a), Some(b)) = (all.first(), all.last()) {
        let (leak, lv) = currents::currents_batches(all)?;
        out.parquet(
            &dir.join(format!("currents_{}_{}.parquet", a.fill, b.fill)),
            leak.schema(),
            &[leak],
            &[],
        )?;
        out.parquet(
            &dir.join(format!("lv_currents_{}_{}.parquet", a.fill, b.fill)),
            lv.schema(),
            &[lv],
            &[],
        )?;
    }
    Ok(())
}

/// Runs `currents`.
///
/// # Errors
/// Input, configuration and I/O errors.
pub fn run_currents(job: &CurrentsJob) -> Result<CurrentsJobReport> {
    let first = job
        .first_fill
        .ok_or_else(|| Error::Config("currents: first_fill is required".into()))?;
    let last = job.last_fill.unwrap_or(first);
    if last < first {
        return Err(Error::Config(format!(
            "currents: last_fill {last} is before first_fill {first}"
        )));
    }
    let mut inputs = Vec::new();
    let mut all = Vec::new();
    let mut readout = CurrentsReport::default();
    for fill in first..=last {
        let p = job
            .input_dir
            .join(format!("{fill}_{}.txt", job.sub_system.name()));
        if !p.is_file() {
            continue;
        }
        let r = currents::read_from_database(&p, fill)?;
        all.push(currents::process_readings(
            &r,
            &mut readout.unmapped_readings,
        ));
        inputs.push(p);
    }
    readout.fills = all.len();
    let refs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let mut out = Outputs::start(job, &refs)?;
    write_processed(&mut out, &job.output_dir, job.sub_system, &all)?;
    Ok(CurrentsJobReport {
        fills: all.len(),
        readout,
        outputs: out.finish()?,
    })
}

// -------------------------------------------------------------------------------------------
// rog-temperatures
// -------------------------------------------------------------------------------------------

/// `rog-temperatures`: the sensor temperature of every readout group at each fill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RogTemperaturesJob {
    /// Fills file.
    pub fills: Option<PathBuf>,
    /// PLC export.
    pub plc: Option<PathBuf>,
    /// HV export (`None`: HV state unknown, see `lookback.hv_unknown_is_on`).
    pub hv: Option<PathBuf>,
    /// Output directory (default `data/temperatures/readout_group`; files in `BPix/`).
    pub output_dir: PathBuf,
    /// First fill.
    pub first_fill: Option<u32>,
    /// Last fill.
    pub last_fill: Option<u32>,
    /// Measurement delay after the start of stable beams (s, default 1200).
    pub measurement_delay_s: i64,
    /// Look-back bounds.
    pub lookback: Lookback,
    /// Temperature model.
    pub model: TemperatureModel,
    /// Compatibility switches (`unbounded_lookback`).
    pub compat: Compat,
    /// Zones.
    pub time: TimeSettings,
}

impl Default for RogTemperaturesJob {
    fn default() -> Self {
        Self {
            fills: None,
            plc: None,
            hv: None,
            output_dir: "data/temperatures/readout_group".into(),
            first_fill: None,
            last_fill: None,
            measurement_delay_s: 1200,
            lookback: Lookback::default(),
            model: TemperatureModel::default(),
            compat: Compat::default(),
            time: TimeSettings::default(),
        }
    }
}

/// What `rog-temperatures` did.
#[derive(Debug, Clone, Serialize)]
pub struct RogTemperaturesReport {
    /// Fills.
    pub fills: usize,
    /// Look-backs and bounds.
    pub temperatures: TemperatureReport,
    /// Loop sensors skipped (broken loop or unknown alias).
    pub skipped_sensors: Vec<String>,
    /// Files written.
    pub outputs: Vec<PathBuf>,
}

impl fmt::Display for TemperatureReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} values: {} looked back (at most {:.0} h), {} reached the look-back bound with too few sensors, {} without any sensor, {} with an unknown HV state",
            self.values,
            self.looked_back,
            self.max_lookback_h,
            self.incomplete,
            self.without_sensors,
            self.hv_unknown
        )
    }
}

impl fmt::Display for RogTemperaturesReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "rog-temperatures: {} fills x 128 readout groups",
            self.fills
        )?;
        writeln!(f, "  {}", self.temperatures)?;
        if !self.skipped_sensors.is_empty() {
            writeln!(
                f,
                "  loop sensors skipped (broken loop or alias not in the table): {}",
                self.skipped_sensors.join(", ")
            )?;
        }
        write_outputs(f, &self.outputs)
    }
}

/// Opens the PLC and HV stores of a temperature job.
fn plc_hv(
    plc: &Path,
    hv: Option<&Path>,
    time: &TimeSettings,
) -> Result<(DcsStore, Option<DcsStore>)> {
    let r = time.reader()?;
    let plc = DcsStore::read(plc, DcsKind::Plc, &r)?;
    let hv = hv.map(|p| DcsStore::read(p, DcsKind::Hv, &r)).transpose()?;
    Ok((plc, hv))
}

/// Runs `rog-temperatures`.
///
/// # Errors
/// Input, configuration and I/O errors.
pub fn run_rog_temperatures(job: &RogTemperaturesJob) -> Result<RogTemperaturesReport> {
    job.lookback.validate()?;
    let fills_path = require(&job.fills, "the fills file (fills)")?;
    let plc_path = require(&job.plc, "the PLC export (plc)")?;
    let fills = load_fills(fills_path, job.first_fill, job.last_fill, &job.time)?;
    let (plc, hv) = plc_hv(plc_path, job.hv.as_deref(), &job.time)?;
    run_rog_temperatures_with(job, &fills, &plc, hv.as_ref())
}

/// `rog-temperatures` on loaded inputs.
///
/// # Errors
/// I/O errors.
pub fn run_rog_temperatures_with(
    job: &RogTemperaturesJob,
    fills: &[Fill],
    plc: &DcsStore,
    hv: Option<&DcsStore>,
) -> Result<RogTemperaturesReport> {
    job.lookback.validate()?;
    let engine = TemperatureEngine::new(plc, hv, job.model, job.lookback, job.compat);
    let (temps, report) = temperatures::fill_temperatures(&engine, fills, job.measurement_delay_s);
    let inputs: Vec<&Path> = [job.fills.as_deref(), job.plc.as_deref(), job.hv.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let mut out = Outputs::start(job, &inputs)?;
    for t in &temps {
        out.text(
            &job.output_dir.join("BPix").join(format!("{}.txt", t.fill)),
            &temperatures::fill_temperatures_text(engine.geometry(), t),
        )?;
    }
    if !temps.is_empty() {
        let b = temperatures::fill_temperatures_batch(engine.geometry(), &temps)?;
        out.parquet(
            &job.output_dir
                .join(format!("rog_temperatures_{}.parquet", range_label(fills))),
            b.schema(),
            &[b],
            &[],
        )?;
    }
    let mut skipped = engine.report.broken.clone();
    skipped.extend(engine.report.unknown.iter().cloned());
    Ok(RogTemperaturesReport {
        fills: fills.len(),
        temperatures: report,
        skipped_sensors: skipped,
        outputs: out.finish()?,
    })
}

// -------------------------------------------------------------------------------------------
// air / pipe temperatures
// -------------------------------------------------------------------------------------------

/// `air-temperatures` / `pipe-temperatures`: PLC readings in the first 20 minutes of each fill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlcTemperaturesJob {
    /// Fills file.
    pub fills: Option<PathBuf>,
    /// PLC export.
    pub plc: Option<PathBuf>,
    /// Air or pipe sensors.
    pub source: PlcSource,
    /// Output directory (default `data/temperatures/<air|pipe>`).
    pub output_dir: Option<PathBuf>,
    /// First fill.
    pub first_fill: Option<u32>,
    /// Last fill.
    pub last_fill: Option<u32>,
    /// `Barrel`, `EndCap`, or empty (both; air only).
    pub sub_system: String,
    /// Window after the start of stable beams (s, default 1200).
    pub window_s: i64,
    /// Zones.
    pub time: TimeSettings,
}

impl Default for PlcTemperaturesJob {
    fn default() -> Self {
        Self {
            fills: None,
            plc: None,
            source: PlcSource::Air,
            output_dir: None,
            first_fill: None,
            last_fill: None,
            sub_system: String::new(),
            window_s: 1200,
            time: TimeSettings::default(),
        }
    }
}

/// What an air or pipe temperature job did.
#[derive(Debug, Clone, Serialize)]
pub struct PlcTemperaturesReport {
    /// Fills.
    pub fills: usize,
    /// Readings written.
    pub readings: usize,
    /// Files written.
    pub outputs: Vec<PathBuf>,
}

impl fmt::Display for PlcTemperaturesReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "PLC temperatures: {} fills, {} readings",
            self.fills, self.readings
        )?;
        write_outputs(f, &self.outputs)
    }
}

/// Runs `air-temperatures` or `pipe-temperatures`.
///
/// # Errors
/// Input, configuration and I/O errors.
pub fn run_plc_temperatures(job: &PlcTemperaturesJob) -> Result<PlcTemperaturesReport> {
    if !matches!(job.sub_system.as_str(), "" | "Barrel" | "EndCap") {
        return Err(Error::Config(format!(
            "sub_system: expected Barrel, EndCap or empty, found `{}`",
            job.sub_system
        )));
    }
    if job.source == PlcSource::Pipe && job.sub_system.is_empty() {
        return Err(Error::Config(
            "pipe temperatures need sub_system Barrel or EndCap".into(),
        ));
    }
    let fills_path = require(&job.fills, "the fills file (fills)")?;
    let plc_path = require(&job.plc, "the PLC export (plc)")?;
    let fills = load_fills(fills_path, job.first_fill, job.last_fill, &job.time)?;
    let store = DcsStore::read(plc_path, DcsKind::Plc, &job.time.reader()?)?;
    run_plc_temperatures_with(job, &fills, &store)
}

/// `air-temperatures` / `pipe-temperatures` on loaded inputs.
///
/// # Errors
/// Configuration and I/O errors.
pub fn run_plc_temperatures_with(
    job: &PlcTemperaturesJob,
    fills: &[Fill],
    store: &DcsStore,
) -> Result<PlcTemperaturesReport> {
    let dir = job.output_dir.clone().unwrap_or_else(|| {
        PathBuf::from("data/temperatures").join(match job.source {
            PlcSource::Air => "air",
            PlcSource::Pipe => "pipe",
        })
    });
    let inputs: Vec<&Path> = [job.fills.as_deref(), job.plc.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let mut out = Outputs::start(job, &inputs)?;
    let sub = if job.sub_system.is_empty() {
        String::new()
    } else {
        format!("_{}", job.sub_system)
    };
    let mut n = 0;
    let mut all = Vec::new();
    for f in fills {
        let rows =
            temperatures::plc_fill_readings(store, f, job.source, &job.sub_system, job.window_s);
        n += rows.len();
        out.text(
            &dir.join(format!("{}{sub}.txt", f.fill)),
            &temperatures::plc_text(&rows),
        )?;
        all.push((f.fill, rows));
    }
    if !all.is_empty() {
        let b = plc_batch(&all)?;
        let name = match job.source {
            PlcSource::Air => "air",
            PlcSource::Pipe => "pipe",
        };
        out.parquet(
            &dir.join(format!(
                "{name}_temperatures_{}.parquet",
                range_label(fills)
            )),
            b.schema(),
            &[b],
            &[],
        )?;
    }
    Ok(PlcTemperaturesReport {
        fills: fills.len(),
        readings: n,
        outputs: out.finish()?,
    })
}

fn plc_batch(all: &[(u32, Vec<temperatures::PlcReading>)]) -> Result<arrow_array::RecordBatch> {
    use arrow_array::{ArrayRef, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    let rows: Vec<(u32, &temperatures::PlcReading)> = all
        .iter()
        .flat_map(|(f, r)| r.iter().map(move |x| (*f, x)))
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("fill", DataType::Int64, false),
        Field::new("part", DataType::Utf8, false),
        fills::field_with_unit("value_c", DataType::Float64, true, "degC"),
        fills::field_with_unit("change_date", fills::timestamp_type(), false, "UTC"),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| i64::from(r.0)),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.1.part.as_str()),
        )),
        Arc::new(Float64Array::from_iter(
            rows.iter()
                .map(|r| (!r.1.value.is_nan()).then_some(r.1.value)),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.1.time))
                .with_timezone("UTC"),
        ),
    ];
    Ok(arrow_array::RecordBatch::try_new(schema, cols)?)
}

// -------------------------------------------------------------------------------------------
// annealing temperatures
// -------------------------------------------------------------------------------------------

/// `annealing-temperatures`: daily mean temperature of each cooling-loop sensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnnealingJob {
    /// PLC export.
    pub plc: Option<PathBuf>,
    /// Output directory (default `data/temperatures/annealing`).
    pub output_dir: PathBuf,
    /// First day (`YYYY-MM-DD`); or give the fills.
    pub start_date: Option<String>,
    /// Last day (`YYYY-MM-DD`).
    pub end_date: Option<String>,
    /// Fills file, to take the days from `first_fill` and `last_fill` (the original passed fill
    /// numbers where run numbers were expected; here the fills' own times are used).
    pub fills: Option<PathBuf>,
    /// First fill.
    pub first_fill: Option<u32>,
    /// Last fill.
    pub last_fill: Option<u32>,
    /// Sensor list (one part per line, `#` comments; `None`: the crate's 65 sensors).
    pub sensors: Option<PathBuf>,
    /// Compatibility switches (`annealing_averaging`, `local_time`).
    pub compat: Compat,
    /// Zones.
    pub time: TimeSettings,
}

impl Default for AnnealingJob {
    fn default() -> Self {
        Self {
            plc: None,
            output_dir: "data/temperatures/annealing".into(),
            start_date: None,
            end_date: None,
            fills: None,
            first_fill: None,
            last_fill: None,
            sensors: None,
            compat: Compat::default(),
            time: TimeSettings::default(),
        }
    }
}

impl fmt::Display for AnnealingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "annealing-temperatures: {} sensors, {} new daily values",
            self.sensors, self.lines
        )?;
        if !self.missing.is_empty() {
            writeln!(
                f,
                "  sensors without readings (skipped): {}",
                self.missing.join(", ")
            )?;
        }
        Ok(())
    }
}

/// Runs `annealing-temperatures`; returns the report and the files written.
///
/// # Errors
/// Input, configuration and I/O errors.
pub fn run_annealing(job: &AnnealingJob) -> Result<(AnnealingReport, Vec<PathBuf>)> {
    let plc_path = require(&job.plc, "the PLC export (plc)")?;
    let day = |s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| Error::Config(format!("expected a date YYYY-MM-DD, found `{s}`")))
    };
    let (start, end) = match (&job.start_date, &job.end_date) {
        (Some(a), Some(b)) => (day(a)?, day(b)?),
        _ => {
            let fp = require(
                &job.fills,
                "start_date and end_date, or the fills file with first_fill and last_fill",
            )?;
            let fills = load_fills(fp, job.first_fill, job.last_fill, &job.time)?;
            let (Some(a), Some(b)) = (fills.first(), fills.last()) else {
                return Err(Error::Data(
                    "annealing-temperatures: no fills in the range".into(),
                ));
            };
            (
                crate::time::to_naive(a.start_stable_beam).date(),
                crate::time::to_naive(b.end_stable_beam).date(),
            )
        }
    };
    if end < start {
        return Err(Error::Config(format!(
            "annealing: end date {end} before start date {start}"
        )));
    }
    let sensors: Vec<String> = match &job.sensors {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| Error::io(p, e))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect(),
        None => Geometry::phase1().temperature_sensors.clone(),
    };
    let store = DcsStore::read(plc_path, DcsKind::Plc, &job.time.reader()?)?;
    run_annealing_with(job, &store, start, end, &sensors)
}

/// `annealing-temperatures` on a loaded PLC store, for the days `start..=end`.
///
/// # Errors
/// Configuration and I/O errors.
pub fn run_annealing_with(
    job: &AnnealingJob,
    store: &DcsStore,
    start: NaiveDate,
    end: NaiveDate,
    sensors: &[String],
) -> Result<(AnnealingReport, Vec<PathBuf>)> {
    let mut inputs: Vec<&Path> = job.plc.as_deref().into_iter().collect();
    if let Some(s) = &job.sensors {
        inputs.push(s);
    }
    let mut out = Outputs::start(job, &inputs)?;
    let mut rep = AnnealingReport::default();
    let mut state = CompatState::default();
    let day0 = crate::time::from_naive_utc(start.and_hms_opt(0, 0, 0).expect("midnight"));
    let day_end = crate::time::from_naive_utc(end.and_hms_opt(0, 0, 0).expect("midnight"));
    let range = DayRange {
        start,
        end,
        local_keys: job.compat.local_time,
        time: &job.time,
    };
    for s in sensors {
        if store.id(s).is_none() {
            rep.missing.push(s.clone());
            continue;
        }
        let path = job.output_dir.join(format!("{s}.txt"));
        let (existing_text, keys) = annealing::existing_keys(&path)?;
        let lines = if job.compat.annealing_averaging {
            let (t, v) = annealing::sensor_readings(store, s, Some(day0), Some(day_end));
            annealing::compat_daily_lines(&mut state, &t, &v, &range, &keys)?
        } else {
            let (t, v) =
                annealing::sensor_readings(store, s, None, Some(day_end + 86_400 * US_PER_S));
            annealing::daily_means(&t, &v, start, end, job.compat.local_time, &job.time)?
                .into_iter()
                .filter(|l| !keys.contains(&l.key))
                .collect()
        };
        let mut text = existing_text;
        for l in &lines {
            text.push_str(&format!("{}\t{}\n", l.key, l.value));
        }
        rep.lines += lines.len();
        rep.sensors += 1;
        out.text(&path, &text)?;
    }
    Ok((rep, out.finish()?))
}

// -------------------------------------------------------------------------------------------
// fluence-field and fluence
// -------------------------------------------------------------------------------------------

/// `fluence-field`: the FLUKA field from its USRBIN ASCII file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FluenceFieldJob {
    /// The USRBIN ASCII file.
    pub input: Option<PathBuf>,
    /// Output directory of the field (default `data/fluence`).
    pub output_dir: PathBuf,
    /// Directory of the species text files (default `data/fluence/txt_files`).
    pub txt_dir: PathBuf,
    /// Suffix (default `phase1_6500GeV`).
    pub suffix: String,
    /// Write the species text files of the original.
    pub texts: bool,
    /// Draw the field map and its projections into `plots_dir`.
    pub plots: bool,
    /// Plot directory (default `plots/fluence`).
    pub plots_dir: PathBuf,
    /// Plot format.
    pub plot_format: crate::plots::PlotFormat,
    /// Compatibility switches (`fluka_th2f`).
    pub compat: Compat,
}

impl Default for FluenceFieldJob {
    fn default() -> Self {
        Self {
            input: None,
            output_dir: "data/fluence".into(),
            txt_dir: "data/fluence/txt_files".into(),
            suffix: "phase1_6500GeV".into(),
            texts: true,
            plots: true,
            plots_dir: "plots/fluence".into(),
            plot_format: crate::plots::PlotFormat::Png,
            compat: Compat::default(),
        }
    }
}

/// What `fluence-field` did.
#[derive(Debug, Clone, Serialize)]
pub struct FluenceFieldReport {
    /// r bins and range (cm).
    pub r: fluence::Axis,
    /// z bins and range (cm).
    pub z: fluence::Axis,
    /// Species read.
    pub species: Vec<String>,
    /// F at r = 2.9 cm, z = 0 (per collision).
    pub f_l1: f64,
    /// Files written.
    pub outputs: Vec<PathBuf>,
}

impl fmt::Display for FluenceFieldReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "fluence-field: {} r bins on [{}, {}) cm x {} z bins on [{}, {}) cm, species {}",
            self.r.n,
            self.r.lo,
            self.r.hi,
            self.z.n,
            self.z.lo,
            self.z.hi,
            self.species.join(", ")
        )?;
        writeln!(
            f,
            "  F(r = 2.9 cm, z = 0) = {:.4e} n_eq cm^-2 per pp collision",
            self.f_l1
        )?;
        write_outputs(f, &self.outputs)
    }
}

/// Runs `fluence-field`.
///
/// # Errors
/// Input, configuration and I/O errors.
pub fn run_fluence_field(job: &FluenceFieldJob) -> Result<FluenceFieldReport> {
    let input = require(&job.input, "the USRBIN ASCII file (input)")?;
    let field = fluence::read_usrbin_ascii(input, job.texts, job.compat.fluka_th2f)?;
    let mut out = Outputs::start(job, &[input])?;
    let sfx = if job.suffix.is_empty() {
        String::new()
    } else {
        format!("_{}", job.suffix)
    };
    if job.texts {
        for p in fluence::write_species_texts(&field, &job.txt_dir, &sfx)? {
            out.record(&p);
        }
    }
    let (batch, meta) = fluence::field_batch(&field, job.compat.fluka_th2f)?;
    out.parquet(
        &job.output_dir.join(format!("fluence_field{sfx}.parquet")),
        batch.schema(),
        &[batch],
        &meta,
    )?;
    out.text(
        &job.output_dir.join(format!("fluence_field{sfx}_units.txt")),
        "fluence: n_{eq} cm^{-2} per pp inelastic collision\nr: cm\nz: cm\n",
    )?;
    if job.plots {
        for p in crate::plots::field_plots(&field, &job.plots_dir, job.plot_format)? {
            out.record(&p);
        }
    }
    Ok(FluenceFieldReport {
        r: field.r,
        z: field.z,
        species: field.species.iter().map(|s| s.name.clone()).collect(),
        f_l1: field.at(2.9, 0.0),
        outputs: out.finish()?,
    })
}

/// `fluence`: the field at points, and the fluence of every module and readout group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FluenceJob {
    /// The field (Parquet written by `fluence-field`, or USRBIN ASCII).
    pub field: Option<PathBuf>,
    /// Points `[r, z]` (cm) to print F at.
    pub points: Vec<[f64; 2]>,
    /// Integrated luminosity for the fluence tables (fb⁻¹, default 1).
    pub lumi_fb: f64,
    /// pp inelastic cross-section (mb, default 80).
    pub sigma_mb: f64,
    /// Directory for `module_fluence.csv` and `rog_fluence.csv` (`None`: no tables).
    pub output_dir: Option<PathBuf>,
    /// Compatibility switches (`fluka_th2f`, `rog_fluence_sum`).
    pub compat: Compat,
}

impl Default for FluenceJob {
    fn default() -> Self {
        Self {
            field: None,
            points: Vec::new(),
            lumi_fb: 1.0,
            sigma_mb: 80.0,
            output_dir: None,
            compat: Compat::default(),
        }
    }
}

/// What `fluence` found.
#[derive(Debug, Clone, Serialize)]
pub struct FluenceReport {
    /// `(r, z, F per collision)` at the requested points.
    pub points: Vec<(f64, f64, f64)>,
    /// Per layer: mean readout-group fluence for the luminosity (n_eq cm⁻²).
    pub layers: Vec<(u8, f64)>,
    /// The luminosity and cross-section used.
    pub lumi_fb: f64,
    /// Cross-section (mb).
    pub sigma_mb: f64,
    /// Files written.
    pub outputs: Vec<PathBuf>,
}

impl fmt::Display for FluenceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (r, z, v) in &self.points {
            writeln!(
                f,
                "Fluence at r = {r} cm and z = {z} cm:\n{v} n_eq cm^-2 per pp collision"
            )?;
        }
        for (l, v) in &self.layers {
            writeln!(
                f,
                "layer {l}: {v:.4e} n_eq cm^-2 for {} fb^-1 at {} mb",
                self.lumi_fb, self.sigma_mb
            )?;
        }
        write_outputs(f, &self.outputs)
    }
}

/// Runs `fluence`.
///
/// # Errors
/// Input, configuration and I/O errors.
pub fn run_fluence(job: &FluenceJob) -> Result<FluenceReport> {
    let fp = require(&job.field, "the fluence field (field)")?;
    let field = load_field(fp, &job.compat)?;
    let geo = Geometry::phase1();
    let rf = RogFluence::new(&field, job.compat.rog_fluence_sum);
    let points = job
        .points
        .iter()
        .map(|p| (p[0], p[1], field.at(p[0], p[1])))
        .collect();
    let layers = (1..=4u8)
        .map(|l| {
            let v: Vec<f64> = geo
                .readout_groups
                .iter()
                .enumerate()
                .filter(|(_, g)| g.layer == l)
                .map(|(i, _)| rf.fluence(i, job.lumi_fb, job.sigma_mb))
                .collect();
            (l, v.iter().sum::<f64>() / v.len() as f64)
        })
        .collect();
    let mut out = Outputs::start(job, &[fp])?;
    if let Some(dir) = &job.output_dir {
        let mut m = crate::csv_text::CsvText::new([
            "module",
            "r_cm",
            "phi_rad",
            "z_cm",
            "fluence_per_collision",
            "fluence",
        ]);
        for (bpix, list) in [(true, &geo.bpix_modules), (false, &geo.fpix_modules)] {
            for md in list {
                let fpc = fluence::module_per_collision(&geo, &field, md, bpix);
                m.row([
                    md.name.clone(),
                    md.r_cm.to_string(),
                    md.phi_rad.to_string(),
                    md.z_cm.to_string(),
                    crate::pyfmt::repr(fpc),
                    crate::pyfmt::repr(fpc * job.lumi_fb * job.sigma_mb * 1e12),
                ]);
            }
        }
        out.text(&dir.join("module_fluence.csv"), &m.finish())?;
        let mut r = crate::csv_text::CsvText::new([
            "readout_group",
            "layer",
            "n_modules",
            "fluence_per_collision",
            "fluence",
        ]);
        for (i, g) in geo.readout_groups.iter().enumerate() {
            r.row([
                g.name.clone(),
                g.layer.to_string(),
                g.modules.len().to_string(),
                crate::pyfmt::repr(rf.per_collision(i)),
                crate::pyfmt::repr(rf.fluence(i, job.lumi_fb, job.sigma_mb)),
            ]);
        }
        out.text(&dir.join("rog_fluence.csv"), &r.finish())?;
    }
    Ok(FluenceReport {
        points,
        layers,
        lumi_fb: job.lumi_fb,
        sigma_mb: job.sigma_mb,
        outputs: out.finish()?,
    })
}
