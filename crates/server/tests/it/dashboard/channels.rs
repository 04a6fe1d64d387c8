//! The channels page over HTTP: webhook URLs and health, connecting a line (the provider
//! checks the credentials first), pausing and resuming, the test send, tenant walls and
//! roles, and no secret ever on a page.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use super::{add_user, Dashboard, Session, EMAIL};
use crate::bridge::{Bridge, LINE};

/// A second SendBlue account in the sandbox, and its line.
pub const NEW_LINE: &str = "+15125550177";
pub const NEW_KEY_ID: &str = "kid-new";
pub const NEW_SECRET: &str = "sb-secret-never-shown-4242";
pub const NEW_SIGNING: &str = "sb-signing-never-shown-4343";

pub async fn add_sendblue_account(bridge: &Bridge) {
    bridge
        .control(
            "/sendblue/accounts",
            json!({"apiKeyId": NEW_KEY_ID, "apiSecretKey": NEW_SECRET,
                   "signingSecret": NEW_SIGNING, "lines": [NEW_LINE]}),
        )
        .await;
}

/// The card of one line on the page.
fn card<'a>(page: &'a str, channel: &str) -> &'a str {
    let start = page
        .find(&format!("id=\"{channel}\""))
        .unwrap_or_else(|| panic!("no card for {channel}"));
    let rest = &page[start..];
    &rest[..rest.find("</li>").unwrap()]
}

/// The text of a `<dd class="{class}">` in a card.
fn fact<'a>(card: &'a str, class: &str) -> &'a str {
    let start = card.find(&format!("class=\"{class}\">")).unwrap() + class.len() + 9;
    &card[start..start + card[start..].find("</dd>").unwrap()]
}

async fn page_until(s: &mut Session, what: &str, check: impl Fn(&str) -> bool) -> String {
    for _ in 0..200 {
        let page = s.get("/channels").await.text().await.unwrap();
        if check(&page) {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the channels page never showed {what}");
}

async fn count(d: &Dashboard, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(d.bridge.test.store.db().reader())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lines_webhook_url_and_health_follow_an_inbound_and_a_test_send() {
    let d = Dashboard::start().await;
    let channel = d.bridge.channel.id.to_string();
    let mut s = Session::new(&d);
    s.sign_in(EMAIL).await;
    let page = s.get("/channels").await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    let line = card(&page, &channel);
    let webhook = format!("{}/webhooks/sendblue/{channel}", d.bridge.gateway);
    assert!(line.contains(&format!("value=\"{webhook}\"")), "{line}");
    assert!(line.contains(LINE) && line.contains("active"), "{line}");
    assert_eq!(fact(line, "last-inbound"), "never");
    assert_eq!(fact(line, "last-sent"), "never");
    assert!(line.contains("breaker-closed"), "{line}");

    d.bridge
        .control(
            "/sendblue/inbound",
            json!({"line": LINE, "from": "+19998887777", "content": "hello"}),
        )
        .await;
    let page = page_until(&mut s, "the inbound", |p| {
        fact(card(p, &channel), "last-inbound") != "never"
    })
    .await;
    assert!(fact(card(&page, &channel), "last-inbound").contains("<time datetime="));
    assert_eq!(fact(card(&page, &channel), "last-sent"), "never");

    // A test send to a new number: its conversation is made on this line, the simulated
    // provider gets it, and the line's last send moves.
    let key = super::field(&page, "key");
    let sent = s
        .post(
            &format!("/channels/{channel}/test-send"),
            &s.csrf(),
            &[
                ("to", "+19995550123"),
                ("body", "line check"),
                ("key", &key),
            ],
        )
        .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let thread = sent.headers()["location"].to_str().unwrap().to_string();
    assert!(thread.starts_with("/inbox/cnv_"), "{thread}");
    d.bridge
        .eventually("the test send at SendBlue", async |b| {
            let sent = b.get("/sendblue/messages").await;
            sent.as_array().unwrap().iter().any(|m| {
                m["content"] == "line check"
                    && m["number"] == "+19995550123"
                    && m["from_number"] == LINE
            })
        })
        .await;
    page_until(&mut s, "the send", |p| {
        fact(card(p, &channel), "last-sent") != "never"
    })
    .await;
    let thread = s.get(&thread).await.text().await.unwrap();
    assert!(
        thread.contains("line check"),
        "the thread shows the message"
    );
    // The same form posted again sends nothing more.
    let again = s
        .post(
            &format!("/channels/{channel}/test-send"),
            &s.csrf(),
            &[
                ("to", "+19995550123"),
                ("body", "line check"),
                ("key", &key),
            ],
        )
        .await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        count(
            &d,
            "SELECT COUNT(*) FROM messages WHERE body = 'line check'"
        )
        .await,
        1
    );
    // Bad input is a 422 with the reasons, and nothing is stored.
    let refused = s
        .post(
            &format!("/channels/{channel}/test-send"),
            &s.csrf(),
            &[("to", "tomorrow"), ("body", " "), ("key", "k2")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = refused.text().await.unwrap();
    assert!(refused.contains("To: a phone number") && refused.contains("Text:"));
    assert_eq!(count(&d, "SELECT COUNT(*) FROM messages").await, 2);
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_store_nothing_good_ones_connect_and_no_secret_is_shown() {
    let d = Dashboard::start().await;
    add_sendblue_account(&d.bridge).await;
    let mut s = Session::new(&d);
    s.sign_in(EMAIL).await;
    let location = d.bridge.location.id.to_string();
    let api_base = format!("{}/sendblue", d.bridge.sandbox);
    let connect = |secret: &'static str, line: &'static str| {
        vec![
            ("provider", "sendblue".to_string()),
            ("line", line.to_string()),
            ("location_id", location.clone()),
            ("cred_api_key_id", NEW_KEY_ID.to_string()),
            ("cred_api_secret_key", secret.to_string()),
            ("cred_signing_secret", NEW_SIGNING.to_string()),
            ("api_base", api_base.clone()),
        ]
    };
    let post = async |s: &mut Session, fields: Vec<(&str, String)>| {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let csrf = s.csrf();
        s.post("/channels", &csrf, &fields).await
    };

    let refused = post(&mut s, connect("wrong-secret-5151", NEW_LINE)).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(html.contains("refused these credentials"), "{html}");
    assert!(
        html.contains("id=\"connect-sendblue\" open"),
        "the form is open again"
    );
    assert!(
        html.contains(&format!("value=\"{NEW_LINE}\"")),
        "the line is kept"
    );
    for secret in ["wrong-secret-5151", NEW_SIGNING, NEW_KEY_ID] {
        assert!(!html.contains(secret), "a secret echoed: {secret}");
    }
    let bad_line = post(&mut s, connect(NEW_SECRET, "555-0177")).await;
    assert_eq!(bad_line.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_line.text().await.unwrap().contains("line:"));
    let stored = "SELECT COUNT(*) FROM channels";
    assert_eq!(count(&d, stored).await, 1, "nothing stored");
    assert_eq!(
        count(
            &d,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'channel.created'"
        )
        .await,
        0
    );

    let connected = post(&mut s, connect(NEW_SECRET, NEW_LINE)).await;
    assert_eq!(connected.status(), StatusCode::SEE_OTHER);
    assert_eq!(count(&d, stored).await, 2);
    assert_eq!(
        count(
            &d,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'channel.created'"
        )
        .await,
        1
    );
    let page = s.get("/channels").await.text().await.unwrap();
    assert!(page.contains(NEW_LINE));
    for secret in [
        NEW_SECRET,
        NEW_SIGNING,
        NEW_KEY_ID,
        "ksecret",
        "whsec-bridge",
    ] {
        assert!(!page.contains(secret), "a secret on the page: {secret}");
    }
    // The same line again is a conflict, shown on the form.
    let twice = post(&mut s, connect(NEW_SECRET, NEW_LINE)).await;
    assert_eq!(twice.status(), StatusCode::CONFLICT);
    assert!(twice.text().await.unwrap().contains("already connected"));
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_pause_and_resume_behind_tenant_walls_and_roles() {
    let d = Dashboard::start().await;
    add_user(&d.bridge, "other@elsewhere.example", "agency_admin", false).await;
    add_user(&d.bridge, "agent@agency.example", "agent", true).await;
    let channel = d.bridge.channel.id.to_string();
    let status = format!("/channels/{channel}/status");
    let test_send = format!("/channels/{channel}/test-send");
    let mut s = Session::new(&d);
    s.sign_in(EMAIL).await;

    // Another agency: our line is not on its page, and every form on it is a 404.
    let mut other = Session::new(&d);
    other.sign_in("other@elsewhere.example").await;
    assert!(!other
        .get("/channels")
        .await
        .text()
        .await
        .unwrap()
        .contains(&channel));
    let csrf = other.csrf();
    let fields = [("status", "paused"), ("to", "+19995550123"), ("body", "x")];
    for path in [&status, &test_send] {
        let answer = other.post(path, &csrf, &fields).await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let location = d.bridge.location.id.to_string();
    let into_ours = other
        .post(
            "/channels",
            &csrf,
            &[
                ("provider", "sendblue"),
                ("location_id", &location),
                ("line", NEW_LINE),
            ],
        )
        .await;
    assert_eq!(into_ours.status(), StatusCode::NOT_FOUND);

    // An agent sees the lines but can't connect or pause one.
    let mut agent = Session::new(&d);
    agent.sign_in("agent@agency.example").await;
    let page = agent.get("/channels").await.text().await.unwrap();
    assert!(page.contains(&channel) && !page.contains("Connect a line"));
    assert!(!page.contains(&format!("action=\"{status}\"")));
    let csrf = agent.csrf();
    let connect = agent
        .post(
            "/channels",
            &csrf,
            &[
                ("provider", "sendblue"),
                ("location_id", &location),
                ("line", NEW_LINE),
            ],
        )
        .await;
    assert_eq!(connect.status(), StatusCode::FORBIDDEN);
    let pause = agent.post(&status, &csrf, &[("status", "paused")]).await;
    assert_eq!(pause.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        count(&d, "SELECT COUNT(*) FROM channels WHERE status = 'active'").await,
        1
    );

    // The admin pauses: audited, the page says so, and a test send is refused.
    let csrf = s.csrf();
    let bad = s.post(&status, &csrf, &[("status", "off")]).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let paused = s.post(&status, &csrf, &[("status", "paused")]).await;
    assert_eq!(paused.status(), StatusCode::SEE_OTHER);
    let page = s.get("/channels").await.text().await.unwrap();
    assert!(card(&page, &channel).contains("Resume"));
    assert_eq!(
        count(
            &d,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'channel.updated'"
        )
        .await,
        1
    );
    let refused = s
        .post(&test_send, &csrf, &[("to", "+19995550123"), ("body", "x")])
        .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert_eq!(count(&d, "SELECT COUNT(*) FROM messages").await, 0);
    let resumed = s.post(&status, &csrf, &[("status", "active")]).await;
    assert_eq!(resumed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        count(&d, "SELECT COUNT(*) FROM channels WHERE status = 'active'").await,
        1
    );
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_provider_shows_as_an_open_breaker() {
    let bridge = Bridge::start_with(&[
        ("SWITCHBOARD_BREAKER_THRESHOLD", "1"),
        ("SWITCHBOARD_BREAKER_COOLDOWN_SECS", "600"),
    ])
    .await;
    add_user(&bridge, EMAIL, "agency_admin", true).await;
    let d = Dashboard { bridge };
    let channel = d.bridge.channel.id.to_string();
    d.bridge
        .control(
            "/faults",
            json!({"target": "sendblue", "kind": "outage", "duration_ms": 60000}),
        )
        .await;
    let mut s = Session::new(&d);
    s.sign_in(EMAIL).await;
    let sent = s
        .post(
            &format!("/channels/{channel}/test-send"),
            &s.csrf(),
            &[("to", "+19995550123"), ("body", "into the outage")],
        )
        .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let page = page_until(&mut s, "an open breaker", |p| {
        card(p, &channel).contains("breaker-open")
    })
    .await;
    assert_eq!(fact(card(&page, &channel), "last-sent"), "never");
    d.bridge.stop().await;
}
