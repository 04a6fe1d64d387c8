//! Messages as UniPile stores them, and the `message_received` webhook each one triggers:
//! a contact's message, and the echo of every message the account sends (UniPile's
//! webhook "fires for sent messages too").

use serde_json::{json, Value};

use super::{id, Account, Attachment, Chat};
use crate::clock;
use crate::shared::{lock, Shared};
use crate::webhook::{deliver, Delivery, Webhook};

/// The header UniPile is configured to send (a custom webhook header; UniPile signs nothing).
pub(crate) const SECRET_HEADER: &str = "x-switchboard-secret";

/// One message in a chat.
pub(crate) struct NewMessage<'a> {
    pub account: &'a Account,
    pub chat: &'a Chat,
    /// Sent by the account (through the API), not by the contact.
    pub from_account: bool,
    pub text: &'a str,
    /// `(file name, mimetype, bytes)`.
    pub files: Vec<(String, String, Vec<u8>)>,
}

/// Stores the message and its attachments; returns its id and the `message_received`
/// payload announcing it.
pub(crate) fn store(shared: &Shared, m: NewMessage<'_>) -> (String, Value) {
    let message_id = id();
    let timestamp = clock::now_iso();
    let attachments: Vec<Attachment> = m
        .files
        .into_iter()
        .map(|(file_name, mimetype, bytes)| Attachment {
            id: id(),
            message_id: message_id.clone(),
            account_id: m.account.id.clone(),
            file_name,
            mimetype,
            bytes,
        })
        .collect();
    let own = json!({
        "attendee_id": format!("self-{}", m.account.id),
        "attendee_name": "Switchboard line",
        "attendee_provider_id": m.account.user_id(),
        "attendee_profile_url": "",
    });
    let contact = json!({
        "attendee_id": m.chat.attendee_id,
        "attendee_name": m.chat.attendee.split('@').next().unwrap_or_default(),
        "attendee_provider_id": m.chat.attendee,
        "attendee_profile_url": "",
    });
    let (sender, other) = if m.from_account {
        (own, contact)
    } else {
        (contact, own)
    };
    let described: Vec<Value> = attachments.iter().map(describe).collect();
    let payload = json!({
        "account_id": m.account.id,
        "account_type": "WHATSAPP",
        "account_info": {"type": "WHATSAPP", "user_id": m.account.user_id()},
        "event": "message_received",
        "chat_id": m.chat.id,
        "timestamp": timestamp,
        "webhook_name": "Switchboard",
        "message_id": message_id,
        "message": m.text,
        "sender": sender,
        "attendees": [other],
        "attachments": described,
    });
    let object = json!({
        "object": "Message",
        "id": message_id,
        "account_id": m.account.id,
        "chat_id": m.chat.id,
        "text": m.text,
        "attachments": described,
        "sender_id": sender["attendee_provider_id"],
        "timestamp": timestamp,
        "is_sender": m.from_account,
        "seen": false,
    });
    let mut state = lock(&shared.unipile);
    state.attachments.extend(attachments);
    state.messages.push(object);
    (message_id, payload)
}

/// An attachment as the webhook and the message object describe it.
fn describe(a: &Attachment) -> Value {
    let kind = match a.mimetype.split('/').next().unwrap_or_default() {
        "image" => "img",
        "video" => "video",
        "audio" => "audio",
        _ => "file",
    };
    json!({
        "id": a.id,
        "file_name": a.file_name,
        "file_size": a.bytes.len(),
        "sticker": false,
        "unavailable": false,
        "mimetype": a.mimetype,
        "type": kind,
        "url": format!("att://{}", a.id),
    })
}

/// Posts a webhook payload to `url` with the account's secret header.
pub(crate) async fn post(
    shared: &Shared,
    account: &Account,
    url: String,
    payload: &Value,
) -> Delivery {
    let mut headers = Vec::new();
    if let Some(secret) = &account.webhook_secret {
        headers.push((SECRET_HEADER, secret.clone()));
    }
    deliver(
        shared,
        super::SIMULATOR.name,
        Webhook {
            url,
            headers,
            body: payload.to_string().into_bytes(),
        },
    )
    .await
}

/// The echo of a message the account sent, to the line's webhook if one is registered,
/// after a short pause (UniPile learns of the message from the phone).
pub(crate) fn spawn_echo(shared: Shared, account: Account, payload: Value) {
    let Some(url) = lock(&shared.unipile).webhooks.get(&account.line).cloned() else {
        return;
    };
    tokio::spawn(async move {
        if crate::webhook::pause(&shared, std::time::Duration::from_millis(20)).await {
            post(&shared, &account, url, &payload).await;
        }
    });
}
