//! Time inside the crate: UTC microseconds since the Unix epoch, and the readings of the
//! timestamp texts the CMS tools export.
//!
//! * Every instant is an [`Micros`] (`i64`, UTC microseconds since 1970-01-01T00:00:00Z). The
//!   DCS exports carry sub-second `change_date`s (Oracle `TIMESTAMP`), so seconds are not enough.
//! * A timestamp text that carries its zone (`2022-08-01T10:00:00Z`, `...+02:00`) or is an epoch
//!   number is read as such. A naive text (the brilcalc `MM/DD/YY HH:MM:SS` dates, DCS
//!   `change_date`, the `fills.csv` times) is read in the configured zone
//!   ([`TimeSettings::naive_time_zone`], default UTC: the OMS and the conditions database store
//!   UTC wall time).
//! * The original PixelMonitoring scripts turned naive UTC wall times into epoch seconds with the
//!   host's local zone (`datetime.timestamp()` and `time.mktime` on lxplus, i.e.
//!   Europe/Zurich), which makes the radiation-profile timestamps 3600 s (winter) or 7200 s
//!   (summer) too small. [`TimeSettings::local_epoch_s`] reproduces that reading for the
//!   `local_time` compatibility switch.
//!
//! Accepted naive layouts (fractional seconds optional, 1 to 9 digits):
//! `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DDTHH:MM:SS`, `YYYY/MM/DD HH:MM:SS`, brilcalc's
//! `MM/DD/YY HH:MM:SS`, and the Python/Oracle mask of the original `DD-Mon-YYYY HH.MM.SS`.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// An instant: UTC microseconds since the Unix epoch.
pub type Micros = i64;

/// Microseconds per second.
pub const US_PER_S: i64 = 1_000_000;
/// Microseconds per hour.
pub const US_PER_H: i64 = 3_600 * US_PER_S;
/// Microseconds per day.
pub const US_PER_DAY: i64 = 86_400 * US_PER_S;

/// The zone settings of every reader and of the compatibility timestamps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeSettings {
    /// IANA zone in which naive timestamp texts are read (default `UTC`).
    pub naive_time_zone: String,
    /// IANA zone of the original's local-time epochs, used only with the `local_time`
    /// compatibility switch (default `Europe/Zurich`, the zone of lxplus).
    pub local_zone: String,
}

impl Default for TimeSettings {
    fn default() -> Self {
        Self {
            naive_time_zone: "UTC".into(),
            local_zone: "Europe/Zurich".into(),
        }
    }
}

/// A parsed zone name.
fn zone(name: &str) -> Result<Tz> {
    name.parse::<Tz>().map_err(|_| {
        Error::Config(format!(
            "unknown time zone `{name}` (expected an IANA name such as UTC or Europe/Zurich)"
        ))
    })
}

impl TimeSettings {
    /// Checks both zone names.
    ///
    /// # Errors
    /// [`Error::Config`] for a zone name that is not in the IANA database.
    pub fn validate(&self) -> Result<()> {
        zone(&self.naive_time_zone)?;
        zone(&self.local_zone)?;
        Ok(())
    }

    /// A reader of timestamp texts in these settings.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown zone name.
    pub fn reader(&self) -> Result<TimeReader> {
        Ok(TimeReader {
            naive: zone(&self.naive_time_zone)?,
        })
    }

    /// The epoch seconds that Python's `datetime.timestamp()` (or `time.mktime`) gives for the
    /// naive **UTC wall time** of `t` on a host in [`local_zone`](Self::local_zone): the wall
    /// time is taken as local time. This is how the original computed profile timestamps and
    /// annealing-day keys. An ambiguous wall time (the repeated hour in autumn) takes the first
    /// (summer-time) reading, a wall time in the spring gap the offset before the gap, as Python
    /// does with `fold = 0`.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown zone name.
    pub fn local_epoch_s(&self, t: Micros) -> Result<f64> {
        let tz = zone(&self.local_zone)?;
        Ok(wall_time_as_zone(t, tz) as f64 / US_PER_S as f64)
    }
}

/// Epoch microseconds of the UTC wall time of `t` read as a wall time in `tz`.
pub fn wall_time_as_zone(t: Micros, tz: Tz) -> Micros {
    let naive = to_naive(t);
    let offset_us = match tz.from_local_datetime(&naive) {
        LocalResult::Single(d) | LocalResult::Ambiguous(d, _) => {
            i64::from(d.offset().fix().local_minus_utc()) * US_PER_S
        }
        LocalResult::None => {
            // In the spring gap: the offset in force just before it.
            let before = tz.offset_from_utc_datetime(&(naive - chrono::Duration::hours(3)));
            i64::from(before.fix().local_minus_utc()) * US_PER_S
        }
    };
    t - offset_us
}

use chrono::Offset as _;

/// Reads timestamp texts: zone-carrying texts as such, naive texts in one zone.
#[derive(Debug, Clone, Copy)]
pub struct TimeReader {
    naive: Tz,
}

impl Default for TimeReader {
    fn default() -> Self {
        Self { naive: Tz::UTC }
    }
}

impl TimeReader {
    /// A reader of naive texts in UTC.
    pub fn utc() -> Self {
        Self::default()
    }

    /// The instant of `text`, or `None` if it is not a timestamp in one of the accepted layouts
    /// (see the module documentation) or a naive wall time that does not exist in the zone.
    /// Surrounding spaces and quotes are ignored. An ambiguous naive wall time takes the earlier
    /// instant.
    pub fn parse(&self, text: &str) -> Option<Micros> {
        let text = text.trim().trim_matches('"').trim();
        if text.is_empty() {
            return None;
        }
        if let Ok(d) = DateTime::parse_from_rfc3339(text) {
            return Some(d.timestamp_micros());
        }
        // Zone-carrying with a space instead of `T`, or an offset without colon.
        for fmt in [
            "%Y-%m-%d %H:%M:%S%.f%:z",
            "%Y-%m-%d %H:%M:%S%.f%z",
            "%Y-%m-%dT%H:%M:%S%.f%z",
        ] {
            if let Ok(d) = DateTime::parse_from_str(text, fmt) {
                return Some(d.timestamp_micros());
            }
        }
        if let Some(stripped) = text.strip_suffix('Z').or_else(|| text.strip_suffix(" UTC")) {
            return parse_naive(stripped).map(|n| n.and_utc().timestamp_micros());
        }
        let naive = parse_naive(text)?;
        self.from_naive(naive)
    }

    /// The instant of the naive wall time `naive` in the reader's zone (`None` in a spring gap;
    /// the earlier instant if ambiguous).
    pub fn from_naive(&self, naive: NaiveDateTime) -> Option<Micros> {
        match self.naive.from_local_datetime(&naive) {
            LocalResult::Single(d) | LocalResult::Ambiguous(d, _) => Some(d.timestamp_micros()),
            LocalResult::None => None,
        }
    }
}

/// A naive date-time in one of the accepted layouts, or `None`.
pub fn parse_naive(text: &str) -> Option<NaiveDateTime> {
    const FORMATS: [&str; 6] = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%m/%d/%y %H:%M:%S%.f",
        "%Y/%m/%d %H:%M:%S%.f",
        "%d-%b-%Y %H.%M.%S%.f",
        "%d-%b-%y %H.%M.%S%.f",
    ];
    for fmt in FORMATS {
        if let Ok(n) = NaiveDateTime::parse_from_str(text, fmt) {
            return Some(n);
        }
    }
    // A bare date: midnight.
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// The naive UTC wall time of `t`.
///
/// # Panics
/// Never for instants between the years -262 143 and 262 142 (chrono's range); outside it the
/// epoch is clamped.
pub fn to_naive(t: Micros) -> NaiveDateTime {
    DateTime::<Utc>::from_timestamp_micros(t)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
        .naive_utc()
}

/// The instant of a naive UTC wall time.
pub fn from_naive_utc(n: NaiveDateTime) -> Micros {
    n.and_utc().timestamp_micros()
}

/// Python's `str(datetime)` of the naive UTC wall time of `t`: `YYYY-MM-DD HH:MM:SS`, followed by
/// `.ffffff` only when the microseconds are not zero.
pub fn python_str(t: Micros) -> String {
    let n = to_naive(t);
    let us = n.nanosecond() / 1000;
    if us == 0 {
        n.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        format!("{}.{us:06}", n.format("%Y-%m-%d %H:%M:%S"))
    }
}

/// The `fills.csv` layout of the original, `YYYY-MM-DD HH:MM:SS.ffffff` (always six digits;
/// strftime's `%f`), of the naive UTC wall time of `t`.
pub fn fills_csv_str(t: Micros) -> String {
    let n = to_naive(t);
    format!(
        "{}.{:06}",
        n.format("%Y-%m-%d %H:%M:%S"),
        n.nanosecond() / 1000
    )
}

/// ISO 8601 in UTC with a `Z`, seconds precision plus microseconds when not zero.
pub fn iso_utc(t: Micros) -> String {
    let n = to_naive(t);
    let us = n.nanosecond() / 1000;
    if us == 0 {
        format!("{}Z", n.format("%Y-%m-%dT%H:%M:%S"))
    } else {
        format!("{}.{us:06}Z", n.format("%Y-%m-%dT%H:%M:%S"))
    }
}

/// Whole seconds of `t` rounded toward negative infinity.
pub fn floor_s(t: Micros) -> i64 {
    t.div_euclid(US_PER_S)
}

/// `t` in seconds as a float (exact for instants within about 285 years of 1970 to the
/// microsecond).
pub fn as_seconds_f64(t: Micros) -> f64 {
    t as f64 / US_PER_S as f64
}

/// Seconds (float) to microseconds, rounded to the nearest microsecond.
pub fn from_seconds_f64(s: f64) -> Micros {
    (s * US_PER_S as f64).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Micros {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .unwrap()
            .timestamp_micros()
    }

    #[test]
    fn layouts() {
        let r = TimeReader::utc();
        let t = utc(2022, 8, 1, 10, 0, 23);
        for text in [
            "2022-08-01 10:00:23",
            "2022-08-01T10:00:23Z",
            "2022-08-01T12:00:23+02:00",
            "08/01/22 10:00:23",
            "01-Aug-2022 10.00.23.000000",
            " \"2022-08-01 10:00:23.000000\" ",
        ] {
            assert_eq!(r.parse(text), Some(t), "{text}");
        }
        assert_eq!(r.parse("2022-08-01 10:00:23.5"), Some(t + 500_000));
        for bad in [
            "",
            "yesterday",
            "2022-13-01 00:00:00",
            "2022-08-01 25:00:00",
        ] {
            assert_eq!(r.parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn naive_zone() {
        let s = TimeSettings {
            naive_time_zone: "Europe/Zurich".into(),
            ..TimeSettings::default()
        };
        let r = s.reader().unwrap();
        // Summer: UTC+2.
        assert_eq!(
            r.parse("2022-08-01 12:00:00"),
            Some(utc(2022, 8, 1, 10, 0, 0))
        );
        // Zone-carrying text ignores the naive zone.
        assert_eq!(
            r.parse("2022-08-01T12:00:00Z"),
            Some(utc(2022, 8, 1, 12, 0, 0))
        );
        assert!(
            TimeSettings {
                naive_time_zone: "Mars/Olympus".into(),
                ..TimeSettings::default()
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn local_epoch_like_python() {
        let s = TimeSettings::default();
        // 2022-08-01 10:00:00 UTC wall time read as Zurich summer time: 7200 s earlier.
        let t = utc(2022, 8, 1, 10, 0, 0);
        assert_eq!(s.local_epoch_s(t).unwrap(), (t / US_PER_S - 7200) as f64);
        // Winter: 3600 s.
        let t = utc(2022, 12, 1, 10, 0, 0);
        assert_eq!(s.local_epoch_s(t).unwrap(), (t / US_PER_S - 3600) as f64);
    }

    #[test]
    fn python_strings() {
        let t = utc(2022, 8, 1, 10, 19, 53);
        assert_eq!(python_str(t), "2022-08-01 10:19:53");
        assert_eq!(python_str(t + 250_000), "2022-08-01 10:19:53.250000");
        assert_eq!(fills_csv_str(t), "2022-08-01 10:19:53.000000");
        assert_eq!(iso_utc(t), "2022-08-01T10:19:53Z");
    }
}
