//! `/api/v1/conversations`: a tenant's conversations, their messages, and sending into
//! one.
//!
//! Lists are by creation, newest first (a stable cursor; see
//! `store::repo::conversation_pages`). A send (`send_messages`) is stored and queued like
//! one of GHL's outbound messages, in one transaction with its `deliver` job, so the
//! consent check, pacing, the breaker and status reports all apply. Its actor is `agent`
//! when a user sends and `system` when an API key does: a key is an integration, not a
//! person, and reports that tell people's work from automation stay true. The message is
//! not added to GHL's conversation (see docs/ARCHITECTURE.md).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use domain::{Actor, ConversationId, Direction, MessageStatus};
use serde::{Deserialize, Serialize};
use store::repo::{ApiSend, ApiSent, Conversation, ConversationFilter, MessageFilter};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::filters::{flag, scoped_channel, scoped_contact, scoped_location, word};
use super::messages::MessageView;
use super::{Body, Page, PageQuery};
use crate::auth::{Caller, Permission, Principal};
use crate::http::ApiError;
use crate::webhooks::deliver_job;
use crate::AppState;

/// The longest text a send takes (characters): ten SMS segments of UCS-2 and then some,
/// and far below any provider's own limit for iMessage or WhatsApp.
pub const MAX_BODY_CHARS: usize = 4096;
/// The most attachments one message carries.
pub const MAX_ATTACHMENTS: usize = 10;
/// The longest attachment URL.
const MAX_URL_CHARS: usize = 2048;
/// The longest `Idempotency-Key`.
const MAX_KEY_CHARS: usize = 255;

/// A conversation between one of a location's lines and a contact.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationView {
    pub id: String,
    pub location_id: String,
    pub contact_id: String,
    pub channel_id: String,
    pub ghl_conversation_id: Option<String>,
    /// Whether the AI answers the contact.
    pub ai_enabled: bool,
    /// When it last got a message, Unix milliseconds.
    pub last_message_at: Option<i64>,
    /// When the contact last wrote, Unix milliseconds.
    pub last_inbound_at: Option<i64>,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl From<Conversation> for ConversationView {
    fn from(c: Conversation) -> Self {
        Self {
            id: c.id.to_string(),
            location_id: c.location_id.to_string(),
            contact_id: c.contact_id.to_string(),
            channel_id: c.channel_id.to_string(),
            ghl_conversation_id: c.ghl_conversation_id,
            ai_enabled: c.ai_enabled,
            last_message_at: c.last_message_at,
            last_inbound_at: c.last_inbound_at,
            created_at: c.created_at_ms,
        }
    }
}

/// `?location_id=&channel_id=&contact_id=&ai_enabled=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationQuery {
    /// loc_…
    pub location_id: Option<String>,
    /// chn_…
    pub channel_id: Option<String>,
    /// con_…
    pub contact_id: Option<String>,
    /// `true` or `false`.
    pub ai_enabled: Option<String>,
}

/// `?direction=&status=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageQuery {
    /// `inbound` or `outbound`.
    pub direction: Option<String>,
    /// `pending`, `sent`, `delivered`, `read` or `failed`.
    pub status: Option<String>,
}

/// A message to send to the conversation's contact.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    /// The text, up to 4096 characters; may be empty when there are attachments.
    #[serde(default)]
    pub body: String,
    /// http(s) URLs of files to send, at most 10.
    pub attachments: Option<Vec<String>>,
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get_one))
        .routes(routes!(messages, send))
}

/// A path id as a conversation id; one that can't be ours reads as missing.
fn conversation_id(id: &str) -> Result<ConversationId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found())
}

/// Conversations in the caller's scope, newest (by creation) first.
#[utoipa::path(get, path = "/api/v1/conversations", tag = "conversations",
    params(PageQuery, ConversationQuery),
    responses((status = 200, body = Page<ConversationView>)))]
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
    Query(query): Query<ConversationQuery>,
) -> Result<Json<Page<ConversationView>>, ApiError> {
    let scope = principal.scope()?;
    let filter = ConversationFilter {
        location_id: scoped_location(&state, scope, query.location_id.as_deref()).await?,
        channel_id: scoped_channel(&state, scope, query.channel_id.as_deref()).await?,
        contact_id: scoped_contact(&state, scope, query.contact_id.as_deref()).await?,
        ai_enabled: None,
    };
    principal.require(Permission::ViewConversations)?;
    let filter = ConversationFilter {
        ai_enabled: flag("ai_enabled", query.ai_enabled.as_deref())?,
        ..filter
    };
    let paged = state
        .store
        .conversations_page(scope, &filter, &page.paging()?)
        .await?;
    Ok(Json(Page::from_store(paged, ConversationView::from)))
}

/// One conversation.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "the conversation's id (cnv_…)")),
    responses((status = 200, body = ConversationView)))]
async fn get_one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let conversation = state
        .store
        .conversation(principal.scope()?, &conversation_id(&id)?)
        .await?;
    principal.require(Permission::ViewConversations)?;
    Ok(Json(conversation.into()))
}

/// A conversation's messages, newest first.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/messages", tag = "conversations",
    params(("id" = String, Path, description = "the conversation's id (cnv_…)"),
        PageQuery, MessageQuery),
    responses((status = 200, body = Page<MessageView>)))]
async fn messages(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
    Query(query): Query<MessageQuery>,
) -> Result<Json<Page<MessageView>>, ApiError> {
    let scope = principal.scope()?;
    let conversation = state
        .store
        .conversation(scope, &conversation_id(&id)?)
        .await?;
    principal.require(Permission::ViewConversations)?;
    let filter = MessageFilter {
        direction: word(
            "direction",
            query.direction.as_deref(),
            Direction::ALL,
            Direction::as_str,
        )?,
        status: word(
            "status",
            query.status.as_deref(),
            MessageStatus::ALL,
            MessageStatus::as_str,
        )?,
    };
    let paged = state
        .store
        .messages_page(scope, &conversation.id, &filter, &page.paging()?)
        .await?;
    Ok(Json(Page::from_store(paged, MessageView::from)))
}

/// Sends a message to the conversation's contact. With an `Idempotency-Key`, a repeat
/// answers the first message (200) and sends nothing more.
#[utoipa::path(post, path = "/api/v1/conversations/{id}/messages", tag = "conversations",
    params(("id" = String, Path, description = "the conversation's id (cnv_…)"),
        ("Idempotency-Key" = Option<String>, Header,
            description = "up to 255 visible ASCII characters; the same key from the same agency sends once")),
    request_body = SendBody,
    responses(
        (status = 201, description = "stored and queued for sending", body = MessageView),
        (status = 200, description = "a repeat of an earlier key: the first message", body = MessageView),
        (status = 409, description = "the location is uninstalled or the line inactive (`location_uninstalled`, `channel_inactive`), or the key was used in another conversation (`idempotency_key_reused`)")))]
async fn send(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body<SendBody>,
) -> Result<(StatusCode, Json<MessageView>), ApiError> {
    let scope = principal.scope()?;
    let conversation = state
        .store
        .conversation(scope, &conversation_id(&id)?)
        .await?;
    principal.require(Permission::SendMessages)?;
    let key = idempotency_key(&headers)?;
    sendable(&state, scope, &conversation).await?;
    let attachments = body.attachments.unwrap_or_default();
    valid_message(&body.body, &attachments)?;
    let actor = match principal.caller {
        Caller::User { .. } => Actor::Agent,
        Caller::ApiKey { .. } => Actor::System,
    };
    let caller = principal.actor();
    let sent = state
        .store
        .send_from_api(
            scope,
            &conversation,
            &ApiSend {
                message_id: None,
                body: &body.body,
                attachments: &attachments,
                actor,
                caller: &caller,
                idempotency_key: key,
            },
            &deliver_job,
        )
        .await
        .map_err(|e| match e {
            store::StoreError::Conflict(detail) => {
                ApiError::new(StatusCode::CONFLICT, "idempotency_key_reused", detail)
            }
            other => other.into(),
        })?;
    Ok(match sent {
        ApiSent::Created(message) => (StatusCode::CREATED, Json(message.into())),
        ApiSent::Repeated(message) => (StatusCode::OK, Json(message.into())),
    })
}

/// Refuses (409) a send GHL's path would refuse too: the location's install was removed,
/// or the conversation's line is no longer active.
pub(crate) async fn sendable(
    state: &AppState,
    scope: &store::TenantScope,
    conversation: &Conversation,
) -> Result<(), ApiError> {
    let channel = state.store.channel(scope, &conversation.channel_id).await?;
    line_sendable(state, scope, &channel).await
}

/// Refuses (409) a send on a line whose location's install was removed, or that is no
/// longer active: the check [`sendable`] makes, for a line (the dashboard's test send).
pub(crate) async fn line_sendable(
    state: &AppState,
    scope: &store::TenantScope,
    channel: &store::repo::Channel,
) -> Result<(), ApiError> {
    let location = state.store.location(scope, &channel.location_id).await?;
    if location.status == store::repo::UNINSTALLED {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "location_uninstalled",
            "this location's install was removed; nothing is sent for it",
        ));
    }
    if channel.status != "active" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "channel_inactive",
            format!("the line is {}; nothing can be sent on it", channel.status),
        ));
    }
    Ok(())
}

/// The `Idempotency-Key` header, if sent: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|k| {
            !k.is_empty() && k.len() <= MAX_KEY_CHARS && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_idempotency_key",
                format!("Idempotency-Key must be 1 to {MAX_KEY_CHARS} visible ASCII characters"),
            )
        })
}

/// A text within the limit, or attachments, or both; attachments as http(s) URLs.
pub(crate) fn valid_message(body: &str, attachments: &[String]) -> Result<(), ApiError> {
    valid_message_with_files(body, attachments, 0)
}

/// [`valid_message`] for a message that also carries `files` uploaded files (the
/// dashboard's send box): they count as attachments, toward the same limit.
pub(crate) fn valid_message_with_files(
    body: &str,
    attachments: &[String],
    files: usize,
) -> Result<(), ApiError> {
    if body.trim().is_empty() && attachments.is_empty() && files == 0 {
        return Err(ApiError::bad_request(
            "invalid_body",
            "body: a message needs text or at least one attachment",
        ));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(ApiError::bad_request(
            "invalid_body",
            format!("body: at most {MAX_BODY_CHARS} characters"),
        ));
    }
    if attachments.len() + files > MAX_ATTACHMENTS {
        return Err(ApiError::bad_request(
            "invalid_attachments",
            format!("attachments: at most {MAX_ATTACHMENTS}"),
        ));
    }
    for (n, url) in attachments.iter().enumerate() {
        let web = url.len() <= MAX_URL_CHARS
            && reqwest::Url::parse(url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !web {
            return Err(ApiError::bad_request(
                "invalid_attachments",
                format!("attachments[{n}]: must be an http or https URL"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sends_need_text_or_web_attachments() {
        let url = |u: &str| vec![u.to_string()];
        assert!(valid_message("hi", &[]).is_ok());
        assert!(valid_message("", &url("https://example.com/a.png")).is_ok());
        assert!(valid_message("  ", &[]).is_err());
        assert!(valid_message(&"x".repeat(MAX_BODY_CHARS + 1), &[]).is_err());
        assert!(valid_message(&"é".repeat(MAX_BODY_CHARS), &[]).is_ok());
        for bad in [
            "ftp://example.com/a",
            "file:///etc/passwd",
            "not a url",
            "https://",
        ] {
            let err = valid_message("hi", &url(bad)).unwrap_err();
            assert_eq!(err.code, "invalid_attachments", "{bad}");
        }
    }
}
