//! WhatsApp's 24-hour customer-service window, end to end: outside it a free-form reply is
//! never sent (no call the provider would refuse with 131047); it becomes the channel's
//! fallback template, or fails with the reason GHL shows.

use domain::MessageStatus;
use serde_json::{json, Value};

use crate::bridge::{statuses, Bridge};
use crate::whatsapp::{envelope, ghl_has_status, our_message, post_signed, reply_from_ghl, start};

const CONTACT: &str = "+19998887777";

/// The sends the WhatsApp simulator received.
async fn sends(b: &Bridge) -> Vec<Value> {
    b.get("/whatsapp/requests")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["method"] == "POST" && r["path"].as_str().unwrap_or("").ends_with("/messages")
        })
        .cloned()
        .collect()
}

/// A signed incoming text from the contact, sent `hours_ago` by WhatsApp's clock.
async fn contact_wrote(b: &Bridge, id: &str, hours_ago: u64) {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - hours_ago * 3600;
    let body = envelope(json!({
        "contacts": [{"profile": {"name": "Sam"}, "wa_id": CONTACT.trim_start_matches('+')}],
        "messages": [{"from": CONTACT.trim_start_matches('+'), "id": id,
            "timestamp": at.to_string(), "type": "text", "text": {"body": "an old message"}}],
    }));
    assert_eq!(post_signed(b, &body).await.status(), 200);
    b.eventually("GHL to receive the old message", async |b| {
        b.ghl_messages()
            .await
            .iter()
            .any(|m| m["direction"] == "inbound")
    })
    .await;
}

async fn use_fallback_template(b: &Bridge, template: Value) {
    sqlx::query("UPDATE channels SET settings = $1 WHERE id = $2")
        .bind(json!({"fallback_template": template}).to_string())
        .bind(b.channel.id.as_str())
        .execute(b.test.store.db().writer())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_window_without_a_template_nothing_is_sent_and_ghl_hears_why() {
    let bridge = start().await;
    // Never wrote.
    let first = reply_from_ghl(&bridge, "Out of the blue").await;
    bridge
        .eventually("GHL to hear 'failed'", async |b| {
            ghl_has_status(b, &first, "failed").await
        })
        .await;
    let message = our_message(&bridge, &first).await;
    assert_eq!(message.status, MessageStatus::Failed);
    let error = message.error.unwrap();
    assert!(error.contains("24-hour customer-service window"), "{error}");
    assert!(error.contains("never written"), "{error}");

    // Wrote 25 hours ago, by WhatsApp's timestamp.
    contact_wrote(&bridge, "wamid.old-1", 25).await;
    let second = reply_from_ghl(&bridge, "Still there?").await;
    bridge
        .eventually("GHL to hear 'failed'", async |b| {
            ghl_has_status(b, &second, "failed").await
        })
        .await;
    let error = our_message(&bridge, &second).await.error.unwrap();
    assert!(error.contains("last wrote 25 hours ago"), "{error}");
    // GHL shows the reason with the failure.
    let ghl = bridge.ghl_messages().await;
    let in_ghl = ghl.iter().find(|m| m["id"] == second.as_str()).unwrap();
    assert!(statuses(in_ghl).contains(&"failed".to_string()), "{in_ghl}");
    assert!(
        in_ghl
            .to_string()
            .contains("24-hour customer-service window"),
        "{in_ghl}"
    );

    assert!(
        sends(&bridge).await.is_empty(),
        "no call outside the window"
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_window_the_fallback_template_goes_out_instead() {
    let bridge = start().await;
    use_fallback_template(&bridge, json!({"name": "follow_up", "language": "en_US"})).await;
    contact_wrote(&bridge, "wamid.old-2", 30).await;
    let ghl_id = reply_from_ghl(&bridge, "Free text that may not go out").await;
    bridge
        .eventually("the template to reach WhatsApp", async |b| {
            !sends(b).await.is_empty()
        })
        .await;
    let sent = sends(&bridge).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let body: Value = match &sent[0]["body"] {
        Value::String(text) => serde_json::from_str(text).unwrap(),
        other => other.clone(),
    };
    assert_eq!(body["type"], "template", "{body}");
    assert_eq!(body["template"]["name"], "follow_up");
    assert_eq!(body["template"]["language"]["code"], "en_US");
    assert_eq!(body["to"], CONTACT);
    assert!(body.get("text").is_none(), "{body}");
    bridge
        .eventually("the template to be delivered", async |b| {
            ghl_has_status(b, &ghl_id, "delivered").await
                || ghl_has_status(b, &ghl_id, "read").await
        })
        .await;
    // The timeline says a template replaced the text.
    let message = our_message(&bridge, &ghl_id).await;
    let detail: String = sqlx::query_scalar(
        "SELECT detail FROM message_events WHERE message_id = $1 AND kind = 'send.attempt'",
    )
    .bind(message.id.as_str())
    .fetch_one(bridge.test.store.db().reader())
    .await
    .unwrap();
    assert!(detail.contains("follow_up"), "{detail}");
    bridge.stop().await;
}
