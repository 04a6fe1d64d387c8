//! Flows 1 and 2 end to end against the sandbox's GHL and SendBlue: a real gateway (HTTP
//! and workers) on one port, the simulators on another, talking over loopback.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::{MessageStatus, Provider};
use sandbox::{Sandbox, SandboxOptions};
use serde_json::{json, Value};
use server::{AppState, Roles};
use store::repo::{Location, NewChannel, NewLocation};
use store::testing::TestStore;
use store::TenantScope;
use tokio::sync::oneshot;

pub const GHL_LOCATION: &str = "sbLoc0000000000000001";
pub const LINE: &str = "+15122164639";
const SECRET: &str = "whsec-bridge";
pub const TWILIO_SID: &str = "ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
pub const TWILIO_TOKEN: &str = "twilio-bridge-token";
pub const UNIPILE_ACCOUNT: &str = "acc-bridge-wa";
pub const UNIPILE_SECRET: &str = "unipile-bridge-secret";
pub const WA_PHONE_NUMBER_ID: &str = "106540352242922";
pub const WA_TOKEN: &str = "EAAG-bridge-token";
pub const WA_APP_SECRET: &str = "wa-bridge-app-secret";
pub const WA_VERIFY_TOKEN: &str = "wa-bridge-verify";

pub struct Bridge {
    pub sandbox: String,
    pub client: reqwest::Client,
    pub test: TestStore,
    pub location: Location,
    /// The gateway's base URL (also its public URL).
    pub gateway: String,
    pub channel: store::repo::Channel,
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Bridge {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts with extra `SWITCHBOARD_*` settings for the gateway.
    pub async fn start_with(extra: &[(&str, &str)]) -> Self {
        Self::start_provider(Provider::Sendblue, extra).await
    }

    /// Starts with the line on `provider` (SendBlue, Twilio, WhatsApp or UniPile).
    pub async fn start_provider(provider: Provider, extra: &[(&str, &str)]) -> Self {
        Self::start_full(provider, extra, Duration::from_millis(20)).await
    }

    /// Starts with the providers' status callbacks `callback_delay` after each send.
    pub async fn start_full(
        provider: Provider,
        extra: &[(&str, &str)],
        callback_delay: Duration,
    ) -> Self {
        let client = reqwest::Client::new();
        // The simulators.
        let sim = Sandbox::new(SandboxOptions {
            ghl_client_id: Some("client-id".into()),
            ghl_client_secret: Some("client-secret".into()),
            sendblue_callback_delay: callback_delay,
            twilio_callback_delay: Duration::from_millis(20),
            whatsapp_callback_delay: Duration::from_millis(20),
            ..SandboxOptions::default()
        });
        let (sandbox, stop_sim, sim_task) = serve_sandbox(&sim).await;

        // The gateway, configured against them.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway = format!("http://{}", listener.local_addr().unwrap());
        sim.set_gateway_base_url(Some(gateway.clone()));
        let data = tempfile::tempdir().unwrap();
        let env = vec![
            (
                "SWITCHBOARD_DATA_DIR".to_string(),
                data.path().display().to_string(),
            ),
            ("SWITCHBOARD_PUBLIC_URL".to_string(), gateway.clone()),
            (
                "SWITCHBOARD_GHL_API_BASE".to_string(),
                format!("{sandbox}/ghl"),
            ),
            // The sandbox's model; the AI answers only in tests that also give a key.
            (
                "SWITCHBOARD_OPENAI_API_BASE".to_string(),
                format!("{sandbox}/openai"),
            ),
            // The sandbox's Stripe; usage is reported only in tests that also give a key.
            (
                "SWITCHBOARD_STRIPE_API_BASE".to_string(),
                format!("{sandbox}/stripe"),
            ),
            (
                "SWITCHBOARD_GHL_WEBHOOK_PUBLIC_KEY".to_string(),
                sim.ghl_public_key_pem(),
            ),
            (
                "SWITCHBOARD_GHL_CLIENT_ID".to_string(),
                "client-id".to_string(),
            ),
            (
                "SWITCHBOARD_GHL_CLIENT_SECRET".to_string(),
                "client-secret".to_string(),
            ),
            (
                "SWITCHBOARD_SHUTDOWN_GRACE_SECS".to_string(),
                "2".to_string(),
            ),
            // The sandbox's media host is on loopback (`extra` may set it back to false).
            (crate::ALLOW_INTERNAL_MEDIA.to_string(), "true".to_string()),
        ];
        let env: Vec<(String, String)> = env
            .into_iter()
            .chain(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
        let config = Arc::new(config::Config::load(None, env).unwrap().config);
        let test = TestStore::new().await;

        // A GHL install and a provider account, on both sides.
        let seeded: Value = client
            .post(format!("{sandbox}/_control/ghl/locations"))
            .json(&json!({"locationId": GHL_LOCATION, "conversationProviderId": "cp-bridge"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let (account, credentials) = match provider {
            Provider::Twilio => (
                json!({"accountSid": TWILIO_SID, "authToken": TWILIO_TOKEN, "lines": [LINE]}),
                BTreeMap::from([
                    ("account_sid".to_string(), TWILIO_SID.to_string()),
                    ("auth_token".to_string(), TWILIO_TOKEN.to_string()),
                ]),
            ),
            // The DSN names no reachable host: the channel's `api_base` override must win.
            Provider::Unipile => (
                json!({"accountId": UNIPILE_ACCOUNT, "apiKey": "unipile-key", "line": LINE, "webhookSecret": UNIPILE_SECRET}),
                BTreeMap::from([
                    ("dsn".to_string(), "unipile.invalid:13111".to_string()),
                    ("api_key".to_string(), "unipile-key".to_string()),
                    ("account_id".to_string(), UNIPILE_ACCOUNT.to_string()),
                    ("webhook_secret".to_string(), UNIPILE_SECRET.to_string()),
                ]),
            ),
            Provider::Whatsapp => (
                json!({"line": LINE, "phoneNumberId": WA_PHONE_NUMBER_ID, "accessToken": WA_TOKEN, "appSecret": WA_APP_SECRET}),
                BTreeMap::from([
                    (
                        "phone_number_id".to_string(),
                        WA_PHONE_NUMBER_ID.to_string(),
                    ),
                    ("access_token".to_string(), WA_TOKEN.to_string()),
                    ("app_secret".to_string(), WA_APP_SECRET.to_string()),
                    ("verify_token".to_string(), WA_VERIFY_TOKEN.to_string()),
                ]),
            ),
            _ => (
                json!({"apiKeyId": "kid", "apiSecretKey": "ksecret", "signingSecret": SECRET, "lines": [LINE]}),
                BTreeMap::from([
                    ("api_key_id".to_string(), "kid".to_string()),
                    ("api_secret_key".to_string(), "ksecret".to_string()),
                    ("signing_secret".to_string(), SECRET.to_string()),
                ]),
            ),
        };
        client
            .post(format!("{sandbox}/_control/{provider}/accounts"))
            .json(&account)
            .send()
            .await
            .unwrap();
        let store = &test.store;
        let mut tx = store.begin().await.unwrap();
        let agency = store
            .upsert_agency(&mut tx, "Bridge agency", None)
            .await
            .unwrap();
        let location = store
            .create_location(
                &mut tx,
                &agency,
                &NewLocation {
                    ghl_location_id: GHL_LOCATION.into(),
                    conversation_provider_id: Some("cp-bridge".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let expires = store.db().now_ms() + 86_000_000;
        store
            .set_location_tokens(
                &mut tx,
                &TenantScope::for_location(&location),
                &location.id,
                seeded["accessToken"].as_str().unwrap(),
                seeded["refreshToken"].as_str().unwrap(),
                Some(expires),
            )
            .await
            .unwrap();
        let channel = store
            .create_channel(
                &mut tx,
                &location,
                &NewChannel {
                    provider,
                    line: LINE.into(),
                    credentials,
                    api_base: Some(format!("{sandbox}/{provider}")),
                    settings: json!({}),
                },
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        client
            .post(format!("{sandbox}/_control/{provider}/webhooks"))
            .json(&json!({"line": LINE, "url": format!("{gateway}/webhooks/{provider}/{}", channel.id)}))
            .send().await.unwrap();

        let (stop_gw, gw_task) = serve_gateway(&test, config, listener, data).await;
        Self {
            sandbox,
            client,
            test,
            location,
            gateway,
            channel,
            stops: vec![stop_gw, stop_sim],
            tasks: vec![gw_task, sim_task],
        }
    }

    pub async fn control(&self, path: &str, body: Value) -> Value {
        let response = self
            .client
            .post(format!("{}/_control{path}", self.sandbox))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {value}");
        value
    }

    /// The scope of the bridge's agency, as a job or an agency admin reads through it.
    pub async fn agency_scope(&self) -> store::TenantScope {
        let agency = self
            .test
            .store
            .agency(&self.location.agency_id)
            .await
            .unwrap();
        store::TenantScope::for_agency(&agency)
    }

    pub async fn get(&self, path: &str) -> Value {
        self.client
            .get(format!("{}/_control{path}", self.sandbox))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The messages the GHL simulator holds for the test location.
    pub async fn ghl_messages(&self) -> Vec<Value> {
        match self
            .get(&format!("/ghl/messages?locationId={GHL_LOCATION}"))
            .await
        {
            Value::Array(messages) => messages,
            other => panic!("GHL's messages: {other}"),
        }
    }

    /// Polls `check` against the sandbox's view until it holds (30 s at most).
    pub async fn eventually(&self, what: &str, check: impl AsyncFnMut(&Self) -> bool) {
        self.eventually_within(what, Duration::from_secs(30), check)
            .await
    }

    pub async fn eventually_within(
        &self,
        what: &str,
        limit: Duration,
        mut check: impl AsyncFnMut(&Self) -> bool,
    ) {
        let deadline = Instant::now() + limit;
        while !check(self).await {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn stop(mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

pub fn statuses(message: &Value) -> Vec<String> {
    message["statusHistory"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["status"].as_str().map(String::from))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_from_ghl_reaches_sendblue_and_its_status_reaches_ghl() {
    let bridge = Bridge::start().await;
    let sent = bridge
        .control("/ghl/outbound", json!({"locationId": GHL_LOCATION, "phone": "+19998887777", "message": "Hi from GHL", "userId": "user-1"}))
        .await;
    let ghl_id = sent["messageId"].as_str().unwrap().to_string();
    bridge
        .eventually("SendBlue to receive the send", async |b| {
            b.get("/sendblue/messages")
                .await
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["content"] == "Hi from GHL")
        })
        .await;
    bridge
        .eventually("GHL to hear 'delivered'", async |b| {
            b.ghl_messages().await.iter().any(|m| {
                m["id"] == ghl_id.as_str() && statuses(m).contains(&"delivered".to_string())
            })
        })
        .await;
    let store = &bridge.test.store;
    let id: String = sqlx::query_scalar("SELECT id FROM messages WHERE ghl_message_id = $1")
        .bind(&ghl_id)
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    let scope = TenantScope::for_location(&bridge.location);
    let message = store.message(&scope, &id.parse().unwrap()).await.unwrap();
    assert_eq!(message.status, MessageStatus::Delivered);
    assert_eq!(message.actor, domain::Actor::Agent);
    // GHL has heard; our record of its answer is committed just after.
    bridge
        .eventually("the GHL update on the timeline", async |b| {
            let store = &b.test.store;
            let timeline = store.message_timeline(&scope, &message.id).await.unwrap();
            timeline.iter().any(|e| e.kind == "ghl.status")
        })
        .await;
    let timeline = store.message_timeline(&scope, &message.id).await.unwrap();
    let attempt = timeline.iter().find(|e| e.kind == "send.attempt").unwrap();
    assert_eq!(attempt.detail["sms_segments"], 1, "{:?}", attempt.detail);
    let kinds: Vec<String> = timeline.into_iter().map(|e| e.kind).collect();
    for step in [
        "created",
        "webhook.received",
        "send.attempt",
        "send.accepted",
        "status",
        "ghl.status",
    ] {
        assert!(
            kinds.iter().any(|k| k == step),
            "{step} missing from {kinds:?}"
        );
    }
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_from_a_contact_reaches_ghl_once() {
    let bridge = Bridge::start().await;
    bridge
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": "+19998887777", "content": "Hello there"}),
        )
        .await;
    bridge
        .eventually("GHL to receive the inbound message", async |b| {
            b.ghl_messages()
                .await
                .iter()
                .any(|m| m["body"] == "Hello there" && m["direction"] == "inbound")
        })
        .await;
    let store = &bridge.test.store;
    bridge
        .eventually("the GHL id to be recorded", async |b| {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE ghl_message_id IS NOT NULL AND direction = 'inbound'")
                .fetch_one(b.test.store.db().reader()).await.unwrap();
            n == 1
        })
        .await;
    // The GHL contact was created once and mapped.
    let ghl_contact: Option<String> = sqlx::query_scalar("SELECT ghl_contact_id FROM contacts")
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    assert!(ghl_contact.is_some());
    let contacts = bridge
        .get(&format!("/ghl/contacts?locationId={GHL_LOCATION}"))
        .await;
    assert_eq!(contacts.as_array().unwrap().len(), 1);
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_confirms_once_sets_dnd_and_blocks_later_sends() {
    let bridge = Bridge::start().await;
    bridge
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": "+19998887777", "content": "STOP"}),
        )
        .await;
    // One confirmation is attempted. SendBlue (like the sandbox) opts the contact out
    // itself on STOP and declines the send; we record that, we don't retry it.
    bridge
        .eventually("the confirmation to be attempted", async |b| {
            confirmation_sends(&b.get("/sendblue/requests").await) == 1
        })
        .await;
    bridge
        .eventually("GHL's DND to be set", async |b| {
            let contacts = b
                .get(&format!("/ghl/contacts?locationId={GHL_LOCATION}"))
                .await;
            contacts
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["dndSettings"]["SMS"]["status"] == "active")
        })
        .await;
    // A second STOP from someone already opted out is posted to GHL but not confirmed again.
    bridge
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": "+19998887777", "content": "stop"}),
        )
        .await;
    bridge
        .eventually("the second STOP in GHL", async |b| {
            b.ghl_messages().await.iter().any(|m| m["body"] == "stop")
        })
        .await;
    // A GHL user writes to the opted-out contact: nothing goes out, GHL hears 'failed'.
    let sent = bridge.control("/ghl/outbound", json!({"locationId": GHL_LOCATION, "phone": "+19998887777", "message": "Special offer!"})).await;
    let ghl_id = sent["messageId"].as_str().unwrap().to_string();
    bridge
        .eventually("GHL to hear 'failed'", async |b| {
            b.ghl_messages()
                .await
                .iter()
                .any(|m| m["id"] == ghl_id.as_str() && statuses(m).contains(&"failed".to_string()))
        })
        .await;
    let requests = bridge.get("/sendblue/requests").await;
    assert_eq!(confirmation_sends(&requests), 1);
    let sends = requests
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().unwrap_or("").ends_with("/send-message"))
        .count();
    assert_eq!(
        sends, 1,
        "only the confirmation may be attempted: {requests}"
    );
    bridge.stop().await;
}

/// How many sends of the opt-out confirmation SendBlue received.
fn confirmation_sends(requests: &Value) -> usize {
    requests
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().unwrap_or("").ends_with("/send-message"))
        .filter(|r| r["body"].to_string().contains("unsubscribed"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_gone_from_ghl_is_looked_up_again() {
    let bridge = Bridge::start().await;
    bridge
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": "+19998887777", "content": "first"}),
        )
        .await;
    let store = bridge.test.store.clone();
    bridge
        .eventually("the contact to be mapped", async |b| {
            let id: Option<String> = sqlx::query_scalar("SELECT ghl_contact_id FROM contacts")
                .fetch_one(b.test.store.db().reader())
                .await
                .unwrap();
            id.is_some()
        })
        .await;
    let real: String = sqlx::query_scalar("SELECT ghl_contact_id FROM contacts")
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    // GHL merged or deleted the contact: our mapping now names nobody.
    sqlx::query("UPDATE contacts SET ghl_contact_id = 'gone000000000000000'")
        .execute(store.db().writer())
        .await
        .unwrap();
    bridge
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": "+19998887777", "content": "second"}),
        )
        .await;
    bridge
        .eventually("GHL to receive the second message", async |b| {
            b.ghl_messages().await.iter().any(|m| m["body"] == "second")
        })
        .await;
    let now: String = sqlx::query_scalar("SELECT ghl_contact_id FROM contacts")
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    assert_eq!(now, real);
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_jobs_with_an_expired_token_refresh_it_exactly_once() {
    let bridge = Bridge::start().await;
    let store = bridge.test.store.clone();
    // The access token has expired on both sides.
    sqlx::query("UPDATE locations SET token_expires_at = 0")
        .execute(store.db().writer())
        .await
        .unwrap();
    bridge
        .control(
            &format!("/ghl/locations/{GHL_LOCATION}/expire-tokens"),
            json!({}),
        )
        .await;
    for i in 0..8 {
        bridge.control("/sendblue/inbound", json!({"line": LINE, "from": format!("+1999888770{i}"), "content": format!("hi {i}")})).await;
    }
    bridge
        .eventually("all eight messages in GHL", async |b| {
            b.ghl_messages()
                .await
                .iter()
                .filter(|m| m["direction"] == "inbound")
                .count()
                == 8
        })
        .await;
    let requests = bridge.get("/ghl/requests").await;
    let refreshes: Vec<&Value> = requests
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .unwrap_or("")
                .starts_with("/ghl/oauth/token")
        })
        .collect();
    assert_eq!(refreshes.len(), 1, "{refreshes:?}");
    let status: String = sqlx::query_scalar("SELECT status FROM locations")
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    assert_eq!(status, "active");
    bridge.stop().await;
}

/// Every job of `kind` with its state and attempts.
pub async fn jobs_of(store: &store::Store, kind: &str) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT state, attempt FROM jobs WHERE kind = $1")
        .bind(kind)
        .fetch_all(store.db().reader())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sendblue_outage_defers_sends_without_burning_attempts_and_they_drain_after() {
    let bridge = Bridge::start_with(&[
        ("SWITCHBOARD_BREAKER_THRESHOLD", "2"),
        ("SWITCHBOARD_BREAKER_COOLDOWN_SECS", "1"),
    ])
    .await;
    bridge
        .control(
            "/faults",
            json!({"target": "sendblue", "kind": "outage", "duration_ms": 3000}),
        )
        .await;
    for i in 0..5 {
        bridge
            .control("/ghl/outbound", json!({"locationId": GHL_LOCATION, "phone": format!("+1999888771{i}"), "message": format!("during outage {i}")}))
            .await;
    }
    bridge
        .eventually("all five sends after the outage", async |b| {
            let sent = b.get("/sendblue/messages").await;
            sent.as_array()
                .unwrap()
                .iter()
                .filter(|m| {
                    m["content"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("during outage")
                })
                .count()
                == 5
        })
        .await;
    bridge
        .eventually("every deliver job done", async |b| {
            jobs_of(&b.test.store, "deliver")
                .await
                .iter()
                .all(|(state, _)| state == "done")
        })
        .await;
    // Only the calls made before the breaker opened used attempts; the rest waited.
    let jobs = jobs_of(&bridge.test.store, "deliver").await;
    assert_eq!(jobs.len(), 5);
    let max_attempt = jobs.iter().map(|(_, a)| *a).max().unwrap();
    assert!(
        max_attempt <= 3,
        "attempts burned while the breaker was open: {jobs:?}"
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ghl_429_storm_loses_nothing_and_uses_no_attempts() {
    let bridge = Bridge::start().await;
    bridge
        .control("/faults", json!({"target": "ghl", "path_prefix": "/ghl/conversations", "kind": "rate_limit", "retry_after_secs": 1, "probability": 0.5, "duration_ms": 3000}))
        .await;
    for i in 0..10 {
        bridge.control("/sendblue/inbound", json!({"line": LINE, "from": format!("+1999888772{i}"), "content": format!("storm {i}")})).await;
    }
    bridge
        .eventually("all ten messages in GHL", async |b| {
            b.ghl_messages()
                .await
                .iter()
                .filter(|m| m["body"].as_str().unwrap_or("").starts_with("storm"))
                .count()
                == 10
        })
        .await;
    bridge
        .eventually("every sync_inbound job done", async |b| {
            jobs_of(&b.test.store, "sync_inbound")
                .await
                .iter()
                .all(|(state, _)| state == "done")
        })
        .await;
    for (state, attempt) in jobs_of(&bridge.test.store, "sync_inbound").await {
        assert_eq!(
            (state.as_str(), attempt),
            ("done", 1),
            "a 429 used an attempt"
        );
    }
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_beyond_ghls_budget_gets_no_429_and_is_paced_through() {
    const BURST: usize = 130;
    let bridge = Bridge::start().await;
    // One contact, so after the first message every job is one GHL call.
    for i in 0..BURST {
        bridge
            .control(
                "/sendblue/inbound",
                json!({"line": LINE, "from": "+19998887799", "content": format!("burst {i}")}),
            )
            .await;
    }
    let started = Instant::now();
    bridge
        .eventually_within(
            "the burst to reach GHL",
            Duration::from_secs(60),
            async |b| {
                b.ghl_messages()
                    .await
                    .iter()
                    .filter(|m| m["body"].as_str().unwrap_or("").starts_with("burst"))
                    .count()
                    == BURST
            },
        )
        .await;
    // More than 100 calls needed a second 10 s window: the budget paced them...
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // ...and GHL never had to say 429: every inbound POST it saw created a message.
    let requests = bridge.get("/ghl/requests").await;
    let posts = requests
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["method"] == "POST"
                && r["path"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("/ghl/conversations/messages/inbound")
        })
        .count();
    assert_eq!(
        posts, BURST,
        "inbound POSTs beyond the messages created were refused"
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contacts_next_send_does_not_wait_for_ghl_status_updates() {
    let bridge = Bridge::start().await;
    // GHL refuses every status update for a while; sends need nothing from GHL.
    bridge
        .control(
            "/faults",
            json!({"target": "ghl", "path_prefix": "/ghl/conversations/messages", "kind": "outage", "duration_ms": 20000}),
        )
        .await;
    let phone = "+19998887711";
    let send = async |i: usize| {
        bridge
            .control("/ghl/outbound", json!({"locationId": GHL_LOCATION, "phone": phone, "message": format!("in order {i}"), "userId": "user-1"}))
            .await;
    };
    let waiting_status_updates = async |b: &Bridge| -> i64 {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'sync_status' AND state <> 'done'",
        )
        .fetch_one(b.test.store.db().reader())
        .await
        .unwrap()
    };
    // The first message goes out, and its status update then waits for GHL...
    send(0).await;
    bridge
        .eventually("the first message's status update", async |b| {
            waiting_status_updates(b).await > 0
        })
        .await;
    // ...while the next two, enqueued after it, go out in order (the outage lasts longer
    // than this wait).
    send(1).await;
    send(2).await;
    let sent = async |b: &Bridge| -> Vec<String> {
        b.get("/sendblue/messages")
            .await
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["content"].as_str())
            .filter(|c| c.starts_with("in order"))
            .map(String::from)
            .collect()
    };
    bridge
        .eventually_within(
            "three sends during GHL's outage",
            Duration::from_secs(10),
            async |b| sent(b).await.len() == 3,
        )
        .await;
    assert_eq!(
        sent(&bridge).await,
        ["in order 0", "in order 1", "in order 2"]
    );
    assert!(
        waiting_status_updates(&bridge).await > 0,
        "the status updates should still be waiting"
    );
    bridge.stop().await;
}

/// Serves `sim` on a loopback port: its base URL, how to stop it, its task.
pub async fn serve_sandbox(
    sim: &Sandbox,
) -> (String, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let sim = sim.clone();
    let task = tokio::spawn(async move {
        let _ = sim
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await;
    });
    (base, stop, task)
}

/// Runs the gateway (HTTP and workers) on `listener`, with its own connection to `test`'s
/// database as another process would have; `data` lives as long as it runs.
pub async fn serve_gateway(
    test: &TestStore,
    config: Arc<config::Config>,
    listener: tokio::net::TcpListener,
    data: tempfile::TempDir,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let gateway_store = store::Store::new(
        store::Db::connect(&test.options()).await.unwrap(),
        store::testing::test_keys(),
    );
    let state = AppState::new(gateway_store, config).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server::run(
            state,
            Roles {
                http: Some(listener),
                workers: true,
            },
            async {
                let _ = stopped.await;
            },
        )
        .await
        .unwrap();
        drop(data);
    });
    (stop, task)
}
