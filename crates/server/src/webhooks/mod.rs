//! Webhooks from providers and GHL. Each is verified on its raw bytes, deduplicated by a
//! unique key written in the same transaction as its effect, committed, and only then
//! acknowledged (DESIGN.md rules 1, 2 and 5).

mod channel;
mod ghl_marketplace;
mod ghl_provider;
mod ingest;
mod lifecycle;
mod outbound_intake;
mod stripe;

pub use ghl_provider::{line_pacing_key, DELIVER, FAIL_IN_GHL};
pub use ingest::{ghl_pacing_key, sync_status_job, SYNC_INBOUND, SYNC_STATUS};
pub use outbound_intake::{deliver_job, OutboundIntake, MAX_GROUP, RECEIPT_SOURCE};

use axum::routing::post;
use axum::Router;

use crate::AppState;

/// The webhook routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks/ghl", post(ghl_marketplace::receive))
        .route("/webhooks/ghl/provider", post(ghl_provider::receive))
        .route("/webhooks/stripe", post(stripe::receive))
        .route(
            "/webhooks/{provider}/{channel_id}",
            post(channel::receive).get(channel::handshake),
        )
}
