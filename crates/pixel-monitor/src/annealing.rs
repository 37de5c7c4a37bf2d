//! Daily mean temperatures of the cooling-loop sensors for the annealing model
//! (`getAnnealingTemperatures.py` of PixelMonitoring).
//!
//! # Corrected daily means (default)
//!
//! For each sensor, the readings (nulls skipped) define a piecewise-constant temperature: a
//! reading holds until the next one. The value of a day is the time-weighted mean of that
//! function over the day (the part of it after the first reading, for the day holding the first
//! reading; a reading before the range start sets the initial state); a day after the last
//! reading keeps its value. Days are UTC calendar days; the first day of the range is not written
//! (as in the original); a day before the first reading has no value and is not written. Each
//! line is `<epoch of noon of the day in ms>\t<mean (°C) as Python's repr>`.
//!
//! # The original's algorithm (`annealing_averaging` switch)
//!
//! The original walks the readings of `[start date 00:00, end date 00:00)` with a state machine
//! that has four defects: the reading that closes a day is consumed without being used; within a
//! day each interval is weighted with the reading at its **end**; the state (previous reading,
//! running sum, averaging flag) carries over from one sensor to the next; and an initial
//! "previous temperature" of 0 enters the first partial day. The days are the calendar days of
//! the naive (UTC) wall time, and the key is the epoch of noon of that wall time read in the local
//! zone (`time.mktime`) with the `local_time` switch (in UTC otherwise). This mode reproduces it
//! step by step, except that where the original would loop forever (a reading dated before the
//! day being averaged) it stops with an error.
//!
//! # Files
//!
//! One file per sensor, `<sensor>.txt`. The original appends to an existing file and skips the
//! dates already in it; here the existing lines are kept and the new ones added the same way, and
//! the file is replaced atomically.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{NaiveDate, NaiveTime, Timelike};
use serde::Serialize;

use crate::dcs::DcsStore;
use crate::error::{Error, Result};
use crate::pyfmt;
use crate::time::{Micros, TimeSettings, US_PER_DAY, US_PER_S, from_naive_utc, to_naive};

/// One line of an annealing file.
#[derive(Debug, Clone, PartialEq)]
pub struct DayLine {
    /// The key as written (epoch ms of noon, as text).
    pub key: String,
    /// The value as written.
    pub value: String,
    /// Whether the original checked the key against the file (it does not in one branch).
    pub checked: bool,
}

/// What the annealing job did per sensor.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AnnealingReport {
    /// Sensors written.
    pub sensors: usize,
    /// Sensors without readings in the export (the original raises `KeyError`).
    pub missing: Vec<String>,
    /// Lines written in total (new lines only).
    pub lines: usize,
}

fn noon(day: NaiveDate) -> Micros {
    from_naive_utc(day.and_time(NaiveTime::from_hms_opt(12, 0, 0).expect("noon")))
}

/// The key of a day: epoch ms of noon, as UTC (`local = false`) or as the local-zone reading
/// of the UTC wall time.
fn day_key(day: NaiveDate, local: bool, time: &TimeSettings) -> Result<String> {
    let t = noon(day);
    let s = if local {
        time.local_epoch_s(t)? as i64
    } else {
        t / US_PER_S
    };
    Ok(format!("{s}000"))
}

/// The corrected daily means of one sensor over the days `start..=end` (the first not written).
///
/// # Errors
/// [`Error::Config`] for an unknown zone.
pub fn daily_means(
    times: &[Micros],
    values: &[f64],
    start: NaiveDate,
    end: NaiveDate,
    local_keys: bool,
    time: &TimeSettings,
) -> Result<Vec<DayLine>> {
    let readings: Vec<(Micros, f64)> = times
        .iter()
        .zip(values)
        .filter(|(_, v)| !v.is_nan())
        .map(|(&t, &v)| (t, v))
        .collect();
    let mut out = Vec::new();
    let mut day = start;
    while day <= end {
        if day > start {
            let a = from_naive_utc(day.and_time(NaiveTime::MIN));
            let b = a + US_PER_DAY;
            // Index of the reading holding at `a`, and the readings inside the day.
            let first_inside = readings.partition_point(|r| r.0 <= a);
            let mut sum = 0.0;
            let mut covered = 0i64;
            let mut cur: Option<(Micros, f64)> =
                first_inside.checked_sub(1).map(|i| (a, readings[i].1));
            for &(t, v) in readings[first_inside..].iter().take_while(|r| r.0 < b) {
                if let Some((t0, v0)) = cur {
                    sum += v0 * (t - t0) as f64;
                    covered += t - t0;
                }
                cur = Some((t, v));
            }
            if let Some((t0, v0)) = cur {
                sum += v0 * (b - t0) as f64;
                covered += b - t0;
            }
            if covered > 0 {
                out.push(DayLine {
                    key: day_key(day, local_keys, time)?,
                    value: pyfmt::repr(sum / covered as f64),
                    checked: true,
                });
            }
        }
        day = day.succ_opt().expect("date in range");
    }
    Ok(out)
}

/// The days of an annealing job and how their keys are made.
#[derive(Debug, Clone, Copy)]
pub struct DayRange<'a> {
    /// First day (not written, as in the original).
    pub start: NaiveDate,
    /// Last day (inclusive).
    pub end: NaiveDate,
    /// Keys as the local-zone epoch of noon (the original's `time.mktime`), else UTC noon.
    pub local_keys: bool,
    /// The zone settings.
    pub time: &'a TimeSettings,
}

/// A Python value of the original's state: an `int` 0, a float, or `None`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum PyVal {
    Int0,
    Float(f64),
    None,
}

impl PyVal {
    fn text(self) -> String {
        match self {
            PyVal::Int0 => "0".into(),
            PyVal::Float(x) => pyfmt::repr(x),
            PyVal::None => "None".into(),
        }
    }

    fn num(self) -> Option<f64> {
        match self {
            PyVal::Int0 => Some(0.0),
            PyVal::Float(x) => Some(x),
            PyVal::None => None,
        }
    }
}

/// The original's state that carries over from one sensor to the next.
#[derive(Debug, Clone)]
pub struct CompatState {
    prevhours: f64,
    prevtemp: PyVal,
    avgtemp: f64,
    restofday: f64,
    averaging: bool,
}

impl Default for CompatState {
    fn default() -> Self {
        Self {
            prevhours: 0.0,
            prevtemp: PyVal::Int0,
            avgtemp: 0.0,
            restofday: 0.0,
            averaging: false,
        }
    }
}

fn hours_of(t: Micros) -> f64 {
    let n = to_naive(t);
    f64::from(n.hour()) + f64::from(n.minute()) / 60.0 + f64::from(n.second()) / 3600.0
}

/// The original's day lines for one sensor (`getAnnealingTemperatures.get_temperatures`),
/// continuing `state` from the previous sensor. `times`/`values` are the sensor's readings in
/// `[start 00:00, end 00:00)` (NaN = null).
///
/// # Errors
/// [`Error::Data`] where the original would loop forever; [`Error::Data`] where it would divide
/// by zero.
pub fn compat_daily_lines(
    state: &mut CompatState,
    times: &[Micros],
    values: &[f64],
    days: &DayRange<'_>,
    existing: &BTreeSet<String>,
) -> Result<Vec<DayLine>> {
    let DayRange {
        start,
        end,
        local_keys,
        time,
    } = *days;
    let n = times.len();
    let mut i = 0usize;
    let mut out: Vec<DayLine> = Vec::new();
    let mut dates_in_file = existing.clone();
    let temp = |k: usize| -> PyVal {
        if values[k].is_nan() {
            PyVal::None
        } else {
            PyVal::Float(values[k])
        }
    };
    let mut guard = 0usize;
    while i < n {
        let mut day_i: i64 = 0;
        let mut date_i = start;
        let mut written: Vec<DayLine> = Vec::new();
        while date_i <= end {
            guard += 1;
            if guard > 10 * (n + 2) * 1000 + 1_000_000 {
                return Err(Error::Data(
                    "annealing: the original's algorithm does not terminate on these readings"
                        .into(),
                ));
            }
            if !state.averaging && i < n {
                let cur = to_naive(times[i]).date();
                if date_i < cur {
                    if day_i > 0 {
                        let key = day_key(date_i, local_keys, time)?;
                        if !dates_in_file.contains(&key) {
                            written.push(DayLine {
                                key,
                                value: state.prevtemp.text(),
                                checked: true,
                            });
                        }
                    }
                    day_i += 1;
                    date_i = start + chrono::Duration::days(day_i);
                    state.avgtemp = 0.0;
                } else {
                    state.averaging = true;
                    state.prevhours = hours_of(times[i]);
                    if let Some(p) = state.prevtemp.num() {
                        state.avgtemp = state.prevhours * p;
                    }
                    state.prevtemp = temp(i);
                    i += 1;
                }
            } else if state.averaging && i < n {
                let cur = to_naive(times[i]).date();
                if date_i < cur {
                    let ip = state.prevhours.trunc();
                    let prevminutes = if ip == 0.0 {
                        0
                    } else {
                        ((state.prevhours % ip) * 60.0) as i64
                    };
                    let prevseconds = if ip == 0.0 {
                        0
                    } else {
                        let m = (state.prevhours % ip) * 60.0;
                        let mi = m.trunc();
                        if mi == 0.0 {
                            0
                        } else {
                            ((m % mi) * 60.0) as i64
                        }
                    };
                    let h = state.prevhours as i64;
                    if (0..24).contains(&h)
                        && (0..60).contains(&prevminutes)
                        && (0..60).contains(&prevseconds)
                    {
                        let secs = 86_399 - (h * 3600 + prevminutes * 60 + prevseconds);
                        state.restofday = secs as f64 / 3600.0;
                    }
                    if let Some(p) = state.prevtemp.num() {
                        state.avgtemp += p * state.restofday;
                        state.prevhours += state.restofday;
                    }
                    i += 1;
                    if state.prevhours == 0.0 {
                        return Err(Error::Data(
                            "annealing: the original's algorithm divides by zero here".into(),
                        ));
                    }
                    state.avgtemp /= state.prevhours;
                    if day_i > 0 {
                        let key = day_key(date_i, local_keys, time)?;
                        if !dates_in_file.contains(&key) {
                            written.push(DayLine {
                                key,
                                value: pyfmt::repr(state.avgtemp),
                                checked: true,
                            });
                        }
                    }
                    state.averaging = false;
                    day_i += 1;
                    date_i = start + chrono::Duration::days(day_i);
                } else if date_i == cur {
                    let h = hours_of(times[i]);
                    let hours = h - state.prevhours;
                    state.prevhours = h;
                    state.prevtemp = temp(i);
                    if let Some(p) = state.prevtemp.num() {
                        state.avgtemp += p * hours;
                    }
                    i += 1;
                } else {
                    return Err(Error::Data(format!(
                        "annealing: a reading of {} precedes the day {date_i} being averaged; the original loops forever here",
                        crate::time::python_str(times[i])
                    )));
                }
            } else {
                if day_i > 0 {
                    written.push(DayLine {
                        key: day_key(date_i, local_keys, time)?,
                        value: state.prevtemp.text(),
                        checked: false,
                    });
                }
                day_i += 1;
                date_i = start + chrono::Duration::days(day_i);
            }
        }
        state.avgtemp = 0.0;
        for l in &written {
            dates_in_file.insert(l.key.clone());
        }
        out.extend(written);
    }
    Ok(out)
}

/// Reads the keys (first token of each line) of an existing annealing file; none if it does not
/// exist.
///
/// # Errors
/// I/O errors other than a missing file.
pub fn existing_keys(path: &Path) -> Result<(String, BTreeSet<String>)> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let keys = text
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .map(String::from)
                .collect();
            Ok((text, keys))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((String::new(), BTreeSet::new())),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The readings of `part` in `[from, to)` (all of them with `None` bounds).
pub fn sensor_readings(
    store: &DcsStore,
    part: &str,
    from: Option<Micros>,
    to: Option<Micros>,
) -> (Vec<Micros>, Vec<f64>) {
    let s = store.series_by_name(part);
    let r = s.range_half_open(from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX));
    (s.times[r.clone()].to_vec(), s.values[r].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::US_PER_H;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn corrected_means() {
        let t0 = from_naive_utc(d(2022, 8, 1).and_time(NaiveTime::MIN));
        // -20 from 06:00 on day 1, -10 from 12:00 on day 2.
        let times = vec![t0 + 6 * US_PER_H, t0 + US_PER_DAY + 12 * US_PER_H];
        let values = vec![-20.0, -10.0];
        let ts = TimeSettings::default();
        let l = daily_means(&times, &values, d(2022, 8, 1), d(2022, 8, 3), false, &ts).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].value, "-15.0");
        assert_eq!(l[1].value, "-10.0");
        assert_eq!(
            l[0].key,
            format!("{}000", (t0 + US_PER_DAY + 12 * US_PER_H) / US_PER_S)
        );
    }

    #[test]
    fn original_defects() {
        let t0 = from_naive_utc(d(2022, 8, 1).and_time(NaiveTime::MIN));
        let ts = TimeSettings::default();
        // Day 1: readings at 06:00 (-20) and 18:00 (-10); day 2: 12:00 (-16); day 3: none.
        let times = vec![
            t0 + 6 * US_PER_H,
            t0 + 18 * US_PER_H,
            t0 + US_PER_DAY + 12 * US_PER_H,
        ];
        let values = vec![-20.0, -10.0, -16.0];
        let mut st = CompatState::default();
        let l = compat_daily_lines(
            &mut st,
            &times,
            &values,
            &DayRange {
                start: d(2022, 8, 1),
                end: d(2022, 8, 3),
                local_keys: false,
                time: &ts,
            },
            &BTreeSet::new(),
        )
        .unwrap();
        // Day 1 (the first day, not written) is closed by the 12:00 reading of day 2, which is
        // consumed unused; days 2 and 3 then come from the no-more-readings branch, which
        // repeats the last reading (-10) without checking the file's dates.
        let vals: Vec<&str> = l.iter().map(|x| x.value.as_str()).collect();
        assert_eq!(vals, vec!["-10.0", "-10.0"]);
        assert!(!l[0].checked && !l[1].checked);
        // The corrected means: day 2 = (-10 for 12 h, -16 for 12 h), day 3 = -16.
        let fixed = daily_means(&times, &values, d(2022, 8, 1), d(2022, 8, 3), false, &ts).unwrap();
        let vals: Vec<&str> = fixed.iter().map(|x| x.value.as_str()).collect();
        assert_eq!(vals, vec!["-13.0", "-16.0"]);
        // The state carries over: the next sensor starts with averaging off and prevtemp -10.
        assert_eq!(st.prevtemp, PyVal::Float(-10.0));
    }
}
