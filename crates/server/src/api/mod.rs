//! The REST API under `/api/v1`, and the OpenAPI document that describes it.
//!
//! Every route is registered through [`OpenApiRouter`] from a handler carrying a
//! `#[utoipa::path]` annotation, so the document at `GET /api/v1/openapi.json` is built
//! from the same code that serves the requests: a route can't exist undocumented, and the
//! tenant-isolation test walks the document to reach every route (see
//! `crates/server/tests/it/api/tenant_walk.rs`).
//!
//! One file per resource. The rules each handler keeps:
//! - It takes a [`Principal`](crate::auth::Principal) and gets its tenant scope from it,
//!   never from the request.
//! - **Ids first.** Every id in the path, query or body is looked up through that scope
//!   before anything else about the request is judged (permission, body fields): another
//!   tenant's id answers 404, exactly like a missing one, and never a 400 or 403 that
//!   would tell the caller it exists.
//! - Answers are typed views (`…View`, with `ToSchema`) that never carry secrets.
//! - Lists are pages, newest first: `?limit=&cursor=` in, [`Page`] out.

mod agencies;
mod audit;
mod body;
mod channel_input;
mod channel_writes;
mod channels;
mod contacts;
mod conversations;
mod dead_jobs;
mod filters;
mod locations;
mod messages;
mod openapi;
mod page;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;

pub(crate) use agencies::valid_name;
pub use body::Body;
pub(crate) use channel_input::status as channel_status;
pub(crate) use channel_writes::{change_line, connect_line, LineRequest};
pub(crate) use conversations::{line_sendable, sendable, valid_message, valid_message_with_files};
pub(crate) use dead_jobs::audit_replay;
pub(crate) use filters::narrowed_scope;
pub use openapi::document;
pub(crate) use page::encode as encode_cursor;
pub use page::{Page, PageQuery};

use crate::AppState;

/// Every `/api/v1` route with its description.
fn described() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(crate::auth::routes())
        .merge(agencies::routes())
        .merge(channels::routes())
        .merge(locations::routes())
        .merge(dead_jobs::routes())
        .merge(audit::routes())
        .merge(contacts::routes())
        .merge(conversations::routes())
        .merge(messages::routes())
}

/// The API's routes (the document's own route included) for the HTTP face.
pub fn routes() -> Router<AppState> {
    let (router, _) = described().split_for_parts();
    router.route("/api/v1/openapi.json", axum::routing::get(openapi::serve))
}
