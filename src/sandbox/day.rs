//! A calendar day in UTC, as Cost Explorer's dates are: `YYYY-MM-DD` in spend rows and time
//! periods, `YYYY-MM-DDT00:00:00Z` in cost allocation tags and backfills. Days are counted from
//! 1970-01-01, so that a range of days is a range of integers; the calendar is the `time`
//! crate's.

use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime};

/// Seconds in a day.
const DAY: i64 = 86_400;

/// The Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(i64);

impl Day {
    /// The day `year-month-day`, if there is one (months of 28 to 31 days, leap years).
    pub fn from_ymd(year: i64, month: u32, day: u32) -> Option<Day> {
        let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
        let date =
            Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?)
                .ok()?;
        Some(Day::of(date))
    }

    fn of(date: Date) -> Day {
        Day(i64::from(date.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY)
    }

    /// The calendar date; days beyond the calendar's years (±9999) are its first or last.
    fn date(self) -> Date {
        i32::try_from(self.0 + UNIX_EPOCH_JULIAN_DAY)
            .ok()
            .and_then(|julian| Date::from_julian_day(julian).ok())
            .unwrap_or(if self.0 < 0 { Date::MIN } else { Date::MAX })
    }

    /// Reads exactly `YYYY-MM-DD` (four-digit year, a day that exists).
    pub fn parse(text: &str) -> Option<Day> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return None;
        }
        let digits = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = text.get(range)?;
            if !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        Day::from_ymd(i64::from(digits(0..4)?), digits(5..7)?, digits(8..10)?)
    }

    /// The day (UTC) of a Unix time.
    pub fn from_unix(seconds: i64) -> Day {
        Day(seconds.div_euclid(DAY))
    }

    /// Midnight (UTC) at the start of the day, as a Unix time.
    pub fn unix(self) -> i64 {
        self.0 * DAY
    }

    pub fn ymd(self) -> (i64, u32, u32) {
        let date = self.date();
        (
            i64::from(date.year()),
            u32::from(u8::from(date.month())),
            u32::from(date.day()),
        )
    }

    pub fn next(self) -> Day {
        Day(self.0 + 1)
    }

    pub fn first_of_month(self) -> Day {
        Day::of(self.date().replace_day(1).unwrap_or(self.date()))
    }

    /// The first day of the month `months` after (or before, when negative) this day's month.
    pub fn add_months(self, months: i64) -> Day {
        let (year, month, _) = self.ymd();
        let index = year * 12 + i64::from(month) - 1 + months;
        let month = u32::try_from(index.rem_euclid(12)).unwrap_or(0) + 1;
        Day::from_ymd(index.div_euclid(12), month, 1).unwrap_or(self)
    }

    /// Midnight of the day, as Cost Explorer writes dates: `2026-11-01T00:00:00Z`.
    pub fn timestamp(self) -> String {
        format!("{self}T00:00:00Z")
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = self.ymd();
        write!(f, "{year:04}-{month:02}-{day:02}")
    }
}

/// A Unix time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn timestamp(seconds: i64) -> String {
    let day = Day::from_unix(seconds);
    let rest = seconds.rem_euclid(DAY);
    format!(
        "{day}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

/// Reads a time as AWS writes and reads them (RFC 3339): `2026-03-01T00:00:00Z` or with an
/// offset (`…+02:00`) and fractions of a second (dropped); `None` for anything else.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    // RFC 3339 lets a space or a `t` stand for the `T`; AWS writes `T`, and so must a request.
    if text.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_invalid_ones_are_refused() {
        for text in [
            "1970-01-01",
            "2024-02-29",
            "2026-11-03",
            "2000-12-31",
            "0001-01-01",
        ] {
            assert_eq!(Day::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(Day::parse("1970-01-02").unwrap().unix(), 86_400);
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-04-31",
            "2026-4-01",
            "26-04-01",
            "2026/04/01",
            "2026-04-01T00:00:00Z",
            "+026-04-01",
            "",
        ] {
            assert!(Day::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn months_are_counted_across_years() {
        let day = Day::parse("2026-11-17").unwrap();
        assert_eq!(day.first_of_month().to_string(), "2026-11-01");
        assert_eq!(day.add_months(2).to_string(), "2027-01-01");
        assert_eq!(day.add_months(-12).to_string(), "2025-11-01");
        assert_eq!(day.add_months(-23).to_string(), "2024-12-01");
        assert_eq!(day.timestamp(), "2026-11-17T00:00:00Z");
    }

    #[test]
    fn timestamps_are_utc_to_the_second() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_772_220_828), "2026-02-27T19:33:48Z");
        assert_eq!(parse_timestamp("2026-02-27T19:33:48Z"), Some(1_772_220_828));
        assert_eq!(
            parse_timestamp("2026-02-27T21:33:48+02:00"),
            Some(1_772_220_828)
        );
        assert_eq!(
            parse_timestamp("2026-02-27T19:33:48.125Z"),
            Some(1_772_220_828)
        );
        for bad in [
            "2026-02-27",
            "2026-02-27T19:33:48",
            "2026-02-27T19:33Z",
            "2026-02-27T24:00:00Z",
            "2026-02-27 19:33:48Z",
            "2026-02-27T19:33:48.Z",
            "2026-02-27T19:33:48+2:00",
            "2026-02-30T00:00:00Z",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
        assert_eq!(Day::from_unix(-1).to_string(), "1969-12-31");
    }
}
