use std::time::Duration;

use http::HeaderValue;
use outbound::Failure;

use super::response;
use crate::api::{classify, RateLimit, DAILY_LIMIT_WAIT};
use crate::Error;

fn with_headers(status: u16, headers: &[(&'static str, &str)]) -> outbound::ApiResponse {
    let mut response = response(
        status,
        r#"{"statusCode":429,"message":"Too many requests"}"#,
    );
    for (name, value) in headers {
        response
            .headers
            .insert(*name, HeaderValue::from_str(value).unwrap());
    }
    response
}

#[test]
fn unauthorized_is_its_own_error() {
    let body = r#"{"statusCode":401,"message":"Invalid token: access token is invalid","error":"Unauthorized"}"#;
    let err = classify(&response(401, body));
    assert!(
        matches!(&err, Error::Unauthorized { detail } if detail.contains("access token is invalid"))
    );
    assert!(matches!(err.into_failure(), Failure::Permanent { .. }));
}

#[test]
fn statuses_map_to_failures() {
    assert!(matches!(
        classify(&response(500, "")),
        Error::Call(Failure::Retry { .. })
    ));
    assert!(matches!(
        classify(&response(503, "")),
        Error::Call(Failure::Retry { .. })
    ));
    assert!(matches!(
        classify(&response(408, "")),
        Error::Call(Failure::Retry { .. })
    ));
    for status in [400, 403, 404, 422] {
        assert!(
            matches!(
                classify(&response(status, "{}")),
                Error::Call(Failure::Permanent { .. })
            ),
            "{status}"
        );
    }
}

#[test]
fn rate_limited_waits_as_the_headers_say() {
    let wait = |headers: &[(&'static str, &str)]| match classify(&with_headers(429, headers)) {
        Error::Call(Failure::RateLimited { after, detail }) => {
            assert!(detail.contains("429"));
            after
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(wait(&[("retry-after", "3")]), Duration::from_secs(3));
    assert_eq!(
        wait(&[
            ("x-ratelimit-interval-milliseconds", "10000"),
            ("x-ratelimit-remaining", "0")
        ]),
        Duration::from_secs(10)
    );
    assert_eq!(
        wait(&[("x-ratelimit-daily-remaining", "0")]),
        DAILY_LIMIT_WAIT
    );
    assert_eq!(wait(&[]), outbound::DEFAULT_RATE_LIMIT_WAIT);
    assert_eq!(
        wait(&[("x-ratelimit-interval-milliseconds", "0")]),
        outbound::DEFAULT_RATE_LIMIT_WAIT
    );
}

#[test]
fn reads_rate_limit_headers() {
    let response = with_headers(
        200,
        &[
            ("X-RateLimit-Limit-Daily", "200000"),
            ("X-RateLimit-Daily-Remaining", "199990"),
            ("X-RateLimit-Interval-Milliseconds", "10000"),
            ("X-RateLimit-Max", "100"),
            ("X-RateLimit-Remaining", "97"),
        ],
    );
    assert_eq!(
        RateLimit::from_headers(&response.headers),
        Some(RateLimit {
            remaining: Some(97),
            max: Some(100),
            interval: Some(Duration::from_secs(10)),
            daily_limit: Some(200_000),
            daily_remaining: Some(199_990),
        })
    );
    let partial = with_headers(
        200,
        &[
            ("x-ratelimit-remaining", " 5 "),
            ("x-ratelimit-max", "lots"),
        ],
    );
    assert_eq!(
        RateLimit::from_headers(&partial.headers),
        Some(RateLimit {
            remaining: Some(5),
            ..RateLimit::default()
        })
    );
    assert_eq!(
        RateLimit::from_headers(&super::response(200, "").headers),
        None
    );
}
