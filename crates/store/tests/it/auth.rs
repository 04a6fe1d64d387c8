//! Users, sessions (refresh token families), API keys and the audit log.

use serde_json::json;
use store::repo::{secret_hash, NewAuditEntry, NewUser, RefreshRotation};
use store::testing::TestStore;
use store::{StoreError, TenantScope};

use crate::repo::tenant;

fn agent(location: &store::repo::Location, email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        name: "Ann".into(),
        role: "agent".into(),
        password_hash: Some("$argon2id$placeholder".into()),
        agency_id: Some(location.agency_id.clone()),
        location_id: Some(location.id.clone()),
    }
}

#[tokio::test]
async fn emails_are_unique_whatever_their_case() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let mut tx = store.begin().await.unwrap();
    let user = store
        .create_user(&mut tx, &agent(&a.location, " Ann@Example.COM "))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(user.email, "ann@example.com");

    let mut tx = store.begin().await.unwrap();
    let again = store
        .create_user(&mut tx, &agent(&a.location, "ANN@example.com"))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    tx.rollback().await.unwrap();

    let found = store.user_for_login("ann@EXAMPLE.com").await.unwrap();
    assert_eq!(found.user.id, user.id);
    assert_eq!(found.failed_logins, 0);
    assert!(matches!(
        store.user_for_login("bob@example.com").await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn failures_lock_at_the_threshold_and_success_clears_them() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let mut tx = store.begin().await.unwrap();
    let user = store
        .create_user(&mut tx, &agent(&a.location, "ann@example.com"))
        .await
        .unwrap();
    let until = store.now_ms() + 60_000;
    for n in 1..=3 {
        let failure = store
            .record_login_failure(&mut tx, &user.id, 3, until)
            .await
            .unwrap();
        assert_eq!(failure.failed_logins, n);
        assert_eq!(failure.locked_now, n == 3);
    }
    tx.commit().await.unwrap();
    let record = store.user_for_login("ann@example.com").await.unwrap();
    assert_eq!(record.locked_until_ms, Some(until));

    let mut tx = store.begin().await.unwrap();
    store.record_login_success(&mut tx, &user.id).await.unwrap();
    tx.commit().await.unwrap();
    let record = store.user_for_login("ann@example.com").await.unwrap();
    assert_eq!((record.failed_logins, record.locked_until_ms), (0, None));
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_whole_family() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let mut tx = store.begin().await.unwrap();
    let user = store
        .create_user(&mut tx, &agent(&a.location, "ann@example.com"))
        .await
        .unwrap();
    let first = store
        .start_session(&mut tx, &user.id, "rt-1", 60_000)
        .await
        .unwrap();
    let other = store
        .start_session(&mut tx, &user.id, "rt-other", 60_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let rotated = store
        .rotate_refresh(&mut tx, "rt-1", "rt-2", 60_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let RefreshRotation::Rotated { user_id, next } = rotated else {
        panic!("expected a rotation, got {rotated:?}");
    };
    assert_eq!(user_id, user.id);
    assert_eq!(next.family_id, first.family_id);
    assert!(store.family_is_live(&first.family_id).await.unwrap());

    // The used token again: the family (with its current token, rt-2) is revoked.
    let mut tx = store.begin().await.unwrap();
    let reused = store
        .rotate_refresh(&mut tx, "rt-1", "rt-3", 60_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        reused,
        RefreshRotation::Reused {
            user_id: user.id.clone(),
            agency_id: Some(a.agency.id.clone()),
            family_id: first.family_id.clone()
        }
    );
    assert!(!store.family_is_live(&first.family_id).await.unwrap());
    let mut tx = store.begin().await.unwrap();
    let after = store
        .rotate_refresh(&mut tx, "rt-2", "rt-4", 60_000)
        .await
        .unwrap();
    assert!(matches!(after, RefreshRotation::Reused { .. }));
    assert_eq!(
        store
            .rotate_refresh(&mut tx, "nope", "rt-5", 60_000)
            .await
            .unwrap(),
        RefreshRotation::Invalid
    );
    tx.commit().await.unwrap();
    // Another sign-in of the same user is untouched, until logout everywhere.
    assert!(store.family_is_live(&other.family_id).await.unwrap());
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        store.revoke_user_sessions(&mut tx, &user.id).await.unwrap(),
        1
    );
    tx.commit().await.unwrap();
    assert!(!store.family_is_live(&other.family_id).await.unwrap());
}

#[tokio::test]
async fn expired_refresh_tokens_are_invalid_not_reuse() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let mut tx = store.begin().await.unwrap();
    let user = store
        .create_user(&mut tx, &agent(&a.location, "ann@example.com"))
        .await
        .unwrap();
    let session = store
        .start_session(&mut tx, &user.id, "rt-old", -1)
        .await
        .unwrap();
    let rotation = store
        .rotate_refresh(&mut tx, "rt-old", "rt-new", 60_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(rotation, RefreshRotation::Invalid);
    assert!(!store.family_is_live(&session.family_id).await.unwrap());
}

#[tokio::test]
async fn api_keys_are_hashed_scoped_and_revocable() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let b = tenant(store, "b", "+15550000002").await;
    let agency_a = TenantScope::for_agency(&a.agency);
    let location_a = TenantScope::for_location(&a.location);
    let scope_b = TenantScope::for_agency(&b.agency);
    let mut tx = store.begin().await.unwrap();
    let key = store
        .create_api_key(
            &mut tx,
            &location_a,
            "it's <b>ours</b>; DROP TABLE api_keys;--",
            "sb_000000000001",
            "sb_000000000001_secret",
            "location_admin",
            "user:x",
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(key.name, "it's <b>ours</b>; DROP TABLE api_keys;--");
    assert_eq!(key.location_id.as_ref(), Some(&a.location.id));

    let found = store.api_key_for_auth("sb_000000000001").await.unwrap();
    assert_eq!(found.secret_hash, secret_hash("sb_000000000001_secret"));
    assert_ne!(found.secret_hash, "sb_000000000001_secret");

    assert_eq!(store.api_keys(&agency_a).await.unwrap().len(), 1);
    assert_eq!(store.api_keys(&location_a).await.unwrap().len(), 1);
    assert!(store.api_keys(&scope_b).await.unwrap().is_empty());
    assert!(matches!(
        store.api_key(&scope_b, &key.id).await,
        Err(StoreError::NotFound)
    ));

    assert!(store.touch_api_key(&key.id, 60_000).await.unwrap());
    assert!(!store.touch_api_key(&key.id, 60_000).await.unwrap());

    let mut tx = store.begin().await.unwrap();
    let refused = store.revoke_api_key(&mut tx, &scope_b, &key.id).await;
    assert!(matches!(refused, Err(StoreError::NotFound)));
    let revoked = store
        .revoke_api_key(&mut tx, &agency_a, &key.id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(revoked.revoked_at_ms.is_some());
    assert!(revoked.last_used_at_ms.is_some());
}

#[tokio::test]
async fn audit_entries_are_per_agency_with_their_request() {
    let test = TestStore::new().await;
    let store = &test.store;
    let a = tenant(store, "a", "+15550000001").await;
    let b = tenant(store, "b", "+15550000002").await;
    let mut tx = store.begin().await.unwrap();
    store
        .append_audit(
            &mut tx,
            &NewAuditEntry {
                agency_id: Some(&a.agency.id),
                actor: "user:x",
                action: "auth.locked",
                target: Some("usr_x"),
                detail: json!({"note": "<script>alert(1)</script>"}),
                request_id: Some("req_1"),
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let entries = store
        .audit_entries(&TenantScope::for_agency(&a.agency), 10)
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].action, "auth.locked");
    assert_eq!(entries[0].request_id.as_deref(), Some("req_1"));
    assert_eq!(entries[0].detail["note"], "<script>alert(1)</script>");
    assert!(store
        .audit_entries(&TenantScope::for_agency(&b.agency), 10)
        .await
        .unwrap()
        .is_empty());
}
