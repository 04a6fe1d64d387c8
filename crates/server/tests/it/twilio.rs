//! Twilio end to end: a real gateway (HTTP and workers) against the sandbox's GHL and Twilio,
//! over loopback, on SQLite or the PostgreSQL of `SWITCHBOARD_TEST_DATABASE_URL`.

use std::time::Duration;

use channels::twilio::signature::compute_signature;
use domain::{MessageStatus, Provider};
use serde_json::{json, Value};
use store::TenantScope;

use crate::bridge::{jobs_of, statuses, Bridge, GHL_LOCATION, LINE, TWILIO_SID, TWILIO_TOKEN};

const CONTACT: &str = "+19998887777";

async fn start() -> Bridge {
    Bridge::start_provider(Provider::Twilio, &[]).await
}

fn webhook_url(b: &Bridge) -> String {
    format!("{}/webhooks/twilio/{}", b.gateway, b.channel.id)
}

/// The create-message requests the Twilio simulator received.
async fn creates(b: &Bridge) -> Vec<Value> {
    b.get("/twilio/requests")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["method"] == "POST" && r["path"].as_str().unwrap_or("").ends_with("/Messages.json")
        })
        .cloned()
        .collect()
}

fn form_of(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Posts `fields` to the channel's webhook as Twilio would, signed with `token` (`None`: no
/// signature header).
async fn post_webhook(
    b: &Bridge,
    fields: &[(&str, &str)],
    token: Option<&str>,
) -> reqwest::Response {
    let url = webhook_url(b);
    let params: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut request = b.client.post(&url).form(fields);
    if let Some(token) = token {
        request = request.header(
            "X-Twilio-Signature",
            compute_signature(token, &url, &params),
        );
    }
    request.send().await.unwrap()
}

async fn ghl_has_status(b: &Bridge, ghl_id: &str, status: &str) -> bool {
    b.ghl_messages()
        .await
        .iter()
        .any(|m| m["id"] == ghl_id && statuses(m).contains(&status.to_string()))
}

async fn send_from_ghl(b: &Bridge, text: &str) -> String {
    let sent = b
        .control(
            "/ghl/outbound",
            json!({"locationId": GHL_LOCATION, "phone": CONTACT, "message": text, "userId": "user-1"}),
        )
        .await;
    sent["messageId"].as_str().unwrap().to_string()
}

async fn our_message(b: &Bridge, ghl_id: &str) -> store::repo::Message {
    let store = &b.test.store;
    let id: String = sqlx::query_scalar("SELECT id FROM messages WHERE ghl_message_id = $1")
        .bind(ghl_id)
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    let scope = TenantScope::for_location(&b.location);
    store.message(&scope, &id.parse().unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_from_ghl_reaches_twilio_and_its_statuses_reach_ghl() {
    let bridge = start().await;
    let ghl_id = send_from_ghl(&bridge, "Hi from GHL").await;
    bridge
        .eventually("GHL to hear 'delivered'", async |b| {
            ghl_has_status(b, &ghl_id, "delivered").await
        })
        .await;
    let sends = creates(&bridge).await;
    assert_eq!(sends.len(), 1, "{sends:?}");
    let send = &sends[0];
    assert_eq!(
        send["path"],
        format!("/twilio/2010-04-01/Accounts/{TWILIO_SID}/Messages.json")
    );
    assert!(send["headers"]["authorization"]
        .as_str()
        .unwrap()
        .starts_with("Basic "));
    let form = form_of(send["body"].as_str().unwrap());
    let field = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(field("To"), CONTACT);
    assert_eq!(field("From"), LINE);
    assert_eq!(field("Body"), "Hi from GHL");
    // The status callback is the channel's own webhook URL, on the public URL.
    assert_eq!(field("StatusCallback"), webhook_url(&bridge));

    let message = our_message(&bridge, &ghl_id).await;
    assert_eq!(message.status, MessageStatus::Delivered);
    let sid = message.provider_message_id.clone().unwrap();
    assert!(sid.starts_with("SM") && sid.len() == 34, "{sid}");
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_from_twilio_reaches_ghl_and_is_answered_with_twiml() {
    let bridge = start().await;
    // The attachment is fetched before the message goes to GHL, so it must exist.
    let cat = format!("{}/media/cat.png", bridge.sandbox);
    bridge
        .client
        .put(format!("{}/_control/media/cat.png", bridge.sandbox))
        .header("content-type", "image/png")
        .body(vec![0x89, b'P', b'N', b'G'])
        .send()
        .await
        .unwrap();
    let answer = bridge
        .control(
            "/twilio/inbound",
            json!({"line": LINE, "from": CONTACT, "body": "Hello there", "mediaUrls": [cat]}),
        )
        .await;
    assert_eq!(answer["gatewayStatus"], 200);
    bridge
        .eventually("GHL to receive the inbound message", async |b| {
            b.ghl_messages()
                .await
                .iter()
                .any(|m| m["body"] == "Hello there" && m["direction"] == "inbound")
        })
        .await;
    // A redelivery of the same MessageSid (Twilio retries) is acknowledged and stored once.
    let sid = answer["messageSid"].as_str().unwrap();
    let fields = [
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("AccountSid", TWILIO_SID),
        ("From", CONTACT),
        ("To", LINE),
        ("Body", "Hello there"),
        ("NumMedia", "0"),
        ("SmsStatus", "received"),
    ];
    let again = post_webhook(&bridge, &fields, Some(TWILIO_TOKEN)).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["content-type"], "text/xml");
    assert_eq!(
        again.text().await.unwrap(),
        r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#
    );
    let store = &bridge.test.store;
    let (n, attachments): (i64, Option<String>) = sqlx::query_as(
        "SELECT COUNT(*), MAX(attachments) FROM messages WHERE direction = 'inbound'",
    )
    .fetch_one(store.db().reader())
    .await
    .unwrap();
    assert_eq!(n, 1);
    assert!(
        attachments.unwrap_or_default().contains("/media/cat.png"),
        "media URL kept"
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_or_missing_signatures_are_401_and_store_nothing() {
    let bridge = start().await;
    let fields = [
        ("MessageSid", "SM00000000000000000000000000000001"),
        ("AccountSid", TWILIO_SID),
        ("From", CONTACT),
        ("To", LINE),
        ("Body", "forged"),
        ("SmsStatus", "received"),
    ];
    let missing = post_webhook(&bridge, &fields, None).await;
    assert_eq!(missing.status(), 401);
    let wrong = post_webhook(&bridge, &fields, Some("not-the-token")).await;
    assert_eq!(wrong.status(), 401);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["code"], "invalid_signature");
    // Signed for one body, sent with another.
    let url = webhook_url(&bridge);
    let params: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let tampered = bridge
        .client
        .post(&url)
        .header(
            "X-Twilio-Signature",
            compute_signature(TWILIO_TOKEN, &url, &params),
        )
        .form(&[
            ("MessageSid", "SM00000000000000000000000000000001"),
            ("AccountSid", TWILIO_SID),
            ("From", CONTACT),
            ("To", LINE),
            ("Body", "forgeD"),
            ("SmsStatus", "received"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 401);
    // Signed for the host a caller claims in its Host header: the URL checked is built on
    // SWITCHBOARD_PUBLIC_URL, so this is refused.
    let claimed = url.replace(&bridge.gateway, "http://evil.example");
    let spoofed = bridge
        .client
        .post(&url)
        .header("host", "evil.example")
        .header(
            "X-Twilio-Signature",
            compute_signature(TWILIO_TOKEN, &claimed, &params),
        )
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status(), 401);
    let store = &bridge.test.store;
    for table in [
        "messages",
        "contacts",
        "webhook_receipts",
        "jobs WHERE kind = 'sync_inbound'",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(store.db().reader())
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} changed by a refused webhook");
    }
    // The same webhook, signed right, is taken.
    let ok = post_webhook(&bridge, &fields, Some(TWILIO_TOKEN)).await;
    assert_eq!(ok.status(), 200);
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_and_reordered_status_callbacks_merge() {
    let bridge = start().await;
    // Every callback twice, and in reverse order (delivered before sent).
    bridge
        .control("/faults", json!({"target": "twilio", "kind": "duplicate"}))
        .await;
    bridge
        .control("/faults", json!({"target": "twilio", "kind": "reorder"}))
        .await;
    let ghl_id = send_from_ghl(&bridge, "twice and backwards").await;
    bridge
        .eventually("GHL to hear 'delivered'", async |b| {
            ghl_has_status(b, &ghl_id, "delivered").await
        })
        .await;
    // Then late and repeated reports straight from "Twilio": nothing moves backwards.
    let message = our_message(&bridge, &ghl_id).await;
    let sid = message.provider_message_id.clone().unwrap();
    for status in ["sent", "delivered", "queued", "undelivered"] {
        let mut fields = vec![
            ("MessageSid", sid.as_str()),
            ("SmsSid", sid.as_str()),
            ("AccountSid", TWILIO_SID),
            ("From", LINE),
            ("To", CONTACT),
            ("MessageStatus", status),
            ("SmsStatus", status),
        ];
        if status == "undelivered" {
            fields.push(("ErrorCode", "30003"));
        }
        let r = post_webhook(&bridge, &fields, Some(TWILIO_TOKEN)).await;
        assert_eq!(r.status(), 200, "{status}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let message = our_message(&bridge, &ghl_id).await;
    assert_eq!(message.status, MessageStatus::Delivered);
    let store = &bridge.test.store;
    let receipts: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_receipts WHERE external_id LIKE 'status:%'",
    )
    .fetch_one(store.db().reader())
    .await
    .unwrap();
    // One per status of ours: sent, delivered, failed (the late undelivered changed nothing).
    assert_eq!(receipts, 3);
    let updates: Vec<String> =
        sqlx::query_scalar("SELECT payload FROM jobs WHERE kind = 'sync_status'")
            .fetch_all(store.db().reader())
            .await
            .unwrap();
    assert_eq!(updates.len(), 1, "one status update to GHL: {updates:?}");
    assert!(updates[0].contains("delivered"));
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_21610_records_the_opt_out_tells_ghl_and_stops_later_sends() {
    let bridge = start().await;
    // The contact opted out at Twilio (a STOP to another of the account's numbers).
    bridge
        .control(
            "/twilio/recipients",
            json!({"number": CONTACT, "optedOut": true}),
        )
        .await;
    let first = send_from_ghl(&bridge, "Special offer!").await;
    bridge
        .eventually("GHL to hear 'failed'", async |b| {
            ghl_has_status(b, &first, "failed").await
        })
        .await;
    let store = &bridge.test.store;
    let consent: Vec<(String, String)> = sqlx::query_as("SELECT kind, source FROM consent_events")
        .fetch_all(store.db().reader())
        .await
        .unwrap();
    assert_eq!(consent.len(), 1, "{consent:?}");
    assert_eq!(consent[0].1, "twilio:send");
    let opted_out: i64 = sqlx::query_scalar("SELECT opted_out FROM contacts")
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    assert_eq!(opted_out, 1);
    let message = our_message(&bridge, &first).await;
    assert_eq!(message.status, MessageStatus::Failed);
    // The deliver job finished: an opt-out is not retried.
    bridge
        .eventually("the deliver job done", async |b| {
            jobs_of(&b.test.store, "deliver")
                .await
                .iter()
                .all(|(state, _)| state == "done")
        })
        .await;
    assert_eq!(jobs_of(store, "deliver").await[0].1, 1);

    // A later message is refused before any call to Twilio.
    let second = send_from_ghl(&bridge, "Another offer").await;
    bridge
        .eventually("GHL to hear 'failed' again", async |b| {
            ghl_has_status(b, &second, "failed").await
        })
        .await;
    assert_eq!(
        creates(&bridge).await.len(),
        1,
        "only the first send reached Twilio"
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_sets_dnd_without_a_second_confirmation_and_blocks_sends() {
    let bridge = start().await;
    bridge
        .control(
            "/twilio/inbound",
            json!({"line": LINE, "from": CONTACT, "body": "STOP"}),
        )
        .await;
    bridge
        .eventually("GHL's DND to be set", async |b| {
            let contacts = b
                .get(&format!("/ghl/contacts?locationId={GHL_LOCATION}"))
                .await;
            contacts
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["dndSettings"]["SMS"]["status"] == "active")
        })
        .await;
    let store = &bridge.test.store;
    let consent: Vec<(String, String)> = sqlx::query_as("SELECT kind, source FROM consent_events")
        .fetch_all(store.db().reader())
        .await
        .unwrap();
    assert_eq!(consent.len(), 1, "{consent:?}");
    assert_eq!(consent[0].1, "twilio:keyword");
    // A GHL user writes anyway: refused here, before Twilio.
    let ghl_id = send_from_ghl(&bridge, "Special offer!").await;
    bridge
        .eventually("GHL to hear 'failed'", async |b| {
            ghl_has_status(b, &ghl_id, "failed").await
        })
        .await;
    // Twilio sent its own STOP reply; we sent nothing at all.
    assert!(creates(&bridge).await.is_empty());
    bridge.stop().await;
}
