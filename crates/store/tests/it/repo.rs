//! Repositories: tenant scope, sealed secrets, dedupe, consent, status.

use std::collections::BTreeMap;

use domain::{Actor, Direction, MessageStatus, Provider};
use serde_json::json;
use store::queue::NewJob;
use store::repo::{
    Agency, Channel, ConsentChange, Conversation, Location, NewChannel, NewLocation, NewMessage,
};
use store::testing::TestStore;
use store::{Store, StoreError, TenantScope};

pub(crate) struct Tenant {
    pub agency: Agency,
    pub location: Location,
    pub channel: Channel,
}

pub(crate) async fn tenant(store: &Store, name: &str, line: &str) -> Tenant {
    let mut tx = store.begin().await.unwrap();
    let agency = store
        .upsert_agency(&mut tx, name, Some(&format!("company-{name}")))
        .await
        .unwrap();
    let location = store
        .create_location(
            &mut tx,
            &agency,
            &NewLocation {
                ghl_location_id: format!("ghl-{name}"),
                name: name.into(),
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
                line: line.into(),
                credentials: BTreeMap::from([("api_secret_key".to_string(), format!("sk-{name}"))]),
                api_base: None,
                settings: json!({}),
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    Tenant {
        agency,
        location,
        channel,
    }
}

pub(crate) async fn conversation(store: &Store, channel: &Channel, phone: &str) -> Conversation {
    let mut tx = store.begin().await.unwrap();
    let contact = store
        .contact_for_handle(&mut tx, channel, phone)
        .await
        .unwrap();
    let conversation = store
        .conversation_for(&mut tx, channel, &contact)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    conversation
}

fn inbound(provider_id: &str) -> NewMessage {
    NewMessage {
        direction: Direction::Inbound,
        actor: Actor::Contact,
        body: "hi".into(),
        attachments: vec![],
        status: MessageStatus::Delivered,
        provider_message_id: Some(provider_id.into()),
        ghl_message_id: None,
    }
}

#[tokio::test]
async fn another_tenants_rows_read_exactly_like_missing_ones() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let b = tenant(store, "b", "+15550000002").await;
    let conv = conversation(store, &a.channel, "+15551110000").await;
    let mut tx = store.begin().await.unwrap();
    let msg = store
        .insert_message(&mut tx, &conv, &a.agency.id, &inbound("p1"))
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();

    let scope_a = TenantScope::for_agency(&a.agency);
    let scope_b = TenantScope::for_agency(&b.agency);
    assert_eq!(
        store.location(&scope_a, &a.location.id).await.unwrap(),
        a.location
    );
    assert_eq!(
        store.channel(&scope_a, &a.channel.id).await.unwrap(),
        a.channel
    );
    assert_eq!(store.message(&scope_a, &msg.id).await.unwrap(), msg);
    assert_eq!(
        store
            .message_timeline(&scope_a, &msg.id)
            .await
            .unwrap()
            .len(),
        1
    );

    assert!(matches!(
        store.location(&scope_b, &a.location.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.channel(&scope_b, &a.channel.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.message(&scope_b, &msg.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.message_timeline(&scope_b, &msg.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.contact(&scope_b, &conv.contact_id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.location_tokens(&scope_b, &a.location.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.locations(&scope_b).await.unwrap(),
        vec![b.location.clone()]
    );
    let missing = domain::MessageId::new();
    assert!(matches!(
        store.message(&scope_a, &missing).await,
        Err(StoreError::NotFound)
    ));

    // Writes through another tenant's scope change nothing.
    let mut tx = store.begin().await.unwrap();
    let denied = store
        .set_location_tokens(&mut tx, &scope_b, &a.location.id, "x", "y", None)
        .await;
    assert!(matches!(denied, Err(StoreError::NotFound)));
    let denied = store
        .record_consent(
            &mut tx,
            &scope_b,
            &conv.contact_id,
            ConsentChange::OptOut,
            "test",
            "",
        )
        .await;
    assert!(matches!(denied, Err(StoreError::NotFound)));
    tx.commit().await.unwrap();
    assert!(
        !store
            .contact(&scope_a, &conv.contact_id)
            .await
            .unwrap()
            .opted_out
    );
}

#[tokio::test]
async fn a_location_scope_sees_only_its_location() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let mut tx = store.begin().await.unwrap();
    let second = store
        .create_location(
            &mut tx,
            &a.agency,
            &NewLocation {
                ghl_location_id: "ghl-a2".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let narrow = TenantScope::for_location(&second);
    assert!(matches!(
        store.location(&narrow, &a.location.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.channel(&narrow, &a.channel.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.locations(&narrow).await.unwrap(),
        vec![second.clone()]
    );
    assert_eq!(
        store
            .locations(&TenantScope::for_agency(&a.agency))
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn tokens_and_credentials_are_sealed_at_rest() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let scope = TenantScope::for_location(&a.location);
    let mut tx = store.begin().await.unwrap();
    store
        .set_location_tokens(
            &mut tx,
            &scope,
            &a.location.id,
            "access-XYZ",
            "refresh-XYZ",
            Some(42),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let raw: (String, String) =
        sqlx::query_as("SELECT access_token_enc, refresh_token_enc FROM locations WHERE id = $1")
            .bind(a.location.id.as_str())
            .fetch_one(store.db().reader())
            .await
            .unwrap();
    assert!(raw.0.starts_with("v1.") && !raw.0.contains("XYZ") && !raw.1.contains("XYZ"));
    let creds: String = sqlx::query_scalar("SELECT credentials_enc FROM channels WHERE id = $1")
        .bind(a.channel.id.as_str())
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    assert!(!creds.contains("sk-a"));

    use secrecy::ExposeSecret;
    let tokens = store.location_tokens(&scope, &a.location.id).await.unwrap();
    assert_eq!(tokens.access_token.expose_secret(), "access-XYZ");
    assert_eq!(tokens.refresh_token.expose_secret(), "refresh-XYZ");
    assert_eq!(tokens.expires_at_ms, Some(42));
    let opened = store.channel_credentials(&a.channel).await.unwrap();
    assert_eq!(opened["api_secret_key"], "sk-a");

    // A sealed value moved to another row does not open there.
    let b = tenant(store, "b", "+15550000002").await;
    sqlx::query("UPDATE channels SET credentials_enc = $1 WHERE id = $2")
        .bind(&creds)
        .bind(b.channel.id.as_str())
        .execute(store.db().writer())
        .await
        .unwrap();
    assert!(matches!(
        store.channel_credentials(&b.channel).await,
        Err(StoreError::Secret(_))
    ));
}

#[tokio::test]
async fn duplicates_are_refused_by_unique_keys() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    // Re-install: the same GHL company gives the same agency.
    let mut tx = store.begin().await.unwrap();
    let again = store
        .upsert_agency(&mut tx, "a", Some("company-a"))
        .await
        .unwrap();
    assert_eq!(again.id, a.agency.id);
    let dup = store
        .create_location(
            &mut tx,
            &a.agency,
            &NewLocation {
                ghl_location_id: "ghl-a".into(),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))));
    drop(tx);

    // The same inbound provider message stored twice: stored once, job enqueued once.
    let conv = conversation(store, &a.channel, "+15551110000").await;
    for _ in 0..2 {
        let mut tx = store.begin().await.unwrap();
        if let Some(msg) = store
            .insert_message(&mut tx, &conv, &a.agency.id, &inbound("sb-123"))
            .await
            .unwrap()
        {
            store
                .queue()
                .enqueue(
                    &mut tx,
                    NewJob::new("sync_inbound", json!({"message": msg.id})),
                )
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    let counts: (i64, i64) =
        sqlx::query_as("SELECT (SELECT COUNT(*) FROM messages), (SELECT COUNT(*) FROM jobs)")
            .fetch_one(store.db().reader())
            .await
            .unwrap();
    assert_eq!(counts, (1, 1));

    let mut tx = store.begin().await.unwrap();
    assert!(store
        .record_webhook_receipt(&mut tx, "ghl", "wh-1", Some(&a.agency.id))
        .await
        .unwrap());
    assert!(!store
        .record_webhook_receipt(&mut tx, "ghl", "wh-1", Some(&a.agency.id))
        .await
        .unwrap());
    assert!(store
        .record_webhook_receipt(&mut tx, "stripe", "wh-1", None)
        .await
        .unwrap());
    store
        .audit(
            &mut tx,
            Some(&a.agency.id),
            "operator",
            "channel.create",
            Some(a.channel.id.as_str()),
            json!({}),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn consent_changes_are_logged_with_the_flag() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let conv = conversation(store, &a.channel, "+15551110000").await;
    let scope = TenantScope::for_location(&a.location);
    let mut tx = store.begin().await.unwrap();
    store
        .record_consent(
            &mut tx,
            &scope,
            &conv.contact_id,
            ConsentChange::OptOut,
            "keyword:STOP",
            "",
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(
        store
            .contact(&scope, &conv.contact_id)
            .await
            .unwrap()
            .opted_out
    );
    let mut tx = store.begin().await.unwrap();
    store
        .record_consent(
            &mut tx,
            &scope,
            &conv.contact_id,
            ConsentChange::OptIn,
            "keyword:START",
            "",
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(
        !store
            .contact(&scope, &conv.contact_id)
            .await
            .unwrap()
            .opted_out
    );
    let log = store.consent_log(&scope, &conv.contact_id).await.unwrap();
    let kinds: Vec<_> = log
        .iter()
        .map(|(k, s, _)| (k.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![("opt_out", "keyword:STOP"), ("opt_in", "keyword:START")]
    );
}

#[tokio::test]
async fn status_only_moves_forward_and_every_change_is_on_the_timeline() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let conv = conversation(store, &a.channel, "+15551110000").await;
    let mut tx = store.begin().await.unwrap();
    let mut outbound = inbound("unused");
    outbound.direction = Direction::Outbound;
    outbound.actor = Actor::Agent;
    outbound.status = MessageStatus::Pending;
    outbound.provider_message_id = None;
    outbound.ghl_message_id = Some("ghl-msg-1".into());
    let msg = store
        .insert_message(&mut tx, &conv, &a.agency.id, &outbound)
        .await
        .unwrap()
        .unwrap();
    let mut applied = Vec::new();
    for report in [
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Read,
    ] {
        applied.push(
            store
                .advance_message_status(&mut tx, &msg, &a.agency.id, report, None)
                .await
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    assert_eq!(
        applied,
        vec![
            Some(MessageStatus::Sent),
            Some(MessageStatus::Delivered),
            None,
            None,
            Some(MessageStatus::Read)
        ]
    );
    let scope = TenantScope::for_agency(&a.agency);
    assert_eq!(
        store.message(&scope, &msg.id).await.unwrap().status,
        MessageStatus::Read
    );
    let kinds: Vec<String> = store
        .message_timeline(&scope, &msg.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec!["created", "status", "status", "status"]);
}

#[tokio::test]
async fn a_channel_is_repointed_only_within_its_scope() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let b = tenant(store, "b", "+15550000002").await;
    let scope_a = TenantScope::for_location(&a.location);
    let scope_b = TenantScope::for_location(&b.location);

    let mut tx = store.begin().await.unwrap();
    let moved = store
        .set_channel_api_base(
            &mut tx,
            &scope_a,
            &a.channel.id,
            Some("http://sandbox.invalid/sendblue"),
        )
        .await
        .unwrap();
    let denied = store
        .set_channel_api_base(
            &mut tx,
            &scope_b,
            &a.channel.id,
            Some("http://evil.invalid"),
        )
        .await;
    assert!(matches!(denied, Err(StoreError::NotFound)));
    tx.commit().await.unwrap();
    assert_eq!(
        moved.api_base.as_deref(),
        Some("http://sandbox.invalid/sendblue")
    );
    let read = store.channel(&scope_a, &a.channel.id).await.unwrap();
    assert_eq!(read, moved);
    assert_eq!(read.line, a.channel.line);
    assert_eq!(read.settings, a.channel.settings);
    // The credentials are untouched.
    assert_eq!(
        store.channel_credentials(&read).await.unwrap(),
        store.channel_credentials(&a.channel).await.unwrap()
    );

    // Back to the provider's default.
    let mut tx = store.begin().await.unwrap();
    let reset = store
        .set_channel_api_base(&mut tx, &scope_a, &a.channel.id, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(reset.api_base, None);
    assert_eq!(
        store
            .channel(&scope_a, &a.channel.id)
            .await
            .unwrap()
            .api_base,
        None
    );
}

#[tokio::test]
async fn a_message_is_found_by_its_external_ids_only_within_its_scope() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let b = tenant(store, "b", "+15550000002").await;
    let conv = conversation(store, &a.channel, "+15551110000").await;
    let mut tx = store.begin().await.unwrap();
    let msg = store
        .insert_message(&mut tx, &conv, &a.agency.id, &inbound("p1"))
        .await
        .unwrap()
        .unwrap();
    store
        .set_ghl_message_id(&mut tx, &msg.id, "ghl-m1")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let scope_a = TenantScope::for_location(&a.location);
    let scope_b = TenantScope::for_agency(&b.agency);

    assert_eq!(
        store
            .message_id_by_provider_id(&scope_a, &a.channel.id, "p1")
            .await
            .unwrap(),
        Some(msg.id.clone())
    );
    assert_eq!(
        store
            .message_id_by_ghl_id(&scope_a, "ghl-m1")
            .await
            .unwrap(),
        Some(msg.id.clone())
    );
    // Unknown ids, another channel, another tenant: nothing.
    assert_eq!(
        store
            .message_id_by_provider_id(&scope_a, &a.channel.id, "p2")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .message_id_by_provider_id(&scope_a, &b.channel.id, "p1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .message_id_by_provider_id(&scope_b, &a.channel.id, "p1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .message_id_by_ghl_id(&scope_b, "ghl-m1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .message_id_by_ghl_id(&scope_a, "ghl-m2")
            .await
            .unwrap(),
        None
    );
}
