//! The Marketplace lifecycle webhooks, `INSTALL`, `UNINSTALL` and `PLAN_CHANGE`, acted on.
//!
//! - `INSTALL` of locations under an agency we hold a Company token for: a `provision`
//!   job mints their tokens. Without one (a location-level install), the OAuth callback
//!   is what provisions, so the webhook only acknowledges.
//! - `UNINSTALL`: the location (or the whole agency) becomes `uninstalled`: tokens dropped,
//!   data kept, a purge date `SWITCHBOARD_UNINSTALL_RETENTION_DAYS` ahead recorded; the
//!   daily `retention` job purges it after that date (`jobs::purge`).
//! - `PLAN_CHANGE`: the new plan id recorded on the agency, and on the location if named.
//!
//! Everything is resolved before the receipt's transaction (on PostgreSQL, reads and
//! writes share one pool) and written with it.

use domain::{AgencyId, LocationId};
use ghl::payload::{InstallTarget, MarketplaceEvent};
use serde_json::json;
use store::queue::NewJob;
use store::repo::Location;
use store::{Store, StoreError, Tx};

use crate::install::PROVISION;

/// What a lifecycle event will do, decided before the transaction.
#[derive(Debug)]
pub(super) enum Lifecycle {
    /// Mint tokens for these locations from the agency install `ghl_id`.
    Provision {
        ghl_id: String,
        locations: Vec<String>,
    },
    /// A location-level install: its OAuth callback provisions it.
    AwaitingCallback,
    UninstallLocation(Location),
    UninstallAgency(AgencyId),
    Plan {
        agency: AgencyId,
        location: Option<LocationId>,
        plan_id: String,
    },
    /// Names nothing we know (or is incomplete): acknowledged only.
    Unknown,
}

fn found<T>(result: Result<T, StoreError>) -> Result<Option<T>, StoreError> {
    match result {
        Err(StoreError::NotFound) => Ok(None),
        other => other.map(Some),
    }
}

/// `None` for events that are not lifecycle events.
pub(super) async fn prepare(
    store: &Store,
    event: &MarketplaceEvent,
) -> Result<Option<Lifecycle>, StoreError> {
    let lifecycle = match event {
        MarketplaceEvent::Install(install) => {
            let locations = match install.target() {
                Some(InstallTarget::Location(l)) => vec![l],
                Some(InstallTarget::Locations(ls)) => ls,
                // The agency itself: its OAuth callback carries the token.
                Some(InstallTarget::Agency(_)) | None => {
                    return Ok(Some(Lifecycle::AwaitingCallback))
                }
            };
            let agency = match install.company_id.as_deref() {
                Some(company) => found(store.agency_by_ghl_company(company).await)?,
                None => None,
            };
            let company_install = match &agency {
                Some(agency) => store.company_installation(&agency.id).await?,
                None => None,
            };
            match company_install {
                Some(installation) => Lifecycle::Provision {
                    ghl_id: installation.ghl_id,
                    locations,
                },
                None => Lifecycle::AwaitingCallback,
            }
        }
        MarketplaceEvent::Uninstall(uninstall) => match uninstall.target() {
            Some(InstallTarget::Location(l)) => match found(store.location_by_ghl_id(&l).await)? {
                Some(location) => Lifecycle::UninstallLocation(location),
                None => Lifecycle::Unknown,
            },
            Some(InstallTarget::Agency(company)) => {
                match found(store.agency_by_ghl_company(&company).await)? {
                    Some(agency) => Lifecycle::UninstallAgency(agency.id),
                    None => Lifecycle::Unknown,
                }
            }
            _ => Lifecycle::Unknown,
        },
        MarketplaceEvent::PlanChange(change) => {
            let Some(plan_id) = change.new_plan_id.clone() else {
                return Ok(Some(Lifecycle::Unknown));
            };
            let location = match change.location_id.as_deref() {
                Some(l) => found(store.location_by_ghl_id(l).await)?,
                None => None,
            };
            let agency = match (&location, change.company_id.as_deref()) {
                (Some(location), _) => Some(location.agency_id.clone()),
                (None, Some(company)) => {
                    found(store.agency_by_ghl_company(company).await)?.map(|a| a.id)
                }
                (None, None) => None,
            };
            match agency {
                Some(agency) => Lifecycle::Plan {
                    agency,
                    location: location.map(|l| l.id),
                    plan_id,
                },
                None => Lifecycle::Unknown,
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(lifecycle))
}

/// Applies a prepared lifecycle event in the receipt's transaction; returns the status
/// to answer.
pub(super) async fn apply(
    store: &Store,
    config: &config::Config,
    tx: &mut Tx,
    lifecycle: Lifecycle,
) -> Result<&'static str, StoreError> {
    let purge_after =
        || store.db().now_ms() + i64::from(config.uninstall_retention_days) * 86_400_000;
    Ok(match lifecycle {
        Lifecycle::Provision { ghl_id, locations } => {
            store
                .queue()
                .enqueue(
                    tx,
                    NewJob::new(PROVISION, json!({"ghl_id": ghl_id, "locations": locations})),
                )
                .await?;
            "provisioning"
        }
        Lifecycle::AwaitingCallback => "awaiting_oauth",
        Lifecycle::UninstallLocation(location) => {
            store
                .uninstall_location(tx, &location, purge_after())
                .await?;
            tracing::info!(location = %location.id, "location uninstalled; data kept until its purge date");
            "uninstalled"
        }
        Lifecycle::UninstallAgency(agency) => {
            store.uninstall_agency(tx, &agency, purge_after()).await?;
            tracing::info!(agency = %agency, "agency uninstalled; data kept until its purge date");
            "uninstalled"
        }
        Lifecycle::Plan {
            agency,
            location,
            plan_id,
        } => {
            store
                .record_plan(tx, &agency, location.as_ref(), &plan_id)
                .await?;
            "plan_recorded"
        }
        Lifecycle::Unknown => "unknown_target",
    })
}
