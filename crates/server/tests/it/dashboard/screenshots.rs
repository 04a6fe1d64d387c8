//! Every page of the dashboard, with something on it, photographed into
//! `docs/screenshots/` (the README links them): the pictures always show the pages as
//! the code renders them now.

use serde_json::json;

use super::browser::Browser;
use super::{Dashboard, EMAIL, PASSWORD};
use crate::bridge::LINE;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_is_photographed_with_content() {
    let d = Dashboard::start().await;
    for (from, text) in [
        (
            "+19998887001",
            "Hi! Do you have anything open Thursday morning?",
        ),
        ("+19998887002", "Can I talk to a person please?"),
    ] {
        d.bridge
            .control(
                "/sendblue/inbound",
                json!({"line": LINE, "from": from, "content": text}),
            )
            .await;
    }
    let store = &d.bridge.test.store;
    let mut tx = store.begin().await.unwrap();
    let job = store
        .queue()
        .enqueue(
            &mut tx,
            store::queue::NewJob::new("sync_inbound", json!({"message_id": "msg_gone"}))
                .for_agency(&d.bridge.location.agency_id),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    crate::api::bury_job(store, job).await;
    // A knowledge source, read.
    let scope = d.bridge.agency_scope().await;
    let source = store
        .add_knowledge_source(
            &scope,
            &d.bridge.location.id,
            &store::repo::NewKnowledgeSource {
                kind: "text".into(),
                title: "Clinic FAQ".into(),
                document: Some(
                    b"We are open Monday to Friday, 8am to 5pm. A cleaning is $120.".to_vec(),
                ),
                ..Default::default()
            },
            &server::jobs::knowledge_ingest::job(scope.agency_id().clone()),
        )
        .await
        .unwrap();
    d.bridge
        .eventually("the FAQ to be read", async |_| {
            store
                .knowledge_source(&scope, &source.id)
                .await
                .unwrap()
                .state
                == "ready"
        })
        .await;

    let b = Browser::start().await;
    b.goto(&d.url("/login")).await;
    b.wait_for("#email").await;
    b.screenshot("login").await;
    b.fill("#email", EMAIL).await;
    b.fill("#password", PASSWORD).await;
    b.submit("main form button[type=submit]").await;
    b.wait_text("#rows", "both conversations", |t| {
        t.contains("8887001") && t.contains("8887002")
    })
    .await;
    b.screenshot("inbox").await;

    // The second contact asked for a person: their handoff opens by itself. A reply in
    // the first contact's thread.
    b.wait_text("#handoff-count", "the handoff", |t| t == "1")
        .await;
    b.submit("#rows li.row:last-child a").await;
    b.fill("#body", "Thursday at 10 works. Shall I book it?")
        .await;
    b.submit("form.send button[type=submit]").await;
    b.wait_text("#bubbles", "the reply", |t| t.contains("Thursday at 10"))
        .await;
    b.screenshot("thread").await;
    let message = b
        .eval("return document.querySelector('#bubbles li.out a[href^=\"/messages/\"]').getAttribute('href')")
        .await;
    b.goto(&d.url(message.as_str().unwrap())).await;
    b.wait_for("main").await;
    b.screenshot("message-timeline").await;

    for (path, ready, name) in [
        ("/handoffs", "#handoffs", "handoffs"),
        ("/channels", "#lines", "channels"),
        ("/usage", "#total-messages", "usage"),
        ("/dead-jobs", "#dead-jobs", "dead-jobs"),
        ("/settings", "#primary_color", "settings"),
        ("/settings/users", "main", "settings-users"),
        ("/settings/keys", "main", "settings-keys"),
        ("/settings/ai", "form.location-ai", "settings-ai"),
        ("/settings/agent", "form.location-agent", "settings-agent"),
        ("/knowledge", ".source.state-ready", "knowledge"),
    ] {
        b.goto(&d.url(path)).await;
        b.wait_for(ready).await;
        b.screenshot(name).await;
    }

    b.resize(390, 844).await;
    b.goto(&d.url("/inbox")).await;
    b.wait_for("#rows li.row").await;
    b.screenshot("inbox-phone").await;
    b.close().await;
    d.bridge.stop().await;
}
