//! The one layer every call to an external API goes through.
//!
//! Provider and GHL modules are *sans-IO*: they build an [`ApiRequest`] and read an
//! [`ApiResponse`], and never touch the network. Executing the request (timeouts, circuit
//! breakers, rate budgets, metrics, tracing) happens in one place, so every call gets the
//! same protection and the protocol code is tested without a server.
//!
//! A failed call is a [`Failure`], classified by what the caller should do next.
#![forbid(unsafe_code)]

mod breaker;
mod budget;
mod executor;

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};

pub use breaker::{Breaker, BreakerPolicy, BreakerState};
pub use budget::{Budget, BudgetReading, Rate};
pub use executor::{BudgetHeaders, Call, Outbound};

/// A request to an external API, not yet sent.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ApiRequest {
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// Adds a header; a name or value that isn't valid HTTP is a bug in the caller, so it
    /// is dropped with the request failing visibly at the server rather than panicking.
    pub fn header(mut self, name: &'static str, value: impl AsRef<str>) -> Self {
        if let Ok(value) = http::HeaderValue::from_str(value.as_ref()) {
            self.headers.insert(name, value);
        }
        self
    }

    /// A JSON body with its content type.
    pub fn json(mut self, body: &impl serde::Serialize) -> Self {
        // Serialising our own request types to a Vec cannot fail.
        self.body = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
        self.header("content-type", "application/json")
    }

    /// A form-encoded body with its content type.
    pub fn form(mut self, encoded: String) -> Self {
        self.body = Bytes::from(encoded);
        self.header("content-type", "application/x-www-form-urlencoded")
    }
}

/// A response from an external API.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// What a failed call means for the job that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Transient (5xx, timeout, connection refused): try again after the backoff, or after
    /// `after` when the server said when. Counts as an attempt.
    Retry {
        detail: String,
        after: Option<Duration>,
    },
    /// Rate limited (429 or a provider's throttling code): wait `after`; not the job's
    /// fault, so not counted as an attempt.
    RateLimited { detail: String, after: Duration },
    /// Will never succeed as sent (validation error, bad credentials, unknown number).
    Permanent { detail: String },
    /// The recipient has opted out at the provider: record the opt-out, send nothing more.
    OptedOut { detail: String },
    /// The circuit breaker for this API and credential is open: wait `after` without
    /// calling and without counting an attempt.
    BreakerOpen { detail: String, after: Duration },
}

impl Failure {
    pub fn detail(&self) -> &str {
        match self {
            Failure::Retry { detail, .. }
            | Failure::RateLimited { detail, .. }
            | Failure::Permanent { detail }
            | Failure::OptedOut { detail }
            | Failure::BreakerOpen { detail, .. } => detail,
        }
    }

    /// True for failures that say the remote side is unhealthy (they count against its
    /// circuit breaker); a permanent error about one request says nothing of the API.
    pub fn counts_against_breaker(&self) -> bool {
        matches!(self, Failure::Retry { .. })
    }
}

/// Default wait after a 429 that gives no `Retry-After`.
pub const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(10);

/// The generic reading of an HTTP error status: 429 → rate limited, 408/5xx → retry,
/// other 4xx → permanent. Provider modules refine this with their own error codes.
pub fn classify_status(response: &ApiResponse) -> Failure {
    let detail = describe(response);
    let status = response.status;
    if status == StatusCode::TOO_MANY_REQUESTS {
        Failure::RateLimited {
            detail,
            after: retry_after(&response.headers).unwrap_or(DEFAULT_RATE_LIMIT_WAIT),
        }
    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        Failure::Retry {
            detail,
            after: retry_after(&response.headers),
        }
    } else {
        Failure::Permanent { detail }
    }
}

/// `HTTP 503: <first 300 bytes of the body>`, for timelines and logs.
pub fn describe(response: &ApiResponse) -> String {
    let body = String::from_utf8_lossy(&response.body[..response.body.len().min(300)]);
    let body = body.trim();
    if body.is_empty() {
        format!("HTTP {}", response.status.as_u16())
    } else {
        format!("HTTP {}: {body}", response.status.as_u16())
    }
}

/// Reads `Retry-After` as seconds or as an HTTP date (relative to now).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(86_400.0)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests;
