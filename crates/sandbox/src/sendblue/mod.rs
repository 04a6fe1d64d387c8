//! SendBlue (iMessage / SMS) simulator, mounted at `/sendblue` with SendBlue's own paths
//! (`/sendblue/api/send-message`, …).
//!
//! Everything SendBlue sends or answers about a message is the same "message object" (send
//! response, status callbacks, receive webhook, `/api/status`), built here in one place from the
//! documented examples. Webhooks carry no signature: SendBlue sends the configured secret itself in
//! `sb-signing-secret`.

mod api;
mod callbacks;
mod control;

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::shared::{lock, Reject, Shared};
use crate::{clock, Simulator};

pub(crate) const SIMULATOR: Simulator = Simulator {
    name: "sendblue",
    api,
    control: control::router,
    error_body,
};

/// An API account: credentials, webhook secret, and the lines (numbers) it may send from.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub api_key_id: String,
    pub api_secret_key: String,
    pub signing_secret: Option<String>,
    pub lines: Vec<String>,
    pub email: String,
}

/// How the simulated network treats one contact number.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recipient {
    /// `SMS` when the number has no iMessage: sends are downgraded and never reach DELIVERED.
    pub sms_only: bool,
    pub opted_out: bool,
    /// Every send to this number fails (ERROR callback, error_code 10001).
    pub fail: bool,
}

#[derive(Debug, Default)]
pub(crate) struct SendblueState {
    pub accounts: Vec<Account>,
    /// Receive-webhook URL per line.
    pub webhooks: HashMap<String, String>,
    pub recipients: HashMap<String, Recipient>,
    /// Message objects by `message_handle`.
    pub messages: HashMap<String, Value>,
    pub message_order: Vec<String>,
}

impl SendblueState {
    pub fn account_for_line(&self, line: &str) -> Option<&Account> {
        self.accounts
            .iter()
            .find(|a| a.lines.iter().any(|l| l == line))
    }

    pub fn recipient(&self, number: &str) -> Recipient {
        self.recipients.get(number).cloned().unwrap_or_default()
    }
}

/// `+` then 7 to 15 digits, the first not zero.
pub(crate) fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|d| {
        (7..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

/// The fields every message object shares; callers then set direction-specific ones.
pub(crate) struct MessageFacts<'a> {
    pub account: &'a Account,
    pub handle: &'a str,
    pub content: &'a str,
    pub media_url: &'a str,
    pub from_number: &'a str,
    pub number: &'a str,
    pub to_number: &'a str,
    pub line: &'a str,
    pub is_outbound: bool,
    pub status: &'a str,
    pub send_style: &'a str,
}

/// SendBlue's message object, field for field as the documented examples show it.
pub(crate) fn message_object(f: &MessageFacts<'_>) -> Value {
    let now = clock::now_iso();
    json!({
        "accountEmail": f.account.email,
        "content": f.content,
        "is_outbound": f.is_outbound,
        "status": f.status,
        "error_code": null,
        "error_message": null,
        "error_reason": null,
        "error_key": null,
        "error_detail": null,
        "message_handle": f.handle,
        "date_created": now,
        "date_sent": now,
        "date_updated": now,
        "from_number": f.from_number,
        "number": f.number,
        "to_number": f.to_number,
        "was_downgraded": null,
        "plan": "dedicated",
        "media_url": f.media_url,
        "message_type": "message",
        "group_id": "",
        "participants": if f.is_outbound { json!([]) } else { json!([f.number, f.line]) },
        "send_style": f.send_style,
        "opted_out": false,
        "sendblue_number": f.line,
        "service": null,
        "group_display_name": null,
    })
}

/// SendBlue's error shape: a message-object-like body with `status: ERROR`.
fn error_body(code: u16, message: &str) -> Value {
    json!({"status": "ERROR", "error_code": code, "error_message": message, "message": message})
}

pub(crate) fn error(status: StatusCode, error_code: u16, message: &str) -> Response {
    (status, Json(error_body(error_code, message))).into_response()
}

/// The account whose key id and secret are in the headers (`sb-api-key-id` /
/// `sb-api-secret-key`, or the `x-`-prefixed forms the security docs also accept).
pub(crate) fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<Account, Reject> {
    let header = |names: [&str; 2]| {
        names.iter().find_map(|n| {
            headers
                .get(*n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
    };
    let key = header(["sb-api-key-id", "x-sb-api-key-id"]);
    let secret = header(["sb-api-secret-key", "x-sb-api-secret-key"]);
    let state = lock(&shared.sendblue);
    state
        .accounts
        .iter()
        .find(|a| Some(&a.api_key_id) == key.as_ref() && Some(&a.api_secret_key) == secret.as_ref())
        .cloned()
        .ok_or_else(|| {
            Box::new(error(
                StatusCode::UNAUTHORIZED,
                401,
                "Invalid API credentials",
            ))
        })
}

fn api(shared: Shared) -> Router {
    Router::new()
        .route("/api/send-message", post(api::send_message))
        .route("/api/status", get(api::status))
        .route("/api/evaluate-service", get(api::evaluate_service))
        .route("/api/send-typing-indicator", post(api::typing_indicator))
        .route("/api/account/webhooks", get(api::account_webhooks))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(shared)
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, 404, "Not Found")
}
