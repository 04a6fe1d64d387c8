//! The real-time event log: written with the change it reports, read in order by the hub,
//! replayed through a tenant scope, pruned after its retention.

use std::time::Duration;

use domain::{Actor, Direction, EventKind, MessageStatus};
use store::repo::{Event, NewEvent, NewMessage};
use store::testing::TestStore;
use store::{Backend, Clock, TenantScope};

use crate::repo::{conversation, tenant};

fn inbound(provider_id: &str, body: &str) -> NewMessage {
    NewMessage {
        direction: Direction::Inbound,
        actor: Actor::Contact,
        body: body.into(),
        attachments: vec![],
        status: MessageStatus::Delivered,
        provider_message_id: Some(provider_id.into()),
        ghl_message_id: None,
    }
}

fn kinds(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

#[tokio::test]
async fn storing_a_message_and_moving_its_status_record_events_without_its_text() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let conv = conversation(store, &a.channel, "+15551110000").await;
    let mut tx = store.begin().await.unwrap();
    let message = store
        .insert_message(
            &mut tx,
            &conv,
            &a.agency.id,
            &inbound("p-1", "secret words"),
        )
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    store
        .advance_message_status(&mut tx, &message, &a.agency.id, MessageStatus::Read, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // A duplicate stores nothing and so reports nothing.
    let mut tx = store.begin().await.unwrap();
    let again = store
        .insert_message(
            &mut tx,
            &conv,
            &a.agency.id,
            &inbound("p-1", "secret words"),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(again.is_none());

    let read = store.events_for_fanout(0, 100).await.unwrap();
    assert_eq!(kinds(&read.events), ["message.created", "message.status"]);
    assert_eq!(read.snapshot.is_some(), test.backend() == Backend::Postgres);
    let created = &read.events[0];
    assert_eq!(created.agency_id, a.agency.id);
    assert_eq!(created.location_id, a.location.id);
    assert_eq!(created.conversation_id.as_ref(), Some(&conv.id));
    assert_eq!(created.message_id.as_ref(), Some(&message.id));
    assert_eq!(created.data["direction"], "inbound");
    assert_eq!(read.events[1].data["status"], "read");
    assert!(read.events[1].id > created.id);
    for event in &read.events {
        assert!(
            !event.data.to_string().contains("secret"),
            "{:?}",
            event.data
        );
    }
    // Only what comes after the given id.
    let after = store.events_for_fanout(created.id, 100).await.unwrap();
    assert_eq!(kinds(&after.events), ["message.status"]);
}

#[tokio::test]
async fn a_rolled_back_change_leaves_no_event() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let conv = conversation(store, &a.channel, "+15551110000").await;
    let mut tx = store.begin().await.unwrap();
    store
        .insert_message(&mut tx, &conv, &a.agency.id, &inbound("p-1", "hi"))
        .await
        .unwrap()
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(store
        .events_for_fanout(0, 100)
        .await
        .unwrap()
        .events
        .is_empty());
}

#[tokio::test]
async fn replay_sees_only_the_scope_and_the_range_asked_for() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let b = tenant(store, "b", "+15550000002").await;
    let conv_a = conversation(store, &a.channel, "+15551110000").await;
    let other_a = conversation(store, &a.channel, "+15551110001").await;
    let conv_b = conversation(store, &b.channel, "+15552220000").await;
    for (i, (conv, agency)) in [
        (&conv_a, &a.agency.id),
        (&conv_b, &b.agency.id),
        (&other_a, &a.agency.id),
        (&conv_a, &a.agency.id),
    ]
    .into_iter()
    .enumerate()
    {
        let mut tx = store.begin().await.unwrap();
        store
            .insert_message(&mut tx, conv, agency, &inbound(&format!("p-{i}"), "hi"))
            .await
            .unwrap()
            .unwrap();
        tx.commit().await.unwrap();
    }
    let all = store.events_for_fanout(0, 100).await.unwrap().events;
    assert_eq!(all.len(), 4);
    let top = all[3].id;
    let first = all[0].id;
    let scope_a = TenantScope::for_agency(&a.agency).walled();
    let replay = store
        .events_replay(&scope_a, None, 0, top, 100)
        .await
        .unwrap();
    assert!(replay.iter().all(|e| e.agency_id == a.agency.id));
    assert_eq!(replay.len(), 3);
    // `after` is exclusive, `upto` inclusive.
    let replay = store
        .events_replay(&scope_a, None, first, all[2].id, 100)
        .await
        .unwrap();
    assert_eq!(replay.len(), 1);
    assert_eq!(replay[0].id, all[2].id);
    // One conversation.
    let replay = store
        .events_replay(&scope_a, Some(&conv_a.id), 0, top, 100)
        .await
        .unwrap();
    assert_eq!(
        replay.iter().map(|e| e.id).collect::<Vec<_>>(),
        [first, top]
    );
    // Another tenant's conversation through A's scope: nothing.
    let replay = store
        .events_replay(&scope_a, Some(&conv_b.id), 0, top, 100)
        .await
        .unwrap();
    assert!(replay.is_empty());
    // Pages.
    let page = store
        .events_replay(&scope_a, None, 0, top, 2)
        .await
        .unwrap();
    assert_eq!(page.len(), 2);
}

#[tokio::test]
async fn events_past_retention_are_pruned_and_ids_are_never_reused() {
    let clock = Clock::manual();
    let test = TestStore::with_clock(clock.clone()).await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let event = |n: i64| NewEvent {
        agency_id: a.agency.id.clone(),
        location_id: a.location.id.clone(),
        conversation_id: None,
        message_id: None,
        kind: EventKind::ConversationUpdated,
        data: serde_json::json!({"n": n}),
    };
    let mut tx = store.begin().await.unwrap();
    store
        .record_events(&mut tx, &[event(1), event(2)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    clock.advance(Duration::from_secs(3600));
    let mut tx = store.begin().await.unwrap();
    store.record_events(&mut tx, &[event(3)]).await.unwrap();
    tx.commit().await.unwrap();
    let all = store.events_for_fanout(0, 100).await.unwrap().events;
    assert_eq!(all.len(), 3);
    assert_eq!(store.oldest_event_id().await.unwrap(), Some(all[0].id));
    // The newest recorded before a time (where a starting hub begins).
    assert_eq!(
        store.event_id_before(store.now_ms() - 1000).await.unwrap(),
        all[1].id
    );
    assert_eq!(store.event_id_before(0).await.unwrap(), 0);

    let pruned = store.prune_events(store.now_ms() - 1000).await.unwrap();
    assert_eq!(pruned, 2);
    assert_eq!(store.oldest_event_id().await.unwrap(), Some(all[2].id));
    // Prune the newest too: the next id is still after it.
    store.prune_events(store.now_ms() + 1).await.unwrap();
    assert_eq!(store.oldest_event_id().await.unwrap(), None);
    let mut tx = store.begin().await.unwrap();
    store.record_events(&mut tx, &[event(4)]).await.unwrap();
    tx.commit().await.unwrap();
    let next = store.events_for_fanout(0, 100).await.unwrap().events;
    assert_eq!(next.len(), 1);
    assert!(next[0].id > all[2].id);
}

#[tokio::test]
async fn committing_events_wakes_the_hub() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let conv = conversation(store, &a.channel, "+15551110000").await;
    let woken = store.db().events_notify().notified();
    let mut tx = store.begin().await.unwrap();
    store
        .insert_message(&mut tx, &conv, &a.agency.id, &inbound("p-1", "hi"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), woken)
        .await
        .expect("the commit should wake the hub");
}

/// On PostgreSQL a transaction still open holds an id below committed ones; the read's
/// snapshot says so (its `xmin` stays at or below that transaction until it ends).
#[tokio::test]
async fn a_running_transaction_keeps_the_snapshot_below_it() {
    let test = TestStore::new().await;
    if test.backend() != Backend::Postgres {
        return;
    }
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let new = NewEvent {
        agency_id: a.agency.id.clone(),
        location_id: a.location.id.clone(),
        conversation_id: None,
        message_id: None,
        kind: EventKind::ConversationUpdated,
        data: serde_json::json!({}),
    };
    let mut slow = store.begin().await.unwrap();
    store
        .record_events(&mut slow, std::slice::from_ref(&new))
        .await
        .unwrap();
    let slow_xid: String = sqlx::query_scalar("SELECT pg_current_xact_id()::text")
        .fetch_one(&mut *slow)
        .await
        .unwrap();
    let slow_xid: u64 = slow_xid.parse().unwrap();
    let mut fast = store.begin().await.unwrap();
    store
        .record_events(&mut fast, std::slice::from_ref(&new))
        .await
        .unwrap();
    fast.commit().await.unwrap();
    let read = store.events_for_fanout(0, 100).await.unwrap();
    assert_eq!(read.events.len(), 1, "only the committed one is visible");
    let first = read.snapshot.unwrap();
    // The slow transaction was writing when the read was made: below its xmax, and no
    // snapshot's xmin passes it while it runs.
    assert!(slow_xid < first.xmax, "{slow_xid} {first:?}");
    assert!(first.xmin <= slow_xid, "{slow_xid} {first:?}");
    let again = store.events_for_fanout(0, 100).await.unwrap();
    assert!(again.snapshot.unwrap().xmin <= slow_xid);
    slow.rollback().await.unwrap();
    // Its event never shows; the gap it leaves is what the hub skips once snapshots pass
    // it (`server::live::sequence`).
    let after = store.events_for_fanout(0, 100).await.unwrap();
    assert_eq!(after.events.len(), 1);
    assert_eq!(after.events[0].id, read.events[0].id);
}
