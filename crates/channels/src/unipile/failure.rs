//! Reading a refused send into what the job should do next.
//!
//! UniPile answers errors as a problem document, `{status, type, title, detail}`, where
//! `type` is a path like `errors/cant_send_message` (the codes below are from third-party
//! copies of its API reference, UNCONFIRMED in providers.md §4, so the HTTP status decides
//! whenever the `type` is absent or unknown).

use std::time::Duration;

use http::StatusCode;
use outbound::{ApiResponse, Failure};

use crate::json::{self, Fields};

/// Too many requests on the account: wait and retry.
pub const TOO_MANY_REQUESTS: &str = "errors/too_many_requests";
/// The provider (WhatsApp) did not answer UniPile in time: retry.
pub const REQUEST_TIMEOUT: &str = "errors/request_timeout";
/// The provider refused this message (blocked contact, unknown number, …): never retry.
pub const CANT_SEND_MESSAGE: &str = "errors/cant_send_message";
/// The account has hit one of its sending limits: retry much later.
pub const LIMIT_EXCEEDED: &str = "errors/limit_exceeded";

/// The wait after a 429 without `Retry-After`. UniPile publishes no rate: a few seconds
/// lets a burst clear without hammering a real phone's session.
pub const RATE_LIMIT_WAIT: Duration = Duration::from_secs(5);

/// The wait after `errors/limit_exceeded` without `Retry-After`. The limits behind it are
/// the provider's (messages per day or to new contacts), which no quick retry clears, and a
/// WhatsApp account that keeps pushing past them risks a ban: wait ten minutes.
pub const LIMIT_EXCEEDED_WAIT: Duration = Duration::from_secs(600);

/// `UniPile errors/cant_send_message: Cannot send message: The recipient …`.
fn summary(fields: Fields<'_>) -> Option<String> {
    let kind = fields.text("type");
    let text = match (fields.text("title"), fields.text("detail")) {
        (Some(title), Some(detail)) if title != detail => Some(format!("{title}: {detail}")),
        (Some(text), _) | (None, Some(text)) => Some(text.to_string()),
        (None, None) => fields.text("message").map(str::to_string),
    };
    match (kind, text) {
        (Some(kind), Some(text)) => Some(format!("UniPile {kind}: {text}")),
        (Some(kind), None) => Some(format!("UniPile {kind}")),
        (None, Some(text)) => Some(format!("UniPile: {text}")),
        (None, None) => None,
    }
}

/// What a non-2xx answer to a send means.
pub(super) fn classify_failure(response: &ApiResponse) -> Failure {
    let status = response.status;
    let parsed = json::object(&response.body).ok();
    let fields = parsed.as_ref().map(Fields);
    let detail = match fields.and_then(summary) {
        Some(summary) => format!("HTTP {}: {summary}", status.as_u16()),
        None => outbound::describe(response),
    };
    let kind = fields.and_then(|f| f.text("type")).unwrap_or_default();
    let wait = outbound::retry_after(&response.headers);
    if kind == LIMIT_EXCEEDED {
        return Failure::RateLimited {
            detail,
            after: wait.unwrap_or(LIMIT_EXCEEDED_WAIT),
        };
    }
    if kind == TOO_MANY_REQUESTS || status == StatusCode::TOO_MANY_REQUESTS {
        return Failure::RateLimited {
            detail,
            after: wait.unwrap_or(RATE_LIMIT_WAIT),
        };
    }
    if kind == REQUEST_TIMEOUT || status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT
    {
        return Failure::Retry {
            detail,
            after: wait,
        };
    }
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Failure::Permanent {
            detail: format!(
                "authentication refused (check the channel's api_key and dsn): {detail}"
            ),
        };
    }
    // `errors/cant_send_message` and every other 4xx: sending the same again changes nothing.
    Failure::Permanent { detail }
}
