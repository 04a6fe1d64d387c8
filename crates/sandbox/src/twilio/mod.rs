//! Twilio Programmable Messaging simulator, mounted at `/twilio` with Twilio's own paths
//! (`/twilio/2010-04-01/Accounts/{AccountSid}/Messages.json`), so an official SDK whose base
//! URL is `http://HOST/twilio` works unchanged.
//!
//! Built from the reference (providers.md §2) and the official SDK fixtures: form-encoded
//! requests with HTTP Basic auth, 201 with the message resource (numbers as strings, RFC 2822
//! dates, `SM` + 32 hex sids), errors as `{code, message, more_info, status}`, and every
//! webhook form-encoded and signed with `X-Twilio-Signature` by the account's auth token.
//!
//! Opt-outs are account-wide here (Twilio blocks per sender, or per Messaging Service): the
//! strict reading, so a gateway that relies on another line still reaching an opted-out
//! contact fails in the sandbox first.

mod api;
mod callbacks;
mod control;

use std::collections::{HashMap, HashSet};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha1::Sha1;

use crate::shared::{lock, Reject, Shared};
use crate::Simulator;

pub(crate) const SIMULATOR: Simulator = Simulator {
    name: "twilio",
    api,
    control: control::router,
    error_body,
};

/// The API version in every path and resource.
pub(crate) const API_VERSION: &str = "2010-04-01";

/// An account: its SID and auth token, its numbers, and an optional Messaging Service whose
/// sender pool is those numbers.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub sid: String,
    pub auth_token: String,
    pub lines: Vec<String>,
    pub messaging_service_sid: Option<String>,
    /// Advanced Opt-Out on the service: inbound keyword messages carry `OptOutType`.
    pub advanced_opt_out: bool,
}

/// How the simulated network treats one contact number.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recipient {
    /// Every send to this number goes `sent` then `undelivered` (error 30003, unreachable).
    pub fail: bool,
}

#[derive(Debug, Default)]
pub(crate) struct TwilioState {
    pub accounts: Vec<Account>,
    /// Messaging webhook URL per line (the number's "A message comes in" URL).
    pub webhooks: HashMap<String, String>,
    pub recipients: HashMap<String, Recipient>,
    /// (account SID, contact number) pairs blocked after a STOP.
    pub opted_out: HashSet<(String, String)>,
    /// Message resources by sid.
    pub messages: HashMap<String, Value>,
    pub message_order: Vec<String>,
}

impl TwilioState {
    pub fn account_for_line(&self, line: &str) -> Option<&Account> {
        self.accounts
            .iter()
            .find(|a| a.lines.iter().any(|l| l == line))
    }
}

/// `+` then 7 to 15 digits, the first not zero.
pub(crate) fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|d| {
        (7..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

/// A Twilio SID: two letters and 32 lowercase hex digits.
pub(crate) fn sid(prefix: &str) -> String {
    let hex: String = (0..32)
        .map(|_| char::from(b"0123456789abcdef"[fastrand::usize(..16)]))
        .collect();
    format!("{prefix}{hex}")
}

/// `X-Twilio-Signature` as Twilio computes it: base64 HMAC-SHA1, keyed by the auth token, of
/// the URL followed by each form field (sorted by name, distinct values sorted) as
/// name + value.
pub(crate) fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut data = String::from(url);
    for (name, value) in sorted {
        data.push_str(name);
        data.push_str(value);
    }
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) else {
        return String::new();
    };
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A form body from fields, in order.
pub(crate) fn encode_form(params: &[(String, String)]) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        form.append_pair(k, v);
    }
    form.finish()
}

/// The headers Twilio sends with a signed form webhook.
pub(crate) fn webhook_headers(signature: String) -> Vec<(&'static str, String)> {
    vec![
        (
            "content-type",
            "application/x-www-form-urlencoded; charset=UTF-8".to_string(),
        ),
        ("x-twilio-signature", signature),
        ("user-agent", "TwilioProxy/1.1".to_string()),
        ("i-twilio-idempotency-token", crate::ids::uuid_v4()),
    ]
}

/// Twilio's legacy error body; injected faults use the codes Twilio uses for them.
fn error_body(status: u16, message: &str) -> Value {
    let code = match status {
        429 => 20429,
        500..=599 => 20500,
        other => u32::from(other),
    };
    body_for(status, code, message)
}

fn body_for(status: u16, code: u32, message: &str) -> Value {
    json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    })
}

pub(crate) fn error(status: StatusCode, code: u32, message: &str) -> Response {
    (status, Json(body_for(status.as_u16(), code, message))).into_response()
}

/// The account named by HTTP Basic `AccountSid:AuthToken`; 401 with error 20003 otherwise.
pub(crate) fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<Account, Reject> {
    let refuse = || {
        let mut response = error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
        response.headers_mut().insert(
            "www-authenticate",
            axum::http::HeaderValue::from_static("Basic realm=\"Twilio API\""),
        );
        Box::new(response)
    };
    let credentials = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(refuse)?;
    let (user, password) = credentials.split_once(':').ok_or_else(refuse)?;
    let state = lock(&shared.twilio);
    state
        .accounts
        .iter()
        .find(|a| a.sid == user && a.auth_token == password)
        .cloned()
        .ok_or_else(refuse)
}

fn api(shared: Shared) -> Router {
    Router::new()
        .route("/2010-04-01/Accounts/{account}", get(api::fetch_account))
        .route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            post(api::create_message).get(api::list_messages),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Messages/{message}",
            get(api::fetch_message),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Messages/{message}/Media/{media}",
            get(crate::media::twilio_media),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(shared)
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        20404,
        "The requested resource was not found",
    )
}

#[cfg(test)]
mod tests {
    use super::sign;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Twilio's official vectors (twilio-python `test_request_validator.py`).
    #[test]
    fn signs_like_twilio() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params = pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ]);
        assert_eq!(sign("12345", url, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        let repeated = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        assert_eq!(
            sign("12345", url, &repeated),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
    }
}
