//! A GHL user sends a message (`POST /_control/ghl/outbound`), and Marketplace events
//! (`POST /_control/ghl/events`): the simulator posts GHL's signed webhooks to the gateway.
//!
//! The provider payload is the flat `ProviderOutboundMessage` of the docs' SMS example, field for
//! field. The signature is Ed25519 over the exact bytes sent, base64, in `x-ghl-signature`: the
//! only signature GHL puts on Delivery-URL calls.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

use super::contact_store::{apply_fields, insert, new_contact, normalize_phone};
use super::Message;
use crate::control::{parse, ControlError};
use crate::shared::{lock, Shared};
use crate::webhook::{deliver, Webhook};
use crate::{clock, ids};

/// GHL's Conversation Provider Outbound Message, in the docs' field order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ProviderOutboundMessage {
    contact_id: String,
    location_id: String,
    message_id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    phone: String,
    message: String,
    attachments: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    /// Not in the documented payload; sent only when the control call asks for it, so a gateway
    /// can be tested both with and without it (its presence is UNCONFIRMED).
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation_provider_id: Option<String>,
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn target(shared: &Shared, given: Option<String>, path: &str) -> Result<String, ControlError> {
    given
        .or_else(|| shared.gateway().map(|g| format!("{g}{path}")))
        .ok_or_else(|| {
            ControlError::bad_request(
                "no gateway URL: set gateway_base_url or PUT /_control/gateway",
            )
        })
}

/// `POST /_control/ghl/outbound` {locationId, contactId?, phone?, message?, attachments?, userId?
/// (null to omit), conversationProviderId?, url?} → {messageId, conversationId, contactId,
/// gatewayStatus, delivery}.
pub(crate) async fn outbound(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let body: Value = parse(&body)?;
    let location_id = text(&body, "locationId")
        .ok_or_else(|| ControlError::bad_request("locationId is required"))?;
    let message_text = text(&body, "message").unwrap_or_default();
    let attachments: Vec<String> = match body.get("attachments") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| ControlError::bad_request("attachments must be a list of URLs"))?,
    };
    if message_text.is_empty() && attachments.is_empty() {
        return Err(ControlError::bad_request(
            "message or attachments is required",
        ));
    }
    let url = target(&shared, text(&body, "url"), "/webhooks/ghl/provider")?;
    let (payload, conversation_id) = {
        let mut state = lock(&shared.ghl);
        let location =
            state.locations.get(&location_id).cloned().ok_or_else(|| {
                ControlError::not_found(format!("unknown location {location_id}"))
            })?;
        let contact_id = match (text(&body, "contactId"), text(&body, "phone")) {
            (Some(id), _) => {
                state
                    .contact_in(&location_id, &id)
                    .ok_or_else(|| ControlError::not_found(format!("unknown contact {id}")))?;
                id
            }
            (None, Some(phone)) => find_or_create_by_phone(&mut state, &location_id, &phone),
            (None, None) => {
                return Err(ControlError::bad_request("contactId or phone is required"))
            }
        };
        let phone = text(&body, "phone")
            .map(|p| normalize_phone(&p))
            .or_else(|| {
                state
                    .contacts
                    .get(&contact_id)
                    .and_then(|c| c.get("phone"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .ok_or_else(|| ControlError::bad_request("the contact has no phone; give phone"))?;
        let user_id = match body.get("userId") {
            Some(Value::Null) => None,
            Some(Value::String(u)) => Some(u.clone()),
            _ => Some(location.user_id.clone()),
        };
        let conversation_id = state.conversation_for(&location_id, &contact_id);
        let message_id = ids::ghl_id();
        let now = clock::now_iso();
        state.message_order.push(message_id.clone());
        state.messages.insert(
            message_id.clone(),
            Message {
                id: message_id.clone(),
                location_id: location_id.clone(),
                conversation_id: conversation_id.clone(),
                contact_id: contact_id.clone(),
                direction: "outbound".into(),
                kind: "SMS".into(),
                body: Some(message_text.clone()),
                attachments: attachments.clone(),
                alt_id: None,
                conversation_provider_id: text(&body, "conversationProviderId")
                    .or(location.conversation_provider_id),
                user_id: user_id.clone(),
                provider_outbound: true,
                created: Instant::now(),
                date_added: now.clone(),
                status: "pending".into(),
                status_history: vec![("pending".into(), now)],
                error: None,
            },
        );
        let payload = ProviderOutboundMessage {
            contact_id,
            location_id,
            message_id,
            kind: "SMS",
            phone,
            message: message_text,
            attachments,
            user_id,
            conversation_provider_id: text(&body, "conversationProviderId"),
        };
        (payload, conversation_id)
    };
    let raw = serde_json::to_vec(&payload).map_err(|e| ControlError::bad_request(e.to_string()))?;
    let hook = Webhook {
        url,
        headers: vec![("x-ghl-signature", shared.ghl_sign(&raw))],
        body: raw,
    };
    let delivery = deliver(&shared, super::SIMULATOR.name, hook).await;
    Ok(Json(json!({
        "messageId": payload.message_id,
        "conversationId": conversation_id,
        "contactId": payload.contact_id,
        "gatewayStatus": delivery.status,
        "delivery": delivery,
    })))
}

fn find_or_create_by_phone(state: &mut super::GhlState, location_id: &str, phone: &str) -> String {
    let phone = normalize_phone(phone);
    let existing = state
        .contact_order
        .iter()
        .filter_map(|id| state.contacts.get(id))
        .find(|c| {
            c.get("locationId").and_then(Value::as_str) == Some(location_id)
                && c.get("phone").and_then(Value::as_str) == Some(phone.as_str())
        });
    if let Some(id) = existing.and_then(|c| c.get("id")).and_then(Value::as_str) {
        return id.to_owned();
    }
    let mut contact = new_contact(location_id);
    let mut fields = serde_json::Map::new();
    fields.insert("phone".into(), phone.into());
    apply_fields(&mut contact, &fields);
    let contact = insert(state, contact);
    contact
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// `POST /_control/ghl/events?url=…`: the body (a Marketplace webhook such as `INSTALL` or
/// `ContactDndUpdate`, sent as given) is signed and posted to `{gateway}/webhooks/ghl`.
pub(crate) async fn event(
    State(shared): State<Shared>,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let parsed: Value = parse(&body)?;
    if !parsed.is_object() {
        return Err(ControlError::bad_request("the event must be a JSON object"));
    }
    let url = target(&shared, query.get("url").cloned(), "/webhooks/ghl")?;
    let raw = body.to_vec();
    let hook = Webhook {
        url,
        headers: vec![("x-ghl-signature", shared.ghl_sign(&raw))],
        body: raw,
    };
    let delivery = deliver(&shared, super::SIMULATOR.name, hook).await;
    Ok(Json(
        json!({"gatewayStatus": delivery.status, "delivery": delivery}),
    ))
}
