//! The Marketplace install end to end against the sandbox's GHL: `/install`, the consent
//! screen (approving at agency or location level), the OAuth callback, the `provision`
//! job, and the lifecycle webhooks, with a real gateway (HTTP and workers).

use std::sync::Arc;
use std::time::{Duration, Instant};

use sandbox::{Sandbox, SandboxOptions};
use serde_json::{json, Value};
use store::repo::{Agency, Location};
use store::testing::TestStore;
use store::TenantScope;
use tokio::sync::oneshot;

use crate::bridge::{serve_gateway, serve_sandbox};

const CLIENT_ID: &str = "sbapp-client";
const PROVIDER_ID: &str = "cp-install";

pub(crate) struct Install {
    sim: Sandbox,
    sandbox: String,
    gateway: String,
    /// Follows no redirects, so each hop can be checked.
    client: reqwest::Client,
    pub(crate) test: TestStore,
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Install {
    pub(crate) async fn start() -> Self {
        Self::start_with(SandboxOptions::default().ghl_token_expires_in).await
    }

    /// With GHL's tokens living `token_lifetime` seconds.
    async fn start_with(token_lifetime: u64) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let sim = Sandbox::new(SandboxOptions {
            ghl_client_id: Some(CLIENT_ID.into()),
            ghl_client_secret: Some("client-secret".into()),
            ghl_token_expires_in: token_lifetime,
            ..SandboxOptions::default()
        });
        let (sandbox, stop_sim, sim_task) = serve_sandbox(&sim).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway = format!("http://{}", listener.local_addr().unwrap());
        sim.set_gateway_base_url(Some(gateway.clone()));
        let data = tempfile::tempdir().unwrap();
        let env: Vec<(String, String)> = [
            ("SWITCHBOARD_DATA_DIR", data.path().display().to_string()),
            ("SWITCHBOARD_PUBLIC_URL", gateway.clone()),
            ("SWITCHBOARD_GHL_API_BASE", format!("{sandbox}/ghl")),
            ("SWITCHBOARD_GHL_MARKETPLACE_URL", format!("{sandbox}/ghl")),
            (
                "SWITCHBOARD_GHL_WEBHOOK_PUBLIC_KEY",
                sim.ghl_public_key_pem(),
            ),
            ("SWITCHBOARD_GHL_CLIENT_ID", CLIENT_ID.into()),
            ("SWITCHBOARD_GHL_CLIENT_SECRET", "client-secret".into()),
            (
                "SWITCHBOARD_GHL_CONVERSATION_PROVIDER_ID",
                PROVIDER_ID.into(),
            ),
            ("SWITCHBOARD_SHUTDOWN_GRACE_SECS", "2".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let config = Arc::new(config::Config::load(None, env).unwrap().config);
        let test = TestStore::new().await;
        let (stop_gw, gw_task) = serve_gateway(&test, config, listener, data).await;
        Self {
            sim,
            sandbox,
            gateway,
            client,
            test,
            stops: vec![stop_gw, stop_sim],
            tasks: vec![gw_task, sim_task],
        }
    }

    pub(crate) async fn stop(mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }

    fn location_of(response: &reqwest::Response) -> String {
        response
            .headers()
            .get("location")
            .unwrap_or_else(|| panic!("no Location on {}", response.status()))
            .to_str()
            .unwrap()
            .to_string()
    }

    /// `/install`, then the consent screen with the sandbox-only `approve` parameters:
    /// the callback URL GHL would send the browser to.
    async fn consent(&self, approve: &str) -> String {
        let install = self
            .client
            .get(format!("{}/install", self.gateway))
            .send()
            .await
            .unwrap();
        assert_eq!(install.status(), 302);
        let consent = Self::location_of(&install);
        let back = self
            .client
            .get(format!("{consent}&{approve}"))
            .send()
            .await
            .unwrap();
        assert_eq!(back.status(), 302, "{}", back.text().await.unwrap());
        Self::location_of(&back)
    }

    /// The whole browser round trip; returns the callback's answer.
    pub(crate) async fn install(&self, approve: &str) -> reqwest::Response {
        let callback = self.consent(approve).await;
        self.client.get(callback).send().await.unwrap()
    }

    pub(crate) async fn marketplace(&self, event: Value) -> Value {
        let response = self
            .client
            .post(format!("{}/_control/ghl/marketplace", self.sandbox))
            .json(&event)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        response.json().await.unwrap()
    }

    pub(crate) async fn agency(&self, company: &str) -> Option<Agency> {
        self.test.store.agency_by_ghl_company(company).await.ok()
    }

    async fn locations(&self, company: &str) -> Vec<Location> {
        match self.agency(company).await {
            Some(agency) => self
                .test
                .store
                .locations(&TenantScope::for_agency(&agency))
                .await
                .unwrap(),
            None => Vec::new(),
        }
    }

    /// Polls until `company` has `count` active locations with tokens (20 s at most).
    pub(crate) async fn provisioned(&self, company: &str, count: usize) -> Vec<Location> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let locations = self.locations(company).await;
            let mut ready = 0;
            for location in &locations {
                if location.status == "active" && self.tokens(location).await.is_some() {
                    ready += 1;
                }
            }
            if ready == count && locations.len() == count {
                return locations;
            }
            assert!(
                Instant::now() < deadline,
                "{company}: {ready} of {} locations provisioned, wanted {count}",
                locations.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn tokens(&self, location: &Location) -> Option<String> {
        use config::ExposeSecret;
        self.test
            .store
            .location_tokens(&TenantScope::for_location(location), &location.id)
            .await
            .ok()
            .map(|t| t.access_token.expose_secret().to_string())
    }

    /// The stored (sealed) access token column.
    async fn sealed(&self, location: &Location) -> Option<String> {
        sqlx::query_scalar("SELECT access_token_enc FROM locations WHERE id = $1")
            .bind(location.id.as_str())
            .fetch_one(self.test.store.db().reader())
            .await
            .unwrap()
    }

    async fn status_of(&self, location: &Location) -> String {
        self.test
            .store
            .location_for_operator(&location.id)
            .await
            .unwrap()
            .status
    }
}

async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["code"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn install_redirects_to_the_consent_screen_with_a_signed_state() {
    let it = Install::start().await;
    let response = it
        .client
        .get(format!("{}/install", it.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let target = url::Url::parse(&Install::location_of(&response)).unwrap();
    assert_eq!(target.path(), "/ghl/v2/oauth/chooselocation");
    let query: std::collections::HashMap<_, _> = target.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(
        query["redirect_uri"],
        format!("{}/oauth/ghl/callback", it.gateway)
    );
    assert!(query["scope"].contains("oauth.write"));
    assert!(query["scope"].contains("conversations/message.write"));
    // The state we issued is accepted with a real code; a tampered one is refused.
    let callback = it.consent("companyId=coState&locationIds=locState1").await;
    let state = &query["state"];
    let mut forged = state.clone();
    forged.replace_range(
        state.len() - 1..,
        if state.ends_with('0') { "1" } else { "0" },
    );
    let refused = it
        .client
        .get(format!("{callback}&state={forged}"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(refused).await, (400, "bad_state".into()));
    assert!(it.agency("coState").await.is_none(), "nothing stored");
    let accepted = it
        .client
        .get(format!("{callback}&state={state}"))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    it.provisioned("coState", 1).await;
    it.stop().await;
}

#[tokio::test]
async fn an_agency_install_provisions_every_location_and_a_reinstall_duplicates_nothing() {
    let it = Install::start().await;
    // More than one page of installedLocations (20 a page).
    let ids: Vec<String> = (0..23).map(|i| format!("locAgency{i:02}")).collect();
    let approve = format!("companyId=coAgency&locationIds={}", ids.join(","));
    let answer = it.install(&approve).await;
    assert_eq!(answer.status(), 200);
    assert!(answer.text().await.unwrap().contains("installed"));
    let locations = it.provisioned("coAgency", 23).await;
    let mut first_tokens = Vec::new();
    for location in &locations {
        assert_eq!(
            location.conversation_provider_id.as_deref(),
            Some(PROVIDER_ID)
        );
        let token = it.tokens(location).await.unwrap();
        let sealed = it.sealed(location).await.unwrap();
        assert!(!sealed.contains(&token), "the token is stored sealed");
        first_tokens.push(token);
    }
    let installation = it.test.store.installation("coAgency").await.unwrap();
    assert!(installation.is_company());
    assert!(
        installation.ghl_user_id.is_some(),
        "the installing user is kept"
    );

    // Re-install: the same agency and locations, new tokens.
    assert_eq!(it.install(&approve).await.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let again = it.provisioned("coAgency", 23).await;
        let mut renewed = 0;
        for (location, old) in again.iter().zip(&first_tokens) {
            if it.tokens(location).await.as_ref() != Some(old) {
                renewed += 1;
            }
        }
        if renewed == 23 {
            break;
        }
        assert!(Instant::now() < deadline, "{renewed} of 23 tokens renewed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ids_after: Vec<_> = it
        .locations("coAgency")
        .await
        .iter()
        .map(|l| l.id.clone())
        .collect();
    let ids_before: Vec<_> = locations.iter().map(|l| l.id.clone()).collect();
    assert_eq!(ids_after, ids_before, "nothing duplicated");
    it.stop().await;
}

#[tokio::test]
async fn a_location_level_install_provisions_that_location() {
    let it = Install::start().await;
    let answer = it.install("locationId=locSolo").await;
    assert_eq!(answer.status(), 200);
    let installation = it.test.store.installation("locSolo").await.unwrap();
    assert!(!installation.is_company());
    let agency = it.test.store.agency(&installation.agency_id).await.unwrap();
    let company = agency.ghl_company_id.unwrap();
    let locations = it.provisioned(&company, 1).await;
    assert_eq!(locations[0].ghl_location_id, "locSolo");
    it.stop().await;
}

#[tokio::test]
async fn a_bad_or_reused_code_is_refused_and_stores_nothing() {
    let it = Install::start().await;
    let bogus = it
        .client
        .get(format!("{}/oauth/ghl/callback?code=not-a-code", it.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(bogus).await, (400, "invalid_code".into()));
    let missing = it
        .client
        .get(format!("{}/oauth/ghl/callback", it.gateway))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(missing).await, (400, "missing_code".into()));

    let callback = it.consent("companyId=coReuse&locationIds=locReuse1").await;
    assert_eq!(it.client.get(&callback).send().await.unwrap().status(), 200);
    let reused = it.client.get(&callback).send().await.unwrap();
    assert_eq!(error_code(reused).await, (400, "invalid_code".into()));
    it.provisioned("coReuse", 1).await;
    let agencies: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agencies")
        .fetch_one(it.test.store.db().reader())
        .await
        .unwrap();
    assert_eq!(agencies, 1, "only the good code stored anything");
    it.stop().await;
}

#[tokio::test]
async fn uninstall_deactivates_and_keeps_data_and_reinstall_reactivates() {
    let it = Install::start().await;
    let approve = "companyId=coGone&locationIds=locGone1,locGone2";
    assert_eq!(it.install(approve).await.status(), 200);
    let locations = it.provisioned("coGone", 2).await;
    let (first, second) = (&locations[0], &locations[1]);

    // A location is uninstalled: deactivated, tokens gone, data kept with a purge date.
    let sent = it
        .marketplace(json!({"type": "UNINSTALL", "locationId": first.ghl_location_id}))
        .await;
    assert_eq!(sent["gatewayStatus"], 200, "{sent}");
    assert_eq!(it.status_of(first).await, "uninstalled");
    assert_eq!(it.status_of(second).await, "active");
    assert!(it.tokens(first).await.is_none());
    let (_, uninstalled_at, purge_after) =
        it.test.store.location_lifecycle(&first.id).await.unwrap();
    let retention = purge_after.unwrap() - uninstalled_at.unwrap();
    assert_eq!(retention, 30 * 86_400_000, "30 days by default");

    // Its deliveries are refused clearly.
    let delivery = it
        .client
        .post(format!("{}/_control/ghl/outbound", it.sandbox))
        .json(
            &json!({"locationId": first.ghl_location_id, "phone": "+15125550100", "message": "hi"}),
        )
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(delivery["gatewayStatus"], 403, "{delivery}");

    // Its jobs don't call GHL: the connector refuses before building a request.
    let config = config::Config::load(
        None,
        vec![("SWITCHBOARD_DATA_DIR".to_string(), "unused".to_string())],
    )
    .unwrap()
    .config;
    let connectors = server::connectors::Connectors::new(&config).unwrap();
    let uninstalled = it
        .test
        .store
        .location_for_operator(&first.id)
        .await
        .unwrap();
    let built = std::sync::atomic::AtomicBool::new(false);
    let refused = connectors
        .ghl
        .call(
            &it.test.store,
            &uninstalled,
            "test",
            |_| {
                built.store(true, std::sync::atomic::Ordering::SeqCst);
                outbound::ApiRequest::new(reqwest::Method::GET, "http://127.0.0.1:9/never")
            },
            |_| Ok(()),
        )
        .await;
    assert!(
        matches!(
            refused,
            Err(ghl::Error::Call(outbound::Failure::Permanent { .. }))
        ),
        "{refused:?}"
    );
    assert!(
        !built.load(std::sync::atomic::Ordering::SeqCst),
        "no request built"
    );

    // The whole agency is uninstalled.
    it.marketplace(json!({"type": "UNINSTALL", "companyId": "coGone"}))
        .await;
    assert_eq!(it.status_of(second).await, "uninstalled");
    assert_eq!(it.agency("coGone").await.unwrap().status, "uninstalled");

    // Re-install: the same rows, active again with tokens.
    assert_eq!(it.install(approve).await.status(), 200);
    let again = it.provisioned("coGone", 2).await;
    assert_eq!(again[0].id, first.id);
    assert_eq!(it.agency("coGone").await.unwrap().status, "active");
    assert_eq!(
        it.test.store.location_lifecycle(&first.id).await.unwrap(),
        (None, None, None)
    );
    it.stop().await;
}

#[tokio::test]
async fn a_location_installed_later_is_provisioned_from_the_agency_token() {
    let it = Install::start().await;
    assert_eq!(
        it.install("companyId=coLater&locationIds=locLater1")
            .await
            .status(),
        200
    );
    it.provisioned("coLater", 1).await;
    let sent = it
        .marketplace(json!({"type": "INSTALL", "locationId": "locLater2", "companyId": "coLater"}))
        .await;
    assert_eq!(sent["gatewayStatus"], 200, "{sent}");
    let locations = it.provisioned("coLater", 2).await;
    assert!(locations.iter().any(|l| l.ghl_location_id == "locLater2"));
    // The same webhook again (a redelivery would carry the same webhookId; this is a new
    // one) changes nothing.
    it.marketplace(json!({"type": "INSTALL", "locationId": "locLater2", "companyId": "coLater"}))
        .await;
    it.provisioned("coLater", 2).await;
    it.stop().await;
}

#[tokio::test]
async fn plan_change_records_the_new_plan() {
    let it = Install::start().await;
    assert_eq!(
        it.install("companyId=coPlan&locationIds=locPlan1")
            .await
            .status(),
        200
    );
    let location = it.provisioned("coPlan", 1).await.remove(0);
    let sent = it
        .marketplace(json!({"type": "PLAN_CHANGE", "locationId": "locPlan1", "companyId": "coPlan", "newPlanId": "plan-pro"}))
        .await;
    assert_eq!(sent["gatewayStatus"], 200, "{sent}");
    let (plan, _, _) = it
        .test
        .store
        .location_lifecycle(&location.id)
        .await
        .unwrap();
    assert_eq!(plan.as_deref(), Some("plan-pro"));
    assert_eq!(
        it.test
            .store
            .installation("coPlan")
            .await
            .unwrap()
            .plan_id
            .as_deref(),
        Some("plan-pro")
    );
    it.stop().await;
}

#[tokio::test]
async fn an_agency_token_about_to_expire_is_refreshed_before_provisioning() {
    // A minute is inside the refresh margin: provisioning must refresh the Company token
    // (GHL rotates its refresh token) before listing and minting.
    let it = Install::start_with(60).await;
    assert_eq!(
        it.install("companyId=coShort&locationIds=locShort1,locShort2")
            .await
            .status(),
        200
    );
    it.provisioned("coShort", 2).await;
    let refreshes = it
        .sim
        .requests("ghl")
        .into_iter()
        .filter(|r| r.path.ends_with("/oauth/token"))
        .filter(|r| {
            let body = r.body.as_str().unwrap_or_default();
            body.contains("grant_type=refresh_token") && body.contains("user_type=Company")
        })
        .count();
    assert!(refreshes >= 1, "the Company token was refreshed");
    let tokens = it.test.store.installation_tokens("coShort").await.unwrap();
    assert!(
        tokens.refresh_token.is_some(),
        "the rotated refresh token is kept"
    );
    it.stop().await;
}

#[tokio::test]
async fn without_a_client_id_install_says_so() {
    let server = crate::TestServer::start(&[]).await;
    let response = server
        .client
        .get(server.url("/install"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(response).await,
        (503, "install_not_configured".into())
    );
    server.stop().await;
}
