//! What a GHL error response means for the caller, and GHL's rate-limit headers.

use std::time::Duration;

use http::HeaderMap;
use outbound::{ApiResponse, Failure};

use crate::Error;

/// How long to wait before retrying a status update that GHL refused because the message
/// was not yet "downstreamed" to the provider (observed to last 5–10 s after the send).
pub const NOT_DOWNSTREAMED_WAIT: Duration = Duration::from_secs(5);

/// How long to wait after a 429 once the day's allowance is spent. GHL does not say when
/// the daily limit resets; this keeps us from hammering it while still noticing the reset.
pub const DAILY_LIMIT_WAIT: Duration = Duration::from_secs(600);

/// Reads a non-2xx GHL response:
/// - 401 → [`Error::Unauthorized`], so the executor can refresh the token once and retry;
/// - 429 → rate limited, waiting for `Retry-After` if sent, else the burst window from
///   `X-RateLimit-Interval-Milliseconds` (or [`DAILY_LIMIT_WAIT`] when the daily
///   allowance is gone), else [`outbound::DEFAULT_RATE_LIMIT_WAIT`];
/// - 408 and 5xx → retry; other 4xx → permanent.
pub fn classify(response: &ApiResponse) -> Error {
    match response.status.as_u16() {
        401 => Error::Unauthorized {
            detail: outbound::describe(response),
        },
        429 => Error::Call(Failure::RateLimited {
            detail: outbound::describe(response),
            after: rate_limit_wait(&response.headers),
        }),
        _ => Error::Call(outbound::classify_status(response)),
    }
}

fn rate_limit_wait(headers: &HeaderMap) -> Duration {
    if let Some(after) = outbound::retry_after(headers) {
        return after;
    }
    let limit = RateLimit::from_headers(headers).unwrap_or_default();
    if limit.daily_remaining == Some(0) {
        return DAILY_LIMIT_WAIT;
    }
    limit
        .interval
        .filter(|interval| !interval.is_zero())
        .map(|interval| interval.min(Duration::from_secs(60)))
        .unwrap_or(outbound::DEFAULT_RATE_LIMIT_WAIT)
}

/// GHL's `X-RateLimit-*` headers: the per-location budget as GHL counts it (100 requests
/// per 10 s, 200,000 per day), so the executor can correct its own count. Absent headers
/// are `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// `X-RateLimit-Remaining`: requests left in the current burst window.
    pub remaining: Option<u64>,
    /// `X-RateLimit-Max`: requests allowed per burst window.
    pub max: Option<u64>,
    /// `X-RateLimit-Interval-Milliseconds`: the burst window.
    pub interval: Option<Duration>,
    /// `X-RateLimit-Limit-Daily`.
    pub daily_limit: Option<u64>,
    /// `X-RateLimit-Daily-Remaining`.
    pub daily_remaining: Option<u64>,
}

impl RateLimit {
    /// `None` when the response carries none of the headers.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let limit = RateLimit {
            remaining: number(headers, "x-ratelimit-remaining"),
            max: number(headers, "x-ratelimit-max"),
            interval: number(headers, "x-ratelimit-interval-milliseconds")
                .map(Duration::from_millis),
            daily_limit: number(headers, "x-ratelimit-limit-daily"),
            daily_remaining: number(headers, "x-ratelimit-daily-remaining"),
        };
        (limit != RateLimit::default()).then_some(limit)
    }
}

/// A header holding a non-negative number (`"100"`, or `"100.0"` truncated).
fn number(headers: &HeaderMap, name: &str) -> Option<u64> {
    let text = headers.get(name)?.to_str().ok()?.trim();
    text.parse::<u64>().ok().or_else(|| {
        text.parse::<f64>()
            .ok()
            .filter(|value| value.is_finite() && *value >= 0.0)
            .map(|value| value as u64)
    })
}
