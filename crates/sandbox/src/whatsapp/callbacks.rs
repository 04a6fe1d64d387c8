//! Status webhooks after a send, posted to the business number's webhook URL in Meta's
//! envelope and signed with the app secret.
//!
//! A message that reaches the contact goes `sent`, `delivered`, `read`; `conversation` and
//! `pricing` ride on `sent` (as the status syntax says). A free-form message outside the
//! 24-hour window gets a single `failed` with error 131047. `biz_opaque_callback_data` is
//! echoed when the send carried it. A `reorder` fault sends them in reverse; `duplicate`
//! sends each twice.

use serde_json::{json, Value};

use super::{envelope, graph_id, sign, unix_now, webhook_headers, Account};
use crate::shared::{lock, Shared};
use crate::webhook::{deliver, pause, Webhook};

/// What becomes of a send.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Read,
    OutsideWindow,
}

impl Outcome {
    fn statuses(self) -> &'static [&'static str] {
        match self {
            Outcome::Read => &["sent", "delivered", "read"],
            Outcome::OutsideWindow => &["failed"],
        }
    }
}

pub(crate) const OUTSIDE_WINDOW: u32 = 131_047;

pub(crate) fn spawn_statuses(
    shared: Shared,
    account: Account,
    message_id: String,
    contact: String,
    opaque: Option<String>,
    outcome: Outcome,
) {
    tokio::spawn(async move {
        let name = super::SIMULATOR.name;
        let url = lock(&shared.whatsapp).webhooks.get(&account.line).cloned();
        let reorder = url.as_deref().is_some_and(|u| {
            let path = url::Url::parse(u)
                .map(|u| u.path().to_owned())
                .unwrap_or_default();
            shared.faults.outgoing(name, &path).reorder
        });
        let conversation = graph_id();
        let mut bodies = Vec::new();
        for status in outcome.statuses() {
            if !pause(&shared, shared.options.whatsapp_callback_delay).await {
                return;
            }
            if let Some(stored) = lock(&shared.whatsapp).messages.get_mut(&message_id) {
                stored["status"] = (*status).into();
            }
            let mut report = json!({
                "id": message_id,
                "status": status,
                "timestamp": unix_now().to_string(),
                "recipient_id": contact,
            });
            if let Some(opaque) = &opaque {
                report["biz_opaque_callback_data"] = opaque.clone().into();
            }
            if *status == "sent" {
                report["conversation"] = json!({
                    "id": conversation,
                    "expiration_timestamp": (unix_now() + super::SERVICE_WINDOW_SECS).to_string(),
                    "origin": {"type": "service"},
                });
                report["pricing"] = json!({"billable": true, "pricing_model": "PMP", "type": "regular", "category": "service"});
            }
            if *status == "failed" {
                report["errors"] = json!([{
                    "code": OUTSIDE_WINDOW,
                    "title": "Re-engagement message",
                    "message": "Re-engagement message",
                    "error_data": {"details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
                    "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
                }]);
            }
            bodies.push(envelope(&account, json!({"statuses": [report]})));
            if !reorder {
                if let (Some(url), Some(body)) = (&url, bodies.pop()) {
                    send(&shared, &account, url, &body).await;
                }
            }
        }
        if let Some(url) = url.as_deref().filter(|_| reorder) {
            for body in bodies.iter().rev() {
                send(&shared, &account, url, body).await;
            }
        }
    });
}

/// Posts one signed webhook to `url`.
pub(crate) async fn send(
    shared: &Shared,
    account: &Account,
    url: &str,
    body: &Value,
) -> crate::webhook::Delivery {
    let bytes = body.to_string().into_bytes();
    let hook = Webhook {
        url: url.to_owned(),
        headers: webhook_headers(sign(&account.app_secret, &bytes)),
        body: bytes,
    };
    deliver(shared, super::SIMULATOR.name, hook).await
}
