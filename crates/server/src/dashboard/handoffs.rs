//! The handoff queue: conversations handed from the AI to a human, by state — pending,
//! assigned, resolved — with "assign to me" and resolve (optionally turning the AI back
//! on). Opening one from a thread is `POST /inbox/{id}/handoff`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use domain::{ConversationId, HandoffId};
use serde::Deserialize;
use store::repo::{Handoff, HANDOFF_STATES};

use super::page::{ok, redirect_or_page, store_error, Layout, When};
use super::viewer::{CsrfForm, Viewer};
use super::views::contact_label;
use crate::auth::Permission;
use crate::AppState;

#[derive(Debug)]
struct HandoffView {
    id: String,
    conversation_id: String,
    contact: String,
    reason: String,
    requested_by: String,
    assignee: String,
    state: String,
    mine: bool,
    when: When,
}

impl HandoffView {
    fn new(h: Handoff, viewer: &Viewer) -> Self {
        Self {
            id: h.id.to_string(),
            conversation_id: h.conversation_id.to_string(),
            contact: contact_label(&h.contact_name, h.contact_handle.as_deref()),
            reason: h.reason,
            requested_by: h.requested_by,
            assignee: h.assigned_email.unwrap_or_default(),
            mine: h.assigned_user_id.as_ref() == Some(&viewer.user_id),
            state: h.state,
            when: When::at(h.created_at_ms),
        }
    }
}

#[derive(Template)]
#[template(path = "handoffs.html")]
struct HandoffsPage {
    layout: Layout,
    state: String,
    states: Vec<String>,
    handoffs: Vec<HandoffView>,
}

#[derive(Debug, Deserialize)]
pub struct StateQuery {
    state: Option<String>,
}

/// `GET /handoffs?state=`.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<StateQuery>,
) -> Response {
    if let Err(refused) = viewer.require(Permission::ViewConversations) {
        return refused;
    }
    let wanted = query
        .state
        .filter(|s| HANDOFF_STATES.contains(&s.as_str()))
        .unwrap_or_else(|| "pending".to_string());
    let page = match state
        .store
        .handoffs_page(&viewer.scope, &wanted, &store::Paging::first(100))
        .await
    {
        Ok(page) => page,
        Err(e) => return store_error(&viewer, e),
    };
    ok(&HandoffsPage {
        layout: Layout::new(&state, &viewer, "Handoffs", "handoffs").await,
        states: HANDOFF_STATES.iter().map(|s| s.to_string()).collect(),
        handoffs: page
            .items
            .into_iter()
            .map(|h| HandoffView::new(h, &viewer))
            .collect(),
        state: wanted,
    })
}

#[derive(Debug, Deserialize)]
pub struct ResolveForm {
    #[serde(default)]
    resume_ai: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct NoFields {}

fn handoff_id(viewer: &Viewer, id: &str) -> Result<HandoffId, Response> {
    id.parse()
        .map_err(|_| store_error(viewer, store::StoreError::NotFound))
}

/// `POST /handoffs/{id}/take`: assign to me.
pub async fn take(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Response {
    let id = match handoff_id(&viewer, &id) {
        Ok(id) => id,
        Err(page) => return page,
    };
    if let Err(refused) = viewer.require(Permission::SendMessages) {
        return refused;
    }
    match state
        .store
        .assign_handoff(&viewer.scope, &id, &viewer.user_id)
        .await
    {
        Ok(h) => Redirect::to(&format!("/inbox/{}", h.conversation_id)).into_response(),
        Err(e) => store_error(&viewer, e),
    }
}

/// `POST /handoffs/{id}/resolve` (`resume_ai=1` turns the AI back on).
pub async fn resolve(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<ResolveForm>,
) -> Response {
    let id = match handoff_id(&viewer, &id) {
        Ok(id) => id,
        Err(page) => return page,
    };
    if let Err(refused) = viewer.require(Permission::SendMessages) {
        return refused;
    }
    let resume_ai = form.resume_ai.as_deref() == Some("1");
    // The location may bring the AI back by itself a while later.
    let later = match state.store.handoff(&viewer.scope, &id).await {
        Ok(handoff) => state
            .store
            .agent_settings(&viewer.scope, &handoff.location_id)
            .await
            .ok()
            .and_then(|s| s.reactivate_minutes)
            .map(|minutes| {
                crate::jobs::ai_reactivate::job(
                    viewer.scope.agency_id(),
                    &id,
                    std::time::Duration::from_secs(u64::from(minutes) * 60),
                )
            }),
        Err(e) => return store_error(&viewer, e),
    };
    let done = state
        .store
        .resolve_handoff(&viewer.scope, &id, resume_ai, later)
        .await;
    redirect_or_page(&viewer, done, "/handoffs?state=resolved")
}

/// `POST /inbox/{id}/handoff`: an agent hands the conversation to the queue.
pub async fn open(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Response {
    let Ok(id) = id.parse::<ConversationId>() else {
        return store_error(&viewer, store::StoreError::NotFound);
    };
    if let Err(refused) = viewer.require(Permission::SendMessages) {
        return refused;
    }
    let by = viewer.principal.actor();
    let done = state
        .store
        .open_handoff(
            &viewer.scope,
            &id,
            "asked for by an agent",
            &by,
            &crate::jobs::handoff_notice::notice_job(viewer.scope.agency_id()),
        )
        .await;
    redirect_or_page(&viewer, done, &format!("/inbox/{id}"))
}

/// `GET /handoffs/count`: how many wait, for the navigation's live count.
pub async fn count(State(state): State<AppState>, viewer: Viewer) -> Response {
    match state.store.pending_handoffs(&viewer.scope).await {
        Ok(n) => n.to_string().into_response(),
        Err(e) => store_error(&viewer, e),
    }
}
