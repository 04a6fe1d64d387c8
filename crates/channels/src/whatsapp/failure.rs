//! Reading a refused send into what the job should do next.
//!
//! Meta's error body is `{"error": {message, type, code, error_data: {details},
//! error_subcode, fbtrace_id}}` (`whatsapp-error-130429.json`). We branch on `code`
//! (`error_subcode` is deprecated since v16), then on the HTTP status (providers.md §3,
//! "Errors and rate limits").

use std::time::Duration;

use http::StatusCode;
use outbound::{ApiResponse, Failure};
use serde_json::{Map, Value};

use crate::json::{self, Fields};

/// App-level API call rate limit ("API Too Many Calls").
pub const APP_RATE_LIMIT: i64 = 4;
/// WhatsApp Business Account rate limit.
pub const ACCOUNT_RATE_LIMIT: i64 = 80007;
/// Cloud API throughput reached for the business number.
pub const THROUGHPUT_LIMIT: i64 = 130429;
/// Too many messages from the number to the same user in a short time.
pub const PAIR_RATE_LIMIT: i64 = 131056;
/// A free-form message outside the 24-hour customer-service window.
pub const OUTSIDE_WINDOW: i64 = 131047;
/// Meta's "unknown error; retry".
pub const UNKNOWN_RETRY: i64 = 131000;
/// The message could not be delivered (not a WhatsApp user, or blocked).
pub const UNDELIVERABLE: i64 = 131026;
/// Authentication failed / the access token expired.
const AUTH_FAILED: [i64; 2] = [0, 190];

/// What the job and the agent are told for [`OUTSIDE_WINDOW`].
pub const OUTSIDE_WINDOW_REASON: &str =
    "outside WhatsApp's 24-hour customer-service window: send an approved template";

/// The throughput limit clears within the second.
const THROUGHPUT_WAIT: Duration = Duration::from_secs(1);
/// The pair limit allows about one message every 6 s to the same user (third-party).
const PAIR_WAIT: Duration = Duration::from_secs(6);
/// Account- and app-level limits are counted over longer windows.
const ACCOUNT_WAIT: Duration = Duration::from_secs(60);

/// The `error` object of a Graph error body, if the body is one.
pub(super) fn error_object(body: &[u8]) -> Option<Map<String, Value>> {
    match json::object(body).ok()?.remove("error")? {
        Value::Object(error) => Some(error),
        _ => None,
    }
}

/// `WhatsApp error 131026: Message undeliverable (details)`, from a Graph `error` object or
/// a status webhook's `errors[]` entry (which carries `title` as well as `message`).
pub(super) fn error_summary(error: Fields<'_>) -> Option<String> {
    let code = error.int("code");
    let text = error.text("message").or_else(|| error.text("title"));
    let details = error
        .0
        .get("error_data")
        .and_then(Value::as_object)
        .and_then(|d| Fields(d).text("details"));
    let mut summary = match (code, text) {
        (Some(code), Some(text)) => format!("WhatsApp error {code}: {text}"),
        (Some(code), None) => format!("WhatsApp error {code}"),
        (None, Some(text)) => text.to_string(),
        (None, None) => return None,
    };
    if let Some(details) = details.filter(|d| Some(*d) != text) {
        summary.push_str(&format!(" ({details})"));
    }
    if code == Some(OUTSIDE_WINDOW) {
        summary = format!("{OUTSIDE_WINDOW_REASON} ({summary})");
    }
    Some(summary)
}

/// What a non-2xx answer to a send means.
pub(super) fn classify_failure(response: &ApiResponse) -> Failure {
    let status = response.status;
    let error = error_object(&response.body);
    let fields = error.as_ref().map(Fields);
    let detail = match fields.and_then(error_summary) {
        Some(summary) => format!("HTTP {}: {summary}", status.as_u16()),
        None => outbound::describe(response),
    };
    let code = fields.and_then(|f| f.int("code"));
    let wait = outbound::retry_after(&response.headers);
    let limited = |default: Duration| Failure::RateLimited {
        detail: detail.clone(),
        after: wait.unwrap_or(default),
    };
    match code {
        Some(THROUGHPUT_LIMIT) => return limited(THROUGHPUT_WAIT),
        Some(PAIR_RATE_LIMIT) => return limited(PAIR_WAIT),
        Some(ACCOUNT_RATE_LIMIT | APP_RATE_LIMIT) => return limited(ACCOUNT_WAIT),
        Some(UNKNOWN_RETRY) => {
            return Failure::Retry {
                detail,
                after: wait,
            }
        }
        // Outside the window, undeliverable, a bad or expired token: whatever the HTTP
        // status, the same request will never succeed; the reason says what to fix.
        Some(c) if c == OUTSIDE_WINDOW || c == UNDELIVERABLE || AUTH_FAILED.contains(&c) => {
            return Failure::Permanent { detail }
        }
        // Other coded 4xx (permissions, validation): permanent with Meta's message.
        Some(_) if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS => {
            return Failure::Permanent { detail }
        }
        _ => {}
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return limited(outbound::DEFAULT_RATE_LIMIT_WAIT);
    }
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        return Failure::Retry {
            detail,
            after: wait,
        };
    }
    Failure::Permanent { detail }
}
