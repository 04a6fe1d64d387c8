//! Twilio's Messages API: create (form-encoded, 201 with the message resource), fetch, list.
//!
//! Validation follows Twilio's documented errors and leans strict: `To` must be E.164
//! (21211), `From` must be a number of the account (21606) unless a Messaging Service sends
//! (21701 for an unknown one), text or media is required (21602), the body is at most 1 600
//! characters (21617), at most ten `MediaUrl`s (21623), and a contact who sent STOP is
//! refused with 21610.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::callbacks::{spawn_callbacks, Outcome};
use super::{authenticate, error, is_e164, sid, Account, API_VERSION};
use crate::clock;
use crate::shared::{lock, Reject, Shared};

const MAX_BODY: usize = 1600;
const MAX_MEDIA: usize = 10;

fn invalid(code: u32, message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, code, message)
}

fn is_http_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// The account authenticated by Basic auth, which must be the one the path names.
fn account_for(shared: &Shared, headers: &HeaderMap, path_sid: &str) -> Result<Account, Reject> {
    let account = authenticate(shared, headers)?;
    if account.sid != path_sid {
        return Err(Box::new(error(
            StatusCode::NOT_FOUND,
            20404,
            &format!("The requested resource /2010-04-01/Accounts/{path_sid}/Messages.json was not found"),
        )));
    }
    Ok(account)
}

/// What a message resource is built from.
pub(crate) struct Facts<'a> {
    pub account: &'a Account,
    pub sid: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub body: &'a str,
    pub num_media: usize,
    pub service: Option<&'a str>,
    pub direction: &'a str,
    pub status: &'a str,
}

/// The message resource, field for field as Twilio's fixtures show it.
pub(crate) fn resource(f: &Facts<'_>) -> Value {
    let (account, message_sid) = (f.account, f.sid);
    let now = clock::now_rfc2822();
    let base = format!(
        "/{API_VERSION}/Accounts/{}/Messages/{message_sid}",
        account.sid
    );
    json!({
        "account_sid": account.sid,
        "api_version": API_VERSION,
        "body": f.body,
        "date_created": now,
        "date_sent": null,
        "date_updated": now,
        "direction": f.direction,
        "error_code": null,
        "error_message": null,
        "from": f.from,
        "messaging_service_sid": f.service,
        "num_media": f.num_media.to_string(),
        "num_segments": "1",
        "price": null,
        "price_unit": null,
        "sid": message_sid,
        "status": f.status,
        "subresource_uris": { "media": format!("{base}/Media.json") },
        "to": f.to,
        "uri": format!("{base}.json"),
    })
}

/// `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` → 201 with the resource; status
/// callbacks follow (none for the initial status, as Twilio documents).
pub(crate) async fn create_message(
    State(shared): State<Shared>,
    Path(path_sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let account = match account_for(&shared, &headers, &path_sid) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let Some(to) = get("To") else {
        return invalid(21604, "A 'To' phone number is required.");
    };
    if !is_e164(to) {
        return invalid(
            21211,
            &format!("The 'To' number {to} is not a valid phone number."),
        );
    }
    let service = get("MessagingServiceSid");
    if let Some(service) = service {
        if account.messaging_service_sid.as_deref() != Some(service) {
            return invalid(
                21701,
                &format!("The Messaging Service Sid {service} is invalid."),
            );
        }
    }
    let from = match (get("From"), service) {
        (Some(from), _) => {
            if !account.lines.iter().any(|l| l == from) {
                return invalid(21606, &format!("The From phone number {from} is not a valid, SMS-capable inbound phone number or short code for your account."));
            }
            from.to_string()
        }
        // The service picks a sender from its pool.
        (None, Some(_)) => account.lines.first().cloned().unwrap_or_default(),
        (None, None) => return invalid(21603, "A 'From' phone number is required."),
    };
    let text = form
        .iter()
        .find(|(k, _)| k == "Body")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let media: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "MediaUrl")
        .map(|(_, v)| v.as_str())
        .collect();
    if text.trim().is_empty() && media.is_empty() {
        return invalid(21602, "Message body is required.");
    }
    if text.chars().count() > MAX_BODY {
        return invalid(
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        );
    }
    if media.len() > MAX_MEDIA {
        return invalid(21623, "The number of media files exceeds the limit of 10.");
    }
    if let Some(bad) = media.iter().find(|u| !is_http_url(u)) {
        return invalid(21620, &format!("Invalid media URL(s): {bad}"));
    }
    let callback = get("StatusCallback");
    if callback.is_some_and(|u| !is_http_url(u)) {
        return invalid(21609, "Invalid StatusCallback url");
    }
    let (opted_out, recipient) = {
        let state = lock(&shared.twilio);
        (
            state
                .opted_out
                .contains(&(account.sid.clone(), to.to_string())),
            state.recipients.get(to).cloned().unwrap_or_default(),
        )
    };
    if opted_out {
        return invalid(21610, "Attempt to send to unsubscribed recipient");
    }
    let message_sid = sid(if media.is_empty() { "SM" } else { "MM" });
    // With a Messaging Service (and no From) Twilio answers `accepted`; otherwise `queued`.
    let initial = if get("From").is_none() && service.is_some() {
        "accepted"
    } else {
        "queued"
    };
    let object = resource(&Facts {
        account: &account,
        sid: &message_sid,
        from: &from,
        to,
        body: text,
        num_media: media.len(),
        service,
        direction: "outbound-api",
        status: initial,
    });
    {
        let mut state = lock(&shared.twilio);
        state.message_order.push(message_sid.clone());
        state.messages.insert(message_sid.clone(), object.clone());
    }
    let outcome = if recipient.fail {
        Outcome::Undelivered
    } else {
        Outcome::Delivered
    };
    spawn_callbacks(
        shared,
        account,
        message_sid,
        callback.map(str::to_owned),
        outcome,
    );
    (StatusCode::CREATED, Json(object)).into_response()
}

/// `GET /2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}.json` → the resource as it
/// is now.
pub(crate) async fn fetch_message(
    State(shared): State<Shared>,
    Path((path_sid, message)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let account = match account_for(&shared, &headers, &path_sid) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let message_sid = message.strip_suffix(".json").unwrap_or(&message);
    let state = lock(&shared.twilio);
    match state
        .messages
        .get(message_sid)
        .filter(|m| m["account_sid"] == account.sid.as_str())
    {
        Some(m) => Json(m.clone()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            20404,
            &format!("The requested resource /{API_VERSION}/Accounts/{path_sid}/Messages/{message} was not found"),
        ),
    }
}

/// `GET /2010-04-01/Accounts/{AccountSid}/Messages.json` → one page of every message, newest
/// first, in Twilio's list envelope.
pub(crate) async fn list_messages(
    State(shared): State<Shared>,
    Path(path_sid): Path<String>,
    headers: HeaderMap,
) -> Response {
    let account = match account_for(&shared, &headers, &path_sid) {
        Ok(a) => a,
        Err(response) => return *response,
    };
    let state = lock(&shared.twilio);
    let messages: Vec<Value> = state
        .message_order
        .iter()
        .rev()
        .filter_map(|s| state.messages.get(s))
        .filter(|m| m["account_sid"] == account.sid.as_str())
        .cloned()
        .collect();
    let uri = format!("/{API_VERSION}/Accounts/{}/Messages.json", account.sid);
    Json(json!({
        "messages": messages,
        "end": messages.len().saturating_sub(1),
        "first_page_uri": format!("{uri}?PageSize=50&Page=0"),
        "next_page_uri": null,
        "page": 0,
        "page_size": 50,
        "previous_page_uri": null,
        "start": 0,
        "uri": format!("{uri}?PageSize=50&Page=0"),
    }))
    .into_response()
}

/// `GET /2010-04-01/Accounts/{AccountSid}.json` → the account resource, to its own
/// credentials only (401 / 20003 for a wrong token, 404 / 20404 for another account's
/// SID). The real resource also carries the auth token; the simulator leaves it out, as
/// nothing should read it back.
pub(crate) async fn fetch_account(
    State(shared): State<Shared>,
    Path(account): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(path_sid) = account.strip_suffix(".json") else {
        return error(
            StatusCode::NOT_FOUND,
            20404,
            "The requested resource was not found",
        );
    };
    let account = match authenticate(&shared, &headers) {
        Ok(a) if a.sid == path_sid => a,
        Ok(_) => {
            return error(
                StatusCode::NOT_FOUND,
                20404,
                &format!(
                    "The requested resource /2010-04-01/Accounts/{path_sid}.json was not found"
                ),
            )
        }
        Err(response) => return *response,
    };
    let created = clock::now_rfc2822();
    let uri = format!("/{API_VERSION}/Accounts/{}", account.sid);
    Json(json!({
        "sid": account.sid,
        "owner_account_sid": account.sid,
        "friendly_name": format!("{} account", account.sid),
        "status": "active",
        "type": "Full",
        "date_created": created,
        "date_updated": created,
        "uri": format!("{uri}.json"),
        "subresource_uris": {"messages": format!("{uri}/Messages.json")},
    }))
    .into_response()
}
