//! Sign-in, sessions, CSRF, API keys and roles through the HTTP face.

use reqwest::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::repo::{Agency, Location, NewLocation, NewUser};
use store::TenantScope;

use crate::TestServer;

const PASSWORD: &str = "correct horse battery staple";

struct Tenant {
    agency: Agency,
    location: Location,
}

async fn tenant(server: &TestServer, name: &str) -> Tenant {
    let store = &server.test.store;
    let mut tx = store.begin().await.unwrap();
    let agency = store
        .upsert_agency(&mut tx, name, Some(&format!("company-{name}")))
        .await
        .unwrap();
    let location = store
        .create_location(
            &mut tx,
            &agency,
            &NewLocation {
                ghl_location_id: format!("ghl-{name}"),
                name: name.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    Tenant { agency, location }
}

/// A user of `role`, belonging to the tenant as that role does.
async fn user(server: &TestServer, email: &str, role: &str, tenant: Option<&Tenant>) {
    let store = &server.test.store;
    let hash = server::auth::hash_password(PASSWORD).unwrap();
    let (agency_id, location_id) = match (role, tenant) {
        ("agency_admin", Some(t)) => (Some(t.agency.id.clone()), None),
        (_, Some(t)) => (Some(t.agency.id.clone()), Some(t.location.id.clone())),
        (_, None) => (None, None),
    };
    let mut tx = store.begin().await.unwrap();
    store
        .create_user(
            &mut tx,
            &NewUser {
                email: email.into(),
                name: "Someone".into(),
                role: role.into(),
                password_hash: Some(hash),
                agency_id,
                location_id,
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn login(server: &TestServer, email: &str, password: &str) -> reqwest::Response {
    server
        .client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

/// Signs in and returns the answer's body.
async fn session(server: &TestServer, email: &str) -> Value {
    let response = login(server, email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn me(server: &TestServer, auth: &str) -> reqwest::Response {
    server
        .client
        .get(server.url("/api/v1/me"))
        .header(AUTHORIZATION, auth)
        .send()
        .await
        .unwrap()
}

async fn refresh(server: &TestServer, token: &str) -> reqwest::Response {
    server
        .client
        .post(server.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": token}))
        .send()
        .await
        .unwrap()
}

async fn create_key(server: &TestServer, auth: &str, body: Value) -> reqwest::Response {
    server
        .client
        .post(server.url("/api/v1/api-keys"))
        .header(AUTHORIZATION, auth)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn actions(server: &TestServer, tenant: &Tenant) -> Vec<String> {
    server
        .test
        .store
        .audit_entries(&TenantScope::for_agency(&tenant.agency), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test]
async fn sign_in_gives_tokens_and_cookies_and_me_names_the_caller() {
    let server = TestServer::start(&[]).await;
    let a = tenant(&server, "a").await;
    user(&server, "Agent@Example.com", "agent", Some(&a)).await;

    let response = login(&server, "agent@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookies: Vec<String> = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 900);
    let access = cookies
        .iter()
        .find(|c| c.starts_with("sb_access="))
        .unwrap();
    let refresh = cookies
        .iter()
        .find(|c| c.starts_with("sb_refresh="))
        .unwrap();
    let csrf = cookies.iter().find(|c| c.starts_with("sb_csrf=")).unwrap();
    for c in [access, refresh] {
        assert!(c.contains("HttpOnly") && c.contains("Secure") && c.contains("SameSite=Strict"));
    }
    assert!(refresh.contains("Path=/api/v1/auth"));
    assert!(!csrf.contains("HttpOnly"));

    let me: Value = me(&server, &bearer(body["access_token"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["kind"], "user");
    assert_eq!(me["email"], "agent@example.com");
    assert_eq!(me["role"], "agent");
    assert_eq!(me["location_id"], a.location.id.to_string());
    assert!(me["permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("send_messages")));
    assert!(actions(&server, &a)
        .await
        .contains(&"auth.login".to_string()));

    // No credentials, or rubbish: 401.
    let none = server
        .client
        .get(server.url("/api/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&server, "Bearer nonsense").await, 401);
    assert_eq!(me_status(&server, "Bearer sb_nonsense").await, 401);
    server.stop().await;
}

async fn me_status(server: &TestServer, auth: &str) -> u16 {
    me(server, auth).await.status().as_u16()
}

#[tokio::test]
async fn failures_look_alike_and_lock_the_account() {
    let server = TestServer::start(&[]).await;
    let a = tenant(&server, "a").await;
    user(&server, "ann@example.com", "agent", Some(&a)).await;

    let wrong = login(&server, "ann@example.com", "not the password").await;
    let unknown = login(&server, "nobody@example.com", PASSWORD).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let (wrong, unknown): (Value, Value) =
        (wrong.json().await.unwrap(), unknown.json().await.unwrap());
    assert_eq!(wrong["code"], "invalid_credentials");
    assert_eq!(wrong["code"], unknown["code"]);
    assert_eq!(wrong["detail"], unknown["detail"]);

    for _ in 0..4 {
        login(&server, "ann@example.com", "not the password").await;
    }
    // Locked now: the right password gets the very same answer.
    let locked = login(&server, "ann@example.com", PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::UNAUTHORIZED);
    let locked: Value = locked.json().await.unwrap();
    assert_eq!(locked["code"], wrong["code"]);
    assert_eq!(locked["detail"], wrong["detail"]);
    let log = actions(&server, &a).await;
    assert!(log.contains(&"auth.locked".to_string()), "{log:?}");
    assert!(log.contains(&"auth.login_refused".to_string()), "{log:?}");
    assert!(!log.contains(&"auth.login".to_string()));
    server.stop().await;
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_address() {
    let server = TestServer::start(&[]).await;
    let mut limited = None;
    for _ in 0..30 {
        let response = login(&server, "nobody@example.com", "whatever it is").await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let limited = limited.expect("no 429 after 30 attempts");
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait));
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    server.stop().await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let server = TestServer::start(&[]).await;
    let a = tenant(&server, "a").await;
    user(&server, "ann@example.com", "agent", Some(&a)).await;
    let first = session(&server, "ann@example.com").await;
    let r1 = first["refresh_token"].as_str().unwrap();

    let rotated = refresh(&server, r1).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let rotated: Value = rotated.json().await.unwrap();
    let r2 = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    let access2 = rotated["access_token"].as_str().unwrap();
    assert_eq!(me_status(&server, &bearer(access2)).await, 200);

    // r1 again: a reuse. The family goes, r2 with it.
    assert_eq!(
        refresh(&server, r1).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(&server, r2).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(actions(&server, &a)
        .await
        .contains(&"auth.refresh_reused".to_string()));
    assert_eq!(refresh(&server, "rt_unknown").await.status(), 401);
    server.stop().await;
}

#[tokio::test]
async fn logout_ends_one_session_and_logout_all_every_one() {
    let server = TestServer::start(&[]).await;
    let a = tenant(&server, "a").await;
    user(&server, "ann@example.com", "agent", Some(&a)).await;
    let laptop = session(&server, "ann@example.com").await;
    let phone = session(&server, "ann@example.com").await;
    let tablet = session(&server, "ann@example.com").await;

    let out = server
        .client
        .post(server.url("/api/v1/auth/logout"))
        .json(&json!({"refresh_token": tablet["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(actions(&server, &a)
        .await
        .contains(&"auth.logout".to_string()));
    assert_eq!(
        refresh(&server, tablet["refresh_token"].as_str().unwrap())
            .await
            .status(),
        401
    );

    let laptop_access = bearer(laptop["access_token"].as_str().unwrap());
    let all = server
        .client
        .post(server.url("/api/v1/auth/logout-all"))
        .header(AUTHORIZATION, &laptop_access)
        .send()
        .await
        .unwrap();
    assert_eq!(all.status(), StatusCode::NO_CONTENT);
    for s in [&laptop, &phone] {
        let r = s["refresh_token"].as_str().unwrap();
        assert_eq!(refresh(&server, r).await.status(), 401);
        let access = bearer(s["access_token"].as_str().unwrap());
        assert_eq!(me_status(&server, &access).await, 401);
    }
    // Signing in again works.
    let again = session(&server, "ann@example.com").await;
    assert_eq!(
        me_status(&server, &bearer(again["access_token"].as_str().unwrap())).await,
        200
    );
    server.stop().await;
}

#[tokio::test]
async fn a_cookie_post_without_the_csrf_token_is_refused_and_changes_nothing() {
    let server = TestServer::start(&[]).await;
    let a = tenant(&server, "a").await;
    user(&server, "boss@example.com", "agency_admin", Some(&a)).await;
    let s = session(&server, "boss@example.com").await;
    let (access, csrf) = (
        s["access_token"].as_str().unwrap(),
        s["csrf_token"].as_str().unwrap(),
    );
    let cookies = format!("sb_access={access}; sb_csrf={csrf}");

    for header in [None, Some("wrong"), Some("")] {
        let mut request = server
            .client
            .post(server.url("/api/v1/api-keys"))
            .header(COOKIE, &cookies)
            .json(&json!({"name": "forged"}));
        if let Some(value) = header {
            request = request.header("x-csrf-token", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "csrf");
    }
    let scope = TenantScope::for_agency(&a.agency);
    assert!(server.test.store.api_keys(&scope).await.unwrap().is_empty());
    assert!(!actions(&server, &a)
        .await
        .contains(&"api_key.created".to_string()));

    // Reading by cookie needs no token; changing with the echoed token works.
    let read = server
        .client
        .get(server.url("/api/v1/api-keys"))
        .header(COOKIE, &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let made = server
        .client
        .post(server.url("/api/v1/api-keys"))
        .header(COOKIE, &cookies)
        .header("x-csrf-token", csrf)
        .json(&json!({"name": "real"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);

    // The refresh cookie alone is refused too.
    let refresh_cookie = format!(
        "sb_refresh={}; sb_csrf={csrf}",
        s["refresh_token"].as_str().unwrap()
    );
    let refused = server
        .client
        .post(server.url("/api/v1/auth/refresh"))
        .header(COOKIE, &refresh_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let allowed = server
        .client
        .post(server.url("/api/v1/auth/refresh"))
        .header(COOKIE, &refresh_cookie)
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    server.stop().await;
}

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

#[tokio::test]
async fn two_refreshes_racing_with_one_token_rotate_once() {
    let server = TestServer::start(&[]).await;
    let a = tenant(&server, "a").await;
    user(&server, "ann@example.com", "agent", Some(&a)).await;
    let s = session(&server, "ann@example.com").await;
    let token = s["refresh_token"].as_str().unwrap();
    let (first, second) = tokio::join!(refresh(&server, token), refresh(&server, token));
    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort_unstable();
    // One rotates; the other is a reuse, which revokes the family (the winner's new
    // token included): a client must never refresh twice with one token.
    assert_eq!(statuses, [200, 401]);
    let winner: Value = if first.status() == StatusCode::OK {
        first.json().await.unwrap()
    } else {
        second.json().await.unwrap()
    };
    let next = winner["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&server, next).await.status(), 401);
    server.stop().await;
}
