#![allow(clippy::unwrap_used)]

use std::time::Duration;

use http::{HeaderMap, HeaderValue, StatusCode};

use super::*;

fn answer(status: u16, headers: &[(&'static str, &str)], body: &str) -> ApiResponse {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    ApiResponse {
        status: StatusCode::from_u16(status).unwrap(),
        headers: map,
        body: body.as_bytes().to_vec().into(),
    }
}

#[test]
fn the_request_matches_the_reference() {
    let request = meter_event_request(
        "https://api.stripe.com/",
        "sk_test_123",
        "ai_search_api",
        "cus_NciAYcXfLnqBoz",
        25,
        "identifier_123",
        1680210639,
    );
    assert_eq!(request.method, http::Method::POST);
    assert_eq!(
        request.url,
        "https://api.stripe.com/v1/billing/meter_events"
    );
    assert_eq!(request.headers["authorization"], "Bearer sk_test_123");
    assert_eq!(request.headers["idempotency-key"], "identifier_123");
    assert_eq!(
        request.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&request.body).unwrap();
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("event_name", "ai_search_api"),
            ("payload[stripe_customer_id]", "cus_NciAYcXfLnqBoz"),
            ("payload[value]", "25"),
            ("identifier", "identifier_123"),
            ("timestamp", "1680210639"),
        ]
    );
}

#[test]
fn the_reference_answer_parses() {
    let parsed = parse_meter_event(&answer(
        200,
        &[],
        include_str!("fixtures/stripe-meter-event-response.json"),
    ))
    .unwrap();
    assert_eq!(
        parsed,
        MeterEvent {
            identifier: "identifier_123".into(),
            event_name: "ai_search_api".into(),
            customer: "cus_NciAYcXfLnqBoz".into(),
            value: 25,
            timestamp: 1680210639,
            created: 1704824589,
            livemode: true,
        }
    );
}

#[test]
fn garbled_answers_are_retried() {
    for body in [
        "",
        "{}",
        r#"{"object":"customer"}"#,
        r#"{"object":"billing.meter_event"}"#,
    ] {
        assert!(
            matches!(
                parse_meter_event(&answer(200, &[], body)),
                Err(Failure::Retry { .. })
            ),
            "{body}"
        );
    }
}

#[test]
fn errors_are_classified_like_the_sdk_retries() {
    let lock = r#"{"error":{"code":"lock_timeout","type":"invalid_request_error"}}"#;
    assert!(matches!(
        parse_meter_event(&answer(409, &[], lock)),
        Err(Failure::Retry { .. })
    ));
    assert!(matches!(
        parse_meter_event(&answer(503, &[], "")),
        Err(Failure::Retry { .. })
    ));
    match parse_meter_event(&answer(429, &[("retry-after", "3")], "")) {
        Err(Failure::RateLimited { after, .. }) => assert_eq!(after, Duration::from_secs(3)),
        other => panic!("{other:?}"),
    }
    let missing = r#"{"error":{"code":"parameter_missing","param":"event_name","type":"invalid_request_error"}}"#;
    assert!(matches!(
        parse_meter_event(&answer(400, &[], missing)),
        Err(Failure::Permanent { .. })
    ));
    assert!(matches!(
        parse_meter_event(&answer(401, &[], "")),
        Err(Failure::Permanent { .. })
    ));
    assert!(matches!(
        parse_meter_event(&answer(400, &[("stripe-should-retry", "true")], "")),
        Err(Failure::Retry { .. })
    ));
    assert!(matches!(
        parse_meter_event(&answer(500, &[("stripe-should-retry", "false")], "")),
        Err(Failure::Permanent { .. })
    ));
}
