//! UniPile simulator: `X-API-KEY`, multipart sends built by the gateway's own channel
//! (`channels::UniPile`) and parsed for real, chats reused per attendee, attachment
//! downloads, UniPile's error shape, inbound and echo webhooks read by the gateway's own
//! parser, faults.

use std::time::Duration;

use axum::http::{HeaderMap, Method};
use bytes::Bytes;
use channels::{
    Channel, Credentials, MediaFile, OutboundMessage, SendAccepted, WebhookEvent, WebhookRequest,
};
use outbound::Failure;
use sandbox::SandboxOptions;
use serde_json::{json, Value};

use crate::{receiver, start, Captured, Harness};

const LINE: &str = "+33611111111";
const CONTACT: &str = "+33600000000";
const ACCOUNT: &str = "acc-wa-sim";
const KEY: &str = "unipile-sim-key";
const SECRET: &str = "unipile-hook-secret";

async fn account(h: &Harness) {
    h.control(
        "/unipile/accounts",
        json!({"accountId": ACCOUNT, "apiKey": KEY, "line": LINE, "webhookSecret": SECRET}),
    )
    .await;
}

fn credentials() -> Credentials {
    Credentials::new()
        .with("dsn", "unused.example:1")
        .with("api_key", KEY)
        .with("account_id", ACCOUNT)
        .with("webhook_secret", SECRET)
}

fn base(h: &Harness) -> String {
    channels::UniPile
        .api_base(&credentials(), Some(&h.url("/unipile")))
        .unwrap()
}

fn message(thread: Option<&str>) -> OutboundMessage {
    OutboundMessage {
        to: CONTACT.into(),
        from_line: LINE.into(),
        body: "Hello from the gateway".into(),
        thread: thread.map(str::to_string),
        ..Default::default()
    }
}

async fn send(h: &Harness, message: &OutboundMessage) -> Result<SendAccepted, Failure> {
    let request = channels::UniPile
        .build_send(&credentials(), &base(h), message)
        .unwrap();
    channels::UniPile.parse_send(&h.run(request).await)
}

/// What the gateway makes of a captured webhook.
fn as_gateway_sees(hook: &Captured) -> Vec<WebhookEvent> {
    let mut headers = HeaderMap::new();
    for (k, v) in &hook.headers {
        headers.insert(k.clone(), v.clone());
    }
    let request = WebhookRequest {
        method: Method::POST,
        url: format!("https://gateway.example{}", hook.path),
        headers,
        body: hook.body.clone(),
    };
    channels::UniPile
        .receive_webhook(&credentials(), &request)
        .unwrap()
}

#[tokio::test]
async fn the_api_key_is_required() {
    let h = start(SandboxOptions::default()).await;
    account(&h).await;
    for key in [None, Some("wrong")] {
        let mut request = h.http.post(h.url("/unipile/api/v1/chats"));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 401);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"], 401);
        assert_eq!(body["type"], "errors/missing_credentials");
    }
}

#[tokio::test]
async fn a_send_starts_a_chat_per_attendee_and_reuses_it() {
    let h = start(SandboxOptions::default()).await;
    account(&h).await;
    let first = send(&h, &message(None)).await.unwrap();
    let chat = first.thread.clone().expect("a started chat is named");
    assert!(!first.provider_message_id.is_empty());
    // Starting again with the same attendee lands in the same chat.
    let again = send(&h, &message(None)).await.unwrap();
    assert_eq!(again.thread.as_deref(), Some(chat.as_str()));
    assert_ne!(again.provider_message_id, first.provider_message_id);
    // Sending into the chat answers MessageSent, without a chat id.
    let into = send(&h, &message(Some(&chat))).await.unwrap();
    assert_eq!(into.thread, None);
    let messages = h.get_json("/_control/unipile/messages").await;
    let messages = messages.as_array().unwrap();
    assert_eq!(messages.len(), 3);
    assert!(messages.iter().all(|m| m["chat_id"] == chat.as_str()));
    assert!(messages.iter().all(|m| m["is_sender"] == true));
    assert_eq!(messages[2]["id"], into.provider_message_id.as_str());
    assert_eq!(messages[2]["text"], "Hello from the gateway");
    // The request was recorded as received.
    let recorded = h.sandbox.requests("unipile");
    assert_eq!(recorded.len(), 3);
    assert_eq!(
        recorded[2].path,
        format!("/unipile/api/v1/chats/{chat}/messages")
    );
    assert_eq!(recorded[2].headers["x-api-key"], KEY);
}

#[tokio::test]
async fn uploaded_files_are_stored_and_downloadable() {
    let h = start(SandboxOptions::default()).await;
    account(&h).await;
    let photo = Bytes::from_static(b"\x89PNG\r\n\x1a\n\x00binary--not-a-boundary");
    let sent = send(
        &h,
        &OutboundMessage {
            body: String::new(),
            files: vec![MediaFile {
                file_name: "chart \"q3\".png".into(),
                content_type: "image/png".into(),
                bytes: photo.clone(),
            }],
            ..message(None)
        },
    )
    .await
    .unwrap();
    let messages = h.get_json("/_control/unipile/messages").await;
    let attachment = &messages[0]["attachments"][0];
    assert_eq!(attachment["mimetype"], "image/png");
    assert_eq!(attachment["file_name"], "chart %22q3%22.png");
    let reference = format!(
        "unipile-attachment:{}/{}",
        sent.provider_message_id,
        attachment["id"].as_str().unwrap()
    );
    let download = channels::UniPile
        .media_request(&credentials(), &base(&h), &reference)
        .unwrap();
    let response = h.run(download).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.headers["content-type"], "image/png");
    assert_eq!(response.body, photo);
    // Another workspace's key cannot read it; an unknown attachment is 404.
    let other = channels::UniPile
        .media_request(
            &credentials().with("api_key", "other"),
            &base(&h),
            &reference,
        )
        .unwrap();
    assert_eq!(h.run(other).await.status, 401);
    let missing = channels::UniPile
        .media_request(&credentials(), &base(&h), "unipile-attachment:nope/nope")
        .unwrap();
    assert_eq!(h.run(missing).await.status, 404);
}

#[tokio::test]
async fn refusals_use_unipiles_problem_shape() {
    let h = start(SandboxOptions::default()).await;
    account(&h).await;
    // An unknown chat is a permanent failure for the gateway.
    let failure = send(&h, &message(Some("no-such-chat"))).await.unwrap_err();
    match failure {
        Failure::Permanent { detail } => {
            assert!(detail.contains("errors/resource_not_found"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    // A JSON body is not multipart.
    let r = h
        .http
        .post(h.url("/unipile/api/v1/chats"))
        .header("x-api-key", KEY)
        .json(&json!({"account_id": ACCOUNT, "attendees_ids": ["33600000000@s.whatsapp.net"], "text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], "errors/invalid_parameters");
    // Multipart with nothing to send, or an unknown account, or no attendee.
    let forms = [
        (
            channels::unipile::Form::new()
                .text("account_id", ACCOUNT)
                .text("attendees_ids", "33600000000@s.whatsapp.net"),
            400,
        ),
        (
            channels::unipile::Form::new()
                .text("account_id", "someone-else")
                .text("attendees_ids", "33600000000@s.whatsapp.net")
                .text("text", "hi"),
            404,
        ),
        (
            channels::unipile::Form::new()
                .text("account_id", ACCOUNT)
                .text("text", "hi"),
            400,
        ),
        (
            channels::unipile::Form::new()
                .text("account_id", ACCOUNT)
                .text("attendees_ids", "123@lid")
                .text("text", "hi"),
            422,
        ),
    ];
    for (form, status) in forms {
        let (content_type, body) = form.finish();
        let r = h
            .http
            .post(h.url("/unipile/api/v1/chats"))
            .header("x-api-key", KEY)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status);
        let problem: Value = r.json().await.unwrap();
        assert_eq!(problem["status"], status);
        assert!(problem["type"].as_str().unwrap().starts_with("errors/"));
    }
    assert_eq!(
        h.get_json("/_control/unipile/messages").await,
        json!([]),
        "nothing refused is stored"
    );
}

#[tokio::test]
async fn a_contact_writes_in_and_our_sends_echo_back() {
    let h = start(SandboxOptions::default()).await;
    account(&h).await;
    let mut gateway = receiver().await;
    let url = format!("{}/webhooks/unipile/ch_1", gateway.base);
    h.control("/unipile/webhooks", json!({"line": LINE, "url": url}))
        .await;
    let sent = h
        .control(
            "/unipile/inbound",
            json!({"line": LINE, "from": CONTACT, "body": "Hi there",
                   "attachments": [{"fileName": "a.jpg", "mimetype": "image/jpeg", "data": "/9j/AA=="}]}),
        )
        .await;
    assert_eq!(sent["gatewayStatus"], 200);
    let hook = gateway.next().await;
    assert_eq!(hook.path, "/webhooks/unipile/ch_1");
    assert_eq!(hook.headers["x-switchboard-secret"], SECRET);
    assert_eq!(hook.json()["event"], "message_received");
    let inbound = match &as_gateway_sees(&hook)[..] {
        [WebhookEvent::Inbound(m)] => m.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(inbound.from, CONTACT);
    assert_eq!(inbound.to, LINE);
    assert_eq!(inbound.body, "Hi there");
    assert_eq!(
        inbound.provider_message_id,
        sent["messageId"].as_str().unwrap()
    );
    let chat = inbound.thread.clone().unwrap();
    assert_eq!(chat, sent["chatId"].as_str().unwrap());
    // The contact's attachment downloads through the reference the gateway stored.
    let download = channels::UniPile
        .media_request(&credentials(), &base(&h), &inbound.media_urls[0])
        .unwrap();
    let file = h.run(download).await;
    assert_eq!(file.body.as_ref(), b"\xff\xd8\xff\x00");

    // Our reply into that chat (or a new chat with the same contact) comes back as an
    // echo, which the gateway ignores.
    let reply = send(&h, &message(None)).await.unwrap();
    assert_eq!(reply.thread.as_deref(), Some(chat.as_str()));
    let echo = gateway.next().await;
    assert_eq!(
        echo.json()["message_id"],
        reply.provider_message_id.as_str()
    );
    match &as_gateway_sees(&echo)[..] {
        [WebhookEvent::Ignored { reason }] => assert!(reason.contains("echo"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(gateway.quiet_for(Duration::from_millis(200)).await);
}

#[tokio::test]
async fn faults_reach_the_api_and_the_webhooks() {
    let h = start(SandboxOptions::default()).await;
    account(&h).await;
    h.control(
        "/faults",
        json!({"target": "unipile", "kind": "rate_limit", "retry_after_secs": 9}),
    )
    .await;
    match send(&h, &message(None)).await.unwrap_err() {
        Failure::RateLimited { after, detail } => {
            assert_eq!(after, Duration::from_secs(9));
            assert!(detail.contains("errors/too_many_requests"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    h.http
        .delete(h.url("/_control/faults"))
        .send()
        .await
        .unwrap();
    h.control(
        "/faults",
        json!({"target": "unipile", "kind": "status", "code": 504}),
    )
    .await;
    assert!(matches!(
        send(&h, &message(None)).await.unwrap_err(),
        Failure::Retry { .. }
    ));
    h.http
        .delete(h.url("/_control/faults"))
        .send()
        .await
        .unwrap();

    let mut gateway = receiver().await;
    h.control("/faults", json!({"target": "unipile", "kind": "duplicate"}))
        .await;
    let sent = h
        .control(
            "/unipile/inbound",
            json!({"line": LINE, "from": CONTACT, "body": "twice",
                   "url": format!("{}/webhooks/unipile/ch_1", gateway.base)}),
        )
        .await;
    assert_eq!(sent["delivery"]["copies"], 2);
    let (one, two) = (gateway.next().await, gateway.next().await);
    assert_eq!(one.body, two.body);
}

#[tokio::test]
async fn inbound_needs_an_account_and_a_destination() {
    let h = start(SandboxOptions::default()).await;
    account(&h).await;
    for (body, status) in [
        (
            json!({"line": "+15550000000", "from": CONTACT, "body": "x", "url": "http://127.0.0.1:1/x"}),
            404,
        ),
        (json!({"line": LINE, "from": CONTACT, "body": "x"}), 400),
        (
            json!({"line": LINE, "from": "33600000000", "body": "x", "url": "http://127.0.0.1:1/x"}),
            400,
        ),
        (
            json!({"line": LINE, "from": CONTACT, "url": "http://127.0.0.1:1/x"}),
            400,
        ),
    ] {
        let r = h
            .http
            .post(h.url("/_control/unipile/inbound"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{body}");
    }
}

#[tokio::test]
async fn a_send_into_a_chat_answers_the_published_shape() {
    let published: Value =
        serde_json::from_str(include_str!("fixtures/unipile-send-message-response.json")).unwrap();
    let h = start(SandboxOptions::default()).await;
    account(&h).await;
    let chat = send(&h, &message(None)).await.unwrap().thread.unwrap();
    let request = channels::UniPile
        .build_send(&credentials(), &base(&h), &message(Some(&chat)))
        .unwrap();
    let response = h.run(request).await;
    assert_eq!(response.status, 201);
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(crate::keys(&body), crate::keys(&published));
    assert_eq!(body["object"], published["object"]);
    assert!(body["message_id"].as_str().is_some_and(|id| id.len() == 22));
}
