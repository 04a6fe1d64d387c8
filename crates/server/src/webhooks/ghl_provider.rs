//! `POST /webhooks/ghl/provider`: GHL's conversation-provider Delivery URL (flow 1).
//!
//! A GHL user (or workflow) sent a message through our provider. We verify
//! `X-GHL-Signature` on the raw bytes, store the message `pending` with a `deliver` job in
//! one transaction, shared with the other webhooks arriving at the same moment (see
//! [`super::outbound_intake`]; a redelivery of the same GHL message id stores nothing), and
//! answer 200 once it is committed. Which line it goes out on: the one the contact last talked to, else the
//! location's oldest channel.

use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use domain::{Direction, MessageStatus};
use ghl::payload::ProviderOutboundMessage;
use serde_json::{json, Value};
use store::queue::NewJob;
use store::repo::{Location, NewMessage, OutboundOutcome, OutboundRequest};

use super::outbound_intake::RECEIPT_SOURCE;
use crate::http::ApiError;
use crate::AppState;

/// Job kinds this webhook enqueues.
pub const DELIVER: &str = "deliver";
pub const FAIL_IN_GHL: &str = "fail_in_ghl";

/// How far a webhook's own timestamp may be from our clock (GHL's guide: 5 minutes).
const FRESHNESS: Duration = Duration::from_secs(300);

/// The pacing key of a line's send rate.
pub fn line_pacing_key(channel: &domain::ChannelId) -> String {
    format!("line:{channel}")
}

pub(super) async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    state
        .ghl_keys
        .verify_provider_delivery(&headers, &body)
        .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", e.to_string()))?;
    let payload = ProviderOutboundMessage::parse(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_payload", e.to_string()))?;
    if let Some(timestamp) = &payload.timestamp {
        ghl::webhook::check_freshness(timestamp, SystemTime::now(), FRESHNESS)
            .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, "stale_webhook", e.to_string()))?;
    }
    if !payload.is_sms() {
        tracing::info!(kind = %payload.kind, message = %payload.message_id, "non-SMS provider delivery ignored");
        return Ok((StatusCode::OK, Json(json!({"status": "ignored"}))));
    }
    let Some(phone) = payload
        .phone
        .as_deref()
        .and_then(|p| channels::e164("phone", p).ok())
    else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_phone",
            "the message has no usable phone number",
        ));
    };
    let received = json!({
        "source": "ghl", "ghl_message_id": payload.message_id, "sender": format!("{:?}", payload.sender()),
    });
    let outcome = state
        .outbound_intake
        .accept(OutboundRequest {
            ghl_location_id: payload.location_id.clone(),
            webhook_id: payload.webhook_id.clone(),
            ghl_contact_id: payload.contact_id.clone(),
            phone,
            message: NewMessage {
                direction: Direction::Outbound,
                actor: payload.sender().actor(),
                body: payload.message.clone().unwrap_or_default(),
                attachments: payload.attachments.clone(),
                status: MessageStatus::Pending,
                provider_message_id: None,
                ghl_message_id: Some(payload.message_id.clone()),
            },
            received,
        })
        .await?;
    let accepted = match outcome {
        OutboundOutcome::Accepted(accepted) => accepted,
        OutboundOutcome::Duplicate => {
            return Ok((StatusCode::OK, Json(json!({"status": "duplicate"}))))
        }
        OutboundOutcome::UnknownLocation => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_location",
                "no such location",
            ))
        }
        OutboundOutcome::Uninstalled(location) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "location_uninstalled",
                format!(
                    "Switchboard was uninstalled from location {}; reinstall the app to send",
                    location.ghl_location_id
                ),
            ))
        }
        OutboundOutcome::NoChannel(location) => {
            return fail_in_ghl(&state.store, &location, &payload).await
        }
    };
    let message = accepted.message_id;
    Ok((
        StatusCode::OK,
        Json(json!({"status": "accepted", "message_id": message})),
    ))
}

/// Nothing to send on: tells GHL the message failed, durably, and says so.
async fn fail_in_ghl(
    store: &store::Store,
    location: &Location,
    payload: &ProviderOutboundMessage,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut tx = store.begin().await?;
    if let Some(webhook_id) = &payload.webhook_id {
        if !store
            .record_webhook_receipt(
                &mut tx,
                RECEIPT_SOURCE,
                webhook_id,
                Some(&location.agency_id),
            )
            .await?
        {
            return Ok((StatusCode::OK, Json(json!({"status": "duplicate"}))));
        }
    }
    store
        .queue()
        .enqueue(
            &mut tx,
            NewJob::new(
                FAIL_IN_GHL,
                json!({
                    "location_id": location.id, "ghl_message_id": payload.message_id,
                    "reason": "no line is connected to this location in Switchboard",
                }),
            )
            .for_agency(&location.agency_id),
        )
        .await?;
    tx.commit().await?;
    Ok((StatusCode::OK, Json(json!({"status": "no_channel"}))))
}
