//! The wall-clock time of the beam txt files (`YYYY-MM-DD HH:MM:SS`, no time zone), as seconds
//! since 1970-01-01 00:00:00 of the same clock, with chrono doing the calendar.

use chrono::{DateTime, NaiveDate};

/// The number of `b`, all ASCII digits.
fn number(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Parses `YYYY-MM-DD` and `HH:MM:SS` (exactly these widths) into seconds since 1970-01-01
/// 00:00:00 (no time zone); `None` for anything else, including dates that do not exist
/// (2023-02-29) and times past 23:59:59.
pub fn parse_datetime(date: &[u8], time: &[u8]) -> Option<i64> {
    if date.len() != 10 || date[4] != b'-' || date[7] != b'-' {
        return None;
    }
    if time.len() != 8 || time[2] != b':' || time[5] != b':' {
        return None;
    }
    let day = NaiveDate::from_ymd_opt(
        i32::try_from(number(&date[..4])?).ok()?,
        number(&date[5..7])?,
        number(&date[8..])?,
    )?;
    let t = day.and_hms_opt(
        number(&time[..2])?,
        number(&time[3..5])?,
        number(&time[6..])?,
    )?;
    Some(t.and_utc().timestamp())
}

/// Formats seconds since 1970-01-01 00:00:00 as `YYYY-MM-DD HH:MM:SS` (the text the original
/// stores in the SQLite `datetime` column); seconds outside chrono's range (beyond +-262 000
/// years) give an empty string.
pub fn format_datetime(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        for s in [0i64, 1_680_048_000, 951_782_400 + 86_399, -86_400] {
            let f = format_datetime(s);
            let (d, t) = f.split_at(10);
            assert_eq!(
                parse_datetime(d.as_bytes(), &t.as_bytes()[1..]),
                Some(s),
                "{f}"
            );
        }
        assert_eq!(format_datetime(1_680_048_000), "2023-03-29 00:00:00");
        assert!(parse_datetime(b"2023-02-29", b"00:00:00").is_none());
        assert!(parse_datetime(b"2024-02-29", b"00:00:00").is_some());
        assert!(parse_datetime(b"2024-02-2x", b"00:00:00").is_none());
        assert!(parse_datetime(b"2024-02-28", b"24:00:00").is_none());
        assert!(parse_datetime(b"2024-02-28", b"+1:00:00").is_none());
    }
}
