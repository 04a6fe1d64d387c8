//! Conversations, their messages, and sending from the API.

use std::time::Duration;

use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use serde_json::{json, Value};
use store::repo::NewMessage;
use store::TenantScope;

use super::contacts::{channel, ids, signed_in, walk};
use super::{get, send, world};
use crate::TestServer;

/// A POST of `body` with an `Idempotency-Key`.
async fn send_keyed(
    server: &TestServer,
    auth: &str,
    path: &str,
    key: &str,
    body: &Value,
) -> (u16, Value) {
    let response = server
        .client
        .post(server.url(path))
        .header(AUTHORIZATION, auth)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn deliver_jobs_of(store: &store::Store, message: &str) -> usize {
    let payloads: Vec<String> =
        sqlx::query_scalar("SELECT payload FROM jobs WHERE kind = 'deliver'")
            .fetch_all(store.db().reader())
            .await
            .unwrap();
    payloads.iter().filter(|p| p.contains(message)).count()
}

#[tokio::test]
async fn conversations_and_messages_page_by_a_stable_cursor_and_filter() {
    let server = TestServer::start(&[]).await;
    let alpha = world(&server, "alpha").await;
    let store = &server.test.store;
    let line = channel(&server, &alpha).await;
    let scope = TenantScope::for_location(&alpha.tenant.location);
    let mut made = Vec::new();
    for n in 1..=3 {
        tokio::time::sleep(Duration::from_millis(3)).await;
        let mut tx = store.begin().await.unwrap();
        let c = store
            .contact_for_handle(&mut tx, &line, &format!("+1555000300{n}"))
            .await
            .unwrap();
        made.push(store.conversation_for(&mut tx, &line, &c).await.unwrap());
        tx.commit().await.unwrap();
    }
    let all = walk(
        &server,
        &alpha.admin,
        "/api/v1/conversations",
        2,
        async || {},
    )
    .await;
    let mut expected: Vec<String> = made.iter().rev().map(|c| c.id.to_string()).collect();
    expected.push(alpha.id("conversations").to_string());
    assert_eq!(all, expected);
    let count = async |query: &str| {
        let (status, page) = get(
            &server,
            &alpha.admin,
            &format!("/api/v1/conversations?{query}"),
        )
        .await;
        assert_eq!(status, 200, "{query}: {page}");
        ids(&page).len()
    };
    assert_eq!(
        count(&format!("contact_id={}", made[0].contact_id)).await,
        1
    );
    assert_eq!(count(&format!("channel_id={}", line.id)).await, 4);
    assert_eq!(count("ai_enabled=true").await, 4);
    assert_eq!(count("ai_enabled=false").await, 0);
    let (status, _) = get(
        &server,
        &alpha.admin,
        "/api/v1/conversations?ai_enabled=yes",
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = get(
        &server,
        &alpha.admin,
        "/api/v1/conversations?channel_id=chn_nope",
    )
    .await;
    assert_eq!(status, 404);

    // Messages, newest first; one arriving mid-walk is not mixed in.
    let conversation = store
        .conversation(&scope, &alpha.id("conversations").parse().unwrap())
        .await
        .unwrap();
    let mut outbound = Vec::new();
    let add = async |body: &str| {
        tokio::time::sleep(Duration::from_millis(3)).await;
        let mut tx = store.begin().await.unwrap();
        let m = store
            .insert_message(
                &mut tx,
                &conversation,
                &alpha.tenant.agency.id,
                &NewMessage {
                    direction: domain::Direction::Outbound,
                    actor: domain::Actor::Agent,
                    body: body.into(),
                    attachments: vec![],
                    status: domain::MessageStatus::Sent,
                    provider_message_id: None,
                    ghl_message_id: None,
                },
            )
            .await
            .unwrap()
            .unwrap();
        tx.commit().await.unwrap();
        m
    };
    for n in 0..3 {
        outbound.push(add(&format!("reply {n}")).await);
    }
    let path = format!("/api/v1/conversations/{}/messages", conversation.id);
    let all = walk(&server, &alpha.admin, &path, 2, async || {
        add("late").await;
    })
    .await;
    let mut expected: Vec<String> = outbound.iter().rev().map(|m| m.id.to_string()).collect();
    expected.push(alpha.id("messages").to_string());
    assert_eq!(all, expected);
    for (query, n) in [
        ("direction=inbound", 1),
        ("direction=outbound", 4),
        ("status=sent", 4),
        ("status=failed", 0),
    ] {
        let (status, page) = get(&server, &alpha.admin, &format!("{path}?{query}")).await;
        assert_eq!((status, ids(&page).len()), (200, n), "{query}");
    }
    for bad in ["direction=sideways", "status=lost"] {
        let (status, body) = get(&server, &alpha.admin, &format!("{path}?{bad}")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid_filter")),
            "{bad}: {body}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn sends_are_validated_queued_once_per_key_and_name_their_actor() {
    let server = TestServer::start(&[]).await;
    let alpha = world(&server, "alpha").await;
    let store = &server.test.store;
    let conversation = alpha.id("conversations").to_string();
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let stored = async || -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM messages")
            .fetch_one(store.db().reader())
            .await
            .unwrap()
    };
    let before = stored().await;
    for (bad, code) in [
        (json!({}), "invalid_body"),
        (json!({"body": "   "}), "invalid_body"),
        (json!({"body": "x".repeat(4097)}), "invalid_body"),
        (
            json!({"body": "hi", "attachments": ["ftp://example.com/a.png"]}),
            "invalid_attachments",
        ),
        (
            json!({"body": "hi", "attachments": ["https://example.com/a.png", "/etc/passwd"]}),
            "invalid_attachments",
        ),
    ] {
        let (status, body) = send(&server, Method::POST, &alpha.admin, &path, &bad).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some(code)),
            "{bad}: {body}"
        );
    }
    let (status, body) = send_keyed(
        &server,
        &alpha.admin,
        &path,
        "two words",
        &json!({"body": "hi"}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_idempotency_key"))
    );
    assert_eq!(stored().await, before, "refused sends store nothing");

    // A user sends as `agent`; the deliver job is queued with it.
    let agent = signed_in(&server, &alpha, "agent").await;
    let (status, first) = send_keyed(
        &server,
        &agent,
        &path,
        "order-42",
        &json!({"body": "Your order shipped", "attachments": ["https://example.com/label.pdf"]}),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["actor"], "agent");
    assert_eq!(first["status"], "pending");
    assert_eq!(first["direction"], "outbound");
    assert_eq!(
        first["attachments"],
        json!(["https://example.com/label.pdf"])
    );
    let id = first["id"].as_str().unwrap();
    assert_eq!(deliver_jobs_of(store, id).await, 1);
    // The same key again: the first message, nothing new.
    let (status, repeat) = send_keyed(
        &server,
        &agent,
        &path,
        "order-42",
        &json!({"body": "Your order shipped"}),
    )
    .await;
    assert_eq!((status, repeat["id"].as_str()), (200, Some(id)));
    assert_eq!(deliver_jobs_of(store, id).await, 1);
    assert_eq!(stored().await, before + 1);
    let (_, timeline) = get(
        &server,
        &alpha.admin,
        &format!("/api/v1/messages/{id}/timeline"),
    )
    .await;
    assert_eq!(timeline["entries"][1]["kind"], "api.received");

    // A line no longer active takes no sends.
    sqlx::query("UPDATE channels SET status = 'disabled' WHERE id = $1")
        .bind(alpha.id("channels"))
        .execute(store.db().writer())
        .await
        .unwrap();
    let (status, body) = send(&server, Method::POST, &agent, &path, &json!({"body": "hi"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("channel_inactive"))
    );
    sqlx::query("UPDATE channels SET status = 'active' WHERE id = $1")
        .bind(alpha.id("channels"))
        .execute(store.db().writer())
        .await
        .unwrap();

    // An API key sends as `system`.
    let key = "Bearer sb_0000000alpha_secret";
    let (status, by_key) = send(
        &server,
        Method::POST,
        key,
        &path,
        &json!({"body": "Automated reminder"}),
    )
    .await;
    assert_eq!(
        (status, by_key["actor"].as_str()),
        (201, Some("system")),
        "{by_key}"
    );
    server.stop().await;
}
