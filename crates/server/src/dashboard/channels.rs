//! The channels page: the scope's lines with the webhook URL to paste into each
//! provider and their health (last inbound message, last send, the send breaker,
//! paused or active), pausing and resuming a line, and a test send from a line.
//!
//! Connecting a line is in [`super::channel_connect`]. The test send goes the normal way
//! (the contact and conversation on that line found or made, the message stored with its
//! `deliver` job in one transaction, actor `agent`), so consent, pacing and the breaker
//! apply to it like to any other message.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::{Actor, ChannelId, PhoneNumber};
use serde::Deserialize;
use store::repo::{ApiSend, ChannelChange};

use super::channel_views::{connect_forms, ConnectEcho, ConnectForm, LineView};
use super::page::{error_page, render, store_error, Layout};
use super::viewer::{CsrfForm, Viewer};
use crate::auth::{tokens, Permission};
use crate::webhooks::deliver_job;
use crate::AppState;

/// Lines per page.
const PAGE_LINES: u32 = 50;

/// A location the connect forms offer.
#[derive(Debug)]
struct LocationOption {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "channels.html")]
struct ChannelsPage {
    layout: Layout,
    lines: Vec<LineView>,
    older: Option<String>,
    may_manage: bool,
    may_send: bool,
    forms: Vec<ConnectForm>,
    locations: Vec<LocationOption>,
    /// What went wrong with the form just sent, and which it was.
    errors: Vec<String>,
    error_heading: String,
    /// The test send forms' one-time key.
    send_key: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ChannelsQuery {
    #[serde(default)]
    after: Option<String>,
}

/// A form sent back with what was wrong with it.
#[derive(Debug, Default)]
pub(super) struct Refusal {
    pub heading: String,
    pub errors: Vec<String>,
    /// The connect form to reopen, filled with what may be shown again.
    pub echo: Option<ConnectEcho>,
}

/// `GET /channels`.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ChannelsQuery>,
) -> Response {
    page(
        &state,
        &viewer,
        query.after,
        StatusCode::OK,
        Refusal::default(),
    )
    .await
}

/// The page, with `refusal` shown above the lists when a form was refused.
pub(super) async fn page(
    state: &AppState,
    viewer: &Viewer,
    after: Option<String>,
    status: StatusCode,
    refusal: Refusal,
) -> Response {
    if let Err(refused) = viewer.require(Permission::ViewConversations) {
        return refused;
    }
    let paging = match (crate::api::PageQuery {
        limit: Some(PAGE_LINES),
        cursor: after,
    })
    .paging()
    {
        Ok(paging) => paging,
        Err(e) => return e.into_response(),
    };
    let store = &state.store;
    let found = match store
        .channels_page(&viewer.scope, None, None, &paging)
        .await
    {
        Ok(found) => found,
        Err(e) => return store_error(viewer, e),
    };
    let locations = match store.locations(&viewer.scope).await {
        Ok(locations) => locations,
        Err(e) => return store_error(viewer, e),
    };
    // Breakers live in the executor of the process that sends; without workers here
    // there is nothing true to show.
    let breakers_here = state
        .workers_here
        .load(std::sync::atomic::Ordering::Relaxed);
    let mut lines = Vec::with_capacity(found.items.len());
    for channel in &found.items {
        let activity = match store.channel_activity(&viewer.scope, &channel.id).await {
            Ok(activity) => activity,
            Err(e) => return store_error(viewer, e),
        };
        let location = locations
            .iter()
            .find(|l| l.id == channel.location_id)
            .map_or_else(|| channel.location_id.to_string(), |l| l.name.clone());
        lines.push(LineView::new(
            channel,
            location,
            state.channel_calls.webhook_url(channel),
            activity,
            breakers_here.then(|| state.connectors.channels.breaker(channel)),
        ));
    }
    let may_manage = viewer.may(Permission::ManageChannels);
    render(
        status,
        &ChannelsPage {
            layout: Layout::new(state, viewer, "Channels", "channels").await,
            lines,
            older: found.next.as_ref().map(crate::api::encode_cursor),
            may_manage,
            may_send: viewer.may(Permission::SendMessages),
            forms: if may_manage {
                connect_forms(refusal.echo.as_ref())
            } else {
                Vec::new()
            },
            locations: locations
                .iter()
                .map(|l| LocationOption {
                    id: l.id.to_string(),
                    name: if l.name.trim().is_empty() {
                        l.ghl_location_id.clone()
                    } else {
                        l.name.clone()
                    },
                })
                .collect(),
            errors: refusal.errors,
            error_heading: refusal.heading,
            send_key: tokens::new_csrf_token(),
        },
    )
}

/// A path id as a channel id; one that can't be ours reads as missing.
async fn channel_in_scope(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
) -> Result<store::repo::Channel, Response> {
    let Ok(id) = id.parse::<ChannelId>() else {
        return Err(store_error(viewer, store::StoreError::NotFound));
    };
    state
        .store
        .channel(&viewer.scope, &id)
        .await
        .map_err(|e| store_error(viewer, e))
}

#[derive(Debug, Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
}

/// `POST /channels/{id}/status`: pause (`status=paused`) or resume (`active`) a line,
/// audited as the API's change is.
pub async fn set_status(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<StatusForm>,
) -> Response {
    let channel = match channel_in_scope(&state, &viewer, &id).await {
        Ok(channel) => channel,
        Err(page) => return page,
    };
    if let Err(refused) = viewer.require(Permission::ManageChannels) {
        return refused;
    }
    let status = match crate::api::channel_status(&form.status) {
        Ok(status) => status,
        Err(e) => {
            return error_page(
                &viewer,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Not changed",
                &e.detail,
            )
        }
    };
    let change = ChannelChange {
        status: Some(status),
        ..ChannelChange::default()
    };
    match crate::api::change_line(&state, &viewer.principal, &channel, &change).await {
        Ok(_) => Redirect::to("/channels").into_response(),
        Err(e) => error_page(&viewer, e.status, "Not changed", &e.detail),
    }
}

#[derive(Debug, Deserialize)]
pub struct TestSendForm {
    #[serde(default)]
    to: String,
    #[serde(default)]
    body: String,
    /// The form's one-time key: a re-posted form sends once.
    #[serde(default)]
    key: String,
}

/// `POST /channels/{id}/test-send`: a message from this line to a number, through the
/// normal path; then the conversation's thread.
pub async fn test_send(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<TestSendForm>,
) -> Response {
    let channel = match channel_in_scope(&state, &viewer, &id).await {
        Ok(channel) => channel,
        Err(page) => return page,
    };
    if let Err(refused) = viewer.require(Permission::SendMessages) {
        return refused;
    }
    let mut errors = Vec::new();
    let to = match PhoneNumber::parse(&form.to) {
        Ok(number) => Some(number.to_string()),
        Err(_) => {
            errors.push("To: a phone number in international form, like +15125550100.".into());
            None
        }
    };
    if let Err(e) = crate::api::valid_message(&form.body, &[]) {
        errors.push(format!("Text: {}", e.detail.trim_start_matches("body: ")));
    }
    let Some(to) = to.filter(|_| errors.is_empty()) else {
        let refusal = Refusal {
            heading: format!("The test send from {} did not go:", channel.line),
            errors,
            echo: None,
        };
        return page(
            &state,
            &viewer,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            refusal,
        )
        .await;
    };
    if let Err(e) = crate::api::line_sendable(&state, &viewer.scope, &channel).await {
        return error_page(&viewer, e.status, "Not sent", &e.detail);
    }
    let caller = viewer.principal.actor();
    let key = (!form.key.is_empty()).then(|| format!("dashboard:{}", form.key));
    let sent = state
        .store
        .send_on_line(
            &viewer.scope,
            &channel,
            &to,
            &ApiSend {
                message_id: None,
                body: &form.body,
                attachments: &[],
                actor: Actor::Agent,
                caller: &caller,
                idempotency_key: key.as_deref(),
            },
            &deliver_job,
        )
        .await;
    match sent {
        Ok((conversation, _)) => {
            Redirect::to(&format!("/inbox/{}", conversation.id)).into_response()
        }
        Err(e) => store_error(&viewer, e),
    }
}
