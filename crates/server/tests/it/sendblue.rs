//! SendBlue webhooks through the HTTP face: verified, deduplicated, committed, answered.

use std::collections::BTreeMap;

use domain::{Actor, Direction, MessageStatus, Provider};
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::repo::{Channel, NewChannel, NewLocation, NewMessage};
use store::{Store, TenantScope};

use crate::TestServer;

const SECRET: &str = "whsec-test";
const LINE: &str = "+15122164639";
const CONTACT: &str = "+19998887777";

async fn seed(store: &Store) -> Channel {
    let mut tx = store.begin().await.unwrap();
    let agency = store
        .upsert_agency(&mut tx, "Agency", Some("co-1"))
        .await
        .unwrap();
    let location = store
        .create_location(
            &mut tx,
            &agency,
            &NewLocation {
                ghl_location_id: "ghl-1".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let channel = store
        .create_channel(
            &mut tx,
            &location,
            &NewChannel {
                provider: Provider::Sendblue,
                line: LINE.into(),
                credentials: BTreeMap::from([
                    ("api_key_id".to_string(), "kid".to_string()),
                    ("api_secret_key".to_string(), "ksecret".to_string()),
                    ("signing_secret".to_string(), SECRET.to_string()),
                ]),
                api_base: None,
                settings: json!({}),
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    channel
}

fn receive(handle: &str, content: &str) -> Value {
    json!({
        "accountEmail": "your-account-email", "content": content, "is_outbound": false,
        "status": "RECEIVED", "error_code": null, "message_handle": handle,
        "date_sent": "2025-12-12T15:41:20.932Z", "from_number": CONTACT, "number": CONTACT,
        "to_number": LINE, "media_url": "", "message_type": "message", "group_id": "",
        "opted_out": false, "sendblue_number": LINE, "service": "iMessage"
    })
}

fn status(handle: &str, status: &str) -> Value {
    json!({
        "content": "Hello world!", "is_outbound": true, "status": status, "error_code": null,
        "message_handle": handle, "from_number": LINE, "number": CONTACT, "to_number": CONTACT
    })
}

async fn post(
    server: &TestServer,
    channel: &Channel,
    body: &Value,
    secret: Option<&str>,
) -> reqwest::Response {
    let mut request = server
        .client
        .post(server.url(&format!("/webhooks/sendblue/{}", channel.id)))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(secret) = secret {
        request = request.header("sb-signing-secret", secret);
    }
    request.send().await.unwrap()
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.db().reader())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_inbound_message_is_stored_once_with_its_job_however_often_it_arrives() {
    let server = TestServer::start(&[]).await;
    let store = server.test.store.clone();
    let channel = seed(&store).await;
    let body = receive("99DCC379-DD76-4712-BA65-11EFB33B8CD6", "Hello!");
    // The same delivery three times at once.
    let url = server.url(&format!("/webhooks/sendblue/{}", channel.id));
    let concurrent: Vec<_> = (0..3)
        .map(|_| {
            let request = server
                .client
                .post(&url)
                .header("content-type", "application/json")
                .header("sb-signing-secret", SECRET)
                .body(body.to_string());
            tokio::spawn(async move { request.send().await.unwrap().status() })
        })
        .collect();
    for delivery in concurrent {
        assert_eq!(delivery.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(
        post(&server, &channel, &body, Some(SECRET)).await.status(),
        StatusCode::OK
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM messages").await, 1);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM jobs WHERE kind = 'sync_inbound'"
        )
        .await,
        1
    );
    let (body, direction, status): (String, String, String) =
        sqlx::query_as("SELECT body, direction, status FROM messages")
            .fetch_one(store.db().reader())
            .await
            .unwrap();
    assert_eq!(
        (body.as_str(), direction.as_str(), status.as_str()),
        ("Hello!", "inbound", "delivered")
    );
    let phone: String = sqlx::query_scalar("SELECT phone FROM contacts")
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    assert_eq!(phone, CONTACT);
    server.stop().await;
}

#[tokio::test]
async fn bad_secrets_bodies_and_channels_are_refused_and_store_nothing() {
    let server = TestServer::start(&[("SWITCHBOARD_MAX_BODY_BYTES", "2048")]).await;
    let store = server.test.store.clone();
    let channel = seed(&store).await;
    let body = receive("h-1", "Hello!");
    let cases: Vec<(reqwest::Response, StatusCode)> = vec![
        (
            post(&server, &channel, &body, Some("wrong")).await,
            StatusCode::UNAUTHORIZED,
        ),
        (
            post(&server, &channel, &body, None).await,
            StatusCode::UNAUTHORIZED,
        ),
        (
            server
                .client
                .post(server.url(&format!("/webhooks/sendblue/{}", channel.id)))
                .header("sb-signing-secret", SECRET)
                .header("content-type", "application/json")
                .body("{not json")
                .send()
                .await
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            post(
                &server,
                &channel,
                &receive("h-2", &"x".repeat(4096)),
                Some(SECRET),
            )
            .await,
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            server
                .client
                .post(server.url(&format!("/webhooks/sendblue/{}", domain::ChannelId::new())))
                .header("sb-signing-secret", SECRET)
                .body(body.to_string())
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
        ),
        (
            server
                .client
                .post(server.url("/webhooks/sendblue/not-an-id"))
                .header("sb-signing-secret", SECRET)
                .body(body.to_string())
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
        ),
        (
            server
                .client
                .post(server.url(&format!("/webhooks/twilio/{}", channel.id)))
                .header("sb-signing-secret", SECRET)
                .body(body.to_string())
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (i, (response, expected)) in cases.into_iter().enumerate() {
        assert_eq!(response.status(), expected, "case {i}");
        let error: Value = response.json().await.unwrap();
        assert!(
            error["code"].is_string() && error["detail"].is_string(),
            "case {i}: {error}"
        );
    }
    for table in ["messages", "jobs", "webhook_receipts", "contacts"] {
        assert_eq!(
            count(&store, &format!("SELECT COUNT(*) FROM {table}")).await,
            0,
            "{table}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn stop_records_the_opt_out_with_the_message() {
    let server = TestServer::start(&[]).await;
    let store = server.test.store.clone();
    let channel = seed(&store).await;
    assert_eq!(
        post(
            &server,
            &channel,
            &receive("h-stop", " Stop! "),
            Some(SECRET)
        )
        .await
        .status(),
        StatusCode::OK
    );
    let scope = TenantScope::for_channel(&channel);
    let contact: String = sqlx::query_scalar("SELECT id FROM contacts")
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    let contact = contact.parse().unwrap();
    assert!(store.contact(&scope, &contact).await.unwrap().opted_out);
    let log = store.consent_log(&scope, &contact).await.unwrap();
    assert_eq!(
        log.iter()
            .map(|(k, s, _)| (k.as_str(), s.as_str()))
            .collect::<Vec<_>>(),
        vec![("opt_out", "sendblue:keyword")]
    );
    assert_eq!(
        post(
            &server,
            &channel,
            &receive("h-start", "START"),
            Some(SECRET)
        )
        .await
        .status(),
        StatusCode::OK
    );
    assert!(!store.contact(&scope, &contact).await.unwrap().opted_out);
    server.stop().await;
}

#[tokio::test]
async fn status_callbacks_out_of_order_and_twice_end_in_the_right_state() {
    let server = TestServer::start(&[]).await;
    let store = server.test.store.clone();
    let channel = seed(&store).await;
    let mut tx = store.begin().await.unwrap();
    let contact = store
        .contact_for_handle(&mut tx, &channel, CONTACT)
        .await
        .unwrap();
    let conversation = store
        .conversation_for(&mut tx, &channel, &contact)
        .await
        .unwrap();
    let message = store
        .insert_message(
            &mut tx,
            &conversation,
            &channel.agency_id,
            &NewMessage {
                direction: Direction::Outbound,
                actor: Actor::Agent,
                body: "Hello world!".into(),
                attachments: vec![],
                status: MessageStatus::Pending,
                provider_message_id: Some("sb-out-1".into()),
                ghl_message_id: Some("ghl-m-1".into()),
            },
        )
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();

    for s in ["DELIVERED", "SENT", "DELIVERED", "QUEUED"] {
        assert_eq!(
            post(&server, &channel, &status("sb-out-1", s), Some(SECRET))
                .await
                .status(),
            StatusCode::OK
        );
    }
    // A status about a message we don't know is acknowledged and ignored.
    assert_eq!(
        post(
            &server,
            &channel,
            &status("sb-unknown", "DELIVERED"),
            Some(SECRET)
        )
        .await
        .status(),
        StatusCode::OK
    );
    let scope = TenantScope::for_channel(&channel);
    assert_eq!(
        store.message(&scope, &message.id).await.unwrap().status,
        MessageStatus::Delivered
    );
    let jobs: Vec<String> =
        sqlx::query_scalar("SELECT payload FROM jobs WHERE kind = 'sync_status'")
            .fetch_all(store.db().reader())
            .await
            .unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert!(jobs[0].contains("\"delivered\""));
    server.stop().await;
}
