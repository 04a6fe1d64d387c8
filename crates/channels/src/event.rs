//! What travels through a channel, in our words rather than a provider's: the message we
//! ask it to send, and the events its webhooks tell us about.

use domain::{Keyword, MessageStatus};

/// A message to send to a contact.
///
/// `Default` exists so callers can write `..Default::default()`: a field added for a
/// future provider then breaks no existing caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundMessage {
    /// The contact, E.164.
    pub to: String,
    /// Our line sending it, E.164.
    pub from_line: String,
    /// The text; may be empty when there is media.
    pub body: String,
    /// Publicly fetchable media links (built on `SWITCHBOARD_PUBLIC_URL`).
    pub media_urls: Vec<String>,
    /// Where the provider should post status changes: the channel's own webhook URL.
    /// Empty means "none" (the provider's account-level webhook still applies).
    pub status_callback: String,
    /// Our message id, used as the provider's idempotency key where it has one.
    pub reference: String,
    /// The provider's chat with this contact, when it has one and we know it (UniPile's
    /// `chat_id`, learnt from the contact's messages): the send goes into that chat rather
    /// than starting a new one.
    pub thread: Option<String>,
    /// Send this pre-approved template instead of free text (WhatsApp outside its 24-hour
    /// window, see [`crate::Channel::service_window`]). The deliver job decides; the
    /// channel only builds it.
    pub template: Option<Template>,
    /// The attachments' bytes, for providers that take uploads rather than links
    /// ([`crate::Channel::uploads_media`]); filled by the deliver job, empty otherwise.
    pub files: Vec<MediaFile>,
}

/// A pre-approved message template (WhatsApp), by name and language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub name: String,
    /// The template's language code, e.g. `en_US`.
    pub language: String,
}

/// One attachment's content, for a provider that takes uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile {
    pub file_name: String,
    pub content_type: String,
    pub bytes: bytes::Bytes,
}

/// The provider took the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendAccepted {
    /// The provider's id for it; status callbacks name it.
    pub provider_message_id: String,
    /// Where the provider says it is; at least [`MessageStatus::Sent`].
    pub status: MessageStatus,
    /// The provider's chat the message went into, when the send started one (UniPile): kept
    /// on the conversation so the next message goes into the same chat.
    pub thread: Option<String>,
}

/// A contact wrote to one of our lines.
///
/// `Default` for the same reason as [`OutboundMessage`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundMessage {
    /// The provider's id: the dedupe key, unique per channel.
    pub provider_message_id: String,
    /// The contact: E.164, or a lowercased email where the provider allows one (iMessage).
    pub from: String,
    /// Our line, E.164.
    pub to: String,
    pub body: String,
    /// The attachments, as references [`crate::Channel::media_request`] can fetch: an
    /// absolute URL by default, a provider-specific reference where the provider gives
    /// ids (WhatsApp's media ids, UniPile's attachments).
    pub media_urls: Vec<String>,
    /// The provider's chat this message belongs to (UniPile's `chat_id`), remembered on
    /// the conversation so replies go back into it.
    pub thread: Option<String>,
    /// When the contact sent it, RFC 3339, as the provider reported it.
    pub sent_at: Option<String>,
    /// The provider reports this contact as opted out (e.g. after its own STOP
    /// handling). Our own keyword handling still runs; this only adds evidence.
    pub opted_out: bool,
    /// The provider's own reading of the message as a consent keyword (Twilio's
    /// Advanced Opt-Out `OptOutType`, which also covers a service's custom keywords).
    /// Used when the body is not one of our keywords.
    pub keyword: Option<Keyword>,
}

/// A provider's report about one of our messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub provider_message_id: String,
    /// Applied with [`MessageStatus::advance`]: reports come late, twice and reordered.
    pub status: MessageStatus,
    /// The provider's reason, for a failure.
    pub error: Option<String>,
    /// The recipient has opted out at the provider: record the consent change, send
    /// nothing more.
    pub opted_out: bool,
}

/// One event read from a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEvent {
    Inbound(InboundMessage),
    Status(StatusReport),
    /// Authentic but not for us to act on (typing indicators, echoes of our own messages,
    /// group chats, event types we do not handle): acknowledged so the provider stops
    /// retrying, and logged with the reason.
    Ignored {
        reason: String,
    },
}

impl WebhookEvent {
    pub(crate) fn ignored(reason: impl Into<String>) -> Self {
        WebhookEvent::Ignored {
            reason: reason.into(),
        }
    }

    /// The key that makes processing this event idempotent, stored UNIQUE (per channel)
    /// in the same transaction as its effect. Inbound: `inbound:<provider id>`. Status:
    /// `status:<provider id>:<status>`: providers without a webhook id (SendBlue) repeat
    /// the same report on retries, while a new status is a new event; several provider
    /// words that mean the same status (QUEUED, SENT) merge. Ignored events store
    /// nothing, so they have no key.
    pub fn dedupe_key(&self) -> Option<String> {
        match self {
            WebhookEvent::Inbound(m) => Some(format!("inbound:{}", m.provider_message_id)),
            WebhookEvent::Status(s) => Some(format!(
                "status:{}:{}",
                s.provider_message_id,
                s.status.as_str()
            )),
            WebhookEvent::Ignored { .. } => None,
        }
    }
}
