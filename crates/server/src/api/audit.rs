//! `GET /api/v1/audit-log`: the security-relevant actions of the caller's agency (sign-ins
//! and lockouts, key and credential changes, erasures, role changes, replays), newest
//! first. Takes `view_audit_log` (operators, who see every entry, and agency admins).

use axum::extract::{Query, State};
use axum::Json;
use domain::AgencyId;
use serde::{Deserialize, Serialize};
use store::repo::AuditEntry;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Page, PageQuery};
use crate::auth::{Permission, Principal, Role};
use crate::http::ApiError;
use crate::AppState;

/// One recorded action.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub id: String,
    pub agency_id: Option<String>,
    /// `user:usr_…`, `api_key:key_…`, `operator:cli`, `system`, …
    pub actor: String,
    /// A dotted verb: `auth.login`, `api_key.created`, `dead_job.replayed`, …
    pub action: String,
    pub target: Option<String>,
    /// What changed; never a secret.
    pub detail: serde_json::Value,
    /// The HTTP request that did it.
    pub request_id: Option<String>,
    /// Unix milliseconds.
    pub at: i64,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id.to_string(),
            agency_id: e.agency_id.map(|a| a.to_string()),
            actor: e.actor,
            action: e.action,
            target: e.target,
            detail: e.detail,
            request_id: e.request_id,
            at: e.at_ms,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// An action (`auth.login`) or a family of them (`auth`).
    pub action: Option<String>,
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit-log", tag = "audit-log",
    params(PageQuery, AuditFilter),
    responses((status = 200, body = Page<AuditEntryView>)))]
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
    Query(filter): Query<AuditFilter>,
) -> Result<Json<Page<AuditEntryView>>, ApiError> {
    principal.require(Permission::ViewAuditLog)?;
    let agency: Option<AgencyId> = match principal.role {
        Role::Operator => None,
        _ => Some(principal.scope()?.agency_id().clone()),
    };
    let action = filter.action.as_deref().filter(|a| !a.is_empty());
    if action.is_some_and(|a| {
        a.is_empty()
            || a.len() > 64
            || !a
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.')
    }) {
        return Err(ApiError::bad_request(
            "invalid_action",
            "action must be an action such as auth.login, or a family such as auth",
        ));
    }
    let paged = state
        .store
        .audit_page(agency.as_ref(), action, &page.paging()?)
        .await?;
    Ok(Json(Page::from_store(paged, AuditEntryView::from)))
}
