//! Reading UniPile's messaging webhook (providers.md §4, "New messages").
//!
//! One JSON object per delivery, `event` saying what happened. What we act on:
//! - `message_received` from a contact in a one-to-one WhatsApp chat: an inbound message.
//!   The webhook also fires for messages the account itself sent (through us, or from the
//!   phone): those echoes are ignored, or the contact's conversation would show our own
//!   replies as theirs.
//! - `message_read` about one of our messages: a `read` status.
//!
//! Everything else (reactions, other events, group chats, LinkedIn and other account types,
//! another account's events) is authentic but not for us: [`WebhookEvent::Ignored`].
//!
//! How an echo is recognised. The payload documents no direction, so two signals are read,
//! either one enough (both UNCONFIRMED in the webhook, see providers.md §4): `is_sender:
//! true` (documented on the message object), or the sender being the account's own user
//! (`account_info.user_id`, the account owner's provider id, equal to
//! `sender.attendee_provider_id`). Behind them the store's unique (channel, provider id)
//! keeps the echo of a message we sent (same `message_id`) from being stored twice.

use serde_json::{Map, Value};

use crate::address::e164;
use crate::json::Fields;
use crate::{ChannelError, InboundMessage, StatusReport, WebhookEvent};
use domain::MessageStatus;

/// The prefix of an attachment reference in [`InboundMessage::media_urls`]:
/// `unipile-attachment:<message_id>/<attachment_id>`, fetched by
/// [`super::UniPile`]'s `media_request`.
pub const ATTACHMENT_REFERENCE: &str = "unipile-attachment:";

/// WhatsApp's domains for a person's id (`33600000000@s.whatsapp.net`; `@c.us` in some
/// clients). Groups are `@g.us`; `@lid` ids hide the phone number.
const PERSON_DOMAINS: &[&str] = &["s.whatsapp.net", "c.us"];
const GROUP_DOMAIN: &str = "g.us";

/// One webhook body to its event. `own_account`: the channel's `account_id`, when known;
/// an event of another account is ignored (a UniPile webhook created without `account_ids`
/// covers every account of the workspace, so one channel's URL can receive another's).
pub(super) fn event(
    map: &Map<String, Value>,
    own_account: Option<&str>,
) -> Result<WebhookEvent, ChannelError> {
    let fields = Fields(map);
    if fields.has("AccountStatus") {
        return Ok(WebhookEvent::ignored("account status update"));
    }
    let Some(event) = fields.text("event") else {
        return Ok(WebhookEvent::ignored("not a messaging event (no `event`)"));
    };
    if let (Some(own), Some(theirs)) = (own_account, fields.text("account_id")) {
        if own != theirs {
            return Ok(WebhookEvent::ignored(format!(
                "event of another UniPile account ({theirs})"
            )));
        }
    }
    if let Some(kind) = fields.text("account_type") {
        if !kind.eq_ignore_ascii_case("WHATSAPP") {
            return Ok(WebhookEvent::ignored(format!(
                "{kind} account, not WhatsApp"
            )));
        }
    }
    match event {
        "message_received" => message(map),
        "message_read" => read_receipt(map),
        "message_reaction" => Ok(WebhookEvent::ignored("reaction")),
        other => Ok(WebhookEvent::ignored(format!(
            "event {other:?} not handled"
        ))),
    }
}

fn message(map: &Map<String, Value>) -> Result<WebhookEvent, ChannelError> {
    let fields = Fields(map);
    let message_id = fields
        .text("message_id")
        .ok_or_else(|| ChannelError::malformed("message without a message_id"))?;
    let sender = sender_id(map)
        .ok_or_else(|| ChannelError::malformed("message without sender.attendee_provider_id"))?;
    if from_account(map, sender) {
        return Ok(WebhookEvent::ignored("echo of a message the account sent"));
    }
    if is_group(map, sender) {
        return Ok(WebhookEvent::ignored("group chat"));
    }
    let Some(phone) = whatsapp_phone(sender) else {
        return Ok(WebhookEvent::ignored(if sender.ends_with("@lid") {
            "sender has no phone number (a WhatsApp LID)".to_string()
        } else {
            format!("sender {sender:?} is not a WhatsApp phone id")
        }));
    };
    let media_urls = attachments(map, message_id);
    let body = fields.raw_text("message").unwrap_or_default().to_string();
    if body.trim().is_empty() && media_urls.is_empty() {
        return Ok(WebhookEvent::ignored("message with no text or attachments"));
    }
    Ok(WebhookEvent::Inbound(InboundMessage {
        provider_message_id: message_id.to_string(),
        from: e164("sender.attendee_provider_id", &phone)?,
        // Our line, when the payload names the account's own number; the server takes
        // the line from the channel the webhook URL names, never from here.
        to: account_user(map)
            .and_then(whatsapp_phone)
            .and_then(|p| e164("account_info.user_id", &p).ok())
            .unwrap_or_default(),
        body,
        media_urls,
        thread: fields.text("chat_id").map(str::to_string),
        sent_at: fields.text("timestamp").map(str::to_string),
        opted_out: false,
        keyword: None,
    }))
}

/// `message_read` names a message. Our reading: `sender` is that message's author, as in
/// every documented example; when the author is the account (one of our messages), the
/// contact has read it. A read receipt about the contact's own message (we read theirs) or
/// one we cannot attribute is ignored: a wrong `read` could never be taken back.
fn read_receipt(map: &Map<String, Value>) -> Result<WebhookEvent, ChannelError> {
    let Some(message_id) = Fields(map).text("message_id") else {
        return Ok(WebhookEvent::ignored("read receipt without a message_id"));
    };
    let ours = sender_id(map).is_some_and(|s| from_account(map, s))
        || Fields(map).flag("is_sender") == Some(true);
    if !ours {
        return Ok(WebhookEvent::ignored(
            "read receipt for a message not sent by the account",
        ));
    }
    Ok(WebhookEvent::Status(StatusReport {
        provider_message_id: message_id.to_string(),
        status: MessageStatus::Read,
        error: None,
        opted_out: false,
    }))
}

fn object<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    map.get(key).and_then(Value::as_object)
}

/// `sender.attendee_provider_id`.
fn sender_id(map: &Map<String, Value>) -> Option<&str> {
    object(map, "sender").and_then(|s| Fields(s).text("attendee_provider_id"))
}

/// `account_info.user_id`: the account owner's provider id.
fn account_user(map: &Map<String, Value>) -> Option<&str> {
    object(map, "account_info").and_then(|a| Fields(a).text("user_id"))
}

/// The account itself sent this message (see the module doc).
fn from_account(map: &Map<String, Value>, sender: &str) -> bool {
    Fields(map).flag("is_sender") == Some(true)
        || account_user(map).is_some_and(|own| same_person(own, sender))
}

/// A group: flagged, a group id anywhere, or more than one attendee besides the sender and
/// the account.
fn is_group(map: &Map<String, Value>, sender: &str) -> bool {
    let fields = Fields(map);
    if fields.flag("is_group") == Some(true) {
        return true;
    }
    let group_id = |id: &str| domain_of(id) == Some(GROUP_DOMAIN);
    if group_id(sender) || fields.text("provider_chat_id").is_some_and(group_id) {
        return true;
    }
    let own = account_user(map);
    let others = map
        .get("attendees")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|a| a.as_object())
                .filter_map(|a| Fields(a).text("attendee_provider_id"))
                .filter(|id| !same_person(id, sender) && !own.is_some_and(|o| same_person(id, o)))
                .count()
        })
        .unwrap_or(0);
    others > 1
}

/// `unipile-attachment:<message_id>/<attachment_id>` for each attachment that can be
/// downloaded. The docs' example gives `attachments` as one object; the message object
/// documents a list: both are read. `unavailable` ones (expired on the phone) are skipped.
fn attachments(map: &Map<String, Value>, message_id: &str) -> Vec<String> {
    let items: Vec<&Value> = match map.get("attachments") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    items
        .into_iter()
        .filter_map(Value::as_object)
        .map(Fields)
        .filter(|a| a.flag("unavailable") != Some(true))
        .filter_map(|a| a.text("id"))
        .map(|id| format!("{ATTACHMENT_REFERENCE}{message_id}/{id}"))
        .collect()
}

/// The part after `@`.
fn domain_of(id: &str) -> Option<&str> {
    id.split_once('@').map(|(_, domain)| domain)
}

/// `+<digits>` from `<digits>[:device]@s.whatsapp.net`; `None` for groups, LIDs and other
/// providers' ids.
fn whatsapp_phone(id: &str) -> Option<String> {
    let (user, domain) = id.trim().split_once('@')?;
    if !PERSON_DOMAINS.contains(&domain.to_ascii_lowercase().as_str()) {
        return None;
    }
    let digits = user.split(':').next().unwrap_or_default();
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| format!("+{digits}"))
}

/// Two provider ids naming the same person (a device suffix or case aside).
fn same_person(a: &str, b: &str) -> bool {
    match (whatsapp_phone(a), whatsapp_phone(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a.trim().eq_ignore_ascii_case(b.trim()),
    }
}
