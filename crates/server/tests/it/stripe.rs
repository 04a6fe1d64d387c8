//! `POST /webhooks/stripe` driven by the sandbox's Stripe: a subscription's lifecycle
//! changes the agency's billing state; a replayed event is applied once; an older event
//! never overwrites a newer one; a bad signature or an old timestamp is 401 and changes
//! nothing; another installation's agency is not linked.

use serde_json::{json, Value};

use crate::bridge::Bridge;

async fn start() -> Bridge {
    Bridge::start_with(&[(
        "SWITCHBOARD_STRIPE_WEBHOOK_SECRET",
        sandbox::STRIPE_WEBHOOK_SECRET,
    )])
    .await
}

/// Has the sandbox's Stripe send `kind` about `object`; answers the gateway's status and
/// the event's id.
async fn send(bridge: &Bridge, kind: &str, object: Value, extra: Value) -> (u64, String) {
    let mut body = json!({"type": kind, "object": object});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let sent = bridge.control("/stripe/events", body).await;
    (
        sent["status"].as_u64().unwrap(),
        sent["event_id"].as_str().unwrap().to_string(),
    )
}

fn subscription(status: &str, price: &str) -> Value {
    json!({
        "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": status,
        "cancel_at_period_end": false,
        "items": {"object": "list", "data": [{
            "id": "si_1", "object": "subscription_item",
            "price": {"id": price, "object": "price"},
            "current_period_end": 1_900_000_000
        }]}
    })
}

async fn billing_of(bridge: &Bridge) -> Option<store::repo::AgencyBilling> {
    let scope = bridge.agency_scope().await;
    bridge.test.store.agency_billing(&scope).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_lifecycle_changes_the_agencys_billing_once_per_event() {
    let bridge = start().await;
    let agency = bridge.location.agency_id.to_string();
    assert!(billing_of(&bridge).await.is_none());

    let checkout = json!({"id": "cs_1", "object": "checkout.session", "mode": "subscription",
        "customer": "cus_1", "subscription": "sub_1", "client_reference_id": agency});
    let (status, _) = send(&bridge, "checkout.session.completed", checkout, json!({})).await;
    assert_eq!(status, 200);
    let linked = billing_of(&bridge).await.unwrap();
    assert_eq!(linked.stripe_customer_id, "cus_1");

    let (status, created) = send(
        &bridge,
        "customer.subscription.created",
        subscription("active", "price_pro"),
        json!({"created": 1_800_000_000}),
    )
    .await;
    assert_eq!(status, 200);
    let active = billing_of(&bridge).await.unwrap();
    assert_eq!(active.status.as_deref(), Some("active"));
    assert_eq!(active.price_ids, ["price_pro"]);
    assert_eq!(active.current_period_end, Some(1_900_000_000));

    // Redelivered: answered 200, applied once (the receipt is the proof).
    let resent = bridge
        .control(&format!("/stripe/events/{created}/resend"), json!({}))
        .await;
    assert_eq!(resent["status"], 200);
    let receipts: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_receipts WHERE source = 'stripe' AND external_id = $1",
    )
    .bind(&created)
    .fetch_one(bridge.test.store.db().reader())
    .await
    .unwrap();
    assert_eq!(receipts, 1);

    // A payment fails, then an invoice is paid.
    let invoice = json!({"id": "in_1", "object": "invoice", "customer": "cus_1",
        "parent": {"subscription_details": {"subscription": "sub_1"}}, "attempt_count": 1});
    send(
        &bridge,
        "invoice.payment_failed",
        invoice.clone(),
        json!({}),
    )
    .await;
    assert!(billing_of(&bridge)
        .await
        .unwrap()
        .payment_failed_at_ms
        .is_some());
    send(&bridge, "invoice.paid", invoice, json!({})).await;
    assert!(billing_of(&bridge)
        .await
        .unwrap()
        .payment_failed_at_ms
        .is_none());

    // An upgrade, then a late copy of an older state: the newer one stays.
    send(
        &bridge,
        "customer.subscription.updated",
        subscription("active", "price_scale"),
        json!({"created": 1_800_000_100}),
    )
    .await;
    send(
        &bridge,
        "customer.subscription.updated",
        subscription("past_due", "price_pro"),
        json!({"created": 1_800_000_050}),
    )
    .await;
    let upgraded = billing_of(&bridge).await.unwrap();
    assert_eq!(upgraded.status.as_deref(), Some("active"));
    assert_eq!(upgraded.price_ids, ["price_scale"]);

    send(
        &bridge,
        "customer.subscription.deleted",
        subscription("canceled", "price_scale"),
        json!({"created": 1_800_000_200}),
    )
    .await;
    assert_eq!(
        billing_of(&bridge).await.unwrap().status.as_deref(),
        Some("canceled")
    );
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_old_timestamps_and_strangers_change_nothing() {
    let bridge = start().await;
    let agency = bridge.location.agency_id.to_string();
    let checkout = json!({"id": "cs_1", "object": "checkout.session", "mode": "subscription",
        "customer": "cus_1", "subscription": "sub_1", "client_reference_id": agency});
    let (status, _) = send(
        &bridge,
        "checkout.session.completed",
        checkout.clone(),
        json!({"bad_signature": true}),
    )
    .await;
    assert_eq!(status, 401);
    let an_hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3600;
    let (status, _) = send(
        &bridge,
        "checkout.session.completed",
        checkout,
        json!({"timestamp": an_hour_ago}),
    )
    .await;
    assert_eq!(status, 401, "older than Stripe's 300 s tolerance");
    assert!(billing_of(&bridge).await.is_none());
    let receipts: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_receipts WHERE source = 'stripe'")
            .fetch_one(bridge.test.store.db().reader())
            .await
            .unwrap();
    assert_eq!(receipts, 0, "a refused event is not recorded");

    // Another installation's agency, and a customer nobody linked: recorded, ignored.
    let stranger = json!({"id": "cs_2", "object": "checkout.session", "mode": "subscription",
        "customer": "cus_2", "client_reference_id": "agy_01hzzzzzzzzzzzzzzzzzzzzzzz"});
    let (status, _) = send(&bridge, "checkout.session.completed", stranger, json!({})).await;
    assert_eq!(status, 200);
    let (status, _) = send(
        &bridge,
        "customer.subscription.created",
        subscription("active", "price_pro"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(billing_of(&bridge).await.is_none());

    // Without a signature: 401. Well signed but not an event: 400, nothing recorded.
    let url = format!("{}/webhooks/stripe", bridge.gateway);
    let direct = bridge.client.post(&url).body("{}").send().await.unwrap();
    assert_eq!(direct.status(), 401);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for body in [&b"{not json"[..], &b"[1, 2]"[..]] {
        let signed = bridge
            .client
            .post(&url)
            .header(
                "Stripe-Signature",
                billing::signature_header(sandbox::STRIPE_WEBHOOK_SECRET, now, body),
            )
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), 400);
    }
    bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_days_usage_is_metered_once_through_failures_and_reruns() {
    let bridge = Bridge::start_with(&[
        (
            "SWITCHBOARD_STRIPE_WEBHOOK_SECRET",
            sandbox::STRIPE_WEBHOOK_SECRET,
        ),
        ("SWITCHBOARD_STRIPE_API_KEY", "sk_test_sandbox"),
    ])
    .await;
    let store = &bridge.test.store;
    let agency = bridge.location.agency_id.to_string();
    let checkout = json!({"id": "cs_1", "object": "checkout.session", "mode": "subscription",
        "customer": "cus_1", "subscription": "sub_1", "client_reference_id": agency});
    send(&bridge, "checkout.session.completed", checkout, json!({})).await;
    for from in ["+19998887041", "+19998887042"] {
        bridge
            .control(
                "/sendblue/inbound",
                json!({"line": crate::bridge::LINE, "from": from, "content": "Hi"}),
            )
            .await;
    }
    bridge
        .eventually("both messages in GHL", async |b| {
            b.ghl_messages().await.len() >= 2
        })
        .await;

    // The messages were yesterday's (records moved back a day): a day is reported once
    // it is over. Today's report sends nothing.
    sqlx::query("UPDATE messages SET created_at = created_at - $1")
        .bind(store::repo::DAY_MS)
        .execute(store.db().writer())
        .await
        .unwrap();
    let today = store.now_ms().div_euclid(store::repo::DAY_MS);
    let (job, key) = server::jobs::billing_meter::job(today);
    let mut tx = store.begin().await.unwrap();
    store
        .queue()
        .enqueue_unique(&mut tx, job, &key)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let yesterday = today - 1;

    // Stripe fails for a moment: the job retries and reports each meter once.
    bridge
        .control(
            "/faults",
            json!({"target": "stripe", "kind": "status", "code": 500, "duration_ms": 1500}),
        )
        .await;
    // (The daily run already queued yesterday's unique job at start, before these
    // messages were moved: this is the same job kind, run again.)
    let run = store::queue::NewJob::new("billing_meter", json!({"day": yesterday}));
    let mut tx = store.begin().await.unwrap();
    store.queue().enqueue(&mut tx, run).await.unwrap();
    tx.commit().await.unwrap();
    let identifier = format!("{agency}:{yesterday}:switchboard_messages");

    let metered = async |b: &Bridge| -> Vec<Value> {
        b.get("/stripe/meter_events")
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    bridge
        .eventually_within(
            "the day's messages to be metered",
            std::time::Duration::from_secs(40),
            async |b| {
                metered(b)
                    .await
                    .iter()
                    .any(|e| e["identifier"] == identifier.as_str())
            },
        )
        .await;
    let events = metered(&bridge).await;
    let messages = events
        .iter()
        .find(|e| e["identifier"] == identifier.as_str())
        .unwrap();
    assert_eq!(messages["event_name"], "switchboard_messages");
    assert_eq!(messages["payload"]["stripe_customer_id"], "cus_1");
    assert_eq!(messages["payload"]["value"], "2");
    assert!(
        events
            .iter()
            .all(|e| e["event_name"] != "switchboard_ai_replies"),
        "no AI replies, no event"
    );

    // A rerun (as after a crash mid-send) sends the same identifiers: still one each.
    let rerun = store::queue::NewJob::new("billing_meter", json!({"day": yesterday}));
    let mut tx = store.begin().await.unwrap();
    store.queue().enqueue(&mut tx, rerun).await.unwrap();
    tx.commit().await.unwrap();
    bridge
        .eventually("the rerun to finish", async |_| {
            crate::bridge::jobs_of(store, "billing_meter")
                .await
                .iter()
                .all(|(state, _)| state == "done")
        })
        .await;
    let after = metered(&bridge).await;
    assert_eq!(after.len(), events.len(), "{after:?}");
    let posts = bridge
        .get("/stripe/requests")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["body"]
                .as_str()
                .unwrap_or_default()
                .contains("switchboard_messages")
        })
        .count();
    assert!(
        posts >= 2,
        "the rerun did post again ({posts}), Stripe kept one"
    );
    bridge.stop().await;
}
