//! A whole agency's purge, after its locations'; re-install clears the marks.

use std::time::Duration;

use store::repo::NewLocation;
use store::testing::TestStore;
use store::Clock;

use super::{count, fill, purge, uninstall, DAY_MS};
use crate::repo::tenant;

#[tokio::test]
async fn an_uninstalled_agency_is_purged_after_its_locations_and_reinstall_clears_the_marks() {
    let clock = Clock::manual();
    let test = TestStore::with_clock(clock.clone()).await;
    let store = &test.store;
    let gone = tenant(store, "c", "+15550000005").await;
    let other = tenant(store, "d", "+15550000006").await;
    fill(store, &gone).await;
    fill(store, &other).await;
    let mut tx = store.begin().await.unwrap();
    store
        .record_webhook_receipt(&mut tx, "ghl:provider", "wh-1", Some(&gone.agency.id))
        .await
        .unwrap();
    store
        .uninstall_agency(&mut tx, &gone.agency.id, store.now_ms() + DAY_MS)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    clock.advance(Duration::from_millis(2 * DAY_MS as u64));
    // The agency waits for its locations.
    assert!(store
        .agencies_to_purge(store.now_ms())
        .await
        .unwrap()
        .is_empty());
    let targets = store.locations_to_purge(store.now_ms()).await.unwrap();
    assert_eq!(targets.len(), 1);
    assert!(purge(store, &targets[0]).await);
    assert_eq!(
        store.agencies_to_purge(store.now_ms()).await.unwrap(),
        vec![gone.agency.id.clone()]
    );
    let mut tx = store.begin().await.unwrap();
    assert!(store
        .finish_agency_purge(&mut tx, &gone.agency.id)
        .await
        .unwrap());
    tx.commit().await.unwrap();
    for table in ["jobs", "webhook_receipts", "installations"] {
        assert_eq!(
            count(store, table, "agency_id", gone.agency.id.as_str()).await,
            0,
            "{table}"
        );
        assert!(
            count(store, table, "agency_id", other.agency.id.as_str()).await > 0,
            "{table}"
        );
    }
    assert!(store
        .agency_purged_at(&gone.agency.id)
        .await
        .unwrap()
        .is_some());
    assert!(store
        .agencies_to_purge(store.now_ms())
        .await
        .unwrap()
        .is_empty());
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE agency_id = $1 ORDER BY at, id")
            .bind(gone.agency.id.as_str())
            .fetch_all(store.db().reader())
            .await
            .unwrap();
    assert_eq!(actions, vec!["location.purged", "agency.purged"]);

    // Re-install: the tombstones are found again and are no longer marked.
    let mut tx = store.begin().await.unwrap();
    let agency = store
        .upsert_agency(&mut tx, "c", gone.agency.ghl_company_id.as_deref())
        .await
        .unwrap();
    assert_eq!(agency.id, gone.agency.id);
    store.activate_agency(&mut tx, &agency.id).await.unwrap();
    let location = store
        .upsert_location(
            &mut tx,
            &agency,
            &NewLocation {
                ghl_location_id: gone.location.ghl_location_id.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(location.id, gone.location.id);
    store
        .activate_location(&mut tx, &location.id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.location_purged_at(&location.id).await.unwrap(), None);
    assert_eq!(store.agency_purged_at(&agency.id).await.unwrap(), None);
    // The opted-out number is still suppressed there.
    assert_eq!(
        count(
            store,
            "contact_suppressions",
            "location_id",
            location.id.as_str()
        )
        .await,
        1
    );
    // Uninstalled again, it is purged again at its new date.
    uninstall(store, &location, store.now_ms() + DAY_MS).await;
    assert!(store
        .locations_to_purge(store.now_ms())
        .await
        .unwrap()
        .is_empty());
    clock.advance(Duration::from_millis(2 * DAY_MS as u64));
    assert_eq!(
        store
            .locations_to_purge(store.now_ms())
            .await
            .unwrap()
            .len(),
        1
    );
}
