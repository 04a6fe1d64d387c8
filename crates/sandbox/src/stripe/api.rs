//! `POST /stripe/v1/billing/meter_events`: form-encoded, as Stripe's v1 API.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::{error, Replay};
use crate::ids;
use crate::shared::{lock, Reject, Shared};

/// How far back a meter event's timestamp may be (35 days) and ahead (5 minutes).
const MAX_PAST_SECS: i64 = 35 * 86_400;
const MAX_FUTURE_SECS: i64 = 300;

pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// The secret key, from `Authorization: Bearer sk_…` or Basic with the key as user name (the
/// way `curl -u sk_…:` sends it).
fn authenticate(headers: &HeaderMap) -> Result<(), Reject> {
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let key = if let Some(key) = value.strip_prefix("Bearer ") {
        Some(key.trim().to_string())
    } else {
        value
            .strip_prefix("Basic ")
            .and_then(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .ok()
            })
            .and_then(|raw| String::from_utf8(raw).ok())
            .map(|user| user.split(':').next().unwrap_or_default().to_string())
    };
    match key {
        Some(key) if key.starts_with("sk_") && key.len() > 3 => Ok(()),
        Some(_) => Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            None,
            None,
            "Invalid API Key provided.",
        ))),
        None => Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            None,
            None,
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        ))),
    }
}

fn bad(code: &str, param: &str, message: &str) -> Reject {
    Box::new(error(
        StatusCode::BAD_REQUEST,
        Some(code),
        Some(param),
        message,
    ))
}

/// The fields of a meter event, checked as Stripe checks them.
fn validate(body: &[u8]) -> Result<Value, Reject> {
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    let mut payload = Map::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        if let Some(inner) = key
            .strip_prefix("payload[")
            .and_then(|k| k.strip_suffix(']'))
        {
            payload.insert(inner.to_string(), Value::String(value.into_owned()));
        } else if matches!(key.as_ref(), "event_name" | "identifier" | "timestamp") {
            fields.insert(key.into_owned(), value.into_owned());
        } else {
            return Err(bad(
                "parameter_unknown",
                &key,
                &format!("Received unknown parameter: {key}"),
            ));
        }
    }
    let event_name = fields
        .get("event_name")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            bad(
                "parameter_missing",
                "event_name",
                "Missing required param: event_name.",
            )
        })?;
    for key in ["stripe_customer_id", "value"] {
        if payload
            .get(key)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            let param = format!("payload[{key}]");
            return Err(bad(
                "parameter_missing",
                &param,
                &format!("Missing required param: {param}."),
            ));
        }
    }
    let value = payload["value"].as_str().unwrap_or_default();
    if value.parse::<f64>().map_or(true, |v| !v.is_finite()) {
        return Err(bad(
            "parameter_invalid_integer",
            "payload[value]",
            "Invalid number: payload[value].",
        ));
    }
    let now = now_unix();
    let timestamp = match fields.get("timestamp") {
        None => now,
        Some(t) => t.parse::<i64>().map_err(|_| {
            bad(
                "parameter_invalid_integer",
                "timestamp",
                "Invalid integer: timestamp.",
            )
        })?,
    };
    if timestamp < now.saturating_sub(MAX_PAST_SECS) {
        return Err(bad(
            "timestamp_too_far_in_past",
            "timestamp",
            "Timestamp must be within the past 35 days.",
        ));
    }
    if timestamp > now.saturating_add(MAX_FUTURE_SECS) {
        return Err(bad(
            "timestamp_in_future",
            "timestamp",
            "Timestamp must not be more than 5 minutes in the future.",
        ));
    }
    let identifier = fields
        .get("identifier")
        .filter(|v| !v.is_empty())
        .cloned()
        .unwrap_or_else(ids::uuid_v4);
    Ok(json!({
        "object": "billing.meter_event",
        "created": now,
        "event_name": event_name,
        "identifier": identifier,
        "livemode": false,
        "payload": payload,
        "timestamp": timestamp,
    }))
}

fn answer(status: StatusCode, body: Value, replayed: bool) -> Response {
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&format!("req_{:014x}", fastrand::u64(..))) {
        headers.insert("request-id", id);
    }
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// Records a meter event, once per `identifier`; an `Idempotency-Key` seen before with the
/// same body replays its first answer, with another body is refused as Stripe does.
pub(crate) async fn create_meter_event(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = authenticate(&headers) {
        return *refusal;
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(key) = &key {
        if let Some(replay) = lock(&shared.stripe).idempotency.get(key) {
            if replay.body != body.as_ref() {
                let body = json!({"error": {
                    "type": "idempotency_error",
                    "message": "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request.".replace("{key}", key),
                }});
                return answer(StatusCode::BAD_REQUEST, body, false);
            }
            return answer(replay.status, replay.answer.clone(), true);
        }
    }
    // Failed validation is not saved under the key, as at Stripe: a corrected retry may reuse it.
    let event = match validate(&body) {
        Ok(event) => event,
        Err(refusal) => return *refusal,
    };
    let mut state = lock(&shared.stripe);
    let identifier = event["identifier"].as_str().unwrap_or_default().to_string();
    let recorded = match state.by_identifier.get(&identifier) {
        Some(&index) => state.meter_events[index].clone(),
        None => {
            let index = state.meter_events.len();
            state.meter_events.push(event.clone());
            state.by_identifier.insert(identifier, index);
            event
        }
    };
    if let Some(key) = key {
        state.idempotency.insert(
            key,
            Replay {
                body: body.to_vec(),
                status: StatusCode::OK,
                answer: recorded.clone(),
            },
        );
    }
    answer(StatusCode::OK, recorded, false)
}
