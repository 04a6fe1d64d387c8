//! `POST /webhooks/ghl`: GHL Marketplace webhooks.
//!
//! Signed with `X-GHL-Signature` (Ed25519), or for now the legacy `X-WH-Signature` (RSA)
//! when no Ed25519 header is present. Each event is deduplicated by its `webhookId` and
//! checked for freshness when it carries a timestamp. `ContactDndUpdate` keeps our consent
//! in step with GHL: DND on SMS set in GHL (by an agent, a workflow, or our own STOP
//! handling echoed back) is an opt-out here, lifted DND an opt-in; only a real change is
//! logged. Install, uninstall and plan changes are acted on in `lifecycle.rs`.

use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use ghl::payload::{ContactDndUpdate, MarketplaceEvent};
use serde_json::{json, Value};
use store::repo::ConsentChange;
use store::{StoreError, TenantScope};

use crate::http::ApiError;
use crate::AppState;

/// How far a webhook's own timestamp may be from our clock (GHL's guide: 5 minutes).
const FRESHNESS: Duration = Duration::from_secs(300);

pub(super) async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    state
        .ghl_keys
        .verify_marketplace(&headers, &body)
        .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", e.to_string()))?;
    let event = MarketplaceEvent::parse(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_payload", e.to_string()))?;
    if let Some(timestamp) = event.timestamp() {
        ghl::webhook::check_freshness(timestamp, SystemTime::now(), FRESHNESS)
            .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, "stale_webhook", e.to_string()))?;
    }
    let store = &state.store;
    // Reads come before the transaction: on PostgreSQL reads and writes share one pool.
    let dnd_location = match &event {
        MarketplaceEvent::ContactDndUpdate(update) => match update.location_id.as_deref() {
            Some(ghl_id) => match store.location_by_ghl_id(ghl_id).await {
                Err(StoreError::NotFound) => None,
                other => Some(other?),
            },
            None => None,
        },
        _ => None,
    };
    let lifecycle = super::lifecycle::prepare(store, &event).await?;
    let mut tx = store.begin().await?;
    if let Some(id) = event.webhook_id() {
        if !store
            .record_webhook_receipt(&mut tx, "ghl:marketplace", id, None)
            .await?
        {
            return Ok((StatusCode::OK, Json(json!({"status": "duplicate"}))));
        }
    }
    let outcome = match &event {
        MarketplaceEvent::ContactDndUpdate(update) => match &dnd_location {
            Some(location) => dnd(&state, &mut tx, location, update).await?,
            None => "unknown_location",
        },
        other => match lifecycle {
            Some(lifecycle) => {
                super::lifecycle::apply(store, &state.config, &mut tx, lifecycle).await?
            }
            None => {
                tracing::info!(
                    kind = other.kind(),
                    "Marketplace event recorded, not acted on"
                );
                "recorded"
            }
        },
    };
    tx.commit().await?;
    Ok((StatusCode::OK, Json(json!({"status": outcome}))))
}

/// Applies a DND change on SMS to the contact's consent, if it changes anything.
async fn dnd(
    state: &AppState,
    tx: &mut store::Tx,
    location: &store::repo::Location,
    update: &ContactDndUpdate,
) -> Result<&'static str, ApiError> {
    let (Some(contact), Some(blocked)) = (update.contact_id.as_deref(), update.sms_blocked())
    else {
        return Ok("ignored");
    };
    let store = &state.store;
    let Some(contact) = store.contact_by_ghl_id(tx, &location.id, contact).await? else {
        // A contact who never wrote to us: nothing to keep in step yet.
        return Ok("unknown_contact");
    };
    if contact.opted_out == blocked {
        return Ok("unchanged");
    }
    let change = if blocked {
        ConsentChange::OptOut
    } else {
        ConsentChange::OptIn
    };
    store
        .record_consent(
            tx,
            &TenantScope::for_location(location),
            &contact.id,
            change,
            "ghl:dnd",
            "ContactDndUpdate",
        )
        .await?;
    Ok(if blocked { "opted_out" } else { "opted_in" })
}
