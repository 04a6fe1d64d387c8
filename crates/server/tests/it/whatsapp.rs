//! WhatsApp Cloud API end to end: a real gateway (HTTP and workers) against the sandbox's
//! GHL and WhatsApp, over loopback, on SQLite or the PostgreSQL of
//! `SWITCHBOARD_TEST_DATABASE_URL`. The contact writes first, so replies are inside the
//! 24-hour window; `whatsapp_window` covers the outside.

use std::time::Duration;

use channels::whatsapp::signature::header_value;
use domain::{MessageStatus, Provider};
use serde_json::{json, Value};
use store::TenantScope;

use crate::bridge::{
    statuses, Bridge, GHL_LOCATION, LINE, WA_APP_SECRET, WA_PHONE_NUMBER_ID, WA_TOKEN,
    WA_VERIFY_TOKEN,
};

const CONTACT: &str = "+19998887777";

pub(crate) async fn start() -> Bridge {
    Bridge::start_provider(Provider::Whatsapp, &[]).await
}

pub(crate) fn webhook_url(b: &Bridge) -> String {
    format!("{}/webhooks/whatsapp/{}", b.gateway, b.channel.id)
}

/// Meta's envelope around one `messages` change for the bridge's number.
pub(crate) fn envelope(value: Value) -> String {
    let mut value = value;
    value["messaging_product"] = "whatsapp".into();
    value["metadata"] = json!({"display_phone_number": LINE.trim_start_matches('+'), "phone_number_id": WA_PHONE_NUMBER_ID});
    json!({"object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}]})
    .to_string()
}

pub(crate) fn incoming(id: &str, text: &str) -> String {
    envelope(json!({
        "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": CONTACT.trim_start_matches('+')}],
        "messages": [{"from": CONTACT.trim_start_matches('+'), "id": id, "timestamp": "1749416383",
            "type": "text", "text": {"body": text}}],
    }))
}

fn status(wamid: &str, word: &str) -> String {
    envelope(
        json!({"statuses": [{"id": wamid, "status": word, "timestamp": "1749416400",
        "recipient_id": CONTACT.trim_start_matches('+')}]}),
    )
}

/// Posts `body` to the channel's webhook with `signature` as `X-Hub-Signature-256`.
async fn post_raw(b: &Bridge, body: &str, signature: Option<String>) -> reqwest::Response {
    let mut request = b
        .client
        .post(webhook_url(b))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(signature) = signature {
        request = request.header("X-Hub-Signature-256", signature);
    }
    request.send().await.unwrap()
}

pub(crate) async fn post_signed(b: &Bridge, body: &str) -> reqwest::Response {
    post_raw(b, body, Some(header_value(WA_APP_SECRET, body.as_bytes()))).await
}

async fn count(b: &Bridge, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(b.test.store.db().reader())
        .await
        .unwrap()
}

/// The contact writes in through the simulator; waits until GHL has it.
pub(crate) async fn contact_writes(b: &Bridge, text: &str) {
    let answer = b
        .control(
            "/whatsapp/inbound",
            json!({"line": LINE, "from": CONTACT, "body": text}),
        )
        .await;
    assert_eq!(answer["gatewayStatus"], 200, "{answer}");
    b.eventually("GHL to receive the inbound message", async |b| {
        b.ghl_messages()
            .await
            .iter()
            .any(|m| m["body"] == text && m["direction"] == "inbound")
    })
    .await;
}

pub(crate) async fn reply_from_ghl(b: &Bridge, text: &str) -> String {
    let sent = b
        .control(
            "/ghl/outbound",
            json!({"locationId": GHL_LOCATION, "phone": CONTACT, "message": text, "userId": "user-1"}),
        )
        .await;
    sent["messageId"].as_str().unwrap().to_string()
}

pub(crate) async fn ghl_has_status(b: &Bridge, ghl_id: &str, status: &str) -> bool {
    b.ghl_messages()
        .await
        .iter()
        .any(|m| m["id"] == ghl_id && statuses(m).contains(&status.to_string()))
}

pub(crate) async fn our_message(b: &Bridge, ghl_id: &str) -> store::repo::Message {
    let store = &b.test.store;
    let id: String = sqlx::query_scalar("SELECT id FROM messages WHERE ghl_message_id = $1")
        .bind(ghl_id)
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    let scope = TenantScope::for_location(&b.location);
    store.message(&scope, &id.parse().unwrap()).await.unwrap()
}

async fn status_receipts(b: &Bridge) -> Vec<String> {
    let mut keys: Vec<String> = sqlx::query_scalar(
        "SELECT external_id FROM webhook_receipts WHERE external_id LIKE 'status:%'",
    )
    .fetch_all(b.test.store.db().reader())
    .await
    .unwrap();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verification_get_echoes_the_challenge_only_for_the_right_token() {
    let bridge = start().await;
    let get = |query: String| {
        let url = format!("{}{query}", webhook_url(&bridge));
        let client = bridge.client.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    let ok = get(format!(
        "?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={WA_VERIFY_TOKEN}"
    ))
    .await;
    assert_eq!(ok.status(), 200);
    assert!(ok.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    let wrong =
        get("?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock".into())
            .await;
    assert_eq!(wrong.status(), 403);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["code"],
        "invalid_verify_token"
    );
    assert_eq!(get(String::new()).await.status(), 400);
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_writes_the_agent_replies_and_statuses_reach_ghl() {
    let bridge = start().await;
    contact_writes(&bridge, "Does it come in another color?").await;
    let ghl_id = reply_from_ghl(&bridge, "Yes, in blue.").await;
    bridge
        .eventually("GHL to hear 'read'", async |b| {
            ghl_has_status(b, &ghl_id, "read").await
        })
        .await;
    let sends: Vec<Value> = bridge
        .get("/whatsapp/requests")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "POST" && r["path"].as_str().unwrap().ends_with("/messages"))
        .cloned()
        .collect();
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!(
        sends[0]["path"],
        format!("/whatsapp/{WA_PHONE_NUMBER_ID}/messages")
    );
    assert_eq!(
        sends[0]["headers"]["authorization"],
        format!("Bearer {WA_TOKEN}")
    );
    let body = &sends[0]["body"];
    assert_eq!(body["messaging_product"], "whatsapp");
    assert_eq!(body["to"], CONTACT);
    assert_eq!(body["type"], "text");
    assert_eq!(body["text"]["body"], "Yes, in blue.");
    let message = our_message(&bridge, &ghl_id).await;
    assert_eq!(body["biz_opaque_callback_data"], message.id.to_string());
    assert_eq!(message.status, MessageStatus::Read);
    let wamid = message.provider_message_id.clone().unwrap();
    assert!(wamid.starts_with("wamid."), "{wamid}");
    assert_eq!(
        status_receipts(&bridge).await,
        ["delivered", "read", "sent"].map(|s| format!("status:{wamid}:{s}"))
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_or_missing_signatures_are_401_and_store_nothing() {
    let bridge = start().await;
    let body = incoming("wamid.FORGED1", "forged");
    let missing = post_raw(&bridge, &body, None).await;
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.json::<Value>().await.unwrap()["code"],
        "missing_signature"
    );
    let wrong_secret = post_raw(
        &bridge,
        &body,
        Some(header_value("not-the-secret", body.as_bytes())),
    )
    .await;
    assert_eq!(wrong_secret.status(), 401);
    assert_eq!(
        wrong_secret.json::<Value>().await.unwrap()["code"],
        "invalid_signature"
    );
    // Signed for one body, sent with another that differs by one byte.
    let changed = body.replacen("forged", "forgeD", 1);
    let tampered = post_raw(
        &bridge,
        &changed,
        Some(header_value(WA_APP_SECRET, body.as_bytes())),
    )
    .await;
    assert_eq!(tampered.status(), 401);
    let garbage = post_raw(&bridge, &body, Some("sha256=not-hex".into())).await;
    assert_eq!(garbage.status(), 401);
    for table in [
        "messages",
        "contacts",
        "webhook_receipts",
        "jobs WHERE kind = 'sync_inbound'",
    ] {
        assert_eq!(
            count(&bridge, table).await,
            0,
            "{table} changed by a refused webhook"
        );
    }
    // Signed right but for another number of the same Meta app: acknowledged, not ours.
    let theirs = body.replace(WA_PHONE_NUMBER_ID, "999000111222333");
    assert_eq!(post_signed(&bridge, &theirs).await.status(), 200);
    assert_eq!(
        count(&bridge, "messages").await,
        0,
        "another number's message stored"
    );
    // Signed right, the same body is taken; a malformed one signed right is a 400.
    assert_eq!(post_signed(&bridge, &body).await.status(), 200);
    assert_eq!(post_signed(&bridge, "{not json").await.status(), 400);
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_webhooks_and_out_of_order_statuses_merge() {
    let bridge = start().await;
    // The same inbound webhook twice (Meta retries): one message, one job.
    let body = incoming("wamid.INBOUND1", "Hello twice");
    assert_eq!(post_signed(&bridge, &body).await.status(), 200);
    assert_eq!(post_signed(&bridge, &body).await.status(), 200);
    bridge
        .eventually("GHL to receive the inbound message", async |b| {
            b.ghl_messages()
                .await
                .iter()
                .any(|m| m["body"] == "Hello twice" && m["direction"] == "inbound")
        })
        .await;
    assert_eq!(
        count(&bridge, "messages WHERE direction = 'inbound'").await,
        1
    );
    assert_eq!(count(&bridge, "jobs WHERE kind = 'sync_inbound'").await, 1);
    // The contact also writes through the simulator, so its window is open there too.
    contact_writes(&bridge, "Are you there?").await;

    // Every status twice and backwards: read, delivered, sent.
    bridge
        .control(
            "/faults",
            json!({"target": "whatsapp", "kind": "duplicate"}),
        )
        .await;
    bridge
        .control("/faults", json!({"target": "whatsapp", "kind": "reorder"}))
        .await;
    let ghl_id = reply_from_ghl(&bridge, "Backwards and twice").await;
    bridge
        .eventually("GHL to hear 'read'", async |b| {
            ghl_has_status(b, &ghl_id, "read").await
        })
        .await;
    let wamid = our_message(&bridge, &ghl_id)
        .await
        .provider_message_id
        .unwrap();
    bridge
        .eventually("the late 'sent' to be received", async |b| {
            status_receipts(b).await.len() == 3
        })
        .await;
    // Then late and repeated reports straight from "Meta", in one batch and alone.
    let batch = envelope(json!({"statuses": [
        {"id": wamid, "status": "delivered", "timestamp": "1749416401", "recipient_id": "19998887777"},
        {"id": wamid, "status": "sent", "timestamp": "1749416402", "recipient_id": "19998887777"},
    ]}));
    assert_eq!(post_signed(&bridge, &batch).await.status(), 200);
    assert_eq!(
        post_signed(&bridge, &status(&wamid, "read")).await.status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let message = our_message(&bridge, &ghl_id).await;
    assert_eq!(message.status, MessageStatus::Read);
    assert_eq!(
        status_receipts(&bridge).await,
        ["delivered", "read", "sent"].map(|s| format!("status:{wamid}:{s}"))
    );
    let updates: Vec<String> =
        sqlx::query_scalar("SELECT payload FROM jobs WHERE kind = 'sync_status'")
            .fetch_all(bridge.test.store.db().reader())
            .await
            .unwrap();
    assert_eq!(updates.len(), 1, "one status update to GHL: {updates:?}");
    assert!(updates[0].contains("read"), "{updates:?}");
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_to_a_contact_who_never_wrote_fails_in_ghl() {
    let bridge = start().await;
    // No window: either the gateway refuses before calling (its own window check) or
    // WhatsApp accepts and then reports 131047 by webhook. Both end failed.
    let ghl_id = reply_from_ghl(&bridge, "Out of the blue").await;
    bridge
        .eventually("GHL to hear 'failed'", async |b| {
            ghl_has_status(b, &ghl_id, "failed").await
        })
        .await;
    assert_eq!(
        our_message(&bridge, &ghl_id).await.status,
        MessageStatus::Failed
    );
    assert!(!ghl_has_status(&bridge, &ghl_id, "delivered").await);
    bridge.stop().await;
}
