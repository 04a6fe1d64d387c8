//! What a model API's error means, by the OpenAI SDK's own rules (the reference's §6):
//! 408, 409, 429 and 5xx are worth retrying, `x-should-retry` overrides, and the server's
//! wait comes from `retry-after-ms`, then `retry-after`. A 429 whose code is
//! `insufficient_quota` is a billing problem, not a rate: retrying can't help.

use std::time::Duration;

use outbound::{ApiResponse, Failure};
use serde_json::Value;

/// The longest server-asked wait we honour; the SDK gives up beyond 120 s, a job can wait.
const MAX_WAIT: Duration = Duration::from_secs(3600);

fn server_wait(response: &ApiResponse) -> Option<Duration> {
    let ms = response
        .headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| Duration::from_secs_f64(ms / 1000.0));
    ms.or_else(|| outbound::retry_after(&response.headers))
        .map(|wait| wait.min(MAX_WAIT))
}

/// The error's `code`, from OpenAI's `{"error": {"message", "type", "param", "code"}}`.
fn error_code(response: &ApiResponse) -> Option<String> {
    let body: Value = serde_json::from_slice(&response.body).ok()?;
    body["error"]["code"].as_str().map(str::to_string)
}

/// Reads a non-2xx answer of a model API.
pub fn classify(response: &ApiResponse) -> Failure {
    let detail = outbound::describe(response);
    let status = response.status.as_u16();
    if status == 429 && error_code(response).as_deref() == Some("insufficient_quota") {
        return Failure::Permanent {
            detail: format!("the model account has no quota left: {detail}"),
        };
    }
    let should_retry = response
        .headers
        .get("x-should-retry")
        .and_then(|v| v.to_str().ok());
    match (status, should_retry) {
        (_, Some("false")) => Failure::Permanent { detail },
        (429, _) => Failure::RateLimited {
            detail,
            after: server_wait(response).unwrap_or(outbound::DEFAULT_RATE_LIMIT_WAIT),
        },
        (408 | 409 | 500..=599, _) | (_, Some("true")) => Failure::Retry {
            detail,
            after: server_wait(response),
        },
        _ => Failure::Permanent { detail },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, StatusCode};

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
    fn rate_limits_wait_as_told_and_quota_is_permanent() {
        let limited =
            r#"{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}"#;
        match classify(&answer(
            429,
            &[("retry-after-ms", "1500"), ("retry-after", "9")],
            limited,
        )) {
            Failure::RateLimited { after, .. } => assert_eq!(after, Duration::from_millis(1500)),
            other => panic!("{other:?}"),
        }
        match classify(&answer(429, &[("retry-after", "7")], limited)) {
            Failure::RateLimited { after, .. } => assert_eq!(after, Duration::from_secs(7)),
            other => panic!("{other:?}"),
        }
        match classify(&answer(429, &[], limited)) {
            Failure::RateLimited { after, .. } => {
                assert_eq!(after, outbound::DEFAULT_RATE_LIMIT_WAIT)
            }
            other => panic!("{other:?}"),
        }
        let quota = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;
        assert!(matches!(
            classify(&answer(429, &[], quota)),
            Failure::Permanent { .. }
        ));
    }

    #[test]
    fn server_errors_retry_client_errors_dont_and_the_header_overrides() {
        assert!(matches!(
            classify(&answer(503, &[], "")),
            Failure::Retry { .. }
        ));
        assert!(matches!(
            classify(&answer(409, &[], "")),
            Failure::Retry { .. }
        ));
        assert!(matches!(
            classify(&answer(400, &[], "")),
            Failure::Permanent { .. }
        ));
        assert!(matches!(
            classify(&answer(400, &[("x-should-retry", "true")], "")),
            Failure::Retry { .. }
        ));
        assert!(matches!(
            classify(&answer(503, &[("x-should-retry", "false")], "")),
            Failure::Permanent { .. }
        ));
    }
}
