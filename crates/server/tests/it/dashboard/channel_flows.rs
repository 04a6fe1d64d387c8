//! The channels page in headless Chromium: an owner connects a SendBlue line through
//! the form (the sandbox's SendBlue checks the credentials) and makes a test send from
//! it, which the simulated provider receives.

use std::time::Duration;

use super::browser::Browser;
use super::channels::{add_sendblue_account, NEW_KEY_ID, NEW_LINE, NEW_SECRET, NEW_SIGNING};
use super::{Dashboard, EMAIL, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_connects_a_sendblue_line_and_its_test_send_reaches_the_provider() {
    let d = Dashboard::start().await;
    add_sendblue_account(&d.bridge).await;
    let b = Browser::start().await;
    b.goto(&d.url("/login")).await;
    b.fill("#email", EMAIL).await;
    b.fill("#password", PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.wait_for("#rows").await;

    b.goto(&d.url("/channels")).await;
    b.click("#connect-sendblue summary").await;
    b.fill("#sendblue-line", NEW_LINE).await;
    b.fill("#sendblue-api_key_id", NEW_KEY_ID).await;
    b.fill("#sendblue-api_secret_key", NEW_SECRET).await;
    b.fill("#sendblue-signing_secret", NEW_SIGNING).await;
    b.fill(
        "#sendblue-api_base",
        &format!("{}/sendblue", d.bridge.sandbox),
    )
    .await;
    b.click("#connect-sendblue button[type=submit]").await;
    b.wait_text("#lines", "the new line", |t| t.contains(NEW_LINE))
        .await;
    let html = b.eval("return document.documentElement.outerHTML").await;
    let html = html.as_str().unwrap();
    assert!(!html.contains(NEW_SECRET) && !html.contains(NEW_SIGNING));
    let channel: String = sqlx::query_scalar("SELECT id FROM channels WHERE line = $1")
        .bind(NEW_LINE)
        .fetch_one(d.bridge.test.store.db().reader())
        .await
        .unwrap();
    let webhook = b
        .find(&format!("#webhook-{channel}"))
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(
        webhook,
        format!("{}/webhooks/sendblue/{channel}", d.bridge.gateway)
    );

    b.click(&format!("#{channel} details.test-send summary"))
        .await;
    b.fill(&format!("#to-{channel}"), "+19995550188").await;
    b.fill(&format!("#text-{channel}"), "hello from the new line")
        .await;
    b.click(&format!("#{channel} details.test-send button[type=submit]"))
        .await;
    b.wait_text(
        "#bubbles li.out .text",
        "the test message in its thread",
        |t| t == "hello from the new line",
    )
    .await;
    assert!(b.url().await.contains("/inbox/cnv_"));
    d.bridge
        .eventually("SendBlue to receive the test send", async |br| {
            br.get("/sendblue/messages")
                .await
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["content"] == "hello from the new line" && m["from_number"] == NEW_LINE)
        })
        .await;

    // The line's last send shows once the provider has accepted it.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        b.goto(&d.url("/channels")).await;
        let sent = b
            .find(&format!("#{channel} .last-sent"))
            .await
            .text()
            .await
            .unwrap();
        if sent != "never" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no last send shown");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.close().await;
    d.bridge.stop().await;
}
