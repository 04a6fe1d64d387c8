//! Runs [`ApiRequest`]s: the only place Switchboard talks to the outside world.
//!
//! Every call gets a time limit, its API-and-credential circuit breaker, an optional local
//! rate budget, a tracing span and metrics by API, operation and outcome. The response is
//! returned whatever its status: the protocol module that built the request reads it
//! (its error codes mean things only it knows). Transport failures become
//! [`Failure::Retry`]; an open breaker or an empty budget fail before any call is made.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;

use crate::breaker::{Breaker, BreakerPolicy, BreakerState};
use crate::budget::{Budget, BudgetReading, Rate};
use crate::{retry_after, ApiRequest, ApiResponse, Failure, DEFAULT_RATE_LIMIT_WAIT};

/// What a call is, for breakers, budgets, logs and metrics.
#[derive(Debug, Clone)]
pub struct Call {
    /// The API: `ghl`, `sendblue`, …
    pub api: &'static str,
    /// The operation: `add_inbound_message`, `send_message`, …
    pub operation: &'static str,
    /// Whose breaker: the API plus the credential (a location, a line's account), so one
    /// bad account doesn't stop everyone's traffic.
    pub breaker_key: String,
    /// A budget to spend from, if this API has one.
    pub budget: Option<(String, Rate)>,
    pub timeout: Duration,
}

impl Call {
    pub fn new(api: &'static str, operation: &'static str, breaker_key: impl Into<String>) -> Self {
        Self {
            api,
            operation,
            breaker_key: breaker_key.into(),
            budget: None,
            timeout: Duration::from_secs(15),
        }
    }

    pub fn with_budget(mut self, key: impl Into<String>, rate: Rate) -> Self {
        self.budget = Some((key.into(), rate));
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Reads a server's budget headers, per API (GHL's `X-RateLimit-*`).
pub type BudgetHeaders = fn(&http::HeaderMap) -> Option<BudgetReading>;

/// The shared executor. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Outbound {
    http: reqwest::Client,
    policy: BreakerPolicy,
    breakers: Mutex<HashMap<String, Breaker>>,
    budgets: Mutex<HashMap<String, Budget>>,
    budget_headers: Mutex<HashMap<&'static str, BudgetHeaders>>,
}

impl Outbound {
    pub fn new(policy: BreakerPolicy) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            policy,
            breakers: Mutex::default(),
            budgets: Mutex::default(),
            budget_headers: Mutex::default(),
        })
    }

    /// Registers how to read `api`'s budget headers.
    pub fn read_budget_headers(&self, api: &'static str, reader: BudgetHeaders) {
        if let Ok(mut map) = self.budget_headers.lock() {
            map.insert(api, reader);
        }
    }

    /// The state of a breaker, for health pages.
    pub fn breaker_state(&self, key: &str) -> Option<BreakerState> {
        self.breakers.lock().ok()?.get(key).map(Breaker::state)
    }

    /// Runs one call. `Ok` for any HTTP response; `Err` when no response came (or none
    /// was asked for: breaker open, budget empty).
    pub async fn execute(&self, call: &Call, request: ApiRequest) -> Result<ApiResponse, Failure> {
        let span = tracing::info_span!("outbound", api = call.api, operation = call.operation);
        async {
            let started = std::time::Instant::now();
            let result = self.execute_inner(call, request).await;
            let outcome = match &result {
                Ok(r) if r.status.is_success() => "ok",
                Ok(r) if r.status.as_u16() == 429 => "rate_limited",
                Ok(r) if r.status.is_server_error() => "server_error",
                Ok(_) => "client_error",
                Err(Failure::BreakerOpen { .. }) => "breaker_open",
                Err(Failure::RateLimited { .. }) => "budget_empty",
                Err(_) => "transport_error",
            };
            let elapsed = started.elapsed();
            match &result {
                Ok(r) => tracing::info!(
                    status = r.status.as_u16(),
                    ms = elapsed.as_secs_f64() * 1000.0,
                    "called"
                ),
                Err(f) => tracing::info!(failure = f.detail(), "not called or no answer"),
            }
            metrics::counter!("switchboard_outbound_requests_total",
                "api" => call.api, "operation" => call.operation, "outcome" => outcome)
            .increment(1);
            metrics::histogram!("switchboard_outbound_request_duration_seconds",
                "api" => call.api, "operation" => call.operation)
            .record(elapsed.as_secs_f64());
            result
        }
        .instrument(span)
        .await
    }

    async fn execute_inner(
        &self,
        call: &Call,
        request: ApiRequest,
    ) -> Result<ApiResponse, Failure> {
        self.admit(call)?;
        let sent = self
            .http
            .request(request.method, &request.url)
            .headers(request.headers)
            .body(request.body)
            .timeout(call.timeout)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                self.record(call, false);
                return Err(Failure::Retry {
                    detail: transport_detail(e),
                    after: None,
                });
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) => {
                self.record(call, false);
                return Err(Failure::Retry {
                    detail: transport_detail(e),
                    after: None,
                });
            }
        };
        self.record(call, !status.is_server_error());
        self.learn_budget(call, status, &headers);
        Ok(ApiResponse {
            status,
            headers,
            body,
        })
    }

    /// Checks the breaker, spends from the budget, then takes the breaker's admission
    /// (which may be the half-open trial): in that order, so a call refused by its budget
    /// never uses up the trial.
    fn admit(&self, call: &Call) -> Result<(), Failure> {
        let now = Instant::now();
        let breaker_open = |wait| Failure::BreakerOpen {
            detail: format!("{} is failing; calls paused", call.api),
            after: wait,
        };
        if let Ok(breakers) = self.breakers.lock() {
            if let Some(Err(wait)) = breakers.get(&call.breaker_key).map(|b| b.check(now)) {
                return Err(breaker_open(wait));
            }
        }
        if let Some((key, rate)) = &call.budget {
            if let Ok(mut budgets) = self.budgets.lock() {
                let budget = budgets
                    .entry(key.clone())
                    .or_insert_with(|| Budget::new(*rate));
                if let Err(wait) = budget.spend(now) {
                    return Err(Failure::RateLimited {
                        detail: format!("{} budget for {key} is spent", call.api),
                        after: wait,
                    });
                }
            }
        }
        if let Ok(mut breakers) = self.breakers.lock() {
            breakers
                .entry(call.breaker_key.clone())
                .or_default()
                .admit(now)
                .map_err(breaker_open)?;
        }
        Ok(())
    }

    fn record(&self, call: &Call, healthy: bool) {
        if let Ok(mut breakers) = self.breakers.lock() {
            let breaker = breakers.entry(call.breaker_key.clone()).or_default();
            if breaker.record(healthy, Instant::now(), &self.policy) {
                tracing::warn!(api = call.api, key = %call.breaker_key, state = ?breaker.state(), "circuit breaker changed");
            }
        }
    }

    fn learn_budget(&self, call: &Call, status: http::StatusCode, headers: &http::HeaderMap) {
        let Some((key, rate)) = &call.budget else {
            return;
        };
        let reader = self
            .budget_headers
            .lock()
            .ok()
            .and_then(|m| m.get(call.api).copied());
        let now = Instant::now();
        if let Ok(mut budgets) = self.budgets.lock() {
            let budget = budgets
                .entry(key.clone())
                .or_insert_with(|| Budget::new(*rate));
            if status.as_u16() == 429 {
                budget.exhaust_for(retry_after(headers).unwrap_or(DEFAULT_RATE_LIMIT_WAIT), now);
            } else if let Some(reading) = reader.and_then(|read| read(headers)) {
                budget.correct(reading, now);
            }
        }
    }
}

/// A transport error described without the URL (it may carry tokens in its query).
fn transport_detail(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "broken response"
    } else {
        "request failed"
    };
    format!("{kind}: {}", e.without_url())
}
