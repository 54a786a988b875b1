//! A calendar day in UTC, as Cost Explorer's dates are: `YYYY-MM-DD` in spend rows and time
//! periods, `YYYY-MM-DDT00:00:00Z` in cost allocation tags and backfills. Days are counted from
//! 1970-01-01, so that a range of days is a range of integers.

use std::fmt;

/// Seconds in a day.
const DAY: i64 = 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(i64);

impl Day {
    /// The day `year-month-day`, if there is one (months of 28 to 31 days, leap years).
    pub fn from_ymd(year: i64, month: u32, day: u32) -> Option<Day> {
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        Some(Day(days_from_civil(year, month, day)))
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
        civil_from_days(self.0)
    }

    pub fn next(self) -> Day {
        Day(self.0 + 1)
    }

    pub fn first_of_month(self) -> Day {
        let (year, month, _) = self.ymd();
        Day(days_from_civil(year, month, 1))
    }

    /// The first day of the month `months` after (or before, when negative) this day's month.
    pub fn add_months(self, months: i64) -> Day {
        let (year, month, _) = self.ymd();
        let index = year * 12 + i64::from(month) - 1 + months;
        let month = u32::try_from(index.rem_euclid(12)).unwrap_or(0) + 1;
        Day(days_from_civil(index.div_euclid(12), month, 1))
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

/// Reads a time as AWS writes and reads them, `2026-03-01T00:00:00Z` or with an offset
/// (`…+02:00`) and fractions of a second (dropped); `None` for anything else.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let (date, rest) = text.split_once('T')?;
    let day = Day::parse(date)?;
    let number = |part: &str| -> Option<i64> {
        (part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse().ok())
            .flatten()
    };
    let time = rest.get(..8)?;
    let mut fields = time.split(':');
    let (hour, minute, second) = (
        number(fields.next()?)?,
        number(fields.next()?)?,
        number(fields.next()?)?,
    );
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut zone = &rest[8..];
    if let Some(fraction) = zone.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        zone = &fraction[digits..];
    }
    let offset = match zone {
        "Z" => 0,
        _ => {
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (hours, minutes) = zone.get(1..)?.split_once(':')?;
            let (hours, minutes) = (number(hours)?, number(minutes)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            sign * (hours * 3_600 + minutes * 60)
        }
    };
    Some(day.unix() + hour * 3_600 + minute * 60 + second - offset)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (month, day) = (i64::from(month), i64::from(day));
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of `days_from_civil`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=12, 1..=31).
    (year, month as u32, day as u32)
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
