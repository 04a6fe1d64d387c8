//! Stripe events, read into what billing acts on.
//!
//! The payload is rendered in the webhook endpoint's API version, so fields are read
//! leniently and in both the older and the newer shapes (the reference's §5):
//! - an invoice's subscription is `parent.subscription_details.subscription` now, top-level
//!   `subscription` before;
//! - a subscription's `current_period_end` is on its items now, on the subscription before;
//! - an id field (`customer`, `subscription`) may be a string or an expanded object.
//!
//! Only the envelope is required of every event; types we don't act on parse with
//! `change: None`, so the caller can still record and acknowledge them.

use serde_json::Value;

/// An event's envelope, and the change it carries when billing acts on its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEvent {
    /// `evt_…`: the key that dedupes Stripe's retries and replays.
    pub id: String,
    /// The event type (`customer.subscription.updated`).
    pub kind: String,
    pub created: i64,
    pub livemode: bool,
    pub change: Option<BillingChange>,
}

/// What a subscription-relevant event says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillingChange {
    /// `checkout.session.completed`: a Checkout we created finished; `client_reference_id`
    /// is what we put there to find our side (the agency).
    CheckoutCompleted {
        customer: Option<String>,
        subscription: Option<String>,
        client_reference_id: Option<String>,
    },
    /// `customer.subscription.created` / `.updated` / `.deleted` (`deleted: true`): the
    /// subscription's state as of the event.
    Subscription {
        id: String,
        customer: String,
        status: String,
        price_ids: Vec<String>,
        current_period_end: Option<i64>,
        cancel_at_period_end: bool,
        deleted: bool,
    },
    /// `invoice.paid`.
    InvoicePaid {
        customer: String,
        subscription: Option<String>,
    },
    /// `invoice.payment_failed`; `next_payment_attempt` is `None` when Stripe gave up.
    InvoicePaymentFailed {
        customer: String,
        subscription: Option<String>,
        attempt_count: Option<i64>,
        next_payment_attempt: Option<i64>,
    },
}

/// Why a body is not an event we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body is not a Stripe event (its object is not \"event\")")]
    NotAnEvent,
    #[error("the event has no valid `{0}`")]
    MissingField(&'static str),
    #[error("the {kind} event's object has no valid `{field}`")]
    MissingObjectField { kind: String, field: &'static str },
}

/// An id field: a string, or an expanded object's `id`.
fn id_of(value: &Value) -> Option<String> {
    match value {
        Value::String(id) => Some(id.clone()),
        Value::Object(map) => map.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// Reads a Stripe event from a webhook's raw body.
pub fn parse_event(body: &[u8]) -> Result<StripeEvent, EventError> {
    let event: Value =
        serde_json::from_slice(body).map_err(|e| EventError::NotJson(e.to_string()))?;
    if event.get("object").and_then(Value::as_str) != Some("event") {
        return Err(EventError::NotAnEvent);
    }
    let text = |field: &'static str| {
        event
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or(EventError::MissingField(field))
    };
    let id = text("id")?;
    let kind = text("type")?;
    let created = event
        .get("created")
        .and_then(Value::as_i64)
        .ok_or(EventError::MissingField("created"))?;
    let livemode = event
        .get("livemode")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let object = event.pointer("/data/object");
    let change = match (kind.as_str(), object) {
        (
            "checkout.session.completed"
            | "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted"
            | "invoice.paid"
            | "invoice.payment_failed",
            None,
        ) => return Err(EventError::MissingField("data.object")),
        (_, Some(object)) => change_of(&kind, object)?,
        (_, None) => None,
    };
    Ok(StripeEvent {
        id,
        kind,
        created,
        livemode,
        change,
    })
}

/// The change a known event type carries; `None` for the others.
fn change_of(kind: &str, object: &Value) -> Result<Option<BillingChange>, EventError> {
    let missing = |field: &'static str| EventError::MissingObjectField {
        kind: kind.to_string(),
        field,
    };
    let optional_id = |field: &str| object.get(field).and_then(id_of);
    let required_id = |field: &'static str| optional_id(field).ok_or_else(|| missing(field));
    let change = match kind {
        "checkout.session.completed" => BillingChange::CheckoutCompleted {
            customer: optional_id("customer"),
            subscription: optional_id("subscription"),
            client_reference_id: object
                .get("client_reference_id")
                .and_then(Value::as_str)
                .map(str::to_string),
        },
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => BillingChange::Subscription {
            id: required_id("id")?,
            customer: required_id("customer")?,
            status: object
                .get("status")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| missing("status"))?,
            price_ids: items(object)
                .filter_map(|item| item.get("price").and_then(id_of))
                .collect(),
            current_period_end: period_end(object),
            cancel_at_period_end: object
                .get("cancel_at_period_end")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            deleted: kind == "customer.subscription.deleted",
        },
        "invoice.paid" => BillingChange::InvoicePaid {
            customer: required_id("customer")?,
            subscription: invoice_subscription(object),
        },
        "invoice.payment_failed" => BillingChange::InvoicePaymentFailed {
            customer: required_id("customer")?,
            subscription: invoice_subscription(object),
            attempt_count: object.get("attempt_count").and_then(Value::as_i64),
            next_payment_attempt: object.get("next_payment_attempt").and_then(Value::as_i64),
        },
        _ => return Ok(None),
    };
    Ok(Some(change))
}

/// A subscription's items (`items.data[]`).
fn items(subscription: &Value) -> impl Iterator<Item = &Value> {
    subscription
        .pointer("/items/data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The older top-level `current_period_end`, else the latest of the items' (newer API
/// versions): access lasts while any item's period runs.
fn period_end(subscription: &Value) -> Option<i64> {
    subscription
        .get("current_period_end")
        .and_then(Value::as_i64)
        .or_else(|| {
            items(subscription)
                .filter_map(|item| item.get("current_period_end").and_then(Value::as_i64))
                .max()
        })
}

/// The newer `parent.subscription_details.subscription`, else the older top-level
/// `subscription`.
fn invoice_subscription(invoice: &Value) -> Option<String> {
    invoice
        .pointer("/parent/subscription_details/subscription")
        .and_then(id_of)
        .or_else(|| invoice.get("subscription").and_then(id_of))
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
