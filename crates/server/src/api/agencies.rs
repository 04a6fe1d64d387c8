//! `/api/v1/agencies`: the agency a caller belongs to; every agency, for operators.
//!
//! Operators (no tenant of their own) list and read every agency; anyone else sees only
//! their own, and any other id is 404. Renaming takes `manage_agencies` (operators) or,
//! for one's own agency, `manage_locations` (the agency's admins).

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use store::repo::Agency;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Body, Page, PageQuery};
use crate::auth::{allows, Permission, Principal};
use crate::http::ApiError;
use crate::AppState;

/// The longest agency or location name we keep.
pub(super) const MAX_NAME_CHARS: usize = 200;

/// An agency (a GHL company that installed Switchboard).
#[derive(Debug, Serialize, ToSchema)]
pub struct AgencyView {
    pub id: String,
    pub name: String,
    pub ghl_company_id: Option<String>,
    /// `active` or `uninstalled`.
    pub status: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl From<Agency> for AgencyView {
    fn from(a: Agency) -> Self {
        Self {
            id: a.id.to_string(),
            name: a.name,
            ghl_company_id: a.ghl_company_id,
            status: a.status,
            created_at: a.created_at_ms,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AgencyPatch {
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get_one, update))
}

/// The agency `id` if the caller may see it, else 404 (operators see every one).
async fn visible(state: &AppState, principal: &Principal, id: &str) -> Result<Agency, ApiError> {
    let id: domain::AgencyId = id.parse().map_err(|_| ApiError::not_found())?;
    if !allows(principal.role, Permission::ManageAgencies) {
        let scope = principal.scope()?;
        if scope.agency_id() != &id {
            return Err(ApiError::not_found());
        }
    }
    Ok(state.store.agency(&id).await?)
}

/// Agencies the caller can see, newest first.
#[utoipa::path(get, path = "/api/v1/agencies", tag = "agencies",
    params(PageQuery),
    responses((status = 200, body = Page<AgencyView>)))]
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<AgencyView>>, ApiError> {
    let paging = page.paging()?;
    if allows(principal.role, Permission::ManageAgencies) {
        let paged = state.store.agencies_for_operator(&paging).await?;
        return Ok(Json(Page::from_store(paged, AgencyView::from)));
    }
    // A tenant sees one agency, its own: a one-row first page, nothing after it.
    let own = state.store.agency(principal.scope()?.agency_id()).await?;
    let items = match paging.after {
        None => vec![own.into()],
        Some(_) => Vec::new(),
    };
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

/// One agency.
#[utoipa::path(get, path = "/api/v1/agencies/{id}", tag = "agencies",
    params(("id" = String, Path, description = "the agency's id (agy_…)")),
    responses((status = 200, body = AgencyView)))]
async fn get_one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<AgencyView>, ApiError> {
    Ok(Json(visible(&state, &principal, &id).await?.into()))
}

/// Renames an agency.
#[utoipa::path(patch, path = "/api/v1/agencies/{id}", tag = "agencies",
    params(("id" = String, Path, description = "the agency's id (agy_…)")),
    request_body = AgencyPatch,
    responses((status = 200, body = AgencyView)))]
async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Body(patch): Body<AgencyPatch>,
) -> Result<Json<AgencyView>, ApiError> {
    let agency = visible(&state, &principal, &id).await?;
    if !allows(principal.role, Permission::ManageAgencies) {
        principal.require(Permission::ManageLocations)?;
    }
    let name = valid_name(&patch.name)?;
    Ok(Json(
        state.store.rename_agency(&agency.id, name).await?.into(),
    ))
}

/// A trimmed name of 1 to [`MAX_NAME_CHARS`] characters, or 400.
pub(crate) fn valid_name(name: &str) -> Result<&str, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::bad_request(
            "invalid_name",
            format!("name must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(name)
}
