//! Status callbacks after a send: the message object, `is_outbound: true`, POSTed to the
//! message's `status_callback` each time its status changes, with small pauses between.
//!
//! The sequence follows what SendBlue documents: an iMessage goes SENT then DELIVERED; a message
//! downgraded to SMS only reaches SENT ("only DELIVERED, iMessage only, confirms delivery"); a
//! failure is one ERROR. The `sb-signing-secret` header is sent when the account has a secret
//! (whether SendBlue sends it on status callbacks is UNCONFIRMED; a gateway must accept both).

use serde_json::Value;

use crate::clock;
use crate::shared::{lock, Shared};
use crate::webhook::{deliver, pause, Webhook};

/// How the simulated network treats a send.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    IMessage,
    Sms,
    Fail,
}

impl Outcome {
    fn statuses(self) -> &'static [&'static str] {
        match self {
            Outcome::IMessage => &["SENT", "DELIVERED"],
            Outcome::Sms => &["SENT"],
            Outcome::Fail => &["ERROR"],
        }
    }
}

/// Advance the stored message through its statuses and post a callback at each step (when a URL
/// was given). Runs in the background; stops early at shutdown.
pub(crate) fn spawn_callbacks(
    shared: Shared,
    handle: String,
    url: Option<String>,
    secret: Option<String>,
    outcome: Outcome,
) {
    tokio::spawn(async move {
        let name = super::SIMULATOR.name;
        // One roll per message decides whether its callbacks arrive in reverse order.
        let reorder = url.as_deref().is_some_and(|u| {
            let path = url::Url::parse(u)
                .map(|u| u.path().to_owned())
                .unwrap_or_default();
            shared.faults.outgoing(name, &path).reorder
        });
        let mut bodies = Vec::new();
        // The stored message advances in true order; only delivery may be reordered.
        for status in outcome.statuses() {
            if !pause(&shared, shared.options.sendblue_callback_delay).await {
                return;
            }
            if let Some(body) = advance(&shared, &handle, status, outcome) {
                bodies.push(body);
            }
            if !reorder {
                if let (Some(url), Some(body)) = (&url, bodies.pop()) {
                    send(&shared, url, secret.as_deref(), &body).await;
                }
            }
        }
        if let Some(url) = url.as_deref().filter(|_| reorder) {
            for body in bodies.iter().rev() {
                send(&shared, url, secret.as_deref(), body).await;
            }
        }
    });
}

/// Set the stored message's status and return the callback body for it.
fn advance(shared: &Shared, handle: &str, status: &str, outcome: Outcome) -> Option<Value> {
    let mut state = lock(&shared.sendblue);
    let message = state.messages.get_mut(handle)?;
    message["status"] = status.into();
    message["date_updated"] = clock::now_iso().into();
    match outcome {
        Outcome::IMessage => {
            message["was_downgraded"] = false.into();
            message["service"] = "iMessage".into();
        }
        Outcome::Sms => {
            message["was_downgraded"] = true.into();
            message["service"] = "SMS".into();
        }
        Outcome::Fail => {
            message["error_code"] = 10001.into();
            message["error_message"] = "Message failed to send".into();
        }
    }
    Some(message.clone())
}

async fn send(shared: &Shared, url: &str, secret: Option<&str>, body: &Value) {
    let raw = serde_json::to_vec(body).unwrap_or_default();
    let headers = secret
        .map(|s| vec![("sb-signing-secret", s.to_owned())])
        .unwrap_or_default();
    let hook = Webhook {
        url: url.to_owned(),
        headers,
        body: raw,
    };
    deliver(shared, super::SIMULATOR.name, hook).await;
}
