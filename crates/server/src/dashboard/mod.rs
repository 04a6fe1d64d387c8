//! The dashboard: server-rendered pages (askama templates compiled into the binary, one
//! stylesheet and one small script embedded too — no Node build step), for agents and
//! agency owners.
//!
//! - [`session`]: sign in and out, session renewal.
//! - [`inbox`]: conversations, a thread, sending, the thread's switches.
//! - [`messages`]: one message's timeline.
//! - [`handoffs`]: the handoff queue.
//! - [`channels`], [`channel_connect`]: the lines with their health, connecting, pausing,
//!   a test send.
//! - [`dead_jobs`]: the agency's dead-letter queue.
//! - [`settings`]: the white-label brand; [`settings_users`]: users, invitations, roles
//!   and the role matrix; [`settings_keys`]: API keys.
//! - [`ghl_page`]: the dashboard inside GHL (custom menu link), signed in by GHL.
//! - [`usage`]: usage per day as SVG charts ([`charts`]) and CSV.
//!
//! Rules every page keeps: the tenant scope comes from the signed-in user only (another
//! tenant's id is the same 404 page as a missing one); every form post carries the CSRF
//! token (see [`viewer::CsrfForm`]); every piece of user text goes through the template
//! engine's HTML escaping, never marked safe; pages are not cached and carry a strict
//! content security policy (scripts only from `/assets`).

// Handlers answer pages, and a refusal is a page too: `Result<_, Response>` is the honest
// type, and boxing the error would buy nothing on this path.
#![allow(clippy::result_large_err)]

mod assets;
mod channel_connect;
mod channel_views;
mod channels;
mod charts;
mod dead_jobs;
mod ghl_page;
mod handoffs;
mod inbox;
mod knowledge;
mod messages;
pub(crate) mod page;
mod send_box;
mod session;
mod settings;
mod settings_agent;
mod settings_ai;
mod settings_keys;
mod settings_users;
mod usage;
mod usage_report;
mod viewer;
mod views;

use axum::extract::DefaultBodyLimit;
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

/// The dashboard's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/inbox") }))
        .route("/login", get(session::show).post(session::submit))
        .route("/api/v1/auth/resume", get(session::resume))
        .route("/api/v1/auth/sign-out", post(session::sign_out))
        .route("/assets/{name}", get(assets::serve))
        .route("/inbox", get(inbox::list))
        .route("/inbox/{id}", get(inbox::thread))
        .route("/inbox/{id}/row", get(inbox::row))
        // Files are bigger than the usual body limit: the send box bounds its own.
        .route(
            "/inbox/{id}/send",
            post(inbox::send).layer(DefaultBodyLimit::disable()),
        )
        .route("/inbox/{id}/ai", post(inbox::ai))
        .route("/inbox/{id}/assign", post(inbox::assign))
        .route("/inbox/{id}/handoff", post(handoffs::open))
        .route("/messages/{id}", get(messages::show))
        .route("/messages/{id}/bubble", get(inbox::bubble))
        .route("/handoffs", get(handoffs::list))
        .route("/handoffs/count", get(handoffs::count))
        .route("/handoffs/{id}/take", post(handoffs::take))
        .route("/handoffs/{id}/resolve", post(handoffs::resolve))
        .route("/dead-jobs", get(dead_jobs::list))
        .route("/dead-jobs/replay", post(dead_jobs::replay_all))
        .route("/dead-jobs/{id}/replay", post(dead_jobs::replay))
        .route("/settings", get(settings::show))
        .route("/settings/brand", post(settings::save_brand))
        .route("/settings/users", get(settings_users::show))
        .route("/settings/users/invite", post(settings_users::invite))
        .route(
            "/settings/users/{id}/role",
            post(settings_users::change_role),
        )
        .route(
            "/settings/users/{id}/deactivate",
            post(settings_users::deactivate),
        )
        .route(
            "/settings/keys",
            get(settings_keys::show).post(settings_keys::create),
        )
        .route("/settings/keys/{id}/revoke", post(settings_keys::revoke))
        .route("/knowledge", get(knowledge::show))
        // A PDF may be bigger than the usual body limit: the form bounds its own.
        .route(
            "/knowledge/{id}/sources",
            post(knowledge::add).layer(DefaultBodyLimit::max(knowledge::body_limit())),
        )
        .route("/knowledge/sources/{id}/refresh", post(knowledge::refresh))
        .route("/knowledge/sources/{id}/delete", post(knowledge::delete))
        .route("/settings/ai", get(settings_ai::show))
        .route("/settings/ai/{id}", post(settings_ai::save))
        .route("/settings/agent", get(settings_agent::show))
        .route("/settings/agent/{id}", post(settings_agent::save))
        .route("/ghl/page", get(ghl_page::page))
        .route("/ghl/sso", post(ghl_page::sso))
        .route(
            "/channels",
            get(channels::list).post(channel_connect::connect),
        )
        .route("/channels/{id}/status", post(channels::set_status))
        .route("/channels/{id}/test-send", post(channels::test_send))
        .route("/usage", get(usage::show))
        .route("/usage.csv", get(usage::export))
}
