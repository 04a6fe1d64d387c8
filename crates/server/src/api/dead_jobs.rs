//! `/api/v1/dead-jobs`: the dead-letter queue — inspect a job's error and attempts,
//! replay one or all.
//!
//! Takes `replay_dead_jobs` (operators and agency admins). An agency's admins see only
//! the jobs that worked for their agency; operators see every job. Each replay is an
//! audit entry `dead_job.replayed`: a replay sends again.

use axum::extract::{Path, Query, State};
use axum::Json;
use domain::AgencyId;
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::queue::{DeadJob, JobId};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Body, Page, PageQuery};
use crate::auth::{Permission, Principal, Role};
use crate::http::ApiError;
use crate::AppState;

/// A job that ran out of attempts or failed permanently.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadJobView {
    /// `job_…`.
    pub id: String,
    /// `deliver`, `sync_inbound`, `sync_status`, …
    pub kind: String,
    /// What the job was asked to do (ids only; never a secret).
    pub payload: serde_json::Value,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub agency_id: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// When it went dead, in Unix milliseconds.
    pub died_at: i64,
}

impl From<DeadJob> for DeadJobView {
    fn from(j: DeadJob) -> Self {
        Self {
            id: j.id,
            kind: j.kind,
            payload: j.payload,
            attempts: j.attempts,
            last_error: j.last_error,
            agency_id: j.agency_id,
            created_at: j.created_at_ms,
            died_at: j.died_at_ms,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadJobFilter {
    /// Only jobs of this kind.
    pub kind: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayAll {
    /// Only jobs of this kind; all kinds when absent.
    pub kind: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Replayed {
    /// How many jobs went back to the queue.
    pub replayed: u64,
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get_one))
        .routes(routes!(replay_one))
        .routes(routes!(replay_all))
}

/// The agency whose jobs the caller sees: its own, or all (`None`) for an operator.
fn agency_of(principal: &Principal) -> Result<Option<AgencyId>, ApiError> {
    if principal.role == Role::Operator {
        return Ok(None);
    }
    Ok(Some(principal.scope()?.agency_id().clone()))
}

/// A path id as a job id; one that can't be ours reads as missing.
fn job_id(id: &str) -> Result<JobId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found())
}

/// A job kind filter: a word, so a typo is a clear 400 rather than an empty list.
fn valid_kind(kind: Option<&str>) -> Result<Option<&str>, ApiError> {
    match kind.filter(|k| !k.is_empty()) {
        Some(k)
            if k.is_empty()
                || k.len() > 64
                || !k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') =>
        {
            Err(ApiError::bad_request(
                "invalid_kind",
                "kind must be a job kind such as deliver or sync_status",
            ))
        }
        other => Ok(other), // absent or empty: every kind
    }
}

/// Dead jobs, newest first.
#[utoipa::path(get, path = "/api/v1/dead-jobs", tag = "dead-jobs",
    params(PageQuery, DeadJobFilter),
    responses((status = 200, body = Page<DeadJobView>)))]
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageQuery>,
    Query(filter): Query<DeadJobFilter>,
) -> Result<Json<Page<DeadJobView>>, ApiError> {
    principal.require(Permission::ReplayDeadJobs)?;
    let agency = agency_of(&principal)?;
    let kind = valid_kind(filter.kind.as_deref())?;
    let paged = state
        .store
        .queue()
        .dead_jobs_page(agency.as_ref(), kind, &page.paging()?)
        .await?;
    Ok(Json(Page::from_store(paged, DeadJobView::from)))
}

/// One dead job: its payload, attempts and last error.
#[utoipa::path(get, path = "/api/v1/dead-jobs/{id}", tag = "dead-jobs",
    params(("id" = String, Path, description = "the job's id (job_…)")),
    responses((status = 200, body = DeadJobView)))]
async fn get_one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<DeadJobView>, ApiError> {
    let agency = agency_of(&principal)?;
    let job = state
        .store
        .queue()
        .dead_job(agency.as_ref(), job_id(&id)?)
        .await?;
    principal.require(Permission::ReplayDeadJobs)?;
    Ok(Json(job.into()))
}

/// Puts a dead job back in the queue with a fresh set of attempts.
#[utoipa::path(post, path = "/api/v1/dead-jobs/{id}/replay", tag = "dead-jobs",
    params(("id" = String, Path, description = "the job's id (job_…)")),
    responses((status = 200, body = Replayed)))]
async fn replay_one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Replayed>, ApiError> {
    let agency = agency_of(&principal)?;
    let id = job_id(&id)?;
    let job = state.store.queue().dead_job(agency.as_ref(), id).await?;
    principal.require(Permission::ReplayDeadJobs)?;
    // False when another replay won the race: nothing to record twice.
    let replayed = u64::from(state.store.queue().replay(id).await?);
    if replayed > 0 {
        let owner: Option<AgencyId> = job.agency_id.as_deref().and_then(|a| a.parse().ok());
        audit_replay(
            &state,
            &principal,
            owner.as_ref(),
            &job.id,
            json!({"kind": job.kind}),
        )
        .await?;
    }
    Ok(Json(Replayed { replayed }))
}

/// Replays every dead job the caller sees (of one kind, if given).
#[utoipa::path(post, path = "/api/v1/dead-jobs/replay", tag = "dead-jobs",
    request_body = ReplayAll,
    responses((status = 200, body = Replayed)))]
async fn replay_all(
    State(state): State<AppState>,
    principal: Principal,
    Body(body): Body<ReplayAll>,
) -> Result<Json<Replayed>, ApiError> {
    principal.require(Permission::ReplayDeadJobs)?;
    let agency = agency_of(&principal)?;
    let kind = valid_kind(body.kind.as_deref())?;
    let replayed = state
        .store
        .queue()
        .replay_all(agency.as_ref(), kind)
        .await?;
    if replayed > 0 {
        let detail = json!({"kind": kind, "jobs": replayed});
        audit_replay(&state, &principal, agency.as_ref(), "all", detail).await?;
    }
    Ok(Json(Replayed { replayed }))
}

pub(crate) async fn audit_replay(
    state: &AppState,
    principal: &Principal,
    agency: Option<&AgencyId>,
    target: &str,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    let store = &state.store;
    let mut tx = store.begin().await?;
    principal
        .audit(
            store,
            &mut tx,
            agency,
            "dead_job.replayed",
            Some(target),
            detail,
        )
        .await?;
    tx.commit().await?;
    Ok(())
}
