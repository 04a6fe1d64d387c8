//! Sign-in, sessions, CSRF, API keys and roles through the HTTP face: shared helpers.

mod api_keys;
mod invitations;
mod reset;
mod sign_in;

use reqwest::header::AUTHORIZATION;
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::repo::{Agency, Location, NewLocation, NewUser};
use store::TenantScope;

use crate::TestServer;

pub(super) const PASSWORD: &str = "correct horse battery staple";

pub(super) struct Tenant {
    pub agency: Agency,
    pub location: Location,
}

pub(super) async fn tenant(server: &TestServer, name: &str) -> Tenant {
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
pub(super) async fn user(server: &TestServer, email: &str, role: &str, tenant: Option<&Tenant>) {
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

pub(super) async fn login(server: &TestServer, email: &str, password: &str) -> reqwest::Response {
    server
        .client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

/// Signs in and returns the answer's body.
pub(super) async fn session(server: &TestServer, email: &str) -> Value {
    let response = login(server, email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

pub(super) fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub(super) async fn me(server: &TestServer, auth: &str) -> reqwest::Response {
    server
        .client
        .get(server.url("/api/v1/me"))
        .header(AUTHORIZATION, auth)
        .send()
        .await
        .unwrap()
}

pub(super) async fn refresh(server: &TestServer, token: &str) -> reqwest::Response {
    server
        .client
        .post(server.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": token}))
        .send()
        .await
        .unwrap()
}

pub(super) async fn create_key(server: &TestServer, auth: &str, body: Value) -> reqwest::Response {
    server
        .client
        .post(server.url("/api/v1/api-keys"))
        .header(AUTHORIZATION, auth)
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub(super) async fn actions(server: &TestServer, tenant: &Tenant) -> Vec<String> {
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

pub(super) async fn me_status(server: &TestServer, auth: &str) -> u16 {
    me(server, auth).await.status().as_u16()
}
