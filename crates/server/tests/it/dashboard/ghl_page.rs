//! The dashboard inside GHL: the custom page signs GHL's user in from the encrypted user
//! context, in headless Chromium through the sandbox's GHL page, and over HTTP for every
//! refusal.

use std::time::Duration;

use domain::Provider;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::browser::Browser;
use super::{add_user, Dashboard};
use crate::bridge::{Bridge, GHL_LOCATION};

const COMPANY: &str = "sbCompanyTest0000001";
const SECRET: &str = "sandbox-shared-secret";

async fn start() -> Dashboard {
    let bridge = Bridge::start_full(
        Provider::Sendblue,
        &[
            ("SWITCHBOARD_GHL_SHARED_SECRET", SECRET),
            ("SWITCHBOARD_GHL_FRAME_ANCESTORS", "http://127.0.0.1:*"),
        ],
        Duration::from_millis(20),
    )
    .await;
    sqlx::query("UPDATE agencies SET ghl_company_id = $1 WHERE id = $2")
        .bind(COMPANY)
        .bind(bridge.location.agency_id.as_str())
        .execute(bridge.test.store.db().writer())
        .await
        .unwrap();
    Dashboard { bridge }
}

fn context(
    kind: &str,
    role: &str,
    email: &str,
    location: Option<&str>,
) -> ghl::user_context::UserContext {
    ghl::user_context::UserContext {
        user_id: "ghlUser0000000000001".into(),
        company_id: COMPANY.into(),
        role: role.into(),
        kind: kind.into(),
        user_name: "Ana".into(),
        email: email.into(),
        active_location: location.map(str::to_string),
    }
}

/// Posts a payload to `/ghl/sso` as our page would (or with `origin`).
async fn sso(d: &Dashboard, payload: &str, origin: &str) -> (StatusCode, Value) {
    let answer = d
        .bridge
        .client
        .post(d.url("/ghl/sso"))
        .header("origin", origin)
        .json(&json!({"payload": payload}))
        .send()
        .await
        .unwrap();
    let status = answer.status();
    (status, answer.json().await.unwrap_or(Value::Null))
}

fn sealed(c: &ghl::user_context::UserContext) -> String {
    ghl::user_context::encrypt(c, SECRET, *b"12345678")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sub_account_admin_opens_the_inbox_from_inside_ghl() {
    let d = start().await;
    let b = Browser::start().await;
    let page = format!(
        "{}/_control/ghl/custom-page?src={}&companyId={COMPANY}&type=account&role=admin&email=ana%40sub.example&userName=Ana&locationId={GHL_LOCATION}",
        d.bridge.sandbox,
        url::form_urlencoded::byte_serialize(d.url("/ghl/page").as_bytes()).collect::<String>(),
    );
    b.goto(&page).await;
    let frame = b.find("#app").await;
    frame.enter_frame().await.unwrap();
    b.wait_for("#rows").await;
    let inside = b.eval("return location.pathname + location.search").await;
    assert_eq!(
        inside,
        json!(format!("/inbox?location_id={}", d.bridge.location.id))
    );
    let user = d
        .bridge
        .test
        .store
        .user_for_login("ana@sub.example")
        .await
        .unwrap()
        .user;
    assert_eq!(user.role, "location_admin");
    assert_eq!(user.location_id.as_ref(), Some(&d.bridge.location.id));
    b.close().await;
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ghl_sign_in_refuses_what_it_cannot_vouch_for() {
    let d = start().await;
    let ours = d.bridge.gateway.clone();
    // An agency admin: created once, agency-wide, with embedded-site cookies.
    let admin = context("agency", "admin", "owner@agency.example", None);
    let answer = d
        .bridge
        .client
        .post(d.url("/ghl/sso"))
        .header("origin", &ours)
        .json(&json!({"payload": sealed(&admin)}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let cookies: Vec<String> = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("sb_access=") && c.contains("SameSite=None; Partitioned")),
        "{cookies:?}"
    );
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body, json!({"next": "/inbox"}), "no tokens in the body");
    let user = d
        .bridge
        .test
        .store
        .user_for_login("owner@agency.example")
        .await
        .unwrap()
        .user;
    assert_eq!(
        (user.role.as_str(), user.location_id),
        ("agency_admin", None)
    );
    assert_eq!(
        sso(&d, &sealed(&admin), &ours).await.0,
        StatusCode::OK,
        "again: the same user"
    );

    // Refusals, each changing nothing.
    let agent = context("account", "user", "new@sub.example", Some(GHL_LOCATION));
    let cases: Vec<(String, String, StatusCode)> = vec![
        (
            sealed(&agent),
            "http://evil.example".into(),
            StatusCode::FORBIDDEN,
        ),
        (sealed(&agent), String::new(), StatusCode::FORBIDDEN),
        (
            ghl::user_context::encrypt(&agent, "wrong", *b"12345678"),
            ours.clone(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "not a payload".into(),
            ours.clone(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            sealed(&ghl::user_context::UserContext {
                company_id: "unknownCompany".into(),
                ..agent.clone()
            }),
            ours.clone(),
            StatusCode::FORBIDDEN,
        ),
        (
            sealed(&ghl::user_context::UserContext {
                active_location: Some("otherLocation".into()),
                ..agent.clone()
            }),
            ours.clone(),
            StatusCode::FORBIDDEN,
        ),
        (
            sealed(&context("account", "user", "new@sub.example", None)),
            ours.clone(),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (payload, origin, expected) in cases {
        let (status, body) = sso(&d, &payload, &origin).await;
        assert_eq!(status, expected, "{origin} {body}");
    }
    assert!(
        d.bridge
            .test
            .store
            .user_for_login("new@sub.example")
            .await
            .is_err(),
        "nobody created"
    );

    // An email that belongs to another agency's user is not theirs to open here.
    add_user(&d.bridge, "taken@elsewhere.example", "agency_admin", false).await;
    let taken = context(
        "account",
        "admin",
        "taken@elsewhere.example",
        Some(GHL_LOCATION),
    );
    assert_eq!(
        sso(&d, &sealed(&taken), &ours).await.0,
        StatusCode::FORBIDDEN
    );

    // A sub-account user gets an agent account of the active location.
    assert_eq!(sso(&d, &sealed(&agent), &ours).await.0, StatusCode::OK);
    let created = d
        .bridge
        .test
        .store
        .user_for_login("new@sub.example")
        .await
        .unwrap()
        .user;
    assert_eq!(created.role, "agent");
    d.bridge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_shared_secret_the_ghl_page_is_off() {
    let d = Dashboard::start().await;
    let page = d
        .bridge
        .client
        .get(d.url("/ghl/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    let (status, body) = sso(&d, "x", &d.bridge.gateway.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["code"], "ghl_page_not_configured");
    d.bridge.stop().await;
}
