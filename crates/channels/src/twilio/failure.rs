//! Reading a refused send into what the job should do next.
//!
//! Twilio's error body is `{code, message, more_info, status}` (legacy JSON, what the
//! Messages API returns); some newer APIs answer RFC 9457 `{type, title, status, code,
//! detail}`. Both are read. Twilio's own error `code` decides first, then the HTTP status.

use std::time::Duration;

use http::StatusCode;
use outbound::{ApiResponse, Failure};

use crate::json::{self, Fields};

/// The recipient replied STOP to this sender (or service): never retry, record the opt-out.
pub const OPTED_OUT: i64 = 21610;
/// Too many concurrent REST requests on the account; Twilio never processed the request.
pub const TOO_MANY_REQUESTS: i64 = 20429;

/// The wait after a 429 that names no `Retry-After` (Twilio documents none for Messaging).
/// 20429 is about concurrent requests, which clear within a second or two; the job is not
/// charged an attempt for it, and the line's pacing spreads the retries.
pub const RATE_LIMIT_WAIT: Duration = Duration::from_secs(2);

/// `Twilio error 21211: The 'To' number … (https://www.twilio.com/docs/errors/21211)`.
pub(super) fn error_summary(fields: Fields<'_>) -> Option<String> {
    let code = fields.int("code");
    let text = fields
        .text("message")
        .or_else(|| fields.text("detail"))
        .or_else(|| fields.text("title"));
    let more = fields.text("more_info");
    let mut summary = match (code, text) {
        (Some(code), Some(text)) => format!("Twilio error {code}: {text}"),
        (Some(code), None) => format!("Twilio error {code}"),
        (None, Some(text)) => text.to_string(),
        (None, None) => return None,
    };
    if let Some(more) = more {
        summary.push_str(&format!(" ({more})"));
    }
    Some(summary)
}

/// What a non-2xx answer to a send means.
pub(super) fn classify_failure(response: &ApiResponse) -> Failure {
    let status = response.status;
    let parsed = json::object(&response.body).ok();
    let fields = parsed.as_ref().map(Fields);
    let detail = match fields.and_then(error_summary) {
        Some(summary) => format!("HTTP {}: {summary}", status.as_u16()),
        None => outbound::describe(response),
    };
    let code = fields.and_then(|f| f.int("code"));
    let wait = outbound::retry_after(&response.headers);
    if code == Some(OPTED_OUT) {
        return Failure::OptedOut { detail };
    }
    if code == Some(TOO_MANY_REQUESTS) || status == StatusCode::TOO_MANY_REQUESTS {
        return Failure::RateLimited {
            detail,
            after: wait.unwrap_or(RATE_LIMIT_WAIT),
        };
    }
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        return Failure::Retry {
            detail,
            after: wait,
        };
    }
    Failure::Permanent { detail }
}

/// `Twilio error 30007: Carrier violation` from a message resource's `error_code` and
/// `error_message` (a send answered 2xx but already failed).
pub(super) fn error_summary_of_message(fields: Fields<'_>) -> Option<String> {
    let code = fields.int("error_code").filter(|c| *c != 0);
    let text = fields.text("error_message");
    match (code, text) {
        (Some(code), Some(text)) => Some(format!("Twilio error {code}: {text}")),
        (Some(code), None) => Some(format!("Twilio error {code}")),
        (None, Some(text)) => Some(text.to_string()),
        (None, None) => fields.text("status").map(|s| format!("Twilio status {s}")),
    }
}
