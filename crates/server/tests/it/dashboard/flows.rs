//! The dashboard in headless Chromium, as an agent and an agency owner use it.

use std::time::Duration;

use domain::Provider;
use serde_json::json;

use super::browser::Browser;
use super::{Dashboard, EMAIL, PASSWORD};
use crate::bridge::{Bridge, LINE};

const CONTACT: &str = "+19998887777";
const NASTY: &str =
    "<script>window.pwned=1</script><b>bold</b> & <img src=x onerror=\"window.pwned=2\">";

async fn sign_in(b: &Browser, d: &Dashboard) {
    b.goto(&d.url("/login")).await;
    b.fill("#email", EMAIL).await;
    b.fill("#password", PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.wait_for("#rows").await;
}

/// Whether the page has not been reloaded since `mark` was set on it.
async fn same_page(b: &Browser) -> bool {
    b.eval("return window.__mark === 1").await == json!(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_sees_messages_arrive_live_replies_and_watches_the_status_change() {
    // Slow status callbacks, so the reply is on the page before SendBlue reports it.
    let bridge = Bridge::start_full(Provider::Sendblue, &[], Duration::from_secs(2)).await;
    super::add_user(&bridge, EMAIL, "agency_admin", true).await;
    let d = Dashboard { bridge };
    let b = Browser::start().await;
    sign_in(&b, &d).await;
    b.eval("window.__mark = 1").await;
    // Wait for the live socket, so the message below is news to this page.
    b.wait_text("body", "the page to go live", |_| true).await;
    for _ in 0..100 {
        if b.eval("return document.body.dataset.live").await == json!("on") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    d.bridge
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": CONTACT, "content": NASTY}),
        )
        .await;
    b.wait_for("#rows li.row").await;
    assert!(
        same_page(&b).await,
        "the conversation appeared without a reload"
    );

    b.click("#rows li.row a").await;
    let text = b
        .wait_text("#bubbles li.in .text", "the message", |t| !t.is_empty())
        .await;
    assert_eq!(text, NASTY, "markup shows as text");
    assert_eq!(
        b.eval("return window.pwned === undefined").await,
        json!(true)
    );
    assert_eq!(
        b.eval(
            "return document.querySelectorAll('#bubbles b, #bubbles img, #bubbles script').length"
        )
        .await,
        json!(0)
    );

    b.fill("#body", "Thursday at 10 works").await;
    b.click("form.send button[type=submit]").await;
    b.wait_text("#bubbles li.out .text", "the reply on the page", |t| {
        t == "Thursday at 10 works"
    })
    .await;
    b.eval("window.__mark = 1").await;
    // From here on, every layout shift the live updates cause is counted.
    b.eval(
        "window.__shift = 0; new PerformanceObserver((list) => { \
           for (const e of list.getEntries()) window.__shift += e.value; \
         }).observe({type: 'layout-shift'});",
    )
    .await;
    d.bridge
        .eventually("SendBlue to receive the reply", async |br| {
            br.get("/sendblue/messages")
                .await
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["content"] == "Thursday at 10 works")
        })
        .await;
    // Read in one script: a live update may swap the bubble between a find and a read.
    let tick_title = "const t = document.querySelector('#bubbles li.out .tick'); \
                      return t ? (t.getAttribute('title') || '') : ''";
    b.wait_for("#bubbles li.out .tick").await;
    let status = b
        .eval(tick_title)
        .await
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_ne!(
        status, "delivered",
        "not yet reported when the page was drawn"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = b
            .eval(tick_title)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string();
        if now == "delivered" || now == "read" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the tick stayed {now}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(same_page(&b).await, "the tick changed without a reload");
    assert_eq!(
        b.eval("return window.__shift").await,
        json!(0),
        "no layout shift"
    );
    // The page, its stylesheet and scripts: under 100 KB before images.
    let weight = b
        .eval(
            "return performance.getEntriesByType('navigation') \
               .concat(performance.getEntriesByType('resource')) \
               .filter((e) => e.initiatorType !== 'img' && !e.name.includes('/ws')) \
               .reduce((n, e) => n + e.decodedBodySize, 0)",
        )
        .await;
    let weight = weight.as_f64().unwrap();
    assert!(
        weight > 1000.0 && weight < 100_000.0,
        "page weight {weight} bytes"
    );
    b.close().await;
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_takes_and_resolves_a_handoff_replays_a_dead_job_and_rebrands() {
    let d = Dashboard::start().await;
    d.bridge
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": CONTACT, "content": "A question about my order"}),
        )
        .await;
    let b = Browser::start().await;
    sign_in(&b, &d).await;
    b.click("#rows li.row a").await;
    b.submit("form[action$='/handoff'] button").await;
    b.wait_text("#handoff-count", "the queue count", |t| t == "1")
        .await;

    b.goto(&d.url("/handoffs")).await;
    b.submit("#handoffs form[action$='/take'] button").await;
    b.wait_for("form.send").await;
    b.wait_text("#handoff-count", "the queue count", |t| t == "0")
        .await;
    b.goto(&d.url("/handoffs?state=assigned")).await;
    b.click("#handoffs input[name=resume_ai]").await;
    b.submit("#handoffs form[action$='/resolve'] button").await;
    assert!(
        b.url().await.contains("state=resolved"),
        "{}",
        b.url().await
    );
    b.wait_text("#handoffs", "the resolved list", |t| {
        t.contains("A question about my order") || t.contains(CONTACT)
    })
    .await;

    // A dead job of this agency, replayed from its page.
    let store = &d.bridge.test.store;
    let mut tx = store.begin().await.unwrap();
    let job = store
        .queue()
        .enqueue(
            &mut tx,
            store::queue::NewJob::new("no_such_kind", json!({"why": "a test"}))
                .for_agency(&d.bridge.location.agency_id),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    crate::api::bury_job(store, job).await;
    b.goto(&d.url("/dead-jobs")).await;
    b.wait_text("#dead-jobs", "the dead job", |t| t.contains("no_such_kind"))
        .await;
    b.submit(&format!("form[action='/dead-jobs/{job}/replay'] button"))
        .await;
    b.wait_text("main", "the emptied list", |t| {
        t.contains("Nothing is dead")
    })
    .await;

    // A new brand colour, applied on the next page.
    b.goto(&d.url("/settings")).await;
    b.eval("document.getElementById('primary_color').value = '#aa3300'")
        .await;
    b.submit("form[action='/settings/brand'] button").await;
    let colour = b
        .eval("return getComputedStyle(document.querySelector('header.top')).backgroundColor")
        .await;
    assert_eq!(colour, json!("rgb(170, 51, 0)"));
    b.close().await;
    d.bridge.stop().await;
}

/// Two gateways on one database (the second with its own pool and hub, as a second
/// process has): a contact's message taken in by the first reaches a browser on the
/// second, live — through PostgreSQL's `NOTIFY`, or the hub's tick on SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_raised_in_one_gateway_reaches_a_browser_on_another() {
    let d = Dashboard::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = format!("http://{}", listener.local_addr().unwrap());
    let (other_base, stop, handle) = crate::start_run_on(
        &d.bridge.test,
        false,
        listener,
        &[("SWITCHBOARD_PUBLIC_URL", other.as_str())],
    )
    .await;
    let b = Browser::start().await;
    b.goto(&format!("{other_base}/login")).await;
    b.fill("#email", EMAIL).await;
    b.fill("#password", PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.wait_for("#rows").await;
    for _ in 0..100 {
        if b.eval("return document.body.dataset.live").await == json!("on") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.eval("window.__mark = 1").await;
    d.bridge
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": CONTACT, "content": "across processes"}),
        )
        .await;
    b.wait_text("#rows", "the new conversation", |t| {
        t.contains("across processes")
    })
    .await;
    assert!(same_page(&b).await, "it arrived without a reload");
    b.close().await;
    let _ = stop.send(());
    handle.await.unwrap().unwrap();
    d.bridge.stop().await;
}
