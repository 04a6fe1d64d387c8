//! GHL calendars: list a location's calendars, free slots, create and get appointments.
//!
//! The calendars API (`Version: 2021-04-15`) answers its errors with 400 (its spec lists no
//! 422), including a body that breaks `AppointmentCreateSchema` and a slot that is not free.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde_json::{json, Map, Value};

use super::calendar_store::{offset_time, parse_offset_time, slots_json, Appointment, Calendar};
use super::gate::Caller;
use super::schema::{validate, Spec};
use super::{error, invalid, parse_body, GhlState};
use crate::shared::{lock, Shared};
use crate::{clock, ids};

/// GHL: "Date range cannot be more than 31 days".
const MAX_RANGE_MS: i64 = 31 * 86_400 * 1000;

/// GHL's words when a booking's slot is taken, outside hours or past.
pub(crate) const SLOT_TAKEN: &str = "The slot you have selected is no longer available.";

fn forbidden() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "The token does not have access to this location.",
    )
}

/// The calendar `id` of the caller's location; another location's calendar is just as missing.
fn calendar_of<'a>(state: &'a GhlState, caller: &Caller, id: &str) -> Option<&'a Calendar> {
    state
        .calendars
        .get(id)
        .filter(|c| c.location_id == caller.location_id)
}

/// `GET /calendars/?locationId=` → `{calendars: [CalendarDTO]}`. A location that has none
/// gets its default calendar on first sight, so a fresh install can book at once.
pub(crate) async fn list(
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
        return forbidden();
    }
    let mut state = lock(&shared.ghl);
    state.default_calendar(location_id);
    let calendars: Vec<Value> = state
        .calendar_order
        .iter()
        .filter_map(|id| state.calendars.get(id))
        .filter(|c| c.location_id == *location_id)
        .map(Calendar::to_json)
        .collect();
    Json(json!({"calendars": calendars, "traceId": ids::uuid_v4()})).into_response()
}

/// An epoch-milliseconds query number (`1548898600000`, or `1.5488986e12` as JS may write it).
fn millis(query: &HashMap<String, String>, name: &str) -> Result<Timestamp, String> {
    let text = query.get(name).map(|v| v.trim()).unwrap_or_default();
    let number = text
        .parse::<i64>()
        .ok()
        .or_else(|| {
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(|v| v as i64)
        })
        .ok_or_else(|| {
            format!("{name} must be a number conforming to the specified constraints")
        })?;
    Timestamp::from_millisecond(number).map_err(|_| format!("{name} is out of range"))
}

/// `GET /calendars/{calendarId}/free-slots?startDate&endDate&timezone&userId` → slots by date,
/// written in `timezone` (the calendar's own zone when absent).
pub(crate) async fn free_slots(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(calendar_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (from, to) = match (millis(&query, "startDate"), millis(&query, "endDate")) {
        (Ok(from), Ok(to)) => (from, to),
        (from, to) => {
            let messages = [from.err(), to.err()].into_iter().flatten().collect();
            return invalid(StatusCode::BAD_REQUEST, messages);
        }
    };
    if to < from {
        return error(
            StatusCode::BAD_REQUEST,
            "endDate must be greater than startDate",
        );
    }
    if to.as_millisecond() - from.as_millisecond() > MAX_RANGE_MS {
        return error(
            StatusCode::BAD_REQUEST,
            "Date range cannot be more than 31 days",
        );
    }
    let asked_zone = match query.get("timezone").filter(|z| !z.trim().is_empty()) {
        Some(name) => match TimeZone::get(name.trim()) {
            Ok(zone) => Some(zone),
            Err(_) => return error(StatusCode::BAD_REQUEST, format!("Invalid timezone {name}")),
        },
        None => None,
    };
    let state = lock(&shared.ghl);
    let Some(calendar) = calendar_of(&state, &caller, &calendar_id) else {
        return error(StatusCode::BAD_REQUEST, "Calendar not found");
    };
    let booked: Vec<&Appointment> = state.appointments.values().collect();
    let slots = calendar.free_slots(from, to, Timestamp::now(), &booked);
    let zone = asked_zone.unwrap_or_else(|| calendar.zone.clone());
    Json(slots_json(&slots, &zone)).into_response()
}

fn str_field<'a>(body: &'a Map<String, Value>, key: &str) -> &'a str {
    body.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// `POST /calendars/events/appointments` → 200 `AppointmentSchemaResponse`.
pub(crate) async fn create_appointment(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let value = match parse_body(&body) {
        Ok(value) => value,
        Err(response) => return *response,
    };
    let errors = validate(Spec::Calendars, "AppointmentCreateSchema", &value);
    if !errors.is_empty() {
        return invalid(StatusCode::BAD_REQUEST, errors);
    }
    let body = value.as_object().cloned().unwrap_or_default();
    if str_field(&body, "locationId") != caller.location_id {
        return forbidden();
    }
    let Some((start, written_in)) = parse_offset_time(str_field(&body, "startTime")) else {
        return invalid(
            StatusCode::BAD_REQUEST,
            vec!["startTime must be a valid ISO 8601 date string with an offset".into()],
        );
    };
    let mut state = lock(&shared.ghl);
    let Some(calendar) = calendar_of(&state, &caller, str_field(&body, "calendarId")).cloned()
    else {
        return error(StatusCode::BAD_REQUEST, "Calendar not found");
    };
    let contact_id = str_field(&body, "contactId").to_owned();
    if state.contact_in(&caller.location_id, &contact_id).is_none() {
        return error(StatusCode::BAD_REQUEST, "Contact not found");
    }
    let end = match body.get("endTime").and_then(Value::as_str) {
        Some(text) => match parse_offset_time(text) {
            Some((end, _)) if end > start => end,
            _ => {
                return invalid(
                    StatusCode::BAD_REQUEST,
                    vec!["endTime must be a valid ISO 8601 date string after startTime".into()],
                )
            }
        },
        None => match start.checked_add(jiff::SignedDuration::from_mins(calendar.slot_minutes)) {
            Ok(end) => end,
            Err(_) => return error(StatusCode::BAD_REQUEST, SLOT_TAKEN),
        },
    };
    let skip_check = body.get("ignoreFreeSlotValidation") == Some(&Value::Bool(true));
    let booked: Vec<&Appointment> = state.appointments.values().collect();
    if !skip_check && !calendar.is_free(start, end, Timestamp::now(), &booked) {
        return error(StatusCode::BAD_REQUEST, SLOT_TAKEN);
    }
    let user_id = state
        .locations
        .get(&caller.location_id)
        .map(|l| l.user_id.clone())
        .unwrap_or_default();
    let appointment = Appointment {
        id: ids::ghl_id(),
        calendar_id: calendar.id.clone(),
        location_id: caller.location_id.clone(),
        contact_id,
        start,
        end,
        written_in,
        title: body.get("title").and_then(Value::as_str).map_or_else(
            || format!("Appointment with {}", calendar.name),
            str::to_owned,
        ),
        status: body
            .get("appointmentStatus")
            .and_then(Value::as_str)
            .unwrap_or("confirmed")
            .to_owned(),
        assigned_user_id: body
            .get("assignedUserId")
            .and_then(Value::as_str)
            .map_or(user_id, str::to_owned),
        address: body
            .get("address")
            .and_then(Value::as_str)
            .map(str::to_owned),
        description: body
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        date_added: clock::now_iso(),
    };
    let answer = created_json(&appointment);
    state.appointment_order.push(appointment.id.clone());
    state
        .appointments
        .insert(appointment.id.clone(), appointment);
    Json(answer).into_response()
}

/// `AppointmentSchemaResponse`, times written with the offset the caller booked with.
fn created_json(a: &Appointment) -> Value {
    json!({
        "id": a.id,
        "calendarId": a.calendar_id,
        "locationId": a.location_id,
        "contactId": a.contact_id,
        "startTime": offset_time(a.start, &a.written_in),
        "endTime": offset_time(a.end, &a.written_in),
        "title": a.title,
        "meetingLocationType": if a.address.is_some() { "custom" } else { "default" },
        "appointmentStatus": a.status,
        "assignedUserId": a.assigned_user_id,
        "address": a.address.clone().unwrap_or_default(),
        "isRecurring": false,
        "rrule": "",
        "traceId": ids::uuid_v4(),
    })
}

/// `CalendarEventDTO`.
pub(crate) fn event_json(a: &Appointment) -> Value {
    json!({
        "id": a.id,
        "title": a.title,
        "calendarId": a.calendar_id,
        "locationId": a.location_id,
        "contactId": a.contact_id,
        "groupId": "",
        "appointmentStatus": a.status,
        "assignedUserId": a.assigned_user_id,
        "users": [a.assigned_user_id],
        "address": a.address.clone().unwrap_or_default(),
        "description": a.description.clone().unwrap_or_default(),
        "notes": "",
        "isRecurring": false,
        "startTime": offset_time(a.start, &a.written_in),
        "endTime": offset_time(a.end, &a.written_in),
        "dateAdded": a.date_added,
        "dateUpdated": a.date_added,
    })
}

/// `GET /calendars/events/appointments/{eventId}` → `{event: CalendarEventDTO}`.
pub(crate) async fn get_appointment(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(event_id): Path<String>,
) -> Response {
    let state = lock(&shared.ghl);
    match state
        .appointments
        .get(&event_id)
        .filter(|a| a.location_id == caller.location_id)
    {
        Some(a) => Json(json!({"event": event_json(a), "traceId": ids::uuid_v4()})).into_response(),
        None => error(StatusCode::BAD_REQUEST, "Appointment not found"),
    }
}
