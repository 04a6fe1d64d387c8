//! Usage reported as a Billing Meter event: `POST {base}/v1/billing/meter_events`,
//! form-encoded (the reference's §5, `stripe-meter-event-request.txt`).
//!
//! The caller derives `identifier` from its own usage-record id: Stripe keeps identifiers
//! unique for at least 24 h, so a retried report is counted once. The same value goes in
//! `Idempotency-Key`, so a retry also gets the first answer back instead of an error.

use outbound::{ApiRequest, ApiResponse, Failure};
use serde_json::Value;

/// A meter event as Stripe recorded it (`object: "billing.meter_event"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterEvent {
    pub identifier: String,
    pub event_name: String,
    /// `payload.stripe_customer_id`.
    pub customer: String,
    /// `payload.value`, which Stripe echoes as a string.
    pub value: u64,
    pub timestamp: i64,
    pub created: i64,
    pub livemode: bool,
}

/// The request reporting `value` units of `event_name` for `customer` at `timestamp`.
pub fn meter_event_request(
    api_base: &str,
    api_key: &str,
    event_name: &str,
    customer: &str,
    value: u64,
    identifier: &str,
    timestamp: i64,
) -> ApiRequest {
    let value = value.to_string();
    let timestamp = timestamp.to_string();
    let fields = [
        ("event_name", event_name),
        ("payload[stripe_customer_id]", customer),
        ("payload[value]", value.as_str()),
        ("identifier", identifier),
        ("timestamp", timestamp.as_str()),
    ];
    // Encoding string pairs cannot fail.
    let body = serde_urlencoded::to_string(fields).unwrap_or_default();
    let url = format!("{}/v1/billing/meter_events", api_base.trim_end_matches('/'));
    ApiRequest::new(http::Method::POST, url)
        .header("authorization", format!("Bearer {api_key}"))
        .header("idempotency-key", identifier)
        .form(body)
}

/// What a Stripe error answer means, by the SDK's retry rules: `Stripe-Should-Retry`
/// decides when present; 409 (`lock_timeout`, a concurrent use of the idempotency key) and
/// 5xx are retried; 429 waits; other 4xx will never succeed as sent.
pub fn classify(response: &ApiResponse) -> Failure {
    let detail = outbound::describe(response);
    let should_retry = response
        .headers
        .get("stripe-should-retry")
        .and_then(|v| v.to_str().ok());
    match (response.status.as_u16(), should_retry) {
        (_, Some("false")) => Failure::Permanent { detail },
        (429, _) => Failure::RateLimited {
            detail,
            after: outbound::retry_after(&response.headers)
                .unwrap_or(outbound::DEFAULT_RATE_LIMIT_WAIT),
        },
        (409 | 500..=599, _) | (_, Some("true")) => Failure::Retry {
            detail,
            after: outbound::retry_after(&response.headers),
        },
        _ => Failure::Permanent { detail },
    }
}

fn malformed(why: &str) -> Failure {
    // The identifier makes a second report harmless, so a garbled answer is retried.
    Failure::Retry {
        detail: format!("the meter event answer is malformed: {why}"),
        after: None,
    }
}

/// Reads the answer to [`meter_event_request`].
pub fn parse_meter_event(response: &ApiResponse) -> Result<MeterEvent, Failure> {
    if !response.status.is_success() {
        return Err(classify(response));
    }
    let body: Value = serde_json::from_slice(&response.body).map_err(|_| malformed("not JSON"))?;
    if body["object"].as_str() != Some("billing.meter_event") {
        return Err(malformed("not a billing.meter_event"));
    }
    let text = |value: &Value, field: &str| {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| malformed(&format!("no {field}")))
    };
    let number = |value: &Value, field: &str| {
        value
            .as_i64()
            .ok_or_else(|| malformed(&format!("no {field}")))
    };
    let value = match &body["payload"]["value"] {
        Value::String(v) => v.parse::<u64>().ok(),
        v => v.as_u64(),
    }
    .ok_or_else(|| malformed("no payload.value"))?;
    Ok(MeterEvent {
        identifier: text(&body["identifier"], "identifier")?,
        event_name: text(&body["event_name"], "event_name")?,
        customer: text(
            &body["payload"]["stripe_customer_id"],
            "payload.stripe_customer_id",
        )?,
        value,
        timestamp: number(&body["timestamp"], "timestamp")?,
        created: number(&body["created"], "created")?,
        livemode: body["livemode"].as_bool().unwrap_or(false),
    })
}

#[cfg(test)]
#[path = "meter_tests.rs"]
mod tests;
