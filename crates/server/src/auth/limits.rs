//! Request budgets for `/api/v1`: one per client address and one per credential, each
//! answered with 429 and `Retry-After` when spent.
//!
//! The address budget stops one client flooding the API whatever it presents; the
//! credential budget stops one API key or user starving the others from many addresses.
//! A credential is known by its public part only (an API key's prefix, a user's id from a
//! valid access token), so the check costs no database read; a request whose credential
//! doesn't verify is counted by address only, and its handler refuses it anyway.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::{
    client_ip, cookies, principal::bearer_value, tokens, API_KEY_PREFIX, API_KEY_PREFIX_LEN,
};
use crate::http::ApiError;
use crate::AppState;

/// Past this many tracked keys, the limiters drop the ones whose budget is full again.
const TRACKED_KEYS_BEFORE_CLEANUP: usize = 100_000;

/// The two budgets.
#[derive(Clone)]
pub(super) struct ApiLimits {
    per_address: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    per_credential: Arc<DefaultKeyedRateLimiter<String>>,
}

impl ApiLimits {
    /// Budgets of `per_address` and `per_credential` requests a minute (a burst of as
    /// many, refilled evenly).
    pub(super) fn new(per_address: u32, per_credential: u32) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            per_address: Arc::new(RateLimiter::keyed(quota(per_address))),
            per_credential: Arc::new(RateLimiter::keyed(quota(per_credential))),
        }
    }
}

/// `None` when `key` may go on, else how long to wait.
fn wait<K: std::hash::Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Option<Duration> {
    if limiter.len() > TRACKED_KEYS_BEFORE_CLEANUP {
        limiter.retain_recent();
    }
    limiter
        .check_key(key)
        .err()
        .map(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}

/// The public name of the request's credential: `key:<prefix>` or `user:<id>`.
fn credential(keys: &tokens::AccessKeys, headers: &HeaderMap) -> Option<String> {
    let token = match bearer_value(headers) {
        Some(token) if token.starts_with(API_KEY_PREFIX) => {
            return token.get(..API_KEY_PREFIX_LEN).map(|p| format!("key:{p}"));
        }
        Some(token) => token.to_string(),
        None => cookies::get(headers, cookies::ACCESS)?,
    };
    keys.verify(&token)
        .map(|claims| format!("user:{}", claims.sub))
}

/// 429 `rate_limited` with `Retry-After` in whole seconds (at least 1).
pub(super) fn too_many(wait: Duration, detail: &str) -> Response {
    let mut response =
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", detail).into_response();
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The middleware: spends one request of each budget for every `/api/v1` request.
pub async fn limit_api(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/v1/") {
        return next.run(request).await;
    }
    let limits = &state.auth.api_limits;
    let address = client_ip(request.extensions());
    if let Some(wait) = wait(&limits.per_address, &address) {
        metrics::counter!("switchboard_api_rate_limited_total", "budget" => "address").increment(1);
        return too_many(
            wait,
            "too many requests from this address; retry after the delay given",
        );
    }
    if let Some(credential) = credential(&state.auth.access, request.headers()) {
        if let Some(wait) = wait(&limits.per_credential, &credential) {
            metrics::counter!("switchboard_api_rate_limited_total", "budget" => "credential")
                .increment(1);
            return too_many(
                wait,
                "too many requests with this API key or account; retry after the delay given",
            );
        }
    }
    next.run(request).await
}
