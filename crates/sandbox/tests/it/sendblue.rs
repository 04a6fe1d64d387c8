//! SendBlue simulator: auth, send + status callbacks, validation, opt-out, inbound injection.

use std::time::Duration;

use sandbox::SandboxOptions;
use serde_json::{json, Value};

use crate::{keys, receiver, start, Harness};

const LINE: &str = "+15122164639";

fn fast() -> SandboxOptions {
    SandboxOptions {
        sendblue_callback_delay: Duration::from_millis(20),
        ..SandboxOptions::default()
    }
}

async fn account(h: &Harness) {
    h.control("/sendblue/accounts", json!({"apiKeyId": "key", "apiSecretKey": "secret", "signingSecret": "whsec", "lines": [LINE]})).await;
}

fn send(h: &Harness, body: Value) -> reqwest::RequestBuilder {
    h.http
        .post(h.url("/sendblue/api/send-message"))
        .header("sb-api-key-id", "key")
        .header("sb-api-secret-key", "secret")
        .json(&body)
}

#[tokio::test]
async fn wrong_credentials_are_401() {
    let h = start(fast()).await;
    account(&h).await;
    let r = h
        .http
        .post(h.url("/sendblue/api/send-message"))
        .header("sb-api-key-id", "key")
        .header("sb-api-secret-key", "nope")
        .json(&json!({"number": "+19998887777", "from_number": LINE, "content": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ERROR");
    let r = h
        .http
        .get(h.url("/sendblue/api/status?handle=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn send_is_queued_then_status_callbacks_arrive_with_the_secret() {
    let mut gateway = receiver().await;
    let h = start(fast()).await;
    account(&h).await;
    let callback = format!("{}/webhooks/sendblue/CH1", gateway.base);
    let r = send(&h, json!({"number": "+19998887777", "from_number": LINE, "content": "Hello world!", "status_callback": callback}))
        .send().await.unwrap();
    assert_eq!(r.status(), 200);
    let queued: Value = r.json().await.unwrap();
    let example: Value =
        serde_json::from_str(include_str!("fixtures/sendblue-send-message-response.json")).unwrap();
    let have = keys(&queued);
    assert!(
        keys(&example).iter().all(|k| have.contains(k)),
        "missing fields: {have:?}"
    );
    assert_eq!(queued["status"], "QUEUED");
    assert_eq!(queued["is_outbound"], true);
    assert_eq!(queued["from_number"], LINE);
    assert_eq!(queued["number"], "+19998887777");
    let handle = queued["message_handle"].as_str().unwrap().to_owned();
    for expected in ["SENT", "DELIVERED"] {
        let hook = gateway.next().await;
        assert_eq!(hook.path, "/webhooks/sendblue/CH1");
        assert_eq!(hook.headers["sb-signing-secret"], "whsec");
        let body = hook.json();
        assert_eq!(body["status"], expected);
        assert_eq!(body["is_outbound"], true);
        assert_eq!(body["message_handle"], handle.as_str());
        assert_eq!(body["service"], "iMessage");
    }
    let status: Value = h
        .http
        .get(h.url(&format!("/sendblue/api/status?handle={handle}")))
        .header("sb-api-key-id", "key")
        .header("sb-api-secret-key", "secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "DELIVERED");
}

#[tokio::test]
async fn send_validation_opt_out_and_sms_downgrade() {
    let mut gateway = receiver().await;
    let h = start(fast()).await;
    account(&h).await;
    let bad = [
        json!({"number": "+19998887777", "from_number": "+15550000000", "content": "x"}),
        json!({"number": "+19998887777", "content": "x"}),
        json!({"number": "9998887777", "from_number": LINE, "content": "x"}),
        json!({"number": "+19998887777", "from_number": LINE}),
        json!({"number": "+19998887777", "from_number": LINE, "content": "x", "send_style": "wiggle"}),
        json!({"number": "+19998887777", "from_number": LINE, "content": 7}),
    ];
    for body in bad {
        let r = send(&h, body.clone()).send().await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["status"], "ERROR");
        assert_eq!(err["error_code"], 4000);
    }
    h.control(
        "/sendblue/recipients",
        json!({"number": "+19998880000", "optedOut": true}),
    )
    .await;
    let r = send(
        &h,
        json!({"number": "+19998880000", "from_number": LINE, "content": "x"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error_key"], "OPTED_OUT");
    assert_eq!(err["opted_out"], true);
    // A number without iMessage: downgraded to SMS, SENT only, never DELIVERED.
    h.control(
        "/sendblue/recipients",
        json!({"number": "+19998881111", "service": "SMS"}),
    )
    .await;
    let callback = format!("{}/cb", gateway.base);
    send(&h, json!({"number": "+19998881111", "from_number": LINE, "content": "x", "status_callback": callback})).send().await.unwrap();
    let sent = gateway.next().await.json();
    assert_eq!(sent["status"], "SENT");
    assert_eq!(sent["was_downgraded"], true);
    assert_eq!(sent["service"], "SMS");
    assert!(gateway.quiet_for(Duration::from_millis(200)).await);
    // A failing number: one ERROR callback.
    h.control(
        "/sendblue/recipients",
        json!({"number": "+19998882222", "fail": true}),
    )
    .await;
    send(&h, json!({"number": "+19998882222", "from_number": LINE, "content": "x", "status_callback": callback})).send().await.unwrap();
    let failed = gateway.next().await.json();
    assert_eq!(failed["status"], "ERROR");
    assert_eq!(failed["error_code"], 10001);
}

#[tokio::test]
async fn inbound_injection_posts_the_receive_webhook() {
    let mut gateway = receiver().await;
    let h = start(SandboxOptions {
        gateway_base_url: Some(gateway.base.clone()),
        ..fast()
    })
    .await;
    account(&h).await;
    // Default URL from the gateway and a channel id.
    let r = h
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": "+19998887777", "content": "Hello!", "channelId": "CH9"}),
        )
        .await;
    assert_eq!(r["gatewayStatus"], 200);
    let hook = gateway.next().await;
    assert_eq!(hook.path, "/webhooks/sendblue/CH9");
    assert_eq!(hook.headers["sb-signing-secret"], "whsec");
    let body = hook.json();
    let example: Value =
        serde_json::from_str(include_str!("fixtures/sendblue-receive-webhook.json")).unwrap();
    let have = keys(&body);
    assert!(
        keys(&example).iter().all(|k| have.contains(k)),
        "missing fields: {have:?}"
    );
    assert_eq!(body["is_outbound"], false);
    assert_eq!(body["status"], "RECEIVED");
    assert_eq!(body["from_number"], "+19998887777");
    assert_eq!(body["number"], "+19998887777");
    assert_eq!(body["to_number"], LINE);
    assert_eq!(body["content"], "Hello!");
    assert_eq!(body["message_handle"], r["messageHandle"]);
    // A URL registered for the line wins; STOP opts the contact out of later sends.
    h.control(
        "/sendblue/webhooks",
        json!({"line": LINE, "url": format!("{}/registered", gateway.base)}),
    )
    .await;
    h.control("/sendblue/inbound", json!({"line": LINE, "from": "+19998887777", "content": "STOP", "media_url": "https://cdn.example/x.png"})).await;
    let hook = gateway.next().await;
    assert_eq!(hook.path, "/registered");
    assert_eq!(hook.json()["opted_out"], true);
    assert_eq!(hook.json()["media_url"], "https://cdn.example/x.png");
    let r = send(
        &h,
        json!({"number": "+19998887777", "from_number": LINE, "content": "x"}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["error_key"], "OPTED_OUT");
    // Unknown line.
    let r = h
        .http
        .post(h.url("/_control/sendblue/inbound"))
        .json(&json!({"line": "+15550000001", "from": "+19998887777", "content": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        h.get_json("/_control/sendblue/messages")
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
