//! `provision`: makes an install's locations usable. With a Company (agency) token it
//! pages through the installed locations (or takes the ones an `INSTALL` webhook named)
//! and mints each one's Location token; with a Location token it is that one location.
//! Each location is upserted with its sealed tokens and the configured conversation
//! provider id, and reactivated.
//!
//! Idempotent: a re-run (a retry, a re-install) updates tokens in place and creates
//! nothing twice. Each location is committed on its own, so a failure part-way keeps the
//! locations done and the retry redoes the rest.

use ghl::api::{TokenGrant, INSTALLED_LOCATIONS_PAGE};
use serde::Deserialize;
use store::queue::{Job, Outcome};
use store::repo::{Agency, Installation, NewLocation};
use store::{StoreError, TenantScope};

use super::{outcome_of, storage, JobContext};

#[derive(Debug, Deserialize)]
pub(super) struct Provision {
    /// The install: GHL's company id (agency install) or location id (location install).
    ghl_id: String,
    /// Only these locations (an `INSTALL` webhook for locations added later); all the
    /// installed ones when absent.
    #[serde(default)]
    locations: Option<Vec<String>>,
}

/// Pages at most this many times (20 000 locations), so a GHL that keeps answering full
/// pages can't keep the job busy forever.
const MAX_PAGES: u32 = 1000;

pub(super) async fn provision(ctx: JobContext, _job: Job, p: Provision) -> Outcome {
    match steps(&ctx, &p).await {
        Ok(outcome) | Err(outcome) => outcome,
    }
}

fn stored(e: StoreError) -> Outcome {
    match e {
        StoreError::Conflict(detail) => Outcome::Permanent { error: detail },
        other => storage(other),
    }
}

fn called(e: ghl::Error) -> Outcome {
    outcome_of(e.into_failure())
}

async fn steps(ctx: &JobContext, p: &Provision) -> Result<Outcome, Outcome> {
    let store = &ctx.store;
    let installation = match store.installation(&p.ghl_id).await {
        Err(StoreError::NotFound) => {
            return Err(Outcome::Permanent {
                error: format!("no install {}", p.ghl_id),
            })
        }
        other => other.map_err(stored)?,
    };
    if installation.status != "active" {
        tracing::info!(install = %p.ghl_id, "install no longer active; nothing to provision");
        return Ok(Outcome::Completed);
    }
    let agency = store
        .agency(&installation.agency_id)
        .await
        .map_err(stored)?;
    if !installation.is_company() {
        let tokens = store
            .installation_tokens(&installation.ghl_id)
            .await
            .map_err(stored)?;
        use config::ExposeSecret;
        let grant = Minted {
            access: tokens.access_token.expose_secret().to_string(),
            refresh: tokens
                .refresh_token
                .as_ref()
                .map(|r| r.expose_secret().to_string()),
            expires_at_ms: tokens.expires_at_ms,
        };
        save(ctx, &agency, &installation.ghl_id, grant).await?;
        return Ok(Outcome::Completed);
    }
    let targets = match &p.locations {
        Some(locations) => locations.clone(),
        None => installed_locations(ctx, &installation).await?,
    };
    for location in &targets {
        let grant = ctx
            .connectors
            .ghl
            .agency_call(
                store,
                &installation,
                "location_token",
                |api| ghl::api::agency_location_token_request(api, &installation.ghl_id, location),
                ghl::api::parse_token,
            )
            .await
            .map_err(called)?;
        save(ctx, &agency, location, Minted::from_grant(ctx, &grant)).await?;
    }
    tracing::info!(install = %installation.ghl_id, locations = targets.len(), "agency install provisioned");
    Ok(Outcome::Completed)
}

/// Every installed location of the agency install, page by page.
async fn installed_locations(
    ctx: &JobContext,
    installation: &Installation,
) -> Result<Vec<String>, Outcome> {
    let Some(app_id) = ctx.connectors.ghl.app_id() else {
        return Err(Outcome::Permanent {
            error: "SWITCHBOARD_GHL_CLIENT_ID is needed to list installed locations".into(),
        });
    };
    let mut found = Vec::new();
    for page in 0..MAX_PAGES {
        let skip = page * INSTALLED_LOCATIONS_PAGE;
        let listed = ctx
            .connectors
            .ghl
            .agency_call(
                &ctx.store,
                installation,
                "installed_locations",
                |api| {
                    ghl::api::installed_locations_request(
                        api,
                        &installation.ghl_id,
                        app_id,
                        skip,
                        INSTALLED_LOCATIONS_PAGE,
                    )
                },
                ghl::api::parse_installed_locations,
            )
            .await
            .map_err(called)?;
        let got = listed.locations.len();
        found.extend(
            listed
                .locations
                .into_iter()
                .filter(|l| l.is_installed != Some(false))
                .map(|l| l.id),
        );
        // A short page is the last; so is reaching `count`, when GHL gives it.
        let seen = u64::from(skip) + got as u64;
        if got < INSTALLED_LOCATIONS_PAGE as usize || listed.count.is_some_and(|n| seen >= n) {
            break;
        }
    }
    // Pages can shift while installs change; each location once, in GHL's order.
    let mut seen = std::collections::HashSet::new();
    found.retain(|id| seen.insert(id.clone()));
    Ok(found)
}

/// A location's tokens, to store.
struct Minted {
    access: String,
    refresh: Option<String>,
    expires_at_ms: Option<i64>,
}

impl Minted {
    fn from_grant(ctx: &JobContext, grant: &TokenGrant) -> Self {
        Self {
            access: grant.access_token.clone(),
            refresh: grant.refresh_token.clone(),
            expires_at_ms: grant.expires_in.map(|s| {
                ctx.store.db().now_ms() + i64::try_from(s).unwrap_or(86_399).saturating_mul(1000)
            }),
        }
    }
}

/// Upserts one location with its tokens, active, in one transaction.
async fn save(
    ctx: &JobContext,
    agency: &Agency,
    ghl_location_id: &str,
    minted: Minted,
) -> Result<(), Outcome> {
    let store = ctx.store.clone();
    let agency = agency.clone();
    let new = NewLocation {
        ghl_location_id: ghl_location_id.to_owned(),
        conversation_provider_id: ctx.config.ghl_conversation_provider_id.clone(),
        ..NewLocation::default()
    };
    ctx.store
        .write(move |tx| {
            Box::pin(async move {
                let location = store.upsert_location(tx, &agency, &new).await?;
                // A location token minted without a refresh token is refreshed by minting
                // again from the agency token; the empty one is never accepted by GHL.
                let refresh = minted.refresh.unwrap_or_default();
                store
                    .set_location_tokens(
                        tx,
                        &TenantScope::for_location(&location),
                        &location.id,
                        &minted.access,
                        &refresh,
                        minted.expires_at_ms,
                    )
                    .await?;
                store.activate_location(tx, &location.id).await
            })
        })
        .await
        .map_err(stored)
}
