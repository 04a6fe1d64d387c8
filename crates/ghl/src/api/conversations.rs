//! Conversations: posting a contact's message into GHL, and reporting delivery status of
//! the messages GHL asked us to send.

use std::time::SystemTime;

use http::Method;
use outbound::{ApiRequest, ApiResponse, Failure};
use serde::{Deserialize, Serialize};

use super::{classify, read_json, segment, Api, ApiVersion, NOT_DOWNSTREAMED_WAIT};
use crate::payload::lenient;
use crate::Error;

/// A contact's message to add to GHL. It always goes in as `type: "SMS"`, whatever line it
/// arrived on: our conversation provider is SMS-type, and GHL has no generic type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboundMessage<'a> {
    pub contact_id: &'a str,
    /// Required for a custom ("extra") provider: without it GHL answers 2xx and drops the
    /// message. Not needed when we are the location's default SMS provider.
    pub conversation_provider_id: Option<&'a str>,
    pub conversation_id: Option<&'a str>,
    pub message: &'a str,
    /// Media URLs.
    pub attachments: &'a [String],
    /// Our own message id, which GHL stores as the external id.
    pub alt_id: Option<&'a str>,
    /// When the contact sent it.
    pub date: Option<SystemTime>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InboundBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    direction: &'static str,
    contact_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation_provider_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation_id: Option<&'a str>,
    message: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    attachments: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    alt_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<String>,
}

/// What GHL made of an inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedMessage {
    pub message_id: String,
    pub conversation_id: Option<String>,
    pub contact_id: Option<String>,
}

/// The statuses `PUT /conversations/messages/{id}/status` accepts (GHL's message model
/// has more, but this endpoint takes only these four).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GhlMessageStatus {
    Pending,
    Delivered,
    Read,
    Failed,
}

impl GhlMessageStatus {
    /// The GHL status for ours; `None` for `sent`, which GHL cannot be told (the caller
    /// skips the update).
    pub fn from_domain(status: domain::MessageStatus) -> Option<Self> {
        match status {
            domain::MessageStatus::Pending => Some(GhlMessageStatus::Pending),
            domain::MessageStatus::Sent => None,
            domain::MessageStatus::Delivered => Some(GhlMessageStatus::Delivered),
            domain::MessageStatus::Read => Some(GhlMessageStatus::Read),
            domain::MessageStatus::Failed => Some(GhlMessageStatus::Failed),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GhlMessageStatus::Pending => "pending",
            GhlMessageStatus::Delivered => "delivered",
            GhlMessageStatus::Read => "read",
            GhlMessageStatus::Failed => "failed",
        }
    }
}

/// Why a message failed, shown to the GHL user: `{code, type, message}`, all required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderError {
    pub code: String,
    /// GHL's example uses `saas`.
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
}

#[derive(Serialize)]
struct StatusBody<'a> {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a ProviderError>,
}

impl Api<'_> {
    /// `POST /conversations/messages/inbound`.
    pub fn add_inbound_message(&self, message: &InboundMessage<'_>) -> ApiRequest {
        let body = InboundBody {
            kind: "SMS",
            direction: "inbound",
            contact_id: message.contact_id,
            conversation_provider_id: message.conversation_provider_id,
            conversation_id: message.conversation_id,
            message: message.message,
            attachments: message.attachments,
            alt_id: message.alt_id,
            date: message.date.map(crate::format_rfc3339),
        };
        self.request(
            Method::POST,
            "/conversations/messages/inbound",
            ApiVersion::ConversationsAndCalendars,
        )
        .json(&body)
    }

    /// `PUT /conversations/messages/{messageId}/status`. The error is sent only with
    /// `failed`, the one status it explains.
    pub fn update_message_status(
        &self,
        message_id: &str,
        status: GhlMessageStatus,
        error: Option<&ProviderError>,
    ) -> ApiRequest {
        let body = StatusBody {
            status: status.as_str(),
            error: error.filter(|_| status == GhlMessageStatus::Failed),
        };
        let path = format!("/conversations/messages/{}/status", segment(message_id));
        self.request(Method::PUT, &path, ApiVersion::ConversationsAndCalendars)
            .json(&body)
    }
}

/// The answer to [`Api::add_inbound_message`]. A 2xx *without* a `messageId` is a failure:
/// GHL has answered 201 with an empty body and silently dropped the message (notably when
/// `conversationProviderId` was missing), so it is retried rather than taken as done.
pub fn parse_inbound_message(response: &ApiResponse) -> Result<AddedMessage, Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Added {
        #[serde(default, deserialize_with = "lenient::opt_string")]
        message_id: Option<String>,
        #[serde(default, deserialize_with = "lenient::opt_string")]
        conversation_id: Option<String>,
        #[serde(default, deserialize_with = "lenient::opt_string")]
        contact_id: Option<String>,
    }
    if !response.status.is_success() {
        return Err(classify(response));
    }
    let dropped = || {
        Error::Call(Failure::Retry {
            detail: format!(
                "GHL answered {} without a messageId: the message was not added",
                outbound::describe(response)
            ),
            after: None,
        })
    };
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Err(dropped());
    }
    let added: Added = read_json(response, "GHL inbound message")?;
    match added.message_id.filter(|id| !id.trim().is_empty()) {
        Some(message_id) => Ok(AddedMessage {
            message_id,
            conversation_id: added.conversation_id,
            contact_id: added.contact_id,
        }),
        None => Err(dropped()),
    }
}

/// The answer to [`Api::update_message_status`].
///
/// Right after GHL posts a message to our Delivery URL, status updates fail until GHL has
/// "downstreamed" the message (observed for 5–10 s): with 403 today, 401 before, and the
/// text "No conversation provider found for this message". That is a retry after
/// [`NOT_DOWNSTREAMED_WAIT`], never a token problem. Every 403 here is read that way; other
/// errors are classified as usual.
pub fn parse_status_update(response: &ApiResponse) -> Result<(), Error> {
    if response.status.is_success() {
        return Ok(());
    }
    let not_downstreamed = response.status == http::StatusCode::FORBIDDEN
        || (response.status.is_client_error()
            && String::from_utf8_lossy(&response.body)
                .to_ascii_lowercase()
                .contains("no conversation provider found"));
    if not_downstreamed {
        return Err(Error::Call(Failure::Retry {
            detail: format!(
                "message not yet downstreamed by GHL: {}",
                outbound::describe(response)
            ),
            after: Some(NOT_DOWNSTREAMED_WAIT),
        }));
    }
    Err(classify(response))
}
