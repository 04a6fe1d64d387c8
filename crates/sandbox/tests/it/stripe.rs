//! The Stripe simulator, driven by the gateway's own billing code (`billing`): meter events
//! deduplicated and idempotent, keys refused, and webhook events that verify with the
//! gateway's signature check (and fail it when meant to).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use billing::{BillingChange, TOLERANCE_SECS};
use outbound::Failure;
use sandbox::{SandboxOptions, STRIPE_WEBHOOK_SECRET};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::{start, Harness};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn meter(h: &Harness, key: &str, identifier: &str, value: u64) -> outbound::ApiRequest {
    billing::meter_event_request(
        &h.url("/stripe"),
        key,
        "sms_segments",
        "cus_1",
        value,
        identifier,
        now(),
    )
}

#[tokio::test]
async fn meter_events_are_counted_once_per_identifier() {
    let h = start(SandboxOptions::default()).await;
    let first =
        billing::parse_meter_event(&h.run(meter(&h, "sk_test_1", "usage_1", 25)).await).unwrap();
    assert_eq!((first.identifier.as_str(), first.value), ("usage_1", 25));
    assert_eq!(first.customer, "cus_1");
    assert!(!first.livemode);
    // A retry (same identifier and key) is answered with the same event, not a second one.
    let again =
        billing::parse_meter_event(&h.run(meter(&h, "sk_test_1", "usage_1", 25)).await).unwrap();
    assert_eq!(again, first);
    billing::parse_meter_event(&h.run(meter(&h, "sk_test_1", "usage_2", 3)).await).unwrap();
    let recorded = h.get_json("/_control/stripe/meter_events").await;
    let recorded = recorded.as_array().unwrap();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0]["object"], "billing.meter_event");
    assert_eq!(
        recorded[0]["payload"],
        json!({"stripe_customer_id": "cus_1", "value": "25"})
    );
    assert_eq!(recorded[1]["identifier"], "usage_2");
}

#[tokio::test]
async fn an_idempotency_key_replays_its_answer_and_refuses_other_parameters() {
    let h = start(SandboxOptions::default()).await;
    let request = meter(&h, "sk_test_1", "usage_1", 25);
    let first = h.run(request.clone()).await;
    let replay = h.run(request).await;
    assert_eq!(replay.status, 200);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.body, first.body);
    // The same key (the identifier) with another value: Stripe's idempotency error.
    let other = h.run(meter(&h, "sk_test_1", "usage_1", 26)).await;
    assert_eq!(other.status, 400);
    let body: Value = serde_json::from_slice(&other.body).unwrap();
    assert_eq!(body["error"]["type"], "idempotency_error");
    assert!(matches!(
        billing::parse_meter_event(&other),
        Err(Failure::Permanent { .. })
    ));
}

#[tokio::test]
async fn keys_and_fields_are_checked_like_stripe() {
    let h = start(SandboxOptions::default()).await;
    for key in ["", "pk_test_1", "sk_"] {
        let answer = h.run(meter(&h, key, "usage_1", 1)).await;
        assert_eq!(answer.status, 401, "{key:?}");
        let body: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(matches!(
            billing::parse_meter_event(&answer),
            Err(Failure::Permanent { .. })
        ));
    }
    let post = |form: &'static str| {
        h.http
            .post(h.url("/stripe/v1/billing/meter_events"))
            .bearer_auth("sk_test_1")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
    };
    for (form, code, param) in [
        (
            "payload[stripe_customer_id]=cus_1&payload[value]=1",
            "parameter_missing",
            "event_name",
        ),
        (
            "event_name=x&payload[value]=1",
            "parameter_missing",
            "payload[stripe_customer_id]",
        ),
        (
            "event_name=x&payload[stripe_customer_id]=cus_1",
            "parameter_missing",
            "payload[value]",
        ),
        (
            "event_name=x&payload[stripe_customer_id]=c&payload[value]=1&timestamp=1",
            "timestamp_too_far_in_past",
            "timestamp",
        ),
        (
            "event_name=x&payload[stripe_customer_id]=c&payload[value]=1&colour=red",
            "parameter_unknown",
            "colour",
        ),
    ] {
        let answer = post(form).await.unwrap();
        assert_eq!(answer.status(), 400, "{form}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{form}");
        assert_eq!(body["error"]["param"], param, "{form}");
    }
    assert!(h
        .get_json("/_control/stripe/meter_events")
        .await
        .as_array()
        .unwrap()
        .is_empty());
}

/// A gateway stand-in: verifies `Stripe-Signature` with the gateway's own check, answers 200
/// or 400, and hands each verified event's bytes to the test.
async fn verifying_gateway() -> (String, mpsc::UnboundedReceiver<Bytes>) {
    async fn hook(
        State(tx): State<mpsc::UnboundedSender<Bytes>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        let header = headers
            .get("stripe-signature")
            .and_then(|v| v.to_str().ok());
        let json = headers.get("content-type").and_then(|v| v.to_str().ok());
        if json != Some("application/json") {
            return StatusCode::UNSUPPORTED_MEDIA_TYPE;
        }
        match billing::verify_signature(header, &body, STRIPE_WEBHOOK_SECRET, now(), TOLERANCE_SECS)
        {
            Ok(()) => {
                let _ = tx.send(body);
                StatusCode::OK
            }
            Err(_) => StatusCode::BAD_REQUEST,
        }
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new()
        .route("/webhooks/stripe", axum::routing::post(hook))
        .with_state(tx);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, rx)
}

#[tokio::test]
async fn events_are_signed_for_the_gateway_and_resent_byte_for_byte() {
    let h = start(SandboxOptions::default()).await;
    let (gateway, mut verified) = verifying_gateway().await;
    h.sandbox.set_gateway_base_url(Some(gateway));
    let invoice = json!({"id": "in_1", "object": "invoice", "customer": "cus_1",
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_1"}}});
    let sent = h
        .control(
            "/stripe/events",
            json!({"type": "invoice.paid", "object": invoice, "created": 1_700_000_000}),
        )
        .await;
    assert_eq!(sent["status"], 200);
    let id = sent["event_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("evt_"));
    let bytes = verified.recv().await.unwrap();
    let event = billing::parse_event(&bytes).unwrap();
    assert_eq!(
        (event.id.as_str(), event.created, event.livemode),
        (id.as_str(), 1_700_000_000, false)
    );
    assert_eq!(
        event.change,
        Some(BillingChange::InvoicePaid {
            customer: "cus_1".into(),
            subscription: Some("sub_1".into())
        })
    );
    let envelope: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(envelope["object"], "event");
    assert_eq!(envelope["pending_webhooks"], 1);
    assert!(envelope["api_version"].is_string());

    let resent = h
        .control(&format!("/stripe/events/{id}/resend"), json!({}))
        .await;
    assert_eq!(
        resent,
        json!({"event_id": id, "status": 200, "delivery": resent["delivery"]})
    );
    assert_eq!(verified.recv().await.unwrap(), bytes);

    // A second event gets its own id.
    let other = h
        .control(
            "/stripe/events",
            json!({"type": "customer.created", "object": {"id": "cus_2"}}),
        )
        .await;
    assert_ne!(other["event_id"], id);
    assert_eq!(other["status"], 200);
}

#[tokio::test]
async fn wrong_secrets_and_old_signatures_are_refused_by_the_gateway() {
    let h = start(SandboxOptions::default()).await;
    let (gateway, mut verified) = verifying_gateway().await;
    h.sandbox.set_gateway_base_url(Some(gateway));
    let object = json!({"id": "sub_1", "customer": "cus_1", "status": "active"});
    let forged = h
        .control("/stripe/events", json!({"type": "customer.subscription.updated", "object": object, "bad_signature": true}))
        .await;
    assert_eq!(forged["status"], 400);
    let old = h
        .control("/stripe/events", json!({"type": "customer.subscription.updated", "object": object, "timestamp": now() - 3600}))
        .await;
    assert_eq!(old["status"], 400);
    // Replayed later, signed now: accepted (the event id is what dedupes it).
    let id = old["event_id"].as_str().unwrap();
    let resent = h
        .control(&format!("/stripe/events/{id}/resend"), json!({}))
        .await;
    assert_eq!(resent["status"], 200);
    assert_eq!(
        billing::parse_event(&verified.recv().await.unwrap())
            .unwrap()
            .id,
        id
    );
    let replayed_old = h
        .control(
            &format!("/stripe/events/{id}/resend"),
            json!({"timestamp": now() - 301}),
        )
        .await;
    assert_eq!(replayed_old["status"], 400);
    let missing = h
        .http
        .post(h.url("/_control/stripe/events/evt_nope/resend"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}
