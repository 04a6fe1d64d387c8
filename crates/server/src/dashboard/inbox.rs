//! The inbox: conversations by last activity with filters and search, one conversation's
//! thread with its send box, and the thread's switches (AI on or off, assign, hand off).
//!
//! Sends go the way of the API's: stored with their `deliver` job in one transaction, so
//! consent, pacing, the breaker and status reports all apply. The form carries a one-time
//! key used as the send's idempotency key, so a double click or a re-posted form sends
//! once.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::{Actor, ConversationId, MessageId};
use serde::Deserialize;
use store::repo::{ApiSend, ApiSent, InboxFilter, MessageFilter};
use store::Paging;

use super::page::{error_page, ok, redirect_or_page, render, store_error, Layout};
use super::send_box::{self, SendInput};
use super::viewer::{CsrfForm, Viewer};
use super::views::{contact_label, provider_label, BubbleView, RowView};
use crate::auth::{tokens, Permission};
use crate::webhooks::deliver_job;
use crate::AppState;

/// Rows per inbox page, messages shown in a thread.
const PAGE_ROWS: u32 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct InboxQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    unread: Option<String>,
    #[serde(default)]
    mine: Option<String>,
    #[serde(default)]
    after: Option<String>,
    /// Only this location's conversations (ours, `loc_…`).
    #[serde(default)]
    location_id: Option<String>,
}

/// The open conversation of the inbox page.
#[derive(Debug)]
struct ThreadView {
    id: String,
    name: String,
    handle: String,
    channel: String,
    opted_out: bool,
    ai_on: bool,
    assigned_to_me: bool,
    assigned: bool,
    handoff: String,
    bubbles: Vec<BubbleView>,
    may_send: bool,
    /// The send form's one-time key.
    send_key: String,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    layout: Layout,
    rows: Vec<RowView>,
    q: String,
    unread: bool,
    mine: bool,
    older: Option<String>,
    thread: Option<ThreadView>,
}

#[derive(Template)]
#[template(path = "inbox_row.html")]
struct RowFragment {
    row: RowView,
}

#[derive(Template)]
#[template(path = "bubble.html")]
struct BubbleFragment {
    b: BubbleView,
}

fn is_on(flag: Option<&String>) -> bool {
    flag.is_some_and(|v| v == "1" || v == "on" || v == "true")
}

fn conversation_id(viewer: &Viewer, id: &str) -> Result<ConversationId, Response> {
    id.parse()
        .map_err(|_| store_error(viewer, store::StoreError::NotFound))
}

/// The list part of the page.
async fn rows(
    state: &AppState,
    viewer: &Viewer,
    query: &InboxQuery,
) -> Result<(Vec<RowView>, Option<String>), Response> {
    let location_id = match query.location_id.as_deref().filter(|l| !l.is_empty()) {
        Some(id) => {
            let Ok(id) = id.parse::<domain::LocationId>() else {
                return Err(store_error(viewer, store::StoreError::NotFound));
            };
            let location = state
                .store
                .location(&viewer.scope, &id)
                .await
                .map_err(|e| store_error(viewer, e))?;
            Some(location.id)
        }
        None => None,
    };
    let filter = InboxFilter {
        location_id,
        search: Some(query.q.clone()),
        unread_only: is_on(query.unread.as_ref()),
        assigned_to: is_on(query.mine.as_ref()).then(|| viewer.user_id.clone()),
        ..InboxFilter::default()
    };
    let paging = crate::api::PageQuery {
        limit: Some(PAGE_ROWS),
        cursor: query.after.clone(),
    }
    .paging()
    .map_err(IntoResponse::into_response)?;
    let page = state
        .store
        .inbox_page(&viewer.scope, &filter, &paging)
        .await
        .map_err(|e| store_error(viewer, e))?;
    let older = page.next.as_ref().map(crate::api::encode_cursor);
    Ok((page.items.iter().map(RowView::from).collect(), older))
}

/// `GET /inbox`.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<InboxQuery>,
) -> Response {
    page(&state, &viewer, &query, None).await
}

/// `GET /inbox/{id}`: the list and the conversation's thread; marks it read.
pub async fn thread(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<InboxQuery>,
) -> Response {
    let id = match conversation_id(&viewer, &id) {
        Ok(id) => id,
        Err(page) => return page,
    };
    page(&state, &viewer, &query, Some(id)).await
}

async fn page(
    state: &AppState,
    viewer: &Viewer,
    query: &InboxQuery,
    open: Option<ConversationId>,
) -> Response {
    if let Err(refused) = viewer.require(Permission::ViewConversations) {
        return refused;
    }
    let thread = match open {
        Some(id) => match thread_view(state, viewer, &id).await {
            Ok(thread) => Some(thread),
            Err(page) => return page,
        },
        None => None,
    };
    let (rows, older) = match rows(state, viewer, query).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let title = thread
        .as_ref()
        .map_or("Inbox".to_string(), |t| t.name.clone());
    ok(&InboxPage {
        layout: Layout::new(state, viewer, &title, "inbox").await,
        rows,
        q: query.q.clone(),
        unread: is_on(query.unread.as_ref()),
        mine: is_on(query.mine.as_ref()),
        older,
        thread,
    })
}

async fn thread_view(
    state: &AppState,
    viewer: &Viewer,
    id: &ConversationId,
) -> Result<ThreadView, Response> {
    let store = &state.store;
    let row = store
        .inbox_row(&viewer.scope, id)
        .await
        .map_err(|e| store_error(viewer, e))?;
    let messages = store
        .messages_page(
            &viewer.scope,
            id,
            &MessageFilter::default(),
            &Paging::first(PAGE_ROWS),
        )
        .await
        .map_err(|e| store_error(viewer, e))?;
    if let Err(e) = store.mark_conversation_read(&viewer.scope, id).await {
        tracing::warn!(error = %e, conversation = %id, "marking a conversation read");
    }
    let mut bubbles: Vec<BubbleView> = messages.items.iter().map(BubbleView::from).collect();
    bubbles.reverse();
    Ok(ThreadView {
        id: id.to_string(),
        name: contact_label(&row.contact_name, row.contact_handle.as_deref()),
        handle: row.contact_handle.clone().unwrap_or_default(),
        channel: format!("{} · {}", provider_label(&row.provider), row.line),
        opted_out: row.contact_opted_out,
        ai_on: row.conversation.ai_enabled,
        assigned_to_me: row.assigned_user_id.as_ref() == Some(&viewer.user_id),
        assigned: row.assigned_user_id.is_some(),
        handoff: row.handoff_state.clone().unwrap_or_default(),
        bubbles,
        may_send: viewer.may(Permission::SendMessages),
        send_key: tokens::new_csrf_token(),
    })
}

/// `GET /inbox/{id}/row`: one list row, for live updates.
pub async fn row(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let id = match conversation_id(&viewer, &id) {
        Ok(id) => id,
        Err(page) => return page,
    };
    match state.store.inbox_row(&viewer.scope, &id).await {
        Ok(found) => render(
            StatusCode::OK,
            &RowFragment {
                row: (&found).into(),
            },
        ),
        Err(e) => store_error(&viewer, e),
    }
}

/// `GET /messages/{id}/bubble`: one message as a thread shows it, for live updates.
pub async fn bubble(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<MessageId>() else {
        return store_error(&viewer, store::StoreError::NotFound);
    };
    match state.store.message(&viewer.scope, &id).await {
        Ok(message) => render(
            StatusCode::OK,
            &BubbleFragment {
                b: (&message).into(),
            },
        ),
        Err(e) => store_error(&viewer, e),
    }
}

/// `POST /inbox/{id}/send`: text, links and files (see [`super::send_box`]).
pub async fn send(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    SendInput(form): SendInput,
) -> Response {
    let id = match conversation_id(&viewer, &id) {
        Ok(id) => id,
        Err(page) => return page,
    };
    let store = &state.store;
    let conversation = match store.conversation(&viewer.scope, &id).await {
        Ok(c) => c,
        Err(e) => return store_error(&viewer, e),
    };
    if let Err(refused) = viewer.require(Permission::SendMessages) {
        return refused;
    }
    let links = form.links();
    let checked = match crate::api::valid_message_with_files(&form.body, &links, form.files.len()) {
        Ok(()) => crate::api::sendable(&state, &viewer.scope, &conversation).await,
        Err(e) => Err(e),
    };
    if let Err(e) = checked {
        return error_page(&viewer, e.status, "Not sent", &e.detail);
    }
    let message_id = MessageId::new();
    let agency = viewer.scope.agency_id();
    let location = &conversation.location_id;
    let mut attachments = links;
    match send_box::store_uploads(&state.media, agency, location, &message_id, &form.files).await {
        Ok(uploaded) => attachments.extend(uploaded),
        Err(why) => {
            return error_page(&viewer, StatusCode::SERVICE_UNAVAILABLE, "Not sent", &why);
        }
    }
    let caller = viewer.principal.actor();
    let key = (!form.key.is_empty()).then(|| format!("dashboard:{}", form.key));
    let sent = store
        .send_from_api(
            &viewer.scope,
            &conversation,
            &ApiSend {
                message_id: Some(message_id.clone()),
                body: &form.body,
                attachments: &attachments,
                actor: Actor::Agent,
                caller: &caller,
                idempotency_key: key.as_deref(),
            },
            &deliver_job,
        )
        .await;
    if !matches!(sent, Ok(ApiSent::Created(_))) && !form.files.is_empty() {
        send_box::forget_uploads(&state.media, agency, location, &message_id).await;
    }
    redirect_or_page(&viewer, sent, &format!("/inbox/{id}"))
}

#[derive(Debug, Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    on: String,
}

/// Which switch of a conversation a form flips.
enum Switch {
    Ai,
    AssignedToMe,
}

/// `POST /inbox/{id}/ai`: the AI on (`on=1`) or off for this conversation.
pub async fn ai(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<SwitchForm>,
) -> Response {
    flip(&state, &viewer, &id, Switch::Ai, form.on == "1").await
}

/// `POST /inbox/{id}/assign`: to me (`on=1`) or to nobody.
pub async fn assign(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<SwitchForm>,
) -> Response {
    flip(&state, &viewer, &id, Switch::AssignedToMe, form.on == "1").await
}

/// Sets one of the thread's switches and goes back to the thread.
async fn flip(state: &AppState, viewer: &Viewer, id: &str, switch: Switch, on: bool) -> Response {
    let id = match conversation_id(viewer, id) {
        Ok(id) => id,
        Err(page) => return page,
    };
    if let Err(refused) = viewer.require(Permission::SendMessages) {
        return refused;
    }
    let store = &state.store;
    let done = match switch {
        Switch::Ai => store.set_conversation_ai(&viewer.scope, &id, on).await,
        Switch::AssignedToMe => {
            let user = on.then_some(&viewer.user_id);
            store.assign_conversation(&viewer.scope, &id, user).await
        }
    };
    redirect_or_page(viewer, done, &format!("/inbox/{id}"))
}
