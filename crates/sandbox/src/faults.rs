//! Fault injection: make a simulator slow, failing, rate-limited, hanging or down, and make the
//! webhooks the sandbox sends late, lost, duplicated or out of order.
//!
//! Faults are the point of a sandbox: the gateway's retries, backoff, idempotency and monotonic
//! status handling are only proven when the vendor misbehaves the way real vendors do.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{OriginalUri, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::shared::{lock, Shared};
use crate::Simulator;

/// Most faults active at once: a guard against a runaway test, not a real limit.
const MAX_FAULTS: usize = 64;
/// Longest injectable latency.
const MAX_LATENCY_MS: u64 = 120_000;

/// A fault to activate (`POST /_control/faults` body).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FaultSpec {
    /// A simulator name (`ghl`, `sendblue`) for its API, or `webhooks` for what the sandbox sends.
    pub target: String,
    /// Only requests whose path starts with this (prefix included, e.g. `/ghl/conversations`);
    /// for `webhooks`, the path of the destination URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Chance, 0..=1, that a matching request is affected (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Active for this long (default: until cleared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// What a fault does. On a simulator target, `latency`, `status`, `rate_limit`, `timeout` and
/// `outage` act on requests to its API, while `duplicate` and `reorder` act on the webhooks it
/// sends. On the `webhooks` target, `latency`, `outage`, `duplicate` and `reorder` act on every
/// webhook the sandbox sends.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Delay before handling (API) or before sending (webhooks).
    Latency { ms: u64 },
    /// Answer this status (400–599) with the vendor's error shape.
    Status { code: u16 },
    /// Answer 429 with `Retry-After`.
    RateLimit { retry_after_secs: u64 },
    /// Hold the request past any sane client timeout (bounded; released at shutdown), then 504.
    Timeout,
    /// API: 503 with `Connection: close`. Webhooks: not sent at all (lost).
    Outage,
    /// Each outgoing webhook is sent twice, concurrently.
    Duplicate,
    /// Status callbacks of one message are delivered in reverse order.
    Reorder,
}

struct Active {
    id: u64,
    spec: FaultSpec,
    expires: Option<Instant>,
}

/// The active faults.
#[derive(Default)]
pub(crate) struct FaultBook {
    next_id: AtomicU64,
    active: Mutex<Vec<Active>>,
}

/// What happens to one incoming API request.
#[derive(Debug, Default)]
pub(crate) struct Incoming {
    pub latency: Duration,
    pub terminal: Option<FaultKind>,
}

/// What happens to one outgoing webhook (or, for `reorder`, one callback sequence).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Outgoing {
    pub latency: Duration,
    pub drop: bool,
    pub duplicate: bool,
    pub reorder: bool,
}

impl FaultBook {
    pub fn add(&self, spec: FaultSpec, targets: &[&str]) -> Result<u64, String> {
        if !targets.contains(&spec.target.as_str()) {
            return Err(format!("target must be one of: {}", targets.join(", ")));
        }
        if let Some(p) = spec.probability {
            if !(0.0..=1.0).contains(&p) {
                return Err("probability must be between 0 and 1".into());
            }
        }
        if spec
            .path_prefix
            .as_deref()
            .is_some_and(|p| !p.starts_with('/'))
        {
            return Err("path_prefix must start with /".into());
        }
        match spec.kind {
            FaultKind::Latency { ms } if ms > MAX_LATENCY_MS => {
                return Err(format!("latency ms must be at most {MAX_LATENCY_MS}"));
            }
            FaultKind::Status { code } if !(400..=599).contains(&code) => {
                return Err("status code must be between 400 and 599".into());
            }
            _ => {}
        }
        let outgoing_only = matches!(
            spec.kind,
            FaultKind::Latency { .. }
                | FaultKind::Outage
                | FaultKind::Duplicate
                | FaultKind::Reorder
        );
        if spec.target == crate::webhook::RECORD_NAME && !outgoing_only {
            return Err("webhooks faults are latency, outage, duplicate or reorder".into());
        }
        let mut active = lock(&self.active);
        prune(&mut active);
        if active.len() >= MAX_FAULTS {
            return Err(format!("at most {MAX_FAULTS} faults may be active"));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let expires = spec
            .duration_ms
            .map(|ms| crate::clock::deadline(Duration::from_millis(ms)));
        active.push(Active { id, spec, expires });
        Ok(id)
    }

    pub fn clear(&self) {
        lock(&self.active).clear();
    }

    pub fn list(&self) -> Vec<serde_json::Value> {
        let mut active = lock(&self.active);
        prune(&mut active);
        active
            .iter()
            .map(|a| {
                let mut v = serde_json::to_value(&a.spec).unwrap_or_default();
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("id".into(), a.id.into());
                }
                v
            })
            .collect()
    }

    /// Roll the dice for one request to `simulator` at `path`.
    pub fn incoming(&self, simulator: &str, path: &str) -> Incoming {
        let mut plan = Incoming::default();
        for spec in self.matching(|s| s.target == simulator, path) {
            match spec.kind {
                FaultKind::Latency { ms } => plan.latency += Duration::from_millis(ms),
                FaultKind::Duplicate | FaultKind::Reorder => {}
                kind if plan.terminal.is_none() => plan.terminal = Some(kind),
                _ => {}
            }
        }
        plan
    }

    /// Roll the dice for one webhook sent by `simulator` to a URL with `path`.
    pub fn outgoing(&self, simulator: &str, path: &str) -> Outgoing {
        let mut plan = Outgoing::default();
        let webhooks = crate::webhook::RECORD_NAME;
        for spec in self.matching(|s| s.target == webhooks || s.target == simulator, path) {
            let all = spec.target == webhooks;
            match spec.kind {
                FaultKind::Latency { ms } if all => plan.latency += Duration::from_millis(ms),
                FaultKind::Outage if all => plan.drop = true,
                FaultKind::Duplicate => plan.duplicate = true,
                FaultKind::Reorder => plan.reorder = true,
                _ => {}
            }
        }
        plan
    }

    fn matching(&self, target: impl Fn(&FaultSpec) -> bool, path: &str) -> Vec<FaultSpec> {
        let mut active = lock(&self.active);
        prune(&mut active);
        active
            .iter()
            .map(|a| &a.spec)
            .filter(|s| target(s))
            .filter(|s| s.path_prefix.as_deref().is_none_or(|p| path.starts_with(p)))
            .filter(|s| fastrand::f64() < s.probability.unwrap_or(1.0))
            .cloned()
            .collect()
    }
}

fn prune(active: &mut Vec<Active>) {
    let now = Instant::now();
    active.retain(|a| a.expires.is_none_or(|e| e > now));
}

/// Wrap a simulator's router so faults targeting it apply to its requests.
pub(crate) fn wrap(router: Router, shared: Shared, sim: &'static Simulator) -> Router {
    router.layer(middleware::from_fn_with_state((shared, sim), inject))
}

async fn inject(
    State((shared, sim)): State<(Shared, &'static Simulator)>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.extensions().get::<OriginalUri>().map_or_else(
        || request.uri().path().to_owned(),
        |u| u.0.path().to_owned(),
    );
    let plan = shared.faults.incoming(sim.name, &path);
    if !plan.latency.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(plan.latency) => {}
            () = shared.shutting_down() => {}
        }
    }
    let error = |code: StatusCode, message: &str| {
        (code, Json((sim.error_body)(code.as_u16(), message))).into_response()
    };
    match plan.terminal {
        None => next.run(request).await,
        Some(FaultKind::Status { code }) => error(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "Injected fault",
        ),
        Some(FaultKind::RateLimit { retry_after_secs }) => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
        Some(FaultKind::Timeout) => {
            tokio::select! {
                () = tokio::time::sleep(shared.options.fault_timeout_hold) => {}
                () = shared.shutting_down() => {}
            }
            error(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout")
        }
        Some(_) => {
            let mut response = error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}
