//! GHL messages: inbound message validation, the 403 "not downstreamed yet" window, and the signed
//! outbound provider webhook.

use std::time::Duration;

use axum::http::Method;
use base64::Engine as _;
use ed25519_dalek::pkcs8::DecodePublicKey;
use ed25519_dalek::{Signature, VerifyingKey};
use sandbox::SandboxOptions;
use serde_json::{json, Value};

use crate::{keys, receiver, start, Harness};

/// A location with a custom provider and one contact: (token, contact id).
async fn setup(h: &Harness, location: &str) -> (String, String) {
    let loc = h
        .location(json!({"locationId": location, "conversationProviderId": "PROV1"}))
        .await;
    let token = loc["accessToken"].as_str().unwrap().to_owned();
    let contact = h
        .control(
            "/ghl/contacts",
            json!({"locationId": location, "phone": "+15550003333", "firstName": "Cy"}),
        )
        .await;
    (token, contact["contact"]["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn inbound_message_is_validated_against_the_schema() {
    let h = start(SandboxOptions::default()).await;
    let (token, contact) = setup(&h, "M1").await;
    let inbound = |body: Value| {
        h.ghl(Method::POST, "/conversations/messages/inbound", &token)
            .json(&body)
            .send()
    };
    let valid = json!({"type": "SMS", "contactId": contact, "conversationProviderId": "PROV1",
        "message": "hello", "direction": "inbound", "altId": "sb-1", "attachments": []});
    let r = inbound(valid.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let ok: Value = r.json().await.unwrap();
    assert_eq!(ok["success"], true);
    let message_id = ok["messageId"].as_str().unwrap();
    let conversation_id = ok["conversationId"].as_str().unwrap();
    assert_eq!(message_id.len(), 20);
    assert!(ok["message"].is_string());
    // Same conversation again, by conversationId this time.
    let again: Value = inbound(json!({"type": "SMS", "conversationId": conversation_id, "conversationProviderId": "PROV1", "message": "2", "direction": "inbound"}))
        .await.unwrap().json().await.unwrap();
    assert_eq!(again["conversationId"], conversation_id);
    // Missing required `type`; bad enum; wrong types; unknown property.
    let mut missing = valid.clone();
    missing.as_object_mut().unwrap().remove("type");
    let r = inbound(missing).await.unwrap();
    assert_eq!(r.status(), 400);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["statusCode"], 400);
    assert_eq!(err["message"], json!(["type should not be empty"]));
    let r = inbound(json!({"type": "iMessage", "contactId": contact, "conversationProviderId": "PROV1", "message": 5, "foo": 1})).await.unwrap();
    assert_eq!(r.status(), 400);
    let msgs = r.json::<Value>().await.unwrap()["message"].to_string();
    assert!(
        msgs.contains("type must be one of the following values: SMS"),
        "{msgs}"
    );
    assert!(msgs.contains("message must be a string"), "{msgs}");
    assert!(msgs.contains("property foo should not exist"), "{msgs}");
    // Neither contactId nor conversationId.
    let r = inbound(json!({"type": "SMS", "conversationProviderId": "PROV1", "message": "x"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Custom provider and no conversationProviderId: 201, empty body, nothing added (issue #70).
    let r = inbound(json!({"type": "SMS", "contactId": contact, "message": "lost"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(r.text().await.unwrap().is_empty());
    assert_eq!(
        inbound(json!({"type": "SMS", "contactId": contact, "conversationProviderId": "OTHER"}))
            .await
            .unwrap()
            .status(),
        400
    );
    // The messages are visible through control, with the direction given.
    let messages = h.get_json("/_control/ghl/messages?locationId=M1").await;
    let messages = messages.as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["id"], message_id);
    assert_eq!(messages[0]["direction"], "inbound");
    assert_eq!(messages[0]["altId"], "sb-1");
    let got: Value = h
        .ghl(
            Method::GET,
            &format!("/conversations/messages/{message_id}"),
            &token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["body"], "hello");
    let found: Value = h
        .ghl(
            Method::GET,
            &format!("/conversations/search?locationId=M1&contactId={contact}"),
            &token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["total"], 1);
    assert_eq!(found["conversations"][0]["id"], conversation_id);
}

#[tokio::test]
async fn strict_mode_requires_the_spec_required_list() {
    let h = start(SandboxOptions {
        ghl_require_conversation_id: true,
        ..SandboxOptions::default()
    })
    .await;
    let (token, contact) = setup(&h, "M2").await;
    let r = h.ghl(Method::POST, "/conversations/messages/inbound", &token)
        .json(&json!({"type": "SMS", "contactId": contact, "conversationProviderId": "PROV1", "direction": "inbound"}))
        .send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["message"],
        json!(["conversationId should not be empty"])
    );
}

#[tokio::test]
async fn status_update_is_403_until_downstreamed_then_succeeds() {
    let window = Duration::from_millis(400);
    let h = start(SandboxOptions {
        ghl_downstream_window: window,
        ..SandboxOptions::default()
    })
    .await;
    let (token, contact) = setup(&h, "S1").await;
    let gateway = receiver().await;
    let sent = h
        .control(
            "/ghl/outbound",
            json!({"locationId": "S1", "contactId": contact, "message": "hi",
        "url": format!("{}/webhooks/ghl/provider", gateway.base)}),
        )
        .await;
    let id = sent["messageId"].as_str().unwrap();
    let put = |body: Value| {
        h.ghl(
            Method::PUT,
            &format!("/conversations/messages/{id}/status"),
            &token,
        )
        .json(&body)
        .send()
    };
    let r = put(json!({"status": "delivered"})).await.unwrap();
    assert_eq!(r.status(), 403);
    let err: Value = r.json().await.unwrap();
    assert_eq!(
        err["message"],
        "No conversation provider found for this message"
    );
    // Schema errors are 400 at any time.
    let r = put(json!({"status": "sent"})).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["message"]
        .to_string()
        .contains("status must be one of the following values: delivered, failed, pending, read"));
    assert_eq!(
        put(json!({"status": "failed", "error": {"code": "1"}}))
            .await
            .unwrap()
            .status(),
        400
    );
    tokio::time::sleep(window + Duration::from_millis(100)).await;
    let r = put(json!({"status": "delivered"})).await.unwrap();
    assert_eq!(r.status(), 200);
    let ok: Value = r.json().await.unwrap();
    assert_eq!(ok["messageId"], id);
    assert_eq!(ok["status"], "delivered");
    assert_eq!(ok["conversationId"], sent["conversationId"]);
    let r = put(json!({"status": "failed", "error": {"code": "1", "type": "saas", "message": "provider error"}})).await.unwrap();
    assert_eq!(r.status(), 200);
    let history: Vec<Value> = h.sandbox.ghl_messages()[0]["statusHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].clone())
        .collect();
    assert_eq!(
        history,
        vec![json!("pending"), json!("delivered"), json!("failed")]
    );
    let r = h
        .ghl(Method::PUT, "/conversations/messages/NOPE/status", &token)
        .json(&json!({"status": "read"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn outbound_webhook_is_signed_with_the_published_key() {
    let mut gateway = receiver().await;
    let h = start(SandboxOptions {
        gateway_base_url: Some(gateway.base.clone()),
        ..SandboxOptions::default()
    })
    .await;
    let (_token, contact) = setup(&h, "O1").await;
    let sent = h.control("/ghl/outbound", json!({"locationId": "O1", "contactId": contact, "message": "Your appointment is at 3pm",
        "attachments": ["https://example.com/a.png"], "userId": "USER1"})).await;
    assert_eq!(sent["gatewayStatus"], 200);
    let hook = gateway.next().await;
    assert_eq!(hook.path, "/webhooks/ghl/provider");
    assert_eq!(hook.headers["content-type"], "application/json");
    // Verify over the raw bytes with the key the control API publishes.
    let pem = h
        .http
        .get(h.url("/_control/ghl/public-key"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(pem, h.sandbox.ghl_public_key_pem());
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    let key = VerifyingKey::from_public_key_pem(&pem).unwrap();
    let sig = base64::engine::general_purpose::STANDARD
        .decode(hook.headers["x-ghl-signature"].as_bytes())
        .unwrap();
    let sig = Signature::from_slice(&sig).unwrap();
    key.verify_strict(&hook.body, &sig).unwrap();
    let mut tampered = hook.body.to_vec();
    tampered[5] ^= 1;
    assert!(key.verify_strict(&tampered, &sig).is_err());
    // The payload has exactly the documented fields.
    let payload = hook.json();
    let example: Value =
        serde_json::from_str(include_str!("fixtures/ProviderOutboundMessage.sms.json")).unwrap();
    assert_eq!(keys(&payload), keys(&example));
    assert_eq!(payload["type"], "SMS");
    assert_eq!(payload["phone"], "+15550003333");
    assert_eq!(payload["messageId"], sent["messageId"]);
    assert_eq!(payload["userId"], "USER1");
    assert_eq!(payload["attachments"], json!(["https://example.com/a.png"]));
    // By phone alone (the contact is found), and without userId when asked.
    h.control(
        "/ghl/outbound",
        json!({"locationId": "O1", "phone": "+15550003333", "message": "again", "userId": null}),
    )
    .await;
    let second = gateway.next().await.json();
    assert_eq!(second["contactId"], contact.as_str());
    assert!(second.get("userId").is_none());
    // Marketplace events are signed the same way.
    let r = h
        .control(
            "/ghl/events",
            json!({"type": "ContactDndUpdate", "locationId": "O1", "id": contact, "dnd": true}),
        )
        .await;
    assert_eq!(r["gatewayStatus"], 200);
    let event = gateway.next().await;
    assert_eq!(event.path, "/webhooks/ghl");
    let sig = base64::engine::general_purpose::STANDARD
        .decode(event.headers["x-ghl-signature"].as_bytes())
        .unwrap();
    key.verify_strict(&event.body, &Signature::from_slice(&sig).unwrap())
        .unwrap();
}

#[tokio::test]
async fn signing_key_can_be_seeded() {
    let a = sandbox::Sandbox::new(SandboxOptions {
        ghl_signing_seed: Some([7; 32]),
        ..SandboxOptions::default()
    });
    let b = sandbox::Sandbox::new(SandboxOptions {
        ghl_signing_seed: Some([7; 32]),
        ..SandboxOptions::default()
    });
    assert_eq!(a.ghl_public_key_pem(), b.ghl_public_key_pem());
}
