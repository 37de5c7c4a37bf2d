//! The radiation profile of a readout group: temperature, fluence rate and leakage current in
//! steps through fills and interfills, the input of the Hamburg-model simulation
//! (`prepare_profile.py` of PixelMonitoring; the consumer is fleble/PixelRadiationDamageSimulation).
//!
//! # Timeline
//!
//! Fills are taken in increasing fill number. Before every fill but the first comes its interfill
//! `[E, B]` (E = end of stable beams of the previous fill, B = start of this one), then the fill
//! `[B, E']`. Each block `[s, e]` with delay d and step Δ (interfill 1200 s and 3600 s, fill
//! 1200 s and 3600 s) gives:
//!
//! * a row ending at `s + d` covering `[s, s + d]`;
//! * rows ending at `s + d + kΔ` while that is before `e`, each covering the step before it;
//! * a final row ending at `e` covering `[t_last, e]` of length g, whose measurements stop δ early
//!   (δ = 300 s if g > 300 s, 120 s if g > 120 s, else 0), because the HV is ramped down before
//!   the end of stable beams and up after their start.
//!
//! A block shorter than its delay has no row in the original (a hole in the timeline); here it
//! gets one row covering it whole (measurements δ short), unless the `short_fill_gap` switch is
//! on. Rows of zero length are not written (the original writes such an interfill row, kept with
//! `short_fill_gap`, and fails on such a fill row).
//!
//! # Row values
//!
//! * Interfill rows: fill −999, fluence 0, current −999, the sensor temperature over the
//!   measurement window with self-heating (no fluence heating).
//! * Fill rows: the leakage current is the newest Imon of the group's HV channel in the
//!   measurement window (µA), or the latest earlier one within [`Lookback::current_max_h`]
//!   (the original looked back without limit, −1 h at a time; `unbounded_lookback` does so back
//!   to the start of the data), else −999. The fluence rate Φ̇ is the readout-group fluence
//!   ([`crate::fluence::RogFluence`]) for the luminosity rate of the row: its delivered
//!   luminosity divided by its length, so that the fluences of the rows add up to the delivered
//!   luminosity (the original, and the `window_rate` switch, divide the luminosity of the
//!   measurement window by that window's length). The temperature adds the fluence heating
//!   3e-8 K × Φ̇ with HV on.
//!
//! # Text format
//!
//! A header line `Fill\tTimestamp [s]\tDuration [s]\tTemperature [K]\tFluence [n_eq/cm2/s]\t
//! Leakage_current [uA]` (the original labels the current `[mA/cm2]`, reproduced by
//! `current_label`), then rows `%d\t%d\t%d\t\t%4.2f\t\t%10d\t\t%6.2f`: fill (−999 in
//! interfills), timestamp of the row's end (epoch seconds: true UTC, or with `local_time` the
//! original's local-zone reading of the UTC wall time), duration (s), temperature (K), fluence rate
//! (n_eq cm⁻² s⁻¹, truncated to an integer as the consumer reads it), current (µA, −999 for
//! none). [`ProfileSettings::bunches_column`] appends `\t\t%d` colliding bunches and the header
//! `\tNumber of bunches`, as jroloff's fork (interfill rows carry the next fill's bunches).
//! `%d` of a float truncates toward zero, as in Python.
//!
//! The Parquet profile holds the same rows at full precision with the measurement windows, the
//! fluence of each row and how each value was found.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::config::{Compat, CrossSections, Lookback};
use crate::constants::PROFILE_NA;
use crate::dcs::DcsStore;
use crate::error::{Error, Result};
use crate::fills::{Fill, field_with_unit, timestamp_type};
use crate::fluence::RogFluence;
use crate::geometry::Geometry;
use crate::lumi::LsLumi;
use crate::pyfmt;
use crate::temperatures::{RogTemperature, TemperatureEngine, TemperatureReport};
use crate::time::{Micros, TimeSettings, US_PER_H, US_PER_S};

/// The step settings of a profile (`prepare_profile.py` options `-di`, `-df`, `-tsi`, `-tsf`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileSettings {
    /// Length of the first interfill row (s, default 1200).
    pub interfill_delay_s: i64,
    /// Length of the first fill row (s, default 1200).
    pub fill_delay_s: i64,
    /// Interfill step (s, default 3600; the long-shutdown profiles use 86400).
    pub interfill_step_s: i64,
    /// Fill step (s, default 3600).
    pub fill_step_s: i64,
    /// Append the `Number of bunches` column of jroloff's fork (default `false`: the six columns
    /// the C++ consumer reads).
    pub bunches_column: bool,
}

impl Default for ProfileSettings {
    fn default() -> Self {
        Self {
            interfill_delay_s: 1200,
            fill_delay_s: 1200,
            interfill_step_s: 3600,
            fill_step_s: 3600,
            bunches_column: false,
        }
    }
}

impl ProfileSettings {
    /// Checks that delays are non-negative and steps positive.
    ///
    /// # Errors
    /// [`Error::Config`] naming the bad value.
    pub fn validate(&self) -> Result<()> {
        if self.interfill_delay_s < 0
            || self.fill_delay_s < 0
            || self.interfill_step_s <= 0
            || self.fill_step_s <= 0
        {
            return Err(Error::Config(format!(
                "profile: delays must be >= 0 s and steps > 0 s, found delays {} and {} s, steps {} and {} s",
                self.interfill_delay_s, self.fill_delay_s, self.interfill_step_s, self.fill_step_s
            )));
        }
        Ok(())
    }
}

/// Whether a row belongs to a fill or to the interfill before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RowKind {
    /// Between two fills.
    Interfill,
    /// During stable beams.
    Fill,
}

/// The times of one profile row.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RowSpec {
    /// Fill or interfill.
    pub kind: RowKind,
    /// Index into the fills of the fill (for an interfill: of the fill after it).
    pub fill_index: usize,
    /// Start of the interval the row covers (UTC µs).
    pub start: Micros,
    /// End of the interval, the row's timestamp (UTC µs).
    pub end: Micros,
    /// Start of the measurement window.
    pub meas_start: Micros,
    /// End of the measurement window.
    pub meas_end: Micros,
}

impl RowSpec {
    /// Length of the row (s).
    pub fn duration_s(&self) -> f64 {
        (self.end - self.start) as f64 / US_PER_S as f64
    }

    /// Length of the measurement window (s).
    pub fn meas_duration_s(&self) -> f64 {
        (self.meas_end - self.meas_start) as f64 / US_PER_S as f64
    }
}

/// What building the timeline noticed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TimelineReport {
    /// Fills shorter than the fill delay.
    pub short_fills: Vec<u32>,
    /// Interfills shorter than the interfill delay (by the fill after them).
    pub short_interfills: Vec<u32>,
    /// Fills that start before the previous one ends (no interfill rows).
    pub overlapping_fills: Vec<u32>,
    /// Rows of zero length left out.
    pub zero_length_rows: usize,
}

/// One block of the timeline (a fill or an interfill) and how it is cut into rows.
struct Block {
    kind: RowKind,
    fill_index: usize,
    start: Micros,
    end: Micros,
    delay: Micros,
    step: Micros,
    keep_zero: bool,
}

fn block(rows: &mut Vec<RowSpec>, b: &Block, rep: &mut TimelineReport) {
    let mut push = |start: Micros, end: Micros, meas_end: Micros| {
        if end > start || (b.keep_zero && b.kind == RowKind::Interfill) {
            rows.push(RowSpec {
                kind: b.kind,
                fill_index: b.fill_index,
                start,
                end,
                meas_start: start,
                meas_end,
            });
        } else {
            rep.zero_length_rows += 1;
        }
    };
    let e = b.end;
    let mut last = b.start;
    let mut t = b.start + b.delay;
    if t <= e {
        push(last, t, t);
        last = t;
        t += b.step;
        while t < e {
            push(last, t, t);
            last = t;
            t += b.step;
        }
    }
    let g = e - last;
    let delta = if g > 300 * US_PER_S {
        300 * US_PER_S
    } else if g > 120 * US_PER_S {
        120 * US_PER_S
    } else {
        0
    };
    push(last, e, e - delta);
}

/// The rows of the timeline of `fills` (sorted by fill number; see the module documentation).
pub fn timeline(
    fills: &[Fill],
    s: &ProfileSettings,
    compat: &Compat,
) -> (Vec<RowSpec>, TimelineReport) {
    let mut rows = Vec::new();
    let mut rep = TimelineReport::default();
    let mut prev_end: Option<Micros> = None;
    for (k, f) in fills.iter().enumerate() {
        let b = f.start_stable_beam;
        if let Some(e) = prev_end {
            let di = s.interfill_delay_s * US_PER_S;
            if b < e {
                rep.overlapping_fills.push(f.fill);
            } else if b - e < di {
                rep.short_interfills.push(f.fill);
                if !compat.short_fill_gap && b > e {
                    let whole = Block {
                        kind: RowKind::Interfill,
                        fill_index: k,
                        start: e,
                        end: b,
                        delay: b - e + 1,
                        step: 1,
                        keep_zero: false,
                    };
                    block(&mut rows, &whole, &mut rep);
                }
            } else {
                let interfill = Block {
                    kind: RowKind::Interfill,
                    fill_index: k,
                    start: e,
                    end: b,
                    delay: di,
                    step: s.interfill_step_s * US_PER_S,
                    keep_zero: compat.short_fill_gap,
                };
                block(&mut rows, &interfill, &mut rep);
            }
        }
        let df = s.fill_delay_s * US_PER_S;
        if f.duration() < df {
            rep.short_fills.push(f.fill);
            if !compat.short_fill_gap && f.duration() > 0 {
                let whole = Block {
                    kind: RowKind::Fill,
                    fill_index: k,
                    start: b,
                    end: f.end_stable_beam,
                    delay: f.duration() + 1,
                    step: 1,
                    keep_zero: false,
                };
                block(&mut rows, &whole, &mut rep);
            }
        } else {
            let fill = Block {
                kind: RowKind::Fill,
                fill_index: k,
                start: b,
                end: f.end_stable_beam,
                delay: df,
                step: s.fill_step_s * US_PER_S,
                keep_zero: false,
            };
            block(&mut rows, &fill, &mut rep);
        }
        prev_end = Some(f.end_stable_beam);
    }
    (rows, rep)
}

/// One row of a readout group's profile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ProfileRow {
    /// The row's times.
    pub spec: RowSpec,
    /// Fill number, `None` in interfills.
    pub fill: Option<u32>,
    /// Colliding bunches (of the next fill in interfills), if known.
    pub bunches: Option<u32>,
    /// Sensor temperature and how it was found.
    pub temperature: RogTemperature,
    /// Fluence rate (n_eq cm⁻² s⁻¹); 0 in interfills.
    pub fluence_rate: f64,
    /// Delivered luminosity behind the rate (fb⁻¹): of the row, or of the measurement window with
    /// `window_rate`.
    pub lumi_fb: f64,
    /// Leakage current (µA), `None` for none.
    pub current_ua: Option<f64>,
    /// How far before the measurement window the current is (s); `None` without current.
    pub current_lookback_s: Option<f64>,
    /// Time of the current reading (UTC µs); `None` without current.
    pub current_time: Option<Micros>,
    /// Sensor temperature at the current reading (K): the row's pipe temperature and
    /// self-heating with the fluence heating of the luminosity rate at the reading (the
    /// lumisection holding it) instead of the row's mean; `None` without current. This is the
    /// temperature to scale the reading with.
    pub current_temperature_k: Option<f64>,
}

impl ProfileRow {
    /// The fluence of the row (n_eq cm⁻²): rate × duration.
    pub fn fluence(&self) -> f64 {
        self.fluence_rate * self.spec.duration_s()
    }
}

/// Everything a profile needs, shared by the readout groups.
pub struct ProfileInputs<'a> {
    /// The fills, sorted by fill number.
    pub fills: &'a [Fill],
    /// Per-lumisection luminosity.
    pub lumi: &'a LsLumi,
    /// The CAEN export (leakage currents).
    pub caen: &'a DcsStore,
    /// The temperature model over the PLC and HV exports.
    pub temperatures: &'a TemperatureEngine<'a>,
    /// The readout-group fluence of the FLUKA field.
    pub fluence: &'a RogFluence,
    /// The cross-section table.
    pub cross_sections: &'a CrossSections,
    /// Step settings.
    pub settings: &'a ProfileSettings,
    /// Look-back bounds (the current's).
    pub lookback: &'a Lookback,
    /// Compatibility switches.
    pub compat: &'a Compat,
    /// The detector geometry (readout groups and their channels).
    pub geometry: &'a Geometry,
}

/// The timeline with the luminosity of each row, computed once for all readout groups.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// The rows.
    pub rows: Vec<RowSpec>,
    /// Per row, the luminosity rate behind the fluence (fb⁻¹ s⁻¹; 0 in interfills).
    pub lumi_rate: Vec<f64>,
    /// Per row, the luminosity behind the rate (fb⁻¹).
    pub lumi_fb: Vec<f64>,
    /// Per row, the cross-section (mb; 0 in interfills).
    pub sigma_mb: Vec<f64>,
    /// What building it noticed.
    pub report: TimelineReport,
}

impl Timeline {
    /// Builds the timeline and the luminosity of each row.
    ///
    /// # Errors
    /// [`Error::Data`] for a fill without a cross-section (as the original for fills after 9318
    /// with `run3_fill_range`).
    pub fn new(inp: &ProfileInputs<'_>) -> Result<Self> {
        let (rows, report) = timeline(inp.fills, inp.settings, inp.compat);
        let mut lumi_rate = Vec::with_capacity(rows.len());
        let mut lumi_fb = Vec::with_capacity(rows.len());
        let mut sigma_mb = Vec::with_capacity(rows.len());
        for r in &rows {
            if r.kind == RowKind::Interfill {
                lumi_rate.push(0.0);
                lumi_fb.push(0.0);
                sigma_mb.push(0.0);
                continue;
            }
            let fill = inp.fills[r.fill_index].fill;
            sigma_mb.push(inp.cross_sections.sigma_mb(fill, inp.compat)?);
            let (l, d) = if inp.compat.window_rate {
                (
                    inp.lumi.delivered_fb(r.meas_start, r.meas_end),
                    r.meas_duration_s(),
                )
            } else {
                (inp.lumi.delivered_fb(r.start, r.end), r.duration_s())
            };
            lumi_fb.push(l);
            lumi_rate.push(if d > 0.0 { l / d } else { 0.0 });
        }
        Ok(Self {
            rows,
            lumi_rate,
            lumi_fb,
            sigma_mb,
            report,
        })
    }
}

/// What a readout group's profile needed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RogProfileReport {
    /// Fill rows without a leakage current (−999).
    pub current_missing: usize,
    /// Fill rows whose current was found before the measurement window.
    pub current_looked_back: usize,
    /// The temperatures' look-backs.
    pub temperatures: TemperatureReport,
}

/// The profile rows of readout group `rog` (index into [`Geometry::readout_groups`]).
pub fn rog_profile(
    inp: &ProfileInputs<'_>,
    tl: &Timeline,
    rog: usize,
) -> (Vec<ProfileRow>, RogProfileReport) {
    let g = &inp.geometry.readout_groups[rog];
    let current = inp.caen.series_by_name(&g.leakage_channel());
    let data_start = current.times.first().copied();
    let max_back = (inp.lookback.current_max_h * US_PER_H as f64) as i64;
    let mut rep = RogProfileReport::default();
    let mut out = Vec::with_capacity(tl.rows.len());
    for (k, r) in tl.rows.iter().enumerate() {
        let fill = &inp.fills[r.fill_index];
        match r.kind {
            RowKind::Interfill => {
                let t = inp
                    .temperatures
                    .rog_temperature(rog, r.meas_start, r.meas_end, None);
                rep.temperatures.add(&t);
                out.push(ProfileRow {
                    spec: *r,
                    fill: None,
                    bunches: fill.bunches_colliding,
                    temperature: t,
                    fluence_rate: 0.0,
                    lumi_fb: 0.0,
                    current_ua: None,
                    current_lookback_s: None,
                    current_time: None,
                    current_temperature_k: None,
                });
            }
            RowKind::Fill => {
                let rate = inp.fluence.fluence(rog, tl.lumi_rate[k], tl.sigma_mb[k]);
                let t = inp
                    .temperatures
                    .rog_temperature(rog, r.meas_start, r.meas_end, Some(rate));
                rep.temperatures.add(&t);
                let (current_ua, current_lookback_s, current_time) =
                    match current.at_or_before(r.meas_end) {
                        Some(i) => {
                            let ti = current.times[i];
                            let back = (r.meas_start - ti).max(0);
                            let ok = inp.compat.unbounded_lookback || back <= max_back;
                            if ok && data_start.is_some() {
                                if back > 0 {
                                    rep.current_looked_back += 1;
                                }
                                (
                                    Some(current.values[i]),
                                    Some(back as f64 / US_PER_S as f64),
                                    Some(ti),
                                )
                            } else {
                                (None, None, None)
                            }
                        }
                        None => (None, None, None),
                    };
                if current_ua.is_none() {
                    rep.current_missing += 1;
                }
                let current_temperature_k = current_time.map(|ti| {
                    let heating = if t.hv_on {
                        let rate_at =
                            inp.fluence
                                .fluence(rog, inp.lumi.rate_at(ti), tl.sigma_mb[k]);
                        inp.temperatures.model().fluence_heating_k_per_rate * (rate_at - rate)
                    } else {
                        0.0
                    };
                    t.sensor_k + heating
                });
                out.push(ProfileRow {
                    spec: *r,
                    fill: Some(fill.fill),
                    bunches: fill.bunches_colliding,
                    temperature: t,
                    fluence_rate: rate,
                    lumi_fb: tl.lumi_fb[k],
                    current_ua,
                    current_lookback_s,
                    current_time,
                    current_temperature_k,
                });
            }
        }
    }
    (out, rep)
}

/// The header line of the text profile (without newline).
pub fn profile_header(settings: &ProfileSettings, compat: &Compat) -> String {
    let mut h =
        String::from("Fill\tTimestamp [s]\tDuration [s]\tTemperature [K]\tFluence [n_eq/cm2/s]\t");
    h.push_str(if compat.current_label {
        "Leakage_current [mA/cm2]"
    } else {
        "Leakage_current [uA]"
    });
    if settings.bunches_column {
        h.push_str("\tNumber of bunches");
    }
    h
}

/// Formats one row in the original's layout: `%d\t%d\t%d\t\t%4.2f\t\t%10d\t\t%6.2f` (and
/// `\t\t%d`), from floats as Python receives them.
pub fn format_row(values: &[f64]) -> String {
    let d = |x: f64| pyfmt::trunc_int(x).map_or_else(|| "nan".to_string(), |v| v.to_string());
    let mut s = format!(
        "{}\t{}\t{}\t\t{:>4}\t\t{:>10}\t\t{:>6}",
        d(values[0]),
        d(values[1]),
        d(values[2]),
        pyfmt::fixed(values[3], 2),
        d(values[4]),
        pyfmt::fixed(values[5], 2)
    );
    if let Some(b) = values.get(6) {
        s.push_str(&format!("\t\t{}", d(*b)));
    }
    s
}

/// The text profile of one readout group.
///
/// # Errors
/// [`Error::Config`] for an unknown local zone.
pub fn profile_text(
    rows: &[ProfileRow],
    settings: &ProfileSettings,
    compat: &Compat,
    time: &TimeSettings,
) -> Result<String> {
    let mut s = profile_header(settings, compat);
    s.push('\n');
    for r in rows {
        let ts = if compat.local_time {
            time.local_epoch_s(r.spec.end)?
        } else {
            r.spec.end as f64 / US_PER_S as f64
        };
        let mut v = vec![
            r.fill.map_or(PROFILE_NA as f64, f64::from),
            ts,
            r.spec.duration_s(),
            r.temperature.sensor_k,
            r.fluence_rate,
            r.current_ua.unwrap_or(PROFILE_NA as f64),
        ];
        if settings.bunches_column {
            v.push(r.bunches.map_or(0.0, f64::from));
        }
        s.push_str(&format_row(&v));
        s.push('\n');
    }
    Ok(s)
}

/// The schema of the Parquet profile.
pub fn profile_schema() -> SchemaRef {
    let ts = |n: &str| field_with_unit(n, timestamp_type(), false, "UTC");
    Arc::new(Schema::new(vec![
        Field::new("readout_group", DataType::Utf8, false),
        Field::new("fill", DataType::Int64, true),
        ts("interval_start"),
        ts("interval_end"),
        field_with_unit("duration_s", DataType::Float64, false, "s"),
        ts("measurement_start"),
        ts("measurement_end"),
        field_with_unit("temperature_k", DataType::Float64, true, "K"),
        field_with_unit("pipe_temperature_k", DataType::Float64, true, "K"),
        field_with_unit("fluence_rate", DataType::Float64, false, "n_eq cm^-2 s^-1"),
        field_with_unit("fluence", DataType::Float64, false, "n_eq cm^-2"),
        field_with_unit("delivered_lumi_fb", DataType::Float64, false, "fb^-1"),
        field_with_unit("leakage_current_ua", DataType::Float64, true, "uA"),
        Field::new("bunches_colliding", DataType::Int64, true),
        Field::new("hv_on", DataType::Boolean, false),
        field_with_unit("temperature_lookback_h", DataType::Float64, false, "h"),
        Field::new("temperature_incomplete", DataType::Boolean, false),
        field_with_unit("current_lookback_s", DataType::Float64, true, "s"),
        field_with_unit("current_time", timestamp_type(), true, "UTC"),
        field_with_unit("current_temperature_k", DataType::Float64, true, "K"),
    ]))
}

/// The Parquet rows of one readout group.
///
/// # Errors
/// Arrow errors (none for consistent rows).
pub fn profile_batch(rog_name: &str, rows: &[ProfileRow]) -> Result<RecordBatch> {
    let opt = |x: f64| (!x.is_nan()).then_some(x);
    let ts = |f: &dyn Fn(&ProfileRow) -> Micros| -> ArrayRef {
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(rows.iter().map(f)).with_timezone("UTC"),
        )
    };
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|_| rog_name))),
        Arc::new(Int64Array::from_iter(
            rows.iter().map(|r| r.fill.map(i64::from)),
        )),
        ts(&|r| r.spec.start),
        ts(&|r| r.spec.end),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.spec.duration_s()),
        )),
        ts(&|r| r.spec.meas_start),
        ts(&|r| r.spec.meas_end),
        Arc::new(Float64Array::from_iter(
            rows.iter().map(|r| opt(r.temperature.sensor_k)),
        )),
        Arc::new(Float64Array::from_iter(
            rows.iter().map(|r| opt(r.temperature.pipe_k)),
        )),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.fluence_rate),
        )),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(ProfileRow::fluence),
        )),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.lumi_fb),
        )),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.current_ua))),
        Arc::new(Int64Array::from_iter(
            rows.iter().map(|r| r.bunches.map(i64::from)),
        )),
        Arc::new(BooleanArray::from_iter(
            rows.iter().map(|r| Some(r.temperature.hv_on)),
        )),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.temperature.lookback_h),
        )),
        Arc::new(BooleanArray::from_iter(
            rows.iter().map(|r| Some(r.temperature.incomplete)),
        )),
        Arc::new(Float64Array::from_iter(
            rows.iter().map(|r| r.current_lookback_s),
        )),
        Arc::new(
            TimestampMicrosecondArray::from(
                rows.iter().map(|r| r.current_time).collect::<Vec<_>>(),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(Float64Array::from_iter(
            rows.iter()
                .map(|r| r.current_temperature_k.filter(|x| !x.is_nan())),
        )),
    ];
    Ok(RecordBatch::try_new(profile_schema(), cols)?)
}

/// The text file name of a readout group's profile, `profile_<ROG>_<label>.txt`.
pub fn profile_file_name(rog: &str, label: &str) -> String {
    format!("profile_{rog}_{label}.txt")
}

/// Reads a text profile: the header line and the rows as whitespace-separated tokens.
///
/// # Errors
/// A located parse error for a row whose token count differs from the first row's, or whose
/// tokens are not numbers; I/O errors.
pub fn read_profile_text(path: &Path) -> Result<(String, Vec<Vec<String>>)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut lines = text.lines();
    let header = lines
        .next()
        .ok_or_else(|| Error::parse(path, 1, "a profile header line", "an empty file"))?
        .to_string();
    let mut rows = Vec::new();
    let mut width = None;
    for (i, l) in lines.enumerate() {
        let n = i as u64 + 2;
        let t: Vec<String> = l.split_whitespace().map(String::from).collect();
        if t.is_empty() {
            continue;
        }
        let w = *width.get_or_insert(t.len());
        if t.len() != w || !(6..=7).contains(&w) {
            return Err(Error::parse(
                path,
                n,
                format!("{w} profile columns (6 or 7)"),
                format!("{} in `{l}`", t.len()),
            ));
        }
        if let Some(bad) = t.iter().find(|x| x.parse::<f64>().is_err()) {
            return Err(Error::parse(path, n, "numbers", format!("`{bad}`")));
        }
        if t[1].parse::<i64>().is_err() || t[2].parse::<i64>().is_err() {
            return Err(Error::parse(
                path,
                n,
                "integer timestamp and duration",
                format!("`{}` and `{}`", t[1], t[2]),
            ));
        }
        rows.push(t);
    }
    Ok((header, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(n: u32, s: i64, e: i64) -> Fill {
        Fill {
            fill: n,
            start_stable_beam: s * US_PER_S,
            end_stable_beam: e * US_PER_S,
            bunches_colliding: Some(2400),
        }
    }

    #[test]
    fn timeline_rows() {
        // Fill 1: 0..10000 s; fill 2 (short, 900 s): 20000..20900; fill 3: 30000..31500.
        let fills = vec![
            fill(1, 0, 10_000),
            fill(2, 20_000, 20_900),
            fill(3, 30_000, 31_500),
        ];
        let s = ProfileSettings::default();
        let (rows, rep) = timeline(&fills, &s, &Compat::default());
        let ends: Vec<(RowKind, i64, i64, i64)> = rows
            .iter()
            .map(|r| {
                (
                    r.kind,
                    r.start / US_PER_S,
                    r.end / US_PER_S,
                    r.meas_end / US_PER_S,
                )
            })
            .collect();
        use RowKind::*;
        assert_eq!(
            ends,
            vec![
                (Fill, 0, 1200, 1200),
                (Fill, 1200, 4800, 4800),
                (Fill, 4800, 8400, 8400),
                (Fill, 8400, 10_000, 9700),
                (Interfill, 10_000, 11_200, 11_200),
                (Interfill, 11_200, 14_800, 14_800),
                (Interfill, 14_800, 18_400, 18_400),
                (Interfill, 18_400, 20_000, 19_700),
                (Fill, 20_000, 20_900, 20_600),
                (Interfill, 20_900, 22_100, 22_100),
                (Interfill, 22_100, 25_700, 25_700),
                (Interfill, 25_700, 29_300, 29_300),
                (Interfill, 29_300, 30_000, 29_700),
                (Fill, 30_000, 31_200, 31_200),
                (Fill, 31_200, 31_500, 31_380),
            ]
        );
        assert_eq!(rep.short_fills, vec![2]);
        // The original leaves the short fill out: a hole from 20 000 to 20 900 s.
        let (rows, _) = timeline(
            &fills,
            &s,
            &Compat {
                short_fill_gap: true,
                ..Compat::default()
            },
        );
        assert!(
            !rows
                .iter()
                .any(|r| r.kind == RowKind::Fill && r.fill_index == 1)
        );
        // Durations cover the fills and interfills without gaps by default.
        let (rows, _) = timeline(&fills, &s, &Compat::default());
        for w in rows.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
    }

    #[test]
    fn row_format() {
        assert_eq!(
            format_row(&[
                8000.0,
                1_659_349_200.7,
                1200.0,
                252.346,
                330_000_123.9,
                392.609
            ]),
            "8000\t1659349200\t1200\t\t252.35\t\t 330000123\t\t392.61"
        );
        assert_eq!(
            format_row(&[-999.0, 1_659_349_200.0, 3600.0, 251.2, 0.0, -999.0, 2400.0]),
            "-999\t1659349200\t3600\t\t251.20\t\t         0\t\t-999.00\t\t2400"
        );
    }
}
