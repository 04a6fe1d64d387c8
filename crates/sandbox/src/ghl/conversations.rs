//! GHL conversations: add an inbound message, update an outbound message's status, find or create
//! a contact's conversation, read a message.
//!
//! Two production behaviours known only from GHL's issue tracker are reproduced on purpose:
//! - a status update right after the outbound webhook answers 403 "No conversation provider found
//!   for this message" until GHL has "downstreamed" the message (issue #4);
//! - for a location whose provider is a custom one, an inbound message without
//!   `conversationProviderId` answers 201 with an empty body and is NOT added (issue #70), which is
//!   why a gateway must check that a `messageId` came back.

use std::collections::HashMap;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::gate::Caller;
use super::schema::{validate, Spec};
use super::{error, invalid, parse_body, GhlState, Message};
use crate::shared::{lock, Shared};
use crate::{clock, ids};

const NO_PROVIDER: &str = "No conversation provider found for this message";

/// A message as `GET /conversations/messages/{id}` returns it (`GetMessageResponseDto`), plus the
/// status history the sandbox keeps for tests.
pub(crate) fn message_json(m: &Message) -> Value {
    let message_type = if m.conversation_provider_id.is_some() {
        "TYPE_CUSTOM_PROVIDER_SMS"
    } else {
        "TYPE_SMS"
    };
    json!({
        "id": m.id,
        "type": 2,
        "messageType": message_type,
        "locationId": m.location_id,
        "contactId": m.contact_id,
        "conversationId": m.conversation_id,
        "dateAdded": m.date_added,
        "body": m.body,
        "direction": m.direction,
        "status": m.status,
        "contentType": "text/plain",
        "attachments": m.attachments,
        "altId": m.alt_id,
        "userId": m.user_id,
        "conversationProviderId": m.conversation_provider_id,
        "source": if m.provider_outbound { "app" } else { "api" },
        "channelType": m.kind,
        "error": m.error,
        "statusHistory": m.status_history.iter()
            .map(|(status, at)| json!({"status": status, "at": at})).collect::<Vec<_>>(),
    })
}

fn conversation_json(state: &GhlState, id: &str) -> Value {
    let Some(c) = state.conversations.get(id) else {
        return Value::Null;
    };
    let contact = state.contacts.get(&c.contact_id);
    let field = |k: &str| {
        contact
            .and_then(|c| c.get(k))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let last = state
        .message_order
        .iter()
        .rev()
        .filter_map(|m| state.messages.get(m))
        .find(|m| m.conversation_id == c.id);
    json!({
        "id": c.id,
        "contactId": c.contact_id,
        "locationId": c.location_id,
        "dateAdded": c.date_added,
        "dateUpdated": last.map_or(c.date_added.clone(), |m| m.date_added.clone()),
        "lastMessageDate": last.map_or(c.date_added.clone(), |m| m.date_added.clone()),
        "lastMessageBody": last.and_then(|m| m.body.clone()),
        "lastMessageType": "TYPE_SMS",
        "type": "TYPE_PHONE",
        "unreadCount": 0,
        "deleted": false,
        "fullName": field("name"),
        "contactName": field("name"),
        "email": field("email"),
        "phone": field("phone"),
    })
}

/// `POST /conversations/messages/inbound` → 200 `ProcessMessageResponseDto`.
pub(crate) async fn inbound(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let value = match parse_body(&body) {
        Ok(v) => v,
        Err(response) => return *response,
    };
    let mut errors = validate(Spec::Conversations, "ProcessMessageBodyDto", &value);
    // A missing conversationProviderId is not a 400 at GHL (see the module doc).
    errors.retain(|e| e != "conversationProviderId should not be empty");
    let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_owned);
    if !shared.options.ghl_require_conversation_id {
        // GHL's live docs: either conversationId or contactId is required.
        errors.retain(|e| {
            e != "conversationId should not be empty" && e != "contactId should not be empty"
        });
        if text("conversationId").is_none() && text("contactId").is_none() {
            errors.push("contactId should not be empty".into());
        }
    }
    if !errors.is_empty() {
        return invalid(StatusCode::BAD_REQUEST, errors);
    }
    let mut state = lock(&shared.ghl);
    let expected = state
        .locations
        .get(&caller.location_id)
        .and_then(|l| l.conversation_provider_id.clone());
    match (expected, text("conversationProviderId")) {
        (Some(_), None) => return StatusCode::CREATED.into_response(),
        (Some(want), Some(given)) if want != given => {
            return error(StatusCode::BAD_REQUEST, "Invalid conversationProviderId");
        }
        _ => {}
    }
    let conversation = text("conversationId").map(|id| state.conversations.get(&id).cloned());
    let conversation = match conversation {
        Some(Some(c)) if c.location_id == caller.location_id => Some(c),
        Some(_) => return error(StatusCode::BAD_REQUEST, "Conversation not found"),
        None => None,
    };
    let contact_id = match (text("contactId"), &conversation) {
        (Some(id), Some(c)) if id != c.contact_id => {
            return error(
                StatusCode::BAD_REQUEST,
                "Conversation does not belong to this contact",
            );
        }
        (_, Some(c)) => c.contact_id.clone(),
        (Some(id), None) => id,
        (None, None) => return error(StatusCode::BAD_REQUEST, "Contact not found"),
    };
    if state.contact_in(&caller.location_id, &contact_id).is_none() {
        return error(StatusCode::BAD_REQUEST, "Contact not found");
    }
    let conversation_id = match conversation {
        Some(c) => c.id,
        None => state.conversation_for(&caller.location_id, &contact_id),
    };
    let now = clock::now_iso();
    let message = Message {
        id: ids::ghl_id(),
        location_id: caller.location_id.clone(),
        conversation_id: conversation_id.clone(),
        contact_id: contact_id.clone(),
        // The spec's default direction is outbound: a gateway that forgets `direction` gets that.
        direction: text("direction").unwrap_or_else(|| "outbound".into()),
        kind: text("type").unwrap_or_default(),
        body: text("message"),
        attachments: value
            .get("attachments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        alt_id: text("altId"),
        conversation_provider_id: text("conversationProviderId"),
        user_id: None,
        provider_outbound: false,
        created: Instant::now(),
        date_added: text("date").unwrap_or_else(|| now.clone()),
        status: "delivered".into(),
        status_history: Vec::new(),
        error: None,
    };
    let message_id = message.id.clone();
    state.message_order.push(message_id.clone());
    state.messages.insert(message_id.clone(), message);
    Json(json!({
        "success": true,
        "conversationId": conversation_id,
        "messageId": message_id,
        "message": "Message added successfully",
        "contactId": contact_id,
        "dateAdded": now,
        "traceId": ids::uuid_v4(),
    }))
    .into_response()
}

/// `PUT /conversations/messages/{messageId}/status` → 200 `SendMessageResponseDto`.
pub(crate) async fn update_status(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(message_id): Path<String>,
    body: Bytes,
) -> Response {
    let value = match parse_body(&body) {
        Ok(v) => v,
        Err(response) => return *response,
    };
    let errors = validate(Spec::Conversations, "UpdateMessageStatusDto", &value);
    if !errors.is_empty() {
        return invalid(StatusCode::BAD_REQUEST, errors);
    }
    let window = shared.options.ghl_downstream_window;
    let mut state = lock(&shared.ghl);
    let Some(message) = state
        .messages
        .get_mut(&message_id)
        .filter(|m| m.location_id == caller.location_id)
    else {
        return error(StatusCode::NOT_FOUND, "Message not found");
    };
    if !message.provider_outbound || message.created.elapsed() < window {
        return error(StatusCode::FORBIDDEN, NO_PROVIDER);
    }
    let status = value
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    message.status = status.clone();
    message
        .status_history
        .push((status.clone(), clock::now_iso()));
    if let Some(e) = value.get("error").filter(|e| !e.is_null()) {
        message.error = Some(e.clone());
    }
    Json(json!({
        "conversationId": message.conversation_id,
        "messageId": message.id,
        "status": status,
        "traceId": ids::uuid_v4(),
    }))
    .into_response()
}

/// `GET /conversations/messages/{id}`.
pub(crate) async fn get_message(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let state = lock(&shared.ghl);
    match state
        .messages
        .get(&id)
        .filter(|m| m.location_id == caller.location_id)
    {
        Some(m) => Json(message_json(m)).into_response(),
        None => error(StatusCode::NOT_FOUND, "Message not found"),
    }
}

/// `GET /conversations/search?locationId&contactId&limit` → `{conversations, total}`.
pub(crate) async fn search(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(location_id) = query.get("locationId").filter(|l| !l.is_empty()) else {
        return invalid(
            StatusCode::BAD_REQUEST,
            vec!["locationId should not be empty".into()],
        );
    };
    if *location_id != caller.location_id {
        return error(
            StatusCode::FORBIDDEN,
            "The token does not have access to this location.",
        );
    }
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(20)
        .min(100);
    let state = lock(&shared.ghl);
    let mut found: Vec<&super::Conversation> = state
        .conversations
        .values()
        .filter(|c| c.location_id == *location_id)
        .filter(|c| query.get("contactId").is_none_or(|id| *id == c.contact_id))
        .collect();
    found.sort_by(|a, b| b.date_added.cmp(&a.date_added));
    let total = found.len();
    let conversations: Vec<Value> = found
        .iter()
        .take(limit)
        .map(|c| conversation_json(&state, &c.id))
        .collect();
    Json(json!({"conversations": conversations, "total": total, "traceId": ids::uuid_v4()}))
        .into_response()
}

/// `POST /conversations/` → 201 `{success, conversation}`.
pub(crate) async fn create(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let value = match parse_body(&body) {
        Ok(v) => v,
        Err(response) => return *response,
    };
    let errors = validate(Spec::Conversations, "CreateConversationDto", &value);
    if !errors.is_empty() {
        return invalid(StatusCode::BAD_REQUEST, errors);
    }
    let text = |k: &str| {
        value
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if text("locationId") != caller.location_id {
        return error(
            StatusCode::FORBIDDEN,
            "The token does not have access to this location.",
        );
    }
    let contact_id = text("contactId");
    let mut state = lock(&shared.ghl);
    if state.contact_in(&caller.location_id, &contact_id).is_none() {
        return error(StatusCode::BAD_REQUEST, "Contact not found");
    }
    let existing = state
        .conversations
        .values()
        .find(|c| c.location_id == caller.location_id && c.contact_id == contact_id)
        .map(|c| c.id.clone());
    if let Some(id) = existing {
        let body = json!({"statusCode": 400, "message": "Conversation already exists", "conversationId": id, "traceId": ids::uuid_v4()});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    let id = state.conversation_for(&caller.location_id, &contact_id);
    (
        StatusCode::CREATED,
        Json(json!({"success": true, "conversation": conversation_json(&state, &id)})),
    )
        .into_response()
}
