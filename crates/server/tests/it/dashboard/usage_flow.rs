//! The usage page in headless Chromium: an owner reads the charts (drawn in the brand's
//! colours, their shape fixed by the viewBox) and narrows the range to an empty one.

use serde_json::json;
use store::TenantScope;

use super::usage::store_lines;
use super::{Dashboard, EMAIL, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_reads_the_charts_and_narrows_the_range_in_a_browser() {
    let d = Dashboard::start().await;
    // A contact writes in through the simulated provider: one real inbound message.
    d.bridge
        .control(
            "/sendblue/inbound",
            json!({"line": crate::bridge::LINE, "from": "+19998887777", "content": "Hello"}),
        )
        .await;
    let store = d.bridge.test.store.clone();
    let scope = TenantScope::for_location(&d.bridge.location);
    d.bridge
        .eventually("the inbound message to be stored", async |_| {
            !store_lines(&store, &scope).await.is_empty()
        })
        .await;
    let b = super::browser::Browser::start().await;
    b.goto(&d.url("/login")).await;
    b.fill("#email", EMAIL).await;
    b.fill("#password", PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.wait_for("#rows").await;

    b.click("nav a[href='/usage']").await;
    b.wait_text("#total-messages", "the total", |t| t == "1")
        .await;
    assert_eq!(
        b.eval("return document.querySelectorAll('svg.chart[role=img]').length")
            .await,
        json!(5)
    );
    // Bars in the brand's main colour, the same as the header's.
    let (bar, header) = (
        b.eval(
            "return getComputedStyle(document.querySelector('#chart-messages rect.series-0')).fill",
        )
        .await,
        b.eval("return getComputedStyle(document.querySelector('header.top')).backgroundColor")
            .await,
    );
    assert_eq!(bar, header);
    // No page-wide horizontal scroll on a phone-sized window is the stylesheet's job; here
    // the chart keeps its aspect ratio from the fixed viewBox.
    let ratio = b
        .eval("const r = document.querySelector('#chart-messages svg').getBoundingClientRect(); return Math.round(r.width / r.height * 10)")
        .await;
    assert_eq!(ratio, json!(29), "720 × 252");

    // A range with nothing in it: an honest empty chart.
    b.eval("document.getElementById('from').value = '2020-01-01'; document.getElementById('to').value = '2020-01-31'")
        .await;
    b.click("form.usage-filters button[type=submit]").await;
    b.wait_text("#total-messages", "the empty total", |t| t == "0")
        .await;
    let empty = b
        .wait_text("#chart-messages", "the empty chart", |t| !t.is_empty())
        .await;
    assert!(empty.contains("No messages in this range"), "{empty}");
    assert!(b.url().await.contains("from=2020-01-01"));
    let csv = b
        .eval("return document.getElementById('usage-csv').getAttribute('href')")
        .await;
    assert_eq!(csv, json!("/usage.csv?from=2020-01-01&to=2020-01-31"));
    b.close().await;
    d.bridge.stop().await;
}
