//! `GET /messages/{id}`: one message and its whole timeline — the story
//! `switchboard trace` tells, for "why didn't this contact get the SMS?".

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use domain::MessageId;

use super::page::{ok, store_error, Layout, When};
use super::viewer::Viewer;
use super::views::BubbleView;
use crate::auth::Permission;
use crate::AppState;

#[derive(Debug)]
struct EntryView {
    kind: String,
    when: When,
    /// The entry's detail as indented JSON (escaped on the page).
    detail: String,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    layout: Layout,
    b: BubbleView,
    entries: Vec<EntryView>,
    segments: u32,
    provider_id: String,
    ghl_id: String,
}

pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    if let Err(refused) = viewer.require(Permission::ViewConversations) {
        return refused;
    }
    let Ok(id) = id.parse::<MessageId>() else {
        return store_error(&viewer, store::StoreError::NotFound);
    };
    let store = &state.store;
    let message = match store.message(&viewer.scope, &id).await {
        Ok(m) => m,
        Err(e) => return store_error(&viewer, e),
    };
    let timeline = match store.message_timeline(&viewer.scope, &id).await {
        Ok(t) => t,
        Err(e) => return store_error(&viewer, e),
    };
    let entries = timeline
        .into_iter()
        .map(|e| EntryView {
            kind: e.kind,
            when: When::at(e.at_ms),
            detail: serde_json::to_string_pretty(&e.detail).unwrap_or_default(),
        })
        .collect();
    ok(&MessagePage {
        layout: Layout::new(&state, &viewer, "Message", "inbox").await,
        b: (&message).into(),
        entries,
        segments: message.sms_segments,
        provider_id: message.provider_message_id.unwrap_or_default(),
        ghl_id: message.ghl_message_id.unwrap_or_default(),
    })
}
