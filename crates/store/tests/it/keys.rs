//! The key ring against the database: the startup check and rotation.

use std::collections::BTreeMap;

use domain::Provider;
use secrecy::ExposeSecret;
use secrets::{KeyRing, MasterKey};
use serde_json::json;
use store::repo::{NewChannel, NewInstallation, NewLocation, Rotation};
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
        rotating.rotate_keys().await.unwrap(),
        Rotation {
            location_tokens: 1,
            channel_credentials: 1,
            installation_tokens: 1,
        }
    );
    assert_eq!(rotating.rotate_keys().await.unwrap(), Rotation::default());
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
