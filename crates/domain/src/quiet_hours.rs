//! Quiet hours: the part of a location's day in which nobody is messaged unprompted (the
//! AI's replies wait, campaigns hold their sends). Kept as local clock times in the
//! location's IANA time zone, so "21:00–08:00" stays right across daylight-saving changes.

use std::fmt;
use std::str::FromStr;

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// A local clock time of day, to the minute (`HH:MM`, 24-hour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime(u16);

/// Why a time of day, a window or a time zone was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuietHoursError {
    #[error("{0:?} is not a time of day as HH:MM (24-hour, e.g. 21:00)")]
    BadTime(String),
    #[error("quiet hours must start and end at different times")]
    Empty,
    #[error("{0:?} is not a time zone of the IANA database (e.g. America/Chicago or UTC)")]
    UnknownZone(String),
}

impl ClockTime {
    /// From minutes after midnight (0–1439), as stored.
    pub fn from_minutes(minutes: u16) -> Option<Self> {
        (minutes < 24 * 60).then_some(Self(minutes))
    }

    pub fn minutes(self) -> u16 {
        self.0
    }

    fn of(time: Time) -> Self {
        // hour() is 0–23 and minute() 0–59, so this is always below 1440.
        Self(time.hour() as u16 * 60 + time.minute() as u16)
    }
}

impl FromStr for ClockTime {
    type Err = QuietHoursError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || QuietHoursError::BadTime(text.to_string());
        let (hours, minutes) = text.trim().split_once(':').ok_or_else(bad)?;
        let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !(1..=2).contains(&hours.len()) || !hours.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if !two_digits(minutes) {
            return Err(bad());
        }
        let (h, m): (u16, u16) = (
            hours.parse().map_err(|_| bad())?,
            minutes.parse().map_err(|_| bad())?,
        );
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(Self(h * 60 + m))
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// A daily window from `start` (inclusive) to `end` (exclusive), which may wrap past
/// midnight: 21:00–08:00 is quiet in the evening and in the early morning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: ClockTime,
    pub end: ClockTime,
}

impl QuietHours {
    pub fn new(start: ClockTime, end: ClockTime) -> Result<Self, QuietHoursError> {
        if start == end {
            return Err(QuietHoursError::Empty);
        }
        Ok(Self { start, end })
    }

    /// Whether the local clock time `at` falls in the window.
    pub fn contains_time(&self, at: ClockTime) -> bool {
        if self.start < self.end {
            self.start <= at && at < self.end
        } else {
            at >= self.start || at < self.end
        }
    }

    /// Whether `instant` (unix milliseconds) is quiet in the time zone `zone`.
    pub fn contains(&self, instant_ms: i64, zone: &Zone) -> bool {
        let Ok(at) = Timestamp::from_millisecond(instant_ms) else {
            return false;
        };
        self.contains_time(ClockTime::of(at.to_zoned(zone.0.clone()).time()))
    }
}

impl QuietHours {
    /// How long until the window ends, when `instant_ms` falls in it (to the minute, at
    /// least one; a daylight-saving change inside the wait may shift the end by an hour,
    /// which only moves the next look).
    pub fn wait_from(&self, instant_ms: i64, zone: &Zone) -> Option<std::time::Duration> {
        let now = zone.clock_at(instant_ms)?;
        if !self.contains_time(now) {
            return None;
        }
        let minutes = (self.end.0 + 24 * 60 - now.0) % (24 * 60);
        Some(std::time::Duration::from_secs(
            u64::from(minutes.max(1)) * 60,
        ))
    }
}

impl fmt::Display for QuietHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}–{}", self.start, self.end)
    }
}

/// A time zone of the IANA database, checked against the copy built into the binary (so
/// the answer doesn't depend on the host's `/usr/share/zoneinfo`).
#[derive(Debug, Clone)]
pub struct Zone(TimeZone);

impl Zone {
    pub fn named(name: &str) -> Result<Self, QuietHoursError> {
        let unknown = || QuietHoursError::UnknownZone(name.to_string());
        if name.is_empty() || name.len() > 64 {
            return Err(unknown());
        }
        TimeZone::get(name).map(Self).map_err(|_| unknown())
    }

    /// UTC, for a location whose zone is unknown.
    pub fn utc() -> Self {
        Self(TimeZone::UTC)
    }

    /// The local clock time at `instant_ms` (unix milliseconds) in this zone.
    pub fn clock_at(&self, instant_ms: i64) -> Option<ClockTime> {
        let at = Timestamp::from_millisecond(instant_ms).ok()?;
        Some(ClockTime::of(at.to_zoned(self.0.clone()).time()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(s: &str) -> ClockTime {
        s.parse().unwrap()
    }

    #[test]
    fn times_parse_strictly() {
        assert_eq!(t("21:00").minutes(), 1260);
        assert_eq!(t("8:05").to_string(), "08:05");
        for bad in [
            "", "24:00", "12:60", "12", "12:5", "ab:cd", "-1:00", "12:00:00", "+1:00",
        ] {
            assert!(bad.parse::<ClockTime>().is_err(), "{bad}");
        }
        assert_eq!(ClockTime::from_minutes(1440), None);
    }

    #[test]
    fn a_window_may_wrap_past_midnight() {
        let night = QuietHours::new(t("21:00"), t("08:00")).unwrap();
        assert!(night.contains_time(t("21:00")));
        assert!(night.contains_time(t("23:59")));
        assert!(night.contains_time(t("00:00")));
        assert!(night.contains_time(t("07:59")));
        assert!(!night.contains_time(t("08:00")));
        assert!(!night.contains_time(t("12:00")));
        let lunch = QuietHours::new(t("12:00"), t("13:00")).unwrap();
        assert!(lunch.contains_time(t("12:30")));
        assert!(!lunch.contains_time(t("13:00")));
        assert!(!lunch.contains_time(t("11:59")));
        assert_eq!(
            QuietHours::new(t("09:00"), t("09:00")),
            Err(QuietHoursError::Empty)
        );
    }

    #[test]
    fn the_window_is_read_in_the_zones_local_time_across_dst() {
        let night = QuietHours::new(t("21:00"), t("08:00")).unwrap();
        let chicago = Zone::named("America/Chicago").unwrap();
        // 2026-01-15 13:30 UTC is 07:30 in Chicago (CST, UTC-6): quiet.
        assert!(night.contains(1_768_483_800_000, &chicago));
        // 2026-07-15 13:30 UTC is 08:30 in Chicago (CDT, UTC-5): not quiet.
        assert!(!night.contains(1_784_122_200_000, &chicago));
        // The same instant in UTC is 13:30: not quiet.
        assert!(!night.contains(1_768_483_800_000, &Zone::utc()));
    }

    #[test]
    fn the_wait_runs_to_the_end_of_the_window() {
        let night = QuietHours::new(t("21:00"), t("08:00")).unwrap();
        // 07:30 in Chicago in January: half an hour left.
        let wait = night.wait_from(1_768_483_800_000, &Zone::named("America/Chicago").unwrap());
        assert_eq!(wait, Some(std::time::Duration::from_secs(30 * 60)));
        // 13:30 UTC: not quiet, no wait.
        assert_eq!(night.wait_from(1_768_483_800_000, &Zone::utc()), None);
    }

    #[test]
    fn only_real_zones_are_accepted() {
        assert!(Zone::named("Europe/Warsaw").is_ok());
        assert!(Zone::named("UTC").is_ok());
        for bad in [
            "",
            "Mars/Olympus",
            "America/Chicago/",
            "../etc/passwd",
            "Not a zone",
        ] {
            assert!(Zone::named(bad).is_err(), "{bad}");
        }
    }
}
