//! Reading a refused or failed send into what the job should do next.

use std::time::Duration;

use domain::MessageStatus;
use http::StatusCode;
use outbound::{ApiResponse, Failure};

use super::delivery_status;
use crate::json::Fields;

/// Waits when SendBlue throttles without saying for how long. The hourly new-contact cap
/// resets within the hour.
const HOURLY_CAP_WAIT: Duration = Duration::from_secs(3600);

/// A nonzero `error_code`, an `error_key`, or a failure status: "any value other than
/// 0/null is a failure" (SendBlue docs).
pub(super) fn reports_failure(fields: Fields<'_>) -> bool {
    fields.int("error_code").is_some_and(|c| c != 0)
        || fields.text("error_key").is_some()
        || fields.text("status").and_then(delivery_status) == Some(MessageStatus::Failed)
}

/// `OPTED_OUT (code 4000): message, reason, detail` from whatever error fields are there.
pub(super) fn error_summary(fields: Fields<'_>) -> Option<String> {
    let key = fields.text("error_key");
    let code = fields.int("error_code").filter(|c| *c != 0);
    let head = match (key, code) {
        (Some(key), Some(code)) => format!("{key} (code {code})"),
        (Some(key), None) => key.to_string(),
        (None, Some(code)) => format!("code {code}"),
        (None, None) => String::new(),
    };
    let texts: Vec<&str> = ["error_message", "error_reason", "error_detail", "message"]
        .iter()
        .filter_map(|k| fields.text(k))
        .collect();
    match (head.is_empty(), texts.is_empty()) {
        (true, true) => None,
        (false, true) => Some(head),
        (true, false) => Some(texts.join("; ")),
        (false, false) => Some(format!("{head}: {}", texts.join("; "))),
    }
}

/// What a refused send means for the job, from SendBlue's `error_key` first (the SDK says
/// to branch on it), then its `error_code`, then the HTTP status.
pub(super) fn classify_failure(response: &ApiResponse, fields: Option<Fields<'_>>) -> Failure {
    let status = response.status;
    let detail = match fields.and_then(error_summary) {
        Some(summary) => format!("HTTP {}: {summary}", status.as_u16()),
        None => outbound::describe(response),
    };
    let wait = server_wait(response);
    let key = fields
        .and_then(|f| f.text("error_key"))
        .map(str::to_ascii_uppercase);
    let code = fields.and_then(|f| f.int("error_code"));
    let opted_out = fields.and_then(|f| f.flag("opted_out")) == Some(true);

    if key.as_deref() == Some("OPTED_OUT") || opted_out {
        return Failure::OptedOut { detail };
    }
    match key.as_deref() {
        // The line's new-contact cap for this hour: wait it out, not the job's fault.
        Some("LINE_HOURLY_LIMIT_REACHED") => {
            return Failure::RateLimited {
                detail,
                after: wait.unwrap_or(HOURLY_CAP_WAIT),
            }
        }
        // The day's cap, or a contact who has not replied: a message a day late is no
        // answer in a conversation, so it fails visibly instead of sitting in the queue.
        Some("LINE_DAILY_LIMIT_REACHED") | Some("PRE_REPLY_LIMIT_REACHED") => {
            return Failure::Permanent { detail }
        }
        _ => {}
    }
    let rate_limited = |detail| Failure::RateLimited {
        detail,
        after: wait.unwrap_or(outbound::DEFAULT_RATE_LIMIT_WAIT),
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        return rate_limited(detail);
    }
    match code {
        Some(429 | 4001 | 5003) => return rate_limited(detail),
        Some(4000 | 4002) => return Failure::Permanent { detail },
        Some(5000 | 10002) => {
            return Failure::Retry {
                detail,
                after: wait,
            }
        }
        Some(10001) if !status.is_server_error() => return Failure::Permanent { detail },
        _ => {}
    }
    // The Stainless SDK obeys `x-should-retry`, and retries 409 as well as 408/429/5xx.
    match response
        .headers
        .get("x-should-retry")
        .and_then(|v| v.to_str().ok())
    {
        Some("true") => {
            return Failure::Retry {
                detail,
                after: wait,
            }
        }
        Some("false") => return Failure::Permanent { detail },
        _ => {}
    }
    if status == StatusCode::CONFLICT {
        return Failure::Retry {
            detail,
            after: wait,
        };
    }
    match outbound::classify_status(response) {
        Failure::RateLimited { after, .. } => Failure::RateLimited { detail, after },
        Failure::Retry { after, .. } => Failure::Retry { detail, after },
        _ => Failure::Permanent { detail },
    }
}

/// The server's requested wait: `retry-after-ms` (which the SDK honours first), then
/// `Retry-After`.
fn server_wait(response: &ApiResponse) -> Option<Duration> {
    let millis = response
        .headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0);
    match millis {
        Some(ms) => Some(Duration::from_secs_f64(ms.min(86_400_000.0) / 1000.0)),
        None => outbound::retry_after(&response.headers),
    }
}
