//! `POST /{version}/{phone_number_id}/messages`: a send, validated as Meta documents the
//! fields (providers.md §3): `messaging_product` must be `whatsapp`, `to` a phone number,
//! `type` one of the supported ones with its object present (`text.body` at most 4 096
//! characters; media with exactly one of `id` / `link` and a `caption` of at most 1 024
//! where the type takes one; a template with a name and a language code).
//!
//! An accepted send answers `{messaging_product, contacts, messages: [{id}]}`; its status
//! webhooks follow ([`super::callbacks`]). A free-form send outside the contact's 24-hour
//! window is accepted too, then fails by webhook with 131047.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::callbacks::{spawn_statuses, Outcome};
use super::{authenticate, error, invalid, is_version, unix_now, wa_id, wamid};
use crate::shared::{lock, Shared};

const MAX_TEXT: usize = 4096;
const MAX_CAPTION: usize = 1024;
const TYPES: &[&str] = &[
    "text",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "template",
    "reaction",
];
const MEDIA: &[&str] = &["image", "audio", "video", "document", "sticker"];

pub(crate) async fn send_unversioned(
    State(shared): State<Shared>,
    Path(phone_number_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    send(shared, &phone_number_id, &headers, &body)
}

pub(crate) async fn send_versioned(
    State(shared): State<Shared>,
    Path((version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_version(&version) {
        return super::invalid("Unknown path components");
    }
    send(shared, &phone_number_id, &headers, &body)
}

fn send(shared: Shared, phone_number_id: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let accounts = match authenticate(&shared, headers) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let Some(account) = accounts
        .into_iter()
        .find(|a| a.phone_number_id == phone_number_id)
    else {
        return error(
            StatusCode::BAD_REQUEST,
            100,
            &format!("Unsupported post request. Object with ID '{phone_number_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."),
            None,
        );
    };
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
        return invalid("Invalid parameter");
    };
    if let Err(response) = validate(&request) {
        return *response;
    }
    let input = request["to"].as_str().unwrap_or_default().to_string();
    let Some(contact) = wa_id(&input) else {
        return error(
            StatusCode::BAD_REQUEST,
            131_009,
            "(#131009) Parameter value is not valid",
            Some("Recipient phone number is not a valid phone number"),
        );
    };
    let kind = request
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("text")
        .to_string();
    let id = wamid();
    let outcome = {
        let mut state = lock(&shared.whatsapp);
        let open = state.window_open(&account.phone_number_id, &contact, unix_now());
        let outcome = if kind == "template" || open {
            Outcome::Read
        } else {
            Outcome::OutsideWindow
        };
        let mut stored = Value::Object(request.clone());
        stored["id"] = id.clone().into();
        stored["wa_id"] = contact.clone().into();
        stored["direction"] = "outbound".into();
        stored["phone_number_id"] = account.phone_number_id.clone().into();
        stored["status"] = "accepted".into();
        state.message_order.push(id.clone());
        state.messages.insert(id.clone(), stored);
        outcome
    };
    let opaque = request
        .get("biz_opaque_callback_data")
        .and_then(Value::as_str)
        .map(str::to_owned);
    spawn_statuses(
        shared,
        account,
        id.clone(),
        contact.clone(),
        opaque,
        outcome,
    );
    (
        StatusCode::OK,
        Json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": input, "wa_id": contact}],
            "messages": [{"id": id}],
        })),
    )
        .into_response()
}

type Checked = Result<(), Box<Response>>;

fn refuse(message: &str) -> Checked {
    Err(Box::new(invalid(message)))
}

fn validate(request: &Map<String, Value>) -> Checked {
    match request.get("messaging_product").and_then(Value::as_str) {
        Some("whatsapp") => {}
        Some(_) => return refuse("Param messaging_product must be whatsapp"),
        None => return refuse("The parameter messaging_product is required."),
    }
    if request
        .get("to")
        .and_then(Value::as_str)
        .is_none_or(|t| t.trim().is_empty())
    {
        return refuse("The parameter to is required.");
    }
    if let Some(kind) = request.get("recipient_type").and_then(Value::as_str) {
        if kind != "individual" {
            return refuse("Param recipient_type must be individual");
        }
    }
    let kind = request
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("text");
    if !TYPES.contains(&kind) {
        return refuse(&format!(
            "Param type must be one of {{{}}}",
            TYPES.join(", ")
        ));
    }
    let Some(object) = request.get(kind).and_then(Value::as_object) else {
        return refuse(&format!("The parameter {kind} is required."));
    };
    let text = |key: &str| object.get(key).and_then(Value::as_str);
    match kind {
        "text" => match text("body") {
            None => refuse("The parameter text['body'] is required."),
            Some(body) if body.trim().is_empty() => {
                refuse("Param text['body'] must be a non-empty string")
            }
            Some(body) if body.chars().count() > MAX_TEXT => refuse(&format!(
                "Param text['body'] must be at most {MAX_TEXT} characters long."
            )),
            Some(_) => {
                if object.get("preview_url").is_some_and(|p| !p.is_boolean()) {
                    return refuse("Param text['preview_url'] must be a boolean");
                }
                Ok(())
            }
        },
        media if MEDIA.contains(&media) => {
            let id = text("id");
            let link = text("link");
            if id.is_some() == link.is_some() {
                return refuse(&format!(
                    "Exactly one of {media}['id'] or {media}['link'] is required."
                ));
            }
            if let Some(link) = link {
                let ok =
                    url::Url::parse(link).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
                if !ok {
                    return refuse(&format!("Param {media}['link'] must be a valid URL"));
                }
            }
            match text("caption") {
                Some(_) if matches!(media, "audio" | "sticker") => refuse(&format!(
                    "Param {media}['caption'] is not a valid parameter"
                )),
                Some(c) if c.chars().count() > MAX_CAPTION => refuse(&format!(
                    "Param {media}['caption'] must be at most {MAX_CAPTION} characters long."
                )),
                _ => Ok(()),
            }
        }
        "template" => {
            let language = object
                .get("language")
                .and_then(Value::as_object)
                .and_then(|l| l.get("code"))
                .and_then(Value::as_str);
            if text("name").is_none_or(|n| n.trim().is_empty()) {
                refuse("The parameter template['name'] is required.")
            } else if language.is_none_or(|c| c.trim().is_empty()) {
                refuse("The parameter template['language']['code'] is required.")
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}
