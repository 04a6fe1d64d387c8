//! The knowledge base, the agent's settings and a conversation's summary: tenant scope,
//! whole-ingest replacement, sealed model keys.

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use store::queue::NewJob;
use store::repo::{AgentSettingsChange, NewKnowledgeChunk, NewKnowledgeSource};
use store::testing::TestStore;
use store::{StoreError, TenantScope};

use crate::repo::tenant;

fn ingest(source: &store::repo::KnowledgeSource) -> NewJob {
    NewJob::new("knowledge_ingest", json!({"source_id": source.id}))
}

fn chunk(text: &str) -> NewKnowledgeChunk {
    NewKnowledgeChunk {
        page_url: Some("https://clinic.example/faq".into()),
        title: "FAQ".into(),
        text: text.into(),
        embedding: Some((vec![0.5, -1.0, 2.0], "model-a".into())),
    }
}

#[tokio::test]
async fn a_source_is_replaced_whole_and_hidden_from_other_tenants() {
    let test = TestStore::new().await;
    let store = &test.store;
    let alpha = tenant(store, "alpha", "+15550000001").await;
    let bravo = tenant(store, "bravo", "+15550000002").await;
    let scope = TenantScope::for_agency(&alpha.agency);
    let other = TenantScope::for_agency(&bravo.agency);

    let source = store
        .add_knowledge_source(
            &scope,
            &alpha.location.id,
            &NewKnowledgeSource {
                kind: "text".into(),
                title: "Prices".into(),
                document: Some(b"Cleaning costs $120.".to_vec()),
                ..Default::default()
            },
            &ingest,
        )
        .await
        .unwrap();
    assert_eq!(source.state, "queued");
    let queued: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'knowledge_ingest'")
            .fetch_one(store.db().reader())
            .await
            .unwrap();
    assert_eq!(queued, 1, "the source's job is queued with it");
    assert_eq!(
        store
            .knowledge_document(&scope, &source.id)
            .await
            .unwrap()
            .as_deref(),
        Some(&b"Cleaning costs $120."[..])
    );

    // Another tenant sees nothing and can change nothing.
    assert!(matches!(
        store.knowledge_source(&other, &source.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(store
        .knowledge_sources(&other, None)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        store
            .replace_knowledge_chunks(&other, &source.id, 1, &[chunk("x")])
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_knowledge_source(&other, &source.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .knowledge_chunks(&other, &alpha.location.id)
            .await
            .map(|c| c.len()),
        Ok(0) | Err(StoreError::NotFound)
    ));

    let ready = store
        .replace_knowledge_chunks(&scope, &source.id, 1, &[chunk("one"), chunk("two")])
        .await
        .unwrap();
    assert_eq!((ready.state.as_str(), ready.chunks), ("ready", 2));
    // Ingesting again replaces the passages, never adds to them.
    store
        .replace_knowledge_chunks(&scope, &source.id, 1, &[chunk("three")])
        .await
        .unwrap();
    let chunks = store
        .knowledge_chunks(&scope, &alpha.location.id)
        .await
        .unwrap();
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].text, "three");
    let (blob, model) = chunks[0].embedding.clone().unwrap();
    assert_eq!(model, "model-a");
    assert_eq!(ai_floats(&blob), vec![0.5, -1.0, 2.0]);

    let failed = store
        .set_knowledge_progress(
            &scope,
            &source.id,
            "failed",
            0,
            Some("robots.txt forbids it"),
        )
        .await
        .unwrap();
    assert_eq!(failed.error.as_deref(), Some("robots.txt forbids it"));
    let again = store
        .requeue_knowledge_source(&scope, &source.id, &ingest)
        .await
        .unwrap();
    assert_eq!((again.state.as_str(), again.error), ("queued", None));

    store
        .delete_knowledge_source(&scope, &source.id)
        .await
        .unwrap();
    assert!(store
        .knowledge_chunks(&scope, &alpha.location.id)
        .await
        .unwrap()
        .is_empty());
    // An ingest finishing after the delete writes nothing.
    assert!(matches!(
        store
            .replace_knowledge_chunks(&scope, &source.id, 1, &[chunk("late")])
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(store
        .knowledge_chunks(&scope, &alpha.location.id)
        .await
        .unwrap()
        .is_empty());
}

fn ai_floats(blob: &[u8]) -> Vec<f32> {
    blob.chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[tokio::test]
async fn agent_settings_keep_the_model_key_sealed_and_scoped() {
    let test = TestStore::new().await;
    let store = &test.store;
    let alpha = tenant(store, "alpha", "+15550000001").await;
    let bravo = tenant(store, "bravo", "+15550000002").await;
    let scope = TenantScope::for_agency(&alpha.agency);
    let other = TenantScope::for_agency(&bravo.agency);
    let location = &alpha.location.id;

    let defaults = store.agent_settings(&scope, location).await.unwrap();
    assert_eq!(defaults, Default::default());

    let mut change = AgentSettingsChange::default();
    change.settings.strategy = "You are Bright Smile's assistant.".into();
    change.settings.chat_model = Some("gpt-4o".into());
    change.settings.calendar_id = Some("cal_1".into());
    change
        .settings
        .contact_fields
        .insert("budget".into(), "contact.budget".into());
    change.settings.replies_per_day = Some(50);
    change.api_key = Some(Some(SecretString::from("sk-location")));
    let mut tx = store.begin().await.unwrap();
    let saved = store
        .set_agent_settings(&mut tx, &scope, location, &change)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(saved.has_api_key);
    assert_eq!(saved.replies_per_day, Some(50));
    let sealed: String = sqlx::query_scalar("SELECT api_key_enc FROM agent_settings")
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    assert!(!sealed.contains("sk-location"), "the key is stored sealed");
    let key = store
        .agent_model_key(&scope, location)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key.expose_secret(), "sk-location");

    // Saving without a new key keeps the old one; removing it removes it.
    change.api_key = None;
    change.settings.strategy = "Shorter.".into();
    let mut tx = store.begin().await.unwrap();
    let kept = store
        .set_agent_settings(&mut tx, &scope, location, &change)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(kept.has_api_key);
    assert_eq!(kept.strategy, "Shorter.");
    change.api_key = Some(None);
    let mut tx = store.begin().await.unwrap();
    let removed = store
        .set_agent_settings(&mut tx, &scope, location, &change)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(!removed.has_api_key);
    assert!(store
        .agent_model_key(&scope, location)
        .await
        .unwrap()
        .is_none());

    assert!(matches!(
        store.agent_settings(&other, location).await,
        Err(StoreError::NotFound)
    ));
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        store
            .set_agent_settings(&mut tx, &other, location, &change)
            .await,
        Err(StoreError::NotFound)
    ));
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn a_resolved_handoff_brings_the_ai_back_later_unless_people_are_on_it_again() {
    let test = TestStore::new().await;
    let store = &test.store;
    let alpha = tenant(store, "alpha", "+15550000001").await;
    let scope = TenantScope::for_agency(&alpha.agency);
    let conversation = crate::repo::conversation(store, &alpha.channel, "+15550001111").await;
    let notice = |_: &store::repo::Handoff| NewJob::new("handoff_notice", json!({}));
    let later = || {
        Some(NewJob::new("ai_reactivate", json!({})).delayed(std::time::Duration::from_secs(3600)))
    };
    let ai_on = async |id| store.conversation(&scope, id).await.unwrap().ai_enabled;

    let first = store
        .open_handoff(&scope, &conversation.id, "asked", "contact", &notice)
        .await
        .unwrap();
    assert!(!ai_on(&conversation.id).await);
    store
        .resolve_handoff(&scope, &first.id, false, later())
        .await
        .unwrap();
    let delayed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'ai_reactivate'")
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    assert_eq!(delayed, 1, "the reactivation is queued with the resolve");
    assert!(!ai_on(&conversation.id).await, "not yet");
    assert!(store.reactivate_ai_after(&scope, &first.id).await.unwrap());
    assert!(ai_on(&conversation.id).await);

    // A second handoff since: its people are on it, the first one's timer changes nothing.
    let second = store
        .open_handoff(&scope, &conversation.id, "again", "contact", &notice)
        .await
        .unwrap();
    store
        .resolve_handoff(&scope, &second.id, false, None)
        .await
        .unwrap();
    assert!(!store.reactivate_ai_after(&scope, &first.id).await.unwrap());
    assert!(!ai_on(&conversation.id).await);
    // Resolving with the AI back on right away queues nothing.
    let third = store
        .open_handoff(&scope, &conversation.id, "third", "contact", &notice)
        .await
        .unwrap();
    store
        .resolve_handoff(&scope, &third.id, true, later())
        .await
        .unwrap();
    let delayed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'ai_reactivate'")
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    assert_eq!(delayed, 1);
}

#[tokio::test]
async fn a_summary_only_moves_forward_and_retention_and_erasure_clear_it() {
    let test = TestStore::new().await;
    let store = &test.store;
    let alpha = tenant(store, "alpha", "+15550000001").await;
    let bravo = tenant(store, "bravo", "+15550000002").await;
    let scope = TenantScope::for_agency(&alpha.agency);
    let conversation = crate::repo::conversation(store, &alpha.channel, "+15550001111").await;
    let id = &conversation.id;
    assert_eq!(
        store.conversation_summary(&scope, id).await.unwrap(),
        Default::default()
    );
    assert!(store
        .set_conversation_summary(&scope, id, "Wants whitening.", 500, 2_000)
        .await
        .unwrap());
    assert!(
        !store
            .set_conversation_summary(&scope, id, "Older.", 100, 1_000)
            .await
            .unwrap(),
        "a summary of fewer messages never replaces a newer one"
    );
    let other = TenantScope::for_agency(&bravo.agency);
    assert!(matches!(
        store.conversation_summary(&other, id).await,
        Err(StoreError::NotFound)
    ));
    assert!(!store
        .set_conversation_summary(&other, id, "Hijack.", 100, 9_000)
        .await
        .unwrap());
    let summary = store.conversation_summary(&scope, id).await.unwrap();
    assert_eq!(
        (summary.text.as_deref(), summary.through_ms),
        (Some("Wants whitening."), Some(2_000))
    );

    // Retention: a summary covering a message older than the cutoff goes, the mark stays.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        store
            .expire_conversation_summaries(&mut tx, 400, 10)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .expire_conversation_summaries(&mut tx, 600, 10)
            .await
            .unwrap(),
        1
    );
    tx.commit().await.unwrap();
    let expired = store.conversation_summary(&scope, id).await.unwrap();
    assert_eq!((expired.text, expired.through_ms), (None, Some(2_000)));
    // The next summary starts from the messages it folds then.
    assert!(store
        .set_conversation_summary(&scope, id, "Booked a cleaning.", 2_500, 3_000)
        .await
        .unwrap());
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        store
            .expire_conversation_summaries(&mut tx, 2_000, 10)
            .await
            .unwrap(),
        0
    );
    tx.commit().await.unwrap();
    assert!(store
        .conversation_summary(&scope, id)
        .await
        .unwrap()
        .text
        .is_some());

    let mut tx = store.begin().await.unwrap();
    store
        .erase_contact(&mut tx, &scope, &conversation.contact_id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.conversation_summary(&scope, id).await.unwrap(),
        Default::default()
    );
}
