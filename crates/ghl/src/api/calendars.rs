//! Calendars: a location's calendars, their free slots, and booking an appointment.
//!
//! The AI agent offers the contact times from [`parse_free_slots`] and books the one chosen
//! with [`Api::create_appointment`]. Slot strings are passed back to GHL exactly as GHL wrote
//! them (ISO 8601 with the offset of the zone they were asked in), so no time-zone
//! arithmetic happens on our side: the offset GHL chose is the one it books.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Method;
use outbound::{ApiRequest, ApiResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{classify, missing, read_json, segment, with_query, Api, ApiVersion};
use crate::payload::lenient;
use crate::{parse_rfc3339, Error};

/// The longest range GHL serves free slots for: "Date range cannot be more than 31 days".
pub const FREE_SLOTS_MAX_RANGE: Duration = Duration::from_secs(31 * 86_400);

/// What to ask `GET /calendars/{calendarId}/free-slots` for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreeSlotsQuery<'a> {
    pub calendar_id: &'a str,
    /// Start of the range; sent as epoch milliseconds.
    pub start: SystemTime,
    /// End of the range; at most [`FREE_SLOTS_MAX_RANGE`] after `start`, or GHL refuses.
    pub end: SystemTime,
    /// IANA zone the slots are written in (e.g. `America/Chicago`). Without it GHL picks
    /// a zone it does not document, so callers should always say which.
    pub timezone: Option<&'a str>,
    /// Only this user's slots (round-robin and team calendars).
    pub user_id: Option<&'a str>,
}

/// One bookable start time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeSlot {
    /// As GHL wrote it (`2024-10-28T10:00:00-05:00`): what to send back as `startTime`.
    pub start: String,
    /// The same instant, for sorting and comparing.
    pub at: SystemTime,
}

/// A GHL appointment status (`appointmentStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AppointmentStatus {
    New,
    Confirmed,
    Cancelled,
    Showed,
    #[serde(rename = "noshow")]
    NoShow,
    Invalid,
}

/// `AppointmentCreateSchema`: the fields Switchboard sets when the AI books. Unset options
/// are left out of the body, so GHL applies the calendar's own defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewAppointment<'a> {
    pub calendar_id: &'a str,
    pub location_id: &'a str,
    pub contact_id: &'a str,
    /// ISO 8601 **with offset**, e.g. a [`FreeSlot::start`].
    pub start_time: &'a str,
    /// Same format; GHL uses the calendar's slot duration when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appointment_status: Option<AppointmentStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_user_id: Option<&'a str>,
    /// `false` keeps GHL's automations (confirmation messages, workflows) from running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_notify: Option<bool>,
}

impl<'a> NewAppointment<'a> {
    /// A confirmed appointment at `start_time` with nothing else set.
    pub fn confirmed(
        calendar_id: &'a str,
        location_id: &'a str,
        contact_id: &'a str,
        start_time: &'a str,
    ) -> Self {
        Self {
            calendar_id,
            location_id,
            contact_id,
            start_time,
            end_time: None,
            title: None,
            description: None,
            appointment_status: Some(AppointmentStatus::Confirmed),
            assigned_user_id: None,
            to_notify: None,
        }
    }
}

/// A booked appointment, as GHL answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appointment {
    pub id: String,
    pub calendar_id: Option<String>,
    pub location_id: Option<String>,
    pub contact_id: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub title: Option<String>,
    pub appointment_status: Option<String>,
}

/// A calendar of a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    pub id: String,
    pub name: Option<String>,
    pub location_id: Option<String>,
    /// Not in GHL's `CalendarDTO`; read when present. A calendar's hours otherwise follow
    /// the location's zone (`GET /locations/{id}` → `timezone`).
    pub timezone: Option<String>,
    /// `false` for a disabled calendar, which should not be offered.
    pub is_active: Option<bool>,
}

impl Api<'_> {
    /// `GET /calendars/{calendarId}/free-slots?startDate=…&endDate=…&timezone=…&userId=…`.
    pub fn free_slots(&self, query: &FreeSlotsQuery<'_>) -> ApiRequest {
        let path = format!("/calendars/{}/free-slots", segment(query.calendar_id));
        let mut request = self.request(Method::GET, &path, ApiVersion::ConversationsAndCalendars);
        let (start, end) = (epoch_millis(query.start), epoch_millis(query.end));
        let mut pairs = vec![("startDate", start.as_str()), ("endDate", end.as_str())];
        if let Some(zone) = query.timezone {
            pairs.push(("timezone", zone));
        }
        if let Some(user) = query.user_id {
            pairs.push(("userId", user));
        }
        request.url = with_query(request.url, &pairs);
        request
    }

    /// `POST /calendars/events/appointments`.
    pub fn create_appointment(&self, appointment: &NewAppointment<'_>) -> ApiRequest {
        self.request(
            Method::POST,
            "/calendars/events/appointments",
            ApiVersion::ConversationsAndCalendars,
        )
        .json(appointment)
    }

    /// `GET /calendars/events/appointments/{eventId}`.
    pub fn get_appointment(&self, event_id: &str) -> ApiRequest {
        let path = format!("/calendars/events/appointments/{}", segment(event_id));
        self.request(Method::GET, &path, ApiVersion::ConversationsAndCalendars)
    }

    /// `GET /calendars/?locationId=…`.
    pub fn list_calendars(&self, location_id: &str) -> ApiRequest {
        let mut request = self.request(
            Method::GET,
            "/calendars/",
            ApiVersion::ConversationsAndCalendars,
        );
        request.url = with_query(request.url, &[("locationId", location_id)]);
        request
    }
}

/// Milliseconds since the epoch, as GHL's `startDate`/`endDate` want; 0 before 1970.
fn epoch_millis(time: SystemTime) -> String {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis()
        .to_string()
}

/// The free-slots answer: `{"YYYY-MM-DD": {"slots": ["…T10:00:00-05:00", …]}, …}`, read into
/// one list sorted by instant, without duplicates.
///
/// Keys that are not dates (`traceId`, anything GHL adds later) are skipped, and so is a slot
/// that is not an ISO 8601 date-time with an offset: one odd entry must not cost the contact
/// every other time.
pub fn parse_free_slots(response: &ApiResponse) -> Result<Vec<FreeSlot>, Error> {
    if !response.status.is_success() {
        return Err(classify(response));
    }
    let days: serde_json::Map<String, Value> = read_json(response, "GHL free slots")?;
    let mut slots: Vec<FreeSlot> = days
        .iter()
        .filter(|(key, _)| is_date(key))
        .filter_map(|(_, day)| day.get("slots").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|start| {
            parse_rfc3339(start).map(|at| FreeSlot {
                start: start.to_owned(),
                at,
            })
        })
        .collect();
    slots.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.start.cmp(&b.start)));
    slots.dedup_by(|later, earlier| later.at == earlier.at);
    Ok(slots)
}

/// `YYYY-MM-DD`.
fn is_date(key: &str) -> bool {
    let bytes = key.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppointmentFields {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    id: Option<String>,
    #[serde(rename = "_id", default, deserialize_with = "lenient::opt_string")]
    legacy_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    calendar_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    location_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    contact_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    start_time: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    end_time: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    title: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    appointment_status: Option<String>,
}

/// The answer to [`Api::create_appointment`] (the appointment itself, flat, per
/// `AppointmentSchemaResponse`) or to [`Api::get_appointment`] (`{"event": {…}}`); an
/// `{"appointment": {…}}` envelope is read too.
///
/// A 2xx without an `id` is a failure, retried like GHL's other half-answers: we cannot tell
/// the contact "you're booked" without an appointment to point at. Should the booking have
/// landed anyway, the retry finds the slot taken (on a calendar that takes one appointment
/// per slot) and fails permanently instead of booking twice.
pub fn parse_appointment(response: &ApiResponse) -> Result<Appointment, Error> {
    if !response.status.is_success() {
        return Err(classify(response));
    }
    let mut body: Value = read_json(response, "GHL appointment")?;
    for envelope in ["event", "appointment"] {
        if let Some(inner) = body.get_mut(envelope).filter(|inner| inner.is_object()) {
            body = inner.take();
            break;
        }
    }
    let fields: AppointmentFields = serde_json::from_value(body)
        .map_err(|err| missing(&format!("GHL appointment answer unreadable: {err}")))?;
    let id = [fields.id, fields.legacy_id]
        .into_iter()
        .flatten()
        .find(|id| !id.trim().is_empty())
        .ok_or_else(|| missing("GHL answered the appointment without an id: it was not booked"))?;
    Ok(Appointment {
        id,
        calendar_id: fields.calendar_id,
        location_id: fields.location_id,
        contact_id: fields.contact_id,
        start_time: fields.start_time,
        end_time: fields.end_time,
        title: fields.title,
        appointment_status: fields.appointment_status,
    })
}

/// `GET /calendars/`'s answer: `{"calendars": [CalendarDTO, …]}`. Entries without an id are
/// skipped; a missing list is an empty one.
pub fn parse_calendars(response: &ApiResponse) -> Result<Vec<Calendar>, Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct CalendarFields {
        #[serde(default, deserialize_with = "lenient::opt_string")]
        id: Option<String>,
        #[serde(rename = "_id", default, deserialize_with = "lenient::opt_string")]
        legacy_id: Option<String>,
        #[serde(default, deserialize_with = "lenient::opt_string")]
        name: Option<String>,
        #[serde(default, deserialize_with = "lenient::opt_string")]
        location_id: Option<String>,
        #[serde(default, deserialize_with = "lenient::opt_string")]
        timezone: Option<String>,
        #[serde(default, deserialize_with = "lenient::opt_bool")]
        is_active: Option<bool>,
    }
    #[derive(Deserialize)]
    struct Calendars {
        #[serde(default)]
        calendars: Option<Vec<Value>>,
    }
    if !response.status.is_success() {
        return Err(classify(response));
    }
    let listed: Calendars = read_json(response, "GHL calendars")?;
    Ok(listed
        .calendars
        .unwrap_or_default()
        .into_iter()
        .filter_map(|entry| serde_json::from_value::<CalendarFields>(entry).ok())
        .filter_map(|fields| {
            let id = [fields.id, fields.legacy_id]
                .into_iter()
                .flatten()
                .find(|id| !id.trim().is_empty())?;
            Some(Calendar {
                id,
                name: fields.name,
                location_id: fields.location_id,
                timezone: fields.timezone,
                is_active: fields.is_active,
            })
        })
        .collect())
}
