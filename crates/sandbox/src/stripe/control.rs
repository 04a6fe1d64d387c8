//! Control routes of the Stripe simulator (`/_control/stripe/...`): the meter events received,
//! and webhook events built, signed and posted to the gateway's `/webhooks/stripe`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::now_unix;
use super::{API_VERSION, WEBHOOK_SECRET};
use crate::control::{parse, ControlError};
use crate::shared::{lock, Shared};
use crate::webhook::{deliver, Webhook};

/// Signs `bad_signature` sends: anything but the real secret.
const WRONG_SECRET: &str = "whsec_not_the_sandbox_secret";

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/stripe/meter_events", get(meter_events))
        .route("/stripe/events", post(send_event))
        .route("/stripe/events/{id}/resend", post(resend_event))
        .with_state(shared)
}

/// `GET /_control/stripe/meter_events`: the distinct meter events, in arrival order.
async fn meter_events(State(shared): State<Shared>) -> Json<Vec<Value>> {
    Json(lock(&shared.stripe).meter_events.clone())
}

/// How to sign a send: at `timestamp` (default now; an old one tests replay protection),
/// with a wrong secret when `bad_signature`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Signing {
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    bad_signature: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventBody {
    #[serde(rename = "type")]
    kind: String,
    object: Value,
    #[serde(default)]
    created: Option<i64>,
    /// Only on `*.updated` events, as at Stripe.
    #[serde(default)]
    previous_attributes: Option<Value>,
    /// Where to post instead of the gateway's `/webhooks/stripe`.
    #[serde(default)]
    url: Option<String>,
    #[serde(flatten)]
    signing: Signing,
}

/// A Stripe-shaped event id (`evt_` and 24 alphanumerics).
fn event_id() -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let tail: String = (0..24)
        .map(|_| char::from(ALNUM[fastrand::usize(..ALNUM.len())]))
        .collect();
    format!("evt_{tail}")
}

/// `POST /_control/stripe/events` {type, object, created?, previous_attributes?, url?,
/// timestamp?, bad_signature?}: wraps `object` in an event envelope, signs it and posts it
/// to the gateway; answers `{event_id, status}` (the gateway's HTTP status).
async fn send_event(State(shared): State<Shared>, body: Bytes) -> Result<Response, ControlError> {
    let body: EventBody = parse(&body)?;
    if body.kind.is_empty() || !body.object.is_object() {
        return Err(ControlError::bad_request(
            "type must be an event type and object a JSON object",
        ));
    }
    let url = match body.url {
        Some(url) => url,
        None => shared
            .gateway()
            .map(|gateway| format!("{gateway}/webhooks/stripe"))
            .ok_or_else(|| ControlError::bad_request("no gateway URL set: give url"))?,
    };
    let id = event_id();
    let mut data = json!({"object": body.object});
    if let Some(previous) = body.previous_attributes {
        data["previous_attributes"] = previous;
    }
    let event = json!({
        "id": id,
        "object": "event",
        "api_version": API_VERSION,
        "created": body.created.unwrap_or_else(now_unix),
        "data": data,
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": body.kind,
    });
    let raw = serde_json::to_vec(&event).map_err(|e| ControlError::bad_request(e.to_string()))?;
    lock(&shared.stripe)
        .events
        .insert(id.clone(), (raw.clone(), url.clone()));
    post_signed(&shared, id, raw, url, body.signing).await
}

/// `POST /_control/stripe/events/{id}/resend` {timestamp?, bad_signature?}: the same bytes
/// again, signed anew (now, by default), as Stripe's retries and a replay attacker would.
async fn resend_event(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let signing: Signing = parse(&body)?;
    let (raw, url) = lock(&shared.stripe)
        .events
        .get(&id)
        .cloned()
        .ok_or_else(|| ControlError::not_found(format!("no event {id} was sent")))?;
    post_signed(&shared, id, raw, url, signing).await
}

async fn post_signed(
    shared: &Shared,
    id: String,
    raw: Vec<u8>,
    url: String,
    signing: Signing,
) -> Result<Response, ControlError> {
    let secret = if signing.bad_signature {
        WRONG_SECRET
    } else {
        WEBHOOK_SECRET
    };
    let t = signing.timestamp.unwrap_or_else(now_unix);
    let signature = billing::signature_header(secret, t, &raw);
    let delivery = deliver(
        shared,
        super::SIMULATOR.name,
        Webhook {
            url,
            headers: vec![("stripe-signature", signature)],
            body: raw,
        },
    )
    .await;
    Ok(
        Json(json!({"event_id": id, "status": delivery.status, "delivery": delivery}))
            .into_response(),
    )
}
