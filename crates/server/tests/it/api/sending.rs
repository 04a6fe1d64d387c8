//! Sending from the API end to end: a gateway with workers and the SendBlue simulator.

use reqwest::header::AUTHORIZATION;
use serde_json::{json, Value};
use store::TenantScope;

use crate::bridge::{Bridge, LINE};

const KEY: &str = "sb_00000bridge1_secret";

/// An agency-wide API key on the bridge's tenant.
async fn api_key(bridge: &Bridge) -> String {
    let store = &bridge.test.store;
    let agency = store.agency(&bridge.location.agency_id).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    store
        .create_api_key(
            &mut tx,
            &TenantScope::for_agency(&agency),
            "bridge",
            &KEY[..15],
            KEY,
            "agency_admin",
            "test",
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    format!("Bearer {KEY}")
}

async fn call(
    bridge: &Bridge,
    auth: &str,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = bridge
        .client
        .request(method, format!("{}{path}", bridge.gateway))
        .header(AUTHORIZATION, auth);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The conversation of the contact writing from `phone`, once an inbound message made it.
async fn conversation_of(bridge: &Bridge, auth: &str, phone: &str, says: &str) -> (String, String) {
    bridge
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": phone, "content": says}),
        )
        .await;
    let mut found = None;
    bridge
        .eventually("the contact's conversation", async |b| {
            let (_, page) = call(
                b,
                auth,
                reqwest::Method::GET,
                &format!("/api/v1/contacts?q={}", phone.replace('+', "%2B")),
                None,
                None,
            )
            .await;
            let Some(contact) = page["items"][0]["id"].as_str() else {
                return false;
            };
            let (_, convs) = call(
                b,
                auth,
                reqwest::Method::GET,
                &format!("/api/v1/conversations?contact_id={contact}"),
                None,
                None,
            )
            .await;
            found = convs["items"][0]["id"]
                .as_str()
                .map(|c| (contact.to_string(), c.to_string()));
            found.is_some()
        })
        .await;
    found.unwrap()
}

/// The sends SendBlue received with this text.
async fn sends_of(bridge: &Bridge, text: &str) -> usize {
    bridge
        .get("/sendblue/messages")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["content"] == text)
        .count()
}

async fn status_of(bridge: &Bridge, auth: &str, message: &str) -> Value {
    call(
        bridge,
        auth,
        reqwest::Method::GET,
        &format!("/api/v1/messages/{message}"),
        None,
        None,
    )
    .await
    .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_send_reaches_sendblue_once_per_idempotency_key() {
    let bridge = Bridge::start().await;
    let auth = api_key(&bridge).await;
    let (_, conversation) = conversation_of(&bridge, &auth, "+19998887777", "Hello there").await;
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let body = json!({"body": "Sent from the API"});
    let (status, first) = call(
        &bridge,
        &auth,
        reqwest::Method::POST,
        &path,
        Some("k-1"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = call(
        &bridge,
        &auth,
        reqwest::Method::POST,
        &path,
        Some("k-1"),
        Some(body),
    )
    .await;
    assert_eq!((status, &again["id"]), (200, &first["id"]));
    let id = first["id"].as_str().unwrap().to_string();
    bridge
        .eventually("the send to be delivered", async |b| {
            status_of(b, &auth, &id).await["status"] == "delivered"
        })
        .await;
    assert_eq!(sends_of(&bridge, "Sent from the API").await, 1);
    let (_, timeline) = call(
        &bridge,
        &auth,
        reqwest::Method::GET,
        &format!("/api/v1/messages/{id}/timeline"),
        None,
        None,
    )
    .await;
    let kinds: Vec<&str> = timeline["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for step in ["created", "api.received", "send.attempt", "send.accepted"] {
        assert!(kinds.contains(&step), "{step} missing: {kinds:?}");
    }
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opted_out_contact_gets_nothing_even_after_erasure() {
    let bridge = Bridge::start().await;
    let auth = api_key(&bridge).await;
    let phone = "+19998880000";
    let (contact, conversation) = conversation_of(&bridge, &auth, phone, "STOP").await;
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let (status, sent) = call(
        &bridge,
        &auth,
        reqwest::Method::POST,
        &path,
        None,
        Some(json!({"body": "Special offer"})),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    let id = sent["id"].as_str().unwrap().to_string();
    bridge
        .eventually("the send to fail", async |b| {
            status_of(b, &auth, &id).await["status"] == "failed"
        })
        .await;
    assert!(status_of(&bridge, &auth, &id).await["error"]
        .as_str()
        .unwrap()
        .contains("opted out"));

    // Erased, then the same number writes again: a new contact, still opted out.
    let (status, erased) = call(
        &bridge,
        &auth,
        reqwest::Method::POST,
        &format!("/api/v1/contacts/{contact}/erase"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{erased}");
    let (again, conversation) = conversation_of(&bridge, &auth, phone, "Hi, it's me again").await;
    assert_ne!(again, contact);
    let (_, reborn) = call(
        &bridge,
        &auth,
        reqwest::Method::GET,
        &format!("/api/v1/contacts/{again}"),
        None,
        None,
    )
    .await;
    assert_eq!(reborn["opted_out"], true, "{reborn}");
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let (_, sent) = call(
        &bridge,
        &auth,
        reqwest::Method::POST,
        &path,
        None,
        Some(json!({"body": "Welcome back offer"})),
    )
    .await;
    let id = sent["id"].as_str().unwrap().to_string();
    bridge
        .eventually("the second send to fail", async |b| {
            status_of(b, &auth, &id).await["status"] == "failed"
        })
        .await;
    assert_eq!(
        sends_of(&bridge, "Special offer").await + sends_of(&bridge, "Welcome back offer").await,
        0
    );
    bridge.stop().await;
}
