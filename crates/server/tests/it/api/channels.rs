//! Channels through the API, against the sandbox's providers: credentials are checked
//! with the provider before anything is stored, bad input and the wrong tenant or role
//! change nothing, and no answer carries a secret. (Rotation: `channel_rotation.rs`.)

use reqwest::Method;
use sandbox::{Sandbox, SandboxOptions};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::super::auth::{bearer, session, user};
use super::{get, send, world, World};
use crate::TestServer;

pub(super) const LINE: &str = "+15125550100";
pub(super) const PUBLIC_URL: &str = "https://switchboard.example";

/// The sandbox on a loopback port, with one account per provider on [`LINE`].
pub(super) struct Providers {
    pub base: String,
    pub client: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

impl Providers {
    pub async fn start() -> Self {
        let sim = Sandbox::new(SandboxOptions::default());
        let (base, stop, _task) = crate::bridge::serve_sandbox(&sim).await;
        let providers = Self {
            base,
            client: reqwest::Client::new(),
            _stop: stop,
        };
        for (provider, account) in [
            (
                "sendblue",
                json!({"apiKeyId": "kid", "apiSecretKey": "ksecret", "signingSecret": "sign", "lines": [LINE]}),
            ),
            (
                "sendblue",
                json!({"apiKeyId": "kid2", "apiSecretKey": "ksecret2", "signingSecret": "sign", "lines": [LINE]}),
            ),
            (
                "twilio",
                json!({"accountSid": TWILIO_SID, "authToken": "twilio-token", "lines": [LINE]}),
            ),
            (
                "whatsapp",
                json!({"line": LINE, "phoneNumberId": "106540352242922", "accessToken": "EAAG-token", "appSecret": "app-secret"}),
            ),
            (
                "unipile",
                json!({"accountId": "acc-1", "apiKey": "unipile-key", "line": LINE, "webhookSecret": "hook"}),
            ),
        ] {
            providers
                .control(&format!("/{provider}/accounts"), account)
                .await;
        }
        providers
    }

    pub async fn control(&self, path: &str, body: Value) {
        let response = self
            .client
            .post(format!("{}/_control{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}: {response:?}");
    }

    /// What a simulator received, oldest first.
    pub async fn requests(&self, simulator: &str) -> Vec<Value> {
        let answer: Value = self
            .client
            .get(format!("{}/_control/{simulator}/requests", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer.as_array().cloned().unwrap_or_default()
    }

    pub fn api_base(&self, provider: &str) -> String {
        format!("{}/{provider}", self.base)
    }
}

pub(super) const TWILIO_SID: &str = "ACcccccccccccccccccccccccccccccccc";

pub(super) fn sendblue_request(world: &World, providers: &Providers, secret: &str) -> Value {
    json!({
        "location_id": world.id("locations"),
        "provider": "sendblue",
        "line": LINE,
        "credentials": {"api_key_id": "kid", "api_secret_key": secret, "signing_secret": "sign"},
        "api_base": providers.api_base("sendblue"),
    })
}

async fn channel_count(server: &TestServer, world: &World) -> usize {
    let (status, page) = get(server, &world.admin, "/api/v1/channels?limit=200").await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn connecting_a_line_checks_its_credentials_with_the_provider_first() {
    let server = TestServer::start(&[("SWITCHBOARD_PUBLIC_URL", PUBLIC_URL)]).await;
    let alpha = world(&server, "alpha").await;
    let providers = Providers::start().await;
    let before = channel_count(&server, &alpha).await;

    // Refused credentials: 422, nothing stored, the secret not echoed.
    let (status, body) = send(
        &server,
        Method::POST,
        &alpha.admin,
        "/api/v1/channels",
        &sendblue_request(&alpha, &providers, "wrong-secret"),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "credentials_refused");
    assert!(!body.to_string().contains("wrong-secret"), "{body}");
    assert_eq!(channel_count(&server, &alpha).await, before);

    // The provider down: 502, nothing stored.
    providers
        .control("/faults", json!({"target": "sendblue", "kind": "outage"}))
        .await;
    let (status, body) = send(
        &server,
        Method::POST,
        &alpha.admin,
        "/api/v1/channels",
        &sendblue_request(&alpha, &providers, "ksecret"),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["code"], "provider_unavailable");
    assert_eq!(channel_count(&server, &alpha).await, before);
    providers
        .client
        .delete(format!("{}/_control/faults", providers.base))
        .send()
        .await
        .unwrap();

    // Accepted: 201 with the webhook URL and the key names, never the values.
    let (status, created) = send(
        &server,
        Method::POST,
        &alpha.admin,
        "/api/v1/channels",
        &sendblue_request(&alpha, &providers, "ksecret"),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["provider"], "sendblue");
    assert_eq!(created["line"], LINE);
    assert_eq!(created["status"], "active");
    assert_eq!(
        created["webhook_url"],
        format!("{PUBLIC_URL}/webhooks/sendblue/{id}")
    );
    assert_eq!(
        created["credential_keys"],
        json!(["api_key_id", "api_secret_key", "signing_secret"])
    );
    assert!(!created.to_string().contains("ksecret"), "{created}");
    let (status, fetched) = get(&server, &alpha.admin, &format!("/api/v1/channels/{id}")).await;
    assert_eq!(status, 200, "{fetched}");
    assert_eq!(fetched, created);
    assert_eq!(channel_count(&server, &alpha).await, before + 1);
    let checks: Vec<Value> = providers
        .requests("sendblue")
        .await
        .into_iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .unwrap()
                .ends_with("/api/account/webhooks")
        })
        .collect();
    assert!(checks.iter().all(|r| r["method"] == "GET"));
    assert_eq!(checks.last().unwrap()["headers"]["sb-api-key-id"], "kid");

    // The same line again: 409.
    let (status, body) = send(
        &server,
        Method::POST,
        &alpha.admin,
        "/api/v1/channels",
        &sendblue_request(&alpha, &providers, "ksecret"),
    )
    .await;
    assert_eq!(status, 409, "{body}");

    // Twilio, end to end too.
    let (status, body) = send(
        &server,
        Method::POST,
        &alpha.admin,
        "/api/v1/channels",
        &json!({
            "location_id": alpha.id("locations"), "provider": "twilio", "line": LINE,
            "credentials": {"account_sid": TWILIO_SID, "auth_token": "twilio-token"},
            "api_base": providers.api_base("twilio"),
        }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = send(
        &server,
        Method::POST,
        &alpha.admin,
        "/api/v1/channels",
        &json!({
            "location_id": alpha.id("locations"), "provider": "twilio", "line": "+15125550199",
            "credentials": {"account_sid": TWILIO_SID, "auth_token": "not-the-token"},
            "api_base": providers.api_base("twilio"),
        }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    server.stop().await;
}

#[tokio::test]
async fn bad_input_wrong_tenant_and_wrong_role_change_nothing() {
    let server = TestServer::start(&[]).await;
    let alpha = world(&server, "alpha").await;
    let bravo = world(&server, "bravo").await;
    let providers = Providers::start().await;
    let before = channel_count(&server, &alpha).await;
    let good = sendblue_request(&alpha, &providers, "ksecret");
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    for (body, code) in [
        (
            with("provider", json!("carrier-pigeon")),
            "unknown_provider",
        ),
        (with("line", json!("555-0100")), "invalid_line"),
        (
            with("credentials", json!({"api_key_id": "kid"})),
            "missing_credential",
        ),
        (
            with(
                "credentials",
                json!({"api_key_id": "kid", "api_secret_key": "k",
            "signing_secret": "s", "api_kye": "typo"}),
            ),
            "unknown_credential",
        ),
        (
            with("api_base", json!("ftp://example.com")),
            "invalid_api_base",
        ),
        (
            with("settings", json!({"messages_per_second": -1})),
            "invalid_settings",
        ),
        (
            with("settings", json!({"fallback_template": "hello"})),
            "invalid_settings",
        ),
    ] {
        let (status, answer) = send(
            &server,
            Method::POST,
            &alpha.admin,
            "/api/v1/channels",
            &body,
        )
        .await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["code"], code, "{body}: {answer}");
    }
    // Another tenant's location is 404, even with an otherwise bad body.
    let foreign = with("location_id", json!(bravo.id("locations")));
    let (status, _) = send(
        &server,
        Method::POST,
        &alpha.admin,
        "/api/v1/channels",
        &foreign,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = get(
        &server,
        &alpha.admin,
        &format!("/api/v1/channels?location_id={}", bravo.id("locations")),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = get(&server, &alpha.admin, "/api/v1/channels?provider=pigeon").await;
    assert_eq!(status, 400);

    // An agent may read channels but not connect or change them.
    user(&server, "agent@alpha.test", "agent", Some(&alpha.tenant)).await;
    let agent = bearer(
        session(&server, "agent@alpha.test").await["access_token"]
            .as_str()
            .unwrap(),
    );
    let (status, _) = get(
        &server,
        &agent,
        &format!("/api/v1/channels/{}", alpha.id("channels")),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(&server, Method::POST, &agent, "/api/v1/channels", &good).await;
    assert_eq!(status, 403);
    let path = format!("/api/v1/channels/{}", alpha.id("channels"));
    let (status, _) = send(
        &server,
        Method::PATCH,
        &agent,
        &path,
        &json!({"status": "paused"}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(
        &server,
        Method::POST,
        &agent,
        &format!("{path}/credentials"),
        &json!({"credentials": {}}),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(channel_count(&server, &alpha).await, before);

    // PATCH: bad values are 400 and change nothing; good ones apply and are audited.
    for bad in [
        json!({"status": "deleted"}),
        json!({"settings": []}),
        json!({"api_base": "nope"}),
        json!({"colour": "red"}),
    ] {
        let (status, answer) = send(&server, Method::PATCH, &alpha.admin, &path, &bad).await;
        assert!(status == 400 || status == 422, "{bad}: {status} {answer}");
    }
    let (_, unchanged) = get(&server, &alpha.admin, &path).await;
    assert_eq!(unchanged["status"], "active");
    let (status, patched) = send(
        &server,
        Method::PATCH,
        &alpha.admin,
        &path,
        &json!({"status": "paused", "settings": {"messages_per_second": 2},
                "api_base": providers.api_base("sendblue")}),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["status"], "paused");
    assert_eq!(patched["settings"], json!({"messages_per_second": 2.0}));
    let (status, cleared) = send(
        &server,
        Method::PATCH,
        &alpha.admin,
        &path,
        &json!({"api_base": null}),
    )
    .await;
    assert_eq!(status, 200, "{cleared}");
    assert!(cleared["api_base"].is_null());
    assert_eq!(cleared["status"], "paused", "absent fields are kept");
    server.stop().await;
}
