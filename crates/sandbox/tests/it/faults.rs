//! Fault injection: every kind has an observable effect.

use std::time::{Duration, Instant};

use axum::http::Method;
use sandbox::SandboxOptions;
use serde_json::{json, Value};

use crate::{receiver, start, Harness};

const LINE: &str = "+15122164639";

async fn fault(h: &Harness, spec: Value) {
    let r = h
        .http
        .post(h.url("/_control/faults"))
        .json(&spec)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{spec}");
}

async fn ghl_token(h: &Harness) -> String {
    h.location(json!({"locationId": "F1"})).await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

const DUP: &str = "/contacts/search/duplicate?locationId=F1";

#[tokio::test]
async fn latency_status_and_expiry() {
    let h = start(SandboxOptions::default()).await;
    let token = ghl_token(&h).await;
    fault(&h, json!({"target": "ghl", "kind": "latency", "ms": 300})).await;
    let t = Instant::now();
    assert_eq!(
        h.ghl(Method::GET, DUP, &token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(t.elapsed() >= Duration::from_millis(300));
    h.http
        .delete(h.url("/_control/faults"))
        .send()
        .await
        .unwrap();
    // A status fault limited to a path prefix, for a while.
    fault(&h, json!({"target": "ghl", "path_prefix": "/ghl/conversations", "kind": "status", "code": 502, "duration_ms": 300})).await;
    assert_eq!(
        h.get_json("/_control/faults")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = h
        .ghl(Method::GET, "/conversations/search?locationId=F1", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(r.json::<Value>().await.unwrap()["statusCode"], 502);
    assert_eq!(
        h.ghl(Method::GET, DUP, &token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        h.ghl(Method::GET, "/conversations/search?locationId=F1", &token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Probability 0 never fires; bad specs are refused.
    fault(
        &h,
        json!({"target": "ghl", "kind": "status", "code": 500, "probability": 0.0}),
    )
    .await;
    assert_eq!(
        h.ghl(Method::GET, DUP, &token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for bad in [
        json!({"target": "mars", "kind": "outage"}),
        json!({"target": "ghl", "kind": "status", "code": 200}),
        json!({"target": "ghl", "kind": "explode"}),
        json!({"target": "webhooks", "kind": "status", "code": 500}),
    ] {
        assert_eq!(
            h.http
                .post(h.url("/_control/faults"))
                .json(&bad)
                .send()
                .await
                .unwrap()
                .status(),
            400,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn rate_limit_and_outage() {
    let h = start(SandboxOptions::default()).await;
    let token = ghl_token(&h).await;
    fault(
        &h,
        json!({"target": "ghl", "kind": "rate_limit", "retry_after_secs": 7}),
    )
    .await;
    let r = h.ghl(Method::GET, DUP, &token).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    h.sandbox.clear_faults();
    fault(&h, json!({"target": "sendblue", "kind": "outage"})).await;
    let r = h
        .http
        .post(h.url("/sendblue/api/send-message"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["connection"], "close");
    // Other simulators are unaffected.
    assert_eq!(
        h.ghl(Method::GET, DUP, &token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn timeout_holds_the_request_until_shutdown() {
    let h = start(SandboxOptions::default()).await;
    let token = ghl_token(&h).await;
    fault(&h, json!({"target": "ghl", "kind": "timeout"})).await;
    let quick = h
        .ghl(Method::GET, DUP, &token)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(quick.unwrap_err().is_timeout());
    // A patient client is released by shutdown with a 504.
    let pending = tokio::spawn(h.ghl(Method::GET, DUP, &token).send());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = Instant::now();
    h.sandbox.shutdown();
    let r = pending.await.unwrap().unwrap();
    assert_eq!(r.status(), 504);
    assert!(t.elapsed() < Duration::from_secs(5));
}

async fn sendblue_account(h: &Harness) {
    h.control(
        "/sendblue/accounts",
        json!({"apiKeyId": "k", "apiSecretKey": "s", "lines": [LINE]}),
    )
    .await;
}

#[tokio::test]
async fn duplicate_webhooks_and_dropped_webhooks() {
    let mut gateway = receiver().await;
    let h = start(SandboxOptions {
        gateway_base_url: Some(gateway.base.clone()),
        ..SandboxOptions::default()
    })
    .await;
    sendblue_account(&h).await;
    fault(&h, json!({"target": "webhooks", "kind": "duplicate"})).await;
    let r = h
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": "+19998887777", "content": "hi", "channelId": "C"}),
        )
        .await;
    assert_eq!(r["delivery"]["copies"], 2);
    let first = gateway.next().await.json();
    let second = gateway.next().await.json();
    assert_eq!(first, second);
    h.sandbox.clear_faults();
    fault(&h, json!({"target": "webhooks", "kind": "outage"})).await;
    let r = h
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": "+19998887777", "content": "lost", "channelId": "C"}),
        )
        .await;
    assert_eq!(r["delivery"]["dropped"], true);
    assert!(r["gatewayStatus"].is_null());
    assert!(gateway.quiet_for(Duration::from_millis(200)).await);
    // Only the two copies actually sent are recorded as outgoing webhooks.
    assert_eq!(h.sandbox.requests("webhooks").len(), 2);
    // Latency on webhooks delays delivery.
    h.sandbox.clear_faults();
    fault(
        &h,
        json!({"target": "webhooks", "kind": "latency", "ms": 250}),
    )
    .await;
    let t = Instant::now();
    h.control(
        "/sendblue/inbound",
        json!({"line": LINE, "from": "+19998887777", "content": "late", "channelId": "C"}),
    )
    .await;
    assert!(t.elapsed() >= Duration::from_millis(250));
    assert_eq!(gateway.next().await.json()["content"], "late");
}

#[tokio::test]
async fn reordered_status_callbacks() {
    let mut gateway = receiver().await;
    let h = start(SandboxOptions {
        sendblue_callback_delay: Duration::from_millis(20),
        ..SandboxOptions::default()
    })
    .await;
    sendblue_account(&h).await;
    fault(&h, json!({"target": "sendblue", "kind": "reorder"})).await;
    let r = h.http.post(h.url("/sendblue/api/send-message"))
        .header("sb-api-key-id", "k").header("sb-api-secret-key", "s")
        .json(&json!({"number": "+19998887777", "from_number": LINE, "content": "x", "status_callback": format!("{}/cb", gateway.base)}))
        .send().await.unwrap();
    assert_eq!(r.status(), 200);
    let first = gateway.next().await.json();
    let second = gateway.next().await.json();
    assert_eq!(first["status"], "DELIVERED");
    assert_eq!(second["status"], "SENT");
    // No secret configured: no header.
    let list = h.sandbox.requests("webhooks");
    assert!(list
        .iter()
        .all(|r| r.headers.get("sb-signing-secret").is_none()));
}
