//! Control routes for GHL calendars: seed a location's calendar with its business hours and time
//! zone, and list booked appointments (so a test can see a booking landed, and in which zone).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use jiff::civil::Time;
use jiff::tz::TimeZone;
use serde::Deserialize;
use serde_json::{json, Value};

use super::calendar_store::{offset_time, weekday, Calendar};
use super::calendars::event_json;
use crate::control::{parse, ControlError};
use crate::shared::{lock, Shared};

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/ghl/calendars", axum::routing::post(seed_calendar))
        .route("/ghl/appointments", axum::routing::get(list_appointments))
        .with_state(shared)
}

/// `POST /_control/ghl/calendars`. Keys are camelCase like the other GHL control routes; the
/// snake_case spellings are accepted too.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SeedCalendar {
    #[serde(alias = "location_id")]
    location_id: String,
    #[serde(alias = "calendar_id")]
    calendar_id: Option<String>,
    name: Option<String>,
    /// IANA zone of the business hours; default `America/New_York`.
    timezone: Option<String>,
    /// Default 30.
    #[serde(alias = "slot_minutes")]
    slot_minutes: Option<i64>,
    /// `HH:MM`, default `09:00`.
    open: Option<String>,
    /// `HH:MM`, default `17:00`.
    close: Option<String>,
    /// Weekday names (`mon`, `Tuesday`) or GHL numbers (0 = Sunday); default Monday to Friday.
    days: Option<Vec<Value>>,
}

fn clock_time(text: &str, name: &str) -> Result<Time, ControlError> {
    let (hour, minute) = text
        .trim()
        .split_once(':')
        .and_then(|(h, m)| Some((h.parse::<i8>().ok()?, m.parse::<i8>().ok()?)))
        .ok_or_else(|| ControlError::bad_request(format!("{name} must be HH:MM")))?;
    Time::new(hour, minute, 0, 0)
        .map_err(|_| ControlError::bad_request(format!("{name} must be HH:MM")))
}

/// Seed (or replace) a calendar of a known location; answers 201 with the calendar as
/// `GET /calendars/` shows it, plus its `timezone`.
async fn seed_calendar(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let seed: SeedCalendar = parse(&body)?;
    let mut calendar = Calendar::business_hours(&seed.location_id);
    if let Some(id) = seed.calendar_id {
        calendar.id = id;
    }
    if let Some(name) = seed.name {
        calendar.name = name;
    }
    if let Some(name) = seed.timezone {
        calendar.zone = TimeZone::get(name.trim())
            .map_err(|e| ControlError::bad_request(format!("unknown time zone {name}: {e}")))?;
        calendar.timezone = name.trim().to_owned();
    }
    if let Some(minutes) = seed.slot_minutes {
        if !(5..=24 * 60).contains(&minutes) {
            return Err(ControlError::bad_request(
                "slotMinutes must be between 5 and 1440",
            ));
        }
        calendar.slot_minutes = minutes;
    }
    if let Some(open) = seed.open {
        calendar.open = clock_time(&open, "open")?;
    }
    if let Some(close) = seed.close {
        calendar.close = clock_time(&close, "close")?;
    }
    if calendar.close <= calendar.open {
        return Err(ControlError::bad_request("close must be after open"));
    }
    if let Some(days) = seed.days {
        calendar.days = days
            .iter()
            .map(|d| {
                weekday(d).ok_or_else(|| ControlError::bad_request(format!("unknown weekday {d}")))
            })
            .collect::<Result<_, _>>()?;
    }
    let mut state = lock(&shared.ghl);
    if !state.locations.contains_key(&seed.location_id) {
        return Err(ControlError::not_found(format!(
            "unknown location {}",
            seed.location_id
        )));
    }
    if let Some(other) = state.calendars.get(&calendar.id) {
        if other.location_id != calendar.location_id {
            return Err(ControlError::bad_request(format!(
                "calendar {} belongs to another location",
                calendar.id
            )));
        }
    }
    let mut answer = calendar.to_json();
    answer["timezone"] = calendar.timezone.clone().into();
    state.add_calendar(calendar);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `GET /_control/ghl/appointments?locationId=&calendarId=&contactId=`: booked appointments in
/// booking order, each as `GET /calendars/events/appointments/{id}` shows it plus
/// `calendarTimezone` and the start and end written in that zone (`localStartTime`,
/// `localEndTime`).
async fn list_appointments(
    State(shared): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Vec<Value>> {
    let state = lock(&shared.ghl);
    let wanted = |key: &str, value: &str| q.get(key).is_none_or(|w| w == value);
    Json(
        state
            .appointment_order
            .iter()
            .filter_map(|id| state.appointments.get(id))
            .filter(|a| {
                wanted("locationId", &a.location_id)
                    && wanted("calendarId", &a.calendar_id)
                    && wanted("contactId", &a.contact_id)
            })
            .map(|a| {
                let mut shown = event_json(a);
                if let Some(calendar) = state.calendars.get(&a.calendar_id) {
                    shown["calendarTimezone"] = calendar.timezone.clone().into();
                    shown["localStartTime"] = offset_time(a.start, &calendar.zone).into();
                    shown["localEndTime"] = offset_time(a.end, &calendar.zone).into();
                }
                json!(shown)
            })
            .collect(),
    )
}
