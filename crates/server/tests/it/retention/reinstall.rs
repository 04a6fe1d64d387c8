//! The purge through the real lifecycle: installed, uninstalled by GHL's webhook, purged
//! after its date, installed again: the kept tombstone is provisioned afresh and an
//! opted-out number stays suppressed.

use std::collections::BTreeMap;

use domain::Provider;
use serde_json::json;
use server::jobs::retention;
use store::repo::{ConsentChange, NewChannel};
use store::TenantScope;

use super::{config, has_photo, media, photo_message, Tenant};
use crate::install::Install;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purged_agency_installs_again_cleanly_and_keeps_its_suppressions() {
    let it = Install::start().await;
    let store = &it.test.store;
    let approve = "companyId=coBack&locationIds=locBack1";
    assert_eq!(it.install(approve).await.status(), 200);
    let location = it.provisioned("coBack", 1).await.remove(0);
    let agency = it.agency("coBack").await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let channel = store
        .create_channel(
            &mut tx,
            &location,
            &NewChannel {
                provider: Provider::Sendblue,
                line: "+15550009999".into(),
                credentials: BTreeMap::from([("api_secret_key".to_string(), "sk".to_string())]),
                api_base: None,
                settings: json!({}),
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let tenant = Tenant {
        agency: agency.clone(),
        location: location.clone(),
        channel,
    };
    let (media, _dir) = media();
    let photo = photo_message(store, &media, &tenant, "+15557770001", "hello").await;
    // A contact who opted out and was erased: a suppression hash.
    let scope = TenantScope::for_location(&location);
    let mut tx = store.begin().await.unwrap();
    let contact = store
        .contact_for_handle(&mut tx, &tenant.channel, "+15557770002")
        .await
        .unwrap();
    store
        .record_consent(
            &mut tx,
            &scope,
            &contact.id,
            ConsentChange::OptOut,
            "keyword",
            "STOP",
        )
        .await
        .unwrap();
    store
        .erase_contact(&mut tx, &scope, &contact.id)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // GHL uninstalls the agency; its retention period passes (moved, not waited for).
    let sent = it
        .marketplace(json!({"type": "UNINSTALL", "companyId": "coBack"}))
        .await;
    assert_eq!(sent["gatewayStatus"], 200, "{sent}");
    let config = config(&[]);
    let done = retention::sweep(store, &media, &config, retention::BATCH)
        .await
        .unwrap();
    assert!(done.locations_purged.is_empty(), "not before its date");
    for table in ["agencies", "locations"] {
        sqlx::query(&format!(
            "UPDATE {table} SET purge_after = 1 WHERE purge_after IS NOT NULL"
        ))
        .execute(store.db().writer())
        .await
        .unwrap();
    }
    let done = retention::sweep(store, &media, &config, retention::BATCH)
        .await
        .unwrap();
    assert_eq!(done.locations_purged, vec![location.id.clone()]);
    assert_eq!(done.agencies_purged, vec![agency.id.clone()]);
    assert!(!has_photo(&media, &tenant, &photo).await);
    let installs: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM installations WHERE agency_id = $1")
            .bind(agency.id.as_str())
            .fetch_one(store.db().reader())
            .await
            .unwrap();
    assert_eq!(installs, 0, "the install's sealed tokens are gone");

    // Installed again: the same rows, active, with tokens, and nothing of the old data.
    assert_eq!(it.install(approve).await.status(), 200);
    let again = it.provisioned("coBack", 1).await.remove(0);
    assert_eq!(again.id, location.id);
    assert!(it.tokens(&again).await.is_some());
    assert_eq!(store.location_purged_at(&again.id).await.unwrap(), None);
    assert_eq!(store.agency_purged_at(&agency.id).await.unwrap(), None);
    let count = |table: &'static str| {
        let id = again.id.to_string();
        async move {
            sqlx::query_scalar::<_, i64>(&format!(
                "SELECT COUNT(*) FROM {table} WHERE location_id = $1"
            ))
            .bind(id)
            .fetch_one(store.db().reader())
            .await
            .unwrap()
        }
    };
    assert_eq!(count("messages").await, 0);
    assert_eq!(count("contacts").await, 0);
    assert_eq!(count("channels").await, 0);
    assert_eq!(count("contact_suppressions").await, 1);
    // The suppression still works: the number comes back opted out.
    let mut tx = store.begin().await.unwrap();
    let channel = store
        .create_channel(
            &mut tx,
            &again,
            &NewChannel {
                provider: Provider::Sendblue,
                line: "+15550009999".into(),
                credentials: BTreeMap::from([("api_secret_key".to_string(), "sk".to_string())]),
                api_base: None,
                settings: json!({}),
            },
        )
        .await
        .unwrap();
    let returning = store
        .contact_for_handle(&mut tx, &channel, "+15557770002")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(returning.opted_out);
    it.stop().await;
}
