//! Stripe simulator, mounted at `/stripe` with Stripe's own paths, built from the reference's
//! §5: Billing Meter events (`POST /stripe/v1/billing/meter_events`) the gateway reports usage
//! with, and signed webhook events it receives (sent from the control API, since the
//! subscriptions they describe live in Stripe's dashboard, not in this simulator).
//!
//! Meter events are deduplicated by `identifier` as Stripe does (a repeat is answered with
//! the event already recorded), and `Idempotency-Key` replays the first answer.

mod api;
mod control;

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::shared::Shared;
use crate::Simulator;

pub(crate) const SIMULATOR: Simulator = Simulator {
    name: "stripe",
    api,
    control: control::router,
    error_body,
};

/// The secret the simulator signs webhook events with (`Stripe-Signature`): give it to the
/// gateway as its Stripe webhook signing secret.
pub const WEBHOOK_SECRET: &str = "whsec_sandbox";

/// The API version events are rendered in: the newer shapes (periods on subscription items,
/// an invoice's subscription under `parent`), which a gateway must read.
pub(crate) const API_VERSION: &str = "2025-04-30.basil";

/// A request answered under an `Idempotency-Key`: the body it came with and the answer.
#[derive(Debug, Clone)]
pub(crate) struct Replay {
    pub body: Vec<u8>,
    pub status: StatusCode,
    pub answer: Value,
}

#[derive(Debug, Default)]
pub(crate) struct StripeState {
    /// Distinct meter events, in arrival order.
    pub meter_events: Vec<Value>,
    /// `identifier` → index in `meter_events`.
    pub by_identifier: HashMap<String, usize>,
    /// `Idempotency-Key` → the first request and its answer.
    pub idempotency: HashMap<String, Replay>,
    /// Webhook events sent, by id: their exact bytes and where they went, for resends.
    pub events: HashMap<String, (Vec<u8>, String)>,
}

/// Stripe's error shape: `{"error": {"type", "code"?, "message", "param"?}}`.
fn error_body(status: u16, message: &str) -> Value {
    match status {
        429 => {
            json!({"error": {"type": "invalid_request_error", "code": "rate_limit", "message": message}})
        }
        400..=499 => json!({"error": {"type": "invalid_request_error", "message": message}}),
        _ => json!({"error": {"type": "api_error", "message": message}}),
    }
}

/// A Stripe error answer, with `code` and `param` when there are some.
pub(crate) fn error(
    status: StatusCode,
    code: Option<&str>,
    param: Option<&str>,
    message: &str,
) -> Response {
    let mut body = error_body(status.as_u16(), message);
    if let Some(code) = code {
        body["error"]["code"] = code.into();
    }
    if let Some(param) = param {
        body["error"]["param"] = param.into();
    }
    (status, Json(body)).into_response()
}

fn api(shared: Shared) -> Router {
    Router::new()
        .route("/v1/billing/meter_events", post(api::create_meter_event))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(shared)
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        None,
        None,
        "Unrecognized request URL. Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
    )
}
