//! The knowledge page and the AI agent settings over HTTP: sources added, shown with
//! their progress, re-read and deleted; the agent's strategy, model key and calendar
//! saved; every bad field refused with nothing changed; other tenants' ids 404; agents
//! refused.

use reqwest::StatusCode;
use serde_json::json;

use super::{add_user, Dashboard, Session, EMAIL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_reads_again_and_deletes_sources_and_bad_forms_add_nothing() {
    let d = Dashboard::start().await;
    let store = &d.bridge.test.store;
    let scope = d.bridge.agency_scope().await;
    let location = d.bridge.location.id.to_string();
    let add = format!("/knowledge/{location}/sources");
    let mut s = Session::new(&d);
    s.sign_in(EMAIL).await;
    let page = s.get("/knowledge").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{add}\"")), "{html}");
    assert!(
        html.contains("href=\"/knowledge\""),
        "the menu shows Knowledge"
    );
    let csrf = s.csrf();

    let added = s
        .post_multipart(
            &add,
            &csrf,
            &[
                ("kind", "text"),
                ("title", "Parking"),
                ("text", "Park behind the building on Elm Street."),
            ],
            &[],
        )
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let sources = store.knowledge_sources(&scope, None).await.unwrap();
    assert_eq!(sources.len(), 1);
    let source = sources[0].clone();
    d.bridge
        .eventually("the text to be read", async |_| {
            store
                .knowledge_source(&scope, &source.id)
                .await
                .unwrap()
                .state
                == "ready"
        })
        .await;
    let html = s.get("/knowledge").await.text().await.unwrap();
    assert!(
        html.contains("Parking") && html.contains("state-ready"),
        "{html}"
    );

    // Bad forms: each refused with its reason, nothing added.
    for (why, fields, files) in [
        (
            "no text",
            vec![("kind", "text"), ("title", "Empty"), ("text", "  ")],
            vec![],
        ),
        (
            "a bad address",
            vec![("kind", "url"), ("url", "javascript:alert(1)")],
            vec![],
        ),
        (
            "too deep",
            vec![
                ("kind", "url"),
                ("url", "https://clinic.example/"),
                ("depth", "99"),
            ],
            vec![],
        ),
        (
            "not a PDF",
            vec![("kind", "pdf")],
            vec![("file", "x.pdf", "application/pdf", &b"hello"[..])],
        ),
        ("an unknown kind", vec![("kind", "zip")], vec![]),
    ] {
        let refused = s.post_multipart(&add, &csrf, &fields, &files).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{why}");
        let html = refused.text().await.unwrap();
        assert!(html.contains("Nothing was added"), "{why}: {html}");
    }
    let forged = s
        .post_multipart(
            &add,
            "forged",
            &[("kind", "text"), ("title", "X"), ("text", "y")],
            &[],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        store.knowledge_sources(&scope, None).await.unwrap().len(),
        1
    );

    // Read again, then delete.
    let again = s
        .post(
            &format!("/knowledge/sources/{}/refresh", source.id),
            &csrf,
            &[],
        )
        .await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    d.bridge
        .eventually("the text to be read again", async |_| {
            store
                .knowledge_source(&scope, &source.id)
                .await
                .unwrap()
                .state
                == "ready"
        })
        .await;
    let deleted = s
        .post(
            &format!("/knowledge/sources/{}/delete", source.id),
            &csrf,
            &[],
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    assert!(store
        .knowledge_sources(&scope, None)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .knowledge_chunks(&scope, &d.bridge.location.id)
        .await
        .unwrap()
        .is_empty());
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_agencies_sources_are_404_and_agents_are_refused() {
    let d = Dashboard::start().await;
    add_user(&d.bridge, "other@elsewhere.example", "agency_admin", false).await;
    add_user(&d.bridge, "agent@agency.example", "agent", true).await;
    let store = &d.bridge.test.store;
    let scope = d.bridge.agency_scope().await;
    let agency = scope.agency_id().clone();
    let source = store
        .add_knowledge_source(
            &scope,
            &d.bridge.location.id,
            &store::repo::NewKnowledgeSource {
                kind: "text".into(),
                title: "Ours".into(),
                document: Some(b"Our prices.".to_vec()),
                ..Default::default()
            },
            &server::jobs::knowledge_ingest::job(agency),
        )
        .await
        .unwrap();

    let mut other = Session::new(&d);
    other.sign_in("other@elsewhere.example").await;
    let csrf = other.csrf();
    let html = other.get("/knowledge").await.text().await.unwrap();
    assert!(
        !html.contains("Ours"),
        "another agency sees nothing of ours"
    );
    for path in [
        format!("/knowledge/sources/{}/delete", source.id),
        format!("/knowledge/sources/{}/refresh", source.id),
        "/knowledge/sources/kns_nonsense/delete".to_string(),
    ] {
        assert_eq!(
            other.post(&path, &csrf, &[]).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let theirs = other
        .post_multipart(
            &format!("/knowledge/{}/sources", d.bridge.location.id),
            &csrf,
            &[("kind", "text"), ("title", "X"), ("text", "y")],
            &[],
        )
        .await;
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    let agent_settings = other
        .post(
            &format!("/settings/agent/{}", d.bridge.location.id),
            &csrf,
            &[("strategy", "x")],
        )
        .await;
    assert_eq!(agent_settings.status(), StatusCode::NOT_FOUND);

    let mut agent = Session::new(&d);
    agent.sign_in("agent@agency.example").await;
    assert_eq!(
        agent.get("/knowledge").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        agent.get("/settings/agent").await.status(),
        StatusCode::FORBIDDEN
    );
    let csrf = agent.csrf();
    let refused = agent
        .post(
            &format!("/knowledge/sources/{}/delete", source.id),
            &csrf,
            &[],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        store.knowledge_sources(&scope, None).await.unwrap().len(),
        1
    );
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_settings_save_a_strategy_a_sealed_key_and_a_real_calendar() {
    let d = Dashboard::start().await;
    let store = &d.bridge.test.store;
    let scope = d.bridge.agency_scope().await;
    let location = &d.bridge.location;
    let save = format!("/settings/agent/{}", location.id);
    let calendar = d
        .bridge
        .control(
            "/ghl/calendars",
            json!({"locationId": location.ghl_location_id, "name": "Cleanings"}),
        )
        .await;
    let calendar_id = calendar["id"].as_str().unwrap();
    let mut s = Session::new(&d);
    s.sign_in(EMAIL).await;
    let html = s.get("/settings/agent").await.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{save}\"")), "{html}");
    let csrf = s.csrf();

    let saved = s
        .post(
            &save,
            &csrf,
            &[
                ("strategy", "You are Bright Smile's assistant."),
                ("chat_model", "gpt-4o"),
                ("api_key", "sk-location-secret"),
                ("calendar_id", calendar_id),
                ("contact_fields", "budget = cf_1"),
                ("replies_per_day", "40"),
                ("reactivate_minutes", "60"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let settings = store.agent_settings(&scope, &location.id).await.unwrap();
    assert_eq!(settings.strategy, "You are Bright Smile's assistant.");
    assert_eq!(settings.calendar_id.as_deref(), Some(calendar_id));
    assert!(settings.has_api_key);
    assert_eq!(
        (settings.replies_per_day, settings.reactivate_minutes),
        (Some(40), Some(60))
    );
    let html = s.get("/settings/agent").await.text().await.unwrap();
    assert!(
        !html.contains("sk-location-secret"),
        "the key is never shown"
    );

    // A calendar GHL doesn't know, and bad fields: refused, nothing changed.
    for (why, fields) in [
        ("an unknown calendar", vec![("calendar_id", "cal_nope")]),
        ("a bad model", vec![("chat_model", "gpt 4")]),
        ("a bad base URL", vec![("api_base", "file:///etc")]),
        ("a bad field map", vec![("contact_fields", "Budget")]),
    ] {
        let refused = s.post(&save, &csrf, &fields).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{why}");
        assert!(
            refused.text().await.unwrap().contains("Nothing was saved"),
            "{why}"
        );
    }
    assert_eq!(
        store.agent_settings(&scope, &location.id).await.unwrap(),
        settings
    );
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handoff_resolved_without_the_ai_brings_it_back_after_the_locations_delay() {
    let d = Dashboard::start().await;
    let store = &d.bridge.test.store;
    let scope = d.bridge.agency_scope().await;
    let mut change = store::repo::AgentSettingsChange::default();
    change.settings.reactivate_minutes = Some(30);
    let mut tx = store.begin().await.unwrap();
    store
        .set_agent_settings(&mut tx, &scope, &d.bridge.location.id, &change)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut s = Session::new(&d);
    s.sign_in(EMAIL).await;
    let conversation = super::pages::inbound(&d, &mut s, "Hello").await;
    let csrf = s.csrf();
    s.post(&format!("/inbox/{conversation}/handoff"), &csrf, &[])
        .await;
    let queue = s.get("/handoffs").await.text().await.unwrap();
    let id = queue
        .split("id=\"handoff-hof_")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let id = format!("hof_{id}");
    let before = store.now_ms();
    let resolved = s.post(&format!("/handoffs/{id}/resolve"), &csrf, &[]).await;
    assert_eq!(resolved.status(), StatusCode::SEE_OTHER);
    let ai_on = async || {
        store
            .conversation(&scope, &conversation.parse().unwrap())
            .await
            .unwrap()
            .ai_enabled
    };
    assert!(!ai_on().await, "resolved without the AI: still off");
    let run_at: i64 = sqlx::query_scalar("SELECT run_at FROM jobs WHERE kind = 'ai_reactivate'")
        .fetch_one(store.db().reader())
        .await
        .unwrap();
    let delay = run_at - before;
    assert!(
        (29 * 60_000..=31 * 60_000).contains(&delay),
        "due in 30 minutes: {delay} ms"
    );
    // Half an hour later (made due now), the AI is back.
    sqlx::query("UPDATE jobs SET run_at = 0 WHERE kind = 'ai_reactivate'")
        .execute(store.db().writer())
        .await
        .unwrap();
    d.bridge
        .eventually("the AI to come back", async |_| ai_on().await)
        .await;
    d.bridge.stop().await;
}
