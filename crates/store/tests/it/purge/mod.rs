//! The purge after uninstall at the store level: what goes, what stays, who is spared.

use std::collections::BTreeMap;
use std::time::Duration;

use domain::Provider;
use serde_json::json;
use store::queue::NewJob;
use store::repo::{
    Agency, ConsentChange, Location, NewChannel, NewInstallation, NewLocation, PurgeTarget,
};
use store::testing::TestStore;
use store::{Clock, Store, TenantScope};

use crate::repo::{tenant, Tenant};
use crate::retention::failed_message;

mod agency;

pub(super) const DAY_MS: i64 = 86_400_000;

/// Another location (with a channel) of `agency`.
pub(super) async fn second_location(
    store: &Store,
    agency: &Agency,
    name: &str,
    line: &str,
) -> Tenant {
    let mut tx = store.begin().await.unwrap();
    let location = store
        .create_location(
            &mut tx,
            agency,
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
                credentials: BTreeMap::from([("api_secret_key".to_string(), "sk".to_string())]),
                api_base: None,
                settings: json!({}),
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    Tenant {
        agency: agency.clone(),
        location,
        channel,
    }
}

/// Gives the tenant's location a contact who opted out and was erased (a suppression), a
/// conversation with a message and an open handoff, a channel receipt, a location install
/// and a pending job.
pub(super) async fn fill(store: &Store, t: &Tenant) {
    let message = failed_message(store, t, "+15557770001", "hello there").await;
    let scope = TenantScope::for_location(&t.location);
    let contact = store
        .conversation(&scope, &message.conversation_id)
        .await
        .unwrap()
        .contact_id;
    let opted_out = crate::repo::conversation(store, &t.channel, "+15557770002").await;
    let mut tx = store.begin().await.unwrap();
    store
        .record_consent(
            &mut tx,
            &scope,
            &contact,
            ConsentChange::OptIn,
            "keyword",
            "yes",
        )
        .await
        .unwrap();
    store
        .record_consent(
            &mut tx,
            &scope,
            &opted_out.contact_id,
            ConsentChange::OptOut,
            "keyword",
            "STOP",
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    store
        .erase_contact(&mut tx, &scope, &opted_out.contact_id)
        .await
        .unwrap();
    let source = format!("sendblue:{}", t.channel.id);
    store
        .record_webhook_receipt(&mut tx, &source, "evt-1", Some(&t.agency.id))
        .await
        .unwrap();
    store
        .upsert_installation(
            &mut tx,
            &t.agency,
            &NewInstallation {
                ghl_id: &t.location.ghl_location_id,
                user_type: "Location",
                ghl_user_id: None,
                plan_id: None,
                access_token: "at",
                refresh_token: Some("rt"),
                expires_at_ms: None,
            },
        )
        .await
        .unwrap();
    let job = NewJob::new("sync_status", json!({"message_id": message.id}))
        .paced_by(format!("ghl:{}", t.location.id))
        .for_agency(&t.agency.id);
    store.queue().enqueue(&mut tx, job).await.unwrap();
    tx.commit().await.unwrap();
    // A conversation handed to a human (it points at the conversation).
    store
        .open_handoff(
            &scope,
            &message.conversation_id,
            "a test",
            "contact",
            &|h: &store::repo::Handoff| {
                store::queue::NewJob::new("handoff_notice", serde_json::json!({"handoff_id": h.id}))
            },
        )
        .await
        .unwrap();
    // A knowledge base with one passage, and the agent's settings.
    let ingest = |_: &store::repo::KnowledgeSource| {
        store::queue::NewJob::new("knowledge_ingest", serde_json::json!({}))
    };
    let source = store
        .add_knowledge_source(
            &scope,
            &t.location.id,
            &store::repo::NewKnowledgeSource {
                kind: "text".into(),
                title: "FAQ".into(),
                document: Some(b"We open at 9.".to_vec()),
                ..Default::default()
            },
            &ingest,
        )
        .await
        .unwrap();
    let passage = store::repo::NewKnowledgeChunk {
        page_url: None,
        title: "FAQ".into(),
        text: "We open at 9.".into(),
        embedding: None,
    };
    store
        .replace_knowledge_chunks(&scope, &source.id, 1, &[passage])
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    store
        .set_agent_settings(&mut tx, &scope, &t.location.id, &Default::default())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

pub(super) async fn count(store: &Store, table: &str, column: &str, id: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1"))
        .bind(id)
        .fetch_one(store.db().reader())
        .await
        .unwrap()
}

/// Rows of the location, table by table.
pub(super) async fn rows_of(store: &Store, location: &Location) -> Vec<i64> {
    let id = location.id.as_str();
    let mut counts = vec![];
    for table in [
        "messages",
        "contacts",
        "conversations",
        "channels",
        "consent_events",
        "handoffs",
        "knowledge_sources",
        "knowledge_chunks",
        "agent_settings",
    ] {
        counts.push(count(store, table, "location_id", id).await);
    }
    counts.push(count(store, "installations", "ghl_id", &location.ghl_location_id).await);
    counts.push(count(store, "contact_suppressions", "location_id", id).await);
    counts
}

/// What the job does, step by step, without media.
pub(super) async fn purge(store: &Store, target: &PurgeTarget) -> bool {
    let keys: Vec<String> = std::iter::once(format!("ghl:{}", target.location_id))
        .chain(target.channels.iter().map(|c| format!("line:{c}")))
        .collect();
    let mut tx = store.begin().await.unwrap();
    store
        .delete_location_jobs(&mut tx, target, &keys)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    loop {
        let ids: Vec<_> = store
            .location_messages(&target.location_id, 1)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        if ids.is_empty() {
            break;
        }
        let mut tx = store.begin().await.unwrap();
        store
            .delete_messages(&mut tx, &target.location_id, &ids)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    loop {
        let mut tx = store.begin().await.unwrap();
        let n = store
            .delete_location_contacts(&mut tx, &target.location_id, 1)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        if n == 0 {
            break;
        }
    }
    let mut tx = store.begin().await.unwrap();
    let finished = store.finish_location_purge(&mut tx, target).await.unwrap();
    tx.commit().await.unwrap();
    finished
}

pub(super) async fn uninstall(store: &Store, location: &Location, purge_after: i64) {
    let mut tx = store.begin().await.unwrap();
    store
        .uninstall_location(&mut tx, location, purge_after)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn only_locations_past_their_purge_date_are_purged_and_a_tombstone_stays() {
    let clock = Clock::manual();
    let test = TestStore::with_clock(clock.clone()).await;
    let store = &test.store;
    let due = tenant(store, "a", "+15550000001").await;
    let early = second_location(store, &due.agency, "a-early", "+15550000002").await;
    let back = second_location(store, &due.agency, "a-back", "+15550000003").await;
    let other = tenant(store, "b", "+15550000004").await;
    for t in [&due, &early, &back, &other] {
        fill(store, t).await;
    }
    let now = store.now_ms();
    uninstall(store, &due.location, now + DAY_MS).await;
    uninstall(store, &early.location, now + 10 * DAY_MS).await;
    uninstall(store, &back.location, now + DAY_MS).await;
    // Re-installed before its date: active again, no purge date.
    let mut tx = store.begin().await.unwrap();
    store
        .activate_location(&mut tx, &back.location.id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.location_lifecycle(&back.location.id).await.unwrap().2,
        None
    );

    assert!(store
        .locations_to_purge(store.now_ms())
        .await
        .unwrap()
        .is_empty());
    clock.advance(Duration::from_millis(2 * DAY_MS as u64));
    let spared: Vec<Vec<i64>> = rows_of_all(store, &[&early, &back, &other]).await;
    let jobs_elsewhere = count(store, "jobs", "agency_id", other.agency.id.as_str()).await;
    // Another location's message ids given with this location delete nothing.
    let foreign: Vec<_> = store
        .location_messages(&other.location.id, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(foreign.len(), 1);
    let mut tx = store.begin().await.unwrap();
    let deleted = store
        .delete_messages(&mut tx, &due.location.id, &foreign)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(deleted, 0);

    let targets = store.locations_to_purge(store.now_ms()).await.unwrap();
    assert_eq!(targets.len(), 1);
    let target = &targets[0];
    assert_eq!(target.location_id, due.location.id);
    assert_eq!(target.channels, vec![due.channel.id.clone()]);
    assert!(store.purge_still_due(target, store.now_ms()).await.unwrap());
    assert_eq!(
        rows_of(store, &due.location).await,
        vec![1, 2, 2, 1, 2, 1, 1, 1, 1, 1, 1]
    );
    assert!(purge(store, target).await);

    // Gone, except the opt-out suppression; the row stays, marked, tokens gone.
    assert_eq!(
        rows_of(store, &due.location).await,
        vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    );
    let receipts = count(
        store,
        "webhook_receipts",
        "source",
        &format!("sendblue:{}", due.channel.id),
    )
    .await;
    assert_eq!(receipts, 0);
    let scope = TenantScope::for_agency(&due.agency);
    let location = store.location(&scope, &due.location.id).await.unwrap();
    assert_eq!(location.status, "uninstalled");
    assert!(store
        .location_purged_at(&due.location.id)
        .await
        .unwrap()
        .is_some());
    assert!(store
        .location_tokens(&scope, &due.location.id)
        .await
        .is_err());
    let paced: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE pacing_key = $1")
        .bind(format!("ghl:{}", due.location.id))
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    assert_eq!(paced, 0);
    let audit: Vec<(String, String)> =
        sqlx::query_as("SELECT action, target FROM audit_log WHERE actor = 'system:retention'")
            .fetch_all(store.db().reader())
            .await
            .unwrap();
    assert_eq!(
        audit,
        vec![("location.purged".into(), due.location.id.to_string())]
    );

    // Everyone else untouched, including the same agency's other locations.
    assert_eq!(rows_of_all(store, &[&early, &back, &other]).await, spared);
    assert_eq!(
        count(store, "jobs", "agency_id", other.agency.id.as_str()).await,
        jobs_elsewhere
    );
    // Nothing more to do; finishing again changes nothing; the agency stays (installed).
    assert!(store
        .locations_to_purge(store.now_ms())
        .await
        .unwrap()
        .is_empty());
    assert!(!store.purge_still_due(target, store.now_ms()).await.unwrap());
    let mut tx = store.begin().await.unwrap();
    assert!(!store.finish_location_purge(&mut tx, target).await.unwrap());
    tx.rollback().await.unwrap();
    assert!(store
        .agencies_to_purge(store.now_ms())
        .await
        .unwrap()
        .is_empty());
}

async fn rows_of_all(store: &Store, tenants: &[&Tenant]) -> Vec<Vec<i64>> {
    let mut all = vec![];
    for t in tenants {
        all.push(rows_of(store, &t.location).await);
    }
    all
}
