//! WhatsApp Business Cloud API simulator (Meta's Graph API), mounted at `/whatsapp` with the
//! Graph paths (`/whatsapp/v21.0/{phone_number_id}/messages`; the version segment is
//! optional, as in Meta's own syntax), so a client whose base URL is
//! `http://HOST/whatsapp/v21.0` works unchanged.
//!
//! Built from the reference (providers.md §3): bearer-token auth, Graph error bodies
//! (`{"error": {message, type, code, error_data, fbtrace_id}}`), the send answer
//! `{messaging_product, contacts: [{input, wa_id}], messages: [{id: "wamid.…"}]}`, and
//! webhooks in Meta's envelope signed with `X-Hub-Signature-256` by the account's app
//! secret. It keeps the 24-hour customer-service window itself: a free-form send to a
//! contact who has not written to that number within 24 hours is accepted and then fails
//! with a `failed` status webhook carrying error 131047, which is how the reference says
//! it can arrive (templates always go).

mod api;
mod callbacks;
mod control;
mod media;

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::shared::{lock, Reject, Shared};
use crate::Simulator;

pub(crate) const SIMULATOR: Simulator = Simulator {
    name: "whatsapp",
    api,
    control: control::router,
    error_body,
};

/// Meta's window for free-form messages after the contact's last message.
pub(crate) const SERVICE_WINDOW_SECS: u64 = 24 * 60 * 60;

/// A business phone number on a Meta app: its ids, the app's access token and secret.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub phone_number_id: String,
    /// The number, E.164 (`display_phone_number` is it without the `+`).
    pub line: String,
    pub waba_id: String,
    pub access_token: String,
    pub app_secret: String,
}

impl Account {
    pub fn display_phone_number(&self) -> &str {
        self.line.trim_start_matches('+')
    }
}

/// An uploaded or received media object.
#[derive(Debug, Clone)]
pub(crate) struct Media {
    pub phone_number_id: String,
    pub mime_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Default)]
pub(crate) struct WhatsappState {
    pub accounts: Vec<Account>,
    /// The app's webhook URL, per business number (E.164).
    pub webhooks: HashMap<String, String>,
    /// (phone number id, contact wa_id) → unix seconds of the contact's last message.
    pub last_inbound: HashMap<(String, String), u64>,
    /// Messages we sent and received, by wamid, in order.
    pub messages: HashMap<String, Value>,
    pub message_order: Vec<String>,
    pub media: HashMap<String, Media>,
}

impl WhatsappState {
    pub fn account_for_line(&self, line: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.line == line)
    }

    /// Whether `wa_id` wrote to `phone_number_id` within the last 24 hours.
    pub fn window_open(&self, phone_number_id: &str, wa_id: &str, now: u64) -> bool {
        self.last_inbound
            .get(&(phone_number_id.to_string(), wa_id.to_string()))
            .is_some_and(|at| now.saturating_sub(*at) < SERVICE_WINDOW_SECS)
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// A wa_id: a phone number's 7 to 15 digits, the first not zero (`+` and spaces allowed
/// in what is given, as Meta accepts them).
pub(crate) fn wa_id(number: &str) -> Option<String> {
    let digits: String = number
        .trim()
        .trim_start_matches('+')
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    let ok = (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then_some(digits)
}

/// A message id shaped like Meta's: `wamid.` and base64 text.
pub(crate) fn wamid() -> String {
    use base64::Engine as _;
    let bytes: Vec<u8> = (0..30).map(|_| fastrand::u8(..)).collect();
    format!(
        "wamid.{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// A Graph object id: 15 or 16 digits.
pub(crate) fn graph_id() -> String {
    let first = char::from(b'1' + fastrand::u8(..9));
    let rest: String = (0..15)
        .map(|_| char::from(b'0' + fastrand::u8(..10)))
        .collect();
    format!("{first}{rest}")
}

/// `sha256=<hex HMAC-SHA256(app secret, body)>`, Meta's `X-Hub-Signature-256`.
pub(crate) fn sign(app_secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    let digest: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={digest}")
}

/// Meta's webhook envelope around one `messages` change.
pub(crate) fn envelope(account: &Account, value: Value) -> Value {
    let mut value = value;
    value["messaging_product"] = "whatsapp".into();
    value["metadata"] = json!({
        "display_phone_number": account.display_phone_number(),
        "phone_number_id": account.phone_number_id,
    });
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": account.waba_id, "changes": [{"value": value, "field": "messages"}]}],
    })
}

/// The headers Meta sends with a signed webhook.
pub(crate) fn webhook_headers(signature: String) -> Vec<(&'static str, String)> {
    vec![
        ("x-hub-signature-256", signature),
        ("user-agent", "facebookexternalua".to_string()),
    ]
}

fn fbtrace_id() -> String {
    crate::ids::ghl_id()
}

/// A Graph error body.
pub(crate) fn body_for(code: u32, message: &str, kind: &str, details: Option<&str>) -> Value {
    let mut error = json!({
        "message": message,
        "type": kind,
        "code": code,
        "fbtrace_id": fbtrace_id(),
    });
    if let Some(details) = details {
        error["error_data"] = json!({"messaging_product": "whatsapp", "details": details});
    }
    json!({ "error": error })
}

/// Injected faults answer with the codes Meta uses: 130429 for throttling, 131000 for
/// server trouble.
fn error_body(status: u16, message: &str) -> Value {
    match status {
        429 => body_for(
            130_429,
            "(#130429) Rate limit hit",
            "OAuthException",
            Some(message),
        ),
        500..=599 => body_for(
            131_000,
            "Something went wrong",
            "OAuthException",
            Some(message),
        ),
        _ => body_for(100, message, "OAuthException", None),
    }
}

pub(crate) fn error(
    status: StatusCode,
    code: u32,
    message: &str,
    details: Option<&str>,
) -> Response {
    // Meta types invalid parameters and token errors as OAuthException, and errors about
    // an object (unknown id, unsupported operation) as GraphMethodException.
    let kind = if code == 190 || (code == 100 && !message.starts_with("Unsupported")) {
        "OAuthException"
    } else {
        "GraphMethodException"
    };
    (status, Json(body_for(code, message, kind, details))).into_response()
}

/// `(#100) …`: Meta's invalid-parameter answer.
pub(crate) fn invalid(message: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        100,
        &format!("(#100) {message}"),
        None,
    )
}

/// The phone numbers the request's bearer token may act for (one Meta app's token can
/// serve several numbers); 401 with error 190 when the token is missing or unknown.
pub(crate) fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<Vec<Account>, Reject> {
    let refuse = |message: &str| Box::new(error(StatusCode::UNAUTHORIZED, 190, message, None));
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            refuse(
                "An active access token must be used to query information about the current user.",
            )
        })?;
    let state = lock(&shared.whatsapp);
    let accounts: Vec<Account> = state
        .accounts
        .iter()
        .filter(|a| a.access_token == token)
        .cloned()
        .collect();
    if accounts.is_empty() {
        return Err(refuse(
            "Invalid OAuth access token - Cannot parse access token",
        ));
    }
    Ok(accounts)
}

/// `v21.0` and the like.
pub(crate) fn is_version(segment: &str) -> bool {
    segment.strip_prefix('v').is_some_and(|v| {
        let mut parts = v.split('.');
        let major = parts.next().unwrap_or_default();
        let minor = parts.next();
        !major.is_empty()
            && major.bytes().all(|b| b.is_ascii_digit())
            && minor.is_none_or(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
            && parts.next().is_none()
    })
}

fn api(shared: Shared) -> Router {
    Router::new()
        .route("/{first}/messages", post(api::send_unversioned))
        .route("/{first}/{second}/messages", post(api::send_versioned))
        .route("/{first}", get(media::lookup_unversioned))
        .route("/{first}/{second}", get(media::lookup_versioned))
        .route("/whatsapp_business/attachments", get(media::download))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(shared)
}

async fn not_found() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        100,
        "Unknown path components",
        None,
    )
}
