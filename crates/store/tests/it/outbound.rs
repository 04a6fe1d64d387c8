//! GHL's outbound messages accepted in groups (`Store::accept_outbound`).

use std::collections::BTreeMap;

use domain::{Actor, Direction, MessageStatus, Provider};
use serde_json::json;
use store::queue::NewJob;
use store::repo::{
    AcceptedOutbound, Channel, NewChannel, NewMessage, OutboundOutcome, OutboundRequest,
};
use store::testing::TestStore;
use store::{Store, TenantScope};

use crate::repo::{tenant, Tenant};

const SOURCE: &str = "ghl:provider";

fn job(accepted: &AcceptedOutbound) -> NewJob {
    NewJob::new("deliver", json!({"message_id": accepted.message_id}))
        .ordered_by(accepted.conversation.id.as_str())
}

fn request(t: &Tenant, ghl_contact: &str, phone: &str, ghl_message: &str) -> OutboundRequest {
    OutboundRequest {
        ghl_location_id: t.location.ghl_location_id.clone(),
        webhook_id: None,
        ghl_contact_id: ghl_contact.into(),
        phone: phone.into(),
        message: NewMessage {
            direction: Direction::Outbound,
            actor: Actor::Agent,
            body: format!("body of {ghl_message}"),
            attachments: vec![],
            status: MessageStatus::Pending,
            provider_message_id: None,
            ghl_message_id: Some(ghl_message.into()),
        },
        received: json!({"source": "ghl", "ghl_message_id": ghl_message}),
    }
}

fn accepted(outcome: &OutboundOutcome) -> &AcceptedOutbound {
    match outcome {
        OutboundOutcome::Accepted(a) => a,
        other => panic!("expected accepted, got {other:?}"),
    }
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.db().reader())
        .await
        .unwrap()
}

async fn second_line(store: &Store, t: &Tenant) -> Channel {
    let mut tx = store.begin().await.unwrap();
    let channel = store
        .create_channel(
            &mut tx,
            &t.location,
            &NewChannel {
                provider: Provider::Sendblue,
                line: "+15550000002".into(),
                credentials: BTreeMap::new(),
                api_base: None,
                settings: json!({}),
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    channel
}

#[tokio::test]
async fn a_group_stores_each_new_message_once_with_its_timeline_and_job() {
    let test = TestStore::new().await;
    let store = &test.store;
    let t = tenant(store, "group", "+15550000001").await;
    // Stored before: a message GHL now delivers again.
    let before = store
        .accept_outbound(
            SOURCE,
            &[request(&t, "c-old", "+15551110000", "m-old")],
            &job,
        )
        .await
        .unwrap();
    let old_conversation = accepted(&before[0]).conversation.clone();

    let mut repeated_webhook = request(&t, "c-new", "+15551110001", "m-3");
    repeated_webhook.webhook_id = Some("wh-1".into());
    let mut repeated_webhook_again = request(&t, "c-new", "+15551110001", "m-3-again");
    repeated_webhook_again.webhook_id = Some("wh-1".into());
    let group = vec![
        request(&t, "c-new", "+15551110001", "m-1"), // a new contact
        request(&t, "c-new", "+15551110001", "m-2"), // the same new contact again
        request(&t, "c-old", "+15551110000", "m-4"), // a known contact
        request(&t, "c-old", "+15551110000", "m-old"), // stored before
        request(&t, "c-new", "+15551110001", "m-1"), // repeated in the group
        repeated_webhook,
        repeated_webhook_again, // same webhookId, another message id
    ];
    let outcomes = store.accept_outbound(SOURCE, &group, &job).await.unwrap();
    let kinds: Vec<bool> = outcomes
        .iter()
        .map(|o| matches!(o, OutboundOutcome::Accepted(_)))
        .collect();
    assert_eq!(kinds, [true, true, true, false, false, true, false]);
    // One contact and one conversation for the new contact, mapped to GHL's id.
    let new_conversation = &accepted(&outcomes[0]).conversation;
    assert_eq!(&accepted(&outcomes[1]).conversation, new_conversation);
    assert_eq!(&accepted(&outcomes[5]).conversation, new_conversation);
    assert_eq!(accepted(&outcomes[2]).conversation.id, old_conversation.id);
    let mut tx = store.begin().await.unwrap();
    let contact = store
        .contact_by_ghl_id(&mut tx, &t.location.id, "c-new")
        .await
        .unwrap()
        .unwrap();
    drop(tx);
    assert_eq!(contact.phone.as_deref(), Some("+15551110001"));
    assert_eq!(new_conversation.contact_id, contact.id);
    // Five messages in all, each with two timeline entries and one job.
    assert_eq!(count(store, "SELECT COUNT(*) FROM messages").await, 5);
    assert_eq!(
        count(store, "SELECT COUNT(*) FROM jobs WHERE kind = 'deliver'").await,
        5
    );
    assert_eq!(count(store, "SELECT COUNT(*) FROM contacts").await, 2);
    assert_eq!(count(store, "SELECT COUNT(*) FROM conversations").await, 2);
    assert_eq!(
        count(
            store,
            "SELECT COUNT(*) FROM conversations WHERE last_message_at IS NULL"
        )
        .await,
        0
    );
    let scope = TenantScope::for_location(&t.location);
    let first = accepted(&outcomes[0]);
    let message = store.message(&scope, &first.message_id).await.unwrap();
    assert_eq!(message.status, MessageStatus::Pending);
    assert_eq!(message.body, "body of m-1");
    assert_eq!(message.channel_id, t.channel.id);
    let timeline: Vec<String> = store
        .message_timeline(&scope, &first.message_id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(timeline, ["created", "webhook.received"]);
}

#[tokio::test]
async fn a_contact_gets_the_line_it_last_talked_on() {
    let test = TestStore::new().await;
    let store = &test.store;
    let t = tenant(store, "lines", "+15550000001").await;
    let second = second_line(store, &t).await;
    // The contact wrote in on the second line.
    let inbound_conversation = crate::repo::conversation(store, &second, "+15551112222").await;
    let mut tx = store.begin().await.unwrap();
    store
        .link_ghl_contact(&mut tx, &inbound_conversation.contact_id, "c-2")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let outcomes = store
        .accept_outbound(
            SOURCE,
            &[
                request(&t, "c-2", "+15551112222", "m-a"),
                request(&t, "c-9", "+15551119999", "m-b"),
            ],
            &job,
        )
        .await
        .unwrap();
    assert_eq!(accepted(&outcomes[0]).conversation, inbound_conversation);
    // A contact we never talked to gets the location's first line.
    assert_eq!(accepted(&outcomes[1]).conversation.channel_id, t.channel.id);
}

#[tokio::test]
async fn a_failing_group_stores_nothing() {
    let test = TestStore::new().await;
    let store = &test.store;
    let t = tenant(store, "fails", "+15550000001").await;
    test.poison_timeline().await;
    let mut bad = request(&t, "c-1", "+15551110001", "m-2");
    bad.webhook_id = Some("wh-bad".into());
    bad.received = json!({"note": "poison"});
    let error = store
        .accept_outbound(
            SOURCE,
            &[request(&t, "c-1", "+15551110001", "m-1"), bad],
            &job,
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("poisoned"), "{error}");
    for table in [
        "messages",
        "jobs",
        "contacts",
        "conversations",
        "message_events",
        "webhook_receipts",
    ] {
        assert_eq!(
            count(store, &format!("SELECT COUNT(*) FROM {table}")).await,
            0,
            "{table}"
        );
    }
}

#[tokio::test]
async fn unknown_locations_and_locations_without_a_line_are_told_apart() {
    let test = TestStore::new().await;
    let store = &test.store;
    let t = tenant(store, "known", "+15550000001").await;
    let mut tx = store.begin().await.unwrap();
    let lineless = store
        .create_location(
            &mut tx,
            &t.agency,
            &store::repo::NewLocation {
                ghl_location_id: "ghl-lineless".into(),
                name: "No lines".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut unknown = request(&t, "c-1", "+15551110001", "m-1");
    unknown.ghl_location_id = "ghl-nowhere".into();
    let mut no_line = request(&t, "c-1", "+15551110001", "m-2");
    no_line.ghl_location_id = "ghl-lineless".into();
    no_line.webhook_id = Some("wh-1".into());
    let outcomes = store
        .accept_outbound(
            SOURCE,
            &[unknown, no_line, request(&t, "c-1", "+15551110001", "m-3")],
            &job,
        )
        .await
        .unwrap();
    assert_eq!(outcomes[0], OutboundOutcome::UnknownLocation);
    assert_eq!(outcomes[1], OutboundOutcome::NoChannel(lineless));
    accepted(&outcomes[2]);
    assert_eq!(count(store, "SELECT COUNT(*) FROM messages").await, 1);
    // No receipt for the lineless one: its caller records the failure and the receipt.
    assert_eq!(
        count(store, "SELECT COUNT(*) FROM webhook_receipts").await,
        0
    );
}

/// Usage and cost read each message's SMS segments from its record, counted when stored,
/// on both insert paths (GHL's grouped outbound, a provider's inbound).
#[tokio::test]
async fn every_stored_message_counts_its_sms_segments() {
    let test = TestStore::new().await;
    let store = &test.store;
    let t = tenant(store, "segments", "+15550000001").await;
    let mut long = request(&t, "c-1", "+15551110000", "m-long");
    long.message.body = "a".repeat(161); // GSM-7: two segments of 153
    let mut emoji = request(&t, "c-1", "+15551110000", "m-emoji");
    emoji.message.body = "On my way 🚗".into(); // UCS-2: one segment
    let outcomes = store
        .accept_outbound(SOURCE, &[long, emoji], &job)
        .await
        .unwrap();
    let scope = TenantScope::for_channel(&t.channel);
    let long = store
        .message(&scope, &accepted(&outcomes[0]).message_id)
        .await
        .unwrap();
    let emoji = store
        .message(&scope, &accepted(&outcomes[1]).message_id)
        .await
        .unwrap();
    assert_eq!((long.sms_segments, emoji.sms_segments), (2, 1));

    let conversation = accepted(&outcomes[0]).conversation.clone();
    let mut tx = store.begin().await.unwrap();
    let inbound = store
        .insert_message(
            &mut tx,
            &conversation,
            &t.agency.id,
            &NewMessage {
                direction: Direction::Inbound,
                actor: Actor::Contact,
                body: "€".repeat(81), // extension characters: two septets each, 162 > 160
                attachments: vec![],
                status: MessageStatus::Delivered,
                provider_message_id: Some("p-1".into()),
                ghl_message_id: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(inbound.sms_segments, 2);
    assert_eq!(
        store
            .message(&scope, &inbound.id)
            .await
            .unwrap()
            .sms_segments,
        2
    );
}
