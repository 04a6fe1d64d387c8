//! Reading Meta's webhook envelope: `{object, entry: [{id, changes: [{field, value}]}]}`,
//! where a `messages` change's `value` carries incoming `messages` and our messages'
//! `statuses` (providers.md §3, `whatsapp-webhook-incoming-text.json`,
//! `whatsapp-webhook-status-syntax.txt`).
//!
//! Every message and status of every change becomes one event, in order. What we do not
//! act on (other `field`s, reactions, locations, group messages, errors-only values,
//! another phone number's events) is [`WebhookEvent::Ignored`] with the reason, so Meta
//! gets its 200 and stops retrying.

use domain::MessageStatus;
use serde_json::{Map, Value};

use super::failure::error_summary;
use super::media::reference;
use crate::json::{self, Fields};
use crate::{ChannelError, InboundMessage, StatusReport, WebhookEvent};

/// The events of one delivery. With `only_number`, events of another
/// `metadata.phone_number_id` are ignored.
pub(super) fn events(
    body: &[u8],
    only_number: Option<&str>,
) -> Result<Vec<WebhookEvent>, ChannelError> {
    let envelope = json::object(body)?;
    let object = Fields(&envelope).text("object").unwrap_or_default();
    if object != "whatsapp_business_account" {
        return Ok(vec![WebhookEvent::ignored(format!(
            "webhook object {object:?} is not whatsapp_business_account"
        ))]);
    }
    let entries = array(&envelope, "entry")
        .ok_or_else(|| ChannelError::malformed("webhook without an entry array"))?;
    let mut events = Vec::new();
    for change in entries
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|entry| array(entry, "changes").into_iter().flatten())
    {
        let Some(change) = change.as_object() else {
            events.push(WebhookEvent::ignored("a change that is not an object"));
            continue;
        };
        events.extend(change_events(change, only_number)?);
    }
    if events.is_empty() {
        events.push(WebhookEvent::ignored("webhook without changes"));
    }
    Ok(events)
}

fn change_events(
    change: &Map<String, Value>,
    only_number: Option<&str>,
) -> Result<Vec<WebhookEvent>, ChannelError> {
    let field = Fields(change).text("field").unwrap_or_default();
    if field != "messages" {
        return Ok(vec![WebhookEvent::ignored(format!(
            "change field {field:?} is not about messages"
        ))]);
    }
    let Some(value) = change.get("value").and_then(Value::as_object) else {
        return Err(ChannelError::malformed("a messages change without a value"));
    };
    let metadata = value.get("metadata").and_then(Value::as_object);
    let metadata = metadata.map(Fields);
    let number_id = metadata.and_then(|m| m.text("phone_number_id"));
    if let Some(expected) = only_number {
        if number_id != Some(expected) {
            return Ok(vec![WebhookEvent::ignored(format!(
                "for phone number id {:?}, not this channel's",
                number_id.unwrap_or_default()
            ))]);
        }
    }
    let messages = array(value, "messages").map(Vec::as_slice).unwrap_or(&[]);
    let statuses = array(value, "statuses").map(Vec::as_slice).unwrap_or(&[]);
    if messages.is_empty() && statuses.is_empty() {
        let what = if value.contains_key("errors") {
            "errors without messages or statuses"
        } else {
            "a value without messages or statuses"
        };
        return Ok(vec![WebhookEvent::ignored(what)]);
    }
    let mut events = Vec::with_capacity(messages.len() + statuses.len());
    for message in messages {
        let Some(message) = message.as_object() else {
            return Err(ChannelError::malformed("a message that is not an object"));
        };
        let display = metadata.and_then(|m| m.text("display_phone_number"));
        events.push(inbound(Fields(message), display)?);
    }
    for status in statuses {
        let Some(status) = status.as_object() else {
            return Err(ChannelError::malformed("a status that is not an object"));
        };
        events.push(status_report(Fields(status))?);
    }
    Ok(events)
}

fn array<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Vec<Value>> {
    map.get(key).and_then(Value::as_array)
}

fn object<'a>(fields: Fields<'a>, key: &str) -> Option<Fields<'a>> {
    fields.0.get(key).and_then(Value::as_object).map(Fields)
}

/// A WhatsApp number as Meta writes it (`16505551234`, sometimes `+1 650-555-1234`) in
/// E.164.
fn number(field: &'static str, raw: &str) -> Result<String, ChannelError> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    crate::address::e164(field, &format!("+{digits}"))
}

fn inbound(message: Fields<'_>, display: Option<&str>) -> Result<WebhookEvent, ChannelError> {
    let id = message
        .text("id")
        .ok_or_else(|| ChannelError::malformed("incoming message without id"))?;
    if message.text("group_id").is_some() {
        return Ok(WebhookEvent::ignored("group message"));
    }
    let kind = message.text("type").unwrap_or_default();
    let from = message
        .text("from")
        .ok_or_else(|| ChannelError::malformed("incoming message without from"))?;
    let display = display.ok_or_else(|| {
        ChannelError::malformed("incoming message without metadata.display_phone_number")
    })?;
    let typed = object(message, kind);
    let (body, media_id) = match kind {
        "text" => (typed.and_then(|t| t.raw_text("body")), None),
        "button" => (typed.and_then(|t| t.raw_text("text")), None),
        "interactive" => {
            let reply =
                typed.and_then(|t| object(t, "button_reply").or_else(|| object(t, "list_reply")));
            (reply.and_then(|r| r.raw_text("title")), None)
        }
        "image" | "video" | "document" | "audio" | "sticker" => (
            typed.and_then(|t| t.raw_text("caption")),
            typed.and_then(|t| t.text("id")),
        ),
        other => {
            return Ok(WebhookEvent::ignored(format!(
                "incoming {other:?} message is not text or media"
            )))
        }
    };
    let body = body.unwrap_or_default().to_string();
    let media_urls: Vec<String> = media_id.map(reference).into_iter().collect();
    if body.trim().is_empty() && media_urls.is_empty() {
        return Ok(WebhookEvent::ignored(format!(
            "incoming {kind} message with no text or media"
        )));
    }
    Ok(WebhookEvent::Inbound(InboundMessage {
        provider_message_id: id.to_string(),
        from: number("from", from)?,
        to: number("display_phone_number", display)?,
        body,
        media_urls,
        thread: None,
        sent_at: message.int("timestamp").and_then(rfc3339),
        opted_out: false,
        keyword: None,
    }))
}

/// Meta's status words in ours. `None` for words that are not about delivery, or that we
/// do not know (`deleted`, `warning`, and `played`, UNCONFIRMED).
pub fn delivery_status(word: &str) -> Option<MessageStatus> {
    match word.trim().to_ascii_lowercase().as_str() {
        "sent" => Some(MessageStatus::Sent),
        "delivered" => Some(MessageStatus::Delivered),
        "read" => Some(MessageStatus::Read),
        "failed" => Some(MessageStatus::Failed),
        _ => None,
    }
}

fn status_report(status: Fields<'_>) -> Result<WebhookEvent, ChannelError> {
    let id = status
        .text("id")
        .ok_or_else(|| ChannelError::malformed("status without id"))?;
    let word = status.text("status").unwrap_or_default();
    let Some(ours) = delivery_status(word) else {
        return Ok(WebhookEvent::ignored(format!(
            "status {word:?} says nothing about delivery"
        )));
    };
    let error = (ours == MessageStatus::Failed).then(|| {
        status
            .0
            .get("errors")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
            .and_then(Value::as_object)
            .and_then(|e| error_summary(Fields(e)))
            .unwrap_or_else(|| "WhatsApp reported the message failed".to_string())
    });
    Ok(WebhookEvent::Status(StatusReport {
        provider_message_id: id.to_string(),
        status: ours,
        error,
        opted_out: false,
    }))
}

/// Unix seconds as RFC 3339 UTC (`2025-06-08T20:59:43Z`); `None` outside years 1970–9999.
pub(crate) fn rfc3339(seconds: i64) -> Option<String> {
    if !(0..=253_402_300_799).contains(&seconds) {
        return None;
    }
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    ))
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
