//! Reading SendBlue's webhook payloads: status reports and inbound messages.

use domain::MessageStatus;

use super::failure::{error_summary, reports_failure};
use crate::address::{contact_handle, e164};
use crate::json::Fields;
use crate::{ChannelError, InboundMessage, StatusReport, WebhookEvent};

/// SendBlue's status words (an open enum) in ours. `None` for words that are not about
/// delivery (`RECEIVED`) or that we do not know. Every word the provider uses for
/// "accepted, on its way" is `sent`; only `DELIVERED` confirms delivery (iMessage only).
pub fn delivery_status(word: &str) -> Option<MessageStatus> {
    match word.trim().to_ascii_uppercase().as_str() {
        "QUEUED" | "PENDING" | "REGISTERED" | "ACCEPTED" | "SENT" | "SUCCESS" => {
            Some(MessageStatus::Sent)
        }
        "DELIVERED" => Some(MessageStatus::Delivered),
        "READ" => Some(MessageStatus::Read),
        "ERROR" | "FAILED" | "DECLINED" => Some(MessageStatus::Failed),
        _ => None,
    }
}

pub(super) fn status_report(fields: Fields<'_>, handle: &str) -> WebhookEvent {
    let word = fields.text("status");
    let status = if reports_failure(fields) {
        MessageStatus::Failed
    } else {
        match word.and_then(delivery_status) {
            Some(status) => status,
            None => {
                return WebhookEvent::ignored(format!(
                    "status {:?} says nothing about delivery",
                    word.unwrap_or_default()
                ))
            }
        }
    };
    let error = (status == MessageStatus::Failed)
        .then(|| error_summary(fields).or_else(|| word.map(str::to_string)))
        .flatten();
    let opted_out = fields.flag("opted_out") == Some(true)
        || fields
            .text("error_key")
            .is_some_and(|k| k.eq_ignore_ascii_case("OPTED_OUT"));
    WebhookEvent::Status(StatusReport {
        provider_message_id: handle.to_string(),
        status,
        error,
        opted_out,
    })
}

pub(super) fn inbound_message(
    fields: Fields<'_>,
    handle: &str,
) -> Result<WebhookEvent, ChannelError> {
    // Group chats have no place in a one-to-one GHL conversation.
    let is_group = fields.text("group_id").is_some()
        || fields
            .text("message_type")
            .is_some_and(|t| t.eq_ignore_ascii_case("group"))
        || fields.is_array("number");
    if is_group {
        return Ok(WebhookEvent::ignored("group message"));
    }
    // `from_number` is the contact on inbound; `number` is always the contact.
    let from = fields
        .text("from_number")
        .or_else(|| fields.text("number"))
        .ok_or_else(|| ChannelError::malformed("inbound message without from_number"))?;
    // `sendblue_number` (current payloads) names our line; legacy ones only `to_number`.
    let to = fields
        .text("sendblue_number")
        .or_else(|| fields.text("to_number"))
        .ok_or_else(|| ChannelError::malformed("inbound message without to_number"))?;
    let body = fields.raw_text("content").unwrap_or_default().to_string();
    let media_urls = fields.texts("media_url");
    if body.trim().is_empty() && media_urls.is_empty() {
        return Ok(WebhookEvent::ignored(
            "inbound message with no text or media",
        ));
    }
    Ok(WebhookEvent::Inbound(InboundMessage {
        provider_message_id: handle.to_string(),
        from: contact_handle("from_number", from)?,
        to: e164("to_number", to)?,
        body,
        media_urls,
        thread: None,
        sent_at: fields.text("date_sent").map(str::to_string),
        opted_out: fields.flag("opted_out") == Some(true),
        keyword: None,
    }))
}
