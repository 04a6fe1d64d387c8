//! Control routes of the WhatsApp simulator (`/_control/whatsapp/...`): business numbers and
//! their app credentials, webhook URLs, a contact writing in, and the messages seen.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::callbacks::send;
use super::{envelope, graph_id, unix_now, wa_id, wamid, Account, Media};
use crate::control::{inbound_webhook_url, parse, set_line_webhook, ControlError};
use crate::shared::{lock, Shared};

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/whatsapp/accounts", post(add_account))
        .route("/whatsapp/webhooks", post(set_webhook))
        .route("/whatsapp/inbound", post(inbound))
        .route("/whatsapp/messages", get(messages))
        .with_state(shared)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AccountBody {
    line: String,
    phone_number_id: Option<String>,
    waba_id: Option<String>,
    access_token: Option<String>,
    app_secret: Option<String>,
}

/// `POST /_control/whatsapp/accounts` {line, phoneNumberId?, wabaId?, accessToken?,
/// appSecret?}: add (or replace, by phone number id) a business number; ids and secrets
/// are generated when not given.
async fn add_account(State(shared): State<Shared>, body: Bytes) -> Result<Response, ControlError> {
    let body: AccountBody = parse(&body)?;
    if wa_id(&body.line).is_none() || !body.line.starts_with('+') {
        return Err(ControlError::bad_request(format!(
            "line {} is not E.164",
            body.line
        )));
    }
    let phone_number_id = body.phone_number_id.unwrap_or_else(graph_id);
    if phone_number_id.is_empty() || !phone_number_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ControlError::bad_request("phoneNumberId must be digits"));
    }
    let account = Account {
        phone_number_id,
        line: body.line,
        waba_id: body.waba_id.unwrap_or_else(graph_id),
        access_token: body
            .access_token
            .unwrap_or_else(|| format!("EAAG{}", crate::ids::ghl_id())),
        app_secret: body
            .app_secret
            .unwrap_or_else(|| crate::ids::uuid_v4().replace('-', "")),
    };
    let reply = json!({
        "line": account.line, "phoneNumberId": account.phone_number_id, "wabaId": account.waba_id,
        "accessToken": account.access_token, "appSecret": account.app_secret,
    });
    let mut state = lock(&shared.whatsapp);
    state
        .accounts
        .retain(|a| a.phone_number_id != account.phone_number_id && a.line != account.line);
    state.accounts.push(account);
    Ok((StatusCode::CREATED, Json(reply)).into_response())
}

/// `POST /_control/whatsapp/webhooks` {line, url}: where the number's webhooks go (`url:
/// null` forgets it).
async fn set_webhook(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    set_line_webhook(&mut lock(&shared.whatsapp).webhooks, &body)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MediaBody {
    /// image, audio, video, document or sticker.
    kind: String,
    mime_type: Option<String>,
    /// The bytes, base64.
    content_base64: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InboundBody {
    line: String,
    from: String,
    #[serde(default)]
    body: String,
    name: Option<String>,
    media: Option<MediaBody>,
    /// When the contact wrote, unix seconds (default now): an old one opens no window.
    timestamp: Option<u64>,
    #[serde(alias = "channel_id")]
    channel_id: Option<String>,
    url: Option<String>,
}

/// `POST /_control/whatsapp/inbound` {line, from, body?, name?, media?, timestamp?,
/// channelId?, url?}: the contact `from` writes to `line`. This opens (or renews) the
/// 24-hour window from `timestamp`, and the signed messages webhook goes to `url`, else
/// the URL registered for the line, else `{gateway}/webhooks/whatsapp/{channelId}`.
async fn inbound(State(shared): State<Shared>, body: Bytes) -> Result<Json<Value>, ControlError> {
    let body: InboundBody = parse(&body)?;
    let contact = wa_id(&body.from)
        .filter(|_| body.from.starts_with('+'))
        .ok_or_else(|| ControlError::bad_request("from must be E.164"))?;
    if body.body.is_empty() && body.media.is_none() {
        return Err(ControlError::bad_request("body or media is required"));
    }
    let at = body.timestamp.unwrap_or_else(unix_now);
    let id = wamid();
    let (account, url, media) = {
        let mut state = lock(&shared.whatsapp);
        let account = state
            .account_for_line(&body.line)
            .cloned()
            .ok_or_else(|| ControlError::not_found(format!("no account has line {}", body.line)))?;
        let url = inbound_webhook_url(
            &shared,
            "whatsapp",
            &state.webhooks,
            &body.line,
            body.url.as_deref(),
            body.channel_id.as_deref(),
        )?;
        let stored_media = match &body.media {
            Some(media) => {
                if !["image", "audio", "video", "document", "sticker"]
                    .contains(&media.kind.as_str())
                {
                    return Err(ControlError::bad_request(
                        "media kind must be image, audio, video, document or sticker",
                    ));
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(media.content_base64.trim())
                    .map_err(|e| ControlError::bad_request(format!("contentBase64: {e}")))?;
                let id = graph_id();
                let sha256 = hex_sha256(&bytes);
                state.media.insert(
                    id.clone(),
                    Media {
                        phone_number_id: account.phone_number_id.clone(),
                        mime_type: media
                            .mime_type
                            .clone()
                            .unwrap_or_else(|| "application/octet-stream".into()),
                        bytes,
                    },
                );
                Some((id, sha256))
            }
            None => None,
        };
        let key = (account.phone_number_id.clone(), contact.clone());
        let latest = state.last_inbound.get(&key).copied().unwrap_or(0).max(at);
        state.last_inbound.insert(key, latest);
        (account, url, stored_media)
    };
    let media_id = media.as_ref().map(|(id, _)| id.clone());
    let mut message = json!({"from": contact, "id": id, "timestamp": at.to_string()});
    match (&body.media, &media) {
        (Some(media), Some((media_id, sha256))) => {
            let kind = media.kind.as_str();
            message["type"] = kind.into();
            let mut object = json!({
                "mime_type": media.mime_type.clone().unwrap_or_else(|| "application/octet-stream".into()),
                "sha256": sha256,
                "id": media_id,
            });
            if !body.body.is_empty() && !matches!(kind, "audio" | "sticker") {
                object["caption"] = body.body.clone().into();
            }
            message[kind] = object;
        }
        _ => {
            message["type"] = "text".into();
            message["text"] = json!({"body": body.body});
        }
    }
    let profile = body
        .name
        .clone()
        .unwrap_or_else(|| "Sandbox Contact".into());
    let payload = envelope(
        &account,
        json!({
            "contacts": [{"profile": {"name": profile}, "wa_id": contact}],
            "messages": [message.clone()],
        }),
    );
    {
        let mut state = lock(&shared.whatsapp);
        let mut stored = message;
        stored["direction"] = "inbound".into();
        stored["phone_number_id"] = account.phone_number_id.clone().into();
        state.message_order.push(id.clone());
        state.messages.insert(id.clone(), stored);
    }
    let delivery = send(&shared, &account, &url, &payload).await;
    Ok(Json(json!({
        "messageId": id,
        "mediaId": media_id,
        "url": url,
        "gatewayStatus": delivery.status,
        "delivery": delivery,
    })))
}

/// Lowercase hex SHA-256, as the media lookup reports it.
pub(crate) fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `GET /_control/whatsapp/messages`: every message, sent and received, in order.
async fn messages(State(shared): State<Shared>) -> Json<Vec<Value>> {
    let state = lock(&shared.whatsapp);
    Json(
        state
            .message_order
            .iter()
            .filter_map(|s| state.messages.get(s))
            .cloned()
            .collect(),
    )
}
