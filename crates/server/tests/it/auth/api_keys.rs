//! API keys, tenant isolation, roles, inert text.

use reqwest::header::AUTHORIZATION;
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::TenantScope;

use super::*;
use crate::TestServer;

#[tokio::test]
async fn api_keys_are_shown_once_used_and_revoked() {
    let server = TestServer::start(&[]).await;
    let a = tenant(&server, "a").await;
    user(&server, "boss@example.com", "agency_admin", Some(&a)).await;
    let s = session(&server, "boss@example.com").await;
    let admin = bearer(s["access_token"].as_str().unwrap());

    let made = create_key(
        &server,
        &admin,
        json!({"name": "crm sync", "role": "agent"}),
    )
    .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let made: Value = made.json().await.unwrap();
    let key = made["key"].as_str().unwrap().to_string();
    let prefix = made["prefix"].as_str().unwrap();
    assert!(key.starts_with(prefix) && prefix.starts_with("sb_"));

    let listed = server
        .client
        .get(server.url("/api/v1/api-keys"))
        .header(AUTHORIZATION, &admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listed.contains(prefix));
    assert!(!listed.contains(&key), "the secret must never be listed");
    assert!(!listed.contains("\"key\""));

    let me: Value = me(&server, &bearer(&key)).await.json().await.unwrap();
    assert_eq!(me["kind"], "api_key");
    assert_eq!(me["role"], "agent");
    assert_eq!(me["agency_id"], a.agency.id.to_string());
    let scope = TenantScope::for_agency(&a.agency);
    let stored = &server.test.store.api_keys(&scope).await.unwrap()[0];
    assert!(stored.last_used_at_ms.is_some());
    // The wrong secret behind a real prefix is refused.
    assert_eq!(
        me_status(&server, &bearer(&format!("{prefix}_{}", "0".repeat(64)))).await,
        401
    );

    let id = made["id"].as_str().unwrap();
    let revoked = server
        .client
        .delete(server.url(&format!("/api/v1/api-keys/{id}")))
        .header(AUTHORIZATION, &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(me_status(&server, &bearer(&key)).await, 401);
    let log = actions(&server, &a).await;
    assert!(log.contains(&"api_key.created".to_string()));
    assert!(log.contains(&"api_key.revoked".to_string()));
    server.stop().await;
}

#[tokio::test]
async fn another_tenants_ids_are_404_with_nothing_of_theirs() {
    let server = TestServer::start(&[]).await;
    let a = tenant(&server, "a").await;
    let b = tenant(&server, "b").await;
    user(&server, "a@example.com", "agency_admin", Some(&a)).await;
    user(&server, "b@example.com", "agency_admin", Some(&b)).await;
    let admin_a = bearer(
        session(&server, "a@example.com").await["access_token"]
            .as_str()
            .unwrap(),
    );
    let admin_b = bearer(
        session(&server, "b@example.com").await["access_token"]
            .as_str()
            .unwrap(),
    );

    let made: Value = create_key(&server, &admin_a, json!({"name": "secret-name-a"}))
        .await
        .json()
        .await
        .unwrap();
    let id = made["id"].as_str().unwrap();
    let prefix = made["prefix"].as_str().unwrap();

    let refused = server
        .client
        .delete(server.url(&format!("/api/v1/api-keys/{id}")))
        .header(AUTHORIZATION, &admin_b)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let body = refused.text().await.unwrap();
    assert!(
        !body.contains("secret-name-a") && !body.contains(prefix),
        "{body}"
    );
    let listed = server
        .client
        .get(server.url("/api/v1/api-keys"))
        .header(AUTHORIZATION, &admin_b)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listed.contains(id) && !listed.contains("secret-name-a"));
    // A's key still works: B's attempt changed nothing.
    assert_eq!(
        me_status(&server, &bearer(made["key"].as_str().unwrap())).await,
        200
    );

    // Narrowing a key to another tenant's location: 404, not a key.
    let foreign = create_key(
        &server,
        &admin_b,
        json!({"name": "x", "location_id": a.location.id}),
    )
    .await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    let own = create_key(
        &server,
        &admin_b,
        json!({"name": "x", "location_id": b.location.id, "role": "location_admin"}),
    )
    .await;
    assert_eq!(own.status(), StatusCode::CREATED);
    let bad_id = server
        .client
        .delete(server.url("/api/v1/api-keys/not-an-id"))
        .header(AUTHORIZATION, &admin_b)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_id.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn roles_are_enforced() {
    let server = TestServer::start(&[]).await;
    let a = tenant(&server, "a").await;
    user(&server, "agent@example.com", "agent", Some(&a)).await;
    user(&server, "loc@example.com", "location_admin", Some(&a)).await;
    user(&server, "op@example.com", "operator", None).await;
    let agent = bearer(
        session(&server, "agent@example.com").await["access_token"]
            .as_str()
            .unwrap(),
    );
    let loc = bearer(
        session(&server, "loc@example.com").await["access_token"]
            .as_str()
            .unwrap(),
    );
    let op = bearer(
        session(&server, "op@example.com").await["access_token"]
            .as_str()
            .unwrap(),
    );

    let refused = create_key(&server, &agent, json!({"name": "mine"})).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let listed = server
        .client
        .get(server.url("/api/v1/api-keys"))
        .header(AUTHORIZATION, &agent)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::FORBIDDEN);

    // No key above its maker.
    let up = create_key(&server, &loc, json!({"name": "k", "role": "agency_admin"})).await;
    assert_eq!(up.status(), StatusCode::FORBIDDEN);
    let made = create_key(&server, &loc, json!({"name": "k"})).await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let made: Value = made.json().await.unwrap();
    assert_eq!(made["location_id"], a.location.id.to_string());
    assert_eq!(made["role"], "location_admin");
    let bad = create_key(&server, &loc, json!({"name": "k", "role": "superuser"})).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // An agent key can't make keys either.
    let agent_key: Value = create_key(&server, &loc, json!({"name": "k", "role": "agent"}))
        .await
        .json()
        .await
        .unwrap();
    let by_key = create_key(
        &server,
        &bearer(agent_key["key"].as_str().unwrap()),
        json!({"name": "k"}),
    )
    .await;
    assert_eq!(by_key.status(), StatusCode::FORBIDDEN);

    // Operators have no tenant.
    let no_tenant = create_key(&server, &op, json!({"name": "k"})).await;
    assert_eq!(no_tenant.status(), StatusCode::FORBIDDEN);
    let me: Value = me(&server, &op).await.json().await.unwrap();
    assert_eq!(me["role"], "operator");
    assert!(me["agency_id"].is_null());
    server.stop().await;
}

#[tokio::test]
async fn metacharacters_and_markup_are_stored_and_returned_as_text() {
    let server = TestServer::start(&[]).await;
    let a = tenant(&server, "a").await;
    user(&server, "boss@example.com", "agency_admin", Some(&a)).await;
    let admin = bearer(
        session(&server, "boss@example.com").await["access_token"]
            .as_str()
            .unwrap(),
    );
    let nasty = "Robert'); DROP TABLE api_keys;-- <script>alert(\"x\")</script> \\ % _ ${x}";
    let made = create_key(&server, &admin, json!({"name": nasty})).await;
    assert_eq!(made.status(), StatusCode::CREATED);
    assert!(made.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let made: Value = made.json().await.unwrap();
    assert_eq!(made["name"], nasty);
    let listed: Value = server
        .client
        .get(server.url("/api/v1/api-keys"))
        .header(AUTHORIZATION, &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["name"], nasty);
    // An email full of metacharacters is just an unknown email.
    let odd = login(&server, "' OR 1=1; --@example.com", "' OR '1'='1").await;
    assert_eq!(odd.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}
