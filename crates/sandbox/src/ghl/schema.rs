//! Request-body validation against GHL's official OpenAPI schemas (embedded, unmodified).
//!
//! GHL is a NestJS service using class-validator: a body that breaks its DTO is refused with a
//! list of messages such as `type must be one of the following values: …` or
//! `property foo should not exist` (the API whitelists properties: issue #262). This module checks
//! the subset of JSON Schema the specs use — `$ref`, `allOf`, `anyOf`, `type`, `enum`, `required`,
//! `properties`, `items`, `nullable` — and writes messages in that style.
//!
//! The specs carry generator artefacts: a TypeScript union or `any` is emitted as `type: object`
//! with no properties (e.g. `field_value: object` with example `100`). Such a schema accepts any
//! value here. The few artefacts that matter are corrected in `OVERRIDES`.

use std::sync::OnceLock;

use serde_json::{json, Value};

/// Which embedded spec a schema comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Spec {
    Calendars,
    Contacts,
    Conversations,
}

fn document(spec: Spec) -> &'static Value {
    static CALENDARS: OnceLock<Value> = OnceLock::new();
    static CONTACTS: OnceLock<Value> = OnceLock::new();
    static CONVERSATIONS: OnceLock<Value> = OnceLock::new();
    let (cell, text) = match spec {
        Spec::Calendars => (&CALENDARS, include_str!("openapi/calendars.json")),
        Spec::Contacts => (&CONTACTS, include_str!("openapi/contacts.json")),
        Spec::Conversations => (&CONVERSATIONS, include_str!("openapi/conversations.json")),
    };
    cell.get_or_init(|| serde_json::from_str(text).unwrap_or(Value::Null))
}

/// Corrections of spec artefacts: (schema, property, schema to use instead).
fn override_for(schema: &str, property: &str) -> Option<Value> {
    match (schema, property) {
        // `direction` is declared `type: object` with an array example; GHL takes a string.
        ("ProcessMessageBodyDto", "direction") => {
            Some(json!({"type": "string", "enum": ["inbound", "outbound"]}))
        }
        // Declared `type: object`, documented as a date string in one of eight formats.
        (_, "dateOfBirth") => Some(json!({"type": "string", "nullable": true})),
        _ => None,
    }
}

/// Validate a request body against `components.schemas.<name>` of `spec`. Top-level properties the
/// schema does not declare are refused, as GHL's whitelisting does. Returns the error messages
/// (empty when valid).
pub(crate) fn validate(spec: Spec, name: &str, body: &Value) -> Vec<String> {
    let doc = document(spec);
    let Some(schema) = doc.pointer(&format!("/components/schemas/{name}")) else {
        return vec![format!("schema {name} is unavailable")];
    };
    let Some(object) = body.as_object() else {
        return vec!["request body must be a JSON object".into()];
    };
    let mut errors = Vec::new();
    let required = required_of(schema);
    for field in &required {
        if object.get(field.as_str()).is_none_or(Value::is_null) {
            errors.push(format!("{field} should not be empty"));
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    for (key, value) in object {
        if value.is_null() && !required.contains(key) {
            continue;
        }
        let declared = properties.and_then(|p| p.get(key)).cloned();
        match override_for(name, key).or(declared) {
            Some(property) => check(doc, &property, value, key, &mut errors, 0),
            None => errors.push(format!("property {key} should not exist")),
        }
    }
    errors
}

fn required_of(schema: &Value) -> Vec<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| doc.pointer(pointer))
        .unwrap_or(schema)
}

/// Depth guard: the specs are not recursive, but a body can nest arbitrarily.
const MAX_DEPTH: u8 = 12;

fn check(
    doc: &Value,
    schema: &Value,
    value: &Value,
    path: &str,
    errors: &mut Vec<String>,
    depth: u8,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let schema = resolve(doc, schema);
    if value.is_null() && schema.get("nullable").and_then(Value::as_bool) == Some(true) {
        return;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for part in all {
            check(doc, part, value, path, errors, depth + 1);
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let fits = any.iter().any(|option| {
            let mut scratch = Vec::new();
            check(doc, option, value, path, &mut scratch, depth + 1);
            scratch.is_empty()
        });
        if !fits {
            errors.push(format!("{path} does not match any allowed shape"));
        }
    }
    let type_ok = match schema.get("type").and_then(Value::as_str) {
        Some("string") => expect(value.is_string(), path, "must be a string", errors),
        Some("number") => expect(value.is_number(), path, "must be a number", errors),
        Some("integer") => expect(
            value.is_i64() || value.is_u64(),
            path,
            "must be an integer number",
            errors,
        ),
        Some("boolean") => expect(value.is_boolean(), path, "must be a boolean value", errors),
        Some("array") => {
            let ok = expect(value.is_array(), path, "must be an array", errors);
            if let (true, Some(items), Some(values)) = (ok, schema.get("items"), value.as_array()) {
                for (i, item) in values.iter().enumerate() {
                    check(doc, items, item, &format!("{path}.{i}"), errors, depth + 1);
                }
            }
            ok
        }
        Some("object") if schema.get("properties").is_some() => {
            expect(value.is_object(), path, "must be an object", errors)
        }
        _ => true,
    };
    if !type_ok {
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            let list: Vec<String> = allowed
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect();
            errors.push(format!(
                "{path} must be one of the following values: {}",
                list.join(", ")
            ));
        }
    }
    if let (Some(properties), Some(object)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object(),
    ) {
        let required = required_of(schema);
        for field in &required {
            if object.get(field.as_str()).is_none_or(Value::is_null) {
                errors.push(format!("{path}.{field} should not be empty"));
            }
        }
        for (key, property) in properties {
            match object.get(key) {
                Some(v) if !v.is_null() || required.contains(key) => {
                    check(
                        doc,
                        property,
                        v,
                        &format!("{path}.{key}"),
                        errors,
                        depth + 1,
                    );
                }
                _ => {}
            }
        }
    }
}

fn expect(ok: bool, path: &str, what: &str, errors: &mut Vec<String>) -> bool {
    if !ok {
        errors.push(format!("{path} {what}"));
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_specs_parse() {
        assert!(document(Spec::Contacts)
            .pointer("/components/schemas/UpsertContactDto")
            .is_some());
        assert!(document(Spec::Conversations)
            .pointer("/components/schemas/ProcessMessageBodyDto")
            .is_some());
        assert!(document(Spec::Calendars)
            .pointer("/components/schemas/AppointmentCreateSchema")
            .is_some());
    }

    #[test]
    fn appointment_and_task_rules() {
        let ok = json!({"calendarId": "k", "locationId": "l", "contactId": "c",
            "startTime": "2024-10-28T10:00:00-05:00", "appointmentStatus": "confirmed",
            "toNotify": false});
        assert!(validate(Spec::Calendars, "AppointmentCreateSchema", &ok).is_empty());
        let errors = validate(
            Spec::Calendars,
            "AppointmentCreateSchema",
            &json!({"calendarId": "k", "locationId": "l", "appointmentStatus": "booked",
                "toNotify": "yes", "colour": "red"}),
        );
        assert!(errors.contains(&"contactId should not be empty".to_owned()));
        assert!(errors.contains(&"startTime should not be empty".to_owned()));
        assert!(errors
            .iter()
            .any(|e| e.starts_with("appointmentStatus must be one of")));
        assert!(errors.contains(&"toNotify must be a boolean value".to_owned()));
        assert!(errors.contains(&"property colour should not exist".to_owned()));
        let errors = validate(
            Spec::Contacts,
            "CreateTaskParams",
            &json!({"title": "t", "completed": "no"}),
        );
        assert!(errors.contains(&"dueDate should not be empty".to_owned()));
        assert!(errors.contains(&"completed must be a boolean value".to_owned()));
    }

    #[test]
    fn inbound_message_rules() {
        let ok = json!({"type": "SMS", "contactId": "c", "conversationId": "v",
            "conversationProviderId": "p", "message": "hi", "direction": "inbound",
            "attachments": ["https://x/y.png"]});
        assert!(validate(Spec::Conversations, "ProcessMessageBodyDto", &ok).is_empty());
        let bad = json!({"type": "Pigeon", "contactId": 5, "direction": "sideways", "extra": 1,
            "conversationId": "v", "conversationProviderId": "p", "call": {"status": "nope"}});
        let errors = validate(Spec::Conversations, "ProcessMessageBodyDto", &bad);
        assert!(errors
            .iter()
            .any(|e| e.starts_with("type must be one of the following values: SMS")));
        assert!(errors.contains(&"contactId must be a string".to_owned()));
        assert!(errors
            .iter()
            .any(|e| e.starts_with("direction must be one of")));
        assert!(errors.contains(&"property extra should not exist".to_owned()));
        assert!(errors
            .iter()
            .any(|e| e.starts_with("call.status must be one of")));
    }

    #[test]
    fn status_and_contact_rules() {
        let errors = validate(
            Spec::Conversations,
            "UpdateMessageStatusDto",
            &json!({"status": "failed", "error": {"code": "1"}}),
        );
        assert_eq!(
            errors,
            vec![
                "error.type should not be empty",
                "error.message should not be empty"
            ]
        );
        let upsert = json!({"locationId": "l", "phone": "+15550001111",
            "dndSettings": {"SMS": {"status": "active"}},
            "customFields": [{"id": "f", "field_value": 3}], "dateOfBirth": "1990-09-25"});
        assert!(validate(Spec::Contacts, "UpsertContactDto", &upsert).is_empty());
        let errors = validate(
            Spec::Contacts,
            "UpdateContactDto",
            &json!({"locationId": "l", "additionalEmails": [], "dndSettings": {"SMS": {"status": "maybe"}}}),
        );
        assert!(errors.contains(&"property locationId should not exist".to_owned()));
        assert!(errors.contains(&"property additionalEmails should not exist".to_owned()));
        assert!(errors
            .iter()
            .any(|e| e.starts_with("dndSettings.SMS.status must be one of")));
    }
}
