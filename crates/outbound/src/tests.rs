use super::*;

fn response(status: u16, headers: &[(&'static str, &str)], body: &str) -> ApiResponse {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(*k, v.parse().expect("header"));
    }
    ApiResponse {
        status: StatusCode::from_u16(status).expect("status"),
        headers: map,
        body: Bytes::from(body.to_string()),
    }
}

#[test]
fn statuses_are_classified_by_what_to_do_next() {
    assert_eq!(
        classify_status(&response(429, &[("retry-after", "7")], "")),
        Failure::RateLimited {
            detail: "HTTP 429".into(),
            after: Duration::from_secs(7)
        }
    );
    assert_eq!(
        classify_status(&response(429, &[], "slow down")),
        Failure::RateLimited {
            detail: "HTTP 429: slow down".into(),
            after: DEFAULT_RATE_LIMIT_WAIT
        }
    );
    assert_eq!(
        classify_status(&response(503, &[("retry-after", "2")], "")),
        Failure::Retry {
            detail: "HTTP 503".into(),
            after: Some(Duration::from_secs(2))
        }
    );
    assert!(matches!(
        classify_status(&response(500, &[], "")),
        Failure::Retry { after: None, .. }
    ));
    assert!(matches!(
        classify_status(&response(408, &[], "")),
        Failure::Retry { .. }
    ));
    assert!(matches!(
        classify_status(&response(400, &[], "{}")),
        Failure::Permanent { .. }
    ));
    assert!(matches!(
        classify_status(&response(401, &[], "")),
        Failure::Permanent { .. }
    ));
}

#[test]
fn retry_after_reads_seconds_and_dates_and_ignores_garbage() {
    let mut h = HeaderMap::new();
    h.insert("retry-after", "1.5".parse().expect("v"));
    assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
    let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
    h.insert("retry-after", later.parse().expect("v"));
    let wait = retry_after(&h).expect("date");
    assert!(wait > Duration::from_secs(110) && wait <= Duration::from_secs(120));
    let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(60));
    h.insert("retry-after", past.parse().expect("v"));
    assert_eq!(retry_after(&h), Some(Duration::ZERO));
    for bad in ["soon", "-3", "NaN"] {
        h.insert("retry-after", bad.parse().expect("v"));
        assert_eq!(retry_after(&h), None, "{bad}");
    }
}

#[test]
fn long_bodies_are_cut_in_descriptions() {
    let long = "x".repeat(1000);
    assert_eq!(
        describe(&response(502, &[], &long)).len(),
        "HTTP 502: ".len() + 300
    );
}
