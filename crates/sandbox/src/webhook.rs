//! Sending webhooks to the gateway, with the `webhooks` faults applied (latency, loss,
//! duplication).
//!
//! Every send is recorded under `webhooks` so a test can see what went out even when the gateway
//! was down. Each send has the client's timeout, so nothing here waits unboundedly.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use serde::Serialize;

use crate::faults::Outgoing;
use crate::record::RecordedRequest;
use crate::shared::Shared;

/// Recorder name (and fault target) for what the sandbox sends out.
pub(crate) const RECORD_NAME: &str = "webhooks";

/// One webhook to send: a JSON body POSTed to `url` with extra headers.
#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// What became of a webhook.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Delivery {
    /// The gateway's HTTP status (of the first copy, when duplicated).
    pub status: Option<u16>,
    /// Why no status: connection refused, timeout, bad URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Not sent: a `webhooks` outage fault swallowed it.
    pub dropped: bool,
    /// Copies sent (2 under a `duplicate` fault).
    pub copies: u8,
}

/// Roll the faults for this webhook and send it.
pub(crate) async fn deliver(shared: &Shared, simulator: &str, hook: Webhook) -> Delivery {
    let path = url::Url::parse(&hook.url)
        .map(|u| u.path().to_owned())
        .unwrap_or_default();
    let plan = shared.faults.outgoing(simulator, &path);
    deliver_with(shared, hook, plan).await
}

/// Send under an already rolled fault plan (used when one roll covers a sequence of callbacks).
pub(crate) async fn deliver_with(shared: &Shared, hook: Webhook, plan: Outgoing) -> Delivery {
    if !plan.latency.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(plan.latency) => {}
            () = shared.shutting_down() => {}
        }
    }
    if plan.drop {
        return Delivery {
            dropped: true,
            ..Delivery::default()
        };
    }
    if plan.duplicate {
        let (first, _second) = tokio::join!(send_one(shared, &hook), send_one(shared, &hook));
        Delivery { copies: 2, ..first }
    } else {
        send_one(shared, &hook).await
    }
}

async fn send_one(shared: &Shared, hook: &Webhook) -> Delivery {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in &hook.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
    shared.recorder.push(
        RECORD_NAME,
        RecordedRequest::new("POST", hook.url.clone(), &headers, &hook.body),
    );
    let valid = url::Url::parse(&hook.url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    let Some(url) = valid else {
        return Delivery {
            error: Some(format!("invalid webhook URL: {}", hook.url)),
            copies: 1,
            ..Delivery::default()
        };
    };
    let sent = shared
        .http
        .post(url)
        .headers(headers)
        .body(hook.body.clone())
        .send()
        .await;
    match sent {
        Ok(response) => Delivery {
            status: Some(response.status().as_u16()),
            copies: 1,
            ..Delivery::default()
        },
        Err(e) => {
            tracing::warn!(url = %hook.url, error = %e, "sandbox webhook not delivered");
            Delivery {
                error: Some(e.to_string()),
                copies: 1,
                ..Delivery::default()
            }
        }
    }
}

/// Sleep `delay` unless shutdown begins first; returns false when shutting down.
pub(crate) async fn pause(shared: &Shared, delay: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => !shared.is_shutting_down(),
        () = shared.shutting_down() => false,
    }
}
