//! WhatsApp Cloud API simulator: bearer auth, Meta's field validation and error bodies, the
//! send answer, signed status webhooks (sent, delivered, read), the 24-hour window (a
//! free-form send to a silent contact fails by webhook with 131047, a template goes),
//! inbound injection, faults (media: `whatsapp_media.rs`). Every webhook is read with the
//! gateway's own verifier and parser (`channels::WhatsApp`).

use std::time::Duration;

use axum::http::{HeaderMap, Method};
use channels::{Channel, Credentials, WebhookEvent, WebhookRequest};
use domain::MessageStatus;
use sandbox::SandboxOptions;
use serde_json::{json, Value};

use crate::{receiver, start, Captured, Harness, Receiver};

pub const LINE: &str = "+15550783881";
pub const PHONE_ID: &str = "106540352242922";
pub const TOKEN: &str = "EAAG-sandbox-token";
pub const SECRET: &str = "sandbox-app-secret";
pub const CONTACT: &str = "+16505551234";

fn fast() -> SandboxOptions {
    SandboxOptions {
        whatsapp_callback_delay: Duration::from_millis(20),
        ..SandboxOptions::default()
    }
}

pub fn credentials() -> Credentials {
    Credentials::new()
        .with("phone_number_id", PHONE_ID)
        .with("access_token", TOKEN)
        .with("app_secret", SECRET)
        .with("verify_token", "unused")
}

/// A sandbox with the number registered and its webhooks captured.
pub async fn setup() -> (Harness, Receiver) {
    let h = start(fast()).await;
    let gw = receiver().await;
    h.control(
        "/whatsapp/accounts",
        json!({"line": LINE, "phoneNumberId": PHONE_ID, "accessToken": TOKEN, "appSecret": SECRET, "wabaId": "102290129340398"}),
    )
    .await;
    h.control(
        "/whatsapp/webhooks",
        json!({"line": LINE, "url": format!("{}/webhooks/whatsapp/ch_1", gw.base)}),
    )
    .await;
    (h, gw)
}

fn post(h: &Harness, path: &str, token: &str, body: &Value) -> reqwest::RequestBuilder {
    h.http
        .post(h.url(&format!("/whatsapp{path}")))
        .bearer_auth(token)
        .json(body)
}

fn text_to(to: &str, text: &str) -> Value {
    json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
        "text": {"preview_url": false, "body": text}, "biz_opaque_callback_data": "msg_01"})
}

async fn send(h: &Harness, body: &Value) -> (u16, Value) {
    let r = post(h, &format!("/v21.0/{PHONE_ID}/messages"), TOKEN, body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// The gateway's reading of a captured webhook (signature checked).
pub fn as_gateway_sees(hook: &Captured) -> Vec<WebhookEvent> {
    let mut headers = HeaderMap::new();
    for (k, v) in &hook.headers {
        headers.insert(k.clone(), v.clone());
    }
    let request = WebhookRequest {
        method: Method::POST,
        url: "http://gateway.example/webhooks/whatsapp/ch_1".into(),
        headers,
        body: hook.body.clone(),
    };
    channels::WhatsApp
        .receive_webhook(&credentials(), &request)
        .unwrap()
}

fn status_of(events: &[WebhookEvent]) -> (String, MessageStatus, Option<String>) {
    match events {
        [WebhookEvent::Status(s)] => (s.provider_message_id.clone(), s.status, s.error.clone()),
        other => panic!("{other:?}"),
    }
}

pub async fn contact_writes(h: &Harness, extra: Value) -> Value {
    let mut body = json!({"line": LINE, "from": CONTACT, "body": "Does it come in another color?"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    h.control("/whatsapp/inbound", body).await
}

#[tokio::test]
async fn bearer_and_number_are_checked_with_metas_errors() {
    let (h, _gw) = setup().await;
    let body = text_to(CONTACT, "hi");
    let r = post(&h, &format!("/v21.0/{PHONE_ID}/messages"), "wrong", &body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let error: Value = r.json().await.unwrap();
    assert_eq!(error["error"]["code"], 190);
    assert_eq!(error["error"]["type"], "OAuthException");
    assert!(error["error"]["fbtrace_id"].is_string());
    let r = h
        .http
        .post(h.url(&format!("/whatsapp/v21.0/{PHONE_ID}/messages")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = post(&h, "/v21.0/999/messages", TOKEN, &body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], 100);
    // One app token may serve several numbers of the app.
    h.control(
        "/whatsapp/accounts",
        json!({"line": "+15550000002", "phoneNumberId": "200000000000002", "accessToken": TOKEN, "appSecret": SECRET}),
    )
    .await;
    let r = post(&h, "/v21.0/200000000000002/messages", TOKEN, &body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = post(&h, &format!("/latest/{PHONE_ID}/messages"), TOKEN, &body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn fields_are_validated_as_meta_does() {
    let (h, _gw) = setup().await;
    let base = text_to(CONTACT, "hi");
    let with = |changes: Value| {
        let mut b = base.clone();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = v.clone();
            }
        }
        b
    };
    let cases = [
        (
            with(json!({"messaging_product": null})),
            "messaging_product",
        ),
        (
            with(json!({"messaging_product": "sms"})),
            "messaging_product",
        ),
        (with(json!({"to": null})), "to"),
        (with(json!({"text": null})), "text"),
        (with(json!({"text": {"body": "x".repeat(4097)}})), "4096"),
        (with(json!({"type": "fax"})), "type"),
        (
            with(json!({"type": "image", "image": {"caption": "no link"}})),
            "image",
        ),
        (
            with(json!({"type": "image", "image": {"id": "1", "link": "https://x.example/a.png"}})),
            "image",
        ),
        (
            with(
                json!({"type": "image", "image": {"link": "https://x.example/a.png", "caption": "c".repeat(1025)}}),
            ),
            "1024",
        ),
        (
            with(
                json!({"type": "audio", "audio": {"link": "https://x.example/a.mp3", "caption": "no"}}),
            ),
            "caption",
        ),
        (
            with(json!({"type": "template", "template": {"name": "hello_world"}})),
            "language",
        ),
    ];
    for (body, needle) in cases {
        let (status, answer) = send(&h, &body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["error"]["code"], 100, "{body}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{needle}: {message}");
    }
    let (status, answer) = send(&h, &with(json!({"to": "not-a-number"}))).await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["code"], 131009);
    let r = h
        .http
        .post(h.url(&format!("/whatsapp/v21.0/{PHONE_ID}/messages")))
        .bearer_auth(TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Nothing refused was stored.
    assert_eq!(h.get_json("/_control/whatsapp/messages").await, json!([]));
}

#[tokio::test]
async fn inside_the_window_a_send_goes_sent_delivered_read_signed() {
    let (h, mut gw) = setup().await;
    let answer = contact_writes(&h, json!({"name": "Sheena Nelson"})).await;
    assert_eq!(answer["gatewayStatus"], 200);
    let hook = gw.next().await;
    assert_eq!(hook.path, "/webhooks/whatsapp/ch_1");
    let payload = hook.json();
    assert_eq!(payload["object"], "whatsapp_business_account");
    assert_eq!(payload["entry"][0]["id"], "102290129340398");
    let value = &payload["entry"][0]["changes"][0]["value"];
    assert_eq!(
        value["metadata"],
        json!({"display_phone_number": "15550783881", "phone_number_id": PHONE_ID})
    );
    assert_eq!(
        value["contacts"][0],
        json!({"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"})
    );
    match &as_gateway_sees(&hook)[..] {
        [WebhookEvent::Inbound(m)] => {
            assert_eq!((m.from.as_str(), m.to.as_str()), (CONTACT, LINE));
            assert_eq!(m.body, "Does it come in another color?");
            assert_eq!(m.provider_message_id, answer["messageId"].as_str().unwrap());
        }
        other => panic!("{other:?}"),
    }

    let (status, sent) = send(&h, &text_to(CONTACT, "Yes, in blue.")).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["messaging_product"], "whatsapp");
    assert_eq!(
        sent["contacts"],
        json!([{"input": CONTACT, "wa_id": "16505551234"}])
    );
    let wamid = sent["messages"][0]["id"].as_str().unwrap().to_string();
    assert!(wamid.starts_with("wamid."), "{wamid}");
    let mut seen = Vec::new();
    for _ in 0..3 {
        let hook = gw.next().await;
        let report = &hook.json()["entry"][0]["changes"][0]["value"]["statuses"][0];
        assert_eq!(report["biz_opaque_callback_data"], "msg_01");
        assert_eq!(report["recipient_id"], "16505551234");
        let (id, status, error) = status_of(&as_gateway_sees(&hook));
        assert_eq!((id.as_str(), error), (wamid.as_str(), None));
        seen.push(status);
    }
    assert_eq!(
        seen,
        [
            MessageStatus::Sent,
            MessageStatus::Delivered,
            MessageStatus::Read
        ]
    );
    let messages = h.get_json("/_control/whatsapp/messages").await;
    assert_eq!(messages[1]["id"], wamid.as_str());
    assert_eq!(messages[1]["status"], "read");
    assert_eq!(messages[1]["text"]["body"], "Yes, in blue.");
}

#[tokio::test]
async fn outside_the_window_free_form_fails_with_131047_and_templates_go() {
    let (h, mut gw) = setup().await;
    // Never wrote: no window.
    let (status, sent) = send(&h, &text_to(CONTACT, "Hello?")).await;
    assert_eq!(status, 200, "accepted, then failed by webhook: {sent}");
    let wamid = sent["messages"][0]["id"].as_str().unwrap().to_string();
    let hook = gw.next().await;
    let report = &hook.json()["entry"][0]["changes"][0]["value"]["statuses"][0];
    assert_eq!(report["errors"][0]["code"], 131047);
    let (id, status, error) = status_of(&as_gateway_sees(&hook));
    assert_eq!((id, status), (wamid, MessageStatus::Failed));
    assert!(error.unwrap().contains("24-hour"));
    assert!(
        gw.quiet_for(Duration::from_millis(150)).await,
        "only one status"
    );

    // Wrote 25 hours ago: the window has closed.
    let day_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 25 * 3600;
    contact_writes(&h, json!({"timestamp": day_ago})).await;
    let _inbound = gw.next().await;
    send(&h, &text_to(CONTACT, "Still there?")).await;
    let (_, status, _) = status_of(&as_gateway_sees(&gw.next().await));
    assert_eq!(status, MessageStatus::Failed);

    // A template always goes.
    let template = json!({"messaging_product": "whatsapp", "to": CONTACT, "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US", "policy": "deterministic"}}});
    let (status, _) = send(&h, &template).await;
    assert_eq!(status, 200);
    let (_, first, _) = status_of(&as_gateway_sees(&gw.next().await));
    assert_eq!(first, MessageStatus::Sent);
}

#[tokio::test]
async fn faults_use_metas_codes_and_reorder_statuses() {
    let (h, mut gw) = setup().await;
    h.control(
        "/faults",
        json!({"target": "whatsapp", "kind": "rate_limit", "retry_after_secs": 3}),
    )
    .await;
    let (status, answer) = send(&h, &text_to(CONTACT, "x")).await;
    assert_eq!(status, 429);
    assert_eq!(answer["error"]["code"], 130429);
    h.http
        .delete(h.url("/_control/faults"))
        .send()
        .await
        .unwrap();
    h.control(
        "/faults",
        json!({"target": "whatsapp", "kind": "status", "code": 503}),
    )
    .await;
    let (status, answer) = send(&h, &text_to(CONTACT, "x")).await;
    assert_eq!(status, 503);
    assert_eq!(answer["error"]["code"], 131000);
    h.http
        .delete(h.url("/_control/faults"))
        .send()
        .await
        .unwrap();

    contact_writes(&h, json!({})).await;
    let _inbound = gw.next().await;
    h.control("/faults", json!({"target": "whatsapp", "kind": "reorder"}))
        .await;
    send(&h, &text_to(CONTACT, "backwards")).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(status_of(&as_gateway_sees(&gw.next().await)).1);
    }
    assert_eq!(
        seen,
        [
            MessageStatus::Read,
            MessageStatus::Delivered,
            MessageStatus::Sent
        ]
    );
    let recorded = h.get_json("/_control/whatsapp/requests").await;
    let sends: Vec<&Value> = recorded
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().unwrap().ends_with("/messages"))
        .collect();
    assert_eq!(sends.len(), 3, "every send is recorded, faulted or not");
    assert_eq!(
        sends[2]["headers"]["authorization"],
        format!("Bearer {TOKEN}")
    );
}
