//! The purge after uninstall as the job runs it: data and stored media of a location past
//! its purge date go, resumably; a location before its date, a re-installed one and
//! another agency's are untouched.

use std::time::Duration;

use server::jobs::purge::{purge_step, PurgeStep};
use server::jobs::retention::{self, Sweep};
use store::{Clock, Store, TenantScope};

use super::{config, has_photo, media, photo_message, tenant, Tenant, DAY};

async fn uninstall(store: &Store, t: &Tenant, purge_in: Duration) {
    let mut tx = store.begin().await.unwrap();
    let at = store.now_ms() + i64::try_from(purge_in.as_millis()).unwrap();
    store
        .uninstall_location(&mut tx, &t.location, at)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn messages_of(store: &Store, t: &Tenant) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE location_id = $1")
        .bind(t.location.id.as_str())
        .fetch_one(store.db().reader())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_location_past_its_purge_date_is_purged_resumably_and_nobody_else_is_touched() {
    let clock = Clock::manual();
    let test = store::testing::TestStore::with_clock(clock.clone()).await;
    let store = &test.store;
    let (media, _dir) = media();
    let due = tenant(store, "due", "+15550000001").await;
    let early = tenant(store, "early", "+15550000002").await;
    let back = tenant(store, "back", "+15550000003").await;
    let other = tenant(store, "other", "+15550000004").await;
    let mut photos = vec![];
    for t in [&due, &early, &back, &other] {
        photos.push(photo_message(store, &media, t, "+15557770001", "one").await);
        photos.push(photo_message(store, &media, t, "+15557770002", "two").await);
    }
    uninstall(store, &due, DAY).await;
    uninstall(store, &early, 30 * DAY).await;
    uninstall(store, &back, DAY).await;
    let mut tx = store.begin().await.unwrap();
    store
        .activate_location(&mut tx, &back.location.id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    clock.advance(2 * DAY);
    // Message retention off: only the purge acts.
    let config = config(&[("SWITCHBOARD_MESSAGE_RETENTION_DAYS", "0")]);

    // One batch, then the "crash".
    let targets = store.locations_to_purge(store.now_ms()).await.unwrap();
    assert_eq!(targets.len(), 1);
    let mut done = Sweep::default();
    let step = purge_step(store, &media, &targets[0], 1, &mut done)
        .await
        .unwrap();
    assert_eq!(step, PurgeStep::Messages(1));
    assert_eq!(messages_of(store, &due).await, 1);
    assert!(!has_photo(&media, &due, &photos[0]).await);
    assert!(has_photo(&media, &due, &photos[1]).await);

    // The next run finishes it.
    let done = retention::sweep(store, &media, &config, retention::BATCH)
        .await
        .unwrap();
    assert_eq!(done.locations_purged, vec![due.location.id.clone()]);
    assert_eq!(done.media_removed, 1);
    assert!(
        done.agencies_purged.is_empty(),
        "the agency is still installed"
    );
    assert_eq!(messages_of(store, &due).await, 0);
    assert!(!has_photo(&media, &due, &photos[1]).await);
    let contacts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE location_id = $1")
        .bind(due.location.id.as_str())
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    assert_eq!(contacts, 0);
    let scope = TenantScope::for_agency(&due.agency);
    let tombstone = store.location(&scope, &due.location.id).await.unwrap();
    assert_eq!(tombstone.status, "uninstalled");
    assert!(store
        .location_purged_at(&due.location.id)
        .await
        .unwrap()
        .is_some());

    // The others keep everything.
    for (i, t) in [&early, &back, &other].into_iter().enumerate() {
        assert_eq!(messages_of(store, t).await, 2, "{}", t.location.name);
        for photo in &photos[2 + 2 * i..4 + 2 * i] {
            assert!(has_photo(&media, t, photo).await, "{}", t.location.name);
        }
        assert_eq!(
            store.location_purged_at(&t.location.id).await.unwrap(),
            None
        );
    }
    // Nothing more to do.
    let again = retention::sweep(store, &media, &config, retention::BATCH)
        .await
        .unwrap();
    assert_eq!(again, Sweep::default());
    let finished = purge_step(store, &media, &targets[0], 1, &mut Sweep::default())
        .await
        .unwrap();
    assert_eq!(finished, PurgeStep::NotDue);
}

#[tokio::test]
async fn a_whole_agency_is_purged_once_its_locations_are() {
    let clock = Clock::manual();
    let test = store::testing::TestStore::with_clock(clock.clone()).await;
    let store = &test.store;
    let (media, _dir) = media();
    let gone = tenant(store, "gone", "+15550000001").await;
    let photo = photo_message(store, &media, &gone, "+15557770001", "hi").await;
    let mut tx = store.begin().await.unwrap();
    store
        .uninstall_agency(&mut tx, &gone.agency.id, store.now_ms() + 30 * 86_400_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let config = config(&[]);
    clock.advance(29 * DAY);
    assert_eq!(
        retention::sweep(store, &media, &config, retention::BATCH)
            .await
            .unwrap(),
        Sweep::default(),
        "not before its date"
    );
    assert!(has_photo(&media, &gone, &photo).await);
    clock.advance(2 * DAY);
    let done = retention::sweep(store, &media, &config, retention::BATCH)
        .await
        .unwrap();
    assert_eq!(done.locations_purged, vec![gone.location.id.clone()]);
    assert_eq!(done.agencies_purged, vec![gone.agency.id.clone()]);
    assert!(!has_photo(&media, &gone, &photo).await);
    assert!(store
        .agency_purged_at(&gone.agency.id)
        .await
        .unwrap()
        .is_some());
}
