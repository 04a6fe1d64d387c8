//! `/api/v1/messages/{id}`: one message, and its timeline — the story `switchboard trace`
//! tells, from the same records ([`store::Store::message_timeline`]).

use axum::extract::{Path, State};
use axum::Json;
use domain::MessageId;
use serde::Serialize;
use store::repo::{Message, MessageEvent};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Permission, Principal};
use crate::http::ApiError;
use crate::AppState;

/// One message, inbound or outbound.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    pub location_id: String,
    pub conversation_id: String,
    pub channel_id: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// `contact`, `agent`, `ai` or `system`.
    pub actor: String,
    /// Empty after the contact's erasure.
    pub body: String,
    /// Attachment URLs.
    pub attachments: Vec<String>,
    /// `pending`, `sent`, `delivered`, `read` or `failed`.
    pub status: String,
    /// Why it failed, when it did.
    pub error: Option<String>,
    pub provider_message_id: Option<String>,
    pub ghl_message_id: Option<String>,
    /// What the text costs as SMS.
    pub sms_segments: u32,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl From<Message> for MessageView {
    fn from(m: Message) -> Self {
        Self {
            id: m.id.to_string(),
            location_id: m.location_id.to_string(),
            conversation_id: m.conversation_id.to_string(),
            channel_id: m.channel_id.to_string(),
            direction: m.direction.to_string(),
            actor: m.actor.to_string(),
            body: m.body,
            attachments: m.attachments,
            status: m.status.to_string(),
            error: m.error,
            provider_message_id: m.provider_message_id,
            ghl_message_id: m.ghl_message_id,
            sms_segments: m.sms_segments,
            created_at: m.created_at_ms,
        }
    }
}

/// One entry of a message's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntryView {
    pub id: String,
    /// `created`, `webhook.received`, `api.received`, `send.attempt`, `send.accepted`,
    /// `send.failed`, `status`, `ghl.posted`, …
    pub kind: String,
    /// What the step recorded; its fields depend on the kind.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// Unix milliseconds.
    pub at: i64,
}

impl From<MessageEvent> for TimelineEntryView {
    fn from(e: MessageEvent) -> Self {
        Self {
            id: e.id.to_string(),
            kind: e.kind,
            detail: e.detail,
            at: e.at_ms,
        }
    }
}

/// A message's timeline, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineView {
    pub message_id: String,
    pub entries: Vec<TimelineEntryView>,
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_one))
        .routes(routes!(timeline))
}

/// A path id as a message id; one that can't be ours reads as missing.
fn message_id(id: &str) -> Result<MessageId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found())
}

/// One message.
#[utoipa::path(get, path = "/api/v1/messages/{id}", tag = "messages",
    params(("id" = String, Path, description = "the message's id (msg_…)")),
    responses((status = 200, body = MessageView)))]
async fn get_one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, ApiError> {
    let message = state
        .store
        .message(principal.scope()?, &message_id(&id)?)
        .await?;
    principal.require(Permission::ViewConversations)?;
    Ok(Json(message.into()))
}

/// A message's timeline, oldest first: why it did or didn't reach the contact.
#[utoipa::path(get, path = "/api/v1/messages/{id}/timeline", tag = "messages",
    params(("id" = String, Path, description = "the message's id (msg_…)")),
    responses((status = 200, body = TimelineView)))]
async fn timeline(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<TimelineView>, ApiError> {
    let id = message_id(&id)?;
    let entries = state
        .store
        .message_timeline(principal.scope()?, &id)
        .await?;
    principal.require(Permission::ViewConversations)?;
    Ok(Json(TimelineView {
        message_id: id.to_string(),
        entries: entries.into_iter().map(TimelineEntryView::from).collect(),
    }))
}
