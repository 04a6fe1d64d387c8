#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

use super::*;

fn event(kind: &str, object: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": "evt_1", "object": "event", "api_version": "2025-04-30.basil",
        "created": 1_700_000_000, "livemode": false, "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": kind, "data": {"object": object}
    }))
    .unwrap()
}

fn change(kind: &str, object: Value) -> BillingChange {
    parse_event(&event(kind, object)).unwrap().change.unwrap()
}

#[test]
fn the_reference_event_parses_with_no_change() {
    let parsed = parse_event(include_bytes!("fixtures/stripe-event-object-example.json")).unwrap();
    assert_eq!(
        parsed,
        StripeEvent {
            id: "evt_1NG8Du2eZvKYlo2CUI79vXWy".into(),
            kind: "setup_intent.created".into(),
            created: 1686089970,
            livemode: false,
            change: None,
        }
    );
}

#[test]
fn non_events_and_malformed_json_are_errors() {
    assert!(matches!(
        parse_event(b"{not json"),
        Err(EventError::NotJson(_))
    ));
    assert!(matches!(parse_event(b""), Err(EventError::NotJson(_))));
    assert_eq!(parse_event(b"[]"), Err(EventError::NotAnEvent));
    assert_eq!(
        parse_event(br#"{"object":"customer","id":"cus_1"}"#),
        Err(EventError::NotAnEvent)
    );
    // The SDK's dummy webhook payload has neither `type` nor `created`.
    assert_eq!(
        parse_event(include_bytes!("fixtures/stripe-webhook-test-payload.json")),
        Err(EventError::MissingField("type"))
    );
    assert_eq!(
        parse_event(br#"{"object":"event","id":"evt_1","type":"invoice.paid","created":1}"#),
        Err(EventError::MissingField("data.object"))
    );
    assert_eq!(
        parse_event(&event("invoice.paid", json!({"id": "in_1"}))),
        Err(EventError::MissingObjectField {
            kind: "invoice.paid".into(),
            field: "customer"
        })
    );
}

#[test]
fn checkout_completed_reads_ids_as_strings_or_objects() {
    assert_eq!(
        change(
            "checkout.session.completed",
            json!({"id": "cs_1", "object": "checkout.session", "mode": "subscription",
                   "customer": "cus_1", "subscription": {"id": "sub_1", "object": "subscription"},
                   "client_reference_id": "agency_42"})
        ),
        BillingChange::CheckoutCompleted {
            customer: Some("cus_1".into()),
            subscription: Some("sub_1".into()),
            client_reference_id: Some("agency_42".into()),
        }
    );
    assert_eq!(
        change(
            "checkout.session.completed",
            json!({"id": "cs_2", "mode": "payment", "customer": null, "subscription": null})
        ),
        BillingChange::CheckoutCompleted {
            customer: None,
            subscription: None,
            client_reference_id: None
        }
    );
}

#[test]
fn subscriptions_read_the_newer_shape_with_periods_on_items() {
    let object = json!({
        "id": "sub_1", "object": "subscription", "customer": {"id": "cus_1", "object": "customer"},
        "status": "active", "cancel_at_period_end": true,
        "items": {"object": "list", "data": [
            {"id": "si_1", "price": {"id": "price_base"}, "current_period_start": 1, "current_period_end": 1_700_100_000},
            {"id": "si_2", "price": {"id": "price_meter"}, "current_period_end": 1_700_200_000}
        ]}
    });
    assert_eq!(
        change("customer.subscription.updated", object.clone()),
        BillingChange::Subscription {
            id: "sub_1".into(),
            customer: "cus_1".into(),
            status: "active".into(),
            price_ids: vec!["price_base".into(), "price_meter".into()],
            current_period_end: Some(1_700_200_000),
            cancel_at_period_end: true,
            deleted: false,
        }
    );
    match change("customer.subscription.deleted", object) {
        BillingChange::Subscription { deleted, .. } => assert!(deleted),
        other => panic!("{other:?}"),
    }
}

#[test]
fn subscriptions_read_the_older_shape_with_the_period_on_the_subscription() {
    assert_eq!(
        change(
            "customer.subscription.created",
            json!({"id": "sub_2", "customer": "cus_2", "status": "trialing",
                   "current_period_end": 1_600_000_000,
                   "items": {"data": [{"price": {"id": "price_old"}}]}})
        ),
        BillingChange::Subscription {
            id: "sub_2".into(),
            customer: "cus_2".into(),
            status: "trialing".into(),
            price_ids: vec!["price_old".into()],
            current_period_end: Some(1_600_000_000),
            cancel_at_period_end: false,
            deleted: false,
        }
    );
}

#[test]
fn invoices_find_their_subscription_in_either_shape() {
    let newer = json!({"id": "in_1", "object": "invoice", "customer": "cus_1", "status": "paid",
        "parent": {"type": "subscription_details",
                   "subscription_details": {"subscription": "sub_new", "metadata": {}}}});
    assert_eq!(
        change("invoice.paid", newer),
        BillingChange::InvoicePaid {
            customer: "cus_1".into(),
            subscription: Some("sub_new".into())
        }
    );
    let older = json!({"id": "in_2", "customer": {"id": "cus_2"}, "subscription": "sub_old",
        "attempt_count": 2, "next_payment_attempt": 1_700_000_500});
    assert_eq!(
        change("invoice.payment_failed", older),
        BillingChange::InvoicePaymentFailed {
            customer: "cus_2".into(),
            subscription: Some("sub_old".into()),
            attempt_count: Some(2),
            next_payment_attempt: Some(1_700_000_500),
        }
    );
    let final_attempt = json!({"id": "in_3", "customer": "cus_3", "parent": null,
        "attempt_count": 4, "next_payment_attempt": null});
    assert_eq!(
        change("invoice.payment_failed", final_attempt),
        BillingChange::InvoicePaymentFailed {
            customer: "cus_3".into(),
            subscription: None,
            attempt_count: Some(4),
            next_payment_attempt: None,
        }
    );
}
