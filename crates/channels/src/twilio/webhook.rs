//! Reading Twilio's form-encoded webhooks: inbound messages and status callbacks.
//!
//! Both arrive on the channel's one webhook URL (the number's messaging URL and every
//! message's `StatusCallback`). A status callback carries `MessageStatus`; an inbound message
//! carries `SmsStatus=received` and no `MessageStatus` (or `received`/`receiving`).

use domain::{Keyword, MessageStatus};

use super::failure::OPTED_OUT;
use crate::address::{contact_handle, e164};
use crate::{ChannelError, InboundMessage, StatusReport, WebhookEvent};

/// Most media one message carries (Twilio's limit).
const MAX_MEDIA: usize = 10;

/// Decoded form fields, in the order sent; names may repeat.
pub(super) struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Self {
        Self(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`, untrimmed.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed, `None` when blank.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.raw(name).map(str::trim).filter(|v| !v.is_empty())
    }
}

/// Twilio's status words in ours; `None` for words not about an outbound message's
/// delivery (`receiving`, `received`) or unknown ones.
///
/// Everything before delivery (`accepted`, `scheduled`, `queued`, `sending`, `sent`) is our
/// `sent`: the provider has the message. `partially_delivered` (some recipients or parts
/// got it) is `delivered`: something reached the contact. `canceled` (a scheduled send
/// withdrawn) will never arrive, so it is `failed`.
pub fn delivery_status(word: &str) -> Option<MessageStatus> {
    match word.trim().to_ascii_lowercase().as_str() {
        "accepted" | "scheduled" | "queued" | "sending" | "sent" => Some(MessageStatus::Sent),
        "delivered" | "partially_delivered" => Some(MessageStatus::Delivered),
        "read" => Some(MessageStatus::Read),
        "failed" | "undelivered" | "canceled" => Some(MessageStatus::Failed),
        _ => None,
    }
}

/// One webhook to one event.
pub(super) fn event(form: &Form) -> Result<WebhookEvent, ChannelError> {
    let sid = form
        .text("MessageSid")
        .or_else(|| form.text("SmsSid"))
        .or_else(|| form.text("SmsMessageSid"));
    let word = form
        .text("MessageStatus")
        .or_else(|| form.text("SmsStatus"));
    let is_inbound = match word {
        None => true,
        Some(w) => matches!(w.to_ascii_lowercase().as_str(), "received" | "receiving"),
    };
    let Some(sid) = sid else {
        return if form.0.is_empty() {
            Err(ChannelError::malformed("empty webhook body"))
        } else {
            Err(ChannelError::malformed("webhook without a MessageSid"))
        };
    };
    if is_inbound {
        inbound_message(form, sid)
    } else {
        Ok(status_report(form, sid, word.unwrap_or_default()))
    }
}

fn status_report(form: &Form, sid: &str, word: &str) -> WebhookEvent {
    let Some(status) = delivery_status(word) else {
        return WebhookEvent::ignored(format!("status {word:?} says nothing about delivery"));
    };
    let code = form
        .text("ErrorCode")
        .and_then(|c| c.parse::<i64>().ok())
        .filter(|c| *c != 0);
    let error = (status == MessageStatus::Failed).then(|| {
        let mut reason = match code {
            Some(code) => format!("Twilio error {code}"),
            None => format!("Twilio status {word}"),
        };
        if let Some(message) = form.text("ErrorMessage") {
            reason.push_str(&format!(": {message}"));
        }
        reason
    });
    WebhookEvent::Status(StatusReport {
        provider_message_id: sid.to_string(),
        status,
        error,
        opted_out: code == Some(OPTED_OUT),
    })
}

fn inbound_message(form: &Form, sid: &str) -> Result<WebhookEvent, ChannelError> {
    let from = form
        .text("From")
        .ok_or_else(|| ChannelError::malformed("inbound message without From"))?;
    let to = form
        .text("To")
        .ok_or_else(|| ChannelError::malformed("inbound message without To"))?;
    let body = form.raw("Body").unwrap_or_default().to_string();
    let media_urls = media(form);
    // Advanced Opt-Out's classification, which also covers a service's custom keywords.
    let keyword = match form
        .text("OptOutType")
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("STOP") => Some(Keyword::OptOut),
        Some("START") => Some(Keyword::OptIn),
        Some("HELP") => Some(Keyword::Help),
        _ => None,
    };
    if body.trim().is_empty() && media_urls.is_empty() && keyword.is_none() {
        return Ok(WebhookEvent::ignored(
            "inbound message with no text or media",
        ));
    }
    Ok(WebhookEvent::Inbound(InboundMessage {
        provider_message_id: sid.to_string(),
        from: contact_handle("From", from)?,
        to: e164("To", to)?,
        body,
        media_urls,
        thread: None,
        sent_at: None,
        opted_out: keyword == Some(Keyword::OptOut),
        keyword,
    }))
}

/// `MediaUrl0`…`MediaUrl{NumMedia-1}`; when `NumMedia` is missing or wrong, every
/// `MediaUrl{N}` present up to Twilio's limit.
fn media(form: &Form) -> Vec<String> {
    let declared = form
        .text("NumMedia")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(MAX_MEDIA)
        .min(MAX_MEDIA);
    let declared = if declared == 0 { MAX_MEDIA } else { declared };
    (0..declared)
        .filter_map(|i| form.text(&format!("MediaUrl{i}")))
        .map(str::to_string)
        .collect()
}
