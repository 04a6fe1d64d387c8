//! How the GHL simulator keeps calendars and appointments, and computes free slots.
//!
//! A calendar has business hours (open and close times on some weekdays) in its own IANA zone
//! and a slot length. Free slots are the slot starts inside those hours, in the future, that no
//! live appointment overlaps. All arithmetic happens on instants; zones matter only to lay the
//! hours on the calendar (so "09:00 in New York" follows New York's DST) and to write the
//! answer (in the zone the caller asked for, with that zone's offset on that date).

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};
use serde_json::{json, Value};

/// A calendar of a location.
#[derive(Debug, Clone)]
pub(crate) struct Calendar {
    pub id: String,
    pub location_id: String,
    pub name: String,
    /// The IANA name, as configured.
    pub timezone: String,
    pub zone: TimeZone,
    pub slot_minutes: i64,
    pub open: Time,
    pub close: Time,
    /// Weekdays with business hours.
    pub days: Vec<Weekday>,
}

/// A booked appointment.
#[derive(Debug, Clone)]
pub(crate) struct Appointment {
    pub id: String,
    pub calendar_id: String,
    pub location_id: String,
    pub contact_id: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// The zone the times are written in: the offset the caller sent `startTime` with.
    pub written_in: TimeZone,
    pub title: String,
    pub status: String,
    pub assigned_user_id: String,
    pub address: Option<String>,
    pub description: Option<String>,
    pub date_added: String,
}

impl Appointment {
    /// Cancelled (or invalid) appointments free their slot again.
    pub fn holds_slot(&self) -> bool {
        !matches!(self.status.as_str(), "cancelled" | "invalid")
    }
}

/// ISO 8601 with the zone's offset on that date (`2024-10-28T10:00:00-04:00`), as GHL writes
/// slot and appointment times.
pub(crate) fn offset_time(at: Timestamp, zone: &TimeZone) -> String {
    at.to_zoned(zone.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// `startTime` as GHL takes it: ISO 8601 **with** an offset (or `Z`). Returns the instant and a
/// fixed zone of that offset, so answers echo times the way they were written.
pub(crate) fn parse_offset_time(text: &str) -> Option<(Timestamp, TimeZone)> {
    let at: Timestamp = text.trim().parse().ok()?;
    let civil: jiff::civil::DateTime = text.trim().get(..19)?.parse().ok()?;
    let as_utc = civil.to_zoned(TimeZone::UTC).ok()?.timestamp();
    let offset_seconds = i32::try_from(as_utc.as_second() - at.as_second()).ok()?;
    let offset = jiff::tz::Offset::from_seconds(offset_seconds).ok()?;
    Some((at, TimeZone::fixed(offset)))
}

impl Calendar {
    /// 30-minute slots, Monday to Friday 09:00–17:00 in `America/New_York` (UTC should the
    /// bundled database lack it).
    pub fn business_hours(location_id: &str) -> Self {
        let timezone = "America/New_York".to_owned();
        Calendar {
            id: crate::ids::ghl_id(),
            location_id: location_id.to_owned(),
            name: "Default calendar".into(),
            zone: TimeZone::get(&timezone).unwrap_or(TimeZone::UTC),
            timezone,
            slot_minutes: 30,
            open: Time::constant(9, 0, 0, 0),
            close: Time::constant(17, 0, 0, 0),
            days: vec![
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
            ],
        }
    }

    fn slot_length(&self) -> SignedDuration {
        SignedDuration::from_mins(self.slot_minutes)
    }

    /// Slot starts on `date` (a date in the calendar's zone), business hours only. A local time
    /// that does not exist (a DST gap) is moved forward, as GHL's calendars move it; a
    /// repeated one (a DST overlap) is taken once, at its first occurrence.
    fn day_slots(&self, date: Date) -> Vec<Timestamp> {
        if !self.days.contains(&date.weekday()) || self.slot_minutes <= 0 {
            return Vec::new();
        }
        let (Ok(open), Ok(close)) = (
            date.to_datetime(self.open).to_zoned(self.zone.clone()),
            date.to_datetime(self.close).to_zoned(self.zone.clone()),
        ) else {
            return Vec::new();
        };
        let (open, close) = (open.timestamp(), close.timestamp());
        let mut slots = Vec::new();
        let mut start = open;
        while let Ok(end) = start.checked_add(self.slot_length()) {
            if end > close {
                break;
            }
            slots.push(start);
            start = end;
        }
        slots
    }

    /// Free slot starts in `[from, to]`, after `now`, clear of `booked` appointments of this
    /// calendar, in order.
    pub fn free_slots(
        &self,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
        booked: &[&Appointment],
    ) -> Vec<Timestamp> {
        let mut free = Vec::new();
        let last = to.to_zoned(self.zone.clone()).date();
        let mut date = from.to_zoned(self.zone.clone()).date();
        while date <= last {
            for start in self.day_slots(date) {
                let Ok(end) = start.checked_add(self.slot_length()) else {
                    continue;
                };
                let clash = booked.iter().any(|a| {
                    a.calendar_id == self.id && a.holds_slot() && a.start < end && start < a.end
                });
                if start >= from && start <= to && start > now && !clash {
                    free.push(start);
                }
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        free
    }

    /// Whether `[start, end)` is bookable: `start` is a free slot and the whole stretch stays
    /// inside that day's hours and clear of other appointments.
    pub fn is_free(
        &self,
        start: Timestamp,
        end: Timestamp,
        now: Timestamp,
        booked: &[&Appointment],
    ) -> bool {
        let day = start.to_zoned(self.zone.clone()).date();
        let slots = self.day_slots(day);
        let closes = slots
            .last()
            .and_then(|last| last.checked_add(self.slot_length()).ok());
        slots.contains(&start)
            && start > now
            && end > start
            && closes.is_some_and(|close| end <= close)
            && !booked.iter().any(|a| {
                a.calendar_id == self.id && a.holds_slot() && a.start < end && start < a.end
            })
    }

    /// GHL's `CalendarDTO`, as much of it as a booking calendar needs. `openHours` carries the
    /// business hours (`daysOfTheWeek`: 0 = Sunday). GHL's DTO has no time zone field: its hours
    /// are in the location's zone.
    pub fn to_json(&self) -> Value {
        let days: Vec<i8> = self
            .days
            .iter()
            .map(|d| d.to_sunday_zero_offset())
            .collect();
        json!({
            "id": self.id,
            "locationId": self.location_id,
            "name": self.name,
            "description": "",
            "isActive": true,
            "calendarType": "event",
            "widgetType": "classic",
            "eventType": "RoundRobin_OptimizeForAvailability",
            "slotDuration": self.slot_minutes,
            "slotDurationUnit": "mins",
            "slotInterval": self.slot_minutes,
            "slotIntervalUnit": "mins",
            "appoinmentPerSlot": 1,
            "openHours": [{
                "daysOfTheWeek": days,
                "hours": [{
                    "openHour": self.open.hour(),
                    "openMinute": self.open.minute(),
                    "closeHour": self.close.hour(),
                    "closeMinute": self.close.minute(),
                }],
            }],
            "teamMembers": [],
            "notifications": [],
        })
    }
}

/// The free slots answer: `{"YYYY-MM-DD": {"slots": [...]}, …, "traceId"}`, dates and times in
/// `zone`. Days without a free slot are left out.
pub(crate) fn slots_json(slots: &[Timestamp], zone: &TimeZone) -> Value {
    let mut days = serde_json::Map::new();
    for slot in slots {
        let local: Zoned = slot.to_zoned(zone.clone());
        let key = local.date().to_string();
        let entry = days.entry(key).or_insert_with(|| json!({"slots": []}));
        if let Some(list) = entry.get_mut("slots").and_then(Value::as_array_mut) {
            list.push(offset_time(*slot, zone).into());
        }
    }
    days.insert("traceId".into(), crate::ids::uuid_v4().into());
    Value::Object(days)
}

/// A weekday from `mon`/`monday` (any case) or GHL's number (0 = Sunday … 6 = Saturday).
pub(crate) fn weekday(value: &Value) -> Option<Weekday> {
    if let Some(n) = value.as_i64() {
        return i8::try_from(n)
            .ok()
            .filter(|n| (0..=6).contains(n))
            .and_then(|n| Weekday::from_sunday_zero_offset(n).ok());
    }
    let name = value.as_str()?.trim().to_ascii_lowercase();
    let all = [
        ("mon", Weekday::Monday),
        ("tue", Weekday::Tuesday),
        ("wed", Weekday::Wednesday),
        ("thu", Weekday::Thursday),
        ("fri", Weekday::Friday),
        ("sat", Weekday::Saturday),
        ("sun", Weekday::Sunday),
    ];
    all.into_iter()
        .find(|(short, _)| name.len() >= 3 && name.starts_with(short))
        .map(|(_, day)| day)
}
