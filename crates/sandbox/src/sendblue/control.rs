//! Control routes of the SendBlue simulator (`/_control/sendblue/...`): accounts and their lines,
//! receive-webhook URLs, how the network treats a number, and a contact writing in.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{is_e164, message_object, Account, MessageFacts, Recipient};
use crate::control::{inbound_webhook_url, parse, set_line_webhook, ControlError};
use crate::shared::{lock, Shared};
use crate::webhook::{deliver, Webhook};
use crate::{clock, ids};

/// SendBlue's built-in opt-out keywords; `start` opts back in.
const OPT_OUT: &[&str] = &[
    "stop",
    "unsubscribe",
    "cancel",
    "opt out",
    "revoke",
    "end",
    "quit",
];

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/sendblue/accounts", post(add_account))
        .route("/sendblue/webhooks", post(set_webhook))
        .route("/sendblue/recipients", post(set_recipient))
        .route("/sendblue/inbound", post(inbound))
        .route("/sendblue/messages", get(messages))
        .with_state(shared)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AccountBody {
    api_key_id: String,
    api_secret_key: String,
    signing_secret: Option<String>,
    #[serde(default)]
    lines: Vec<String>,
    email: Option<String>,
}

/// `POST /_control/sendblue/accounts` {apiKeyId, apiSecretKey, signingSecret?, lines, email?}:
/// add (or replace, by key id) an account.
async fn add_account(State(shared): State<Shared>, body: Bytes) -> Result<Response, ControlError> {
    let body: AccountBody = parse(&body)?;
    if let Some(bad) = body.lines.iter().find(|l| !is_e164(l)) {
        return Err(ControlError::bad_request(format!(
            "line {bad} is not E.164"
        )));
    }
    let account = Account {
        email: body
            .email
            .unwrap_or_else(|| format!("{}@sandbox.invalid", body.api_key_id)),
        api_key_id: body.api_key_id,
        api_secret_key: body.api_secret_key,
        signing_secret: body.signing_secret.filter(|s| !s.is_empty()),
        lines: body.lines,
    };
    let reply = json!({"apiKeyId": account.api_key_id, "lines": account.lines, "accountEmail": account.email});
    let mut state = lock(&shared.sendblue);
    state
        .accounts
        .retain(|a| a.api_key_id != account.api_key_id);
    state.accounts.push(account);
    Ok((StatusCode::CREATED, Json(reply)).into_response())
}

/// `POST /_control/sendblue/webhooks` {line, url}: where receive webhooks for `line` go (`url:
/// null` forgets it).
async fn set_webhook(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    set_line_webhook(&mut lock(&shared.sendblue).webhooks, &body)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RecipientBody {
    number: String,
    service: Option<String>,
    opted_out: Option<bool>,
    fail: Option<bool>,
}

/// `POST /_control/sendblue/recipients` {number, service?: iMessage|SMS, optedOut?, fail?}.
async fn set_recipient(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let body: RecipientBody = parse(&body)?;
    let mut state = lock(&shared.sendblue);
    let recipient = state
        .recipients
        .entry(body.number.clone())
        .or_insert_with(Recipient::default);
    match body.service.as_deref() {
        None => {}
        Some("iMessage") => recipient.sms_only = false,
        Some("SMS") => recipient.sms_only = true,
        Some(other) => {
            return Err(ControlError::bad_request(format!(
                "service {other}: use iMessage or SMS"
            )))
        }
    }
    if let Some(v) = body.opted_out {
        recipient.opted_out = v;
    }
    if let Some(v) = body.fail {
        recipient.fail = v;
    }
    let r = recipient.clone();
    Ok(Json(json!({
        "number": body.number,
        "service": if r.sms_only { "SMS" } else { "iMessage" },
        "optedOut": r.opted_out,
        "fail": r.fail,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InboundBody {
    line: String,
    from: String,
    #[serde(default)]
    content: String,
    #[serde(alias = "media_url")]
    media_url: Option<String>,
    #[serde(alias = "channel_id")]
    channel_id: Option<String>,
    url: Option<String>,
}

/// `POST /_control/sendblue/inbound` {line, from, content, media_url?, channelId?, url?}: the
/// contact `from` writes to `line`. The receive webhook goes to `url`, else the URL registered for
/// the line, else `{gateway}/webhooks/sendblue/{channelId}`. An opt-out keyword opts the contact
/// out (and `start` back in), as SendBlue does.
async fn inbound(State(shared): State<Shared>, body: Bytes) -> Result<Json<Value>, ControlError> {
    let body: InboundBody = parse(&body)?;
    if !is_e164(&body.from) {
        return Err(ControlError::bad_request("from must be E.164"));
    }
    let media_url = body.media_url.unwrap_or_default();
    if body.content.is_empty() && media_url.is_empty() {
        return Err(ControlError::bad_request(
            "content or media_url is required",
        ));
    }
    let (payload, url, secret) = {
        let mut state = lock(&shared.sendblue);
        let account = state
            .account_for_line(&body.line)
            .cloned()
            .ok_or_else(|| ControlError::not_found(format!("no account has line {}", body.line)))?;
        let url = inbound_webhook_url(
            &shared,
            "sendblue",
            &state.webhooks,
            &body.line,
            body.url.as_deref(),
            body.channel_id.as_deref(),
        )?;
        let keyword = body.content.trim().to_lowercase();
        let recipient = state.recipients.entry(body.from.clone()).or_default();
        if OPT_OUT.contains(&keyword.as_str()) {
            recipient.opted_out = true;
        } else if keyword == "start" {
            recipient.opted_out = false;
        }
        let recipient = recipient.clone();
        let handle = ids::uuid_v4().to_uppercase();
        let mut payload = message_object(&MessageFacts {
            account: &account,
            handle: &handle,
            content: &body.content,
            media_url: &media_url,
            from_number: &body.from,
            number: &body.from,
            to_number: &body.line,
            line: &body.line,
            is_outbound: false,
            status: "RECEIVED",
            send_style: "",
        });
        payload["opted_out"] = recipient.opted_out.into();
        payload["service"] = if recipient.sms_only {
            "SMS"
        } else {
            "iMessage"
        }
        .into();
        payload["date_updated"] = clock::now_iso().into();
        state.message_order.push(handle.clone());
        state.messages.insert(handle, payload.clone());
        (payload, url, account.signing_secret)
    };
    let raw = serde_json::to_vec(&payload).map_err(|e| ControlError::bad_request(e.to_string()))?;
    let headers = secret
        .map(|s| vec![("sb-signing-secret", s)])
        .unwrap_or_default();
    let delivery = deliver(
        &shared,
        super::SIMULATOR.name,
        Webhook {
            url: url.clone(),
            headers,
            body: raw,
        },
    )
    .await;
    Ok(Json(json!({
        "messageHandle": payload["message_handle"],
        "url": url,
        "gatewayStatus": delivery.status,
        "delivery": delivery,
    })))
}

/// `GET /_control/sendblue/messages`: every message object, sent and received, in order.
async fn messages(State(shared): State<Shared>) -> Json<Vec<Value>> {
    let state = lock(&shared.sendblue);
    Json(
        state
            .message_order
            .iter()
            .filter_map(|h| state.messages.get(h))
            .cloned()
            .collect(),
    )
}
