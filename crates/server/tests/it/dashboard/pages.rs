//! The dashboard's pages and forms over plain HTTP: sessions, CSRF, tenant walls,
//! escaping, sends, handoffs, dead jobs and the brand.

use reqwest::StatusCode;
use serde_json::json;

use super::{add_user, Dashboard, Session, EMAIL};
use crate::bridge::LINE;

const CONTACT: &str = "+19998887777";
/// A text full of markup and SQL: it must come back as inert text everywhere.
const NASTY: &str = "<script>window.pwned=1</script><b>bold</b> ' OR 1=1; -- \"quoted\" & more";

/// A contact writes `text`; returns the conversation's id once the inbox shows it.
pub(super) async fn inbound(d: &Dashboard, s: &mut Session, text: &str) -> String {
    d.bridge
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": CONTACT, "content": text}),
        )
        .await;
    for _ in 0..150 {
        let page = s.get("/inbox").await.text().await.unwrap();
        if let Some(at) = page.find("href=\"/inbox/cnv_") {
            let id = &page[at + "href=\"/inbox/".len()..];
            return id.split('"').next().unwrap().to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the inbound message never reached the inbox");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_and_sql_in_a_message_render_as_text() {
    let d = Dashboard::start().await;
    let mut s = Session::new(&d);
    s.sign_in(EMAIL).await;
    let conversation = inbound(&d, &mut s, NASTY).await;
    let list = s.get("/inbox").await.text().await.unwrap();
    let thread = s.get(&format!("/inbox/{conversation}")).await;
    let csp = thread.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let thread = thread.text().await.unwrap();
    for page in [&list, &thread] {
        assert!(!page.contains("<script>window"), "raw script on a page");
        assert!(!page.contains("<b>bold"), "raw markup on a page");
    }
    assert!(
        thread.contains("&#60;script&#62;window.pwned=1&#60;/script&#62;")
            || thread.contains("&lt;script&gt;window.pwned=1")
    );
    assert!(thread.contains("OR 1=1; --"), "the SQL text round-trips");
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_without_a_session_renew_it_or_ask_for_a_sign_in() {
    let d = Dashboard::start().await;
    let mut s = Session::new(&d);
    let page = s.get("/inbox?unread=1").await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        page.headers()["location"],
        "/api/v1/auth/resume?next=%2Finbox%3Funread%3D1"
    );
    let resume = s
        .get("/api/v1/auth/resume?next=%2Finbox%3Funread%3D1")
        .await;
    assert_eq!(
        resume.headers()["location"],
        "/login?next=%2Finbox%3Funread%3D1"
    );

    // Signed in, with the access cookie gone (expired): renewed from the refresh cookie.
    s.sign_in(EMAIL).await;
    let first_refresh = s.cookie("sb_refresh").unwrap();
    s.forget("sb_access");
    let resume = s.get("/api/v1/auth/resume?next=%2Fhandoffs").await;
    assert_eq!(resume.status(), StatusCode::SEE_OTHER);
    assert_eq!(resume.headers()["location"], "/handoffs");
    assert_ne!(s.cookie("sb_refresh").unwrap(), first_refresh, "rotated");
    assert_eq!(s.get("/handoffs").await.status(), StatusCode::OK);

    // `next` never leaves the site.
    s.forget("sb_access");
    let resume = s
        .get("/api/v1/auth/resume?next=%2F%2Fevil.example%2F")
        .await;
    assert_eq!(resume.headers()["location"], "/inbox");

    // The old refresh token again: reuse, the family is revoked, back to the sign-in.
    let mut thief = Session::new(&d);
    thief.cookies.insert("sb_refresh".into(), first_refresh);
    let stolen = thief.get("/api/v1/auth/resume?next=%2Finbox").await;
    assert!(stolen.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login"));
    s.forget("sb_access");
    let after = s.get("/api/v1/auth/resume?next=%2Finbox").await;
    assert!(
        after.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login"),
        "the whole family is revoked"
    );
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_need_the_sessions_csrf_token_and_sends_go_out_once() {
    let d = Dashboard::start().await;
    let mut s = Session::new(&d);
    s.sign_in(EMAIL).await;
    let conversation = inbound(&d, &mut s, "Hello?").await;
    let send = format!("/inbox/{conversation}/send");

    // The sign-in form itself needs its token.
    let mut stranger = Session::new(&d);
    let refused = stranger
        .post(
            "/login",
            "forged",
            &[("email", EMAIL), ("password", super::PASSWORD)],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(stranger.cookie("sb_access").is_none());

    let forged = s.post(&send, "not-the-token", &[("body", "forged")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let missing = s.post(&send, "", &[("body", "forged")]).await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);

    let csrf = s.csrf();
    let fields = [("body", "See you Thursday"), ("key", "form-key-1")];
    let first = s.post(&send, &csrf, &fields).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let again = s.post(&send, &csrf, &fields).await;
    assert_eq!(
        again.status(),
        StatusCode::SEE_OTHER,
        "a re-posted form is fine…"
    );
    d.bridge
        .eventually("SendBlue to receive the reply", async |b| {
            b.get("/sendblue/messages")
                .await
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["content"] == "See you Thursday")
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let sends = d.bridge.get("/sendblue/messages").await;
    let count = sends
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["content"] == "See you Thursday" || m["content"] == "forged")
        .count();
    assert_eq!(count, 1, "…but it sends once, and forged posts never");

    // An empty message changes nothing.
    let empty = s
        .post(&send, &csrf, &[("body", "   "), ("key", "form-key-2")])
        .await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_agencys_things_are_404_pages() {
    let d = Dashboard::start().await;
    add_user(&d.bridge, "other@elsewhere.example", "agency_admin", false).await;
    let mut s = Session::new(&d);
    s.sign_in(EMAIL).await;
    let conversation = inbound(&d, &mut s, "Mine").await;
    let thread = s
        .get(&format!("/inbox/{conversation}"))
        .await
        .text()
        .await
        .unwrap();
    let message = thread
        .split("id=\"msg-")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();

    let mut other = Session::new(&d);
    other.sign_in("other@elsewhere.example").await;
    assert!(!other
        .get("/inbox")
        .await
        .text()
        .await
        .unwrap()
        .contains(&conversation));
    let csrf = other.csrf();
    for path in [
        format!("/inbox/{conversation}"),
        format!("/inbox/{conversation}/row"),
        format!("/messages/{message}"),
        format!("/messages/{message}/bubble"),
    ] {
        let page = other.get(&path).await;
        assert_eq!(page.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!page.text().await.unwrap().contains("Mine"), "{path}");
    }
    for path in ["send", "ai", "assign", "handoff"] {
        let path = format!("/inbox/{conversation}/{path}");
        let answer = other
            .post(&path, &csrf, &[("body", "intruder"), ("on", "0")])
            .await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // Nothing changed: the AI is still on and no handoff opened.
    let row = s
        .get(&format!("/inbox/{conversation}/row"))
        .await
        .text()
        .await
        .unwrap();
    assert!(row.contains("AI on") && !row.contains("Handoff"), "{row}");
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handoff_is_opened_taken_and_resolved() {
    let d = Dashboard::start().await;
    let mut s = Session::new(&d);
    s.sign_in(EMAIL).await;
    let conversation = inbound(&d, &mut s, "I want a person").await;
    let csrf = s.csrf();
    let opened = s
        .post(&format!("/inbox/{conversation}/handoff"), &csrf, &[])
        .await;
    assert_eq!(opened.status(), StatusCode::SEE_OTHER);
    // Twice is still one open handoff.
    s.post(&format!("/inbox/{conversation}/handoff"), &csrf, &[])
        .await;
    assert_eq!(s.get("/handoffs/count").await.text().await.unwrap(), "1");
    let row = s
        .get(&format!("/inbox/{conversation}/row"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        row.contains("AI off") && row.contains("Handoff pending"),
        "{row}"
    );

    let queue = s.get("/handoffs").await.text().await.unwrap();
    let id = queue
        .split("id=\"handoff-hof_")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let id = format!("hof_{id}");
    let taken = s.post(&format!("/handoffs/{id}/take"), &csrf, &[]).await;
    assert_eq!(
        taken.headers()["location"],
        format!("/inbox/{conversation}").as_str()
    );
    assert_eq!(s.get("/handoffs/count").await.text().await.unwrap(), "0");
    let assigned = s
        .get("/handoffs?state=assigned")
        .await
        .text()
        .await
        .unwrap();
    assert!(assigned.contains(EMAIL), "assigned to me");

    let resolved = s
        .post(
            &format!("/handoffs/{id}/resolve"),
            &csrf,
            &[("resume_ai", "1")],
        )
        .await;
    assert_eq!(resolved.status(), StatusCode::SEE_OTHER);
    let row = s
        .get(&format!("/inbox/{conversation}/row"))
        .await
        .text()
        .await
        .unwrap();
    assert!(row.contains("AI on") && !row.contains("Handoff"), "{row}");
    // Taking a resolved handoff is refused and changes nothing.
    let late = s.post(&format!("/handoffs/{id}/take"), &csrf, &[]).await;
    assert_eq!(late.status(), StatusCode::CONFLICT);
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_brand_is_validated_applied_and_reserved_to_agency_admins() {
    let d = Dashboard::start().await;
    add_user(&d.bridge, "agent@agency.example", "agent", true).await;
    let mut s = Session::new(&d);
    s.sign_in(EMAIL).await;
    let csrf = s.csrf();
    let bad = s
        .post(
            "/settings/brand",
            &csrf,
            &[
                ("product_name", "Acme"),
                ("logo_url", "javascript:alert(1)"),
                ("primary_color", "red;x"),
                ("accent_color", "#00aa00"),
            ],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = bad.text().await.unwrap();
    assert!(
        page.contains("Logo:") && page.contains("Main colour:"),
        "field errors"
    );
    assert!(
        s.get("/inbox")
            .await
            .text()
            .await
            .unwrap()
            .contains("--primary: #1f4fd1"),
        "unchanged"
    );

    let good = s
        .post(
            "/settings/brand",
            &csrf,
            &[
                ("product_name", "Acme <Messaging>"),
                ("logo_url", ""),
                ("primary_color", "#AA3300"),
                ("accent_color", "#00aa00"),
            ],
        )
        .await;
    assert_eq!(good.status(), StatusCode::SEE_OTHER);
    let inbox = s.get("/inbox").await.text().await.unwrap();
    assert!(inbox.contains("--primary: #aa3300"), "applied");
    assert!(inbox.contains("Acme &#60;Messaging&#62;") || inbox.contains("Acme &lt;Messaging&gt;"));

    let mut agent = Session::new(&d);
    agent.sign_in("agent@agency.example").await;
    let csrf = agent.csrf();
    let refused = agent
        .post(
            "/settings/brand",
            &csrf,
            &[
                ("product_name", "Mine"),
                ("primary_color", "#000000"),
                ("accent_color", "#000000"),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(agent
        .get("/inbox")
        .await
        .text()
        .await
        .unwrap()
        .contains("--primary: #aa3300"));
    assert_eq!(
        agent.get("/dead-jobs").await.status(),
        StatusCode::FORBIDDEN
    );
    d.bridge.stop().await;
}
