//! Sensor temperatures of the readout groups, and the PLC air and pipe temperatures
//! (`temperatures/helpers.py`, `voltages/helpers.py`, `get_readout_group_temperatures.py`,
//! `getPLCAirTemperatures.py`, `getPLCPipeTemperatures.py` of PixelMonitoring).
//!
//! # Readout-group temperature over a window `[t1, t2)`
//!
//! 1. **Cooling loop.** The PLC sensors whose part matches `PixelBarrel(.*)(PF|PN|MF|MN)(.*)`
//!    are the barrel cooling-loop sensors. The last two `_` pieces of a part are its OMDS alias,
//!    which the alias table corrects to the DCS alias (broken loops and unknown aliases are
//!    skipped and counted). The loop of the DCS alias decides which readout groups the sensor
//!    serves ([`crate::geometry::CoolingLoop::serves`]). For each serving sensor the newest
//!    reading in the window that is not null and not faulty (above
//!    [`TemperatureModel::faulty_above_c`], 40 °C) counts. If fewer sensors than the loop needs
//!    ([`crate::geometry::CoolingLoop::required_sensors`]) have one, the window start moves back
//!    by [`Lookback::temperature_step_h`] (10 h) until enough do, at most
//!    [`Lookback::temperature_max_h`] (or back to the start of the data with the
//!    `unbounded_lookback` switch; the original recursed without end). The pipe temperature is
//!    the mean of the sensors found plus 273.15 K. A value that reached its bound with too few
//!    sensors is the mean of those found (NaN with none) and is flagged `incomplete`.
//! 2. **HV on?** The newest `v_voltages` value of the group's HV cable strictly inside
//!    `(t1, t2)`; if none, the latest earlier one within [`Lookback::hv_max_h`]. With
//!    `unbounded_lookback` the original's windows `(t1 − 5 h·(k+1), t1 − 5 h·k)` are searched
//!    back to the start of the data (so changes exactly on the window edges are not seen, as in
//!    the original). HV is on if the value is above 0 V; an unknown state counts as
//!    [`Lookback::hv_unknown_is_on`].
//! 3. **Self-heating:** + 3 K (layers 1-3) or + 4 K (layer 4) with HV on.
//! 4. **Fluence heating** (radiation-profile fill rows only): + 3e-8 K per n_eq cm⁻² s⁻¹ of the
//!    group's fluence rate, with HV on.
//!
//! # Per fill (`rog-temperatures`)
//!
//! Window `[start of stable beams, measurement time)`, no fluence heating; text file
//! `readout_group/BPix/<fill>.txt`, 128 lines `<readout group> <T (K):%.4f>` in the original's
//! order.
//!
//! # Air and pipe temperatures
//!
//! Window `[start of stable beams, start + 1200 s]` (SQL `BETWEEN`). Air: every reading of the
//! parts whose alias ends in `Air` and contains `Pixel<sub>`; pipe: the latest non-null reading
//! of each loop sensor (`PixelBarrel...PF|PN|MF|MN` or `PixelEndcap...PC...`). Text file
//! `<fill>[_<sub>].txt`, lines `<part>   <value>   <time>` ordered by part and time (`None` for a
//! null value).

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

use crate::config::{Compat, Lookback, TemperatureModel};
use crate::constants::ZERO_CELSIUS_K;
use crate::dcs::DcsStore;
use crate::error::Result;
use crate::fills::{Fill, field_with_unit};
use crate::geometry::{AliasStatus, CoolingLoop, Geometry, parse_loop_alias};
use crate::time::{Micros, US_PER_H};

/// A cooling-loop sensor after the alias correction: its corrected part name, the store
/// channels that carry it, and its loop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoopSensor {
    /// Corrected part, `PixelBarrel_<hc>_<DCS alias>`.
    pub part: String,
    /// Channel ids in the PLC store (normally one).
    pub channels: Vec<u32>,
    /// The loop.
    pub cooling_loop: CoolingLoop,
}

/// What building the loop-sensor table skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SensorTableReport {
    /// Loop sensors found in the PLC export.
    pub loop_channels: usize,
    /// Of those, on a broken loop (skipped).
    pub broken: Vec<String>,
    /// Of those, with an alias missing from the correction table (skipped).
    pub unknown: Vec<String>,
}

/// One readout-group temperature and how it was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RogTemperature {
    /// Sensor temperature (K): pipe + self-heating (+ fluence heating); NaN without sensors.
    pub sensor_k: f64,
    /// Cooling-loop (pipe) temperature (K); NaN without sensors.
    pub pipe_k: f64,
    /// Sensors averaged.
    pub n_sensors: usize,
    /// Sensors the loop needs.
    pub required: usize,
    /// Whether the search reached its bound with fewer sensors than needed.
    pub incomplete: bool,
    /// How far the window start moved back (h); 0 if the window held enough sensors.
    pub lookback_h: f64,
    /// HV state used.
    pub hv_on: bool,
    /// Whether the HV state was found (false: [`Lookback::hv_unknown_is_on`] was used).
    pub hv_known: bool,
    /// How far before the window start the HV value is (h); 0 inside the window.
    pub hv_lookback_h: f64,
}

/// The readout-group temperature model over the PLC and HV exports.
#[derive(Debug)]
pub struct TemperatureEngine<'a> {
    plc: &'a DcsStore,
    hv: Option<&'a DcsStore>,
    sensors: Vec<LoopSensor>,
    /// For each PLC channel of a loop sensor: index of the latest valid reading at or before each
    /// row (`u32::MAX`: none).
    prev_valid: Vec<Vec<u32>>,
    channel_slot: Vec<u32>,
    rog_sensors: Vec<Vec<usize>>,
    rog_required: Vec<usize>,
    hv_ids: Vec<Option<u32>>,
    data_start: Micros,
    hv_start: Micros,
    model: TemperatureModel,
    lookback: Lookback,
    compat: Compat,
    geometry: Geometry,
    /// What building the sensor table skipped.
    pub report: SensorTableReport,
}

/// Whether a PLC part is a barrel cooling-loop sensor (`REGEXP_LIKE(part,
/// 'PixelBarrel(.*)(PF|PN|MF|MN)(.*)')`).
pub fn is_barrel_loop_part(part: &str) -> bool {
    let Some(pos) = part.find("PixelBarrel") else {
        return false;
    };
    let rest = &part[pos + "PixelBarrel".len()..];
    ["PF", "PN", "MF", "MN"].iter().any(|p| rest.contains(p))
}

impl<'a> TemperatureEngine<'a> {
    /// Builds the loop-sensor table from the PLC export and the HV lookup from the HV export
    /// (`None`: every HV state is unknown).
    pub fn new(
        plc: &'a DcsStore,
        hv: Option<&'a DcsStore>,
        model: TemperatureModel,
        lookback: Lookback,
        compat: Compat,
    ) -> Self {
        let geo = Geometry::phase1();
        let mut report = SensorTableReport::default();
        let mut sensors: Vec<LoopSensor> = Vec::new();
        for (id, part) in plc.names().iter().enumerate() {
            if !is_barrel_loop_part(part) {
                continue;
            }
            report.loop_channels += 1;
            let pieces: Vec<&str> = part.split('_').collect();
            if pieces.len() < 2 {
                report.unknown.push(part.clone());
                continue;
            }
            let omds = pieces[pieces.len() - 2..].join("_");
            let dcs = match geo.dcs_alias(&omds) {
                AliasStatus::Maps(d) => d,
                AliasStatus::Broken => {
                    report.broken.push(part.clone());
                    continue;
                }
                AliasStatus::Unknown => {
                    report.unknown.push(part.clone());
                    continue;
                }
            };
            let Some(alias) = parse_loop_alias(&dcs) else {
                report.unknown.push(part.clone());
                continue;
            };
            let corrected = part.replace(&omds, &dcs);
            match sensors.iter_mut().find(|s| s.part == corrected) {
                Some(s) => s.channels.push(id as u32),
                None => sensors.push(LoopSensor {
                    part: corrected,
                    channels: vec![id as u32],
                    cooling_loop: alias.cooling_loop,
                }),
            }
        }
        sensors.sort_by(|a, b| a.part.cmp(&b.part));
        let mut channel_slot = vec![u32::MAX; plc.n_channels()];
        let mut prev_valid = Vec::new();
        for s in &sensors {
            for &c in &s.channels {
                channel_slot[c as usize] = prev_valid.len() as u32;
                let series = plc.series(c);
                let mut last = u32::MAX;
                let pv: Vec<u32> = series
                    .values
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| {
                        if !v.is_nan() && !(v > model.faulty_above_c) {
                            last = i as u32;
                        }
                        last
                    })
                    .collect();
                prev_valid.push(pv);
            }
        }
        let rog_sensors: Vec<Vec<usize>> = geo
            .readout_groups
            .iter()
            .map(|g| {
                sensors
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.cooling_loop.serves(g))
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        let rog_required = geo
            .readout_groups
            .iter()
            .map(|g| {
                let l = CoolingLoop {
                    layer: g.layer,
                    disk: if g.layer <= 2 {
                        if g.sector <= 4 { 1 } else { 2 }
                    } else {
                        g.sector.div_ceil(2)
                    },
                    near: g.half_cylinder.is_inner(),
                };
                l.required_sensors()
            })
            .collect();
        let hv_ids = geo
            .readout_groups
            .iter()
            .map(|g| hv.and_then(|h| h.id(&g.hv_cable())))
            .collect();
        Self {
            plc,
            hv,
            data_start: plc.first_time().unwrap_or(0),
            hv_start: hv.and_then(DcsStore::first_time).unwrap_or(0),
            sensors,
            prev_valid,
            channel_slot,
            rog_sensors,
            rog_required,
            hv_ids,
            model,
            lookback,
            compat,
            geometry: geo,
            report,
        }
    }

    /// The detector geometry the engine maps sensors onto (the Phase-1 pixel detector).
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The temperature model.
    pub fn model(&self) -> &TemperatureModel {
        &self.model
    }

    /// The loop sensors, sorted by corrected part.
    pub fn sensors(&self) -> &[LoopSensor] {
        &self.sensors
    }

    /// The loop sensors serving readout group `rog` (an index into
    /// [`Geometry::readout_groups`]).
    pub fn sensors_of(&self, rog: usize) -> impl Iterator<Item = &LoopSensor> {
        self.rog_sensors[rog].iter().map(|&i| &self.sensors[i])
    }

    /// The newest valid reading of sensor `s` strictly before `t2`: `(time, °C)`.
    fn newest_valid(&self, s: &LoopSensor, t2: Micros) -> Option<(Micros, f64)> {
        let mut best: Option<(Micros, f64)> = None;
        for &c in &s.channels {
            let series = self.plc.series(c);
            let Some(i) = series.before(t2) else { continue };
            let j = self.prev_valid[self.channel_slot[c as usize] as usize][i];
            if j == u32::MAX {
                continue;
            }
            let cand = (series.times[j as usize], series.values[j as usize]);
            if best.is_none_or(|b| cand.0 > b.0) {
                best = Some(cand);
            }
        }
        best
    }

    /// The cooling-loop temperature (K) of readout group `rog` over `[t1, t2)`:
    /// `(pipe_k, n_sensors, incomplete, lookback_h)`.
    pub fn pipe_temperature(&self, rog: usize, t1: Micros, t2: Micros) -> (f64, usize, bool, f64) {
        let required = self.rog_required[rog];
        let mut found: Vec<(Micros, &str, f64)> = self.rog_sensors[rog]
            .iter()
            .filter_map(|&i| {
                let s = &self.sensors[i];
                self.newest_valid(s, t2)
                    .map(|(t, v)| (t, s.part.as_str(), v))
            })
            .collect();
        // Newest first, as the original's `ORDER BY change_date DESC`.
        found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let step = (self.lookback.temperature_step_h * US_PER_H as f64) as i64;
        let k_max: Option<i64> = if self.compat.unbounded_lookback {
            None
        } else {
            Some(
                (self.lookback.temperature_max_h / self.lookback.temperature_step_h).floor() as i64,
            )
        };
        let steps_back = |t: Micros| -> i64 {
            if t >= t1 {
                0
            } else {
                (t1 - t + step - 1) / step
            }
        };
        let (k, incomplete) = if found.len() >= required && required > 0 {
            let k = steps_back(found[required - 1].0);
            match k_max {
                Some(m) if k > m => (m, true),
                _ => (k, false),
            }
        } else {
            // Not enough sensors anywhere before t2: the search ends at its bound.
            let k = match k_max {
                Some(m) => m,
                None => steps_back(self.data_start.min(t1)),
            };
            (k, true)
        };
        let lo = t1 - k * step;
        let used: Vec<f64> = found.iter().filter(|f| f.0 >= lo).map(|f| f.2).collect();
        let n = used.len();
        let mean = if n == 0 {
            f64::NAN
        } else {
            used.iter().fold(0.0, |a, b| a + b) / n as f64
        };
        let lookback_h = (k * step) as f64 / US_PER_H as f64;
        (mean + ZERO_CELSIUS_K, n, incomplete, lookback_h)
    }

    /// The HV state of readout group `rog` over `(t1, t2)`: `(on, known, lookback_h)`.
    pub fn hv_state(&self, rog: usize, t1: Micros, t2: Micros) -> (bool, bool, f64) {
        let unknown = (self.lookback.hv_unknown_is_on, false, 0.0);
        let (Some(hv), Some(id)) = (self.hv, self.hv_ids[rog]) else {
            return unknown;
        };
        let s = hv.series(id);
        let Some(mut j) = s.before(t2) else {
            return unknown;
        };
        if s.times[j] > t1 {
            return (s.values[j] > 0.0, true, 0.0);
        }
        let step = (self.lookback.hv_step_h * US_PER_H as f64) as i64;
        if self.compat.unbounded_lookback {
            // The original's windows (t1 - 5h(k+1), t1 - 5h k): a change exactly on an edge
            // is in none of them.
            loop {
                let t = s.times[j];
                let d = t1 - t;
                if t < t1 && d % step != 0 {
                    let k = d / step;
                    return (
                        s.values[j] > 0.0,
                        true,
                        ((k + 1) * step) as f64 / US_PER_H as f64,
                    );
                }
                if t < self.hv_start {
                    return unknown;
                }
                match j.checked_sub(1) {
                    Some(p) => j = p,
                    None => return unknown,
                }
            }
        }
        let t = s.times[j];
        let back = (t1 - t).max(0);
        if back as f64 > self.lookback.hv_max_h * US_PER_H as f64 {
            return unknown;
        }
        (s.values[j] > 0.0, true, back as f64 / US_PER_H as f64)
    }

    /// The sensor temperature of readout group `rog` over `[t1, t2)`, with self-heating, and with
    /// fluence heating for the given fluence rate (n_eq cm⁻² s⁻¹) if `Some`.
    pub fn rog_temperature(
        &self,
        rog: usize,
        t1: Micros,
        t2: Micros,
        fluence_rate: Option<f64>,
    ) -> RogTemperature {
        let layer = self.geometry.readout_groups[rog].layer;
        let (hv_on, hv_known, hv_lookback_h) = self.hv_state(rog, t1, t2);
        let (pipe_k, n_sensors, incomplete, lookback_h) = self.pipe_temperature(rog, t1, t2);
        let mut t = pipe_k;
        if hv_on {
            t += self.model.self_heating_k(layer);
        }
        if let Some(rate) = fluence_rate
            && hv_on
        {
            t += self.model.fluence_heating_k_per_rate * rate;
        }
        RogTemperature {
            sensor_k: t,
            pipe_k,
            n_sensors,
            required: self.rog_required[rog],
            incomplete,
            lookback_h,
            hv_on,
            hv_known,
            hv_lookback_h,
        }
    }
}

/// The temperatures of the 128 readout groups at one fill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FillTemperatures {
    /// Fill number.
    pub fill: u32,
    /// Per readout group, in [`Geometry::readout_groups`] order.
    pub values: Vec<RogTemperature>,
}

/// Counts of the look-backs, bounds and unknown HV states of a set of temperatures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TemperatureReport {
    /// Values computed.
    pub values: usize,
    /// Values whose window had to move back.
    pub looked_back: usize,
    /// Values that reached the bound with too few sensors.
    pub incomplete: usize,
    /// Values without any sensor (NaN).
    pub without_sensors: usize,
    /// Values with an unknown HV state.
    pub hv_unknown: usize,
    /// Largest look-back (h).
    pub max_lookback_h: f64,
}

impl TemperatureReport {
    /// Adds one value.
    pub fn add(&mut self, t: &RogTemperature) {
        self.values += 1;
        if t.lookback_h > 0.0 {
            self.looked_back += 1;
        }
        if t.incomplete {
            self.incomplete += 1;
        }
        if t.n_sensors == 0 {
            self.without_sensors += 1;
        }
        if !t.hv_known {
            self.hv_unknown += 1;
        }
        self.max_lookback_h = self.max_lookback_h.max(t.lookback_h);
    }
}

/// The temperatures of every readout group at each fill's measurement window
/// `[start, measurement time)`, without fluence heating (`get_readout_group_temperatures.py`).
pub fn fill_temperatures(
    engine: &TemperatureEngine<'_>,
    fills: &[Fill],
    measurement_delay_s: i64,
) -> (Vec<FillTemperatures>, TemperatureReport) {
    use rayon::prelude::*;
    let n = engine.geometry().readout_groups.len();
    let out: Vec<FillTemperatures> = fills
        .par_iter()
        .map(|f| {
            let t1 = f.start_stable_beam;
            let t2 = f.measurement_time(measurement_delay_s);
            FillTemperatures {
                fill: f.fill,
                values: (0..n)
                    .map(|r| engine.rog_temperature(r, t1, t2, None))
                    .collect(),
            }
        })
        .collect();
    let mut rep = TemperatureReport::default();
    for f in &out {
        for v in &f.values {
            rep.add(v);
        }
    }
    (out, rep)
}

/// The text of `readout_group/BPix/<fill>.txt`: `<readout group> <T:%.4f>` in file order
/// (`nan` for a group without sensors).
pub fn fill_temperatures_text(geo: &Geometry, t: &FillTemperatures) -> String {
    let mut s = String::new();
    for (g, v) in geo.readout_groups.iter().zip(&t.values) {
        s.push_str(&format!(
            "{} {}\n",
            g.name,
            crate::pyfmt::fixed(v.sensor_k, 4)
        ));
    }
    s
}

/// The per-fill temperatures as an Arrow batch: `fill`, `readout_group`, `temperature_k`,
/// `pipe_temperature_k` (null without sensors), `n_sensors`, `required_sensors`, `incomplete`,
/// `lookback_h`, `hv_on`, `hv_known`, `hv_lookback_h`.
///
/// # Errors
/// Arrow errors (none for consistent input).
pub fn fill_temperatures_batch(geo: &Geometry, all: &[FillTemperatures]) -> Result<RecordBatch> {
    let rows: Vec<(u32, &str, &RogTemperature)> = all
        .iter()
        .flat_map(|f| {
            geo.readout_groups
                .iter()
                .zip(&f.values)
                .map(move |(g, v)| (f.fill, g.name.as_str(), v))
        })
        .collect();
    let opt = |x: f64| (!x.is_nan()).then_some(x);
    let schema = Arc::new(Schema::new(vec![
        Field::new("fill", DataType::Int64, false),
        Field::new("readout_group", DataType::Utf8, false),
        field_with_unit("temperature_k", DataType::Float64, true, "K"),
        field_with_unit("pipe_temperature_k", DataType::Float64, true, "K"),
        Field::new("n_sensors", DataType::Int64, false),
        Field::new("required_sensors", DataType::Int64, false),
        Field::new("incomplete", DataType::Boolean, false),
        field_with_unit("lookback_h", DataType::Float64, false, "h"),
        Field::new("hv_on", DataType::Boolean, false),
        Field::new("hv_known", DataType::Boolean, false),
        field_with_unit("hv_lookback_h", DataType::Float64, false, "h"),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| i64::from(r.0)),
        )),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
        Arc::new(Float64Array::from_iter(
            rows.iter().map(|r| opt(r.2.sensor_k)),
        )),
        Arc::new(Float64Array::from_iter(
            rows.iter().map(|r| opt(r.2.pipe_k)),
        )),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.2.n_sensors as i64),
        )),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.2.required as i64),
        )),
        Arc::new(BooleanArray::from_iter(
            rows.iter().map(|r| Some(r.2.incomplete)),
        )),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.2.lookback_h),
        )),
        Arc::new(BooleanArray::from_iter(
            rows.iter().map(|r| Some(r.2.hv_on)),
        )),
        Arc::new(BooleanArray::from_iter(
            rows.iter().map(|r| Some(r.2.hv_known)),
        )),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.2.hv_lookback_h),
        )),
    ];
    Ok(RecordBatch::try_new(schema, cols)?)
}

/// One PLC reading of the air or pipe files.
#[derive(Debug, Clone, PartialEq)]
pub struct PlcReading {
    /// Part, e.g. `PixelBarrel_BmI_Air`.
    pub part: String,
    /// Value (°C); NaN for null.
    pub value: f64,
    /// Time (UTC µs).
    pub time: Micros,
}

/// Which PLC temperatures a per-fill file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PlcSource {
    /// Air sensors: every reading in the window.
    #[default]
    Air,
    /// Cooling-pipe sensors: the latest non-null reading per part.
    Pipe,
}

/// The air or pipe readings of one fill over `[start, start + window_s]`; `sub_system` is
/// `Barrel`, `EndCap` or empty (air only: both).
pub fn plc_fill_readings(
    store: &DcsStore,
    fill: &Fill,
    source: PlcSource,
    sub_system: &str,
    window_s: i64,
) -> Vec<PlcReading> {
    let lo = fill.start_stable_beam;
    let hi = lo + window_s * crate::time::US_PER_S;
    let mut parts: Vec<(usize, &String)> = store
        .names()
        .iter()
        .enumerate()
        .filter(|(_, p)| match source {
            PlcSource::Air => p.ends_with("Air") && p.contains(&format!("Pixel{sub_system}")),
            PlcSource::Pipe => {
                if sub_system == "EndCap" {
                    p.starts_with("PixelEndcap") && p["PixelEndcap".len()..].contains("PC")
                } else {
                    p.starts_with("PixelBarrel")
                        && ["PF", "PN", "MF", "MN"].iter().any(|e| p.ends_with(e))
                }
            }
        })
        .collect();
    parts.sort_by(|a, b| a.1.cmp(b.1));
    let mut out = Vec::new();
    for (id, part) in parts {
        let s = store.series(id as u32);
        let r = s.range_closed(lo, hi);
        match source {
            PlcSource::Air => {
                for i in r {
                    out.push(PlcReading {
                        part: part.clone(),
                        value: s.values[i],
                        time: s.times[i],
                    });
                }
            }
            PlcSource::Pipe => {
                if let Some(i) = r.rev().find(|&i| !s.values[i].is_nan()) {
                    out.push(PlcReading {
                        part: part.clone(),
                        value: s.values[i],
                        time: s.times[i],
                    });
                }
            }
        }
    }
    out
}

/// The text of an air or pipe file: `<part>   <value>   <time>` per reading.
pub fn plc_text(rows: &[PlcReading]) -> String {
    let mut s = String::new();
    for r in rows {
        let v = if r.value.is_nan() {
            "None".to_string()
        } else {
            crate::pyfmt::repr(r.value)
        };
        s.push_str(&format!(
            "{}   {}   {}\n",
            r.part,
            v,
            crate::time::python_str(r.time)
        ));
    }
    s
}

/// Reads an air or pipe file (`<part> <value> <date> <time>`).
///
/// # Errors
/// A located parse error for a malformed line.
pub fn read_plc_text(path: &Path) -> Result<Vec<PlcReading>> {
    use crate::error::Error;
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.len() != 4 {
            return Err(Error::parse(
                path,
                n,
                "`<part> <value> <date> <time>`",
                format!("`{line}`"),
            ));
        }
        let value = if t[1] == "None" {
            f64::NAN
        } else {
            t[1].parse()
                .map_err(|_| Error::parse(path, n, "a number or None", format!("`{}`", t[1])))?
        };
        let ts = format!("{} {}", t[2], t[3]);
        let time = crate::time::TimeReader::utc()
            .parse(&ts)
            .ok_or_else(|| Error::parse(path, n, "a time", format!("`{ts}`")))?;
        out.push(PlcReading {
            part: t[0].to_string(),
            value,
            time,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dcs::DcsKind;
    use crate::time::US_PER_S;

    const H: i64 = US_PER_H;

    #[test]
    fn loop_average_lookback_and_bound() {
        let geo = Geometry::phase1();
        // BPix_BmI_SEC1_LYR1 is cooled by L1D1 Near: 2 sensors needed. OMDS 3I_L1D1PN and
        // 3R_L1D1PN are identity entries.
        let rog = geo.rog_index("BPix_BmI_SEC1_LYR1").unwrap();
        let t1 = 100 * H;
        let t2 = t1 + 1200 * US_PER_S;
        let plc = DcsStore::from_rows(
            DcsKind::Plc,
            [
                ("PixelBarrel_BpI_3I_L1D1PN", t1 + 300 * US_PER_S, -21.0, 0.0),
                ("PixelBarrel_BpI_3R_L1D1PN", t1 - 15 * H, -23.0, 0.0),
                ("PixelBarrel_BpI_3R_L1D1PN", t1 + 600 * US_PER_S, 45.0, 0.0),
                ("PixelBarrel_BmO_6I_L4D3MF", t1, -20.0, 0.0),
            ],
        );
        let hv = DcsStore::from_rows(
            DcsKind::Hv,
            [("PixelBarrel_BmI_S1_LAY14/HV1", t1 - 3 * H, 250.0, 0.0)],
        );
        let e = TemperatureEngine::new(
            &plc,
            Some(&hv),
            TemperatureModel::default(),
            Lookback::default(),
            Compat::default(),
        );
        assert_eq!(
            e.report.broken,
            vec!["PixelBarrel_BmO_6I_L4D3MF".to_string()]
        );
        let t = e.rog_temperature(rog, t1, t2, None);
        // The faulty 45 °C reading is skipped; 3R's reading 15 h back needs two 10 h steps.
        assert_eq!(t.n_sensors, 2);
        assert_eq!(t.lookback_h, 20.0);
        assert!(!t.incomplete);
        assert!((t.pipe_k - (-22.0 + 273.15)).abs() < 1e-12);
        assert!(t.hv_on && t.hv_known);
        assert_eq!(t.hv_lookback_h, 3.0);
        assert!((t.sensor_k - (t.pipe_k + 3.0)).abs() < 1e-12);
        // Fluence heating: 3e-8 K per n_eq/cm2/s.
        let tf = e.rog_temperature(rog, t1, t2, Some(1e8));
        assert!((tf.sensor_k - t.sensor_k - 3.0).abs() < 1e-9);
        // A bound of 10 h: one sensor only, flagged, never a loop.
        let short = Lookback {
            temperature_max_h: 10.0,
            ..Lookback::default()
        };
        let e = TemperatureEngine::new(
            &plc,
            Some(&hv),
            TemperatureModel::default(),
            short,
            Compat::default(),
        );
        let t = e.rog_temperature(rog, t1, t2, None);
        assert!(t.incomplete);
        assert_eq!(t.n_sensors, 1);
        assert_eq!(t.lookback_h, 10.0);
        assert!((t.pipe_k - (-21.0 + 273.15)).abs() < 1e-12);
    }

    #[test]
    fn hv_windows() {
        let geo = Geometry::phase1();
        let rog = geo.rog_index("BPix_BmI_SEC1_LYR1").unwrap();
        let t1 = 100 * H;
        let t2 = t1 + 1200 * US_PER_S;
        // One change exactly 5 h before t1 (on a window edge) and one 7 h before (off).
        let hv = DcsStore::from_rows(
            DcsKind::Hv,
            [
                ("PixelBarrel_BmI_S1_LAY14/HV1", t1 - 7 * H, 0.0, 0.0),
                ("PixelBarrel_BmI_S1_LAY14/HV1", t1 - 5 * H, 250.0, 0.0),
            ],
        );
        let plc = DcsStore::default();
        let fixed = TemperatureEngine::new(
            &plc,
            Some(&hv),
            TemperatureModel::default(),
            Lookback::default(),
            Compat::default(),
        );
        assert_eq!(fixed.hv_state(rog, t1, t2), (true, true, 5.0));
        let compat = TemperatureEngine::new(
            &plc,
            Some(&hv),
            TemperatureModel::default(),
            Lookback::default(),
            Compat {
                unbounded_lookback: true,
                ..Compat::default()
            },
        );
        // The original never sees the edge change and finds the 0 V one in (t1-10h, t1-5h).
        assert_eq!(compat.hv_state(rog, t1, t2), (false, true, 10.0));
        let none = TemperatureEngine::new(
            &plc,
            None,
            TemperatureModel::default(),
            Lookback::default(),
            Compat::default(),
        );
        assert_eq!(none.hv_state(rog, t1, t2), (true, false, 0.0));
    }
}
