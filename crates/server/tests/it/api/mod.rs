//! The REST API under `/api/v1`: its OpenAPI document, each resource, and the walk over
//! every documented route with another tenant's ids.

mod channel_rotation;
mod channels;
mod contacts;
mod conversations;
mod dead_jobs;
mod document;
mod limits;
mod resources;
mod sending;
mod tenant_walk;

use std::collections::BTreeMap;

use domain::{Actor, Direction, MessageStatus, Provider};
use reqwest::header::AUTHORIZATION;
use serde_json::Value;
use store::repo::{ConsentChange, NewChannel, NewMessage};
use store::TenantScope;

use super::auth::{bearer, session, tenant, user, Tenant};
use crate::TestServer;

/// One tenant with one of everything, and the ids of each, by the path segment that
/// names the resource in the API (`locations`, `channels`, …).
pub(super) struct World {
    pub tenant: Tenant,
    pub ids: BTreeMap<&'static str, String>,
    /// `Authorization` of the tenant's agency admin.
    pub admin: String,
}

impl World {
    pub fn id(&self, resource: &str) -> &str {
        self.ids
            .get(resource)
            .unwrap_or_else(|| panic!("the test world has no {resource}"))
    }
}

/// Seeds a tenant named `name`: agency, location, SendBlue channel, contact, conversation,
/// an inbound message, a consent event, an API key, an agency admin signed in.
pub(super) async fn world(server: &TestServer, name: &str) -> World {
    let tenant = tenant(server, name).await;
    let store = &server.test.store;
    let scope = TenantScope::for_location(&tenant.location);
    let mut tx = store.begin().await.unwrap();
    let channel = store
        .create_channel(
            &mut tx,
            &tenant.location,
            &NewChannel {
                provider: Provider::Sendblue,
                line: format!(
                    "+1555{:07}",
                    name.len() * 1000 + name.as_bytes()[0] as usize
                ),
                credentials: BTreeMap::from([
                    ("api_key_id".to_string(), format!("{name}-id")),
                    ("api_secret_key".to_string(), format!("{name}-secret")),
                    ("signing_secret".to_string(), format!("{name}-signing")),
                ]),
                api_base: None,
                settings: serde_json::json!({}),
            },
        )
        .await
        .unwrap();
    let contact = store
        .contact_for_handle(&mut tx, &channel, "+15550001111")
        .await
        .unwrap();
    let conversation = store
        .conversation_for(&mut tx, &channel, &contact)
        .await
        .unwrap();
    let message = store
        .insert_message(
            &mut tx,
            &conversation,
            &tenant.agency.id,
            &NewMessage {
                direction: Direction::Inbound,
                actor: Actor::Contact,
                body: format!("hello from {name}"),
                attachments: vec![],
                status: MessageStatus::Delivered,
                provider_message_id: Some(format!("{name}-pm-1")),
                ghl_message_id: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
    store
        .record_consent(
            &mut tx,
            &scope,
            &contact.id,
            ConsentChange::OptOut,
            "test",
            "STOP",
        )
        .await
        .unwrap();
    let key = store
        .create_api_key(
            &mut tx,
            &TenantScope::for_agency(&tenant.agency),
            "world key",
            &format!("sb_{:0>12}", name),
            &format!("sb_{:0>12}_secret", name),
            "agency_admin",
            "test",
        )
        .await
        .unwrap();
    let job = store
        .queue()
        .enqueue(
            &mut tx,
            store::queue::NewJob::new("deliver", serde_json::json!({"message_id": message.id}))
                .for_agency(&tenant.agency.id),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    bury(server, job).await;
    let email = format!("admin@{name}.test");
    user(server, &email, "agency_admin", Some(&tenant)).await;
    let signed_in = session(server, &email).await;
    let admin = bearer(signed_in["access_token"].as_str().unwrap());
    let ids = BTreeMap::from([
        ("agencies", tenant.agency.id.to_string()),
        ("locations", tenant.location.id.to_string()),
        ("channels", channel.id.to_string()),
        ("contacts", contact.id.to_string()),
        ("conversations", conversation.id.to_string()),
        ("messages", message.id.to_string()),
        ("api-keys", key.id.to_string()),
        ("dead-jobs", job.to_string()),
    ]);
    World { tenant, ids, admin }
}

/// A GET as `auth`, answering the status and the body (JSON, or `Null`).
pub(super) async fn get(server: &TestServer, auth: &str, path: &str) -> (u16, Value) {
    let response = server
        .client
        .get(server.url(path))
        .header(AUTHORIZATION, auth)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A request with a JSON body as `auth`.
pub(super) async fn send(
    server: &TestServer,
    method: reqwest::Method,
    auth: &str,
    path: &str,
    body: &Value,
) -> (u16, Value) {
    let response = server
        .client
        .request(method, server.url(path))
        .header(AUTHORIZATION, auth)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Sends a job straight to the dead-letter queue, as if its last attempt had failed.
pub(super) async fn bury(server: &TestServer, job: store::queue::JobId) {
    bury_job(&server.test.store, job).await;
}

/// [`bury`] on a store.
pub(crate) async fn bury_job(store: &store::Store, job: store::queue::JobId) {
    sqlx::query("UPDATE jobs SET state = 'dead', attempt = 5, last_error = 'boom' WHERE id = $1")
        .bind(job.0)
        .execute(store.db().writer())
        .await
        .unwrap();
}
