//! The demo's tenant: one agency, one GHL location with the app installed, one SendBlue line,
//! in our database and in the sandbox alike.
//!
//! Idempotent: our side persists in the data folder and is upserted (the channel is reused
//! by its line, its credentials read back), while the sandbox starts empty every time and is
//! given the same facts again. Fresh GHL tokens are issued at every start and stored.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use domain::{AgencyId, ChannelId, LocationId, Provider};
use serde_json::{json, Value};
use store::repo::{NewChannel, NewLocation};
use store::{Store, TenantScope};

use super::Control;

/// GHL's id for the demo location (GHL location ids are 20 characters).
pub(crate) const GHL_LOCATION_ID: &str = "DemoLocation00000001";
const GHL_COMPANY_ID: &str = "DemoCompany000000001";
/// The conversation provider id GHL would give our Marketplace app.
const CONVERSATION_PROVIDER_ID: &str = "64d0c0de0000000000000001";
const AGENCY_NAME: &str = "Demo agency";
const LOCATION_NAME: &str = "Demo location";
/// The SendBlue line and the contact: numbers from the 555-01XX range kept for fiction.
pub(crate) const LINE: &str = "+12025550100";
pub(crate) const CONTACT: &str = "+12025550199";

/// What was seeded.
#[derive(Debug)]
pub(crate) struct Seeded {
    pub agency_id: AgencyId,
    pub location_id: LocationId,
    /// The demo location's scope, for reading what the gateway stored.
    pub scope: TenantScope,
    pub conversation_provider_id: Option<String>,
    pub channel_id: ChannelId,
    pub webhook_url: String,
}

pub(crate) async fn seed(
    store: &Store,
    control: &Control,
    public_url: &str,
    sandbox_base: &str,
) -> Result<Seeded> {
    // GHL: install the app on the location; the sandbox issues its tokens.
    let install = control
        .post(
            "/ghl/locations",
            json!({
                "locationId": GHL_LOCATION_ID,
                "companyId": GHL_COMPANY_ID,
                "conversationProviderId": CONVERSATION_PROVIDER_ID,
            }),
        )
        .await?;
    let access_token = text(&install, "accessToken")?;
    let refresh_token = text(&install, "refreshToken")?;
    let expires_in = install["expiresIn"].as_i64().unwrap_or(86_399);
    let conversation_provider_id = install["conversationProviderId"]
        .as_str()
        .map(str::to_owned);

    let mut tx = store.begin().await?;
    let agency = store
        .upsert_agency(&mut tx, AGENCY_NAME, Some(GHL_COMPANY_ID))
        .await?;
    let location = store
        .upsert_location(
            &mut tx,
            &agency,
            &NewLocation {
                ghl_location_id: GHL_LOCATION_ID.to_string(),
                name: LOCATION_NAME.to_string(),
                time_zone: None,
                conversation_provider_id: conversation_provider_id.clone(),
            },
        )
        .await
        .context("registering the demo location")?;
    let scope = TenantScope::for_location(&location);
    let expires_at_ms = store
        .db()
        .now_ms()
        .saturating_add(expires_in.saturating_mul(1000));
    store
        .set_location_tokens(
            &mut tx,
            &scope,
            &location.id,
            &access_token,
            &refresh_token,
            Some(expires_at_ms),
        )
        .await?;
    tx.commit().await?;

    // SendBlue: our channel (reused on a re-run), then the same account in the sandbox.
    let api_base = format!("{sandbox_base}/sendblue");
    let existing = store
        .channels(&scope)
        .await?
        .into_iter()
        .find(|c| c.provider == Provider::Sendblue && c.line == LINE);
    let (channel, credentials) = match existing {
        Some(channel) => {
            let credentials = store
                .channel_credentials(&channel)
                .await
                .context("reading the demo channel's credentials")?;
            // This run's sandbox may listen on another port than the last run's.
            let channel = if channel.api_base.as_deref() != Some(api_base.as_str()) {
                let mut tx = store.begin().await?;
                let channel = store
                    .set_channel_api_base(&mut tx, &scope, &channel.id, Some(&api_base))
                    .await
                    .context("pointing the demo channel at this run's sandbox")?;
                tx.commit().await?;
                channel
            } else {
                channel
            };
            tracing::info!(channel = %channel.id, "demo channel reused");
            (channel, credentials)
        }
        None => {
            let credentials = BTreeMap::from([
                ("api_key_id".to_string(), random("demo_key")),
                ("api_secret_key".to_string(), random("demo_secret")),
                ("signing_secret".to_string(), random("demo_whsec")),
            ]);
            let mut tx = store.begin().await?;
            let channel = store
                .create_channel(
                    &mut tx,
                    &location,
                    &NewChannel {
                        provider: Provider::Sendblue,
                        line: LINE.to_string(),
                        credentials: credentials.clone(),
                        api_base: Some(api_base.clone()),
                        settings: json!({}),
                    },
                )
                .await?;
            store
                .audit(
                    &mut tx,
                    Some(&agency.id),
                    "demo",
                    "channel.add",
                    Some(channel.id.as_str()),
                    json!({"provider": Provider::Sendblue, "line": LINE}),
                )
                .await?;
            tx.commit().await?;
            tracing::info!(channel = %channel.id, "demo channel created");
            (channel, credentials)
        }
    };
    let credential = |key: &str| credentials.get(key).cloned().unwrap_or_default();
    control
        .post(
            "/sendblue/accounts",
            json!({
                "apiKeyId": credential("api_key_id"),
                "apiSecretKey": credential("api_secret_key"),
                "signingSecret": credential("signing_secret"),
                "lines": [LINE],
                "email": "demo@sandbox.invalid",
            }),
        )
        .await?;
    let webhook_url = format!("{public_url}/webhooks/sendblue/{}", channel.id);
    control
        .post(
            "/sendblue/webhooks",
            json!({"line": LINE, "url": webhook_url}),
        )
        .await?;
    Ok(Seeded {
        agency_id: agency.id,
        location_id: location.id,
        scope,
        conversation_provider_id,
        channel_id: channel.id,
        webhook_url,
    })
}

/// A throwaway credential: good enough for the sandbox, which is all it opens.
fn random(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new().to_string().to_lowercase())
}

fn text(value: &Value, key: &str) -> Result<String> {
    value[key]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("the sandbox's answer has no {key}: {value}"))
}
