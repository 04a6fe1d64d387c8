//! Contacts, consent events and GDPR erasure through the API.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use store::repo::{ConsentChange, NewMessage};
use store::TenantScope;

use super::super::auth::{bearer, session, user};
use super::{get, send, world, World};
use crate::TestServer;

/// The ids of a page's items.
pub(super) fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {page}"))
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// Every id of a list, `limit` at a time, calling `between` after the first page.
pub(super) async fn walk(
    server: &TestServer,
    auth: &str,
    path: &str,
    limit: u32,
    between: impl AsyncFnOnce(),
) -> Vec<String> {
    let join = if path.contains('?') { '&' } else { '?' };
    let (status, first) = get(server, auth, &format!("{path}{join}limit={limit}")).await;
    assert_eq!(status, 200, "{path}: {first}");
    let mut all = ids(&first);
    between().await;
    let mut cursor = first["next_cursor"].as_str().map(str::to_string);
    while let Some(c) = cursor {
        let (status, page) = get(
            server,
            auth,
            &format!("{path}{join}limit={limit}&cursor={c}"),
        )
        .await;
        assert_eq!(status, 200, "{page}");
        assert!(ids(&page).len() <= limit as usize);
        all.extend(ids(&page));
        cursor = page["next_cursor"].as_str().map(str::to_string);
    }
    all
}

/// A signed-in user of `role` at the world's location.
pub(super) async fn signed_in(server: &TestServer, world: &World, role: &str) -> String {
    let email = format!("{role}@{}.test", world.tenant.agency.name);
    user(server, &email, role, Some(&world.tenant)).await;
    bearer(
        session(server, &email).await["access_token"]
            .as_str()
            .unwrap(),
    )
}

pub(super) async fn channel(server: &TestServer, world: &World) -> store::repo::Channel {
    let scope = TenantScope::for_location(&world.tenant.location);
    server
        .test
        .store
        .channel(&scope, &world.id("channels").parse().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn contacts_page_by_a_stable_cursor_and_filter() {
    let server = TestServer::start(&[]).await;
    let alpha = world(&server, "alpha").await;
    let store = &server.test.store;
    let line = channel(&server, &alpha).await;
    let add = async |phone: &str| {
        tokio::time::sleep(Duration::from_millis(3)).await;
        let mut tx = store.begin().await.unwrap();
        let c = store
            .contact_for_handle(&mut tx, &line, phone)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        c
    };
    let mut made = Vec::new();
    for n in 1..=4 {
        made.push(add(&format!("+1555000200{n}")).await);
    }
    sqlx::query("UPDATE contacts SET name = 'Zelda Quinn' WHERE id = $1")
        .bind(made[0].id.as_str())
        .execute(store.db().writer())
        .await
        .unwrap();
    let mut late = None;
    let all = walk(&server, &alpha.admin, "/api/v1/contacts", 2, async || {
        late = Some(add("+15550002099").await);
    })
    .await;
    let mut expected: Vec<String> = made.iter().rev().map(|c| c.id.to_string()).collect();
    expected.push(alpha.id("contacts").to_string());
    assert_eq!(
        all, expected,
        "newest first, each once, none that arrived meanwhile"
    );
    assert!(!all.contains(&late.unwrap().id.to_string()));

    let count = async |query: &str| {
        let (status, page) = get(&server, &alpha.admin, &format!("/api/v1/contacts?{query}")).await;
        assert_eq!(status, 200, "{query}: {page}");
        ids(&page).len()
    };
    assert_eq!(count("q=%2B1555000200").await, 4);
    assert_eq!(count("q=ELDA").await, 1, "any part of the name, any case");
    assert_eq!(
        count("q=5550002").await,
        0,
        "phone numbers match from their start"
    );
    assert_eq!(count("q=%25").await, 0, "a % is a literal");
    assert_eq!(count("opted_out=true").await, 1);
    assert_eq!(count("opted_out=false").await, 5);
    let location = alpha.id("locations");
    assert_eq!(count(&format!("location_id={location}")).await, 6);
    for bad in [
        "opted_out=maybe",
        "limit=0",
        &format!("q={}", "x".repeat(101)),
    ] {
        let (status, body) = get(&server, &alpha.admin, &format!("/api/v1/contacts?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, _) = get(
        &server,
        &alpha.admin,
        "/api/v1/contacts?location_id=loc_nope",
    )
    .await;
    assert_eq!(status, 404);

    // Consent events: the world's contact said STOP.
    let (status, page) = get(&server, &alpha.admin, "/api/v1/consent-events").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"][0]["kind"], "opt_out");
    assert_eq!(page["items"][0]["detail"], "STOP");
    let contact = alpha.id("contacts");
    for (query, n) in [
        ("kind=opt_in".to_string(), 0),
        ("kind=opt_out".to_string(), 1),
        (format!("contact_id={contact}"), 1),
        (format!("contact_id={}", made[0].id), 0),
    ] {
        let (status, page) = get(
            &server,
            &alpha.admin,
            &format!("/api/v1/consent-events?{query}"),
        )
        .await;
        assert_eq!((status, ids(&page).len()), (200, n), "{query}");
    }
    let (status, body) = get(&server, &alpha.admin, "/api/v1/consent-events?kind=maybe").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_kind")));
    let (status, page) = get(
        &server,
        &alpha.admin,
        &format!("/api/v1/contacts/{contact}/consent-events"),
    )
    .await;
    assert_eq!((status, ids(&page).len()), (200, 1));
    server.stop().await;
}

#[tokio::test]
async fn erase_removes_personal_data_from_every_answer_and_keeps_the_opt_out() {
    let media = tempfile::tempdir().unwrap();
    let media_url = format!("file://{}", media.path().display());
    let server = TestServer::start(&[("SWITCHBOARD_OBJECT_STORE_URL", &media_url)]).await;
    let alpha = world(&server, "alpha").await;
    let store = &server.test.store;
    let scope = TenantScope::for_location(&alpha.tenant.location);
    let line = channel(&server, &alpha).await;
    let contact = alpha.id("contacts").to_string();
    let conversation = alpha.id("conversations").to_string();
    let phone = "+15550001111";
    // A message with an attachment, and a timeline detail that quotes the number.
    let conv = store
        .conversation(&scope, &conversation.parse().unwrap())
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    let sent = store
        .insert_message(
            &mut tx,
            &conv,
            &alpha.tenant.agency.id,
            &NewMessage {
                direction: domain::Direction::Outbound,
                actor: domain::Actor::Agent,
                body: "Your table is ready, Ann".into(),
                attachments: vec!["https://media.example/menu.png".into()],
                status: domain::MessageStatus::Pending,
                provider_message_id: None,
                ghl_message_id: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
    store
        .append_message_event(
            &mut tx,
            &alpha.tenant.agency.id,
            &sent.id,
            "send.failed",
            json!({"attempt": 1, "error": format!("{phone} is unreachable")}),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let path = format!("/api/v1/contacts/{contact}/erase");
    // The inbound message's stored attachment, where the media store keeps it.
    let folder = media.path().join(format!(
        "{}/{}/{}",
        alpha.tenant.agency.id,
        alpha.tenant.location.id,
        alpha.id("messages")
    ));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("0-photo.jpg"), b"jpeg").unwrap();

    // An agent may not erase; nothing changes.
    let agent = super::contacts::signed_in(&server, &alpha, "agent").await;
    let (status, body) = send(&server, Method::POST, &agent, &path, &Value::Null).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (_, still) = get(
        &server,
        &alpha.admin,
        &format!("/api/v1/contacts/{contact}"),
    )
    .await;
    assert_eq!(still["phone"], phone);

    let (status, erased) = send(&server, Method::POST, &alpha.admin, &path, &Value::Null).await;
    assert_eq!(status, 200, "{erased}");
    assert!(
        erased["phone"].is_null() && erased["email"].is_null(),
        "{erased}"
    );
    assert_eq!(erased["name"], "");
    assert_eq!(erased["opted_out"], true);
    assert!(erased["erased_at"].is_i64());
    assert!(
        !folder.join("0-photo.jpg").exists(),
        "the stored media is deleted"
    );
    let (status, again) = send(&server, Method::POST, &alpha.admin, &path, &Value::Null).await;
    assert_eq!(
        (status, &again),
        (200, &erased),
        "erasing twice answers the same"
    );

    let message = alpha.id("messages");
    let mut answers = String::new();
    for read in [
        format!("/api/v1/contacts/{contact}"),
        "/api/v1/contacts".to_string(),
        format!("/api/v1/contacts/{contact}/consent-events"),
        "/api/v1/consent-events".to_string(),
        format!("/api/v1/conversations/{conversation}/messages"),
        format!("/api/v1/messages/{message}"),
        format!("/api/v1/messages/{message}/timeline"),
        format!("/api/v1/messages/{}", sent.id),
        format!("/api/v1/messages/{}/timeline", sent.id),
    ] {
        let (status, body) = get(&server, &alpha.admin, &read).await;
        assert_eq!(status, 200, "{read}: {body}");
        answers.push_str(&body.to_string());
    }
    for personal in [
        phone,
        "hello from alpha",
        "table is ready",
        "menu.png",
        "STOP",
        "unreachable",
    ] {
        assert!(
            !answers.contains(personal),
            "{personal} is still readable: {answers}"
        );
    }
    // The records stay: statuses, and the timeline's steps.
    let (_, timeline) = get(
        &server,
        &alpha.admin,
        &format!("/api/v1/messages/{}/timeline", sent.id),
    )
    .await;
    let kinds: Vec<&str> = timeline["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["created", "send.failed"]);
    assert_eq!(
        timeline["entries"][1]["detail"],
        json!({"attempt": 1, "erased": true})
    );

    // Audited, without the data.
    let entries = store.audit_entries(&scope, 10).await.unwrap();
    let audit: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "contact.erased")
        .collect();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].target.as_deref(), Some(contact.as_str()));
    assert!(!audit[0].detail.to_string().contains(phone));

    // The same number comes back: a new contact, opted out from the start.
    let mut tx = store.begin().await.unwrap();
    let back = store
        .contact_for_handle(&mut tx, &line, phone)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_ne!(back.id.to_string(), contact);
    assert!(back.opted_out);
    let (_, log) = get(
        &server,
        &alpha.admin,
        &format!("/api/v1/contacts/{}/consent-events", back.id),
    )
    .await;
    assert_eq!(log["items"][0]["source"], "suppression");
    assert!(store.is_suppressed(&line.location_id, phone).await.unwrap());
    // Opting in again lifts it.
    let mut tx = store.begin().await.unwrap();
    store
        .record_consent(
            &mut tx,
            &scope,
            &back.id,
            ConsentChange::OptIn,
            "test",
            "START",
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(!store.is_suppressed(&line.location_id, phone).await.unwrap());
    server.stop().await;
}
