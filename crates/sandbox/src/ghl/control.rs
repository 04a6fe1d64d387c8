//! Control routes of the GHL simulator (`/_control/ghl/...`): seed installs and contacts, mint
//! authorization codes, expire tokens, read messages, publish the webhook public key, and make a
//! GHL user send a message. Calendar routes are in `calendar_control`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::contact_store::{apply_fields, new_contact};
use super::conversations::message_json;
use super::oauth::{issue_code, mint_token, register_tokens, REFRESH_LIFETIME};
use super::outbound::{event, outbound};
use crate::control::{parse, ControlError};
use crate::shared::{lock, Shared};

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/ghl/locations", post(seed_location))
        .route(
            "/ghl/locations/{location_id}/expire-tokens",
            post(expire_tokens),
        )
        .route("/ghl/auth-codes", post(auth_code))
        .route("/ghl/public-key", get(public_key))
        .route("/ghl/outbound", post(outbound))
        .route("/ghl/events", post(event))
        .route("/ghl/marketplace", post(super::lifecycle::marketplace))
        .route("/ghl/contacts", get(list_contacts).post(seed_contact))
        .route("/ghl/messages", get(list_messages))
        .route("/ghl/custom-page", get(super::custom_page::host))
        .with_state(shared.clone())
        .merge(super::calendar_control::router(shared))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SeedLocation {
    location_id: Option<String>,
    company_id: Option<String>,
    user_id: Option<String>,
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
    conversation_provider_id: Option<String>,
    allow_duplicate_contact: Option<bool>,
}

/// `POST /_control/ghl/locations`: install the app on a location (created or reconfigured) and
/// return its tokens, generated unless given.
async fn seed_location(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let seed: SeedLocation = parse(&body)?;
    let id = seed.location_id.unwrap_or_else(crate::ids::ghl_id);
    let mut state = lock(&shared.ghl);
    let location = state.ensure_location(&id, shared.options.ghl_token_expires_in);
    if let Some(v) = seed.company_id {
        location.company_id = v;
    }
    if let Some(v) = seed.user_id {
        location.user_id = v;
    }
    if let Some(v) = seed.expires_in {
        location.expires_in = v;
    }
    if seed.conversation_provider_id.is_some() {
        location.conversation_provider_id = seed.conversation_provider_id;
    }
    if let Some(v) = seed.allow_duplicate_contact {
        location.allow_duplicate_contact = v;
    }
    let location = location.clone();
    let access = seed
        .access_token
        .unwrap_or_else(|| mint_token("access", &id, location.expires_in));
    let refresh = seed
        .refresh_token
        .unwrap_or_else(|| mint_token("refresh", &id, REFRESH_LIFETIME));
    register_tokens(&mut state, &id, &access, &refresh, location.expires_in);
    let body = json!({
        "locationId": id,
        "companyId": location.company_id,
        "userId": location.user_id,
        "accessToken": access,
        "refreshToken": refresh,
        "expiresIn": location.expires_in,
        "conversationProviderId": location.conversation_provider_id,
        "allowDuplicateContact": location.allow_duplicate_contact,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST /_control/ghl/locations/{id}/expire-tokens`: every access token of the location expires
/// now (refresh tokens stay valid), to exercise refresh-on-401.
async fn expire_tokens(
    State(shared): State<Shared>,
    Path(location_id): Path<String>,
) -> Result<Json<Value>, ControlError> {
    let mut state = lock(&shared.ghl);
    if !state.locations.contains_key(&location_id) {
        return Err(ControlError::not_found(format!(
            "unknown location {location_id}"
        )));
    }
    let now = std::time::Instant::now();
    let mut expired = 0_u32;
    for grant in state
        .access_tokens
        .values_mut()
        .filter(|g| g.location_id == location_id)
    {
        grant.expires_at = now;
        expired += 1;
    }
    Ok(Json(json!({"expired": expired})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AuthCodeBody {
    location_id: Option<String>,
    redirect_uri: Option<String>,
}

/// `POST /_control/ghl/auth-codes` {locationId?, redirectUri?} → {code, locationId}: what the
/// consent redirect would carry, for `grant_type=authorization_code`.
async fn auth_code(State(shared): State<Shared>, body: Bytes) -> Result<Json<Value>, ControlError> {
    let AuthCodeBody {
        location_id,
        redirect_uri,
    } = parse(&body)?;
    let id = location_id.unwrap_or_else(crate::ids::ghl_id);
    let mut state = lock(&shared.ghl);
    state.ensure_location(&id, shared.options.ghl_token_expires_in);
    let code = issue_code(&mut state, &id, None, redirect_uri);
    Ok(Json(json!({"code": code, "locationId": id})))
}

/// `GET /_control/ghl/public-key`: the Ed25519 public key (SPKI PEM, `text/plain`).
async fn public_key(State(shared): State<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        shared.ghl_public_key_pem(),
    )
        .into_response()
}

/// `POST /_control/ghl/contacts` {locationId, …CreateContactDto fields}: add a contact as is (no
/// duplicate check, no schema check), e.g. one already on DND.
async fn seed_contact(State(shared): State<Shared>, body: Bytes) -> Result<Response, ControlError> {
    let fields: serde_json::Map<String, Value> = parse(&body)?;
    let location_id = fields
        .get("locationId")
        .and_then(Value::as_str)
        .ok_or_else(|| ControlError::bad_request("locationId is required"))?
        .to_owned();
    let mut state = lock(&shared.ghl);
    if !state.locations.contains_key(&location_id) {
        return Err(ControlError::not_found(format!(
            "unknown location {location_id}"
        )));
    }
    let mut contact = new_contact(&location_id);
    apply_fields(&mut contact, &fields);
    let id = contact
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    state.contact_order.push(id.clone());
    state.contacts.insert(id, contact.clone());
    Ok((StatusCode::CREATED, Json(json!({"contact": contact}))).into_response())
}

/// `GET /_control/ghl/contacts?locationId=`.
async fn list_contacts(
    State(shared): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Vec<Value>> {
    let state = lock(&shared.ghl);
    let wanted = q.get("locationId");
    Json(
        state
            .contact_order
            .iter()
            .filter_map(|id| state.contacts.get(id))
            .filter(|c| {
                wanted
                    .is_none_or(|l| c.get("locationId").and_then(Value::as_str) == Some(l.as_str()))
            })
            .map(|c| Value::Object(c.clone()))
            .collect(),
    )
}

/// Messages in creation order, optionally of one location.
pub(crate) fn messages_json(shared: &Shared, location_id: Option<&str>) -> Vec<Value> {
    let state = lock(&shared.ghl);
    state
        .message_order
        .iter()
        .filter_map(|id| state.messages.get(id))
        .filter(|m| location_id.is_none_or(|l| m.location_id == l))
        .map(message_json)
        .collect()
}

/// `GET /_control/ghl/messages?locationId=&contactId=`: every message with its status history.
async fn list_messages(
    State(shared): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Vec<Value>> {
    let all = messages_json(&shared, q.get("locationId").map(String::as_str));
    let contact = q.get("contactId");
    Json(
        all.into_iter()
            .filter(|m| {
                contact
                    .is_none_or(|c| m.get("contactId").and_then(Value::as_str) == Some(c.as_str()))
            })
            .collect(),
    )
}
