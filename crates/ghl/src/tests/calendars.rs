use std::time::{Duration, UNIX_EPOCH};

use http::Method;
use outbound::Failure;
use serde_json::json;

use super::{assert_ghl_headers, body_json, response, BASE, TOKEN};
use crate::api::{
    parse_appointment, parse_calendars, parse_free_slots, Api, AppointmentStatus, FreeSlotsQuery,
    NewAppointment, FREE_SLOTS_MAX_RANGE,
};
use crate::{parse_rfc3339, Error};

fn api() -> Api<'static> {
    Api::new(BASE, TOKEN)
}

#[test]
fn free_slots_asks_in_epoch_millis_and_a_zone() {
    let start = UNIX_EPOCH + Duration::from_millis(1_730_073_600_000);
    let request = api().free_slots(&FreeSlotsQuery {
        calendar_id: "cal 1",
        start,
        end: start + Duration::from_secs(7 * 86_400),
        timezone: Some("America/Los_Angeles"),
        user_id: Some("u1"),
    });
    assert_eq!(request.method, Method::GET);
    assert_eq!(
        request.url,
        "https://services.leadconnectorhq.com/calendars/cal%201/free-slots?startDate=1730073600000&endDate=1730678400000&timezone=America%2FLos_Angeles&userId=u1"
    );
    assert_ghl_headers(&request, "2021-04-15");
    assert!(request.body.is_empty());

    let minimal = api().free_slots(&FreeSlotsQuery {
        calendar_id: "c1",
        start,
        end: start,
        timezone: None,
        user_id: None,
    });
    assert_eq!(
        minimal.url,
        "https://services.leadconnectorhq.com/calendars/c1/free-slots?startDate=1730073600000&endDate=1730073600000"
    );
    assert_eq!(FREE_SLOTS_MAX_RANGE, Duration::from_secs(31 * 86_400));
}

#[test]
fn reads_free_slots_sorted_skipping_other_keys() {
    // GHL's documented example, shuffled, with a traceId and odd entries beside it.
    let body = r#"{
        "2024-10-29": {"slots": ["2024-10-29T14:30:00-05:00", "2024-10-29T10:00:00-05:00"]},
        "traceId": "5f1c2d9e-aaaa-bbbb-cccc-000000000000",
        "2024-10-28": {"slots": ["2024-10-28T11:00:00-05:00", "2024-10-28T10:00:00-05:00", 7, "soon"]},
        "2024-10-30": {"slots": []},
        "2024-10-31": {},
        "_dates_": {"slots": ["2024-10-01T10:00:00-05:00"]}
    }"#;
    let slots = parse_free_slots(&response(200, body)).unwrap();
    let starts: Vec<&str> = slots.iter().map(|slot| slot.start.as_str()).collect();
    assert_eq!(
        starts,
        vec![
            "2024-10-28T10:00:00-05:00",
            "2024-10-28T11:00:00-05:00",
            "2024-10-29T10:00:00-05:00",
            "2024-10-29T14:30:00-05:00",
        ]
    );
    assert_eq!(slots[0].at, parse_rfc3339("2024-10-28T15:00:00Z").unwrap());

    // Sorted by instant, not by text: offsets differ across a DST change.
    let across_dst = r#"{"2024-11-03": {"slots": ["2024-11-03T01:30:00-05:00", "2024-11-03T01:00:00-04:00", "2024-11-03T01:00:00-05:00"]}}"#;
    let starts: Vec<String> = parse_free_slots(&response(200, across_dst))
        .unwrap()
        .into_iter()
        .map(|slot| slot.start)
        .collect();
    assert_eq!(
        starts,
        vec![
            "2024-11-03T01:00:00-04:00",
            "2024-11-03T01:00:00-05:00",
            "2024-11-03T01:30:00-05:00",
        ]
    );
    // The same instant twice (written in two offsets) is offered once.
    let twice =
        r#"{"2024-10-28": {"slots": ["2024-10-28T10:00:00-05:00", "2024-10-28T15:00:00Z"]}}"#;
    assert_eq!(parse_free_slots(&response(200, twice)).unwrap().len(), 1);

    assert!(parse_free_slots(&response(200, "{}")).unwrap().is_empty());
    assert!(matches!(
        parse_free_slots(&response(200, "[]")),
        Err(Error::Call(Failure::Retry { .. }))
    ));
    let bad_range = r#"{"statusCode":400,"message":"Date range cannot be more than 31 days"}"#;
    assert!(matches!(
        parse_free_slots(&response(400, bad_range)),
        Err(Error::Call(Failure::Permanent { detail })) if detail.contains("31 days")
    ));
    assert!(matches!(
        parse_free_slots(&response(401, "{}")),
        Err(Error::Unauthorized { .. })
    ));
}

#[test]
fn create_appointment_sends_the_schema_fields() {
    let mut appointment =
        NewAppointment::confirmed("cal1", "loc1", "c1", "2024-10-28T10:00:00-05:00");
    appointment.title = Some("Intro call");
    appointment.to_notify = Some(true);
    let request = api().create_appointment(&appointment);
    assert_eq!(request.method, Method::POST);
    assert_eq!(
        request.url,
        "https://services.leadconnectorhq.com/calendars/events/appointments"
    );
    assert_ghl_headers(&request, "2021-04-15");
    assert_eq!(
        body_json(&request),
        json!({
            "calendarId": "cal1",
            "locationId": "loc1",
            "contactId": "c1",
            "startTime": "2024-10-28T10:00:00-05:00",
            "title": "Intro call",
            "appointmentStatus": "confirmed",
            "toNotify": true,
        })
    );
    appointment.end_time = Some("2024-10-28T10:30:00-05:00");
    appointment.appointment_status = Some(AppointmentStatus::NoShow);
    appointment.assigned_user_id = Some("u1");
    appointment.description = Some("d");
    let body = body_json(&api().create_appointment(&appointment));
    assert_eq!(body["endTime"], "2024-10-28T10:30:00-05:00");
    assert_eq!(body["appointmentStatus"], "noshow");
    assert_eq!(body["assignedUserId"], "u1");
    assert_eq!(body["description"], "d");
}

#[test]
fn reads_the_booked_appointment() {
    // `AppointmentSchemaResponse`: the appointment itself, not wrapped.
    let body = r#"{"calendarId":"CVokAlI8fgw4WYWoCtQz","locationId":"C2QujeCh8ZnC7al2InWR","contactId":"0007BWpSzSwfiuSl0tR2","startTime":"2021-06-23T03:30:00+05:30","endTime":"2021-06-23T04:30:00+05:30","title":"Test Event","meetingLocationType":"custom","appointmentStatus":"confirmed","assignedUserId":"0007BWpSzSwfiuSl0tR2","address":"Zoom","isRecurring":false,"id":"0TkCdp9PfvLeWKYRRvIz","traceId":"t"}"#;
    let booked = parse_appointment(&response(200, body)).unwrap();
    assert_eq!(booked.id, "0TkCdp9PfvLeWKYRRvIz");
    assert_eq!(booked.calendar_id.as_deref(), Some("CVokAlI8fgw4WYWoCtQz"));
    assert_eq!(booked.contact_id.as_deref(), Some("0007BWpSzSwfiuSl0tR2"));
    assert_eq!(
        booked.start_time.as_deref(),
        Some("2021-06-23T03:30:00+05:30")
    );
    assert_eq!(
        booked.end_time.as_deref(),
        Some("2021-06-23T04:30:00+05:30")
    );
    assert_eq!(booked.appointment_status.as_deref(), Some("confirmed"));

    // `GET /calendars/events/appointments/{id}` wraps it in `event`.
    let event =
        r#"{"event":{"id":"e1","calendarId":"cal1","startTime":"2024-10-28T10:00:00-05:00"}}"#;
    assert_eq!(parse_appointment(&response(200, event)).unwrap().id, "e1");
    let legacy = r#"{"appointment":{"_id":"e2"}}"#;
    assert_eq!(parse_appointment(&response(201, legacy)).unwrap().id, "e2");
    let request = api().get_appointment("e/1");
    assert_eq!(
        request.url,
        "https://services.leadconnectorhq.com/calendars/events/appointments/e%2F1"
    );
    assert_ghl_headers(&request, "2021-04-15");
}

#[test]
fn an_appointment_answer_without_id_is_not_a_booking() {
    for (status, body) in [
        (200, "{}"),
        (
            200,
            r#"{"calendarId":"cal1","startTime":"2024-10-28T10:00:00-05:00"}"#,
        ),
        (201, r#"{"id":""}"#),
        (200, r#"{"event":{"id":null}}"#),
        (200, ""),
    ] {
        assert!(
            matches!(
                parse_appointment(&response(status, body)),
                Err(Error::Call(Failure::Retry { .. }))
            ),
            "{status} {body}"
        );
    }
    let taken =
        r#"{"statusCode":400,"message":"The slot you have selected is no longer available."}"#;
    assert!(matches!(
        parse_appointment(&response(400, taken)),
        Err(Error::Call(Failure::Permanent { detail })) if detail.contains("no longer available")
    ));
    let unprocessable = r#"{"statusCode":422,"message":["startTime should not be empty"],"error":"Unprocessable Entity"}"#;
    assert!(matches!(
        parse_appointment(&response(422, unprocessable)),
        Err(Error::Call(Failure::Permanent { .. }))
    ));
    assert!(matches!(
        parse_appointment(&response(502, "")),
        Err(Error::Call(Failure::Retry { .. }))
    ));
}

#[test]
fn lists_a_locations_calendars() {
    let request = api().list_calendars("loc 1");
    assert_eq!(request.method, Method::GET);
    assert_eq!(
        request.url,
        "https://services.leadconnectorhq.com/calendars/?locationId=loc+1"
    );
    assert_ghl_headers(&request, "2021-04-15");

    let body = r#"{"calendars":[
        {"id":"0TkCdp9PfvLeWKYRRvIz","locationId":"l1","name":"test calendar","isActive":true,"slotDuration":30,"slotDurationUnit":"mins","openHours":[]},
        {"locationId":"l1","name":"no id"},
        {"_id":"c2","name":"Demo","timezone":"America/New_York","isActive":false},
        "junk"
    ],"traceId":"t"}"#;
    let calendars = parse_calendars(&response(200, body)).unwrap();
    assert_eq!(calendars.len(), 2);
    assert_eq!(calendars[0].id, "0TkCdp9PfvLeWKYRRvIz");
    assert_eq!(calendars[0].name.as_deref(), Some("test calendar"));
    assert_eq!(calendars[0].location_id.as_deref(), Some("l1"));
    assert_eq!(calendars[0].timezone, None);
    assert_eq!(calendars[0].is_active, Some(true));
    assert_eq!(calendars[1].id, "c2");
    assert_eq!(calendars[1].timezone.as_deref(), Some("America/New_York"));
    assert_eq!(calendars[1].is_active, Some(false));
    assert!(parse_calendars(&response(200, "{}")).unwrap().is_empty());
    assert!(matches!(
        parse_calendars(&response(403, "{}")),
        Err(Error::Call(Failure::Permanent { .. }))
    ));
}
