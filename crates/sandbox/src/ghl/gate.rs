//! What stands before every GHL API call: the bearer token, the per-location rate limit (with
//! GHL's `X-RateLimit-*` headers), and the required `Version` header.
//!
//! The burst limit is a sliding window: the strictest reading of "100 requests per 10 seconds",
//! so a gateway that never sees a 429 here will not see one from GHL either.

use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::{error, RateWindow};
use crate::shared::{lock, Shared};

/// The authenticated caller, for handlers.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub location_id: String,
}

/// `Version` values GHL serves (the specs' two, plus the newer ones its docs site lists).
const VERSIONS: &[&str] = &["2021-04-15", "2021-07-28", "2023-02-21", "v3"];
const DAY: Duration = Duration::from_secs(86_400);

/// The rate-limit state of a location after one request.
struct Verdict {
    allowed: bool,
    remaining: u32,
    daily_remaining: u32,
}

impl RateWindow {
    fn hit(&mut self, now: Instant, max: u32, interval: Duration, daily: u32) -> Verdict {
        while self
            .hits
            .front()
            .is_some_and(|t| now.duration_since(*t) >= interval)
        {
            self.hits.pop_front();
        }
        if now.duration_since(self.day_start) >= DAY {
            self.day_start = now;
            self.day_count = 0;
        }
        let in_window = u32::try_from(self.hits.len()).unwrap_or(u32::MAX);
        let allowed = in_window < max && self.day_count < daily;
        if allowed {
            self.hits.push_back(now);
            self.day_count += 1;
        }
        let in_window = u32::try_from(self.hits.len()).unwrap_or(u32::MAX);
        Verdict {
            allowed,
            remaining: max.saturating_sub(in_window),
            daily_remaining: daily.saturating_sub(self.day_count),
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub(crate) async fn gate(
    State(shared): State<Shared>,
    mut request: Request,
    next: Next,
) -> Response {
    let now = Instant::now();
    let (max, interval) = shared.options.ghl_rate_limit;
    let daily = shared.options.ghl_daily_limit;
    let (location_id, verdict) = {
        let mut state = lock(&shared.ghl);
        let grant = bearer(request.headers())
            .and_then(|t| state.access_tokens.get(t))
            .cloned();
        let Some(grant) = grant else {
            return error(
                StatusCode::UNAUTHORIZED,
                "Invalid token: access token is invalid",
            );
        };
        if grant.expires_at <= now {
            return error(
                StatusCode::UNAUTHORIZED,
                "Invalid token: access token has expired",
            );
        }
        let Some(location) = state.locations.get_mut(&grant.location_id) else {
            return error(
                StatusCode::UNAUTHORIZED,
                "Invalid token: access token is invalid",
            );
        };
        let verdict = location.rate.hit(now, max, interval, daily);
        (grant.location_id, verdict)
    };
    let mut response = if !verdict.allowed {
        error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
    } else if !request
        .headers()
        .get("version")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| VERSIONS.contains(&v))
    {
        error(
            StatusCode::BAD_REQUEST,
            format!(
                "Version header is missing or invalid; expected one of {}",
                VERSIONS.join(", ")
            ),
        )
    } else {
        request.extensions_mut().insert(Caller { location_id });
        next.run(request).await
    };
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: u64| {
        headers.insert(name, HeaderValue::from(value));
    };
    set("x-ratelimit-limit-daily", u64::from(daily));
    set(
        "x-ratelimit-daily-remaining",
        u64::from(verdict.daily_remaining),
    );
    set(
        "x-ratelimit-interval-milliseconds",
        u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
    );
    set("x-ratelimit-max", u64::from(max));
    set("x-ratelimit-remaining", u64::from(verdict.remaining));
    response
}
