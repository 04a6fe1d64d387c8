//! The demo's tenant: one agency, one GHL location with the app installed, and one line per
//! provider (see `lines`), in our database and in the sandbox alike.
//!
//! Idempotent: our side persists in the data folder and is upserted (the channel is reused
//! by its line, its credentials read back), while the sandbox starts empty every time and is
//! given the same facts again. Fresh GHL tokens are issued at every start and stored.

use anyhow::{Context, Result};
use domain::{AgencyId, ChannelId, LocationId, Provider};
use serde_json::{json, Value};
use store::repo::{NewLocation, NewUser};
use store::{Store, TenantScope};

use super::lines::{seed_line, SeededLine, LINES};
use super::Control;

/// GHL's id for the demo location (GHL location ids are 20 characters).
pub(crate) const GHL_LOCATION_ID: &str = "DemoLocation00000001";
const GHL_COMPANY_ID: &str = "DemoCompany000000001";
/// The conversation provider id GHL would give our Marketplace app.
const CONVERSATION_PROVIDER_ID: &str = "64d0c0de0000000000000001";
const AGENCY_NAME: &str = "Demo agency";
const LOCATION_NAME: &str = "Demo location";
/// The SendBlue line the scripted exchange uses, and the contact: numbers from the 555-01XX
/// range kept for fiction.
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
    /// The SendBlue channel, which the scripted exchange uses.
    pub channel_id: ChannelId,
    /// Every seeded line, one per provider.
    pub lines: Vec<SeededLine>,
    /// The dashboard user's email and this run's password.
    pub login: (String, String),
}

/// The demo's dashboard user, an admin of the demo agency.
pub(crate) const LOGIN_EMAIL: &str = "admin@demo-agency.example";

/// Creates the demo's dashboard user, or gives it a fresh password: the password is
/// printed, never stored in clear, so each run makes a new one.
async fn seed_login(store: &Store, agency: &AgencyId) -> Result<(String, String)> {
    let password = server::auth::generate_password();
    let hash = server::auth::hash_password(&password)?;
    let existing = match store.user_for_login(LOGIN_EMAIL).await {
        Ok(record) => Some(record.user.id),
        Err(store::StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let mut tx = store.begin().await?;
    match existing {
        Some(id) => store.set_user_password(&mut tx, &id, &hash).await?,
        None => {
            store
                .create_user(
                    &mut tx,
                    &NewUser {
                        email: LOGIN_EMAIL.into(),
                        name: "Demo admin".into(),
                        role: server::auth::Role::AgencyAdmin.as_str().into(),
                        password_hash: Some(hash),
                        agency_id: Some(agency.clone()),
                        location_id: None,
                    },
                )
                .await?;
        }
    }
    tx.commit().await?;
    Ok((LOGIN_EMAIL.to_string(), password))
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

    let mut lines = Vec::new();
    for &entry in LINES {
        lines.push(
            seed_line(
                store,
                control,
                &location,
                &agency.id,
                entry,
                public_url,
                sandbox_base,
            )
            .await?,
        );
    }
    let sendblue = lines
        .iter()
        .find(|l| l.provider == Provider::Sendblue)
        .context("the demo seeds a SendBlue line")?;
    let login = seed_login(store, &agency.id).await?;
    Ok(Seeded {
        login,
        agency_id: agency.id,
        location_id: location.id,
        scope,
        conversation_provider_id,
        channel_id: sendblue.channel_id.clone(),
        lines,
    })
}

fn text(value: &Value, key: &str) -> Result<String> {
    value[key]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("the sandbox's answer has no {key}: {value}"))
}
