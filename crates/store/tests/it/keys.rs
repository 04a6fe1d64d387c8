//! The key ring against the database: the startup check and rotation.

use std::collections::BTreeMap;

use domain::Provider;
use secrecy::ExposeSecret;
use secrets::{KeyRing, MasterKey};
use serde_json::json;
use store::repo::{sealed_columns, Location, NewChannel, NewInstallation, NewLocation, Rotation};
use store::testing::{test_keys, TestStore};
use store::{Db, Store, StoreError, TenantScope};

const NEW_KEY: &str = "2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
const OLD_KEY: &str = "1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

async fn with_ring(test: &TestStore, ring: KeyRing) -> Store {
    Store::new(Db::connect(&test.options()).await.unwrap(), ring)
}

fn ring(current: &str, previous: &[&str]) -> KeyRing {
    KeyRing::new(
        MasterKey::parse(current).unwrap(),
        previous
            .iter()
            .map(|k| MasterKey::parse(k).unwrap())
            .collect(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_process_with_the_wrong_master_key_stops_at_start() {
    let test = TestStore::new().await;
    test.store.verify_keys().await.unwrap();
    test.store.verify_keys().await.unwrap();
    let stranger = with_ring(&test, KeyRing::new(MasterKey::generate(1), vec![]).unwrap()).await;
    let Err(StoreError::Config(message)) = stranger.verify_keys().await else {
        panic!("a wrong key was accepted");
    };
    assert!(
        message.contains("does not open this database's secrets"),
        "{message}"
    );
}

#[tokio::test]
async fn rotation_reseals_every_secret_under_the_new_key() {
    let test = TestStore::new().await;
    let store = &test.store;
    store.verify_keys().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let agency = store.upsert_agency(&mut tx, "a", None).await.unwrap();
    let location = store
        .create_location(
            &mut tx,
            &agency,
            &NewLocation {
                ghl_location_id: "ghl-1".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let scope = TenantScope::for_location(&location);
    store
        .set_location_tokens(&mut tx, &scope, &location.id, "access", "refresh", None)
        .await
        .unwrap();
    store
        .upsert_installation(
            &mut tx,
            &agency,
            &NewInstallation {
                ghl_id: "company-1",
                user_type: "Company",
                ghl_user_id: None,
                plan_id: None,
                access_token: "agency-access",
                refresh_token: Some("agency-refresh"),
                expires_at_ms: None,
            },
        )
        .await
        .unwrap();
    let channel = store
        .create_channel(
            &mut tx,
            &location,
            &NewChannel {
                provider: Provider::Twilio,
                line: "+15550000001".into(),
                credentials: BTreeMap::from([("auth_token".to_string(), "tw-secret".to_string())]),
                api_base: None,
                settings: json!({}),
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let rotating = with_ring(&test, ring(NEW_KEY, &[OLD_KEY])).await;
    rotating.verify_keys().await.unwrap();
    assert_eq!(
        rotating.rotate_keys(500).await.unwrap(),
        Rotation {
            // Access and refresh tokens count separately.
            location_tokens: 2,
            channel_credentials: 1,
            installation_tokens: 2,
        }
    );
    assert_eq!(
        rotating.rotate_keys(500).await.unwrap(),
        Rotation::default()
    );
    let sealed: String = sqlx::query_scalar("SELECT credentials_enc FROM channels")
        .fetch_one(rotating.db().reader())
        .await
        .unwrap();
    assert!(sealed.starts_with("v2."));

    // The old key can go: everything opens with the new one alone, and not with the old.
    let rotated = with_ring(&test, ring(NEW_KEY, &[])).await;
    rotated.verify_keys().await.unwrap();
    assert_eq!(
        rotated
            .location_tokens(&scope, &location.id)
            .await
            .unwrap()
            .refresh_token
            .expose_secret(),
        "refresh"
    );
    assert_eq!(
        rotated.channel_credentials(&channel).await.unwrap()["auth_token"],
        "tw-secret"
    );
    let agency_tokens = rotated.installation_tokens("company-1").await.unwrap();
    assert_eq!(agency_tokens.access_token.expose_secret(), "agency-access");
    let old_only = with_ring(&test, test_keys()).await;
    assert!(old_only.verify_keys().await.is_err());
    assert!(old_only.channel_credentials(&channel).await.is_err());
}

/// `n` locations with tokens sealed by `store`'s current key.
async fn locations_with_tokens(store: &Store, n: usize) -> Vec<Location> {
    let mut tx = store.begin().await.unwrap();
    let agency = store.upsert_agency(&mut tx, "a", None).await.unwrap();
    let mut locations = Vec::new();
    for i in 0..n {
        let location = store
            .create_location(
                &mut tx,
                &agency,
                &NewLocation {
                    ghl_location_id: format!("ghl-{i}"),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let scope = TenantScope::for_location(&location);
        store
            .set_location_tokens(&mut tx, &scope, &location.id, "access-0", "refresh-0", None)
            .await
            .unwrap();
        locations.push(location);
    }
    tx.commit().await.unwrap();
    locations
}

async fn versions_left(store: &Store, version: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM locations WHERE access_token_enc LIKE $1 OR refresh_token_enc LIKE $1",
    )
    .bind(format!("v{version}.%"))
    .fetch_one(store.db().reader())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_in_small_batches_beside_a_busy_writer_loses_no_update() {
    let test = TestStore::new().await;
    test.store.verify_keys().await.unwrap();
    let locations = locations_with_tokens(&test.store, 200).await;
    // Every process now runs with the new key; the service keeps refreshing tokens.
    let service = with_ring(&test, ring(NEW_KEY, &[OLD_KEY])).await;
    let writer = {
        let (service, locations) = (service.clone(), locations.clone());
        tokio::spawn(async move {
            // Rotation goes by id; the service goes the other way, so they cross. Once
            // each: a token written back by the rotation over a newer one stays visible.
            for round in 1..=1 {
                for location in locations.iter().rev() {
                    let scope = TenantScope::for_location(location);
                    let mut tx = service.begin().await.unwrap();
                    service
                        .set_location_tokens(
                            &mut tx,
                            &scope,
                            &location.id,
                            &format!("access-{round}"),
                            &format!("refresh-{round}"),
                            None,
                        )
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                }
            }
        })
    };
    let rotating = with_ring(&test, ring(NEW_KEY, &[OLD_KEY])).await;
    rotating.rotate_keys(1).await.unwrap();
    writer.await.unwrap();
    assert_eq!(versions_left(&service, "1").await, 0);
    // The last value the service wrote is what is stored: rotation never wrote back an
    // older token over a newer one.
    for location in &locations {
        let tokens = service
            .location_tokens(&TenantScope::for_location(location), &location.id)
            .await
            .unwrap();
        assert_eq!(tokens.refresh_token.expose_secret(), "refresh-1");
    }
}

#[tokio::test]
async fn an_interrupted_rotation_resumes_with_what_is_left() {
    let test = TestStore::new().await;
    test.store.verify_keys().await.unwrap();
    let old = locations_with_tokens(&test.store, 3).await;
    // Half-way: some rows are already under the new key (as a stopped rotation leaves them).
    let rotating = with_ring(&test, ring(NEW_KEY, &[OLD_KEY])).await;
    let mut tx = rotating.begin().await.unwrap();
    let scope = TenantScope::for_location(&old[0]);
    rotating
        .set_location_tokens(&mut tx, &scope, &old[0].id, "a", "r", None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let rotation = rotating.rotate_keys(2).await.unwrap();
    assert_eq!(rotation.location_tokens, 4, "two rows, two tokens each");
    assert_eq!(versions_left(&rotating, "1").await, 0);
    assert_eq!(rotating.rotate_keys(2).await.unwrap(), Rotation::default());
}

#[tokio::test]
async fn after_a_rotation_a_process_on_the_retired_key_refuses_to_start() {
    let test = TestStore::new().await;
    test.store.verify_keys().await.unwrap();
    locations_with_tokens(&test.store, 1).await;
    let rotating = with_ring(&test, ring(NEW_KEY, &[OLD_KEY])).await;
    rotating.rotate_keys(10).await.unwrap();
    // Old key current, new key known: would seal new secrets under the retired version.
    let stale = with_ring(&test, ring(OLD_KEY, &[NEW_KEY])).await;
    let Err(StoreError::Config(message)) = stale.verify_keys().await else {
        panic!("a process on the retired key was accepted");
    };
    assert!(message.contains("rotated to key version 2"), "{message}");
    // The new key with the retired one still listed starts (and is told to drop it).
    with_ring(&test, ring(NEW_KEY, &[OLD_KEY]))
        .await
        .verify_keys()
        .await
        .unwrap();
}

#[tokio::test]
async fn every_sealed_column_of_the_schema_is_rotated() {
    let test = TestStore::new().await;
    let sql = match test.backend() {
        store::Backend::Sqlite => {
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.name LIKE '%\\_enc' ESCAPE '\\'"
        }
        store::Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT) \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND column_name LIKE '%\\_enc' ESCAPE '\\'"
        }
    };
    let mut in_schema: Vec<(String, String)> = sqlx::query_as(sql)
        .fetch_all(test.store.db().reader())
        .await
        .unwrap();
    in_schema.sort();
    let mut rotated: Vec<(String, String)> = sealed_columns()
        .map(|(t, c)| (t.to_owned(), c.to_owned()))
        .collect();
    rotated.sort();
    assert!(!in_schema.is_empty());
    assert_eq!(in_schema, rotated);
}
