//! A SendBlue conversation through the public API only, as the worker and the server use
//! it: look the channel up, build a send, read the answer, then receive the provider's
//! status callback (on the URL we gave it) and a reply from the contact.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use channels::{for_provider, Credentials, OutboundMessage, WebhookEvent, WebhookRequest};
use domain::{MessageStatus, Provider};
use http::{HeaderMap, Method, StatusCode};
use outbound::ApiResponse;

const SEND_RESPONSE: &str = include_str!("fixtures/sendblue-send-message-response.json");
const STATUS_DELIVERED: &str = include_str!("fixtures/sendblue-status-callback-delivered.json");
const RECEIVE: &str = include_str!("fixtures/sendblue-receive-webhook.json");

fn webhook(url: &str, headers: HeaderMap, body: &str) -> WebhookRequest {
    WebhookRequest {
        method: Method::POST,
        url: url.to_string(),
        headers,
        body: Bytes::from(body.to_string()),
    }
}

#[test]
fn send_then_status_then_reply() {
    let channel = for_provider(Provider::Sendblue).unwrap();
    let credentials: Credentials = [
        ("api_key_id", "id"),
        ("api_secret_key", "key"),
        ("signing_secret", "shh"),
    ]
    .into_iter()
    .collect();
    channel.validate_credentials(&credentials).unwrap();

    let webhook_url = "https://switchboard.example/webhooks/sendblue/ch_1";
    let request = channel
        .build_send(
            &credentials,
            "http://127.0.0.1:1/sendblue",
            &OutboundMessage {
                to: "+19998887777".into(),
                from_line: "+16468528190".into(),
                body: "Hello world!".into(),
                status_callback: webhook_url.into(),
                reference: "msg_1".into(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(request.url, "http://127.0.0.1:1/sendblue/api/send-message");

    let accepted = channel
        .parse_send(&ApiResponse {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from(SEND_RESPONSE),
        })
        .unwrap();
    assert_eq!(accepted.status, MessageStatus::Sent);

    // SendBlue posts the status to the status_callback URL we gave it, header or not.
    let sent: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    let callback_url = sent["status_callback"].as_str().unwrap();
    let events = channel
        .receive_webhook(
            &credentials,
            &webhook(callback_url, HeaderMap::new(), STATUS_DELIVERED),
        )
        .unwrap();
    let [WebhookEvent::Status(report)] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(
        MessageStatus::Sent.advance(report.status),
        Some(MessageStatus::Delivered)
    );

    // The contact replies through the receive webhook, which carries the secret header.
    let mut headers = HeaderMap::new();
    headers.insert("sb-signing-secret", "shh".parse().unwrap());
    let events = channel
        .receive_webhook(&credentials, &webhook(webhook_url, headers, RECEIVE))
        .unwrap();
    let [WebhookEvent::Inbound(reply)] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(reply.from, "+19998887777");
    assert_eq!(
        events[0].dedupe_key().unwrap(),
        format!("inbound:{}", reply.provider_message_id)
    );
}
