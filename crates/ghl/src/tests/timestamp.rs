use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{check_freshness, format_rfc3339, parse_rfc3339, Error};

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

#[test]
fn reads_utc_fractions_and_offsets() {
    // 2025-01-28T14:35:00Z, the example in GHL's webhook authentication doc.
    assert_eq!(
        parse_rfc3339("2025-01-28T14:35:00Z"),
        Some(at(1_738_074_900))
    );
    assert_eq!(
        parse_rfc3339("2025-01-28T14:35:00.250Z"),
        Some(at(1_738_074_900) + Duration::from_millis(250))
    );
    assert_eq!(
        parse_rfc3339("2025-01-28T20:05:00+05:30"),
        Some(at(1_738_074_900))
    );
    assert_eq!(
        parse_rfc3339("2025-01-28T09:35:00-05:00"),
        Some(at(1_738_074_900))
    );
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(UNIX_EPOCH));
    assert_eq!(
        parse_rfc3339("1969-12-31T23:59:59Z"),
        UNIX_EPOCH.checked_sub(Duration::from_secs(1))
    );
    assert_eq!(
        parse_rfc3339("2024-02-29T00:00:00Z"),
        Some(at(1_709_164_800))
    );
    assert_eq!(
        parse_rfc3339("2016-12-31T23:59:60Z"),
        parse_rfc3339("2016-12-31T23:59:59Z")
    );
}

#[test]
fn refuses_anything_else() {
    for bad in [
        "",
        "2025-01-28",
        "2025-01-28T14:35:00",
        "2025-01-28 14:35:00Z",
        "2025-13-01T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "2025-04-31T00:00:00Z",
        "2025-01-28T24:00:00Z",
        "2025-01-28T14:60:00Z",
        "2025-01-28T14:35:00.Z",
        "2025-01-28T14:35:00+0530",
        "2025-01-28T14:35:00+24:00",
        "2025-01-28T14:35:00Zjunk",
        "2025-01-28T14:35:0aZ",
        "Tue, 28 Jan 2025 14:35:00 GMT",
        "２０２５-01-28T14:35:00Z",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
    }
}

#[test]
fn formats_what_it_reads() {
    let time = at(1_738_074_900) + Duration::from_millis(7);
    assert_eq!(format_rfc3339(time), "2025-01-28T14:35:00.007Z");
    assert_eq!(parse_rfc3339(&format_rfc3339(time)), Some(time));
    assert_eq!(format_rfc3339(at(951_782_400)), "2000-02-29T00:00:00.000Z");
}

#[test]
fn freshness_window_is_symmetric() {
    let now = at(1_738_074_900);
    let window = Duration::from_secs(300);
    assert!(check_freshness("2025-01-28T14:35:00Z", now, window).is_ok());
    assert!(check_freshness("2025-01-28T14:30:00Z", now, window).is_ok());
    assert!(check_freshness("2025-01-28T14:40:00Z", now, window).is_ok());
    let stale = check_freshness("2025-01-28T14:29:59Z", now, window).unwrap_err();
    assert!(matches!(stale, Error::Stale { skew, .. } if skew == Duration::from_secs(301)));
    assert!(matches!(
        check_freshness("2025-01-28T14:40:01Z", now, window),
        Err(Error::Stale { .. })
    ));
}

#[test]
fn freshness_reads_epochs_and_refuses_garbage() {
    let now = at(1_738_074_900);
    let window = Duration::from_secs(300);
    assert!(check_freshness("1738074900000", now, window).is_ok());
    assert!(check_freshness("1738074900", now, window).is_ok());
    assert!(matches!(
        check_freshness("yesterday", now, window),
        Err(Error::BadTimestamp { .. })
    ));
    assert!(matches!(
        check_freshness("99999999999999999999", now, window),
        Err(Error::BadTimestamp { .. })
    ));
}
