//! The dead-letter queue of the viewer's agency: each job's error and attempts, replay
//! one or all. Replays are audited like the API's (`dead_job.replayed`).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use domain::AgencyId;
use serde::Deserialize;
use serde_json::json;
use store::queue::JobId;

use super::page::{ok, store_error, Layout, When};
use super::viewer::{CsrfForm, Viewer};
use crate::auth::Permission;
use crate::AppState;

#[derive(Debug)]
struct DeadJobView {
    id: String,
    kind: String,
    attempts: u32,
    error: String,
    payload: String,
    died: When,
}

#[derive(Template)]
#[template(path = "dead_jobs.html")]
struct DeadJobsPage {
    layout: Layout,
    jobs: Vec<DeadJobView>,
}

/// `GET /dead-jobs`.
pub async fn list(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Err(refused) = viewer.require(Permission::ReplayDeadJobs) {
        return refused;
    }
    let agency = viewer.scope.agency_id().clone();
    let page = match state
        .store
        .queue()
        .dead_jobs_page(Some(&agency), None, &store::Paging::first(100))
        .await
    {
        Ok(page) => page,
        Err(e) => return store_error(&viewer, e),
    };
    let jobs = page
        .items
        .into_iter()
        .map(|j| DeadJobView {
            id: j.id,
            kind: j.kind,
            attempts: j.attempts,
            error: j.last_error.unwrap_or_default(),
            payload: serde_json::to_string(&j.payload).unwrap_or_default(),
            died: When::at(j.died_at_ms),
        })
        .collect();
    ok(&DeadJobsPage {
        layout: Layout::new(&state, &viewer, "Dead jobs", "dead-jobs").await,
        jobs,
    })
}

#[derive(Debug, Deserialize)]
pub struct NoFields {}

/// `POST /dead-jobs/{id}/replay`.
pub async fn replay(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Response {
    if let Err(refused) = viewer.require(Permission::ReplayDeadJobs) {
        return refused;
    }
    let Ok(id) = id.parse::<JobId>() else {
        return store_error(&viewer, store::StoreError::NotFound);
    };
    let agency: AgencyId = viewer.scope.agency_id().clone();
    let queue = state.store.queue();
    let job = match queue.dead_job(Some(&agency), id).await {
        Ok(job) => job,
        Err(e) => return store_error(&viewer, e),
    };
    match queue.replay(id).await {
        Ok(true) => {
            let detail = json!({"kind": job.kind});
            let audited =
                crate::api::audit_replay(&state, &viewer.principal, Some(&agency), &job.id, detail)
                    .await;
            if let Err(e) = audited {
                return e.into_response();
            }
        }
        Ok(false) => {}
        Err(e) => return store_error(&viewer, e),
    }
    Redirect::to("/dead-jobs").into_response()
}

/// `POST /dead-jobs/replay`: every dead job of the agency.
pub async fn replay_all(
    State(state): State<AppState>,
    viewer: Viewer,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Response {
    if let Err(refused) = viewer.require(Permission::ReplayDeadJobs) {
        return refused;
    }
    let agency: AgencyId = viewer.scope.agency_id().clone();
    match state.store.queue().replay_all(Some(&agency), None).await {
        Ok(0) => {}
        Ok(n) => {
            let detail = json!({"kind": null, "jobs": n});
            let audited =
                crate::api::audit_replay(&state, &viewer.principal, Some(&agency), "all", detail)
                    .await;
            if let Err(e) = audited {
                return e.into_response();
            }
        }
        Err(e) => return store_error(&viewer, e),
    }
    Redirect::to("/dead-jobs").into_response()
}
