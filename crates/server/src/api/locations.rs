//! `/api/v1/locations`: the GHL locations (sub-accounts) in the caller's scope.
//!
//! An agency-wide caller sees all its agency's locations, a location's user or key only
//! its own. Changing a location's name or time zone takes `manage_locations`. Locations
//! themselves come from the Marketplace install (or `switchboard location add`), never
//! from this API: GHL owns them.

use axum::extract::{Path, Query, State};
use axum::Json;
use domain::LocationId;
use serde::{Deserialize, Serialize};
use store::repo::Location;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::agencies::valid_name;
use super::{Body, Page, PageQuery};
use crate::auth::{Permission, Principal};
use crate::http::ApiError;
use crate::AppState;

/// A GHL location served by Switchboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct LocationView {
    pub id: String,
    pub agency_id: String,
    pub ghl_location_id: String,
    pub name: String,
    /// An IANA time zone name, e.g. `America/Chicago`.
    pub time_zone: Option<String>,
    pub conversation_provider_id: Option<String>,
    /// `active`, `needs_reauth` or `uninstalled`.
    pub status: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl From<Location> for LocationView {
    fn from(l: Location) -> Self {
        Self {
            id: l.id.to_string(),
            agency_id: l.agency_id.to_string(),
            ghl_location_id: l.ghl_location_id,
            name: l.name,
            time_zone: l.time_zone,
            conversation_provider_id: l.conversation_provider_id,
            status: l.status,
            created_at: l.created_at_ms,
        }
    }
}

/// Fields to change; absent ones are kept.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationPatch {
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: Option<String>,
    /// An IANA time zone name, e.g. `Europe/Paris` or `UTC`.
    #[schema(max_length = 64, pattern = "^[A-Z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$")]
    pub time_zone: Option<String>,
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get_one, update))
}

/// A path id as a location id; one that can't be ours reads as missing.
pub(super) fn location_id(id: &str) -> Result<LocationId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found())
}

/// Locations in the caller's scope, newest first.
#[utoipa::path(get, path = "/api/v1/locations", tag = "locations",
    params(PageQuery),
    responses((status = 200, body = Page<LocationView>)))]
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<LocationView>>, ApiError> {
    principal.require(Permission::ViewConversations)?;
    let paged = state
        .store
        .locations_page(principal.scope()?, &page.paging()?)
        .await?;
    Ok(Json(Page::from_store(paged, LocationView::from)))
}

/// One location.
#[utoipa::path(get, path = "/api/v1/locations/{id}", tag = "locations",
    params(("id" = String, Path, description = "the location's id (loc_…)")),
    responses((status = 200, body = LocationView)))]
async fn get_one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<LocationView>, ApiError> {
    principal.require(Permission::ViewConversations)?;
    let location = state
        .store
        .location(principal.scope()?, &location_id(&id)?)
        .await?;
    Ok(Json(location.into()))
}

/// Renames a location or sets its time zone.
#[utoipa::path(patch, path = "/api/v1/locations/{id}", tag = "locations",
    params(("id" = String, Path, description = "the location's id (loc_…)")),
    request_body = LocationPatch,
    responses((status = 200, body = LocationView)))]
async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Body(patch): Body<LocationPatch>,
) -> Result<Json<LocationView>, ApiError> {
    let scope = principal.scope()?;
    // Looked up first: another tenant's id is 404 whatever the caller's role.
    let location = state.store.location(scope, &location_id(&id)?).await?;
    principal.require(Permission::ManageLocations)?;
    let name = patch.name.as_deref().map(valid_name).transpose()?;
    let time_zone = patch
        .time_zone
        .as_deref()
        .map(valid_time_zone)
        .transpose()?;
    let updated = state
        .store
        .update_location(scope, &location.id, name, time_zone)
        .await?;
    Ok(Json(updated.into()))
}

/// The shape of an IANA zone name (`UTC`, `America/Argentina/Buenos_Aires`,
/// `Etc/GMT+5`). Without a zone database in the binary we check the shape, not that the
/// zone exists; a wrong but well-formed name falls back to UTC where times are computed.
fn valid_time_zone(zone: &str) -> Result<&str, ApiError> {
    let well_formed = !zone.is_empty()
        && zone.len() <= 64
        && zone.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
        })
        && zone.starts_with(|c: char| c.is_ascii_uppercase());
    if well_formed {
        Ok(zone)
    } else {
        Err(ApiError::bad_request(
            "invalid_time_zone",
            "time_zone must be an IANA zone name such as America/Chicago or UTC",
        ))
    }
}
