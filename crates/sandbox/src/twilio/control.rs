//! Control routes of the Twilio simulator (`/_control/twilio/...`): accounts and their numbers,
//! messaging webhook URLs, how the network treats a number, and a contact writing in.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::{resource, Facts};
use super::{encode_form, is_e164, sid, sign, webhook_headers, Account, API_VERSION};
use crate::control::{inbound_webhook_url, parse, set_line_webhook, ControlError};
use crate::shared::{lock, Shared};
use crate::webhook::{deliver, Webhook};

/// Twilio's default opt-out keywords (long code / toll-free), with the two the Advanced
/// Opt-Out tutorial adds.
const OPT_OUT: &[&str] = &[
    "stop",
    "stopall",
    "unsubscribe",
    "cancel",
    "end",
    "quit",
    "revoke",
    "optout",
];
const OPT_IN: &[&str] = &["start", "yes", "unstop"];
const HELP: &[&str] = &["help", "info"];

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/twilio/accounts", post(add_account))
        .route("/twilio/webhooks", post(set_webhook))
        .route("/twilio/recipients", post(set_recipient))
        .route("/twilio/inbound", post(inbound))
        .route("/twilio/messages", get(messages))
        .with_state(shared)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AccountBody {
    account_sid: Option<String>,
    auth_token: Option<String>,
    #[serde(default)]
    lines: Vec<String>,
    messaging_service_sid: Option<String>,
    #[serde(default)]
    advanced_opt_out: bool,
}

/// `POST /_control/twilio/accounts` {accountSid?, authToken?, lines, messagingServiceSid?,
/// advancedOptOut?}: add (or replace, by SID) an account; SID and token are generated when
/// not given.
async fn add_account(State(shared): State<Shared>, body: Bytes) -> Result<Response, ControlError> {
    let body: AccountBody = parse(&body)?;
    if let Some(bad) = body.lines.iter().find(|l| !is_e164(l)) {
        return Err(ControlError::bad_request(format!(
            "line {bad} is not E.164"
        )));
    }
    let account = Account {
        sid: body.account_sid.unwrap_or_else(|| sid("AC")),
        auth_token: body.auth_token.unwrap_or_else(|| sid("")),
        lines: body.lines,
        messaging_service_sid: body.messaging_service_sid,
        advanced_opt_out: body.advanced_opt_out,
    };
    let reply = json!({
        "accountSid": account.sid, "authToken": account.auth_token, "lines": account.lines,
        "messagingServiceSid": account.messaging_service_sid,
        "advancedOptOut": account.advanced_opt_out,
    });
    let mut state = lock(&shared.twilio);
    state.accounts.retain(|a| a.sid != account.sid);
    state.accounts.push(account);
    Ok((StatusCode::CREATED, Json(reply)).into_response())
}

/// `POST /_control/twilio/webhooks` {line, url}: the number's messaging webhook (`url: null`
/// forgets it).
async fn set_webhook(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    set_line_webhook(&mut lock(&shared.twilio).webhooks, &body)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RecipientBody {
    number: String,
    /// Opt the number out of (or back into) every account, as a STOP or START would.
    opted_out: Option<bool>,
    fail: Option<bool>,
}

/// `POST /_control/twilio/recipients` {number, optedOut?, fail?}.
async fn set_recipient(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let body: RecipientBody = parse(&body)?;
    let mut state = lock(&shared.twilio);
    if let Some(opted_out) = body.opted_out {
        let sids: Vec<String> = state.accounts.iter().map(|a| a.sid.clone()).collect();
        for sid in sids {
            let key = (sid, body.number.clone());
            if opted_out {
                state.opted_out.insert(key);
            } else {
                state.opted_out.remove(&key);
            }
        }
    }
    let recipient = state.recipients.entry(body.number.clone()).or_default();
    if let Some(v) = body.fail {
        recipient.fail = v;
    }
    let fail = recipient.fail;
    Ok(Json(
        json!({"number": body.number, "optedOut": body.opted_out, "fail": fail}),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InboundBody {
    line: String,
    from: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    media_urls: Vec<String>,
    #[serde(alias = "channel_id")]
    channel_id: Option<String>,
    url: Option<String>,
}

/// `POST /_control/twilio/inbound` {line, from, body, mediaUrls?, channelId?, url?}: the
/// contact `from` texts `line`. The signed form webhook goes to `url`, else the URL registered
/// for the line, else `{gateway}/webhooks/twilio/{channelId}`. As Twilio does, a keyword
/// message (the whole body, any case) opts the contact out of or back into the account, and
/// is still forwarded; with Advanced Opt-Out it carries `OptOutType`.
async fn inbound(State(shared): State<Shared>, body: Bytes) -> Result<Json<Value>, ControlError> {
    let body: InboundBody = parse(&body)?;
    if !is_e164(&body.from) {
        return Err(ControlError::bad_request("from must be E.164"));
    }
    if body.body.is_empty() && body.media_urls.is_empty() {
        return Err(ControlError::bad_request("body or mediaUrls is required"));
    }
    let (form, url, token, message_sid) = {
        let mut state = lock(&shared.twilio);
        let account = state
            .account_for_line(&body.line)
            .cloned()
            .ok_or_else(|| ControlError::not_found(format!("no account has line {}", body.line)))?;
        let url = inbound_webhook_url(
            &shared,
            "twilio",
            &state.webhooks,
            &body.line,
            body.url.as_deref(),
            body.channel_id.as_deref(),
        )?;
        let word = body.body.trim().to_lowercase();
        let key = (account.sid.clone(), body.from.clone());
        let opt_out_type = if OPT_OUT.contains(&word.as_str()) {
            state.opted_out.insert(key);
            Some("STOP")
        } else if OPT_IN.contains(&word.as_str()) {
            state.opted_out.remove(&key);
            Some("START")
        } else if HELP.contains(&word.as_str()) {
            Some("HELP")
        } else {
            None
        };
        let message_sid = sid(if body.media_urls.is_empty() {
            "SM"
        } else {
            "MM"
        });
        let mut stored = resource(&Facts {
            account: &account,
            sid: &message_sid,
            from: &body.from,
            to: &body.line,
            body: &body.body,
            num_media: body.media_urls.len(),
            service: account.messaging_service_sid.as_deref(),
            direction: "inbound",
            status: "received",
        });
        stored["date_sent"] = stored["date_created"].clone();
        state.message_order.push(message_sid.clone());
        state.messages.insert(message_sid.clone(), stored);

        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        let mut form = vec![
            pair("ToCountry", "US"),
            pair("SmsMessageSid", &message_sid),
            pair("NumMedia", &body.media_urls.len().to_string()),
            pair("SmsSid", &message_sid),
            pair("SmsStatus", "received"),
            pair("Body", &body.body),
            pair("FromCountry", "US"),
            pair("To", &body.line),
            pair("NumSegments", "1"),
            pair("MessageSid", &message_sid),
            pair("AccountSid", &account.sid),
            pair("From", &body.from),
            pair("ApiVersion", API_VERSION),
        ];
        if let Some(service) = &account.messaging_service_sid {
            form.push(pair("MessagingServiceSid", service));
        }
        for (i, media) in body.media_urls.iter().enumerate() {
            form.push(pair(&format!("MediaUrl{i}"), media));
            form.push(pair(&format!("MediaContentType{i}"), content_type(media)));
        }
        if let Some(kind) = opt_out_type.filter(|_| account.advanced_opt_out) {
            form.push(pair("OptOutType", kind));
        }
        (form, url, account.auth_token, message_sid)
    };
    let signature = sign(&token, &url, &form);
    let delivery = deliver(
        &shared,
        super::SIMULATOR.name,
        Webhook {
            url: url.clone(),
            headers: webhook_headers(signature),
            body: encode_form(&form).into_bytes(),
        },
    )
    .await;
    Ok(Json(json!({
        "messageSid": message_sid,
        "url": url,
        "gatewayStatus": delivery.status,
        "delivery": delivery,
    })))
}

/// A media type from a URL's extension (Twilio reports the fetched file's type).
fn content_type(url: &str) -> &'static str {
    let lower = url.to_ascii_lowercase();
    if lower.ends_with(".png") {
        "image/png"
    } else if lower.ends_with(".gif") {
        "image/gif"
    } else if lower.ends_with(".mp4") {
        "video/mp4"
    } else {
        "image/jpeg"
    }
}

/// `GET /_control/twilio/messages`: every message resource, sent and received, in order.
async fn messages(State(shared): State<Shared>) -> Json<Vec<Value>> {
    let state = lock(&shared.twilio);
    Json(
        state
            .message_order
            .iter()
            .filter_map(|s| state.messages.get(s))
            .cloned()
            .collect(),
    )
}
