//! Status callbacks after a send: form-encoded POSTs to the message's `StatusCallback`,
//! signed with `X-Twilio-Signature`, one per status change after the initial one (Twilio
//! sends none for `queued`/`accepted`).
//!
//! A delivered message goes `sent` then `delivered`; an unreachable one `sent` then
//! `undelivered` with `ErrorCode` 30003. The fields are the subset the reference lists:
//! `MessageSid`, `SmsSid`, `AccountSid`, `From`, `To`, `ApiVersion`, `SmsStatus`,
//! `MessageStatus`, `MessagingServiceSid` when a service sent, `ErrorCode` on failures and
//! `RawDlrDoneDate` (YYMMDDhhmm) on delivered/undelivered. A `reorder` fault sends them in
//! reverse; `duplicate` sends each twice.

use std::time::SystemTime;

use serde_json::Value;

use super::{encode_form, sign, webhook_headers, Account, API_VERSION};
use crate::clock;
use crate::shared::{lock, Shared};
use crate::webhook::{deliver, pause, Webhook};

/// How the simulated network treats a send.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Delivered,
    Undelivered,
}

impl Outcome {
    fn statuses(self) -> &'static [&'static str] {
        match self {
            Outcome::Delivered => &["sent", "delivered"],
            Outcome::Undelivered => &["sent", "undelivered"],
        }
    }
}

/// Unreachable destination handset.
const UNREACHABLE: u32 = 30003;

pub(crate) fn spawn_callbacks(
    shared: Shared,
    account: Account,
    message_sid: String,
    url: Option<String>,
    outcome: Outcome,
) {
    tokio::spawn(async move {
        let name = super::SIMULATOR.name;
        let reorder = url.as_deref().is_some_and(|u| {
            let path = url::Url::parse(u)
                .map(|u| u.path().to_owned())
                .unwrap_or_default();
            shared.faults.outgoing(name, &path).reorder
        });
        let mut forms = Vec::new();
        for status in outcome.statuses() {
            if !pause(&shared, shared.options.twilio_callback_delay).await {
                return;
            }
            let Some(resource) = advance(&shared, &message_sid, status) else {
                return;
            };
            forms.push(callback_form(&account, &resource, status));
            if !reorder {
                if let (Some(url), Some(form)) = (&url, forms.pop()) {
                    send(&shared, &account, url, &form).await;
                }
            }
        }
        if let Some(url) = url.as_deref().filter(|_| reorder) {
            for form in forms.iter().rev() {
                send(&shared, &account, url, form).await;
            }
        }
    });
}

/// Move the stored resource to `status` and return it.
fn advance(shared: &Shared, message_sid: &str, status: &str) -> Option<Value> {
    let mut state = lock(&shared.twilio);
    let message = state.messages.get_mut(message_sid)?;
    let now = clock::now_rfc2822();
    message["status"] = status.into();
    message["date_updated"] = now.clone().into();
    if status == "sent" {
        message["date_sent"] = now.into();
        message["price"] = "-0.00790".into();
        message["price_unit"] = "USD".into();
    }
    if status == "undelivered" {
        message["error_code"] = UNREACHABLE.into();
        message["error_message"] = "Unreachable destination handset".into();
    }
    Some(message.clone())
}

fn callback_form(account: &Account, resource: &Value, status: &str) -> Vec<(String, String)> {
    let text = |k: &str| resource[k].as_str().unwrap_or_default().to_string();
    let sid = text("sid");
    let mut form = vec![
        ("SmsSid".to_string(), sid.clone()),
        ("SmsStatus".to_string(), status.to_string()),
        ("MessageStatus".to_string(), status.to_string()),
        ("To".to_string(), text("to")),
        ("MessageSid".to_string(), sid),
        ("AccountSid".to_string(), account.sid.clone()),
        ("From".to_string(), text("from")),
        ("ApiVersion".to_string(), API_VERSION.to_string()),
    ];
    if let Some(service) = resource["messaging_service_sid"].as_str() {
        form.push(("MessagingServiceSid".to_string(), service.to_string()));
    }
    if status == "undelivered" {
        form.push(("ErrorCode".to_string(), UNREACHABLE.to_string()));
    }
    if matches!(status, "delivered" | "undelivered") {
        form.push(("RawDlrDoneDate".to_string(), dlr_done_date()));
    }
    form
}

/// Now as `YYMMDDhhmm`, no zone (the carrier's done date).
fn dlr_done_date() -> String {
    let iso = clock::iso(SystemTime::now());
    // YYYY-MM-DDTHH:MM → YYMMDDhhmm
    let digits: String = iso.chars().filter(char::is_ascii_digit).collect();
    digits.get(2..12).unwrap_or_default().to_string()
}

async fn send(shared: &Shared, account: &Account, url: &str, form: &[(String, String)]) {
    let signature = sign(&account.auth_token, url, form);
    let hook = Webhook {
        url: url.to_owned(),
        headers: webhook_headers(signature),
        body: encode_form(form).into_bytes(),
    };
    deliver(shared, super::SIMULATOR.name, hook).await;
}
