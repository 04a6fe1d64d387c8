//! Wall-clock timestamps in the ISO-8601 form both vendors use (`2023-09-27T16:35:32.287Z`).
//!
//! Hand-rolled (Howard Hinnant's civil-from-days) to avoid a date-time dependency for one format.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `Instant::now() + after`, capped at ten years so a huge configured lifetime cannot overflow.
pub(crate) fn deadline(after: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(after.min(Duration::from_secs(10 * 365 * 86_400)))
        .unwrap_or(now)
}

/// Now, as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub(crate) fn now_iso() -> String {
    iso(SystemTime::now())
}

/// `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC); times before 1970 print as the epoch.
pub(crate) fn iso(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Now, as RFC 2822 (`Thu, 30 Jul 2015 20:12:31 +0000`), the form Twilio's resources use.
pub(crate) fn now_rfc2822() -> String {
    rfc2822(SystemTime::now())
}

/// `t` as RFC 2822 in UTC (`Thu, 30 Jul 2015 20:12:31 +0000`).
pub(crate) fn rfc2822(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let days = secs / 86_400;
    let (year, month, day) = civil_from_days(days);
    let rem = secs % 86_400;
    format!(
        "{}, {day:02} {} {year:04} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        MONTHS[(month as usize).saturating_sub(1).min(11)],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_695_832_532_287);
        assert_eq!(iso(t), "2023-09-27T16:35:32.287Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(iso(leap), "2000-02-29T00:00:00.000Z");
        // Twilio's own example (`date_created` of the create-message fixture).
        let twilio = UNIX_EPOCH + Duration::from_secs(1_438_287_151);
        assert_eq!(rfc2822(twilio), "Thu, 30 Jul 2015 20:12:31 +0000");
        assert_eq!(rfc2822(leap), "Tue, 29 Feb 2000 00:00:00 +0000");
    }
}
