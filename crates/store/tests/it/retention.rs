//! Message retention at the store level: old messages lose their content and timeline
//! quotes, new ones keep them, a second pass changes nothing; unique jobs exist once.

use std::time::Duration;

use domain::{Actor, Direction, MessageStatus};
use serde_json::json;
use store::queue::{JobState, NewJob};
use store::repo::{ConsentChange, Message, NewMessage};
use store::testing::TestStore;
use store::{Clock, Store, TenantScope};

use crate::repo::{conversation, tenant, Tenant};

const DAY: Duration = Duration::from_secs(86_400);

/// An outbound message with an attachment that failed with an error quoting its text, and
/// a timeline entry quoting it too.
pub(crate) async fn failed_message(store: &Store, t: &Tenant, phone: &str, body: &str) -> Message {
    let conv = conversation(store, &t.channel, phone).await;
    let mut tx = store.begin().await.unwrap();
    let message = store
        .insert_message(
            &mut tx,
            &conv,
            &t.agency.id,
            &NewMessage {
                direction: Direction::Outbound,
                actor: Actor::Agent,
                body: body.into(),
                attachments: vec!["https://example.com/a.jpg".into()],
                status: MessageStatus::Pending,
                provider_message_id: None,
                ghl_message_id: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
    store
        .advance_message_status(
            &mut tx,
            &message,
            &t.agency.id,
            MessageStatus::Failed,
            Some(&format!("{phone} refused {body}")),
        )
        .await
        .unwrap();
    store
        .append_message_event(
            &mut tx,
            &t.agency.id,
            &message.id,
            "send.attempt",
            json!({"attempt": 1, "provider": "sendblue", "text": body}),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    message
}

/// Expires everything created before `cutoff` in batches of `batch`; returns how many.
pub(crate) async fn expire_all(store: &Store, cutoff: i64, batch: usize) -> u64 {
    let mut total = 0;
    loop {
        let ids: Vec<_> = store
            .messages_to_expire(cutoff, batch)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        let mut tx = store.begin().await.unwrap();
        let expired = store.expire_messages(&mut tx, &ids).await.unwrap();
        tx.commit().await.unwrap();
        if expired == 0 {
            return total;
        }
        total += expired;
    }
}

#[tokio::test]
async fn old_messages_lose_their_content_and_new_ones_keep_it() {
    let clock = Clock::manual();
    let test = TestStore::with_clock(clock.clone()).await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let scope = TenantScope::for_location(&a.location);
    let old = vec![
        failed_message(store, &a, "+15551110001", "old one").await,
        failed_message(store, &a, "+15551110002", "old two").await,
    ];
    clock.advance(10 * DAY);
    let cutoff = store.now_ms() - 5 * 86_400_000;
    let new = failed_message(store, &a, "+15551110003", "new one").await;

    let pending = store.messages_to_expire(cutoff, 500).await.unwrap();
    assert_eq!(
        pending.iter().map(|m| &m.id).collect::<Vec<_>>(),
        old.iter().map(|m| &m.id).collect::<Vec<_>>(),
        "oldest first, the new message not among them"
    );
    assert!(pending.iter().all(|m| m.has_attachments));

    // Batches of one: resumable, each its own transaction.
    assert_eq!(expire_all(store, cutoff, 1).await, 2);
    for message in &old {
        let now = store.message(&scope, &message.id).await.unwrap();
        assert_eq!(now.body, "");
        assert!(now.attachments.is_empty() && now.error.is_none());
        // The record stays: direction, status, times, segments.
        assert_eq!(now.status, MessageStatus::Failed);
        assert_eq!(now.direction, Direction::Outbound);
        assert_eq!(now.created_at_ms, message.created_at_ms);
        assert_eq!(now.sms_segments, message.sms_segments);
        assert!(store
            .message_purged_at(&message.id)
            .await
            .unwrap()
            .is_some());
        for event in store.message_timeline(&scope, &message.id).await.unwrap() {
            let text = event.detail.to_string();
            assert!(!text.contains("old"), "{} still quotes: {text}", event.kind);
            assert_eq!(event.detail["expired"], true, "{text}");
        }
        let attempt = store.message_timeline(&scope, &message.id).await.unwrap();
        let attempt = attempt.iter().find(|e| e.kind == "send.attempt").unwrap();
        assert_eq!(
            attempt.detail,
            json!({"attempt": 1, "provider": "sendblue", "expired": true})
        );
    }
    let kept = store.message(&scope, &new.id).await.unwrap();
    assert_eq!(kept.body, "new one");
    assert_eq!(kept.attachments.len(), 1);
    assert!(kept.error.is_some());
    assert_eq!(store.message_purged_at(&new.id).await.unwrap(), None);
    let timeline = store.message_timeline(&scope, &new.id).await.unwrap();
    assert!(timeline.iter().any(|e| e.detail["text"] == "new one"));

    // Again: nothing left, nothing changed.
    let before: Vec<_> = store.message_timeline(&scope, &old[0].id).await.unwrap();
    let purged_at = store.message_purged_at(&old[0].id).await.unwrap();
    clock.advance(Duration::from_secs(60));
    assert!(store
        .messages_to_expire(cutoff, 500)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(expire_all(store, cutoff, 500).await, 0);
    let mut tx = store.begin().await.unwrap();
    let ids: Vec<_> = old.iter().map(|m| m.id.clone()).collect();
    assert_eq!(store.expire_messages(&mut tx, &ids).await.unwrap(), 0);
    tx.commit().await.unwrap();
    assert_eq!(
        store.message_timeline(&scope, &old[0].id).await.unwrap(),
        before
    );
    assert_eq!(
        store.message_purged_at(&old[0].id).await.unwrap(),
        purged_at
    );
}

#[tokio::test]
async fn old_consent_words_go_and_the_consent_log_stays() {
    let clock = Clock::manual();
    let test = TestStore::with_clock(clock.clone()).await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let scope = TenantScope::for_location(&a.location);
    let conv = conversation(store, &a.channel, "+15551110001").await;
    let consent = |change, words: &'static str| {
        let (store, scope, contact) = (store.clone(), scope.clone(), conv.contact_id.clone());
        async move {
            let mut tx = store.begin().await.unwrap();
            store
                .record_consent(&mut tx, &scope, &contact, change, "keyword", words)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    };
    consent(ConsentChange::OptOut, "STOP texting me, Bob").await;
    clock.advance(10 * DAY);
    consent(ConsentChange::OptIn, "START again").await;
    let cutoff = store.now_ms() - 86_400_000;
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        store
            .expire_consent_words(&mut tx, cutoff, 500)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .expire_consent_words(&mut tx, cutoff, 500)
            .await
            .unwrap(),
        0
    );
    tx.commit().await.unwrap();
    let words: Vec<(String, String)> =
        sqlx::query_as("SELECT kind, detail FROM consent_events ORDER BY at")
            .fetch_all(store.db().reader())
            .await
            .unwrap();
    assert_eq!(
        words,
        vec![
            ("opt_out".to_string(), String::new()),
            ("opt_in".to_string(), "START again".to_string())
        ]
    );
}

#[tokio::test]
async fn a_unique_job_is_enqueued_once_whoever_asks() {
    let test = TestStore::new().await;
    let store = &test.store;
    let queue = store.queue();
    let mut tx = store.begin().await.unwrap();
    let first = queue
        .enqueue_unique(
            &mut tx,
            NewJob::new("retention", json!({"day": 1})),
            "retention:1",
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(first.is_some());
    // A second process asking, in its own transaction.
    let other = store::Store::new(
        store::Db::connect(&test.options()).await.unwrap(),
        store::testing::test_keys(),
    );
    let mut tx = other.begin().await.unwrap();
    let second = other
        .queue()
        .enqueue_unique(
            &mut tx,
            NewJob::new("retention", json!({"day": 1})),
            "retention:1",
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(second, None);
    assert_eq!(
        queue.unique_job("retention:1").await.unwrap(),
        Some((first.unwrap(), JobState::Ready))
    );
    let ready: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'retention'")
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    assert_eq!(ready, 1);
    // Another key is another job; ordinary jobs never collide.
    let mut tx = store.begin().await.unwrap();
    assert!(queue
        .enqueue_unique(
            &mut tx,
            NewJob::new("retention", json!({"day": 2})),
            "retention:2"
        )
        .await
        .unwrap()
        .is_some());
    queue
        .enqueue(&mut tx, NewJob::new("x", json!({})))
        .await
        .unwrap();
    queue
        .enqueue(&mut tx, NewJob::new("x", json!({})))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs")
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    assert_eq!(total, 4);
}
