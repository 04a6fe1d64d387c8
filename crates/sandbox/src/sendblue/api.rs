//! SendBlue's API: send a message, read its status, evaluate a number's service, typing indicator.
//!
//! `send-message` is strict where the references allow it: `from_number` is required (the docs
//! table marks it so; shared-line auto-selection is a plan feature a gateway must not rely on),
//! numbers must be E.164, and a contact who opted out is refused with `error_key: OPTED_OUT`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::callbacks::{spawn_callbacks, Outcome};
use super::{authenticate, error, is_e164, message_object, MessageFacts};
use crate::ids;
use crate::shared::{lock, Reject, Shared};

const SEND_STYLES: &[&str] = &[
    "celebration",
    "shooting_star",
    "fireworks",
    "lasers",
    "love",
    "confetti",
    "balloons",
    "spotlight",
    "echo",
    "invisible",
    "gentle",
    "loud",
    "slam",
];
/// Longest `content` the docs allow ("under 18 996 characters").
const MAX_CONTENT: usize = 18_995;

fn invalid(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, 4000, message)
}

fn is_http_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// An optional string field: absent or null is `None`, another type is an error.
fn string_field<'a>(body: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, Reject> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(Box::new(invalid(&format!("{key} must be a string")))),
    }
}

/// `POST /api/send-message` → 200 message object with `status: QUEUED`; status callbacks follow.
pub(crate) async fn send_message(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let account = match authenticate(&shared, &headers) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return invalid("Request body must be a JSON object");
    };
    let fields = [
        "number",
        "from_number",
        "content",
        "media_url",
        "status_callback",
        "send_style",
    ];
    let mut values: HashMap<&str, Option<&str>> = HashMap::new();
    for key in fields {
        match string_field(&body, key) {
            Ok(v) => values.insert(key, v.filter(|s| !s.is_empty())),
            Err(response) => return *response,
        };
    }
    let get = |k: &str| values.get(k).copied().flatten();
    let Some(number) = get("number") else {
        return invalid("number is required");
    };
    if !is_e164(number) {
        return invalid("number must be a valid E.164 phone number, e.g. +19998887777");
    }
    let Some(line) = get("from_number") else {
        return invalid("from_number is required");
    };
    if !account.lines.iter().any(|l| l == line) {
        return invalid("from_number is not a Sendblue line of this account");
    }
    let content = get("content").unwrap_or_default();
    let media_url = get("media_url").unwrap_or_default();
    if content.is_empty() && media_url.is_empty() && body.get("app_card").is_none_or(Value::is_null)
    {
        return invalid("content or media_url is required");
    }
    if content.chars().count() > MAX_CONTENT {
        return invalid("content must be under 18996 characters");
    }
    if !media_url.is_empty() && !is_http_url(media_url) {
        return invalid("media_url must be a public http(s) URL");
    }
    if get("status_callback").is_some_and(|u| !is_http_url(u)) {
        return invalid("status_callback must be an http(s) URL");
    }
    let send_style = get("send_style").unwrap_or_default();
    if !send_style.is_empty() && !SEND_STYLES.contains(&send_style) {
        return invalid(&format!(
            "send_style must be one of: {}",
            SEND_STYLES.join(", ")
        ));
    }
    let handle = ids::uuid_v4();
    let mut object = message_object(&MessageFacts {
        account: &account,
        handle: &handle,
        content,
        media_url,
        from_number: line,
        number,
        to_number: number,
        line,
        is_outbound: true,
        status: "QUEUED",
        send_style,
    });
    let recipient = lock(&shared.sendblue).recipient(number);
    if recipient.opted_out {
        object["status"] = "ERROR".into();
        object["error_code"] = 4000.into();
        object["error_key"] = "OPTED_OUT".into();
        object["error_message"] =
            "Recipient has opted out of receiving messages from this line".into();
        object["opted_out"] = true.into();
        return (StatusCode::BAD_REQUEST, Json(object)).into_response();
    }
    {
        let mut state = lock(&shared.sendblue);
        state.message_order.push(handle.clone());
        state.messages.insert(handle.clone(), object.clone());
    }
    let outcome = if recipient.fail {
        Outcome::Fail
    } else if recipient.sms_only {
        Outcome::Sms
    } else {
        Outcome::IMessage
    };
    let callback = get("status_callback").map(str::to_owned);
    spawn_callbacks(
        shared,
        handle,
        callback,
        account.signing_secret.clone(),
        outcome,
    );
    Json(object).into_response()
}

/// `GET /api/status?handle=…` → the message object as it is now.
pub(crate) async fn status(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let account = match authenticate(&shared, &headers) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let state = lock(&shared.sendblue);
    let found = query
        .get("handle")
        .and_then(|h| state.messages.get(h))
        .filter(|m| {
            let line = m
                .get("sendblue_number")
                .and_then(Value::as_str)
                .unwrap_or_default();
            account.lines.iter().any(|l| l == line)
        });
    match found {
        Some(m) => Json(m.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, 4000, "Message not found"),
    }
}

/// `GET /api/evaluate-service?number=…` → `{number, service}`.
pub(crate) async fn evaluate_service(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = authenticate(&shared, &headers) {
        return *response;
    }
    let Some(number) = query.get("number").filter(|n| !n.is_empty()) else {
        return invalid("number is required");
    };
    let sms = lock(&shared.sendblue).recipient(number).sms_only;
    Json(json!({"number": number, "service": if sms { "SMS" } else { "iMessage" }})).into_response()
}

/// `POST /api/send-typing-indicator` {number, from_number, state?} → `{number, status, error_message}`.
pub(crate) async fn typing_indicator(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let account = match authenticate(&shared, &headers) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return invalid("Request body must be a JSON object");
    };
    let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default();
    if !is_e164(text("number")) {
        return invalid("number must be a valid E.164 phone number");
    }
    if !account.lines.iter().any(|l| l == text("from_number")) {
        return invalid("from_number is not a Sendblue line of this account");
    }
    if !matches!(body.get("state"), None | Some(Value::Null))
        && !["start", "stop"].contains(&text("state"))
    {
        return invalid("state must be start or stop");
    }
    Json(json!({"number": text("number"), "status": "SENT", "error_message": null})).into_response()
}

/// `GET /api/account/webhooks` → the account's receive webhooks, one per line that has
/// one (the shape of the configuration body, `{webhooks: [{url, sendblue_numbers}]}`;
/// secrets are never read back). Wrong credentials get the 401 every call gets: gateways
/// use this cheap read to check credentials.
pub(crate) async fn account_webhooks(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let account = match authenticate(&shared, &headers) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let state = lock(&shared.sendblue);
    let webhooks: Vec<Value> = account
        .lines
        .iter()
        .filter_map(|line| {
            let url = state.webhooks.get(line)?;
            Some(json!({"url": url, "sendblue_numbers": [line]}))
        })
        .collect();
    Json(json!({"webhooks": webhooks, "type": "receive"})).into_response()
}
