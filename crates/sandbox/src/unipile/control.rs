//! Control routes of the UniPile simulator (`/_control/unipile/...`): accounts, webhook URLs,
//! a contact writing in, and every message stored.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::hooks::{post as post_webhook, store, NewMessage};
use super::{id, whatsapp_id, Account};
use crate::control::{inbound_webhook_url, parse, set_line_webhook, ControlError};
use crate::shared::{lock, Shared};
use crate::twilio::is_e164;

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/unipile/accounts", post(add_account))
        .route("/unipile/webhooks", post(set_webhook))
        .route("/unipile/inbound", post(inbound))
        .route("/unipile/messages", get(messages))
        .with_state(shared)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AccountBody {
    account_id: Option<String>,
    api_key: Option<String>,
    line: String,
    webhook_secret: Option<String>,
}

/// `POST /_control/unipile/accounts` {line, accountId?, apiKey?, webhookSecret?}: connect a
/// WhatsApp account (or replace it, by id). Ids and key are generated when not given;
/// `webhookSecret` is what its webhook sends in `X-Switchboard-Secret` (none: no header).
async fn add_account(State(shared): State<Shared>, body: Bytes) -> Result<Response, ControlError> {
    let body: AccountBody = parse(&body)?;
    if !is_e164(&body.line) {
        return Err(ControlError::bad_request(format!(
            "line {} is not E.164",
            body.line
        )));
    }
    let account = Account {
        id: body.account_id.unwrap_or_else(id),
        api_key: body.api_key.unwrap_or_else(id),
        line: body.line,
        webhook_secret: body.webhook_secret,
    };
    let reply = json!({
        "accountId": account.id, "apiKey": account.api_key, "line": account.line,
        "userId": account.user_id(), "webhookSecret": account.webhook_secret,
    });
    let mut state = lock(&shared.unipile);
    state.accounts.retain(|a| a.id != account.id);
    state.accounts.push(account);
    Ok((StatusCode::CREATED, Json(reply)).into_response())
}

/// `POST /_control/unipile/webhooks` {line, url}: where the account's webhooks go (`url:
/// null` forgets it). Echoes of sent messages go there.
async fn set_webhook(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    set_line_webhook(&mut lock(&shared.unipile).webhooks, &body)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InboundBody {
    line: String,
    from: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    attachments: Vec<FileBody>,
    channel_id: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileBody {
    file_name: String,
    mimetype: String,
    /// The content, standard base64.
    data: String,
}

/// `POST /_control/unipile/inbound` {line, from, body, attachments?, channelId?, url?}: the
/// contact `from` writes to the account on `line`, in their chat (created or reused). The
/// `message_received` webhook goes to `url`, else the line's registered URL, else
/// `{gateway}/webhooks/unipile/{channelId}`.
async fn inbound(State(shared): State<Shared>, body: Bytes) -> Result<Json<Value>, ControlError> {
    let body: InboundBody = parse(&body)?;
    if !is_e164(&body.from) {
        return Err(ControlError::bad_request("from must be E.164"));
    }
    if body.body.is_empty() && body.attachments.is_empty() {
        return Err(ControlError::bad_request("body or attachments is required"));
    }
    let mut files = Vec::new();
    for file in body.attachments {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(file.data.trim())
            .map_err(|e| ControlError::bad_request(format!("attachment data: {e}")))?;
        files.push((file.file_name, file.mimetype, bytes));
    }
    let (account, chat, url) = {
        let mut state = lock(&shared.unipile);
        let account = state
            .accounts
            .iter()
            .find(|a| a.line == body.line)
            .cloned()
            .ok_or_else(|| ControlError::not_found(format!("no account has line {}", body.line)))?;
        let url = inbound_webhook_url(
            &shared,
            "unipile",
            &state.webhooks,
            &body.line,
            body.url.as_deref(),
            body.channel_id.as_deref(),
        )?;
        let chat = state.chat_with(&account, &whatsapp_id(&body.from));
        (account, chat, url)
    };
    let (message_id, payload) = store(
        &shared,
        NewMessage {
            account: &account,
            chat: &chat,
            from_account: false,
            text: &body.body,
            files,
        },
    );
    let delivery = post_webhook(&shared, &account, url.clone(), &payload).await;
    Ok(Json(json!({
        "messageId": message_id,
        "chatId": chat.id,
        "url": url,
        "payload": payload,
        "gatewayStatus": delivery.status,
        "delivery": delivery,
    })))
}

/// `GET /_control/unipile/messages`: every message, sent and received, in order, as
/// UniPile's message object.
async fn messages(State(shared): State<Shared>) -> Json<Vec<Value>> {
    Json(lock(&shared.unipile).messages.clone())
}
