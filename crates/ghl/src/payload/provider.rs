//! The body GHL posts to our conversation-provider Delivery URL when someone sends a
//! message through our channel ("Conversation Provider – Outbound Message").

use serde::Deserialize;

use super::lenient;
use crate::Error;

/// One outbound message to deliver. The payload is flat and differs from the other
/// webhooks. Fields GHL documents for SMS are typed; email fields are kept so a future
/// email provider needs no new parser. `conversationId`, `conversationProviderId`,
/// `timestamp`, `webhookId` and `source` are not documented for this payload; they are
/// read when present.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderOutboundMessage {
    pub contact_id: String,
    /// The sub-account: selects the OAuth token used to answer.
    pub location_id: String,
    /// GHL's message id, for `PUT /conversations/messages/{messageId}/status`.
    pub message_id: String,
    /// `SMS` for us; `Email` for an email provider.
    #[serde(rename = "type")]
    pub kind: String,
    /// The contact's number (E.164 in GHL's example).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub phone: Option<String>,
    /// The text; absent for email and possibly for attachment-only sends.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub message: Option<String>,
    /// Media URLs.
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub attachments: Vec<String>,
    /// The GHL user who pressed send. Whether it is present for workflow and bulk sends
    /// is unconfirmed; see [`ProviderOutboundMessage::sender`].
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub user_id: Option<String>,
    /// Where the send came from (`app`, `workflow`, `bulk_actions`, `campaign`, `api`),
    /// if GHL includes it here as it does on its message objects.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub source: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub conversation_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub conversation_provider_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub timestamp: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub webhook_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub email_message_id: Option<String>,
    /// The schema says string, the example an array: both read as a list.
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub email_to: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub email_from: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub subject: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub html: Option<String>,
    /// Set on UI replies through an "extra" email provider.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub reply_to_alt_id: Option<String>,
}

/// Who or what made GHL send the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundSender {
    /// A person in GHL's web or mobile app (or an API call on a user's behalf).
    User {
        user_id: String,
    },
    Workflow,
    BulkAction,
    Campaign,
    /// Neither a user nor a known automation source in the payload.
    Unattributed,
}

impl OutboundSender {
    /// The domain's word for the author: a person is an agent, automation is the system.
    pub fn actor(&self) -> domain::Actor {
        match self {
            OutboundSender::User { .. } => domain::Actor::Agent,
            _ => domain::Actor::System,
        }
    }
}

impl ProviderOutboundMessage {
    /// Reads the raw body (after the signature check). Missing or empty ids are errors:
    /// without them the message can be neither delivered nor reported on.
    pub fn parse(raw_body: &[u8]) -> Result<Self, Error> {
        let message: Self = serde_json::from_slice(raw_body).map_err(Error::payload)?;
        for (field, value) in [
            ("contactId", &message.contact_id),
            ("locationId", &message.location_id),
            ("messageId", &message.message_id),
        ] {
            if value.trim().is_empty() {
                return Err(Error::payload(format_args!("{field} is empty")));
            }
        }
        Ok(message)
    }

    /// True for the SMS payload (the only kind an SMS-type provider should receive).
    pub fn is_sms(&self) -> bool {
        self.kind.eq_ignore_ascii_case("SMS")
    }

    /// Who sent it. An explicit automation `source` wins over `userId`, because
    /// automations may carry the id of the user who owns them; without a source, a
    /// `userId` means a person.
    pub fn sender(&self) -> OutboundSender {
        let source = self.source.as_deref().unwrap_or("").to_ascii_lowercase();
        match source.as_str() {
            "workflow" | "workflows" | "automation" => return OutboundSender::Workflow,
            "bulk_actions" | "bulk_action" | "bulk" => return OutboundSender::BulkAction,
            "campaign" | "campaigns" => return OutboundSender::Campaign,
            _ => {}
        }
        match self.user_id.as_deref().map(str::trim) {
            Some(user_id) if !user_id.is_empty() => OutboundSender::User {
                user_id: user_id.to_owned(),
            },
            _ => OutboundSender::Unattributed,
        }
    }
}
