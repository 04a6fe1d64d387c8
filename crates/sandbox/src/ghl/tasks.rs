//! GHL contact tasks: create (`CreateTaskParams` → 201 `{task}`) and list (`{tasks}`), on
//! contacts of the token's location only.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Map, Value};

use super::gate::Caller;
use super::schema::{validate, Spec};
use super::{error, invalid, parse_body};
use crate::ids;
use crate::shared::{lock, Shared};

/// `TaskSchema`: what GHL answers for a task (the stored `locationId` stays inside).
fn task_json(task: &Map<String, Value>) -> Value {
    let mut shown = task.clone();
    shown.remove("locationId");
    Value::Object(shown)
}

/// `POST /contacts/{contactId}/tasks` → 201 `{task}`. The contacts API answers validation
/// errors with 422; a `dueDate` that is not an ISO 8601 date-time is one.
pub(crate) async fn create(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Response {
    let value = match parse_body(&body) {
        Ok(value) => value,
        Err(response) => return *response,
    };
    let mut errors = validate(Spec::Contacts, "CreateTaskParams", &value);
    let due = value.get("dueDate").and_then(Value::as_str).unwrap_or("");
    if !due.is_empty() && due.parse::<jiff::Timestamp>().is_err() {
        errors.push("dueDate must be a valid ISO 8601 date string".into());
    }
    if !errors.is_empty() {
        return invalid(StatusCode::UNPROCESSABLE_ENTITY, errors);
    }
    let mut state = lock(&shared.ghl);
    if state.contact_in(&caller.location_id, &contact_id).is_none() {
        return error(StatusCode::BAD_REQUEST, "Contact not found");
    }
    let mut task = Map::new();
    task.insert("id".into(), ids::ghl_id().into());
    for key in ["title", "body", "assignedTo", "dueDate", "completed"] {
        if let Some(v) = value.get(key).filter(|v| !v.is_null()) {
            task.insert(key.into(), v.clone());
        }
    }
    task.insert("contactId".into(), contact_id.into());
    task.insert("locationId".into(), caller.location_id.into());
    let answer = task_json(&task);
    state.tasks.push(task);
    (
        StatusCode::CREATED,
        Json(json!({"task": answer, "traceId": ids::uuid_v4()})),
    )
        .into_response()
}

/// `GET /contacts/{contactId}/tasks` → `{tasks}`, oldest first.
pub(crate) async fn list(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(contact_id): Path<String>,
) -> Response {
    let state = lock(&shared.ghl);
    if state.contact_in(&caller.location_id, &contact_id).is_none() {
        return error(StatusCode::BAD_REQUEST, "Contact not found");
    }
    let tasks: Vec<Value> = state
        .tasks
        .iter()
        .filter(|t| t.get("contactId").and_then(Value::as_str) == Some(contact_id.as_str()))
        .map(task_json)
        .collect();
    Json(json!({"tasks": tasks, "traceId": ids::uuid_v4()})).into_response()
}
