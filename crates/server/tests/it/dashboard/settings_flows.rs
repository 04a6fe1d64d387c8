//! The API-keys page in headless Chromium: an owner makes a key through the form, sees it
//! once with the "copy it now" note, and it works as a bearer; the page never shows it
//! again.

use super::browser::Browser;
use super::{Dashboard, EMAIL, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_makes_an_api_key_that_is_shown_once_and_works() {
    let d = Dashboard::start().await;
    let b = Browser::start().await;
    b.goto(&d.url("/login")).await;
    b.fill("#email", EMAIL).await;
    b.fill("#password", PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.wait_for("#rows").await;

    b.goto(&d.url("/settings")).await;
    b.click("a[href='/settings/keys']").await;
    b.fill("#key-name", "Reporting").await;
    b.click(".make-key button[type=submit]").await;
    let note = b
        .wait_text(".made-key", "the new key", |t| t.contains("Copy it now"))
        .await;
    assert!(note.contains("Reporting"), "{note}");
    let key = b
        .find("#made-key")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(key.starts_with("sb_"), "{key}");
    assert!(!b.url().await.contains(&key), "the key is never in a URL");
    let me = d
        .bridge
        .client
        .get(d.url("/api/v1/me"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), reqwest::StatusCode::OK);

    b.goto(&d.url("/settings/keys")).await;
    b.wait_text("#keys", "the key's row", |t| t.contains("Reporting"))
        .await;
    let html = b.eval("return document.documentElement.outerHTML").await;
    assert!(!html.as_str().unwrap().contains(&key), "shown once only");
    b.close().await;
    d.bridge.stop().await;
}
