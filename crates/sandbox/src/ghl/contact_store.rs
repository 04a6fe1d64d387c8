//! How the GHL simulator stores contacts: GHL's response shape, phone normalisation, the write →
//! read conversion of fields, and duplicate matching (email first, then phone).

use serde_json::{json, Map, Value};

use super::GhlState;
use crate::{clock, ids};

/// E.164 as GHL stores it: digits with a `+`; ten bare digits are taken as a US number (the
/// location's country, which the sandbox assumes is the US).
pub(crate) fn normalize_phone(raw: &str) -> String {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        raw.to_owned()
    } else if raw.trim_start().starts_with('+') {
        format!("+{digits}")
    } else if digits.len() == 10 {
        format!("+1{digits}")
    } else {
        format!("+{digits}")
    }
}

/// A new, empty contact of `location_id` in GHL's response shape.
pub(crate) fn new_contact(location_id: &str) -> Map<String, Value> {
    let now = clock::now_iso();
    let mut c = Map::new();
    c.insert("id".into(), ids::ghl_id().into());
    c.insert("locationId".into(), location_id.into());
    c.insert("type".into(), "lead".into());
    c.insert("dnd".into(), false.into());
    c.insert("dndSettings".into(), json!({}));
    c.insert("tags".into(), json!([]));
    c.insert("customFields".into(), json!([]));
    c.insert("dateAdded".into(), now.clone().into());
    c.insert("dateUpdated".into(), now.into());
    c
}

/// Write DTO fields onto a stored contact, converting to the read shapes GHL returns.
pub(crate) fn apply_fields(contact: &mut Map<String, Value>, body: &Map<String, Value>) {
    for (key, value) in body {
        match key.as_str() {
            "locationId" | "createNewIfDuplicateAllowed" => {}
            _ if value.is_null() => {
                contact.remove(key);
            }
            "phone" => {
                let phone = value.as_str().map(normalize_phone).unwrap_or_default();
                contact.insert("phone".into(), phone.into());
            }
            "email" => {
                let email = value.as_str().unwrap_or_default();
                contact.insert("emailLowerCase".into(), email.to_lowercase().into());
                contact.insert("email".into(), email.into());
            }
            "customFields" => {
                // Written as `{id, key?, field_value}`, read back as `{id, value}`.
                let mut fields: Vec<Value> = contact
                    .get("customFields")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for field in value.as_array().into_iter().flatten() {
                    let id = field.get("id").cloned().unwrap_or(Value::Null);
                    let read = json!({"id": id, "value": field.get("field_value").cloned().unwrap_or(Value::Null)});
                    match fields.iter_mut().find(|f| f.get("id") == Some(&id)) {
                        Some(existing) => *existing = read,
                        None => fields.push(read),
                    }
                }
                contact.insert("customFields".into(), fields.into());
            }
            _ => {
                contact.insert(key.clone(), value.clone());
            }
        }
    }
    contact.insert("dateUpdated".into(), clock::now_iso().into());
}

/// The existing contact matching `email` (first) or `phone`, with the field that matched.
pub(crate) fn find_duplicate(
    state: &GhlState,
    location_id: &str,
    email: Option<&str>,
    phone: Option<&str>,
    except: Option<&str>,
) -> Option<(String, &'static str)> {
    let in_location = |c: &&Map<String, Value>| {
        c.get("locationId").and_then(Value::as_str) == Some(location_id)
            && c.get("id").and_then(Value::as_str) != except
    };
    let field =
        |c: &Map<String, Value>, k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
    let id_of = |c: &Map<String, Value>| field(c, "id").unwrap_or_default();
    if let Some(email) = email.map(str::to_lowercase).filter(|e| !e.is_empty()) {
        let hit = state
            .contact_order
            .iter()
            .filter_map(|id| state.contacts.get(id))
            .filter(in_location)
            .find(|c| field(c, "emailLowerCase").as_deref() == Some(email.as_str()));
        if let Some(c) = hit {
            return Some((id_of(c), "email"));
        }
    }
    if let Some(phone) = phone.map(normalize_phone).filter(|p| !p.is_empty()) {
        let hit = state
            .contact_order
            .iter()
            .filter_map(|id| state.contacts.get(id))
            .filter(in_location)
            .find(|c| field(c, "phone").as_deref() == Some(phone.as_str()));
        if let Some(c) = hit {
            return Some((id_of(c), "phone"));
        }
    }
    None
}

pub(crate) fn insert(state: &mut GhlState, contact: Map<String, Value>) -> Map<String, Value> {
    let id = contact
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    state.contact_order.push(id.clone());
    state.contacts.insert(id, contact.clone());
    contact
}
