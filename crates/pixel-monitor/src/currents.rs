//! Per-fill currents: the CAEN channels at the measurement time of each fill, the leakage
//! current of each readout group and the LV currents of each power group
//! (`get_currents_from_database.py` and `get_currents.py` of PixelMonitoring).
//!
//! # From the export (`currents-from-db`)
//!
//! For each fill the window is `[start of stable beams, measurement time]` (both ends included,
//! as the original's SQL `BETWEEN`; the measurement time is 1200 s after the start, or the end of
//! stable beams for a shorter fill). Every channel whose cable contains `Pixel` and whose channel
//! part starts with `channel00` gives its latest change in the window; channels without a change
//! in the window are absent, as in the original, unless [`CurrentsSettings::lookback_h`] allows
//! the latest earlier change (each such value records how far it looked). A row is kept if the
//! sub-system name (`Barrel` or `EndCap`) occurs in the cable and its layer token is one of the
//! Phase-1 tokens (`LYR14`, `LYR23`, `D1`-`D3`), which drops the Phase-0 aliases that the
//! database's latest alias mapping still returns. Rows are ordered by change time, then by cable
//! (the original's `ORDER BY itime` leaves ties in no particular order).
//!
//! Text file `<fill>_<Barrel|EndCap>.txt`, one line per channel:
//! `<cable>   <Imon>   <Vmon>   <time>` (three spaces; numbers as Python's `str`, a null Vmon as
//! `None`, the time as Python's `str(datetime)` of the UTC wall time).
//!
//! # Processed (`currents`)
//!
//! From those rows: `channel000` is the digital and `channel001` the analog LV current (A) of the
//! power group `PixelBarrel_<hc>_S<n>_LAY14|23`; `channel002`/`channel003` the HV leakage current
//! (µA) of one readout group (see [`crate::geometry`]). A repeated key keeps its last value.
//! Channels that map to no readout group (end-cap channels, which the original does not implement
//! either, unknown channel numbers) are skipped and counted. Text files
//! `<fill>_<sub>_HV_ByLayer.txt` (128 lines `<readout group> <I:%.4f>`), `_Ana.txt` and `_Dig.txt`
//! (64 lines `<power group> <I:%.4f>`), each sorted by the last character of the name, then the
//! name.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

use crate::dcs::DcsStore;
use crate::error::{Error, Result};
use crate::fills::{Fill, field_with_unit, timestamp_type};
use crate::geometry::{
    ChannelKind, PHASE1_LAYER_TOKENS, classify_barrel_channel, layer_token, text_sort_key,
};
use crate::pyfmt;
use crate::time::{Micros, US_PER_H, python_str};

/// The detector part of a per-fill currents file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SubSystem {
    /// The barrel (BPix), `Barrel` in file names.
    #[default]
    Barrel,
    /// The end-caps (FPix), `EndCap` in file names (read and written, not processed further).
    EndCap,
}

impl SubSystem {
    /// `Barrel` or `EndCap`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Barrel => "Barrel",
            Self::EndCap => "EndCap",
        }
    }
}

/// Settings of the per-fill current readout.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CurrentsSettings {
    /// Measurement delay after the start of stable beams (s, default 1200).
    pub measurement_delay_s: i64,
    /// Furthest look-back before the start of stable beams for a channel with no change in the
    /// window (h, default 0: the original's window only).
    pub lookback_h: f64,
    /// Sub-system.
    pub sub_system: SubSystem,
}

impl Default for CurrentsSettings {
    fn default() -> Self {
        Self {
            measurement_delay_s: 1200,
            lookback_h: 0.0,
            sub_system: SubSystem::Barrel,
        }
    }
}

/// One channel's reading at a fill's measurement time.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelReading {
    /// Cable, e.g. `PixelBarrel_BpI_S1_LAY14/channel002`.
    pub cable: String,
    /// Imon (A for LV, µA for HV).
    pub imon: f64,
    /// Vmon (V); NaN for null.
    pub vmon: f64,
    /// Time of the change (UTC µs).
    pub time: Micros,
    /// How far before the window start the reading is (s); 0 inside the window.
    pub looked_back_s: f64,
}

/// The readings of one fill.
#[derive(Debug, Clone, PartialEq)]
pub struct FillReadings {
    /// Fill number.
    pub fill: u32,
    /// Readings ordered by time, then cable.
    pub rows: Vec<ChannelReading>,
}

/// What the currents readout skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CurrentsReport {
    /// Fills processed.
    pub fills: usize,
    /// Channels of the export that are not `Pixel.../channel00x` cables.
    pub not_pixel_channels: usize,
    /// Channels dropped for another sub-system.
    pub other_subsystem_channels: usize,
    /// Channels dropped for a non-Phase-1 layer token (Phase-0 aliases).
    pub phase0_alias_channels: usize,
    /// Readings of channels that map to no readout group or power group (skipped).
    pub unmapped_readings: usize,
    /// Readings taken before the window with the look-back.
    pub looked_back: usize,
    /// Channel-fill pairs without a reading.
    pub missing: usize,
}

/// The cables of the store that the readout uses, after the alias filters.
fn selected_channels(store: &DcsStore, sub: SubSystem, rep: &mut CurrentsReport) -> Vec<u32> {
    let mut out = Vec::new();
    for (id, name) in store.names().iter().enumerate() {
        let pixel = name.contains("Pixel")
            && name
                .split_once('/')
                .is_some_and(|(_, c)| c.starts_with("channel00"));
        if !pixel {
            rep.not_pixel_channels += 1;
            continue;
        }
        if !PHASE1_LAYER_TOKENS.contains(&layer_token(name).as_str()) {
            rep.phase0_alias_channels += 1;
            continue;
        }
        if !name.contains(sub.name()) {
            rep.other_subsystem_channels += 1;
            continue;
        }
        out.push(id as u32);
    }
    out
}

/// The readings of every selected channel for each fill (see the module documentation).
pub fn read_fill_currents(
    store: &DcsStore,
    fills: &[Fill],
    settings: &CurrentsSettings,
) -> (Vec<FillReadings>, CurrentsReport) {
    let mut rep = CurrentsReport::default();
    let channels = selected_channels(store, settings.sub_system, &mut rep);
    let lookback = (settings.lookback_h * US_PER_H as f64) as i64;
    let mut out = Vec::with_capacity(fills.len());
    for f in fills {
        let lo = f.start_stable_beam;
        let hi = f.measurement_time(settings.measurement_delay_s);
        let mut rows = Vec::new();
        for &id in &channels {
            let s = store.series(id);
            let Some(i) = s.at_or_before(hi) else {
                rep.missing += 1;
                continue;
            };
            let t = s.times[i];
            if t < lo && lo - t > lookback {
                rep.missing += 1;
                continue;
            }
            if t < lo {
                rep.looked_back += 1;
            }
            rows.push(ChannelReading {
                cable: store.names()[id as usize].clone(),
                imon: s.values[i],
                vmon: s.values2.get(i).copied().unwrap_or(f64::NAN),
                time: t,
                looked_back_s: ((lo - t).max(0)) as f64 / 1e6,
            });
        }
        rows.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.cable.cmp(&b.cable)));
        out.push(FillReadings { fill: f.fill, rows });
    }
    rep.fills = fills.len();
    (out, rep)
}

/// The `from_database` text of one fill (see the module documentation).
pub fn from_database_text(readings: &FillReadings) -> String {
    let mut s = String::new();
    for r in &readings.rows {
        let v = if r.vmon.is_nan() {
            "None".to_string()
        } else {
            pyfmt::repr(r.vmon)
        };
        s.push_str(&format!(
            "{}   {}   {}   {}\n",
            r.cable,
            pyfmt::repr(r.imon),
            v,
            python_str(r.time)
        ));
    }
    s
}

/// Reads a `from_database` text file (`<cable>   <Imon>   <Vmon>   <date> <time>`, five
/// whitespace-separated tokens; `#` lines skipped). Vmon `None` reads as NaN; the time is the
/// naive UTC wall time.
///
/// # Errors
/// A located parse error for a line without five tokens, a non-numeric Imon or Vmon, or an
/// unparseable time; I/O errors.
pub fn read_from_database(path: &Path, fill: u32) -> Result<FillReadings> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i as u64 + 1;
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.len() != 5 {
            return Err(Error::parse(
                path,
                n,
                "5 tokens `<cable> <Imon> <Vmon> <date> <time>`",
                format!("{} in `{line}`", t.len()),
            ));
        }
        let imon: f64 = t[1]
            .parse()
            .map_err(|_| Error::parse(path, n, "a number for Imon", format!("`{}`", t[1])))?;
        let vmon = if t[2] == "None" {
            f64::NAN
        } else {
            t[2].parse().map_err(|_| {
                Error::parse(path, n, "a number or None for Vmon", format!("`{}`", t[2]))
            })?
        };
        let ts = format!("{} {}", t[3], t[4]);
        let time = crate::time::TimeReader::utc().parse(&ts).ok_or_else(|| {
            Error::parse(
                path,
                n,
                "a time YYYY-MM-DD HH:MM:SS[.ffffff]",
                format!("`{ts}`"),
            )
        })?;
        rows.push(ChannelReading {
            cable: t[0].to_string(),
            imon,
            vmon,
            time,
            looked_back_s: 0.0,
        });
    }
    Ok(FillReadings { fill, rows })
}

/// The processed currents of one fill.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessedCurrents {
    /// Fill number.
    pub fill: u32,
    /// HV leakage current per readout group (µA).
    pub leakage_ua: BTreeMap<String, f64>,
    /// Analog LV current per power group (A).
    pub analog_a: BTreeMap<String, f64>,
    /// Digital LV current per power group (A).
    pub digital_a: BTreeMap<String, f64>,
    /// Time and look-back of each leakage reading: `(time, looked_back_s)`.
    pub leakage_time: BTreeMap<String, (Micros, f64)>,
}

/// Classifies the readings of one fill (see the module documentation); readings that map to
/// nothing are counted in `unmapped`.
pub fn process_readings(readings: &FillReadings, unmapped: &mut usize) -> ProcessedCurrents {
    let mut p = ProcessedCurrents {
        fill: readings.fill,
        ..Default::default()
    };
    for r in &readings.rows {
        if !PHASE1_LAYER_TOKENS.contains(&layer_token(&r.cable).as_str()) {
            continue;
        }
        match classify_barrel_channel(&r.cable) {
            Some(ChannelKind::Digital { power_group }) => {
                p.digital_a.insert(power_group, r.imon);
            }
            Some(ChannelKind::Analog { power_group }) => {
                p.analog_a.insert(power_group, r.imon);
            }
            Some(ChannelKind::Leakage { readout_group }) => {
                p.leakage_time
                    .insert(readout_group.clone(), (r.time, r.looked_back_s));
                p.leakage_ua.insert(readout_group, r.imon);
            }
            None => *unmapped += 1,
        }
    }
    p
}

/// The `<name> <value:%.4f>` lines of a map, in the original's order (last character, then
/// name).
pub fn keyed_text(values: &BTreeMap<String, f64>) -> String {
    let mut items: Vec<(&String, &f64)> = values.iter().collect();
    items.sort_by_key(|(k, _)| text_sort_key(k));
    let mut s = String::new();
    for (k, v) in items {
        s.push_str(&format!("{k} {}\n", pyfmt::fixed(*v, 4)));
    }
    s
}

/// Reads a `<name> <value>` text file (processed currents, readout-group temperatures).
///
/// # Errors
/// A located parse error for a line without two tokens or with a non-numeric value.
pub fn read_keyed_text(path: &Path) -> Result<BTreeMap<String, f64>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.len() != 2 {
            return Err(Error::parse(
                path,
                i as u64 + 1,
                "`<name> <value>`",
                format!("`{line}`"),
            ));
        }
        let v: f64 = t[1]
            .parse()
            .map_err(|_| Error::parse(path, i as u64 + 1, "a number", format!("`{}`", t[1])))?;
        out.insert(t[0].to_string(), v);
    }
    Ok(out)
}

/// The processed currents as two Arrow batches: leakage (`fill`, `readout_group`,
/// `leakage_current_ua`, `reading_time`, `looked_back_s`) and LV (`fill`, `power_group`,
/// `digital_current_a`, `analog_current_a`).
///
/// # Errors
/// Arrow errors (none for consistent input).
pub fn currents_batches(all: &[ProcessedCurrents]) -> Result<(RecordBatch, RecordBatch)> {
    let mut fill = Vec::new();
    let mut rog = Vec::new();
    let mut cur = Vec::new();
    let mut time = Vec::new();
    let mut lb = Vec::new();
    for p in all {
        let mut keys: Vec<&String> = p.leakage_ua.keys().collect();
        keys.sort_by_key(|k| text_sort_key(k));
        for k in keys {
            fill.push(i64::from(p.fill));
            rog.push(k.clone());
            cur.push(p.leakage_ua[k]);
            let (t, l) = p.leakage_time.get(k).copied().unwrap_or((0, 0.0));
            time.push(t);
            lb.push(l);
        }
    }
    let leak = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("fill", DataType::Int64, false),
            Field::new("readout_group", DataType::Utf8, false),
            field_with_unit("leakage_current_ua", DataType::Float64, false, "uA"),
            field_with_unit("reading_time", timestamp_type(), false, "UTC"),
            field_with_unit("looked_back_s", DataType::Float64, false, "s"),
        ])),
        vec![
            Arc::new(Int64Array::from(fill)) as ArrayRef,
            Arc::new(StringArray::from(rog)),
            Arc::new(Float64Array::from(cur)),
            Arc::new(TimestampMicrosecondArray::from(time).with_timezone("UTC")),
            Arc::new(Float64Array::from(lb)),
        ],
    )?;
    let mut fill = Vec::new();
    let mut pg = Vec::new();
    let mut dig = Vec::new();
    let mut ana = Vec::new();
    for p in all {
        let mut keys: Vec<&String> = p.digital_a.keys().chain(p.analog_a.keys()).collect();
        keys.sort_by_key(|k| text_sort_key(k));
        keys.dedup();
        for k in keys {
            fill.push(i64::from(p.fill));
            pg.push(k.clone());
            dig.push(p.digital_a.get(k).copied());
            ana.push(p.analog_a.get(k).copied());
        }
    }
    let lv = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("fill", DataType::Int64, false),
            Field::new("power_group", DataType::Utf8, false),
            field_with_unit("digital_current_a", DataType::Float64, true, "A"),
            field_with_unit("analog_current_a", DataType::Float64, true, "A"),
        ])),
        vec![
            Arc::new(Int64Array::from(fill)) as ArrayRef,
            Arc::new(StringArray::from(pg)),
            Arc::new(Float64Array::from(dig)),
            Arc::new(Float64Array::from(ana)),
        ],
    )?;
    Ok((leak, lv))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dcs::DcsKind;
    use crate::time::US_PER_S;

    #[test]
    fn readout_and_processing() {
        let t0 = 1_659_348_000 * US_PER_S; // 2022-08-01 10:00:00 UTC
        let fill = Fill {
            fill: 8000,
            start_stable_beam: t0,
            end_stable_beam: t0 + 12 * 3600 * US_PER_S,
            bunches_colliding: None,
        };
        let meas = t0 + 1200 * US_PER_S;
        let store = DcsStore::from_rows(
            DcsKind::Caen,
            [
                (
                    "PixelBarrel_BpI_S1_LAY14/channel002",
                    meas - 7 * US_PER_S,
                    392.609,
                    300.0,
                ),
                (
                    "PixelBarrel_BpI_S1_LAY14/channel002",
                    t0 - 100 * US_PER_S,
                    1.0,
                    300.0,
                ),
                (
                    "PixelBarrel_BpI_S1_LAY14/channel000",
                    meas - 7 * US_PER_S,
                    2.5,
                    f64::NAN,
                ),
                (
                    "PixelBarrel_BpI_S1_LAY1/channel002",
                    meas - 7 * US_PER_S,
                    9.0,
                    300.0,
                ),
                (
                    "PixelEndCap_BpI_D1_ROG1/channel002",
                    meas - 7 * US_PER_S,
                    9.0,
                    300.0,
                ),
                (
                    "PixelBarrel_BpI_S2_LAY23/channel003",
                    meas + US_PER_S,
                    5.0,
                    300.0,
                ),
            ],
        );
        let (r, rep) = read_fill_currents(
            &store,
            std::slice::from_ref(&fill),
            &CurrentsSettings::default(),
        );
        assert_eq!(rep.phase0_alias_channels, 1);
        assert_eq!(rep.other_subsystem_channels, 1);
        assert_eq!(rep.missing, 1);
        assert_eq!(
            from_database_text(&r[0]),
            "PixelBarrel_BpI_S1_LAY14/channel000   2.5   None   2022-08-01 10:19:53\n\
             PixelBarrel_BpI_S1_LAY14/channel002   392.609   300.0   2022-08-01 10:19:53\n"
        );
        let mut unmapped = 0;
        let p = process_readings(&r[0], &mut unmapped);
        assert_eq!(p.leakage_ua["BPix_BpI_SEC1_LYR1"], 392.609);
        assert_eq!(
            keyed_text(&p.digital_a),
            "PixelBarrel_BpI_S1_LAY14 2.5000\n"
        );
        // With a look-back the S2 channel is still missing (its change is after the window).
        let (r, rep) = read_fill_currents(
            &store,
            &[fill],
            &CurrentsSettings {
                lookback_h: 1.0,
                ..Default::default()
            },
        );
        assert_eq!(rep.looked_back, 0);
        assert_eq!(r[0].rows.len(), 2);
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("8000_Barrel.txt");
        std::fs::write(&path, from_database_text(&r[0])).unwrap();
        let back = read_from_database(&path, 8000).unwrap();
        assert_eq!(back.rows[1].imon, 392.609);
        assert!(back.rows[0].vmon.is_nan());
        std::fs::write(
            &path,
            "PixelBarrel_BpI_S1_LAY14/channel002   3x   300.0   2022-08-01 10:19:53\n",
        )
        .unwrap();
        let e = read_from_database(&path, 8000).unwrap_err().to_string();
        assert!(e.contains("8000_Barrel.txt:1:") && e.contains("3x"), "{e}");
    }
}
