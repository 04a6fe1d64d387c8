//! Unit tests. SendBlue's tests run against the vendor's published example payloads,
//! copied verbatim into `tests/fixtures/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod address;
mod channel;
mod sendblue_send;
mod sendblue_webhook;
mod twilio_send;
mod twilio_signature;
mod twilio_webhook;
mod unipile_send;
mod unipile_webhook;
mod verify;
mod whatsapp_responses;
mod whatsapp_send;
mod whatsapp_signature;
mod whatsapp_webhook;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use outbound::ApiResponse;

use crate::{Credentials, OutboundMessage, WebhookRequest};

pub const SEND_REQUEST: &str =
    include_str!("../../tests/fixtures/sendblue-send-message-request.json");
pub const SEND_RESPONSE: &str =
    include_str!("../../tests/fixtures/sendblue-send-message-response.json");
pub const GROUP_RESPONSE: &str =
    include_str!("../../tests/fixtures/sendblue-group-message-response.json");
pub const STATUS_DELIVERED: &str =
    include_str!("../../tests/fixtures/sendblue-status-callback-delivered.json");
pub const RECEIVE: &str = include_str!("../../tests/fixtures/sendblue-receive-webhook.json");
pub const RECEIVE_LEGACY: &str =
    include_str!("../../tests/fixtures/sendblue-receive-webhook-legacy.json");
pub const SECRET_CONFIG: &str =
    include_str!("../../tests/fixtures/sendblue-webhook-secret-config.json");

pub const SIGNING_SECRET: &str = "your-secret";
pub const WEBHOOK_URL: &str = "https://switchboard.example/webhooks/sendblue/ch_1";

pub fn credentials() -> Credentials {
    Credentials::new()
        .with("api_key_id", "key-id-123")
        .with("api_secret_key", "secret-key-456")
        .with("signing_secret", SIGNING_SECRET)
}

pub fn message() -> OutboundMessage {
    OutboundMessage {
        to: "+19998887777".into(),
        from_line: "+16468528190".into(),
        body: "Hello world!".into(),
        media_urls: vec![],
        status_callback: WEBHOOK_URL.into(),
        reference: "msg_01".into(),
        ..Default::default()
    }
}

pub fn response(status: u16, headers: &[(&'static str, &str)], body: &str) -> ApiResponse {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(*k, v.parse().unwrap());
    }
    ApiResponse {
        status: StatusCode::from_u16(status).unwrap(),
        headers: map,
        body: Bytes::from(body.to_string()),
    }
}

pub fn webhook(url: &str, headers: &[(&'static str, &str)], body: &str) -> WebhookRequest {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(*k, v.parse().unwrap());
    }
    WebhookRequest {
        method: Method::POST,
        url: url.to_string(),
        headers: map,
        body: Bytes::from(body.to_string()),
    }
}

/// A fixture with some fields replaced, for the variants the vendor did not publish.
pub fn patched(fixture: &str, changes: serde_json::Value) -> String {
    let mut value: serde_json::Value = serde_json::from_str(fixture).unwrap();
    for (k, v) in changes.as_object().unwrap() {
        value[k] = v.clone();
    }
    value.to_string()
}
