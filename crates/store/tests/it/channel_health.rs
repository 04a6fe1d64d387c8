//! A line's activity for the channels page, and the test send that finds or makes the
//! contact and conversation on the line together with the message and its job.

use std::time::Duration;

use domain::{Actor, Direction, MessageStatus};
use store::queue::NewJob;
use store::repo::{ApiSend, ApiSent, ChannelActivity, NewMessage};
use store::testing::TestStore;
use store::{Clock, StoreError, TenantScope};

use crate::repo::{conversation, tenant};

fn message(direction: Direction, provider_id: &str) -> NewMessage {
    NewMessage {
        direction,
        actor: if direction == Direction::Inbound {
            Actor::Contact
        } else {
            Actor::Agent
        },
        body: "hi".into(),
        attachments: vec![],
        status: if direction == Direction::Inbound {
            MessageStatus::Delivered
        } else {
            MessageStatus::Pending
        },
        provider_message_id: Some(provider_id.into()),
        ghl_message_id: None,
    }
}

#[tokio::test]
async fn a_lines_last_inbound_and_last_send_follow_its_own_messages_only() {
    let clock = Clock::manual();
    let test = TestStore::with_clock(clock.clone()).await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let b = tenant(store, "b", "+15550000002").await;
    let scope_a = TenantScope::for_channel(&a.channel);
    let scope_b = TenantScope::for_channel(&b.channel);
    let start = store.now_ms();
    assert_eq!(
        store
            .channel_activity(&scope_a, &a.channel.id)
            .await
            .unwrap(),
        ChannelActivity::default(),
        "a new line was never active"
    );

    let conv = conversation(store, &a.channel, "+15551110000").await;
    let mut tx = store.begin().await.unwrap();
    store
        .insert_message(
            &mut tx,
            &conv,
            &a.agency.id,
            &message(Direction::Inbound, "in-1"),
        )
        .await
        .unwrap();
    let out = store
        .insert_message(
            &mut tx,
            &conv,
            &a.agency.id,
            &message(Direction::Outbound, "out-1"),
        )
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    let seen = store
        .channel_activity(&scope_a, &a.channel.id)
        .await
        .unwrap();
    assert_eq!(seen.last_inbound_at, Some(start));
    assert_eq!(seen.last_sent_at, None, "a pending message is not a send");

    clock.advance(Duration::from_secs(5));
    let mut tx = store.begin().await.unwrap();
    store
        .advance_message_status(&mut tx, &out, &a.agency.id, MessageStatus::Sent, None)
        .await
        .unwrap();
    store
        .insert_message(
            &mut tx,
            &conv,
            &a.agency.id,
            &message(Direction::Inbound, "in-2"),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let seen = store
        .channel_activity(&scope_a, &a.channel.id)
        .await
        .unwrap();
    assert_eq!(seen.last_inbound_at, Some(start + 5_000));
    assert_eq!(seen.last_sent_at, Some(start + 5_000));

    // Another tenant's line: its own activity is nothing, and a's line read through b's
    // scope shows nothing either.
    assert_eq!(
        store
            .channel_activity(&scope_b, &b.channel.id)
            .await
            .unwrap(),
        ChannelActivity::default()
    );
    assert_eq!(
        store
            .channel_activity(&scope_b, &a.channel.id)
            .await
            .unwrap(),
        ChannelActivity::default()
    );
}

fn job(accepted: &store::repo::AcceptedOutbound) -> NewJob {
    NewJob::new(
        "deliver",
        serde_json::json!({"message_id": accepted.message_id}),
    )
}

#[tokio::test]
async fn a_send_on_a_line_finds_or_makes_the_conversation_with_its_message_and_job() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let scope = TenantScope::for_channel(&a.channel);
    let send = |key| ApiSend {
        message_id: None,
        body: "test from the dashboard",
        attachments: &[],
        actor: Actor::Agent,
        caller: "user:usr_test",
        idempotency_key: key,
    };

    let (first, sent) = store
        .send_on_line(&scope, &a.channel, "+15551112222", &send(Some("k1")), &job)
        .await
        .unwrap();
    let ApiSent::Created(message) = sent else {
        panic!("a first send is created");
    };
    assert_eq!(first.channel_id, a.channel.id);
    assert_eq!(message.conversation_id, first.id);
    assert_eq!(message.actor, Actor::Agent);
    let (again, sent) = store
        .send_on_line(&scope, &a.channel, "+15551112222", &send(None), &job)
        .await
        .unwrap();
    assert_eq!(
        again.id, first.id,
        "the same contact's conversation is found"
    );
    assert!(matches!(sent, ApiSent::Created(_)));
    let (_, repeated) = store
        .send_on_line(&scope, &a.channel, "+15551112222", &send(Some("k1")), &job)
        .await
        .unwrap();
    assert_eq!(
        repeated,
        ApiSent::Repeated(message),
        "a repeated key sends once"
    );
    let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'deliver'")
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    assert_eq!(jobs, 2, "one job per message stored");

    // A key used in another conversation is refused, and the new contact and
    // conversation made for it are rolled back with the message.
    let refused = store
        .send_on_line(&scope, &a.channel, "+15553334444", &send(Some("k1")), &job)
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused:?}");
    let contacts: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE phone = '+15553334444'")
            .fetch_one(store.db().reader())
            .await
            .unwrap();
    assert_eq!(contacts, 0);
}
