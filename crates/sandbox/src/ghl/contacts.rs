//! GHL contacts: create, get, update (DND included), upsert, duplicate lookup, tags.
//!
//! Deduplication follows the location's "Allow Duplicate Contact" setting with the priority
//! email, then phone. When an upsert's email matches one contact and its phone another, GHL
//! updates the email match and silently drops the phone (issue #37); so does this simulator.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Map, Value};

use super::contact_store::{apply_fields, find_duplicate, insert, new_contact};
use super::gate::Caller;
use super::schema::{validate, Spec};
use super::{error, invalid, parse_body, GhlState};
use crate::shared::{lock, Reject, Shared};
use crate::{clock, ids};

fn str_field<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str)
}

/// Parse and validate a DTO body; the contacts API answers validation errors with 422.
fn dto(body: &[u8], schema: &str) -> Result<Map<String, Value>, Reject> {
    let value = parse_body(body)?;
    let errors = validate(Spec::Contacts, schema, &value);
    if !errors.is_empty() {
        return Err(Box::new(invalid(StatusCode::UNPROCESSABLE_ENTITY, errors)));
    }
    Ok(value.as_object().cloned().unwrap_or_default())
}

fn check_location(caller: &Caller, body: &Map<String, Value>) -> Result<(), Reject> {
    match str_field(body, "locationId") {
        Some(id) if id == caller.location_id => Ok(()),
        _ => Err(Box::new(error(
            StatusCode::FORBIDDEN,
            "The token does not have access to this location.",
        ))),
    }
}

fn duplicate_refusal(state: &GhlState, id: &str, field: &str) -> Response {
    let name = state.contacts.get(id).and_then(|c| c.get("name")).cloned();
    let body = json!({
        "statusCode": 400,
        "message": "This location does not allow duplicated contacts.",
        "meta": {"contactName": name, "contactId": id, "matchingField": field},
        "traceId": ids::uuid_v4(),
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// `POST /contacts/` → 201 `{contact}`.
pub(crate) async fn create(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let body = match dto(&body, "CreateContactDto")
        .and_then(|b| check_location(&caller, &b).map(|()| b))
    {
        Ok(b) => b,
        Err(response) => return *response,
    };
    let mut state = lock(&shared.ghl);
    let allow = state
        .locations
        .get(&caller.location_id)
        .is_some_and(|l| l.allow_duplicate_contact);
    if !allow {
        if let Some((id, field)) = find_duplicate(
            &state,
            &caller.location_id,
            str_field(&body, "email"),
            str_field(&body, "phone"),
            None,
        ) {
            return duplicate_refusal(&state, &id, field);
        }
    }
    let mut contact = new_contact(&caller.location_id);
    apply_fields(&mut contact, &body);
    let contact = insert(&mut state, contact);
    (StatusCode::CREATED, Json(json!({"contact": contact}))).into_response()
}

/// `POST /contacts/upsert` → 200 `{new, contact, traceId}`.
pub(crate) async fn upsert(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let mut body = match dto(&body, "UpsertContactDto")
        .and_then(|b| check_location(&caller, &b).map(|()| b))
    {
        Ok(b) => b,
        Err(response) => return *response,
    };
    let mut state = lock(&shared.ghl);
    let allow = state
        .locations
        .get(&caller.location_id)
        .is_some_and(|l| l.allow_duplicate_contact);
    let force_new = allow && body.get("createNewIfDuplicateAllowed") == Some(&Value::Bool(true));
    let (email, phone) = (
        str_field(&body, "email").map(str::to_owned),
        str_field(&body, "phone").map(str::to_owned),
    );
    let matched = if force_new {
        None
    } else {
        find_duplicate(
            &state,
            &caller.location_id,
            email.as_deref(),
            phone.as_deref(),
            None,
        )
    };
    let Some((id, field)) = matched else {
        let mut contact = new_contact(&caller.location_id);
        apply_fields(&mut contact, &body);
        let contact = insert(&mut state, contact);
        return Json(json!({"new": true, "contact": contact, "traceId": ids::uuid_v4()}))
            .into_response();
    };
    if field == "email" {
        // The phone belongs to someone else: GHL keeps the email match and ignores the phone.
        if find_duplicate(
            &state,
            &caller.location_id,
            None,
            phone.as_deref(),
            Some(&id),
        )
        .is_some()
        {
            body.remove("phone");
        }
    }
    let Some(contact) = state.contacts.get_mut(&id) else {
        return error(StatusCode::BAD_REQUEST, "Contact not found");
    };
    apply_fields(contact, &body);
    Json(json!({"new": false, "contact": contact.clone(), "traceId": ids::uuid_v4()}))
        .into_response()
}

/// `GET /contacts/search/duplicate?locationId&number&email` → `{contact}` (`null` when none).
pub(crate) async fn duplicate(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(location_id) = query.get("locationId").filter(|l| !l.is_empty()) else {
        return invalid(
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["locationId should not be empty".into()],
        );
    };
    if *location_id != caller.location_id {
        return error(
            StatusCode::FORBIDDEN,
            "The token does not have access to this location.",
        );
    }
    let state = lock(&shared.ghl);
    let found = find_duplicate(
        &state,
        location_id,
        query.get("email").map(String::as_str),
        query.get("number").map(String::as_str),
        None,
    )
    .and_then(|(id, _)| state.contacts.get(&id).cloned());
    Json(json!({"contact": found, "traceId": ids::uuid_v4()})).into_response()
}

/// `GET /contacts/{contactId}` → `{contact}`.
pub(crate) async fn get_one(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    let state = lock(&shared.ghl);
    match state.contact_in(&caller.location_id, &id) {
        Some(contact) => {
            Json(json!({"contact": contact, "traceId": ids::uuid_v4()})).into_response()
        }
        None => error(StatusCode::BAD_REQUEST, "Contact not found"),
    }
}

/// `PUT /contacts/{contactId}` → `{succeded, contact}` (GHL's spelling).
pub(crate) async fn update(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body = match dto(&body, "UpdateContactDto") {
        Ok(b) => b,
        Err(response) => return *response,
    };
    let mut state = lock(&shared.ghl);
    if state.contact_in(&caller.location_id, &id).is_none() {
        return error(StatusCode::BAD_REQUEST, "Contact not found");
    }
    let allow = state
        .locations
        .get(&caller.location_id)
        .is_some_and(|l| l.allow_duplicate_contact);
    if !allow {
        let clash = find_duplicate(
            &state,
            &caller.location_id,
            str_field(&body, "email"),
            str_field(&body, "phone"),
            Some(&id),
        );
        if let Some((other, field)) = clash {
            return duplicate_refusal(&state, &other, field);
        }
    }
    let Some(contact) = state.contacts.get_mut(&id) else {
        return error(StatusCode::BAD_REQUEST, "Contact not found");
    };
    apply_fields(contact, &body);
    Json(json!({"succeded": true, "contact": contact.clone(), "traceId": ids::uuid_v4()}))
        .into_response()
}

fn tags_of(body: &[u8]) -> Result<Vec<String>, Reject> {
    let value = parse_body(body)?;
    match value.get("tags").and_then(Value::as_array) {
        Some(tags) if tags.iter().all(Value::is_string) => Ok(tags
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()),
        _ => Err(Box::new(invalid(
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["tags must be an array of strings".into()],
        ))),
    }
}

async fn change_tags(
    shared: Shared,
    caller: Caller,
    id: String,
    body: Bytes,
    add: bool,
) -> Response {
    let tags = match tags_of(&body) {
        Ok(t) => t,
        Err(response) => return *response,
    };
    let mut state = lock(&shared.ghl);
    if state.contact_in(&caller.location_id, &id).is_none() {
        return error(StatusCode::BAD_REQUEST, "Contact not found");
    }
    let Some(contact) = state.contacts.get_mut(&id) else {
        return error(StatusCode::BAD_REQUEST, "Contact not found");
    };
    let mut current: Vec<String> = contact
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    // GHL stores tags lowercase.
    for tag in tags.iter().map(|t| t.trim().to_lowercase()) {
        if add && !current.contains(&tag) {
            current.push(tag);
        } else if !add {
            current.retain(|t| *t != tag);
        }
    }
    contact.insert("tags".into(), json!(current));
    contact.insert("dateUpdated".into(), clock::now_iso().into());
    let status = if add {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (
        status,
        Json(json!({"tags": current, "traceId": ids::uuid_v4()})),
    )
        .into_response()
}

/// `POST /contacts/{contactId}/tags` → 201 `{tags}`.
pub(crate) async fn add_tags(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    change_tags(shared, caller, id, body, true).await
}

/// `DELETE /contacts/{contactId}/tags` → 200 `{tags}`.
pub(crate) async fn remove_tags(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    change_tags(shared, caller, id, body, false).await
}
