//! GHL calendars, driven with the gateway's own request builders (`ghl::Api`): free slots in
//! the caller's zone (DST included), booking, a taken slot refused, tenant scoping, and the
//! 31-day limit.

use std::time::{Duration, SystemTime};

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use outbound::Failure;
use sandbox::SandboxOptions;
use serde_json::{json, Value};

use crate::{start, Harness};

const NEW_YORK: &str = "America/New_York";
const LOS_ANGELES: &str = "America/Los_Angeles";

/// A location with a New York calendar open 09:00–12:00 on weekdays in one-hour slots, and a
/// contact; returns (token, calendar id, contact id).
async fn seed(h: &Harness, location: &str) -> (String, String, String) {
    let token = h.location(json!({"locationId": location})).await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let calendar = h
        .control(
            "/ghl/calendars",
            json!({"location_id": location, "calendar_id": format!("{location}-cal"),
                "name": "Consultations", "timezone": NEW_YORK, "slot_minutes": 60,
                "open": "09:00", "close": "12:00",
                "days": ["mon", "tue", "wed", "thu", "fri"]}),
        )
        .await;
    assert_eq!(
        calendar["openHours"][0]["daysOfTheWeek"],
        json!([1, 2, 3, 4, 5])
    );
    let contact = h
        .control(
            "/ghl/contacts",
            json!({"locationId": location, "firstName": "Ann"}),
        )
        .await;
    (
        token,
        calendar["id"].as_str().unwrap().to_owned(),
        contact["contact"]["id"].as_str().unwrap().to_owned(),
    )
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

fn system_time(at: Timestamp) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(at.as_millisecond()).unwrap())
}

/// `date` from 00:00 to 23:59:59 in `zone`, as a free-slots range.
fn whole_days(first: Date, last: Date, zone_name: &str) -> (SystemTime, SystemTime) {
    let tz = zone(zone_name);
    let start = first.to_zoned(tz.clone()).unwrap().timestamp();
    let end = last.at(23, 59, 59, 0).to_zoned(tz).unwrap().timestamp();
    (system_time(start), system_time(end))
}

/// `hour:00` on `date` in New York, written in `zone_name` as GHL writes slots.
fn new_york_hour_in(date: Date, hour: i8, zone_name: &str) -> String {
    date.at(hour, 0, 0, 0)
        .to_zoned(zone(NEW_YORK))
        .unwrap()
        .with_time_zone(zone(zone_name))
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// The next Monday at least two days ahead in New York.
fn next_monday() -> Date {
    let mut day = Zoned::now().with_time_zone(zone(NEW_YORK)).date();
    day = day.tomorrow().unwrap().tomorrow().unwrap();
    while day.weekday() != Weekday::Monday {
        day = day.tomorrow().unwrap();
    }
    day
}

async fn free_slots(
    h: &Harness,
    api: &ghl::Api<'_>,
    calendar: &str,
    range: (SystemTime, SystemTime),
    zone_name: &str,
) -> Vec<String> {
    let request = api.free_slots(&ghl::FreeSlotsQuery {
        calendar_id: calendar,
        start: range.0,
        end: range.1,
        timezone: Some(zone_name),
        user_id: None,
    });
    let slots = ghl::api::parse_free_slots(&h.run(request).await).unwrap();
    slots.into_iter().map(|slot| slot.start).collect()
}

#[tokio::test]
async fn slots_in_the_callers_zone_booking_and_a_taken_slot() {
    let h = start(SandboxOptions::default()).await;
    let (token, calendar, contact) = seed(&h, "TZ1").await;
    let base = h.url("/ghl");
    let api = ghl::Api::new(&base, &token);
    let monday = next_monday();
    let range = whole_days(monday, monday, NEW_YORK);

    // Asked in Los Angeles: 09:00–11:00 New York is 06:00–08:00 there, with LA's offset.
    let expected: Vec<String> = [9, 10, 11]
        .map(|hour| new_york_hour_in(monday, hour, LOS_ANGELES))
        .to_vec();
    assert!(expected[0].contains("T06:00:00-0"), "{expected:?}");
    assert_eq!(
        free_slots(&h, &api, &calendar, range, LOS_ANGELES).await,
        expected
    );
    // The raw answer is keyed by the date in the asked zone, and carries a traceId.
    let raw = h.run(api.free_slots(&ghl::FreeSlotsQuery {
        calendar_id: &calendar,
        start: range.0,
        end: range.1,
        timezone: Some(LOS_ANGELES),
        user_id: None,
    }));
    let raw: Value = serde_json::from_slice(&raw.await.body).unwrap();
    assert_eq!(
        raw[monday.to_string()]["slots"].as_array().unwrap().len(),
        3
    );
    assert!(raw["traceId"].is_string());

    // Book the first, as the AI would: the slot string goes back unchanged.
    let booking = ghl::NewAppointment::confirmed(&calendar, "TZ1", &contact, &expected[0]);
    let booked =
        ghl::api::parse_appointment(&h.run(api.create_appointment(&booking)).await).unwrap();
    assert_eq!(booked.start_time.as_deref(), Some(expected[0].as_str()));
    assert_eq!(booked.calendar_id.as_deref(), Some(calendar.as_str()));
    assert_eq!(booked.contact_id.as_deref(), Some(contact.as_str()));
    assert_eq!(booked.appointment_status.as_deref(), Some("confirmed"));
    assert_eq!(
        booked.end_time.as_deref(),
        Some(expected[1].as_str()),
        "the calendar's slot length by default"
    );
    assert_eq!(
        free_slots(&h, &api, &calendar, range, LOS_ANGELES).await,
        expected[1..]
    );
    // Asked in New York, the same two are left, at New York's hours.
    assert_eq!(
        free_slots(&h, &api, &calendar, range, NEW_YORK).await,
        vec![
            new_york_hour_in(monday, 10, NEW_YORK),
            new_york_hour_in(monday, 11, NEW_YORK)
        ]
    );

    // The same slot again, even written in New York time, is refused.
    let same = new_york_hour_in(monday, 9, NEW_YORK);
    let again = ghl::NewAppointment::confirmed(&calendar, "TZ1", &contact, &same);
    let refused = h.run(api.create_appointment(&again)).await;
    assert_eq!(refused.status, 400);
    assert!(matches!(
        ghl::api::parse_appointment(&refused),
        Err(ghl::Error::Call(Failure::Permanent { detail })) if detail.contains("no longer available")
    ));
    // Outside business hours, off the slot grid, or in the past: refused too.
    for start in [
        new_york_hour_in(monday, 13, NEW_YORK),
        format!("{}T10:30:00-05:00", monday),
        "2020-01-06T10:00:00-05:00".to_owned(),
    ] {
        let odd = ghl::NewAppointment::confirmed(&calendar, "TZ1", &contact, &start);
        assert_eq!(
            h.run(api.create_appointment(&odd)).await.status,
            400,
            "{start}"
        );
    }

    // Read back through the API and the control listing, in the calendar's zone.
    let got = ghl::api::parse_appointment(&h.run(api.get_appointment(&booked.id)).await).unwrap();
    assert_eq!(got.id, booked.id);
    let listed = h
        .get_json("/_control/ghl/appointments?locationId=TZ1")
        .await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], booked.id.as_str());
    assert_eq!(listed[0]["calendarTimezone"], NEW_YORK);
    assert_eq!(
        listed[0]["localStartTime"],
        new_york_hour_in(monday, 9, NEW_YORK)
    );
    assert_eq!(listed[0]["startTime"], expected[0].as_str());

    // The location lists its calendar.
    let calendars = ghl::api::parse_calendars(&h.run(api.list_calendars("TZ1")).await).unwrap();
    assert_eq!(calendars.len(), 1);
    assert_eq!(calendars[0].id, calendar);
    assert_eq!(calendars[0].name.as_deref(), Some("Consultations"));
}

#[tokio::test]
async fn free_slots_across_a_dst_change() {
    let h = start(SandboxOptions::default()).await;
    let (token, calendar, contact) = seed(&h, "DST").await;
    let base = h.url("/ghl");
    let api = ghl::Api::new(&base, &token);
    // New York's next change of offset (a Sunday), from its Friday to its Monday.
    let new_york = zone(NEW_YORK);
    let change = new_york
        .following(Timestamp::now() + jiff::SignedDuration::from_hours(72))
        .next()
        .unwrap()
        .timestamp();
    let sunday = change.to_zoned(new_york.clone()).date();
    assert_eq!(sunday.weekday(), Weekday::Sunday);
    let friday = sunday.yesterday().unwrap().yesterday().unwrap();
    let monday = sunday.tomorrow().unwrap();
    let range = whole_days(friday, monday, NEW_YORK);

    // In UTC the hours move by one across the change; in New York they stay 09:00–11:00.
    let in_utc = free_slots(&h, &api, &calendar, range, "UTC").await;
    let expected: Vec<String> = [friday, monday]
        .into_iter()
        .flat_map(|day| [9, 10, 11].map(|hour| new_york_hour_in(day, hour, "UTC")))
        .collect();
    assert_eq!(in_utc, expected);
    let friday_utc_hour: i32 = in_utc[0][11..13].parse().unwrap();
    let monday_utc_hour: i32 = in_utc[3][11..13].parse().unwrap();
    assert_eq!((friday_utc_hour - monday_utc_hour).abs(), 1, "{in_utc:?}");
    let in_new_york = free_slots(&h, &api, &calendar, range, NEW_YORK).await;
    assert!(in_new_york[0].starts_with(&format!("{friday}T09:00:00-0")));
    assert!(in_new_york[3].starts_with(&format!("{monday}T09:00:00-0")));
    assert_ne!(
        in_new_york[0][19..],
        in_new_york[3][19..],
        "{in_new_york:?}"
    );

    // Book Monday's first slot, given in UTC: it is Monday 09:00 in New York.
    let booking = ghl::NewAppointment::confirmed(&calendar, "DST", &contact, &in_utc[3]);
    let booked =
        ghl::api::parse_appointment(&h.run(api.create_appointment(&booking)).await).unwrap();
    let listed = h
        .get_json("/_control/ghl/appointments?calendarId=DST-cal")
        .await;
    assert_eq!(listed[0]["id"], booked.id.as_str());
    assert_eq!(listed[0]["localStartTime"], in_new_york[3].as_str());
    let left = free_slots(&h, &api, &calendar, range, NEW_YORK).await;
    assert_eq!(left.len(), 5);
    assert!(!left.contains(&in_new_york[3]));
}

#[tokio::test]
async fn range_limit_validation_and_tenant_scope() {
    let h = start(SandboxOptions::default()).await;
    let (token, calendar, contact) = seed(&h, "L1").await;
    let (other_token, _, other_contact) = seed(&h, "L2").await;
    let base = h.url("/ghl");
    let api = ghl::Api::new(&base, &token);
    let other = ghl::Api::new(&base, &other_token);
    let monday = next_monday();

    // More than 31 days: GHL's 400.
    let long = api.free_slots(&ghl::FreeSlotsQuery {
        calendar_id: &calendar,
        start: whole_days(monday, monday, NEW_YORK).0,
        end: whole_days(monday, monday, NEW_YORK).0 + Duration::from_secs(32 * 86_400),
        timezone: Some(NEW_YORK),
        user_id: None,
    });
    let refused = h.run(long).await;
    assert_eq!(refused.status, 400);
    assert!(matches!(
        ghl::api::parse_free_slots(&refused),
        Err(ghl::Error::Call(Failure::Permanent { detail })) if detail.contains("31 days")
    ));
    let no_dates = h
        .ghl(
            axum::http::Method::GET,
            &format!("/calendars/{calendar}/free-slots"),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(no_dates.status(), 400);

    // Another location's calendar is not found, nor is its contact; the body's location must
    // be the token's.
    let slot = new_york_hour_in(monday, 9, NEW_YORK);
    let range = whole_days(monday, monday, NEW_YORK);
    let foreign = other.free_slots(&ghl::FreeSlotsQuery {
        calendar_id: &calendar,
        start: range.0,
        end: range.1,
        timezone: None,
        user_id: None,
    });
    assert_eq!(h.run(foreign).await.status, 400);
    let wrong_contact = ghl::NewAppointment::confirmed(&calendar, "L1", &other_contact, &slot);
    let r = h.run(api.create_appointment(&wrong_contact)).await;
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("Contact not found"));
    let wrong_location = ghl::NewAppointment::confirmed(&calendar, "L2", &contact, &slot);
    assert_eq!(
        h.run(api.create_appointment(&wrong_location)).await.status,
        403
    );

    // The body is checked against AppointmentCreateSchema; a start without offset is refused.
    let r = h
        .ghl(
            axum::http::Method::POST,
            "/calendars/events/appointments",
            &token,
        )
        .json(
            &json!({"calendarId": calendar, "locationId": "L1", "contactId": contact,
            "startTime": slot, "appointmentStatus": "booked", "colour": "red"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let messages = r.json::<Value>().await.unwrap()["message"].to_string();
    assert!(
        messages.contains("appointmentStatus must be one of"),
        "{messages}"
    );
    assert!(
        messages.contains("property colour should not exist"),
        "{messages}"
    );
    let naive = format!("{monday}T09:00:00");
    let no_offset = ghl::NewAppointment::confirmed(&calendar, "L1", &contact, &naive);
    assert_eq!(h.run(api.create_appointment(&no_offset)).await.status, 400);
    assert!(h
        .get_json("/_control/ghl/appointments?locationId=L1")
        .await
        .as_array()
        .unwrap()
        .is_empty());

    // A location without a calendar gets its default one on first listing.
    let fresh = h.location(json!({"locationId": "L3"})).await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = h
        .run(ghl::Api::new(&base, &fresh).list_calendars("L3"))
        .await;
    let calendars = ghl::api::parse_calendars(&listed).unwrap();
    assert_eq!(calendars.len(), 1);
    assert_eq!(calendars[0].location_id.as_deref(), Some("L3"));
    assert_eq!(
        h.run(ghl::Api::new(&base, &fresh).list_calendars("L1"))
            .await
            .status,
        403
    );
}
