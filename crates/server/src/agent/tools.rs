//! The agent's tools: what the model may do besides answering.
//!
//! - `check_availability`, `book_appointment`: the location's booking calendar in GHL
//!   (offered only when one is chosen in the AI settings). Slots are asked for and
//!   written in the location's time zone, with their offset, so "9:00" means 9:00 where
//!   the business is, whatever zone the server runs in.
//! - `update_contact`: standard fields, and custom fields through the location's mapping
//!   of names the model sees to GHL custom field ids (offered only when one is mapped).
//! - `add_tag`, `create_task`: on the contact in GHL.
//! - `request_human`: a handoff (the job runs it: it changes the conversation).
//!
//! A tool's error goes back to the model as its result (`{"ok": false, "error": …}`), so
//! it can tell the contact or try something else; it never fails the reply. Arguments are
//! checked here, never trusted: the model writes them, and it reads untrusted text.

use std::time::{Duration, SystemTime};

use ai::model::ToolSpec;
use serde_json::{json, Map, Value};
use store::repo::{AgentSettings, Contact, Location};
use store::Store;

use crate::connectors::Ghl;

pub const REQUEST_HUMAN: &str = "request_human";
pub const CHECK_AVAILABILITY: &str = "check_availability";
pub const BOOK_APPOINTMENT: &str = "book_appointment";
pub const UPDATE_CONTACT: &str = "update_contact";
pub const ADD_TAG: &str = "add_tag";
pub const CREATE_TASK: &str = "create_task";

/// Slots offered at most per check: a text message can't list more.
const MAX_SLOTS: usize = 8;
/// Days one check may look ahead at once.
const MAX_DAYS: i64 = 14;

/// The tools the model may call at this location.
pub fn specs(settings: &AgentSettings) -> Vec<ToolSpec> {
    let mut tools = vec![ToolSpec {
        name: REQUEST_HUMAN,
        description: "Hand the conversation to a human agent: when the contact asks for a person, is upset, or needs something you cannot do.",
        parameters: json!({
            "type": "object",
            "properties": {"reason": {"type": "string", "description": "Why a person is needed, in a few words"}},
            "required": ["reason"],
            "additionalProperties": false
        }),
    }];
    if settings.calendar_id.is_some() {
        tools.push(ToolSpec {
            name: CHECK_AVAILABILITY,
            description: "Free appointment slots of the business's calendar, in the business's local time. Call it before offering times; offer only slots it returns.",
            parameters: json!({
                "type": "object",
                "properties": {
                    "from_date": {"type": "string", "description": "First day to look at, YYYY-MM-DD (default today)"},
                    "days": {"type": "integer", "minimum": 1, "maximum": MAX_DAYS, "description": "How many days to look at (default 3)"}
                },
                "additionalProperties": false
            }),
        });
        tools.push(ToolSpec {
            name: BOOK_APPOINTMENT,
            description: "Book the contact into a free slot that check_availability returned, once the contact has chosen it.",
            parameters: json!({
                "type": "object",
                "properties": {
                    "start": {"type": "string", "description": "The slot's start exactly as check_availability returned it (ISO 8601 with offset)"},
                    "title": {"type": "string", "description": "A short title, e.g. the service booked"}
                },
                "required": ["start"],
                "additionalProperties": false
            }),
        });
    }
    let mut fields = Map::new();
    for name in ["first_name", "last_name", "email"] {
        fields.insert(name.into(), json!({"type": "string"}));
    }
    for name in settings.contact_fields.keys() {
        fields.insert(name.clone(), json!({"type": "string"}));
    }
    tools.push(ToolSpec {
        name: UPDATE_CONTACT,
        description: "Save what the contact told you about themselves on their contact record.",
        parameters: json!({
            "type": "object",
            "properties": {"fields": {"type": "object", "properties": fields, "additionalProperties": false}},
            "required": ["fields"],
            "additionalProperties": false
        }),
    });
    tools.push(ToolSpec {
        name: ADD_TAG,
        description: "Tag the contact (e.g. their interest or how qualified they are).",
        parameters: json!({
            "type": "object",
            "properties": {"tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 5}},
            "required": ["tags"],
            "additionalProperties": false
        }),
    });
    tools.push(ToolSpec {
        name: CREATE_TASK,
        description: "Create a follow-up task for the team about this contact.",
        parameters: json!({
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "details": {"type": "string"},
                "due_in_hours": {"type": "integer", "minimum": 1, "maximum": 720}
            },
            "required": ["title"],
            "additionalProperties": false
        }),
    });
    tools
}

/// What a tool runs against.
#[derive(Debug)]
pub struct Tools<'a> {
    pub store: &'a Store,
    pub ghl: &'a Ghl,
    pub location: &'a Location,
    pub contact: &'a Contact,
    pub settings: &'a AgentSettings,
    /// Now, Unix ms.
    pub now_ms: i64,
}

type ToolResult = Result<Value, String>;

fn text_arg<'v>(args: &'v Value, name: &str, max: usize) -> Result<Option<&'v str>, String> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => {
            Ok(Some(s.trim()).filter(|s| !s.is_empty()))
        }
        Some(Value::String(_)) => Err(format!("{name} is longer than {max} characters")),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

impl Tools<'_> {
    /// Runs the GHL tool `name`; `None` when there is no such tool here.
    pub async fn run(&self, name: &str, args: &Value) -> Option<Value> {
        let result = match name {
            CHECK_AVAILABILITY => self.check_availability(args).await,
            BOOK_APPOINTMENT => self.book_appointment(args).await,
            UPDATE_CONTACT => self.update_contact(args).await,
            ADD_TAG => self.add_tag(args).await,
            CREATE_TASK => self.create_task(args).await,
            _ => return None,
        };
        Some(match result {
            Ok(mut value) => {
                value["ok"] = json!(true);
                value
            }
            Err(error) => json!({"ok": false, "error": error}),
        })
    }

    fn zone_name(&self) -> String {
        self.location
            .time_zone
            .clone()
            .filter(|z| jiff::tz::TimeZone::get(z).is_ok())
            .unwrap_or_else(|| "UTC".to_string())
    }

    fn ghl_contact(&self) -> Result<&str, String> {
        self.contact
            .ghl_contact_id
            .as_deref()
            .ok_or_else(|| "the contact is not in GHL yet; try again in a moment".to_string())
    }

    fn calendar(&self) -> Result<&str, String> {
        self.settings
            .calendar_id
            .as_deref()
            .ok_or_else(|| "no booking calendar is set for this business".to_string())
    }

    async fn check_availability(&self, args: &Value) -> ToolResult {
        let calendar = self.calendar()?;
        let zone_name = self.zone_name();
        let zone = jiff::tz::TimeZone::get(&zone_name).map_err(|e| e.to_string())?;
        let now = jiff::Timestamp::from_millisecond(self.now_ms).map_err(|e| e.to_string())?;
        let today = now.to_zoned(zone.clone()).date();
        let from = match text_arg(args, "from_date", 10)? {
            Some(day) => day
                .parse::<jiff::civil::Date>()
                .map_err(|_| format!("from_date {day:?} is not a YYYY-MM-DD date"))?,
            None => today,
        }
        .max(today);
        let days = args
            .get("days")
            .and_then(Value::as_i64)
            .unwrap_or(3)
            .clamp(1, MAX_DAYS);
        let start = from
            .to_zoned(zone.clone())
            .map_err(|e| e.to_string())?
            .timestamp()
            .max(now);
        let end = from
            .checked_add(jiff::Span::new().days(days))
            .and_then(|d| d.to_zoned(zone.clone()))
            .map_err(|e| e.to_string())?
            .timestamp();
        let query = ghl::FreeSlotsQuery {
            calendar_id: calendar,
            start: to_system(start),
            end: to_system(end),
            timezone: Some(&zone_name),
            user_id: None,
        };
        let slots = self
            .ghl
            .call(
                self.store,
                self.location,
                "free_slots",
                |api| api.free_slots(&query),
                ghl::api::parse_free_slots,
            )
            .await
            .map_err(|e| format!("the calendar could not be read: {e}"))?;
        let offered: Vec<Value> = slots
            .iter()
            .take(MAX_SLOTS)
            .map(|slot| json!({"start": slot.start, "local": local_label(slot.at, &zone)}))
            .collect();
        Ok(json!({
            "time_zone": zone_name,
            "slots": offered,
            "more": slots.len() > MAX_SLOTS,
        }))
    }

    async fn book_appointment(&self, args: &Value) -> ToolResult {
        let calendar = self.calendar()?;
        let start = text_arg(args, "start", 40)?.ok_or("start is required")?;
        let at: jiff::Timestamp = start
            .parse()
            .map_err(|_| format!("start {start:?} is not an ISO 8601 time with an offset"))?;
        if at.as_millisecond() <= self.now_ms {
            return Err("that time has passed".into());
        }
        let contact = self.ghl_contact()?;
        let title = text_arg(args, "title", 100)?
            .map(str::to_string)
            .unwrap_or_else(|| format!("{} (booked by the AI)", self.contact_label()));
        let mut appointment = ghl::NewAppointment::confirmed(
            calendar,
            &self.location.ghl_location_id,
            contact,
            start,
        );
        appointment.title = Some(&title);
        let booked = self
            .ghl
            .call(
                self.store,
                self.location,
                "create_appointment",
                |api| api.create_appointment(&appointment),
                ghl::api::parse_appointment,
            )
            .await
            .map_err(|e| format!("the booking was refused: {e}"))?;
        let zone = jiff::tz::TimeZone::get(&self.zone_name()).map_err(|e| e.to_string())?;
        Ok(json!({
            "appointment_id": booked.id,
            "start": booked.start_time.unwrap_or_else(|| start.to_string()),
            "local": local_label(to_system(at), &zone),
        }))
    }

    fn contact_label(&self) -> String {
        let name = self.contact.name.trim();
        if name.is_empty() {
            self.contact
                .phone
                .clone()
                .unwrap_or_else(|| "Contact".into())
        } else {
            name.to_string()
        }
    }

    async fn update_contact(&self, args: &Value) -> ToolResult {
        let fields = args
            .get("fields")
            .and_then(Value::as_object)
            .ok_or("fields must be an object")?;
        if fields.is_empty() {
            return Err("fields is empty".into());
        }
        let mut update = ghl::ContactUpdate::default();
        let mut custom = Vec::new();
        for (name, value) in fields {
            let value = value
                .as_str()
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.chars().count() <= 200)
                .ok_or_else(|| format!("{name} must be a short non-empty string"))?;
            match name.as_str() {
                "first_name" => update.first_name = Some(value),
                "last_name" => update.last_name = Some(value),
                "email" if value.contains('@') => update.email = Some(value),
                "email" => return Err(format!("{value:?} is not an email address")),
                other => {
                    let id = self
                        .settings
                        .contact_fields
                        .get(other)
                        .ok_or_else(|| format!("there is no contact field named {other}"))?;
                    custom.push(ghl::CustomFieldValue {
                        id: id.clone(),
                        key: None,
                        field_value: json!(value),
                    });
                }
            }
        }
        update.custom_fields = &custom;
        let contact = self.ghl_contact()?;
        self.ghl
            .call(
                self.store,
                self.location,
                "update_contact",
                |api| api.update_contact(contact, &update),
                ghl::api::parse_contact_update,
            )
            .await
            .map_err(|e| format!("the contact could not be updated: {e}"))?;
        Ok(json!({"updated": fields.keys().collect::<Vec<_>>()}))
    }

    async fn add_tag(&self, args: &Value) -> ToolResult {
        let tags: Vec<String> = args
            .get("tags")
            .and_then(Value::as_array)
            .ok_or("tags must be a list")?
            .iter()
            .filter_map(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| t.chars().take(50).collect())
            .take(5)
            .collect();
        if tags.is_empty() {
            return Err("no tag given".into());
        }
        let contact = self.ghl_contact()?;
        let now_tagged = self
            .ghl
            .call(
                self.store,
                self.location,
                "add_tags",
                |api| api.add_tags(contact, &tags),
                ghl::api::parse_tags,
            )
            .await
            .map_err(|e| format!("the tags could not be added: {e}"))?;
        Ok(json!({"added": tags, "tags": now_tagged}))
    }

    async fn create_task(&self, args: &Value) -> ToolResult {
        let title = text_arg(args, "title", 120)?.ok_or("title is required")?;
        let details = text_arg(args, "details", 1000)?;
        let hours = args
            .get("due_in_hours")
            .and_then(Value::as_u64)
            .unwrap_or(24)
            .clamp(1, 720);
        let now =
            SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(self.now_ms).unwrap_or(0));
        let task = ghl::NewTask {
            title,
            body: details,
            due: now + Duration::from_secs(hours * 3600),
            assigned_to: None,
        };
        let contact = self.ghl_contact()?;
        let created = self
            .ghl
            .call(
                self.store,
                self.location,
                "create_task",
                |api| api.create_task(contact, &task),
                ghl::api::parse_task,
            )
            .await
            .map_err(|e| format!("the task could not be created: {e}"))?;
        Ok(json!({"task_id": created.id}))
    }
}

fn to_system(at: jiff::Timestamp) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(at.as_millisecond()).unwrap_or(0))
}

/// "Tue 24 Nov, 9:00 AM" in the zone: what the model can say to the contact.
fn local_label(at: SystemTime, zone: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::try_from(at)
        .map(|t| {
            t.to_zoned(zone.clone())
                .strftime("%a %-d %b, %-I:%M %p")
                .to_string()
        })
        .unwrap_or_default()
}
