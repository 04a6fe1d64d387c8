//! What providers tell us about a conversation: the chat it lives in and when the contact
//! last wrote (the window a WhatsApp send depends on).

use store::testing::TestStore;
use store::TenantScope;

use crate::repo::{conversation, tenant};

#[tokio::test]
async fn the_contacts_last_message_time_only_moves_forward() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let conv = conversation(store, &a.channel, "+15551110000").await;
    assert_eq!(conv.last_inbound_at, None);
    assert_eq!(conv.provider_thread, None);
    let scope = TenantScope::for_channel(&a.channel);

    let mut tx = store.begin().await.unwrap();
    store
        .note_inbound(&mut tx, &conv.id, Some("chat-1"), 2_000)
        .await
        .unwrap();
    // A late redelivery of an older message names no chat and an earlier time.
    store
        .note_inbound(&mut tx, &conv.id, None, 1_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let read = store.conversation(&scope, &conv.id).await.unwrap();
    assert_eq!(read.last_inbound_at, Some(2_000));
    assert_eq!(read.provider_thread.as_deref(), Some("chat-1"));

    let mut tx = store.begin().await.unwrap();
    store
        .note_inbound(&mut tx, &conv.id, Some("chat-2"), 3_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let read = store.conversation(&scope, &conv.id).await.unwrap();
    assert_eq!(read.last_inbound_at, Some(3_000));
    assert_eq!(read.provider_thread.as_deref(), Some("chat-2"));
}

#[tokio::test]
async fn a_chat_started_by_a_send_is_remembered_and_rolled_back_with_its_transaction() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let conv = conversation(store, &a.channel, "+15551110000").await;
    let scope = TenantScope::for_channel(&a.channel);

    let mut tx = store.begin().await.unwrap();
    store
        .set_provider_thread(&mut tx, &conv.id, "lost")
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let read = store.conversation(&scope, &conv.id).await.unwrap();
    assert_eq!(read.provider_thread, None);

    let mut tx = store.begin().await.unwrap();
    store
        .set_provider_thread(&mut tx, &conv.id, "chat-9")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let read = store.conversation(&scope, &conv.id).await.unwrap();
    assert_eq!(read.provider_thread.as_deref(), Some("chat-9"));
    assert_eq!(read.last_inbound_at, None);
}
