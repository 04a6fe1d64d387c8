//! UniPile messaging simulator (API v1), mounted at `/unipile` with UniPile's own paths
//! (`/unipile/api/v1/chats/{chat_id}/messages`), so a client whose DSN base is
//! `http://HOST/unipile` works unchanged.
//!
//! Built from providers.md §4: `X-API-KEY` on every call (one key per workspace, several
//! WhatsApp accounts under it), multipart sends parsed for real (`text`, repeated
//! `attachments` files; `account_id` and `attendees_ids` to start a chat), 201
//! `{"object":"MessageSent","message_id":…}` into a chat and
//! `{"object":"ChatStarted","chat_id":…,"message_id":…}` for a new one (the reference's
//! CONFLICT, answered with both ids), errors as UniPile's problem document
//! `{status, type, title, detail}`. One chat per (account, attendee), reused.
//!
//! Webhooks: a contact writing in (`POST /_control/unipile/inbound`) posts
//! `message_received`; so does every message sent through the API (the echo UniPile sends
//! for the account's own messages), which the gateway must drop. UniPile signs nothing: each
//! webhook carries the header the operator configured, `X-Switchboard-Secret`, with the
//! account's `webhookSecret`. Besides the documented fields, payloads carry `account_info`
//! with the owner's `user_id` (UNCONFIRMED in providers.md; it is how an echo is told
//! apart) and no `is_sender`.

mod api;
mod control;
mod hooks;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::shared::{lock, Reject, Shared};
use crate::Simulator;

pub(crate) const SIMULATOR: Simulator = Simulator {
    name: "unipile",
    api,
    control: control::router,
    error_body,
};

/// One connected WhatsApp account.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub id: String,
    /// The workspace's API key (`X-API-KEY`).
    pub api_key: String,
    /// The phone's number, E.164.
    pub line: String,
    /// The value of the `X-Switchboard-Secret` header configured on its webhook.
    pub webhook_secret: Option<String>,
}

impl Account {
    /// The account owner's WhatsApp id.
    pub fn user_id(&self) -> String {
        whatsapp_id(&self.line)
    }
}

/// A one-to-one chat between an account and a contact.
#[derive(Debug, Clone)]
pub(crate) struct Chat {
    pub id: String,
    pub account_id: String,
    /// The contact's WhatsApp id.
    pub attendee: String,
    pub attendee_id: String,
}

/// A stored attachment, downloadable by message and attachment id.
#[derive(Debug, Clone)]
pub(crate) struct Attachment {
    pub id: String,
    pub message_id: String,
    pub account_id: String,
    pub file_name: String,
    pub mimetype: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Default)]
pub(crate) struct UnipileState {
    pub accounts: Vec<Account>,
    /// Webhook URL per line.
    pub webhooks: std::collections::HashMap<String, String>,
    pub chats: Vec<Chat>,
    pub attachments: Vec<Attachment>,
    /// Every message, sent and received, as UniPile's message object, in order.
    pub messages: Vec<Value>,
}

impl UnipileState {
    /// The chat of `account` with `attendee`, created on first use.
    pub fn chat_with(&mut self, account: &Account, attendee: &str) -> Chat {
        if let Some(chat) = self
            .chats
            .iter()
            .find(|c| c.account_id == account.id && c.attendee == attendee)
        {
            return chat.clone();
        }
        let chat = Chat {
            id: id(),
            account_id: account.id.clone(),
            attendee: attendee.to_string(),
            attendee_id: id(),
        };
        self.chats.push(chat.clone());
        chat
    }
}

/// A UniPile id: 16 random bytes, base64url without padding (`ykmhfXlRW0W_cqReJYrfBw`).
pub(crate) fn id() -> String {
    let bytes: Vec<u8> = (0..16).map(|_| fastrand::u8(..)).collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `+33600000000` → `33600000000@s.whatsapp.net`.
pub(crate) fn whatsapp_id(e164: &str) -> String {
    format!("{}@s.whatsapp.net", e164.trim_start_matches('+'))
}

/// `33600000000@s.whatsapp.net` → `+33600000000`, for person ids only.
pub(crate) fn phone_of(id: &str) -> Option<String> {
    let digits = id.strip_suffix("@s.whatsapp.net")?;
    let ok = (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then(|| format!("+{digits}"))
}

/// UniPile's problem document; injected faults use the `type`s UniPile uses for them.
fn error_body(status: u16, message: &str) -> Value {
    let kind = match status {
        401 => "errors/missing_credentials",
        403 => "errors/insufficient_permissions",
        404 => "errors/resource_not_found",
        429 => "errors/too_many_requests",
        504 => "errors/request_timeout",
        500..=599 => "errors/unexpected_error",
        _ => "errors/invalid_parameters",
    };
    problem(status, kind, message)
}

fn problem(status: u16, kind: &str, detail: &str) -> Value {
    let title = match status {
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        _ if status >= 500 => "Internal Server Error",
        _ => "Bad Request",
    };
    json!({"title": title, "detail": detail, "type": kind, "status": status})
}

pub(crate) fn error(status: StatusCode, kind: &str, detail: &str) -> Response {
    (status, Json(problem(status.as_u16(), kind, detail))).into_response()
}

/// The accounts of the workspace whose key is `X-API-KEY`; 401 otherwise.
pub(crate) fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<Vec<Account>, Reject> {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let accounts: Vec<Account> = match key {
        Some(key) => lock(&shared.unipile)
            .accounts
            .iter()
            .filter(|a| a.api_key == key)
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    if accounts.is_empty() {
        let detail = if key.is_some() {
            "The provided API key is invalid."
        } else {
            "The X-API-KEY header is missing."
        };
        return Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "errors/missing_credentials",
            detail,
        )));
    }
    Ok(accounts)
}

fn api(shared: Shared) -> Router {
    Router::new()
        .route("/api/v1/accounts/{account_id}", get(api::account))
        .route("/api/v1/chats", post(api::start_chat))
        .route("/api/v1/chats/{chat_id}/messages", post(api::send_in_chat))
        .route(
            "/api/v1/messages/{message_id}/attachments/{attachment_id}",
            get(api::attachment),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(shared)
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "errors/resource_not_found",
        "The requested resource was not found.",
    )
}
