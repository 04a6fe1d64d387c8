//! UniPile (WhatsApp) end to end: a real gateway (HTTP and workers) against the sandbox's GHL
//! and UniPile, over loopback, on SQLite or the PostgreSQL of
//! `SWITCHBOARD_TEST_DATABASE_URL`.
//!
//! A reply goes into the chat the contact wrote from (`conversations.provider_thread`); a
//! first message to a new contact starts a chat, which the next message then reuses.

use std::time::Duration;

use domain::{MessageStatus, Provider};
use serde_json::{json, Value};

use crate::bridge::{Bridge, GHL_LOCATION, LINE, UNIPILE_ACCOUNT, UNIPILE_SECRET};

const CONTACT: &str = "+19998887777";
const CONTACT_ID: &str = "19998887777@s.whatsapp.net";

async fn start() -> Bridge {
    Bridge::start_provider(Provider::Unipile, &[]).await
}

fn webhook_url(b: &Bridge) -> String {
    format!("{}/webhooks/unipile/{}", b.gateway, b.channel.id)
}

/// A `message_received` from the contact, as UniPile posts it.
fn received(message_id: &str, text: &str) -> Value {
    json!({
        "account_id": UNIPILE_ACCOUNT,
        "account_type": "WHATSAPP",
        "event": "message_received",
        "chat_id": "chat-manual",
        "timestamp": "2026-11-22T03:00:00.000Z",
        "webhook_name": "Switchboard",
        "message_id": message_id,
        "message": text,
        "sender": {"attendee_id": "att-1", "attendee_name": "Contact",
                   "attendee_provider_id": CONTACT_ID, "attendee_profile_url": ""},
        "attendees": [],
        "attachments": []
    })
}

async fn post_webhook(b: &Bridge, body: &Value, secret: Option<&str>) -> reqwest::Response {
    let mut request = b.client.post(webhook_url(b)).body(body.to_string());
    if let Some(secret) = secret {
        request = request.header("X-Switchboard-Secret", secret);
    }
    request.send().await.unwrap()
}

async fn count(b: &Bridge, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(b.test.store.db().reader())
        .await
        .unwrap()
}

async fn ghl_inbound(b: &Bridge, text: &str) -> usize {
    b.ghl_messages()
        .await
        .iter()
        .filter(|m| m["body"] == text && m["direction"] == "inbound")
        .count()
}

/// The messages the UniPile simulator holds.
async fn unipile_messages(b: &Bridge) -> Vec<Value> {
    b.get("/unipile/messages").await.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_writes_in_and_a_ghl_reply_goes_back_into_their_chat() {
    let bridge = start().await;
    let answer = bridge
        .control(
            "/unipile/inbound",
            json!({"line": LINE, "from": CONTACT, "body": "Hola from WhatsApp"}),
        )
        .await;
    assert_eq!(answer["gatewayStatus"], 200);
    let chat = answer["chatId"].as_str().unwrap().to_string();
    bridge
        .eventually("GHL to receive the inbound message", async |b| {
            ghl_inbound(b, "Hola from WhatsApp").await == 1
        })
        .await;

    // A GHL user replies.
    let sent = bridge
        .control(
            "/ghl/outbound",
            json!({"locationId": GHL_LOCATION, "phone": CONTACT, "message": "Reply from GHL", "userId": "user-1"}),
        )
        .await;
    let ghl_id = sent["messageId"].as_str().unwrap().to_string();
    bridge
        .eventually("UniPile to receive the reply", async |b| {
            unipile_messages(b)
                .await
                .iter()
                .any(|m| m["text"] == "Reply from GHL")
        })
        .await;
    let messages = unipile_messages(&bridge).await;
    let reply = messages
        .iter()
        .find(|m| m["text"] == "Reply from GHL")
        .unwrap();
    assert_eq!(reply["chat_id"], chat.as_str(), "one chat per contact");
    assert_eq!(reply["is_sender"], true);
    let request = bridge
        .get("/unipile/requests")
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["method"] == "POST")
        .cloned()
        .unwrap();
    assert_eq!(
        request["path"],
        format!("/unipile/api/v1/chats/{chat}/messages"),
        "the reply goes into the contact's chat, not a new one"
    );
    assert_eq!(request["headers"]["x-api-key"], "unipile-key");
    assert!(request["headers"]["content-type"]
        .as_str()
        .unwrap()
        .starts_with("multipart/form-data; boundary="));

    // The message records UniPile's id and is sent.
    let provider_id = reply["id"].as_str().unwrap().to_string();
    bridge
        .eventually("the send to be recorded", async |b| {
            let found: Option<(String, Option<String>)> = sqlx::query_as(
                "SELECT status, provider_message_id FROM messages WHERE ghl_message_id = $1",
            )
            .bind(&ghl_id)
            .fetch_optional(b.test.store.db().reader())
            .await
            .unwrap();
            found.is_some_and(|(status, id)| {
                status == MessageStatus::Sent.as_str() && id.as_deref() == Some(&provider_id)
            })
        })
        .await;

    // UniPile echoes our reply to the webhook; it must not come back as the contact's.
    bridge
        .eventually("the echo webhook to go out", async |b| {
            b.get("/webhooks/requests")
                .await
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["body"]["message_id"] == provider_id.as_str())
        })
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The echo again (UniPile retries), and one of a message typed on the phone itself (a new
    // id, so no stored row can catch it): both acknowledged, both ignored.
    let hooks = bridge.get("/webhooks/requests").await;
    let echo = hooks
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["body"]["message_id"] == provider_id.as_str())
        .unwrap()["body"]
        .clone();
    let mut from_phone = echo.clone();
    from_phone["message_id"] = "typed-on-the-phone-1".into();
    from_phone["message"] = "Typed on the phone".into();
    for body in [&echo, &from_phone] {
        let r = post_webhook(&bridge, body, Some(UNIPILE_SECRET)).await;
        assert_eq!(r.status(), 200, "{body}");
    }
    assert_eq!(ghl_inbound(&bridge, "Reply from GHL").await, 0);
    assert_eq!(ghl_inbound(&bridge, "Typed on the phone").await, 0);
    assert_eq!(
        count(&bridge, "messages WHERE direction = 'inbound'").await,
        1
    );
    let phones: Vec<Option<String>> = sqlx::query_scalar("SELECT phone FROM contacts")
        .fetch_all(bridge.test.store.db().reader())
        .await
        .unwrap();
    assert_eq!(
        phones,
        vec![Some(CONTACT.to_string())],
        "the line itself never becomes a contact"
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_webhook_is_stored_once() {
    let bridge = start().await;
    let body = received("msg-dup-1", "only once please");
    for _ in 0..3 {
        let r = post_webhook(&bridge, &body, Some(UNIPILE_SECRET)).await;
        assert_eq!(r.status(), 200);
    }
    bridge
        .eventually("GHL to receive the inbound message", async |b| {
            ghl_inbound(b, "only once please").await == 1
        })
        .await;
    assert_eq!(
        count(&bridge, "messages WHERE direction = 'inbound'").await,
        1
    );
    assert_eq!(count(&bridge, "jobs WHERE kind = 'sync_inbound'").await, 1);
    let (provider_id, contacts): (Option<String>, i64) = sqlx::query_as(
        "SELECT MAX(provider_message_id), (SELECT COUNT(*) FROM contacts WHERE phone = $1) \
         FROM messages WHERE direction = 'inbound'",
    )
    .bind(CONTACT)
    .fetch_one(bridge.test.store.db().reader())
    .await
    .unwrap();
    assert_eq!(provider_id.as_deref(), Some("msg-dup-1"));
    assert_eq!(contacts, 1, "the contact is keyed by the E.164 phone");
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_wrong_secret_is_401_and_stores_nothing() {
    let bridge = start().await;
    let body = received("msg-forged-1", "forged");
    let missing = post_webhook(&bridge, &body, None).await;
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.json::<Value>().await.unwrap()["code"],
        "missing_signature"
    );
    let wrong = post_webhook(&bridge, &body, Some("not-the-secret")).await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["code"],
        "invalid_signature"
    );
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
    // Authentic but unusable: malformed is 400; another account's event, an echo and a
    // reaction are 200 and store nothing.
    let malformed = bridge
        .client
        .post(webhook_url(&bridge))
        .header("X-Switchboard-Secret", UNIPILE_SECRET)
        .body("{\"event\": \"message_received\", // comment\n}")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let mut other = received("msg-other-1", "not ours");
    other["account_id"] = "another-account".into();
    let mut echo = received("msg-echo-1", "our own");
    echo["is_sender"] = true.into();
    let mut reaction = received("msg-react-1", "");
    reaction["event"] = "message_reaction".into();
    for body in [other, echo, reaction] {
        let r = post_webhook(&bridge, &body, Some(UNIPILE_SECRET)).await;
        assert_eq!(r.status(), 200, "{body}");
    }
    assert_eq!(count(&bridge, "messages").await, 0);
    assert_eq!(count(&bridge, "contacts").await, 0);
    // The same webhook with the right secret is taken.
    let ok = post_webhook(&bridge, &body, Some(UNIPILE_SECRET)).await;
    assert_eq!(ok.status(), 200);
    bridge
        .eventually("GHL to receive the message", async |b| {
            ghl_inbound(b, "forged").await == 1
        })
        .await;
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_message_starts_a_chat_that_the_next_one_reuses() {
    let bridge = start().await;
    for text in ["First from GHL", "Second from GHL"] {
        bridge
            .control(
                "/ghl/outbound",
                json!({"locationId": GHL_LOCATION, "phone": CONTACT, "message": text, "userId": "user-1"}),
            )
            .await;
        bridge
            .eventually("UniPile to receive the message", async |b| {
                unipile_messages(b).await.iter().any(|m| m["text"] == text)
            })
            .await;
    }
    let posts: Vec<String> = bridge
        .get("/unipile/requests")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "POST")
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    let messages = unipile_messages(&bridge).await;
    let chat = messages[0]["chat_id"].as_str().unwrap();
    assert_eq!(
        posts,
        [
            "/unipile/api/v1/chats".to_string(),
            format!("/unipile/api/v1/chats/{chat}/messages")
        ]
    );
    let thread: Option<String> = sqlx::query_scalar("SELECT provider_thread FROM conversations")
        .fetch_one(bridge.test.store.db().reader())
        .await
        .unwrap();
    assert_eq!(thread.as_deref(), Some(chat));
    bridge.stop().await;
}
