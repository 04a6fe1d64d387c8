//! GHL's provider Delivery URL through the HTTP face: signatures, dedupe, unhappy paths.

use std::collections::BTreeMap;

use base64::Engine;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::EncodePublicKey;
use ed25519_dalek::{Signer, SigningKey};
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::repo::{NewChannel, NewLocation};
use store::Store;

use crate::TestServer;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

fn public_pem() -> String {
    key()
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap()
}

async fn server(extra: &[(&str, &str)]) -> TestServer {
    let pem = public_pem();
    let mut env = vec![("SWITCHBOARD_GHL_WEBHOOK_PUBLIC_KEY", pem.as_str())];
    env.extend_from_slice(extra);
    TestServer::start(&env).await
}

async fn seed(store: &Store, with_channel: bool) {
    let mut tx = store.begin().await.unwrap();
    let agency = store.upsert_agency(&mut tx, "Agency", None).await.unwrap();
    let location = store
        .create_location(
            &mut tx,
            &agency,
            &NewLocation {
                ghl_location_id: "ghlLoc1".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    if with_channel {
        store
            .create_channel(
                &mut tx,
                &location,
                &NewChannel {
                    provider: domain::Provider::Sendblue,
                    line: "+15122164639".into(),
                    credentials: BTreeMap::from([("api_key_id".to_string(), "k".to_string())]),
                    api_base: None,
                    settings: json!({}),
                },
            )
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

fn payload(message_id: &str, location: &str) -> String {
    json!({
        "contactId": "ghlContact1", "locationId": location, "messageId": message_id,
        "type": "SMS", "phone": "+15551234567", "message": "Hello from GHL",
        "attachments": [], "userId": "user1"
    })
    .to_string()
}

async fn post(server: &TestServer, body: &str, signature: Option<String>) -> reqwest::Response {
    let mut request = server
        .client
        .post(server.url("/webhooks/ghl/provider"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(signature) = signature {
        request = request.header("x-ghl-signature", signature);
    }
    request.send().await.unwrap()
}

fn sign(body: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(key().sign(body.as_bytes()).to_bytes())
}

async fn count(store: &Store, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(store.db().reader())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_signed_delivery_is_stored_once_with_one_deliver_job_even_sent_three_times_at_once() {
    let server = server(&[]).await;
    let store = server.test.store.clone();
    seed(&store, true).await;
    let body = payload("ghlMsg1", "ghlLoc1");
    let signature = sign(&body);
    let concurrent: Vec<_> = (0..3)
        .map(|_| {
            let request = server
                .client
                .post(server.url("/webhooks/ghl/provider"))
                .header("x-ghl-signature", signature.clone())
                .body(body.clone());
            tokio::spawn(async move { request.send().await.unwrap().status() })
        })
        .collect();
    for delivery in concurrent {
        assert_eq!(delivery.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(count(&store, "messages").await, 1);
    let jobs: Vec<(String, Option<String>)> = sqlx::query_as("SELECT kind, pacing_key FROM jobs")
        .fetch_all(store.db().reader())
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].0, "deliver");
    assert!(jobs[0].1.as_deref().unwrap().starts_with("line:chn_"));
    let (status, actor, ghl_id): (String, String, String) =
        sqlx::query_as("SELECT status, actor, ghl_message_id FROM messages")
            .fetch_one(store.db().reader())
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), actor.as_str(), ghl_id.as_str()),
        ("pending", "agent", "ghlMsg1")
    );
    let mapped: Option<String> = sqlx::query_scalar("SELECT ghl_contact_id FROM contacts")
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    assert_eq!(mapped.as_deref(), Some("ghlContact1"));
    server.stop().await;
}

#[tokio::test]
async fn unsigned_forged_malformed_oversized_and_unknown_deliveries_store_nothing() {
    let server = server(&[("SWITCHBOARD_MAX_BODY_BYTES", "2048")]).await;
    let store = server.test.store.clone();
    seed(&store, true).await;
    let body = payload("ghlMsg1", "ghlLoc1");
    let other_key = SigningKey::from_bytes(&[9u8; 32]);
    let forged = base64::engine::general_purpose::STANDARD
        .encode(other_key.sign(body.as_bytes()).to_bytes());
    let tampered = body.replace("Hello", "Hullo");
    let huge = payload("ghlMsg2", "ghlLoc1").replace("Hello from GHL", &"x".repeat(4096));
    let unknown = payload("ghlMsg3", "someoneElse");
    let cases: Vec<(String, Option<String>, StatusCode, &str)> = vec![
        (
            body.clone(),
            None,
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (
            body.clone(),
            Some("N/A".into()),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (
            body.clone(),
            Some("not base64!".into()),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (
            body.clone(),
            Some(forged),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (
            tampered,
            Some(sign(&body)),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (
            "{not json".into(),
            Some(sign("{not json")),
            StatusCode::BAD_REQUEST,
            "bad_payload",
        ),
        (
            huge.clone(),
            Some(sign(&huge)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            unknown.clone(),
            Some(sign(&unknown)),
            StatusCode::NOT_FOUND,
            "unknown_location",
        ),
    ];
    for (i, (body, signature, status, code)) in cases.into_iter().enumerate() {
        let response = post(&server, &body, signature).await;
        assert_eq!(response.status(), status, "case {i}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], code, "case {i}: {error}");
    }
    for table in [
        "messages",
        "jobs",
        "contacts",
        "conversations",
        "webhook_receipts",
    ] {
        assert_eq!(count(&store, table).await, 0, "{table}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_location_without_a_line_tells_ghl_the_message_failed() {
    let server = server(&[]).await;
    let store = server.test.store.clone();
    seed(&store, false).await;
    let body = payload("ghlMsg1", "ghlLoc1");
    assert_eq!(
        post(&server, &body, Some(sign(&body))).await.status(),
        StatusCode::OK
    );
    let jobs: Vec<(String, String)> = sqlx::query_as("SELECT kind, payload FROM jobs")
        .fetch_all(store.db().reader())
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].0, "fail_in_ghl");
    assert!(jobs[0].1.contains("ghlMsg1") && jobs[0].1.contains("no line"));
    assert_eq!(count(&store, "messages").await, 0);
    server.stop().await;
}

fn dnd_event(webhook_id: &str, contact: &str, sms: &str) -> String {
    json!({
        "type": "ContactDndUpdate", "locationId": "ghlLoc1", "id": contact, "webhookId": webhook_id,
        "dnd": false, "dndSettings": {"SMS": {"status": sms, "message": "", "code": "101"}},
        "phone": "+15551234567"
    })
    .to_string()
}

async fn marketplace(
    server: &TestServer,
    body: &str,
    signature: Option<String>,
) -> (StatusCode, Value) {
    let mut request = server
        .client
        .post(server.url("/webhooks/ghl"))
        .body(body.to_string());
    if let Some(signature) = signature {
        request = request.header("x-ghl-signature", signature);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn ghl_dnd_changes_keep_our_consent_in_step_once_each() {
    let server = server(&[]).await;
    let store = server.test.store.clone();
    seed(&store, true).await;
    // The contact becomes known (and mapped) through a GHL message to them.
    let body = payload("ghlMsg1", "ghlLoc1");
    assert_eq!(
        post(&server, &body, Some(sign(&body))).await.status(),
        StatusCode::OK
    );

    let on = dnd_event("wh-1", "ghlContact1", "active");
    assert_eq!(
        marketplace(&server, &on, Some(sign(&on))).await,
        (StatusCode::OK, json!({"status": "opted_out"}))
    );
    // The same webhook again is a duplicate; the same state under a new id is no change.
    assert_eq!(
        marketplace(&server, &on, Some(sign(&on))).await.1,
        json!({"status": "duplicate"})
    );
    let again = dnd_event("wh-2", "ghlContact1", "active");
    assert_eq!(
        marketplace(&server, &again, Some(sign(&again))).await.1,
        json!({"status": "unchanged"})
    );
    let off = dnd_event("wh-3", "ghlContact1", "inactive");
    assert_eq!(
        marketplace(&server, &off, Some(sign(&off))).await.1,
        json!({"status": "opted_in"})
    );
    let stranger = dnd_event("wh-4", "someoneElse", "active");
    assert_eq!(
        marketplace(&server, &stranger, Some(sign(&stranger)))
            .await
            .1,
        json!({"status": "unknown_contact"})
    );

    let log: Vec<(String, String)> =
        sqlx::query_as("SELECT kind, source FROM consent_events ORDER BY at, id")
            .fetch_all(store.db().reader())
            .await
            .unwrap();
    assert_eq!(
        log,
        vec![
            ("opt_out".into(), "ghl:dnd".into()),
            ("opt_in".into(), "ghl:dnd".into())
        ]
    );

    // Unsigned or forged: 401, nothing recorded.
    let forged = dnd_event("wh-5", "ghlContact1", "active");
    assert_eq!(
        marketplace(&server, &forged, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        marketplace(&server, &forged, Some(sign("other"))).await.0,
        StatusCode::UNAUTHORIZED
    );
    let receipts: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_receipts WHERE source = 'ghl:marketplace'",
    )
    .fetch_one(store.db().reader())
    .await
    .unwrap();
    assert_eq!(receipts, 4);
    server.stop().await;
}

/// More concurrent deliveries than database connections: no request may hold a
/// transaction while it waits for a second connection (on PostgreSQL one pool serves
/// both), or the pool starves and requests time out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deliveries_beyond_the_pool_size_all_commit_promptly() {
    let server = server(&[]).await;
    let store = server.test.store.clone();
    seed(&store, true).await;
    let started = std::time::Instant::now();
    let requests: Vec<_> = (0..40)
        .map(|i| {
            let body = payload(&format!("ghlBurst{i}"), "ghlLoc1");
            let request = server
                .client
                .post(server.url("/webhooks/ghl/provider"))
                .header("x-ghl-signature", sign(&body))
                .body(body);
            tokio::spawn(async move { request.send().await.unwrap().status() })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap(), StatusCode::OK);
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(count(&store, "messages").await, 40);
    server.stop().await;
}

/// The intake commits concurrent deliveries together; a message that cannot be stored
/// fails alone, and the rest of its group is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_message_in_a_group_fails_alone() {
    use store::repo::{NewMessage, OutboundOutcome, OutboundRequest};
    let test = store::testing::TestStore::new().await;
    let store = test.store.clone();
    seed(&store, true).await;
    test.poison_timeline().await;
    let intake = server::webhooks::OutboundIntake::start(store.clone());
    let request = |i: usize| OutboundRequest {
        ghl_location_id: "ghlLoc1".into(),
        webhook_id: None,
        ghl_contact_id: format!("contact{}", i % 3),
        phone: format!("+1555123450{}", i % 3),
        message: NewMessage {
            direction: domain::Direction::Outbound,
            actor: domain::Actor::Agent,
            body: format!("message {i}"),
            attachments: vec![],
            status: domain::MessageStatus::Pending,
            provider_message_id: None,
            ghl_message_id: Some(format!("ghlMsg{i}")),
        },
        // The database refuses message 17's timeline entry.
        received: json!({"note": if i == 17 { "poison" } else { "fine" }}),
    };
    // Sent at once, they gather while the first group commits.
    let calls: Vec<_> = (0..40)
        .map(|i| {
            let intake = intake.clone();
            let request = request(i);
            tokio::spawn(async move { intake.accept(request).await })
        })
        .collect();
    let mut accepted = 0;
    for (i, call) in calls.into_iter().enumerate() {
        match call.await.unwrap() {
            Ok(OutboundOutcome::Accepted(_)) => accepted += 1,
            Ok(other) => panic!("message {i}: {other:?}"),
            Err(e) => assert_eq!(i, 17, "message {i}: {e}"),
        }
    }
    assert_eq!(accepted, 39);
    assert_eq!(count(&store, "messages").await, 39);
    assert_eq!(count(&store, "jobs").await, 39);
}
