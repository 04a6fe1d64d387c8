//! `POST /webhooks/stripe`: Stripe's billing events (flow 6).
//!
//! Verified on the raw bytes with `SWITCHBOARD_STRIPE_WEBHOOK_SECRET` (`Stripe-Signature`,
//! any `v1` may match, 300 s tolerance for old timestamps, as Stripe's SDKs do); a
//! missing or bad signature or an old timestamp is 401 and nothing is stored. Each event
//! is recorded by its id in the transaction that applies it, so a redelivery is answered
//! 200 and changes nothing. What is applied:
//! - `checkout.session.completed`: links the Stripe customer to the agency named by the
//!   session's `client_reference_id` (our agency id).
//! - `customer.subscription.created/updated/deleted`: the subscription's status, prices
//!   and period, unless a newer event was applied (Stripe doesn't promise order).
//! - `invoice.payment_failed` starts the grace period; `invoice.paid` ends it.
//!
//! An event about a customer we don't know is recorded and answered 200 (it may belong to
//! another product on the same Stripe account); other event types likewise.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use billing::BillingChange;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use store::repo::SubscriptionState;

use crate::http::ApiError;
use crate::AppState;

/// Where receipts of Stripe events are recorded.
const SOURCE: &str = "stripe";

pub(super) async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Some(secret) = state.config.stripe_webhook_secret.as_ref() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "billing_not_configured",
            "SWITCHBOARD_STRIPE_WEBHOOK_SECRET is not set: Stripe events can't be verified",
        ));
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    billing::verify_signature(
        signature,
        &body,
        secret.expose_secret(),
        now,
        billing::TOLERANCE_SECS,
    )
    .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", e.to_string()))?;
    let event = billing::parse_event(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_payload", e.to_string()))?;

    let store = &state.store;
    let mut tx = store.begin().await?;
    if !store
        .record_webhook_receipt(&mut tx, SOURCE, &event.id, None)
        .await?
    {
        return Ok((StatusCode::OK, Json(json!({"status": "duplicate"}))));
    }
    let outcome = match &event.change {
        Some(BillingChange::CheckoutCompleted {
            customer: Some(customer),
            subscription,
            client_reference_id: Some(agency),
        }) => {
            if store
                .link_stripe_customer(&mut tx, agency, customer, subscription.as_deref())
                .await?
            {
                "linked"
            } else {
                "unknown_agency"
            }
        }
        Some(BillingChange::Subscription {
            id,
            customer,
            status,
            price_ids,
            current_period_end,
            cancel_at_period_end,
            deleted,
        }) => {
            let status = if *deleted {
                "canceled"
            } else {
                status.as_str()
            };
            let applied = store
                .apply_subscription(
                    &mut tx,
                    &SubscriptionState {
                        customer,
                        subscription_id: id,
                        status,
                        price_ids,
                        current_period_end: *current_period_end,
                        cancel_at_period_end: *cancel_at_period_end,
                        event_created: event.created,
                    },
                )
                .await?;
            if applied.is_some() {
                "applied"
            } else {
                "unknown_customer_or_stale"
            }
        }
        Some(BillingChange::InvoicePaid { customer, .. }) => {
            match store.record_invoice(&mut tx, customer, true).await? {
                Some(_) => "paid",
                None => "unknown_customer",
            }
        }
        Some(BillingChange::InvoicePaymentFailed { customer, .. }) => {
            match store.record_invoice(&mut tx, customer, false).await? {
                Some(_) => "payment_failed",
                None => "unknown_customer",
            }
        }
        _ => "recorded",
    };
    tx.commit().await?;
    tracing::info!(event = %event.id, kind = %event.kind, outcome, "Stripe event");
    Ok((StatusCode::OK, Json(json!({"status": outcome}))))
}
